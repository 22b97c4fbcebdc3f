--[[
  Ends tasks in their origin's open-task record (`open`): stores the outcome of each that ended at the
  origin (its response key, as an executing broker's store-responses does, readable by every broker
  until its TTL), then forgets every ended task's record. Tasks that ran on another broker already
  have their response key: they are only forgotten.
  KEYS[1] aw:{b:<origin>}:open    KEYS[1 + i] aw:{b:<origin>}:response:<task id i>, i = 1 .. n
  ARGV[2i - 1] ttl ms   ARGV[2i] response i (MessagePack, envelope.ts encodeOutcome), i = 1 .. n    ARGV[2n + 1 ..] every ended task id
  Returns the number of records forgotten.
]]
local n = #KEYS - 1
for i = 1, n do
  redis.call("LPUSH", KEYS[i + 1], ARGV[2 * i])
  redis.call("PEXPIRE", KEYS[i + 1], tonumber(ARGV[2 * i - 1]))
end
local ids = {}
for i = 2 * n + 1, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return 0 end
return redis.call("HDEL", KEYS[1], unpack(ids))
