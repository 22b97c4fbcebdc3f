--[[
  Hands tasks this broker accepted to the executing brokers' task streams and records each as handed
  in this broker's open-task records, in one step: a crash leaves both writes or neither, never an
  entry whose record still says the task is the origin's own (004-crash-semantics.md). Standalone
  Redis only: the streams carry the executing brokers' hash tags, the records the origin's.
  KEYS[1] aw:{b:<origin>}:open    KEYS[1 + i] aw:{b:<target of task i>}:tasks, i = 1 .. n
  ARGV[3i - 2] task id i   ARGV[3i - 1] stream entry i (field `t`)   ARGV[3i] open-task record i
  Returns n.
]]
local n = #KEYS - 1
for i = 1, n do
  redis.call("XADD", KEYS[i + 1], "*", "t", ARGV[3 * i - 1])
  redis.call("HSET", KEYS[1], ARGV[3 * i - 2], ARGV[3 * i])
end
return n
