--[[
  Stores the responses of tasks that ran here for one origin broker, and announces each on the
  origin's ready list together with its body: the origin needs no second read. The response key keeps
  the result readable (GET /v1/tasks/:id on any broker) until its TTL. With the origin's open-task
  records as the last key, their records go too: an outcome is stored (004-crash-semantics.md), and
  every reader of a record looks for the outcome first.
  KEYS[1] aw:{b:<origin>}:ready    KEYS[1 + i] aw:{b:<origin>}:response:<task id i>, i = 1 .. n
  KEYS[n + 2] (optional) aw:{b:<origin>}:open
  ARGV[3i - 2] task id i   ARGV[3i - 1] ttl ms (task timeout + margin)   ARGV[3i] response i (MessagePack, envelope.ts encodeOutcome)
  Ready entry: "<task id>\n<response>". At most 1,000 responses per call.
  Returns the ready list length.
]]
local n = #ARGV / 3
local entries = {}
local ids = {}
for i = 1, n do
  local id, ttl, body = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  redis.call("LPUSH", KEYS[i + 1], body)
  redis.call("PEXPIRE", KEYS[i + 1], tonumber(ttl))
  entries[i] = id .. "\n" .. body
  ids[i] = id
end
if #KEYS > n + 1 then redis.call("HDEL", KEYS[n + 2], unpack(ids)) end
return redis.call("LPUSH", KEYS[1], unpack(entries))
