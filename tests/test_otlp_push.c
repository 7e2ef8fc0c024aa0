/*
 * test_otlp_push.c: push_format = otlp (SPEC section 6.1). A real octd
 * pushes to tests/otlp_collector.mjs, a Node.js collector that decodes
 * every request with the protobufjs root of the npm package
 * @opentelemetry/otlp-transformer@0.52.1 (built from the official
 * opentelemetry-proto files, not from proto/otlp.proto) and writes each as
 * a JSON line; the tests assert on those lines and on the rows.
 *
 * The package is found in $OCT_NODE_MODULES (scripts/check and .ci/run
 * set it), else in $OCT_SRCDIR/build/npm/node_modules.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"

static struct octd_run	run, runb;
static pid_t		node;
static int		node_port, otlp_port;
static char		outfile[600], modules[4096], secret[64];

static void
setup(void)
{
	cr_assert(sodium_init() >= 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	if (node > 0) {
		kill(node, SIGKILL);
		waitpid(node, NULL, 0);
	}
	harness_teardown(&run);
	harness_teardown(&runb);
}

TestSuite(otlp_push, .init = setup, .fini = teardown, .timeout = 90);

/* Where the npm packages are; fails the test, saying why, when absent. */
static void
find_modules(void)
{
	harness_node_modules("@opentelemetry/otlp-transformer/build/src/generated/root.js", "the npm package @opentelemetry/otlp-transformer is", modules,
	    sizeof(modules));
}

static int
port_answers(void *arg)
{
	struct sockaddr_in	sin;
	int			fd, ok;

	(void)arg;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)node_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok || waitpid(node, NULL, WNOHANG) == node;
}

/* The collector, answering as answers says (otlp_collector.mjs). */
static void
node_start(const char *answers)
{
	const char	*src = getenv("OCT_SRCDIR");
	char		 script[4200], port[16], log[600];
	int		 status;

	find_modules();
	snprintf(script, sizeof(script), "%s/tests/otlp_collector.mjs",
	    src != NULL ? src : "..");
	snprintf(outfile, sizeof(outfile), "%s/requests.jsonl", run.dir);
	snprintf(log, sizeof(log), "%s/node.log", run.dir);
	snprintf(port, sizeof(port), "%d", node_port);
	node = fork();
	cr_assert(node != -1);
	if (node == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen(log, "w", stdout) == NULL ||
		    dup2(fileno(stdout), STDERR_FILENO) == -1)
			_exit(126);
		execlp("node", "node", script, modules, port, secret, outfile,
		    answers, (char *)NULL);
		_exit(127);
	}
	cr_assert(harness_wait(port_answers, NULL, 15000), "node not up");
	if (waitpid(node, &status, WNOHANG) == node) {
		node = 0;
		cr_assert_fail("the collector exited: %s", harness_slurp(log));
	}
}

/*
 * octd pushing with push_format = otlp to the collector (answering as
 * answers says), an OTLP listener on, extra lines added (backoff base
 * 50 ms and cap 1 s unless they set them); started.
 */
static void
start(const char *answers, const char *extra)
{
	unsigned char	key[24];
	char		conf[2048], addr[64];

	randombytes_buf(key, sizeof(key));
	memcpy(secret, "whsec_", 6);
	sodium_bin2base64(secret + 6, sizeof(secret) - 6, key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	node_port = harness_free_port();
	otlp_port = harness_free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", otlp_port);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	if (extra == NULL)
		extra = "push_interval_ms = 100\n";
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d\n"
	    "push_format = otlp\npush_hmac_secret = %s\n%s%s%s", node_port,
	    secret, strstr(extra, "push_backoff_base_ms") ? "" :
	    "push_backoff_base_ms = 50\n", strstr(extra,
	    "push_backoff_cap_ms") ? "" : "push_backoff_cap_ms = 1000\n", extra);
	harness_setup(&run, conf);
	node_start(answers);
	harness_start(&run);
}

/* Post body, committed; the first n trace_ids octd answered into ids. */
static void
post_many(const char *path, const char *body, char ids[][64], size_t n)
{
	struct http_res	 r;
	json_t		*o;
	char		 p[200];
	size_t		 i;

	snprintf(p, sizeof(p), "%s?wait=commit", path);
	cr_assert_eq(http_post(run.port, p, body, &r), 0);
	cr_assert(r.status == 200 || r.status == 202, "%ld %s", r.status,
	    r.body);
	o = json_loads(r.body, 0, NULL);
	for (i = 0; i < n; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", json_string_value(
		    json_array_get(json_object_get(o, "trace_ids"), i)));
	json_decref(o);
}

/* The trace_id octd answered a post with. */
static void
post(const char *path, const char *body, char *trace_id, size_t len)
{
	char id[1][64];

	post_many(path, body, id, 1);
	if (trace_id != NULL)
		snprintf(trace_id, len, "%s", id[0]);
}

static int
synced(void *arg)
{
	return db_int(&run, "SELECT (SELECT count(*) FROM llm_traces WHERE "
	    "synced_at IS NOT NULL) + (SELECT count(*) FROM error_events WHERE "
	    "synced_at IS NOT NULL) + (SELECT count(*) FROM system_metrics "
	    "WHERE synced_at IS NOT NULL)") == *(int *)arg;
}

