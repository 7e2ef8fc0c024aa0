/*
 * test_otlp.c: OTLP/HTTP ingest (SPEC section 4.5) end to end. The
 * OpenTelemetry JS SDK's own exporters (tests/otlp_client.mjs, npm
 * packages pinned in tests/npm) send spans, metrics and logs to a real
 * octd with nothing but OTEL_EXPORTER_OTLP_ENDPOINT set, and the rows are
 * read back column by column. Requests made here with protobuf-c check
 * the answers, refusals and that no truncated body crashes ingestd.
 */
#include "config.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "harness.h"
#include "otlp.pb-c.h"

static struct octd_run	run;
static int		otlp_port;
static char		modules[4096];
static json_t		*client;	/* what otlp_client.mjs printed */

static void
setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	json_decref(client);
	client = NULL;
	harness_teardown(&run);
}

TestSuite(otlp, .init = setup, .fini = teardown, .timeout = 120);

/* octd with an OTLP listener on a free port (the suite turns it off). */
static void
start(const char *extra)
{
	char addr[64];

	otlp_port = harness_free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", otlp_port);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	harness_setup(&run, extra);
	harness_start(&run);
}

/* The text of the first column of sql's first row; "NULL" for NULL. */
static const char *
q(const char *fmt, ...)
{
	static char	 out[4][4096];
	static int	 n;
	char		 sql[1024], path[512];
	char		*o = out[n++ % 4];
	sqlite3		*db;
	sqlite3_stmt	*s;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), 0);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), 0, "%s: %s",
	    sql, sqlite3_errmsg(db));
	snprintf(o, sizeof(out[0]), "NO ROW");
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(o, sizeof(out[0]), "%s", sqlite3_column_type(s, 0) ==
		    SQLITE_NULL ? "NULL" : (const char *)sqlite3_column_text(s,
		    0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return o;
}

struct rows {
	const char	*table;
	long long	 n;
};

static int
rows_are(void *arg)
{
	struct rows	*r = arg;
	char		 sql[100];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", r->table);
	return db_int(&run, sql) == r->n;
}

static void
wait_rows(const char *table, long long n)
{
	struct rows r = { table, n };

	cr_assert(harness_wait(rows_are, &r, 10000), "%s: %lld rows, want %lld",
	    table, db_int(&run, "SELECT count(*) FROM llm_traces"), n);
}

/* A counter of GET /metrics on the API port, e.g. name{label="x"}. */
static long
metric(const char *line)
{
	struct http_res	 r;
	char		*p, want[200];

	http_req(run.port, "GET", "/metrics", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	snprintf(want, sizeof(want), "\n%s ", line);
	p = strstr(r.body, want);
	cr_assert_not_null(p, "no %s in %s", line, r.body);
	return atol(p + strlen(want));
}

/* Where the npm packages are; fails the test, saying why, when absent. */
static void
find_modules(void)
{
	harness_node_modules("@opentelemetry/sdk-trace-base/package.json", "the OpenTelemetry npm packages are", modules,
	    sizeof(modules));
}

struct child {
	pid_t	pid;
	int	status;
};

static int
exited(void *arg)
{
	struct child *c = arg;

	return waitpid(c->pid, &c->status, WNOHANG) == c->pid;
}

/*
 * Run otlp_client.mjs what, as an app configured by the environment only:
 * OTEL_EXPORTER_OTLP_ENDPOINT (and with gzip, the compression variable).
 * Its JSON line is left in client; the exporter must have succeeded.
 */
static void
run_script(const char *name, const char *what, int gzip)
{
	const char	*src = getenv("OCT_SRCDIR");
	char		 script[4200], out[600], endpoint[64], *text;
	struct child	 c;
	json_error_t	 je;

	find_modules();
	snprintf(script, sizeof(script), "%s/tests/%s",
	    src != NULL ? src : "..", name);
	snprintf(out, sizeof(out), "%s/client-%s.out", run.dir, what);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", otlp_port);
	c.pid = fork();
	cr_assert(c.pid != -1);
	if (c.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen(out, "w", stdout) == NULL ||
		    dup2(fileno(stdout), STDERR_FILENO) == -1)
			_exit(126);
		setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
		if (gzip)
			setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", 1);
		execlp("node", "node", script, modules, what, (char *)NULL);
		fprintf(stderr, "node: not found: run scripts/bootstrap\n");
		_exit(127);
	}
	if (!harness_wait(exited, &c, 60000)) {
		kill(c.pid, SIGKILL);
		waitpid(c.pid, NULL, 0);
		cr_assert_fail("%s %s did not finish", name, what);
	}
	text = harness_slurp(out);
	cr_assert(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
	    "%s %s: %s", name, what, text ? text : "");
	client = json_loads(text, JSON_DISABLE_EOF_CHECK, &je);
	cr_assert_not_null(client, "%s", text);
	free(text);
}

static void
run_client(const char *what, int gzip)
{
	run_script("otlp_client.mjs", what, gzip);
}

/* The hex trace and span ids the client gave span name. */
static void
ids(const char *name, const char **trace_id, const char **span_id)
{
	json_t *s = json_object_get(client, name);

	*trace_id = json_string_value(json_object_get(s, "trace_id"));
	*span_id = json_string_value(json_object_get(s, "span_id"));
	cr_assert(*trace_id != NULL && *span_id != NULL, "no ids of %s", name);
}

#define ROW(col, eid)	q("SELECT %s FROM llm_traces WHERE event_id = '%s'", \
	    col, eid)

