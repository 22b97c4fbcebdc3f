--[[
  Hands tasks this broker accepted to the executing brokers' task streams and records each as handed
  in this broker's open-task records, in one step: a crash leaves both writes or neither, never an
  entry whose record still says the task is the origin's own (004-crash-semantics.md). Standalone
  Redis only: the streams carry the executing brokers' hash tags, the records the origin's.
  KEYS[1] aw:{b:<origin>}:open    KEYS[1 + i] aw:{b:<target of task i>}:tasks, i = 1 .. n
  ARGV[i] stream entry i (field `t`)    ARGV[n + 2i - 1] task id i   ARGV[n + 2i] open-task record i
  At most 1,000 tasks per call (one HSET takes every record). Returns n.
]]
local n = #KEYS - 1
for i = 1, n do redis.call("XADD", KEYS[i + 1], "*", "t", ARGV[i]) end
redis.call("HSET", KEYS[1], unpack(ARGV, n + 1, 3 * n))
return n
