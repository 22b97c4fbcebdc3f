--[[
  Writes fields of a run's hash, and appends the transition they make to the run's event list, only
  while the writer holds the run's lease with this fence [WF-15]: a broker whose lease lapsed and was
  taken cannot overwrite its successor's progress. Watchers on other brokers read the list [WF-21].
  KEYS[1] aw:{wf:<run>}:lease    KEYS[2] aw:{wf:<run>}:run    KEYS[3] aw:{wf:<run>}:events
  ARGV[1] "<broker id>|<fence>"   ARGV[2] ttl ms of the hash once the run ended (0: running)
  ARGV[3] the transition as JSON ("" for none)   ARGV[4..] field, value pairs
  Returns 1 when written, 0 when the lease is another's.
]]
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 2 do redis.call("HSET", KEYS[2], ARGV[i], ARGV[i + 1]) end
if ARGV[3] ~= "" then redis.call("RPUSH", KEYS[3], ARGV[3]) end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call("PEXPIRE", KEYS[2], ttl)
  redis.call("PEXPIRE", KEYS[3], ttl)
  redis.call("DEL", KEYS[1])
end
return 1
