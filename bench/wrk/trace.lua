-- trace.lua: POST one realistic LLM trace (bench/event.json, ~1 KB) per
-- request to /v1/traces, keep-alive. Used by bench/run against oct and
-- against limits/http_sink alike.
local f = assert(io.open(os.getenv("OCT_BENCH_EVENT") or "bench/event.json"))
local event = f:read("*a"):gsub("%s+$", "")
f:close()

wrk.method = "POST"
wrk.path = "/v1/traces"
wrk.headers["Content-Type"] = "application/json"
wrk.body = event
