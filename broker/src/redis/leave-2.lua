--[[
  A graceful leave: deletes this broker's task stream only when it holds no entry and no open task of
  this broker is recorded, in one step, so an XADD of another broker that raced the leave is never
  deleted with it (the stream then stays, and a survivor reclaims the entry).
  KEYS[1] aw:{b:<id>}:tasks    KEYS[2] aw:{b:<id>}:open
  Returns 1 when the stream was deleted (the broker may leave the membership), else 0.
]]
if redis.call("XLEN", KEYS[1]) == 0 and redis.call("HLEN", KEYS[2]) == 0 then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
