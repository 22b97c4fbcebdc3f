--[[
  Gives up a broker's lease on a run it stops running without ending it (the broker is closing), so
  that another broker of the mesh takes it over at its next scan instead of after the lease time.
  KEYS[1] aw:{wf:<run>}:lease
  ARGV[1] "<broker id>|<fence>"
  Returns 1 when released, 0 when another broker held it.
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
