--[[
  Takes or renews a broker's lease on deciding for one pool [POOL-15]. The lease holds
  "<broker id>|<fence>"; a new holder gets a fence one above the last one ever given, so a broker
  whose lease lapsed (paused, cut off) can tell its decisions are no longer its own (pool-decided-2).
  KEYS[1] aw:{pool:<name>}:lease    KEYS[2] aw:{pool:<name>}:fence
  ARGV[1] broker id   ARGV[2] ttl ms
  Returns the holder's fence when the caller holds the lease (now), 0 when another broker does.
]]
local held = redis.call("GET", KEYS[1])
if held then
  local owner, fence = string.match(held, "^(.*)|(%d+)$")
  if owner ~= ARGV[1] then return 0 end
  redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[2]))
  return tonumber(fence)
end
local fence = redis.call("INCR", KEYS[2])
redis.call("SET", KEYS[1], ARGV[1] .. "|" .. fence, "PX", tonumber(ARGV[2]))
return fence
