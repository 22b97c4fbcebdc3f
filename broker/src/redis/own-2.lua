--[[
  Fences a broker that may have been taken for dead (paused, or cut off from Redis, for longer than
  its liveness TTL): for each task stream entry it runs, checks that it still owns it in the group's
  PEL. An owned entry is kept (XCLAIM to itself resets its idle time, so a survivor's XAUTOCLAIM, whose
  min idle is the liveness TTL, cannot take it for that long) and, with an attempt > 0, that attempt
  is recorded as the entry's current one (a later reclaim runs the next). An entry a survivor claimed
  is not this broker's any more: it must neither run it nor store its result.
  KEYS[1] aw:{b:<id>}:tasks    KEYS[2] aw:{b:<id>}:attempts
  ARGV[1] consumer group   ARGV[2] consumer (this broker's id)   ARGV[3 ..] entry id, attempt pairs
  Returns one 1 (owned) or 0 (taken) per entry.
]]
local out = {}
for i = 3, #ARGV, 2 do
  local id, attempt = ARGV[i], tonumber(ARGV[i + 1])
  -- No stream or group any more: a survivor re-handed every entry and removed it.
  local p = redis.pcall("XPENDING", KEYS[1], ARGV[1], id, id, 1)
  if type(p) == "table" and p[1] ~= nil and p[1][2] == ARGV[2] then
    redis.call("XCLAIM", KEYS[1], ARGV[1], ARGV[2], 0, id, "JUSTID")
    if attempt > 0 then redis.call("HSET", KEYS[2], id, attempt) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
