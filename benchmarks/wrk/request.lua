-- PFlow's HTTP benchmark requests for wrk (benchmarks/http_api.py):
--   wrk -s request.lua URL -- METHOD PATH TOKEN BODY IDS_FILE      ("-" for none)
-- With IDS_FILE, "{id}" in PATH takes the next id for each request (each id once); the thread
-- stops when every id has had its answer.
local path, ids, sent, answered

function init(args)
  wrk.method = args[1]
  path = args[2]
  if args[3] ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. args[3]
  end
  if args[4] ~= "-" then
    wrk.body = args[4]
    wrk.headers["Content-Type"] = "application/json"
  end
  if args[5] ~= "-" then
    ids = {}
    for line in io.lines(args[5]) do
      ids[#ids + 1] = line
    end
  end
  sent, answered = 0, 0
end

function request()
  if ids == nil then
    return wrk.format(nil, path)
  end
  sent = sent + 1
  local id = ids[math.min(sent, #ids)]
  return wrk.format(nil, (string.gsub(path, "{id}", id)))
end

function response(status, headers, body)
  if ids ~= nil then
    answered = answered + 1
    if answered >= #ids then
      wrk.thread:stop()
    end
  end
end
