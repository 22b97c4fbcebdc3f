--[[
  Acknowledges stream entries once their results are stored (or they were handed to another broker):
  XACK then XDEL, so the processing list (the group's PEL) and the stream both forget them, and HDEL of
  their recorded attempts.
  KEYS[1] aw:{b:<id>}:tasks    KEYS[2] aw:{b:<id>}:attempts
  ARGV[1] consumer group   ARGV[2 ..] entry ids
  Returns the number of entries acknowledged.
]]
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
local acked = redis.call("XACK", KEYS[1], ARGV[1], unpack(ids))
redis.call("XDEL", KEYS[1], unpack(ids))
redis.call("HDEL", KEYS[2], unpack(ids))
return acked