/* The collector's lines, as an array. */
static json_t *
requests(void)
{
	json_t	*a = json_array(), *o;
	char	*text = harness_slurp(outfile), *line, *save = NULL;

	cr_assert_not_null(text, "the collector saw nothing");
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		o = json_loads(line, 0, NULL);
		cr_assert_not_null(o, "%s", line);
		json_array_append_new(a, o);
	}
	free(text);
	return a;
}

/* The value of attribute key in a list of KeyValues (JSON), or NULL. */
static json_t *
attr(json_t *kvs, const char *key)
{
	json_t	*kv;
	size_t	 i;

	json_array_foreach(kvs, i, kv)
		if (strcmp(json_string_value(json_object_get(kv, "key")),
		    key) == 0)
			return json_object_get(kv, "value");
	return NULL;
}

static const char *
sattr(json_t *kvs, const char *key)
{
	return json_string_value(json_object_get(attr(kvs, key),
	    "stringValue"));
}

/*
 * The span (with its resource in *res) whose attribute key is id, among
 * the requests answered status; *seen: how many there were.
 */
static json_t *
find_by(json_t *reqs, const char *key, const char *id, long status,
    json_t **res, int *seen)
{
	json_t	*r, *rs, *ss, *sp, *found = NULL;
	size_t	 i, j, k, l;

	*seen = 0;
	json_array_foreach(reqs, i, r) {
		if (json_integer_value(json_object_get(r, "status")) != status)
			continue;
		json_array_foreach(json_object_get(json_object_get(r, "body"),
		    "resourceSpans"), j, rs)
			json_array_foreach(json_object_get(rs, "scopeSpans"), k,
			    ss)
				json_array_foreach(json_object_get(ss, "spans"),
				    l, sp) {
					const char *t = sattr(json_object_get(
					    sp, "attributes"), key);

					if (t == NULL || strcmp(t, id) != 0)
						continue;
					(*seen)++;
					found = sp;
					if (res != NULL)
						*res = json_object_get(rs,
						    "resource");
				}
	}
	return found;
}

static json_t *
find_span(json_t *reqs, const char *id, long status, json_t **res, int *seen)
{
	return find_by(reqs, "oct.trace_id", id, status, res, seen);
}

/* A UUID's hex digits. */
static void
uuid_hex(const char *uuid, char *out)
{
	for (; *uuid != '\0'; uuid++)
		if (*uuid != '-')
			*out++ = *uuid;
	*out = '\0';
}

/* The field's items of every request to path answered 200 (new ref). */
static json_t *
all_of(json_t *reqs, const char *path, const char *field)
{
	json_t	*r, *all = json_array();
	size_t	 i;

	json_array_foreach(reqs, i, r)
		if (strcmp(json_string_value(json_object_get(r, "path")),
		    path) == 0 && json_integer_value(json_object_get(r,
		    "status")) == 200)
			json_array_extend(all, json_object_get(json_object_get(
			    r, "body"), field));
	return all;
}

#define OTLP_SPAN "{\"resourceSpans\":[{\"resource\":{\"attributes\":[" \
	"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"shop\"}}]}," \
	"\"scopeSpans\":[{\"scope\":{\"name\":\"app-llm\"},\"spans\":[{" \
	"\"traceId\":\"5b8efff798038103d269b633813fc60c\"," \
	"\"spanId\":\"eee19b7ec3c1b174\",\"parentSpanId\":\"eee19b7ec3c1b173\"," \
	"\"name\":\"chat claude\",\"kind\":3," \
	"\"startTimeUnixNano\":\"1700000000000000000\"," \
	"\"endTimeUnixNano\":\"1700000001000000000\",\"attributes\":[" \
	"{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":" \
	"\"claude-x\"}},{\"key\":\"gen_ai.operation.name\",\"value\":" \
	"{\"stringValue\":\"chat\"}}]}]}]}]}"

