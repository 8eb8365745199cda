-- wrk script: POST the body in $BENCH_BODY; when $BENCH_TOKENS names a file of JWTs (one a line),
-- each request carries the next unused one (threads take disjoint stripes, so no jti repeats
-- until the pool is exhausted; the harness mints more tokens than a run can send).
-- $BENCH_THINK_MS > 0: each connection waits that long after every answer before its next
-- request (the paced load of `run.py`; wrk's latencies do not include the wait).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local body_file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = body_file:read("*a")
body_file:close()

local tokens = {}
local tokens_path = os.getenv("BENCH_TOKENS")
if tokens_path and tokens_path ~= "" then
  for line in io.lines(tokens_path) do tokens[#tokens + 1] = line end
end

local thread_count = 0
function setup(thread)
  thread:set("stripe", thread_count)
  thread_count = thread_count + 1
end

local sent = 0
function init(args)
  stripe = stripe or 0
end

function request()
  if #tokens == 0 then
    return wrk.format()
  end
  local index = (sent * 2 + stripe) % #tokens + 1
  sent = sent + 1
  -- wrk.format replaces wrk.headers with the table given: carry Content-Type over
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Authorization"] = "Bearer " .. tokens[index]
  return wrk.format(nil, nil, headers)
end

local think_ms = tonumber(os.getenv("BENCH_THINK_MS") or "") or 0
if think_ms > 0 then
  function delay()
    return think_ms
  end
end
