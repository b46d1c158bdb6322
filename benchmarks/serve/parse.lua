-- wrk script of benchmarks/serve.py: POST /model/parse with the SNIPS test texts, in turn.
-- WRK_BODIES: a file of JSON bodies, one per line. WRK_LIMIT: responses per thread, then the thread stops
-- (a count bound; wrk's -d is the time bound). done() prints one JSON line that serve.py reads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  requests_made = 0
  responses = 0
  bad = 0
  limit = tonumber(os.getenv("WRK_LIMIT") or "0")
  local path = os.getenv("WRK_PATH") or "/model/parse"
  local headers = { ["Content-Type"] = "application/json" }
  prepared = {}
  for line in io.lines(os.getenv("WRK_BODIES")) do
    prepared[#prepared + 1] = wrk.format("POST", path, headers, line)
  end
  index = 0
end

function request()
  index = index % #prepared + 1
  requests_made = requests_made + 1
  return prepared[index]
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    bad = bad + 1
  end
  if limit > 0 and responses >= limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "non_200": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "status_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %f}\n',
    summary.requests, summary.duration, bad_total, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
