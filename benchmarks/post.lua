-- wrk script: POST the body in $BENCH_BODY; when $BENCH_TOKENS names a file of JWTs (one a line),
-- each request carries the next unused one (threads take disjoint stripes, so no jti repeats
-- until the pool is exhausted; the harness mints more tokens than a run can send).
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