Test(otlp_push, rows_go_out_as_spans_logs_and_metrics)
{
	char		 tid[64], eid[64], hex[40], want[200], *logs;
	json_t		*reqs, *sp, *res, *r, *b, *lr, *m, *pt;
	struct http_res	 hr;
	const char	*h[] = { "Content-Type: application/json", NULL };
	int		 five = 5, seen, i;
	size_t		 k;

	start("", "push_interval_ms = 100\npush_headers = x-honeycomb-team="
	    "s3cr%20et , X-Scope = oct\n");
	post("/v1/traces", "{\"model\":\"gpt-4o\",\"operation\":\"chat\","
	    "\"provider\":\"openai\",\"prompt_tokens\":10,"
	    "\"completion_tokens\":4,\"cost_usd\":0.25,\"latency_ms\":1500,"
	    "\"started_at\":1700000000000,\"status\":\"error\","
	    "\"error_message\":\"rate limited\",\"session_id\":\"s1\","
	    "\"service\":\"api\",\"attributes\":{\"team\":\"ml\"}}", tid,
	    sizeof(tid));
	snprintf(want, sizeof(want), "{\"message\":\"boom\",\"type\":\"E\","
	    "\"trace_ref\":\"%.36s\"}", tid);
	post("/v1/errors", want, eid, sizeof(eid));
	post("/v1/metrics", "{\"name\":\"g\",\"value\":1.5,\"unit\":\"s\","
	    "\"labels\":{\"a\":\"b\"}}", NULL, 0);
	post("/v1/metrics", "{\"name\":\"c\",\"value\":7,\"kind\":\"counter\"}",
	    NULL, 0);
	cr_assert_eq(http_req(otlp_port, "POST", "/v1/traces", OTLP_SPAN,
	    strlen(OTLP_SPAN), h, &hr), 0);
	cr_assert_eq(hr.status, 200, "%s", hr.body);
	cr_assert(harness_wait(synced, &five, 20000), "%s",
	    harness_slurp(outfile));
	reqs = requests();

	json_array_foreach(reqs, k, r) {
		cr_assert_null(json_object_get(r, "error"), "undecodable: %s",
		    json_dumps(r, 0));
		cr_assert(json_is_true(json_object_get(r, "signed")),
		    "the v1 signature over the protobuf verifies");
		b = json_object_get(r, "headers");
		cr_assert_str_eq(json_string_value(json_object_get(b,
		    "content-type")), "application/x-protobuf");
		cr_assert_str_eq(json_string_value(json_object_get(b,
		    "x-honeycomb-team")), "s3cr et");
		cr_assert_str_eq(json_string_value(json_object_get(b,
		    "x-scope")), "oct");
		cr_assert_not_null(json_object_get(b, "webhook-id"));
	}

	/* oct's own span: named, CLIENT, GenAI attributes, ids from the UUID */
	sp = find_span(reqs, tid, 200, &res, &seen);
	cr_assert_not_null(sp, "%s", json_dumps(reqs, 0));
	cr_assert_eq(seen, 1);
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")),
	    "chat gpt-4o");
	cr_assert_eq(json_integer_value(json_object_get(sp, "kind")), 3);
	uuid_hex(tid, hex);
	cr_assert_str_eq(json_string_value(json_object_get(sp, "traceId")),
	    hex);
	cr_assert_str_eq(json_string_value(json_object_get(sp, "spanId")),
	    hex + 16);
	cr_assert_str_eq(json_string_value(json_object_get(sp,
	    "startTimeUnixNano")), "1700000000000000000");
	cr_assert_str_eq(json_string_value(json_object_get(sp,
	    "endTimeUnixNano")), "1700000001500000000");
	b = json_object_get(sp, "attributes");
	cr_assert_str_eq(sattr(b, "gen_ai.request.model"), "gpt-4o");
	cr_assert_str_eq(sattr(b, "gen_ai.operation.name"), "chat");
	cr_assert_str_eq(sattr(b, "gen_ai.provider.name"), "openai");
	cr_assert_str_eq(json_string_value(json_object_get(attr(b,
	    "gen_ai.usage.input_tokens"), "intValue")), "10");
	cr_assert_str_eq(json_string_value(json_object_get(attr(b,
	    "gen_ai.usage.output_tokens"), "intValue")), "4");
	cr_assert(json_real_value(json_object_get(attr(b, "oct.cost_usd"),
	    "doubleValue")) == 0.25);
	cr_assert_str_eq(sattr(b, "session.id"), "s1");
	cr_assert_str_eq(sattr(b, "team"), "ml");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(sp,
	    "status"), "code")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(sp,
	    "status"), "message")), "rate limited");
	b = json_object_get(res, "attributes");
	cr_assert_str_eq(sattr(b, "service.name"), "api");
	cr_assert_not_null(sattr(b, "host.name"));
	cr_assert_not_null(sattr(b, "oct.agent.id"));
	cr_assert_not_null(sattr(b, "service.version"));

	/* the OTLP span keeps its ids and its resource */
	sp = find_by(reqs, "gen_ai.request.model", "claude-x", 200, &res,
	    &seen);
	cr_assert_not_null(sp, "the OTLP span went out: %s",
	    json_dumps(reqs, 0));
	cr_assert_eq(seen, 1);
	cr_assert_str_eq(json_string_value(json_object_get(sp, "traceId")),
	    "5b8efff798038103d269b633813fc60c");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "spanId")),
	    "eee19b7ec3c1b174");
	cr_assert_str_eq(json_string_value(json_object_get(sp,
	    "parentSpanId")), "eee19b7ec3c1b173");
	cr_assert_str_eq(json_string_value(json_object_get(sp, "name")),
	    "chat claude-x");
	cr_assert_str_eq(sattr(json_object_get(res, "attributes"),
	    "service.name"), "shop");
	cr_assert_null(attr(json_object_get(res, "attributes"),
	    "service.version"), "a row's own resource has no oct version");

	/* the error event: a log record linked to the trace */
	b = all_of(reqs, "/v1/logs", "resourceLogs");
	cr_assert_eq(json_array_size(b), 1, "%s", json_dumps(reqs, 0));
	lr = json_array_get(json_object_get(json_array_get(json_object_get(
	    json_array_get(b, 0), "scopeLogs"), 0), "logRecords"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(lr,
	    "body"), "stringValue")), "boom");
	cr_assert_eq(json_integer_value(json_object_get(lr, "severityNumber")),
	    17);
	cr_assert_str_eq(sattr(json_object_get(lr, "attributes"),
	    "exception.type"), "E");
	cr_assert_str_eq(json_string_value(json_object_get(lr, "traceId")),
	    hex);
	json_decref(b);

	/* the metrics: a gauge and a monotonic sum */
	b = all_of(reqs, "/v1/metrics", "resourceMetrics");
	i = 0;
	json_array_foreach(b, k, r) {
		m = json_array_get(json_object_get(json_array_get(
		    json_object_get(r, "scopeMetrics"), 0), "metrics"), 0);
		if (strcmp(json_string_value(json_object_get(m, "name")),
		    "g") == 0) {
			pt = json_array_get(json_object_get(json_object_get(m,
			    "gauge"), "dataPoints"), 0);
			cr_assert(json_real_value(json_object_get(pt,
			    "asDouble")) == 1.5);
			cr_assert_str_eq(sattr(json_object_get(pt,
			    "attributes"), "a"), "b");
			cr_assert_str_eq(json_string_value(json_object_get(m,
			    "unit")), "s");
			i++;
		} else {
			cr_assert(json_is_true(json_object_get(json_object_get(
			    m, "sum"), "isMonotonic")), "%s", json_dumps(m, 0));
			i++;
		}
	}
	cr_assert_eq(i, 2, "%s", json_dumps(b, 0));
	json_decref(b);
	json_decref(reqs);

	/* the header's value is in no log line */
	logs = harness_slurp(harness_log(&run, "pushd"));
	cr_assert(logs == NULL || strstr(logs, "s3cr") == NULL, "%s", logs);
	free(logs);
}

