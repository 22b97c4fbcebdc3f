--[[
  Appends one decision of a pool's autoscaler, only while the deciding broker still holds the lease
  it decided under (the fence of pool-lease-2), and keeps the newest few.
  KEYS[1] aw:{pool:<name>}:lease    KEYS[2] aw:{pool:<name>}:decisions
  ARGV[1] broker id   ARGV[2] fence   ARGV[3] the decision (pool.scaled event JSON)   ARGV[4] how many to keep
  Returns 1 when appended, 0 when the lease is no longer the caller's.
]]
if redis.call("GET", KEYS[1]) ~= ARGV[1] .. "|" .. ARGV[2] then return 0 end
redis.call("RPUSH", KEYS[2], ARGV[3])
redis.call("LTRIM", KEYS[2], -tonumber(ARGV[4]), -1)
return 1
