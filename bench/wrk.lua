-- The one wrk script of `make bench`, configured by the environment (bench/bench.py sets it):
--   WRK_METHOD     request method (default GET)
--   WRK_HEADERS    headers, one "Name: value" a line
--   WRK_BODY       request body
--   WRK_UNIQUE     when set, a path prefix: each request goes to WRK_UNIQUE .. "<run>-<thread>-<n>",
--                  so that document PUTs create a new document every time
--   WRK_RUN        a token unique to this wrk invocation (part of those ids)
--   WRK_STATUSES   when "1", count responses by status code (slower: wrk then parses every
--                  response in Lua; used only for a short diagnostic run)
-- done() prints one line "BENCH_JSON {...}" with the counts and latencies (microseconds).

local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
local unique = os.getenv("WRK_UNIQUE")
local run = os.getenv("WRK_RUN") or tostring(os.time())
local count_statuses = os.getenv("WRK_STATUSES") == "1"

local headers = {}
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then headers[name] = value end
end

wrk.method = method
wrk.headers = headers
if body and body ~= "" then wrk.body = body end

local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

local n = 0
statuses = {}

if unique then
  function request()
    n = n + 1
    return wrk.format(method, unique .. run .. "-" .. tostring(tid) .. "-" .. tostring(n),
      headers, body)
  end
end

if count_statuses then
  function response(status, _, _)
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, _)
  local e = summary.errors
  local parts = {}
  if count_statuses then
    local total = {}
    for _, thread in ipairs(threads) do
      local counts = thread:get("statuses") or {}
      for k, v in pairs(counts) do total[k] = (total[k] or 0) + v end
    end
    for k, v in pairs(total) do table.insert(parts, string.format('"%s": %d', k, v)) end
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "min": %d, "max": %d, ' ..
    '"p50": %d, "p90": %d, "p99": %d}, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    table.concat(parts, ", ")))
end