/* The spans of otlp_client.mjs traces-*, as SPEC 4.5 maps them. */
static void
assert_sdk_spans(void)
{
	const char	*t, *s;
	char		 chat[80], emb[80], fail[80], http[80];

	ids("chat", &t, &s);
	snprintf(chat, sizeof(chat), "%s-%s", t, s);
	ids("embeddings", &t, &s);
	snprintf(emb, sizeof(emb), "%s-%s", t, s);
	ids("http", &t, &s);
	snprintf(http, sizeof(http), "%s-%s", t, s);
	ids("failed", &t, &s);
	snprintf(fail, sizeof(fail), "%s-%s", t, s);
	wait_rows("llm_traces", 3);
	wait_rows("error_events", 1);

	cr_assert_str_eq(ROW("model", chat), "gpt-4o-mini");
	cr_assert_str_eq(ROW("provider", chat), "openai");
	cr_assert_str_eq(ROW("operation", chat), "chat");
	cr_assert_str_eq(ROW("prompt_tokens", chat), "21");
	cr_assert_str_eq(ROW("completion_tokens", chat), "9");
	cr_assert_str_eq(ROW("total_tokens", chat), "NULL");
	cr_assert_str_eq(ROW("latency_ms", chat), "1250.0");
	cr_assert_str_eq(ROW("started_at", chat), "1796500000000");
	cr_assert_str_eq(ROW("status", chat), "ok");
	cr_assert_str_eq(ROW("error_message", chat), "NULL");
	cr_assert_str_eq(ROW("session_id", chat), "conv-1");
	cr_assert_str_eq(ROW("input", chat), "[{\"role\":\"user\",\"parts\":"
	    "[{\"type\":\"text\",\"content\":\"hi\"}]}]");
	cr_assert_str_eq(ROW("output", chat), "NULL");
	cr_assert_str_eq(ROW("json_extract(attributes, "
	    "'$.\"gen_ai.request.temperature\"')", chat), "0.5");
	cr_assert_str_eq(ROW("json_extract(attributes, "
	    "'$.\"gen_ai.response.finish_reasons\"')", chat), "[\"stop\"]");
	cr_assert_str_eq(ROW("json_extract(attributes, "
	    "'$.\"gen_ai.request.model\"')", chat), "NULL", "mapped: not kept");
	cr_assert_str_eq(ROW("json_extract(attributes, "
	    "'$.resource.\"service.name\"')", chat), "chat-app");
	cr_assert_str_eq(ROW("json_extract(attributes, '$.otel.span_id')",
	    chat), s == NULL ? "" : ROW("substr(event_id, 34)", chat));
	cr_assert_str_eq(ROW("json_extract(attributes, '$.otel.scope.name')",
	    chat), "oct-test");

	cr_assert_str_eq(ROW("model", emb), "text-embedding-3-small");
	cr_assert_str_eq(ROW("provider", emb), "openai", "gen_ai.system");
	cr_assert_str_eq(ROW("operation", emb), "embeddings");
	cr_assert_str_eq(ROW("prompt_tokens", emb), "5");
	cr_assert_str_eq(ROW("completion_tokens", emb), "NULL");
	cr_assert_str_eq(ROW("latency_ms", emb), "40.0");

	cr_assert_str_eq(ROW("count(*)", http), "0", "an HTTP span: ignored");

	cr_assert_str_eq(ROW("model", fail), "gpt-4o");
	cr_assert_str_eq(ROW("status", fail), "error");
	cr_assert_str_eq(ROW("error_message", fail), "429 Rate limit reached");
	cr_assert_str_eq(ROW("latency_ms", fail), "300.0");

	cr_assert_str_eq(q("SELECT message FROM error_events"),
	    "429 Rate limit reached");
	cr_assert_str_eq(q("SELECT type FROM error_events"), "RateLimitError");
	cr_assert_str_eq(q("SELECT level FROM error_events"), "error");
	cr_assert_str_eq(q("SELECT service FROM error_events"), "chat-app");
	cr_assert_str_eq(q("SELECT occurred_at FROM error_events"),
	    "1796500005300");
	cr_assert(strstr(q("SELECT stack FROM error_events"),
	    "RateLimitError: 429 Rate limit reached") != NULL);
	cr_assert_str_eq(q("SELECT trace_ref FROM error_events"),
	    ROW("trace_id", fail), "the LLM row's trace_id");
	cr_assert_str_eq(q("SELECT event_id FROM error_events"),
	    q("SELECT '%s' || '-e0'", fail));
	cr_assert_eq(metric("oct_otlp_ignored_total{signal=\"traces\"}"), 1);
	cr_assert_eq(metric("oct_ingest_accepted_total{type=\"llm_trace\"}"),
	    3);
}

