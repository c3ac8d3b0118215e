-- Sends a different `X-User` header on every request (cycling over N users), so consistent
-- hashing spreads the keys over every target as real traffic would.
--   wrk ... -s bench/balancer/rotate-user.lua <url> -- <users>
local users = 1000
local i = 0

function init(args)
  users = tonumber(args[1] or "1000")
end

function request()
  i = i + 1
  if i > users then i = 1 end
  wrk.headers["X-User"] = "user-" .. i
  return wrk.format()
end
