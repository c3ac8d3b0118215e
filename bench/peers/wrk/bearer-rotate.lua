-- Sends `Authorization: Bearer <token>` with a different token on every request, cycling through
-- a file of tokens (one a line), so that a proxy's verified-token cache misses (the auth scenario,
-- floodgate-jwt-rs256-nocache). Each wrk thread cycles through its own slice of the file.
--   wrk -t T ... -s bench/peers/wrk/bearer-rotate.lua <url> -- <tokens-file> <T>
local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local tokens = {}
local i = 0

function init(args)
  local path, threads = args[1], tonumber(args[2] or "1")
  local index = thread_index or 0
  local n = 0
  for line in io.lines(path) do
    if #line > 0 then
      if n % threads == index then tokens[#tokens + 1] = "Bearer " .. line end
      n = n + 1
    end
  end
  if #tokens == 0 then error("bearer-rotate.lua: no tokens for thread " .. index .. " in " .. tostring(path)) end
end

function request()
  i = i + 1
  if i > #tokens then i = 1 end
  wrk.headers["Authorization"] = tokens[i]
  return wrk.format()
end
