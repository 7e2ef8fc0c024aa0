-- batch50.lua: POST arrays of 50 copies of bench/event.json per request to
-- /v1/traces, keep-alive (SPEC section 4: one array is all-or-nothing).
local f = assert(io.open(os.getenv("OCT_BENCH_EVENT") or "bench/event.json"))
local event = f:read("*a"):gsub("%s+$", "")
f:close()

local items = {}
for i = 1, 50 do
	items[i] = event
end

wrk.method = "POST"
wrk.path = "/v1/traces"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "[" .. table.concat(items, ",") .. "]"
