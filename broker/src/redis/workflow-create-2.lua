--[[
  Stores a new workflow run and gives the creating broker its lease [WF-15].
  KEYS[1] aw:{wf:<run>}:lease    KEYS[2] aw:{wf:<run>}:run
  ARGV[1] broker id   ARGV[2] lease ttl ms   ARGV[3..] field, value pairs of the run hash
  Returns the lease's fence (1).
]]
for i = 3, #ARGV, 2 do redis.call("HSET", KEYS[2], ARGV[i], ARGV[i + 1]) end
local fence = redis.call("HINCRBY", KEYS[2], "fence", 1)
redis.call("SET", KEYS[1], ARGV[1] .. "|" .. fence, "PX", tonumber(ARGV[2]))
return fence