#define OTLP_HIST "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{" \
	"\"name\":\"gen_ai.client.operation.duration\",\"unit\":\"s\"," \
	"\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[{" \
	"\"timeUnixNano\":\"1700000000000000000\",\"count\":\"3\"," \
	"\"sum\":12.5,\"min\":1,\"max\":9,\"bucketCounts\":[\"1\",\"2\"," \
	"\"0\"],\"explicitBounds\":[5,10],\"attributes\":[{\"key\":" \
	"\"route\",\"value\":{\"stringValue\":\"/a\"}}]}]}}]}]}]}"

/*
 * A histogram that came in over OTLP goes out as one, its point whole
 * (pushd crashed building it: the point's arrays were set before the
 * init that clears them).
 */
Test(otlp_push, a_histogram_goes_out_with_its_buckets)
{
	json_t		*reqs, *b, *m, *pt, *want;
	struct http_res	 hr;
	const char	*h[] = { "Content-Type: application/json", NULL };
	int		 one = 1;

	start("", NULL);
	cr_assert_eq(http_req(otlp_port, "POST", "/v1/metrics", OTLP_HIST,
	    strlen(OTLP_HIST), h, &hr), 0);
	cr_assert_eq(hr.status, 200, "%s", hr.body);
	cr_assert(harness_wait(synced, &one, 20000), "pushd: %s",
	    harness_slurp(harness_log(&run, "pushd")));
	reqs = requests();
	b = all_of(reqs, "/v1/metrics", "resourceMetrics");
	cr_assert_eq(json_array_size(b), 1, "%s", json_dumps(reqs, 0));
	m = json_array_get(json_object_get(json_array_get(json_object_get(
	    json_array_get(b, 0), "scopeMetrics"), 0), "metrics"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(m, "name")),
	    "gen_ai.client.operation.duration");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(m,
	    "histogram"), "aggregationTemporality")), 2);
	pt = json_array_get(json_object_get(json_object_get(m, "histogram"),
	    "dataPoints"), 0);
	cr_assert_not_null(pt, "%s", json_dumps(m, 0));
	cr_assert_str_eq(json_string_value(json_object_get(pt, "count")), "3");
	cr_assert(json_number_value(json_object_get(pt, "sum")) == 12.5);
	cr_assert(json_number_value(json_object_get(pt, "min")) == 1);
	cr_assert(json_number_value(json_object_get(pt, "max")) == 9);
	want = json_pack("{s:[sss],s:[ii]}", "bucketCounts", "1", "2", "0",
	    "explicitBounds", 5, 10);
	cr_assert(json_equal(json_object_get(pt, "bucketCounts"),
	    json_object_get(want, "bucketCounts")), "%s", json_dumps(pt, 0));
	cr_assert(json_equal(json_object_get(pt, "explicitBounds"),
	    json_object_get(want, "explicitBounds")), "%s", json_dumps(pt, 0));
	json_decref(want);
	cr_assert_str_eq(sattr(json_object_get(pt, "attributes"), "route"),
	    "/a");
	json_decref(b);
	json_decref(reqs);
}

/* Requests the collector answered status; with a span, how many. */
static int
answered(json_t *reqs, long status)
{
	json_t	*r;
	size_t	 i;
	int	 n = 0;

	json_array_foreach(reqs, i, r)
		n += json_integer_value(json_object_get(r, "status")) == status;
	return n;
}

Test(otlp_push, a_503_is_retried_and_the_row_delivered_once)
{
	char	 tid[64];
	json_t	*reqs, *a, *b;
	int	 one = 1, seen;

	start("503", NULL);
	post("/v1/traces", "{\"model\":\"m\"}", tid, sizeof(tid));
	cr_assert(harness_wait(synced, &one, 20000), "%s",
	    harness_slurp(outfile));
	reqs = requests();
	cr_assert_eq(json_array_size(reqs), 2, "%s", json_dumps(reqs, 0));
	cr_assert_eq(answered(reqs, 503), 1);
	cr_assert_not_null(find_span(reqs, tid, 200, NULL, &seen));
	cr_assert_eq(seen, 1, "delivered once");
	a = json_object_get(json_array_get(reqs, 0), "headers");
	b = json_object_get(json_array_get(reqs, 1), "headers");
	cr_assert_str_eq(json_string_value(json_object_get(a, "webhook-id")),
	    json_string_value(json_object_get(b, "webhook-id")),
	    "the same rows go again under the same batch id");
	cr_assert_eq(db_int(&run, "SELECT push_attempts FROM llm_traces"), 1);
	json_decref(reqs);
}