Test(otlp, sdk_spans_over_json_land_column_by_column)
{
	start(NULL);
	run_client("traces-json", 0);
	assert_sdk_spans();
}

Test(otlp, sdk_spans_over_protobuf_and_gzip_land_column_by_column)
{
	start(NULL);
	run_client("traces-proto", 1);
	assert_sdk_spans();
}

Test(otlp, an_exporter_retry_is_stored_once)
{
	start(NULL);
	run_client("traces-proto", 0);
	wait_rows("llm_traces", 3);
	json_decref(client);
	client = NULL;
	run_client("traces-proto", 0);	/* new spans: three more rows */
	wait_rows("llm_traces", 6);
}

Test(otlp, sdk_token_histogram_is_stored_and_other_metrics_ignored)
{
	start(NULL);
	run_client("metrics", 1);
	wait_rows("system_metrics", 1);
	cr_assert_str_eq(q("SELECT name FROM system_metrics"),
	    "gen_ai.client.token.usage");
	cr_assert_str_eq(q("SELECT value FROM system_metrics"), "30.0");
	cr_assert_str_eq(q("SELECT unit FROM system_metrics"), "{token}");
	cr_assert_str_eq(q("SELECT kind FROM system_metrics"), "gauge");
	cr_assert_str_eq(q("SELECT labels FROM system_metrics"),
	    "{\"gen_ai.token.type\":\"input\",\"gen_ai.request.model\":"
	    "\"gpt-4o-mini\"}");
	cr_assert_str_eq(q("SELECT json_extract(attributes, '$.count') FROM "
	    "system_metrics"), "2");
	cr_assert_str_eq(q("SELECT json_extract(attributes, '$.min') FROM "
	    "system_metrics"), "9.0");
	cr_assert_str_eq(q("SELECT json_extract(attributes, '$.max') FROM "
	    "system_metrics"), "21.0");
	cr_assert_str_eq(q("SELECT json_extract(attributes, '$.bounds') FROM "
	    "system_metrics"), "[1.0,16.0,256.0]");
	cr_assert_str_eq(q("SELECT json_extract(attributes, '$.bucket_counts') "
	    "FROM system_metrics"), "[0,1,1,0]");
	cr_assert_str_eq(q("SELECT json_extract(attributes, "
	    "'$.resource.\"service.name\"') FROM system_metrics"), "chat-app");
	cr_assert_eq(metric("oct_otlp_ignored_total{signal=\"metrics\"}"), 1);
}

Test(otlp, otlp_metrics_all_stores_every_metric)
{
	start("otlp_metrics = all\n");
	run_client("metrics", 0);
	wait_rows("system_metrics", 2);
	cr_assert_str_eq(q("SELECT kind || ' ' || value || ' ' || labels FROM "
	    "system_metrics WHERE name = 'http.server.requests'"),
	    "counter 3.0 {\"route\":\"/\"}");
	cr_assert_eq(metric("oct_otlp_ignored_total{signal=\"metrics\"}"), 0);
}

