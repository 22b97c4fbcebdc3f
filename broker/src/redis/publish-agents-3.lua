--[[
  Replaces one broker's agent records and capability index and refreshes its liveness, atomically.
  KEYS[1] aw:{b:<id>}:alive    KEYS[2] aw:{b:<id>}:agents    KEYS[3] aw:{b:<id>}:caps
  ARGV[1] ttl ms   ARGV[2] broker id   ARGV[3] n = number of agents
  ARGV[4 .. 3+2n]          agent_id, AgentInfo JSON pairs
  ARGV[4+2n ..]            capability, count pairs
  Returns n.
]]
local ttl = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
redis.call("SET", KEYS[1], ARGV[2], "PX", ttl)
redis.call("DEL", KEYS[2], KEYS[3])
local i = 4
while i < 4 + 2 * n do
  redis.call("HSET", KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call("HSET", KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if n > 0 then redis.call("PEXPIRE", KEYS[2], ttl) end
if #ARGV >= 4 + 2 * n then redis.call("PEXPIRE", KEYS[3], ttl) end
return n