Test(otlp_push, a_400_is_bisected_and_only_the_bad_row_is_dead)
{
	char	 out[8192], ids[3][64];
	char	*argv[] = { (char *)harness_bin("octctl"), "-c", NULL, "push",
		    "--verbose", NULL };
	json_t	*reqs;
	int	 seen;

	start("bad", "push_interval_ms = 1h\npush_headers = x-key=t0ps3cret\n");
	post("/v1/traces", "{\"model\":\"good1\"}", ids[0], sizeof(ids[0]));
	post("/v1/traces", "{\"model\":\"bad\"}", ids[1], sizeof(ids[1]));
	post("/v1/traces", "{\"model\":\"good2\"}", ids[2], sizeof(ids[2]));
	argv[2] = run.conf;
	harness_run(argv, out, sizeof(out));
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "synced_at IS NOT NULL"), 2, "%s %s", out,
	    harness_slurp(harness_log(&run, "pushd")));
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "dead = 1 AND model = 'bad' AND last_push_error = 'HTTP 400: a span "
	    "has a bad model'"), 1, "the google.rpc.Status message: %s", out);
	cr_assert(strstr(out, "-> HTTP 400") && strstr(out, "t0ps3cret") ==
	    NULL, "octctl push --verbose shows no header value: %s", out);
	reqs = requests();
	cr_assert_geq(answered(reqs, 400), 2, "%s", json_dumps(reqs, 0));
	cr_assert_not_null(find_span(reqs, ids[0], 200, NULL, &seen));
	cr_assert_eq(seen, 1);
	cr_assert_not_null(find_span(reqs, ids[2], 200, NULL, &seen));
	cr_assert_eq(seen, 1);
	cr_assert_null(find_span(reqs, ids[1], 200, NULL, &seen));
	json_decref(reqs);
}

Test(otlp_push, a_partial_success_is_synced_and_shown)
{
	char		 err[512];
	long long	 at;
	int		 one = 1;

	start("partial", NULL);
	post("/v1/traces", "{\"model\":\"m\"}", NULL, 0);
	cr_assert(harness_wait(synced, &one, 20000), "%s",
	    harness_slurp(outfile));
	harness_push_state(&run, &at, err, sizeof(err));
	cr_assert(strstr(err, "partial_success: 1 rejected: one refused"),
	    "%s", err);
	cr_assert_eq(harness_count(harness_log(&run, "pushd"),
	    "partial_success: 1 rejected: one refused"), 1, "logged");
}

/* octd -t on a config with push_headers = value; its output in out. */
static int
check_headers(const char *value, char *out, size_t len)
{
	char	 conf[512];
	char	*argv[] = { (char *)harness_bin("octd"), "-t", "-c", NULL,
		    NULL };

	snprintf(conf, sizeof(conf), "push_format = otlp\npush_headers = %s\n",
	    value);
	harness_setup(&run, conf);
	argv[3] = run.conf;
	return harness_run(argv, out, len);
}

Test(otlp_push, a_bad_push_headers_is_a_config_error)
{
	char out[2048];

	cr_assert_eq(check_headers("x-team=t0ps3cret,bad name=x", out,
	    sizeof(out)), 1, "%s", out);
	cr_assert(harness_has_facts(out, run.conf, "push_headers", NULL) &&
	    strstr(out, "t0ps3cret") == NULL, "names file and key, never the "
	    "value: %s", out);
	harness_teardown(&run);
	cr_assert_eq(check_headers("webhook-id=t0ps3cret", out, sizeof(out)),
	    1, "%s", out);
	cr_assert(strstr(out, "oct sets itself") && strstr(out,
	    "t0ps3cret") == NULL, "%s", out);
	harness_teardown(&run);
	cr_assert_eq(check_headers("Authorization=Basic%20abc", out,
	    sizeof(out)), 0, "%s", out);
}

static int
b_has(void *arg)
{
	return file_int(arg, "SELECT count(*) FROM llm_traces") == 2 &&
	    db_int(&run, "SELECT count(*) FROM llm_traces WHERE synced_at IS "
	    "NOT NULL") == 2;
}

/*
 * oct A pushes with push_format = otlp into oct B's OTLP listener: B
 * stores each row once, the OTLP-ingested span with its own ids.
 */
Test(otlp_push, oct_to_oct_over_otlp_keeps_the_ids)
{
	char		 conf[512], addr[64], db[600], tid[64], hex[40], sql[300];
	struct http_res	 hr;
	const char	*h[] = { "Content-Type: application/json", NULL };
	int		 bport = harness_free_port();

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", bport);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	harness_setup(&runb, NULL);
	harness_start(&runb);
	otlp_port = harness_free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", otlp_port);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d\n"
	    "push_format = otlp\npush_interval_ms = 100\n", bport);
	harness_setup(&run, conf);
	harness_start(&run);
	post("/v1/traces", "{\"model\":\"gpt-4o\",\"operation\":\"chat\","
	    "\"prompt_tokens\":3}", tid, sizeof(tid));
	cr_assert_eq(http_req(otlp_port, "POST", "/v1/traces", OTLP_SPAN,
	    strlen(OTLP_SPAN), h, &hr), 0);
	cr_assert_eq(hr.status, 200, "%s", hr.body);
	snprintf(db, sizeof(db), "%s/data/oct.db", runb.dir);
	cr_assert(harness_wait(b_has, db, 20000), "B has %lld rows: %s",
	    file_int(db, "SELECT count(*) FROM llm_traces"),
	    harness_slurp(harness_log(&run, "pushd")));
	cr_assert_eq(file_int(db, "SELECT count(*) FROM llm_traces WHERE "
	    "json_extract(attributes, '$.otel.trace_id') = "
	    "'5b8efff798038103d269b633813fc60c' AND json_extract(attributes, "
	    "'$.otel.span_id') = 'eee19b7ec3c1b174' AND json_extract("
	    "attributes, '$.otel.parent_span_id') = 'eee19b7ec3c1b173' AND "
	    "json_extract(attributes, '$.resource.\"service.name\"') = "
	    "'shop' AND model = 'claude-x'"), 1);
	uuid_hex(tid, hex);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM llm_traces WHERE "
	    "json_extract(attributes, '$.otel.trace_id') = '%s' AND "
	    "model = 'gpt-4o' AND prompt_tokens = 3 AND operation = 'chat'",
	    hex);
	cr_assert_eq(file_int(db, sql), 1, "%s", sql);
}