Test(otlp, sdk_error_log_record_is_stored_and_info_ignored)
{
	start(NULL);
	run_client("logs", 0);
	wait_rows("error_events", 1);
	cr_assert_str_eq(q("SELECT message FROM error_events"),
	    "payment service unreachable");
	cr_assert_str_eq(q("SELECT level FROM error_events"), "error");
	cr_assert_str_eq(q("SELECT type FROM error_events"), "ConnectError");
	cr_assert_str_eq(q("SELECT stack FROM error_events"),
	    "at connect (pay.js:10)");
	cr_assert_str_eq(q("SELECT service FROM error_events"), "chat-app");
	cr_assert_str_eq(q("SELECT occurred_at FROM error_events"),
	    "1796500007000");
	cr_assert_str_eq(q("SELECT json_extract(attributes, '$.\"order.id\"') "
	    "FROM error_events"), "42");
	cr_assert_eq(metric("oct_otlp_ignored_total{signal=\"logs\"}"), 1);
}

/* POST len bytes of body to the OTLP port with Content-Type type. */
static void
otlp_post(const char *path, const char *type, const void *body, size_t len,
    const char *encoding, struct http_res *r)
{
	char		 ct[100], ce[100];
	const char	*h[3] = { ct, NULL, NULL };

	snprintf(ct, sizeof(ct), "Content-Type: %s", type);
	if (encoding != NULL) {
		snprintf(ce, sizeof(ce), "Content-Encoding: %s", encoding);
		h[1] = ce;
	}
	cr_assert_eq(http_req(otlp_port, "POST", path, body, len, h, r), 0);
}

static void
otlp_json(const char *path, const char *text, struct http_res *r)
{
	otlp_post(path, "application/json", text, strlen(text), NULL, r);
}

/* A string attribute key = v (static storage: one request at a time). */
static Otlp__KeyValue *
attr(const char *key, const char *v)
{
	static Otlp__KeyValue	kv[16];
	static Otlp__AnyValue	av[16];
	static int		n;
	int			i = n++ % 16;

	otlp__key_value__init(&kv[i]);
	otlp__any_value__init(&av[i]);
	av[i].value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	av[i].string_value = (char *)v;
	kv[i].key = (char *)key;
	kv[i].value = &av[i];
	return &kv[i];
}

/*
 * A packed ExportTraceServiceRequest of two spans: an LLM call with a
 * nested attribute and an exception event, and one that names its
 * operation but no model (refused: model is required). malloc'd.
 */
static uint8_t *
trace_request(size_t *len)
{
	Otlp__ExportTraceServiceRequest	 req;
	Otlp__ResourceSpans		 rs, *rsp = &rs;
	Otlp__Resource			 res;
	Otlp__ScopeSpans		 ss, *ssp = &ss;
	Otlp__Span			 a, b;
	Otlp__Span			*spans[2] = { &a, &b };
	Otlp__SpanEvent			 ev, *evp = &ev;
	Otlp__KeyValue			*ra[1], *aa[4], *ba[1], *ea[2];
	uint8_t				*buf, tid[16] = { 1, 2, 3 };
	uint8_t				 sa[8] = { 4 }, sb[8] = { 5 };

	otlp__export_trace_service_request__init(&req);
	otlp__resource_spans__init(&rs);
	otlp__scope_spans__init(&ss);
	otlp__span__init(&a);
	otlp__span__init(&b);
	otlp__span_event__init(&ev);
	otlp__resource__init(&res);
	ra[0] = attr("service.name", "pb-app");
	res.n_attributes = 1;
	res.attributes = ra;
	aa[0] = attr("gen_ai.request.model", "claude-sonnet-4");
	aa[1] = attr("gen_ai.system", "anthropic");
	aa[2] = attr("llm.request.type", "chat");
	aa[3] = attr("app.note", "kept");
	a.n_attributes = 4;
	a.attributes = aa;
	a.has_trace_id = a.has_span_id = 1;
	a.trace_id.data = tid;
	a.trace_id.len = 16;
	a.span_id.data = sa;
	a.span_id.len = 8;
	a.name = "chat";
	a.has_start_time_unix_nano = a.has_end_time_unix_nano = 1;
	a.start_time_unix_nano = 1796500000000000000ULL;
	a.end_time_unix_nano = 1796500000250000000ULL;
	ea[0] = attr("exception.type", "Overloaded");
	ea[1] = attr("exception.message", "overloaded_error");
	ev.name = "exception";
	ev.n_attributes = 2;
	ev.attributes = ea;
	a.n_events = 1;
	a.events = &evp;
	ba[0] = attr("gen_ai.operation.name", "chat");
	b.n_attributes = 1;
	b.attributes = ba;
	b.has_trace_id = b.has_span_id = 1;
	b.trace_id.data = tid;
	b.trace_id.len = 16;
	b.span_id.data = sb;
	b.span_id.len = 8;
	ss.n_spans = 2;
	ss.spans = spans;
	rs.resource = &res;
	rs.n_scope_spans = 1;
	rs.scope_spans = &ssp;
	req.n_resource_spans = 1;
	req.resource_spans = &rsp;
	*len = otlp__export_trace_service_request__get_packed_size(&req);
	cr_assert_not_null(buf = malloc(*len));
	otlp__export_trace_service_request__pack(&req, buf);
	return buf;
}

