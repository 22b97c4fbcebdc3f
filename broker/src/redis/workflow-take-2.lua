--[[
  Takes the lease of a run whose broker let it lapse (died, or cut off) [WF-15]. The new holder's
  fence is one above the last, so the former holder's writes are refused (workflow-write-3).
  KEYS[1] aw:{wf:<run>}:lease    KEYS[2] aw:{wf:<run>}:run
  ARGV[1] broker id   ARGV[2] lease ttl ms
  Returns the new fence; 0 when the lease is held or the run is not stored (yet); -1 when the run ended.
]]
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
local state = redis.call("HGET", KEYS[2], "state")
if not state then return 0 end
if state ~= "running" then return -1 end
local fence = redis.call("HINCRBY", KEYS[2], "fence", 1)
redis.call("SET", KEYS[1], ARGV[1] .. "|" .. fence, "PX", tonumber(ARGV[2]))
return fence