/*
 * The collector unwell, under push_format = otlp: the promises of SPEC
 * section 6 (rows unsynced until a 2xx, one backoff per failed request,
 * the loop paused by it, never dead from an outage, the same rows again
 * under the same batch id, delivered once), with OTLP's retryable set.
 */

/* llm_traces rows of run in a push state (harness.h). */
#define ROWS(...)	harness_rows(&run, &(struct row_match){ __VA_ARGS__ })

/* Lines the collector has written: at least *arg. */
static int
lines_at_least(void *arg)
{
	char	*text = harness_slurp(outfile), *p;
	int	 n = 0;

	for (p = text; p != NULL && (p = strchr(p, '\n')) != NULL; p++)
		n++;
	free(text);
	return n >= *(int *)arg;
}

static const char *
header_of(json_t *reqs, size_t i, const char *name)
{
	return json_string_value(json_object_get(json_object_get(
	    json_array_get(reqs, i), "headers"), name));
}

static long long
at_of(json_t *reqs, size_t i)
{
	return json_integer_value(json_object_get(json_array_get(reqs, i),
	    "at"));
}

/* Each of the n trace_ids in ids went out in exactly one answered 200. */
static void
each_once(json_t *reqs, char ids[][64], int n)
{
	int i, seen;

	for (i = 0; i < n; i++) {
		cr_assert_not_null(find_span(reqs, ids[i], 200, NULL, &seen),
		    "%s never delivered: %s", ids[i], json_dumps(reqs, 0));
		cr_assert_eq(seen, 1, "%s delivered %d times", ids[i], seen);
	}
}

/* The 3 traces: charged one attempt, unsynced, due later, not dead. */
static int
charged_once(void *arg)
{
	return ROWS(.attempts = ROW_ATTEMPTS(1), .synced = ROW_NO,
	    .dead = ROW_NO, .scheduled = ROW_YES) == *(int *)arg;
}

Test(otlp_push, a_429_s_retry_after_pauses_the_loop_once_per_request)
{
	char	 ids[3][64];
	json_t	*reqs;
	size_t	 i;
	int	 three = 3, five = 5, retried = -1;

	start("429/2", NULL);
	post_many("/v1/traces", "[{\"model\":\"m\"},{\"model\":\"m\"},"
	    "{\"model\":\"m\"}]", ids, 3);
	post("/v1/errors", "{\"message\":\"boom\"}", NULL, 0);
	post("/v1/metrics", "{\"name\":\"g\",\"value\":1}", NULL, 0);
	/* between the 429 and the retry: the request's rows, and only they */
	cr_assert(harness_wait(charged_once, &three, 10000), "%s",
	    harness_slurp(harness_log(&run, "pushd")));
	cr_assert_eq(db_int(&run, "SELECT count(DISTINCT next_push_at) FROM "
	    "llm_traces"), 1, "one backoff drawn for the request");
	cr_assert_eq(db_int(&run, "SELECT (SELECT count(*) FROM error_events "
	    "WHERE push_attempts = 0 AND synced_at IS NULL) + (SELECT count(*) "
	    "FROM system_metrics WHERE push_attempts = 0 AND synced_at IS "
	    "NULL)"), 2, "the requests after it were not sent nor charged");
	cr_assert(harness_wait(synced, &five, 20000), "%s",
	    harness_slurp(outfile));
	reqs = requests();
	cr_assert_eq(json_array_size(reqs), 4, "the 429, then one request "
	    "per table: %s", json_dumps(reqs, 0));
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(reqs,
	    0), "status")), 429);
	for (i = 1; i < 4; i++) {
		cr_assert_geq(at_of(reqs, i) - at_of(reqs, 0), 2000, "request "
		    "%zu came %lld ms after the 429, not the 2 s of its "
		    "Retry-After", i, at_of(reqs, i) - at_of(reqs, 0));
		if (strcmp(json_string_value(json_object_get(json_array_get(
		    reqs, i), "path")), "/v1/traces") == 0)
			retried = (int)i;
	}
	cr_assert_geq(retried, 1, "%s", json_dumps(reqs, 0));
	cr_assert_str_eq(header_of(reqs, 0, "webhook-id"), header_of(reqs,
	    (size_t)retried, "webhook-id"), "the same rows, the same batch id");
	each_once(reqs, ids, 3);
	cr_assert_eq(ROWS(.attempts = ROW_ATTEMPTS(1), .dead = ROW_NO,
	    .error = "HTTP 429%"), 3);
	cr_assert_eq(harness_count(harness_log(&run, "pushd"),
	    "failed: HTTP 429"), 1, "one failure, one backoff");
	json_decref(reqs);
}

