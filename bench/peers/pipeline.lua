-- wrk script: every write carries N pipelined GET requests (default 16)
-- for one path (default /hello); wrk counts each response.
--   wrk -s pipeline.lua ... URL -- 16 /hello
init = function(args)
  local n = tonumber(args[1]) or 16
  local path = args[2] or "/hello"
  local reqs = {}
  for i = 1, n do
    reqs[i] = wrk.format("GET", path)
  end
  pipelined = table.concat(reqs)
end

request = function()
  return pipelined
end
