--[[
  Compare-and-set of one hash field or string: replaces the value only when it is still the one the
  caller read, so two brokers recovering the same task (or taking over the same idempotency key)
  cannot both succeed.
  KEYS[1] aw:{b:<origin>}:open (a hash) or aw:idem:<hash> (a string)
  ARGV[1] field ("" for a string)   ARGV[2] expected value   ARGV[3] new value ("" deletes a string)
  ARGV[4] ttl ms (string only)
  Returns 1 when replaced, 0 when the value had changed.
]]
if ARGV[1] == "" then
  if redis.call("GET", KEYS[1]) ~= ARGV[2] then return 0 end
  if ARGV[3] == "" then redis.call("DEL", KEYS[1]) else redis.call("SET", KEYS[1], ARGV[3], "PX", tonumber(ARGV[4])) end
  return 1
end
if redis.call("HGET", KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[3])
return 1