/* The 500 is the last collector error; the rows charged nothing. */
static int
paused_on_500(void *arg)
{
	long long	at;
	char		err[512];

	harness_push_state(&run, &at, err, sizeof(err));
	return strncmp(err, "HTTP 500", 8) == 0 && ROWS(.attempts =
	    ROW_ATTEMPTS(0), .synced = ROW_NO, .dead = ROW_NO,
	    .scheduled = ROW_NO) == *(int *)arg;
}

/*
 * OTLP/HTTP retries only 429, 502, 503 and 504 (SPEC section 6.1): a 500
 * is not the collector being unwell but a request it will not take as it
 * is. Like a 401, it pauses the loop at push_backoff_cap_ms and charges
 * no row; the rows are sent again after the pause, under the same batch
 * id, and never go dead for it.
 */
Test(otlp_push, a_500_pauses_at_the_cap_and_charges_nothing)
{
	char	 ids[2][64];
	json_t	*reqs;
	int	 two = 2;

	start("500", "push_interval_ms = 100\npush_backoff_cap_ms = 2000\n"
	    "push_max_attempts = 1\npush_give_up_after_ms = 0\n");
	post_many("/v1/traces", "[{\"model\":\"m\"},{\"model\":\"m\"}]", ids,
	    2);
	cr_assert(harness_wait(paused_on_500, &two, 10000), "%s",
	    harness_slurp(harness_log(&run, "pushd")));
	cr_assert(harness_wait(synced, &two, 20000), "%s",
	    harness_slurp(outfile));
	reqs = requests();
	cr_assert_eq(json_array_size(reqs), 2, "%s", json_dumps(reqs, 0));
	cr_assert_eq(answered(reqs, 500), 1);
	cr_assert_geq(at_of(reqs, 1) - at_of(reqs, 0), 2000, "sent again "
	    "after %lld ms, not at the cap", at_of(reqs, 1) - at_of(reqs, 0));
	cr_assert_str_eq(header_of(reqs, 0, "webhook-id"), header_of(reqs, 1,
	    "webhook-id"));
	each_once(reqs, ids, 2);
	cr_assert_eq(ROWS(.attempts = ROW_ATTEMPTS(0), .dead = ROW_NO,
	    .synced = ROW_YES), 2, "nothing charged, nothing dead");
	cr_assert_eq(harness_count(harness_log(&run, "pushd"),
	    "collector failed the request: HTTP 500; otlp says not to retry "
	    "it, so nothing is charged; pausing 2000 ms"), 1, "logged as what "
	    "it is, not as a configuration to check: %s",
	    harness_slurp(harness_log(&run, "pushd")));
	json_decref(reqs);
}

/* The first request's line has been written, and its rows charged. */
static int
gave_up_and_charged(void *arg)
{
	int one = 1;

	return lines_at_least(&one) && charged_once(arg);
}

/*
 * A collector that takes the request and never answers: pushd gives up
 * near push_timeout_ms, the rows stay unsynced and are charged, never
 * dead (push_max_attempts = 1, but they are young), and once the
 * collector answers they are delivered once, under the same batch id.
 */
Test(otlp_push, a_collector_that_never_answers_loses_and_kills_nothing)
{
	char		 ids[2][64];
	json_t		*reqs, *r;
	long long	 waited;
	size_t		 i;
	int		 two = 2;

	start("silent,silent", "push_interval_ms = 100\n"
	    "push_timeout_ms = 1500\npush_max_attempts = 1\n"
	    "push_give_up_after_ms = 1h\n");
	post_many("/v1/traces", "[{\"model\":\"m\"},{\"model\":\"m\"}]", ids,
	    2);
	cr_assert(harness_wait(gave_up_and_charged, &two, 15000), "%s",
	    harness_slurp(harness_log(&run, "pushd")));
	cr_assert(harness_wait(synced, &two, 20000), "%s",
	    harness_slurp(outfile));
	reqs = requests();
	cr_assert_eq(json_array_size(reqs), 3, "%s", json_dumps(reqs, 0));
	for (i = 0; i < 2; i++) {
		r = json_array_get(reqs, i);
		waited = json_integer_value(json_object_get(r, "gave_up_ms"));
		cr_assert_eq(json_integer_value(json_object_get(r, "status")),
		    0, "%s", json_dumps(r, 0));
		cr_assert(waited >= 1400 && waited <= 3500, "pushd gave up "
		    "after %lld ms (push_timeout_ms 1500)", waited);
		cr_assert_str_eq(header_of(reqs, i, "webhook-id"),
		    header_of(reqs, 2, "webhook-id"));
	}
	each_once(reqs, ids, 2);
	cr_assert_eq(ROWS(.attempts = ROW_ATTEMPTS(2), .dead = ROW_NO,
	    .synced = ROW_YES, .error = "%timed out after%"), 2, "%s",
	    harness_slurp(harness_log(&run, "pushd")));
	json_decref(reqs);
}

/*
 * An outage through OTLP's whole retryable set, on rows past
 * push_max_attempts but younger than push_give_up_after_ms: each answer
 * charges them, none makes them dead, and the 2xx after it takes them.
 */
