--[[
  Gives up a broker's lease on a pool, if it still holds it (its supervisor left this broker).
  KEYS[1] aw:{pool:<name>}:lease
  ARGV[1] broker id
  Returns 1 when released, 0 when another broker held it.
]]
local held = redis.call("GET", KEYS[1])
if held and string.match(held, "^(.*)|%d+$") == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