/* The gzip of len bytes of data (malloc'd, *out_len). */
static uint8_t *
gzip_of(const void *data, size_t len, size_t *out_len)
{
	z_stream	 z;
	uint8_t		*out;

	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	cr_assert_not_null(out = malloc(deflateBound(&z, len)));
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)deflateBound(&z, len);
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* A google.rpc.Status answer: its code, and its message in msg. */
static int
rpc_status(const struct http_res *r, char *msg, size_t len)
{
	Otlp__RpcStatus	*st;
	int		 code;

	/* none of the answers checked here holds a NUL byte */
	st = otlp__rpc_status__unpack(NULL, strlen(r->body),
	    (const uint8_t *)r->body);
	cr_assert_not_null(st, "not a google.rpc.Status: %s", r->body);
	snprintf(msg, len, "%s", st->message ? st->message : "");
	code = st->code;
	otlp__rpc_status__free_unpacked(st, NULL);
	return code;
}

Test(otlp, refused_spans_are_counted_in_partial_success)
{
	Otlp__ExportTraceServiceResponse	*resp;
	struct http_res				 r;
	uint8_t					*body;
	size_t					 len;

	start(NULL);
	body = trace_request(&len);
	otlp_post("/v1/traces?wait=commit", "application/x-protobuf", body,
	    len, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert(strstr(r.headers, "Content-Type: application/x-protobuf"));
	resp = otlp__export_trace_service_response__unpack(NULL,
	    strlen(r.body), (const uint8_t *)r.body);
	cr_assert_not_null(resp);
	cr_assert_not_null(resp->partial_success);
	cr_assert_eq(resp->partial_success->rejected_spans, 1);
	cr_assert_str_eq(resp->partial_success->error_message,
	    "missing required field model");
	otlp__export_trace_service_response__free_unpacked(resp, NULL);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces"), 1);
	cr_assert_str_eq(q("SELECT model || ' ' || provider || ' ' || "
	    "operation || ' ' || latency_ms FROM llm_traces"),
	    "claude-sonnet-4 anthropic chat 250.0");
	cr_assert_str_eq(q("SELECT json_extract(attributes, '$.\"app.note\"') "
	    "FROM llm_traces"), "kept");
	cr_assert_str_eq(q("SELECT event_id FROM llm_traces"),
	    "01020300000000000000000000000000-0400000000000000");
	cr_assert_str_eq(q("SELECT message || ' ' || trace_ref FROM "
	    "error_events"), q("SELECT 'overloaded_error ' || trace_id FROM "
	    "llm_traces"));

	/* the same request again (an exporter's retry): stored once */
	otlp_post("/v1/traces?wait=commit", "application/x-protobuf", body,
	    len, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces"), 1);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM error_events"), 1);
	free(body);
}

