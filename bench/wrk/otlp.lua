-- otlp.lua: POST an OTLP/HTTP protobuf ExportTraceServiceRequest
-- ($OCT_BENCH_OTLP, made by bench/otlp_body.c) per request to /v1/traces
-- on otlp_listen, keep-alive. Used by bench/run's case 7.
local f = assert(io.open(assert(os.getenv("OCT_BENCH_OTLP")), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/v1/traces"
wrk.headers["Content-Type"] = "application/x-protobuf"
wrk.body = body
