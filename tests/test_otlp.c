/*
 * test_otlp.c: OTLP/HTTP ingest (SPEC section 4.5) end to end. The
 * OpenTelemetry JS SDK's own exporters (tests/otlp_client.mjs, npm
 * packages pinned in tests/npm) send spans, metrics and logs to a real
 * octd with nothing but OTEL_EXPORTER_OTLP_ENDPOINT set, and the rows are
 * read back column by column. Requests made here with protobuf-c check
 * the answers, refusals and that no truncated body crashes ingestd.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
	const char	*env = getenv("OCT_NODE_MODULES");
	const char	*src = getenv("OCT_SRCDIR");
	char		 pkg[4200];
	struct stat	 sb;

	if (env != NULL && *env != '\0')
		snprintf(modules, sizeof(modules), "%s", env);
	else
		snprintf(modules, sizeof(modules), "%s/build/npm/node_modules",
		    src != NULL ? src : "..");
	snprintf(pkg, sizeof(pkg), "%s/@opentelemetry/sdk-trace-base/"
	    "package.json", modules);
	cr_assert(stat(pkg, &sb) == 0, "the OpenTelemetry npm packages are "
	    "not in %s: run scripts/bootstrap (it installs them with "
	    "scripts/npm-modules), or set OCT_NODE_MODULES", modules);
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
run_client(const char *what, int gzip)
{
	const char	*src = getenv("OCT_SRCDIR");
	char		 script[4200], out[600], endpoint[64], *text;
	struct child	 c;
	json_error_t	 je;

	find_modules();
	snprintf(script, sizeof(script), "%s/tests/otlp_client.mjs",
	    src != NULL ? src : "..");
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
		cr_assert_fail("otlp_client.mjs %s did not finish", what);
	}
	text = harness_slurp(out);
	cr_assert(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
	    "otlp_client.mjs %s: %s", what, text ? text : "");
	client = json_loads(text, JSON_DISABLE_EOF_CHECK, &je);
	cr_assert_not_null(client, "%s", text);
	free(text);
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
	cr_assert_eq(metric("oct_ingest_accepted_total{type=\"llm_trace\"}"), 3);
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
