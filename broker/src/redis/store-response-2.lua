--[[
  Stores a task's response on the origin broker and announces it on the origin's ready list.
  KEYS[1] aw:{b:<origin>}:response:<task_id>    KEYS[2] aw:{b:<origin>}:ready
  ARGV[1] response (JSON)   ARGV[2] ttl ms (task timeout + margin)   ARGV[3] task id
  Returns the ready list length.
]]
redis.call("LPUSH", KEYS[1], ARGV[1])
redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[2]))
return redis.call("LPUSH", KEYS[2], ARGV[3])