Test(otlp, errors_are_answered_as_otlp_http_says)
{
	struct http_res	 r;
	char		 msg[300];
	uint8_t		*body, *p;
	size_t		 len;

	start(NULL);
	otlp_post("/v1/traces", "application/x-protobuf", "\x0a\xff", 2, NULL,
	    &r);
	cr_assert_eq(r.status, 400);
	cr_assert_eq(rpc_status(&r, msg, sizeof(msg)), 3);
	cr_assert_str_eq(msg, "malformed protobuf: not an "
	    "ExportTraceServiceRequest");
	body = trace_request(&len);	/* "pb-app" as "pb-\xff\xfep" */
	cr_assert_not_null(p = memmem(body, len, "pb-app", 6));
	memcpy(p + 3, "\xff\xfe", 2);
	otlp_post("/v1/traces", "application/x-protobuf", body, len, NULL, &r);
	cr_assert_eq(r.status, 400);
	cr_assert_eq(rpc_status(&r, msg, sizeof(msg)), 3);
	cr_assert_str_eq(msg, "invalid UTF-8");
	free(body);
	otlp_json("/v1/logs", "{\"resourceLogs\":", &r);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "{\"code\":3,\"message\":\"malformed JSON:"),
	    "%s", r.body);
	otlp_json("/v1/metrics", "{\"resourceMetrics\":[{\"scopeMetrics\":7}]}",
	    &r);
	cr_assert_eq(r.status, 400, "%s", r.body);
	otlp_post("/v1/traces", "text/plain", "x", 1, NULL, &r);
	cr_assert_eq(r.status, 415);
	cr_assert_str_eq(r.body, "{\"error\":\"Content-Type must be "
	    "application/x-protobuf or application/json\"}\n");
	otlp_post("/v1/traces", "application/json", "{}", 2, "br", &r);
	cr_assert_eq(r.status, 415);
	otlp_post("/v1/errors", "application/json", "{}", 2, NULL, &r);
	cr_assert_eq(r.status, 404, "the native paths are on listen only");
	http_req(otlp_port, "GET", "/v1/traces", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 405);
	otlp_post("/v1/traces", "application/json", "{}", 2, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{}");
	otlp_json("/v1/metrics", "{\"resourceMetrics\":[{\"scopeMetrics\":[{"
	    "\"metrics\":[{\"name\":\"gen_ai.x\",\"summary\":{\"dataPoints\":"
	    "[{},{}]}}]}]}]}", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"partialSuccess\":{\"rejectedDataPoints\":"
	    "\"2\",\"errorMessage\":\"gen_ai.x: exponential histograms and "
	    "summaries are not stored\"}}");
}

Test(otlp, a_gzip_bomb_is_refused_with_413)
{
	struct http_res	 r;
	char		*zeros, msg[300];
	uint8_t		*gz;
	size_t		 len;

	start(NULL);
	cr_assert_not_null(zeros = calloc(1, 2 << 20));
	gz = gzip_of(zeros, 2 << 20, &len);
	cr_assert(len < 10000);
	otlp_post("/v1/traces", "application/x-protobuf", gz, len, "gzip", &r);
	cr_assert_eq(r.status, 413);
	cr_assert_eq(rpc_status(&r, msg, sizeof(msg)), 8);
	cr_assert_str_eq(msg, "body larger than max_body_bytes (1048576 "
	    "bytes) once inflated");
	free(gz);
	free(zeros);
}

/* Every cut of a valid request is answered, never a crash (ASan build). */
Test(otlp, every_truncation_is_answered_never_a_crash)
{
	struct http_res	 r;
	uint8_t		*body, *gz;
	size_t		 len, glen, i;
	pid_t		 ingestd;

	start(NULL);
	ingestd = harness_worker(&run, "ingestd");
	body = trace_request(&len);
	gz = gzip_of(body, len, &glen);
	for (i = 0; i < len; i++) {
		otlp_post("/v1/traces", "application/x-protobuf", body, i, NULL,
		    &r);
		/* a cut between two fields is a shorter valid request */
		cr_assert(r.status == 400 || r.status == 200,
		    "%zu of %zu bytes: %ld", i, len, r.status);
	}
	for (i = 0; i < glen; i++) {
		otlp_post("/v1/traces", "application/x-protobuf", gz, i, "gzip",
		    &r);
		cr_assert_eq(r.status, 400, "gzip cut at %zu of %zu: %ld", i,
		    glen, r.status);
	}
	otlp_post("/v1/traces", "application/x-protobuf", gz, glen, "gzip", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(harness_worker(&run, "ingestd"), ingestd,
	    "ingestd was not restarted");
	free(body);
	free(gz);
}

Test(otlp, a_taken_port_fails_the_start_naming_the_key)
{
	struct sockaddr_in	 sin;
	char			 addr[64], out[2000], *log, pidfile[400];
	char			*argv[] = { (char *)harness_bin("octd"), "-c",
				    run.conf, NULL };
	int			 fd, one = 1;
	FILE			*f;

	otlp_port = harness_free_port();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)otlp_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", otlp_port);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	harness_setup(&run, NULL);
	argv[2] = run.conf;
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 1, "%s", out);
	snprintf(pidfile, sizeof(pidfile), "%s/run/octd.pid", run.dir);
	if ((f = fopen(pidfile, "r")) != NULL) {	/* for the teardown */
		if (fscanf(f, "%d", &run.pid) != 1)
			run.pid = 0;
		fclose(f);
	}
	cr_assert(strstr(out, "ingestd") && strstr(out, "exited with status 1 "
	    "while starting"), "%s", out);
	log = (char *)harness_log(&run, "ingestd");
	snprintf(out, sizeof(out), "fatal: otlp_listen %s: cannot listen: "
	    "Address already in use", addr);
	cr_assert_eq(harness_count(log, out), 1, "no '%s' in %s", out, log);
	close(fd);
}

