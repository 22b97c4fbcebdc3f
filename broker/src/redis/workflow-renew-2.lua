--[[
  Renews a broker's lease on a run it runs, and reads a cancel another broker asked for [WF-15, WF-20].
  KEYS[1] aw:{wf:<run>}:lease    KEYS[2] aw:{wf:<run>}:run
  ARGV[1] "<broker id>|<fence>"   ARGV[2] lease ttl ms
  Returns false when another broker holds the lease now, else the cancel reason ("" when none).
]]
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return false end
redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[2]))
return redis.call("HGET", KEYS[2], "cancel") or ""