Test(otlp_push, an_outage_never_makes_a_row_dead)
{
	char	 ids[1][64];
	json_t	*reqs;
	size_t	 i;
	int	 one = 1;

	start("502,503,504,429/0", "push_interval_ms = 100\n"
	    "push_max_attempts = 2\npush_give_up_after_ms = 1h\n");
	post("/v1/traces", "{\"model\":\"m\"}", ids[0], sizeof(ids[0]));
	cr_assert(harness_wait(synced, &one, 20000), "%s",
	    harness_slurp(outfile));
	reqs = requests();
	cr_assert_eq(json_array_size(reqs), 5, "%s", json_dumps(reqs, 0));
	for (i = 1; i < 5; i++)
		cr_assert_str_eq(header_of(reqs, 0, "webhook-id"),
		    header_of(reqs, i, "webhook-id"));
	each_once(reqs, ids, 1);
	cr_assert_eq(ROWS(.attempts = ROW_ATTEMPTS(4), .dead = ROW_NO,
	    .synced = ROW_YES), 1);
	json_decref(reqs);
}

/* oct_ingest_accepted_total{type="llm_trace"} of run r's /metrics. */
static long long
accepted_traces(struct octd_run *r)
{
	struct http_res	 hr;
	const char	*p;

	if (http_req(r->port, "GET", "/metrics", NULL, 0, NULL, &hr) != 0)
		return -1;
	p = strstr(hr.body, "oct_ingest_accepted_total{type=\"llm_trace\"} ");
	return p != NULL ? strtoll(strchr(p, ' ') + 1, NULL, 10) : -1;
}

static char	bdb[600];

/* A has pushed a few of its rows to B. */
static int
some_pushed(void *arg)
{
	(void)arg;
	return ROWS(.synced = ROW_YES) >= 1000;
}

/* B holds all 5,000 and A has marked them synced. */
static int
all_in_b(void *arg)
{
	(void)arg;
	return file_int(bdb, "SELECT count(*) FROM llm_traces") == 5000 &&
	    ROWS(.synced = ROW_YES) == 5000;
}

/* B holds rows that A has not marked synced. */
static int
b_ahead(void *arg)
{
	return file_int(bdb, "SELECT count(*) FROM llm_traces") >
	    *(long long *)arg;
}

/*
 * kill -9 of pushd (and of writerd, whose marks are then lost) while oct
 * A pushes 5,000 rows with push_format = otlp into oct B's OTLP ingest:
 * every row reaches B, B stores each once (a span's event_id is its trace
 * and span ids, the same on a resend), and A marks every row synced.
 * writerd is stopped first, so that B surely holds rows whose marks die
 * with it: they go again, and B must drop the repeats.
 */
Test(otlp_push, kill9_of_pushd_mid_push_delivers_every_row_once)
{
	char		 conf[512], addr[64], body[64 * 60];
	struct http_res	 r;
	long long	 at_kill, ahead, got;
	pid_t		 writerd;
	int		 i, j, bport = harness_free_port();

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", bport);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	harness_setup(&runb, NULL);
	harness_start(&runb);
	snprintf(bdb, sizeof(bdb), "%s/data/oct.db", runb.dir);
	setenv("OCT_OTLP_LISTEN", "", 1);
	harness_setup(&run, "push_batch_size = 100\n");
	harness_start(&run);
	for (i = 0; i < 100; i++) {
		strcpy(body, "[");
		for (j = 0; j < 50; j++)
			strcat(body, j ? ",{\"model\":\"m\"}" : "{\"model\":\"m\"}");
		strcat(body, "]");
		http_post(run.port, "/v1/traces?wait=commit", body, &r);
		cr_assert_eq(r.status, 200);
	}
	snprintf(conf, sizeof(conf), "push_batch_size = 100\n"
	    "push_url = http://127.0.0.1:%d\npush_format = otlp\n"
	    "push_interval_ms = 50\n", bport);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(some_pushed, NULL, 30000), "%s",
	    harness_slurp(harness_log(&run, "pushd")));
	/* writerd stopped: B stores what A cannot mark; then both die */
	writerd = harness_worker(&run, "writerd");
	cr_assert_eq(kill(writerd, SIGSTOP), 0);
	at_kill = ROWS(.synced = ROW_YES);
	cr_assert(harness_wait(b_ahead, &at_kill, 20000), "B %lld, A synced "
	    "%lld", file_int(bdb, "SELECT count(*) FROM llm_traces"), at_kill);
	cr_assert_eq(kill(harness_worker(&run, "pushd"), SIGKILL), 0);
	cr_assert_eq(kill(writerd, SIGKILL), 0);
	ahead = file_int(bdb, "SELECT count(*) FROM llm_traces") - at_kill;
	cr_assert(harness_wait(all_in_b, NULL, 60000), "B %lld, A synced %lld",
	    file_int(bdb, "SELECT count(*) FROM llm_traces"),
	    ROWS(.synced = ROW_YES));
	got = accepted_traces(&runb);
	fprintf(stderr, "otlp kill -9: %lld of 5000 synced at the kill, B %lld "
	    "ahead; B took %lld spans, stored 5000 (%lld repeats dropped)\n",
	    at_kill, ahead, got, got - 5000);
	cr_assert_eq(file_int(bdb, "SELECT count(DISTINCT event_id) FROM "
	    "llm_traces"), 5000);
	cr_assert_geq(got - 5000, ahead, "the rows B held unmarked in A went "
	    "again: %lld repeats, %lld ahead", got - 5000, ahead);
	cr_assert_eq(ROWS(.dead = ROW_YES), 0);
}