#define OP(col, op)	q("SELECT %s FROM llm_traces WHERE operation = '%s' " \
	    "ORDER BY id LIMIT 1", col, op)

/*
 * Spans nobody here shaped: the npm openai client under the OpenTelemetry
 * GenAI instrumentation, against a fake API that answers one chat 429.
 */
Test(otlp, openai_under_the_genai_instrumentation)
{
	start(NULL);
	run_script("otlp_openai.mjs", "genai", 0);
	wait_rows("llm_traces", 3);
	cr_assert_str_eq(q("SELECT model || ' ' || provider || ' ' || "
	    "prompt_tokens || ' ' || completion_tokens || ' ' || status || "
	    "' ' || (latency_ms > 0) FROM llm_traces WHERE id = 1"),
	    "gpt-4o-mini openai 11 4 ok 1");
	cr_assert_str_eq(q("SELECT operation FROM llm_traces WHERE id = 1"),
	    "chat");
	cr_assert_str_eq(q("SELECT json_extract(attributes, "
	    "'$.resource.\"service.name\"') FROM llm_traces WHERE id = 1"),
	    "support-bot");
	cr_assert_str_eq(q("SELECT status || ': ' || error_message FROM "
	    "llm_traces WHERE id = 2"),
	    "error: 429 Rate limit reached for gpt-4o-mini");
	cr_assert_str_eq(q("SELECT model FROM llm_traces WHERE id = 2"),
	    "gpt-4o-mini");
	cr_assert_str_eq(OP("model || ' ' || provider || ' ' || prompt_tokens",
	    "embeddings"), "text-embedding-3-small openai 3");
	/* its histograms are stored, the app's own counter is not */
	wait_rows("system_metrics", 6);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM system_metrics WHERE "
	    "name = 'gen_ai.client.token.usage'"), 3);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM system_metrics WHERE "
	    "name = 'gen_ai.client.operation.duration' AND unit = 's'"), 3);
	cr_assert_str_eq(q("SELECT value FROM system_metrics WHERE name = "
	    "'gen_ai.client.token.usage' AND json_extract(labels, "
	    "'$.\"gen_ai.token.type\"') = 'output'"), "4.0");
	cr_assert_eq(metric("oct_otlp_ignored_total{signal=\"metrics\"}"), 1);
	/* the HTTP client spans under each LLM span */
	cr_assert_eq(json_integer_value(json_object_get(client, "spans")), 6);
	cr_assert_eq(metric("oct_otlp_ignored_total{signal=\"traces\"}"), 3);
}

/* The same calls under OpenInference's instrumentation (its own names). */
Test(otlp, openai_under_the_openinference_instrumentation)
{
	start(NULL);
	run_script("otlp_openai.mjs", "openinference", 0);
	/* it ends no span for the call that failed: two rows */
	wait_rows("llm_traces", 2);
	cr_assert_str_eq(OP("model || ' ' || provider || ' ' || "
	    "prompt_tokens || ' ' || completion_tokens || ' ' || total_tokens "
	    "|| ' ' || status || ' ' || (latency_ms > 0)", "chat"),
	    "gpt-4o-mini-2024-07-18 openai 11 4 15 ok 1");
	cr_assert_str_eq(OP("input", "chat"), "[{\"role\":\"system\","
	    "\"content\":\"You are terse.\"},{\"role\":\"user\",\"content\":"
	    "\"Say hello\"}]");
	cr_assert_str_eq(OP("output", "chat"),
	    "[{\"role\":\"assistant\",\"content\":\"Hello!\"}]");
	cr_assert_str_eq(OP("model || ' ' || input", "embeddings"),
	    "text-embedding-3-small hello");
	cr_assert_str_eq(OP("json_extract(attributes, "
	    "'$.resource.\"service.name\"')", "embeddings"), "support-bot");
	cr_assert_eq(json_integer_value(json_object_get(client, "spans")), 5);
	cr_assert_eq(metric("oct_otlp_ignored_total{signal=\"traces\"}"), 3);
}

/* octctl send takes OTLP JSON to otlp_listen, as an exporter sends it. */
Test(otlp, octctl_send_posts_otlp_json)
{
	char	 out[2000];
	char	*argv[] = { (char *)harness_bin("octctl"), "-c", NULL, "send",
		    "otlp-traces", "{\"resourceSpans\":[{\"scopeSpans\":[{"
		    "\"spans\":[{\"name\":\"chat\",\"attributes\":[{\"key\":"
		    "\"gen_ai.request.model\",\"value\":{\"stringValue\":"
		    "\"gpt-4.1\"}}]}]}]}]}", NULL };

	start(NULL);
	argv[2] = run.conf;
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 0, "%s", out);
	wait_rows("llm_traces", 1);
	cr_assert_str_eq(q("SELECT model FROM llm_traces"), "gpt-4.1");
	argv[4] = "otlp-nothing";
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 2, "%s", out);
}

/* Prepend to the buffer ending at *p a varint v. */
static void
put_varint(uint8_t **p, uint64_t v)
{
	uint8_t	tmp[10];
	int	n = 0;

	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v > 0);
	*p -= n;
	memcpy(*p, tmp, (size_t)n);
}

/* Prepend field tag (length-delimited) around the len bytes at *p. */
static void
wrap(uint8_t **p, unsigned field, size_t len)
{
	put_varint(p, len);
	put_varint(p, (uint64_t)field << 3 | 2);
}

/*
 * A resource attribute whose value nests depth arrays in one another
 * (five bytes a level): protobuf-c would recurse once per level. ingestd
 * refuses it before unpacking, rather than run out of stack.
 */
Test(otlp, a_deeply_nested_value_is_refused_not_a_crash)
{
	struct http_res	 r;
	uint8_t		*buf, *end, *p;
	size_t		 depth = 500000, i;
	char		 msg[300];

	start("max_body_bytes = 8m\n");
	cr_assert_not_null(buf = malloc(depth * 12 + 64));
	p = end = buf + depth * 12 + 64;
	for (i = 0; i < depth; i++) {
		wrap(&p, 1, (size_t)(end - p));		/* ArrayValue.values */
		wrap(&p, 5, (size_t)(end - p));		/* AnyValue.array_value */
	}
	wrap(&p, 2, (size_t)(end - p));			/* KeyValue.value */
	*--p = 'k';
	*--p = 1;
	*--p = 0x0a;					/* KeyValue.key */
	wrap(&p, 1, (size_t)(end - p));			/* Resource.attributes */
	wrap(&p, 1, (size_t)(end - p));			/* ResourceSpans.resource */
	wrap(&p, 1, (size_t)(end - p));			/* resource_spans */
	otlp_post("/v1/traces", "application/x-protobuf", p, (size_t)(end - p),
	    NULL, &r);
	cr_assert_eq(r.status, 400);
	cr_assert_eq(rpc_status(&r, msg, sizeof(msg)), 3);
	cr_assert_str_eq(msg, "malformed protobuf: not an "
	    "ExportTraceServiceRequest");
	http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	free(buf);
}

/*
 * OTLP JSON is parsed by the same module as the JSON API (common/json.c),
 * with its rules and reasons: \u0000 refused saying so, an empty body
 * named, an integer beyond int64 refused, the last duplicate key wins.
 */
Test(otlp, otlp_json_keeps_the_json_api_rules)
{
	struct http_res r;

	start(NULL);
	otlp_json("/v1/traces", "{\"resourceSpans\":[{\"resource\":{"
	    "\"attributes\":[{\"key\":\"a\\u0000b\",\"value\":{}}]}}]}", &r);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "{\"code\":3,\"message\":\"\\\\u0000 in a "
	    "string is not accepted\"") != NULL, "%s", r.body);
	otlp_json("/v1/traces", "", &r);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "{\"code\":3,\"message\":\"malformed JSON: "
	    "the body is empty\"") != NULL, "%s", r.body);
	otlp_json("/v1/traces", "{\"resourceSpans\":[{\"scopeSpans\":[{"
	    "\"spans\":[{\"kind\":9223372036854775808}]}]}]}", &r);
	cr_assert_eq(r.status, 400, "%s", r.body);
	otlp_json("/v1/traces", "{\"resourceSpans\":7,\"resourceSpans\":[]}",
	    &r);
	cr_assert_eq(r.status, 200, "the last duplicate key wins: %s", r.body);
}
