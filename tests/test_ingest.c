/*
 * test_ingest.c: the ingest path end to end: octd started for real on a
 * temp dir, events posted over HTTP with libcurl, rows read back from
 * oct.db, workers stopped and killed in the middle.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>

#include "harness.h"

#define logpath_of(name)	harness_log(&run, name)
#define worker(name)	harness_worker(&run, name)

static struct octd_run run;
static char mounted[300];

static long	metric(const char *);	/* a test's tmpfs, detached at teardown */

static void
setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	if (mounted[0] != '\0')
		umount2(mounted, MNT_DETACH);
	mounted[0] = '\0';
	harness_teardown(&run);
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 90);

static void
start(const char *extra)
{
	harness_setup(&run, extra);
	harness_start(&run);
}

static void
expect(struct http_res *r, long status, const char *body)
{
	cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status,
	    status, r->body);
	if (body != NULL)
		cr_assert_str_eq(r->body, body);
}

/* The first trace id of a 202/200 answer. */
static void
first_id(struct http_res *r, char *out, size_t len)
{
	json_t *o = json_loads(r->body, 0, NULL);

	cr_assert_not_null(o, "not JSON: %s", r->body);
	snprintf(out, len, "%s", json_string_value(json_array_get(
	    json_object_get(o, "trace_ids"), 0)));
	json_decref(o);
}

Test(ingest, the_readme_curl_lands_in_sqlite_within_600_ms)
{
	struct http_res	r;
	char		id[64];

	start(NULL);
	cr_assert_eq(http_post(run.port, "/v1/traces", "{\"model\":\"gpt-4o\","
	    "\"input\":\"hi\",\"output\":\"hello\"}", &r), 0);
	expect(&r, 202, NULL);
	cr_assert(strstr(r.body, "{\"accepted\":1,\"trace_ids\":[\""), "%s",
	    r.body);
	first_id(&r, id, sizeof(id));
	cr_assert(harness_db_wait(&run, 600, 1, "llm_traces", "trace_id", id,
	    "model", "gpt-4o", "input", "hi", "output", "hello", "synced_at",
	    NULL, "truncated", "0", NULL), "row not visible within 600 ms");
}

Test(ingest, wait_commit_answers_200_once_the_row_is_there)
{
	struct http_res	r;
	char		id[64];
	int		i;

	start("batch_ms = 5s\n");
	for (i = 0; i < 3; i++) {
		cr_assert_eq(http_post(run.port, "/v1/errors?wait=commit",
		    "{\"message\":\"boom\",\"level\":\"fatal\"}", &r), 0);
		expect(&r, 200, NULL);
		first_id(&r, id, sizeof(id));
		cr_assert_eq(harness_db_count(&run, "error_events", "trace_id",
		    id, "level", "fatal", NULL), 1, "in SQLite at the answer");
	}
}

Test(ingest, every_kind_and_alias_is_stored)
{
	struct http_res r;

	start(NULL);
	cr_assert_eq(http_post(run.port, "/v1/traces?wait=commit",
	    "{\"gen_ai.request.model\":\"claude\",\"gen_ai.system\":\"anthropic\","
	    "\"gen_ai.operation.name\":\"chat\",\"gen_ai.usage.input_tokens\":3,"
	    "\"gen_ai.usage.output_tokens\":4,\"latency_ms\":12.5,"
	    "\"cost_usd\":0.25,\"started_at\":\"2026-11-22T10:00:00Z\","
	    "\"session_id\":\"s\",\"user_id\":\"u\",\"team\":\"red\","
	    "\"input\":[{\"role\":\"user\"}]}", &r), 0);
	expect(&r, 200, NULL);
	cr_assert_eq(harness_db_count(&run, "llm_traces", "model", "claude",
	    "provider", "anthropic", "operation", "chat", "prompt_tokens", "3",
	    "completion_tokens", "4", "latency_ms", "12.5", "cost_usd", "0.25",
	    "started_at", "1795341600000", "session_id", "s", "user_id", "u",
	    "status", "ok", "attributes", "{\"team\":\"red\"}", "input",
	    "[{\"role\":\"user\"}]", "received_at >", "1700000000000", NULL),
	    1);
	cr_assert_eq(http_post(run.port, "/v1/metrics?wait=commit",
	    "{\"name\":\"tokens\",\"value\":7,\"unit\":\"1\",\"kind\":\"counter\","
	    "\"labels\":{\"model\":\"m\"},\"ts\":1700000000000}", &r), 0);
	expect(&r, 200, NULL);
	cr_assert_eq(harness_db_count(&run, "system_metrics", "name", "tokens",
	    "value", "7", "kind", "counter", "labels", "{\"model\":\"m\"}",
	    "ts", "1700000000000", NULL), 1);
}

Test(ingest, text_is_cut_on_a_utf8_boundary)
{
	struct http_res r;

	start("max_text_bytes = 9\n");
	cr_assert_eq(http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"m\",\"input\":\"ééééééé\",\"output\":\"ok\"}", &r), 0);
	expect(&r, 200, NULL);
	/* text equal to "éééé" is its 8 bytes: cut before the 9th */
	cr_assert_eq(harness_db_count(&run, "llm_traces", "input", "éééé",
	    "output", "ok", "truncated", "1", NULL), 1);
}

Test(ingest, errors_have_precise_statuses_and_reasons)
{
	static const char *const origin[] = { "Origin: http://evil.example",
		NULL };
	static const char *const host[] = { "Host: rebind.example.com:7411",
		NULL };
	static const char *const text[] = { "Content-Type: text/plain", NULL };
	static const char *const charset[] = {
		"Content-Type: application/json; charset=utf-8", NULL };
	static const char *const te_cl[] = { "Transfer-Encoding: chunked",
		"Content-Length: 16", NULL };
	struct http_res	 r;
	char		*deep;
	int		 i;

	start(NULL);
	http_post(run.port, "/v1/nothing", "{}", &r);
	expect(&r, 404, "{\"error\":\"not found\"}\n");
	http_req(run.port, "GET", "/v1/traces", NULL, 0, NULL, &r);
	expect(&r, 405, "{\"error\":\"method not allowed\"}\n");
	cr_assert(strstr(r.headers, "Allow: POST"), "%s", r.headers);
	http_req(run.port, "POST", "/v1/traces", "{\"model\":\"m\"}", 13, origin,
	    &r);
	expect(&r, 403, "{\"error\":\"requests from browsers (Origin) are "
	    "refused\"}\n");
	http_req(run.port, "POST", "/v1/traces", "{\"model\":\"m\"}", 13, host,
	    &r);
	expect(&r, 403, "{\"error\":\"Host is not this agent\"}\n");
	http_req(run.port, "POST", "/v1/traces", "{\"model\":\"m\"}", 13, text,
	    &r);
	expect(&r, 415, "{\"error\":\"Content-Type must be application/json\"}\n");
	http_req(run.port, "POST", "/v1/traces", "{\"model\":\"m\"}", 13,
	    charset, &r);
	expect(&r, 202, NULL);
	http_post(run.port, "/v1/traces", "{\"model\":", &r);
	expect(&r, 400, NULL);
	cr_assert(strstr(r.body, "{\"error\":\"malformed JSON: "), "%s", r.body);
	http_post(run.port, "/v1/traces", "{\"model\":\"\xff\xfe\"}", &r);
	expect(&r, 400, "{\"error\":\"invalid UTF-8\"}\n");
	http_post(run.port, "/v1/traces", "[]", &r);
	expect(&r, 400, "{\"error\":\"empty array\"}\n");
	http_post(run.port, "/v1/traces", "\"just a string\"", &r);
	expect(&r, 400, "{\"error\":\"body must be an object or an array of "
	    "objects\"}\n");
	http_post(run.port, "/v1/traces", "[{\"model\":\"a\"},{\"model\":1}]", &r);
	expect(&r, 400, "{\"error\":\"model must be a string\",\"index\":1,"
	    "\"field\":\"model\"}\n");
	http_post(run.port, "/v1/errors", "{\"message\":\"m\",\"level\":\"x\"}",
	    &r);
	expect(&r, 400, "{\"error\":\"level must be one of debug, info, "
	    "warning, error, fatal\","
	    "\"field\":\"level\"}\n");
	http_req(run.port, "POST", "/v1/traces", "{\"model\":\"m\"}", 13, te_cl,
	    &r);
	cr_assert(r.status == 400, "TE + CL: %ld", r.status);
	/* 64 levels are fine, 65 are not (the top-level object is level 1). */
	deep = calloc(1, 400);
	strcpy(deep, "{\"model\":\"m\",\"a\":");
	for (i = 0; i < 62; i++)
		strcat(deep, "[");
	strcat(deep, "1");
	for (i = 0; i < 62; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	http_post(run.port, "/v1/traces", deep, &r);
	expect(&r, 202, NULL);
	deep[17] = '\0';
	for (i = 0; i < 64; i++)
		strcat(deep, "[");
	strcat(deep, "1");
	for (i = 0; i < 64; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	http_post(run.port, "/v1/traces", deep, &r);
	expect(&r, 400, "{\"error\":\"nesting deeper than 64 levels\"}\n");
	free(deep);
	cr_assert(harness_db_wait(&run, 2000, 2, "llm_traces", NULL),
	    "only the two good requests were stored");
}

/*
 * SPEC: arrays of up to 1000, all or nothing, and at most queue_capacity
 * (512 by default) in flight: a 1000-event array needs a larger queue.
 */
Test(ingest, arrays_over_1000_get_413)
{
	struct http_res	 r;
	char		*body = malloc(1001 * 16 + 4);
	int		 i;

	start("queue_capacity = 1000\n");
	strcpy(body, "[");
	for (i = 0; i < 1001; i++)
		strcat(body, i ? ",{\"model\":\"m\"}" : "{\"model\":\"m\"}");
	strcat(body, "]");
	http_post(run.port, "/v1/traces", body, &r);
	expect(&r, 413, "{\"error\":\"more than 1000 events in one request\"}\n");
	body[strlen(body) - 15] = ']';
	body[strlen(body) - 14] = '\0';
	http_post(run.port, "/v1/traces?wait=commit", body, &r);
	expect(&r, 200, NULL);
	cr_assert(strstr(r.body, "{\"accepted\":1000,"), "%.40s", r.body);
	cr_assert_eq(harness_db_distinct(&run, "llm_traces", "trace_id", NULL),
	    1000);
	free(body);
}

Test(ingest, a_2_mib_body_gets_a_real_413)
{
	struct http_res	 r;
	size_t		 len = 2 * 1024 * 1024;
	char		*body = malloc(len + 1);

	start(NULL);
	memset(body, ' ', len);
	memcpy(body, "{\"model\":\"m\",\"input\":\"", 22);
	memset(body + 22, 'x', len - 24);
	memcpy(body + len - 2, "\"}", 2);
	cr_assert_eq(http_req(run.port, "POST", "/v1/traces", body, len, NULL,
	    &r), 0, "the client gets an answer, not a reset");
	expect(&r, 413, "{\"error\":\"body larger than max_body_bytes "
	    "(1048576 bytes)\"}\n");
	cr_assert(strstr(r.headers, "Content-Type: application/json"), "%s",
	    r.headers);
	cr_assert_eq(metric("oct_ingest_rejected_total{reason=\"too_large\"} "),
	    1, "counted");
	free(body);
	http_post(run.port, "/v1/traces?wait=commit", "{\"model\":\"m\"}", &r);
	expect(&r, 200, NULL);
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 1);
}

Test(ingest, auth_token_guards_everything_but_healthz)
{
	static const char *const good[] = { "Authorization: Bearer s3cret", NULL };
	static const char *const bad[] = { "Authorization: Bearer s3creT", NULL };
	struct http_res r;

	start("auth_token = s3cret\n");
	http_post(run.port, "/v1/traces", "{\"model\":\"m\"}", &r);
	expect(&r, 401, "{\"error\":\"unauthorized\"}\n");
	http_req(run.port, "POST", "/v1/traces", "{\"model\":\"m\"}", 13, bad, &r);
	expect(&r, 401, "{\"error\":\"unauthorized\"}\n");
	http_req(run.port, "GET", "/metrics", NULL, 0, NULL, &r);
	expect(&r, 401, NULL);
	http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &r);
	expect(&r, 200, "{\"status\":\"ok\"}\n");
	http_req(run.port, "POST", "/v1/traces", "{\"model\":\"m\"}", 13, good,
	    &r);
	expect(&r, 202, NULL);
}

Test(ingest, trace_ids_are_unique_uuid_v4)
{
	struct http_res	 r;
	json_t		*o, *ids;
	char		 body[64 * 20];
	size_t		 i;

	start(NULL);
	strcpy(body, "[");
	for (i = 0; i < 50; i++)
		strcat(body, i ? ",{\"model\":\"m\"}" : "{\"model\":\"m\"}");
	strcat(body, "]");
	http_post(run.port, "/v1/traces?wait=commit", body, &r);
	expect(&r, 200, NULL);
	o = json_loads(r.body, 0, NULL);
	ids = json_object_get(o, "trace_ids");
	cr_assert_eq(json_array_size(ids), 50);
	for (i = 0; i < 50; i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		cr_assert_eq(strlen(id), 36);
		cr_assert_eq(id[14], '4');
		cr_assert(strchr("89ab", id[19]));
	}
	json_decref(o);
	cr_assert_eq(harness_db_distinct(&run, "llm_traces", "trace_id", NULL),
	    50);
	/* A 50-event burst is one transaction. */
	cr_assert_eq(harness_db_commits(&run), 1);
}

Test(ingest, a_single_event_commits_after_batch_ms)
{
	struct http_res r;

	start("batch_ms = 300ms\n");
	http_post(run.port, "/v1/traces", "{\"model\":\"m\"}", &r);
	expect(&r, 202, NULL);
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 0,
	    "not before batch_ms");
	cr_assert(harness_db_wait(&run, 600, 1, "llm_traces", NULL));
	cr_assert_eq(harness_db_commits(&run), 1);
}

Test(ingest, a_repeated_event_id_is_stored_once)
{
	struct http_res r;
	char a[64], b[64];

	start(NULL);
	http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"first\",\"event_id\":\"req-1\"}", &r);
	expect(&r, 200, NULL);
	first_id(&r, a, sizeof(a));
	http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"again\",\"event_id\":\"req-1\"}", &r);
	expect(&r, 200, NULL);
	first_id(&r, b, sizeof(b));
	cr_assert_str_eq(a, b, "the trace_id of the stored event");
	http_post(run.port, "/v1/errors?wait=commit",
	    "{\"message\":\"m\",\"event_id\":\"req-1\"}", &r);
	expect(&r, 200, NULL);
	cr_assert_eq(harness_db_count(&run, "llm_traces", "event_id", "req-1",
	    "model", "first", NULL), 1);
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 1);
	cr_assert_eq(harness_db_count(&run, "error_events", NULL), 1);
}

/* "oct_ingest_dropped_total N" from /metrics. */
static long
metric(const char *line)
{
	struct http_res	 r;
	char		*p, want[200];

	http_req(run.port, "GET", "/metrics", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	snprintf(want, sizeof(want), "\n%s", line);
	p = strstr(r.body, want);
	cr_assert_not_null(p, "no %s in %s", line, r.body);
	return atol(p + strlen(want));
}

Test(ingest, a_full_queue_answers_503_and_counts_drops)
{
	struct http_res	r;
	pid_t		writerd;
	int		i, accepted = 0, refused = 0;

	start(NULL);
	writerd = worker("writerd");
	cr_assert_eq(kill(writerd, SIGSTOP), 0);
	for (i = 0; i < 520; i++) {
		http_post(run.port, "/v1/metrics", "{\"name\":\"n\",\"value\":1}",
		    &r);
		if (r.status == 202)
			accepted++;
		else {
			expect(&r, 503, "{\"error\":\"queue full\"}\n");
			cr_assert(strstr(r.headers, "Retry-After: "));
			refused++;
		}
	}
	cr_assert_eq(accepted, 512);
	cr_assert_eq(refused, 8);
	cr_assert_eq(metric("oct_ingest_dropped_total "), 8);
	cr_assert_eq(metric("oct_queue_depth "), 512);
	http_post(run.port, "/v1/metrics", "[{\"name\":\"n\",\"value\":1}]", &r);
	expect(&r, 503, NULL);
	cr_assert_eq(metric("oct_ingest_dropped_total "), 9);
	cr_assert_eq(kill(writerd, SIGCONT), 0);
	cr_assert(harness_db_wait(&run, 5000, 512, "system_metrics", NULL));
	cr_assert_eq(metric("oct_queue_depth "), 0);
	cr_assert_eq(metric("oct_ingest_accepted_total{type=\"system_metric\"} "),
	    512);
}

/*
 * Post count arrays of per events each; collect the trace ids answered.
 * With retry, a 503 is sent again once the queue has room, as a client
 * honouring Retry-After would.
 */
struct poster {
	int		 port, count, per;
	int		 ok, refused, failed;
	json_t		*ids;
	int		 retry;
};

static long metric(const char *);

static int
queue_has_room(void *arg)
{
	struct poster *p = arg;

	return metric("oct_queue_depth ") <= 512 - p->per;
}

static void *
post_loop(void *arg)
{
	struct poster	*p = arg;
	struct http_res	 r;
	char		*body = malloc((size_t)p->per * 40 + 4);
	json_t		*o;
	size_t		 j;
	int		 i;

	strcpy(body, "[");
	for (i = 0; i < p->per; i++)
		strcat(body, i ? ",{\"model\":\"burst\"}" : "{\"model\":\"burst\"}");
	strcat(body, "]");
	for (i = 0; i < p->count; i++) {
		if (http_post(p->port, "/v1/traces", body, &r) == -1) {
			p->failed++;
			continue;
		}
		if (r.status == 503) {
			p->refused++;
			if (p->retry) {
				cr_assert(harness_wait(queue_has_room, p, 10000));
				i--;
			}
			continue;
		}
		if (r.status != 202 || (o = json_loads(r.body, 0, NULL)) == NULL) {
			p->failed++;
			continue;
		}
		for (j = 0; j < json_array_size(json_object_get(o, "trace_ids"));
		    j++)
			json_array_append(p->ids, json_array_get(
			    json_object_get(o, "trace_ids"), j));
		json_decref(o);
		p->ok++;
	}
	free(body);
	return NULL;
}

/* Every id answered is stored exactly once, and nothing else is. */
static void
assert_all_stored_once(json_t *ids)
{
	const char	*id;
	size_t		 i, n = json_array_size(ids);
	long long	 at30;

	if (!harness_db_wait(&run, 30000, (long long)n, "llm_traces", NULL)) {
		/* late, or lost? say which */
		at30 = harness_db_count(&run, "llm_traces", NULL);
		harness_db_wait(&run, 20000, (long long)n, "llm_traces", NULL);
		cr_assert_fail("answered %zu: %lld rows after 30 s, %lld after "
		    "50 s", n, at30, harness_db_count(&run, "llm_traces", NULL));
	}
	cr_assert_eq(harness_db_distinct(&run, "llm_traces", "trace_id", NULL),
	    (long long)n, "no duplicates");
	for (i = 0; i < n; i += 97) {
		id = json_string_value(json_array_get(ids, i));
		cr_assert_eq(harness_db_count(&run, "llm_traces", "trace_id", id,
		    NULL), 1, "trace_id %s", id);
	}
}

Test(ingest, a_burst_of_10000_events_loses_nothing)
{
	struct poster p = { 0, 200, 50, 0, 0, 0, NULL, 1 };

	start(NULL);
	p.port = run.port;
	p.ids = json_array();
	post_loop(&p);
	cr_assert_eq(p.failed, 0);
	cr_assert_eq(p.ok, 200);
	cr_assert_eq(json_array_size(p.ids), 10000);
	assert_all_stored_once(p.ids);
	json_decref(p.ids);
}

static int
has_rows(void *arg)
{
	(void)arg;
	return harness_db_count(&run, "llm_traces", NULL) > 500;
}

Test(ingest, kill9_writerd_during_a_burst_loses_and_duplicates_nothing)
{
	struct poster	p = { 0, 600, 10, 0, 0, 0, NULL, 0 };
	pthread_t	t;
	pid_t		writerd;

	start(NULL);
	p.port = run.port;
	p.ids = json_array();
	writerd = worker("writerd");
	cr_assert_eq(pthread_create(&t, NULL, post_loop, &p), 0);
	cr_assert(harness_wait(has_rows, NULL, 20000));
	cr_assert_eq(kill(writerd, SIGKILL), 0);
	pthread_join(t, NULL);
	cr_assert_eq(p.failed, 0);
	cr_assert_neq(worker("writerd"), writerd, "a new writerd");
	assert_all_stored_once(p.ids);
	json_decref(p.ids);
}

static int
serves(void *arg)
{
	struct http_res r;

	(void)arg;
	return http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"after\"}", &r) == 0 && r.status == 200;
}

Test(ingest, kill9_ingestd_keeps_what_it_answered)
{
	struct poster	p = { 0, 300, 10, 0, 0, 0, NULL, 0 };
	pid_t		ingestd;

	start(NULL);
	p.port = run.port;
	p.ids = json_array();
	post_loop(&p);
	ingestd = worker("ingestd");
	cr_assert_eq(kill(ingestd, SIGKILL), 0);
	assert_all_stored_once(p.ids);
	cr_assert(harness_wait(serves, NULL, 5000), "a new ingestd serves");
	json_decref(p.ids);
}

/*
 * The same, made certain: writerd is stopped while ingestd answers 400
 * events (all in writerd's socket) and dies; woken, writerd reads them in
 * chunks, commits the first and acknowledges it to the dead peer. That
 * write fails (EPIPE), and the rest of what ingestd wrote must still be
 * read and stored, not dropped with the channel.
 */
Test(ingest, a_dead_ingestd_channel_is_read_to_the_end)
{
	struct poster	p = { 0, 40, 10, 0, 0, 0, NULL, 0 };
	pid_t		writerd, ingestd;

	start(NULL);
	p.port = run.port;
	p.ids = json_array();
	writerd = worker("writerd");
	ingestd = worker("ingestd");
	cr_assert(writerd > 0 && ingestd > 0);
	cr_assert_eq(kill(writerd, SIGSTOP), 0);
	post_loop(&p);
	cr_assert_eq(p.ok, 40, "every request answered 202 (%d refused, %d "
	    "failed)", p.refused, p.failed);
	cr_assert_eq(kill(ingestd, SIGKILL), 0);
	cr_assert_eq(kill(writerd, SIGCONT), 0);
	assert_all_stored_once(p.ids);
	cr_assert_eq(worker("writerd"), writerd, "the same writerd did it");
	json_decref(p.ids);
}

/* Fill the file system of dir, with file path, but for about keep bytes. */
static void
fill(const char *dir, const char *path, long long keep)
{
	static char	zeros[65536];
	struct statvfs	vfs;
	long long	left;
	ssize_t		n;
	int		fd;

	cr_assert_eq(statvfs(dir, &vfs), 0);
	left = (long long)vfs.f_bavail * (long long)vfs.f_frsize - keep;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd != -1);
	while (left > 0 && (n = write(fd, zeros, left < (long long)sizeof(zeros) ?
	    (size_t)left : sizeof(zeros))) > 0)
		left -= n;
	close(fd);
}

static int
commit_failed(void *arg)
{
	(void)arg;
	return harness_count(logpath_of("writerd"), "database or disk is full")
	    > 0;
}

/*
 * A full disk: commits fail and writerd keeps the events, retrying; once
 * there is room again, every event answered 202 is stored, once. (As root:
 * data_dir is a 4 MB tmpfs, filled but for 40 KB.)
 */
Test(ingest, a_full_disk_loses_nothing_once_there_is_room_again)
{
	char		 data[300], filler[320], body[1200];
	struct http_res	 r;
	json_t		*ids = json_array(), *o;
	int		 i;

	if (geteuid() != 0)
		cr_skip_test("mounting a small tmpfs needs root");
	harness_setup(&run, NULL);
	snprintf(data, sizeof(data), "%s/data", run.dir);
	cr_assert_eq(mkdir(data, 0700), 0);
	cr_assert_eq(mount("tmpfs", data, "tmpfs", 0, "size=4m,mode=0700"), 0,
	    "mount: %s", strerror(errno));
	snprintf(mounted, sizeof(mounted), "%s", data);
	harness_start(&run);
	snprintf(filler, sizeof(filler), "%s/filler", data);
	fill(data, filler, 40 * 1024);
	snprintf(body, sizeof(body), "{\"model\":\"full\",\"input\":\"%01000d\"}",
	    0);
	for (i = 0; i < 100; i++) {
		http_post(run.port, "/v1/traces", body, &r);
		cr_assert_eq(r.status, 202, "%s", r.body);
		o = json_loads(r.body, 0, NULL);
		json_array_extend(ids, json_object_get(o, "trace_ids"));
		json_decref(o);
	}
	cr_assert(harness_wait(commit_failed, NULL, 10000),
	    "writerd logs the failed commit");
	cr_assert_lt(harness_db_count(&run, "llm_traces", NULL), 100);
	cr_assert_eq(unlink(filler), 0);
	assert_all_stored_once(ids);
	json_decref(ids);
}

Test(ingest, storage_full_answers_503_and_deletes_nothing_unsynced)
{
	struct http_res	 r;
	char		*body = malloc(70000);
	int		 i, stored = 0, full = 0;

	start("max_db_bytes = 1m\n");
	snprintf(body, 70000, "{\"model\":\"big\",\"input\":\"");
	memset(body + strlen(body), 'x', 60000);
	strcpy(body + 24 + 60000, "\"}");
	/*
	 * 60 KB events: the 1 MiB cap (live pages plus the WAL, which holds a
	 * second copy until the next checkpoint) is reached after a handful.
	 */
	for (i = 0; i < 100 && !full; i++) {
		http_post(run.port, "/v1/traces?wait=commit", body, &r);
		if (r.status == 200)
			stored++;
		else {
			expect(&r, 503, "{\"error\":\"storage full\"}\n");
			cr_assert(strstr(r.headers, "Retry-After: "));
			full = 1;
		}
	}
	cr_assert(full, "storage never became full");
	cr_assert_geq(stored, 5, "only %d stored", stored);
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), stored,
	    "unsynced rows are never deleted, refused ones never stored");
	cr_assert_eq(metric("oct_ingest_dropped_total "), 1);
	free(body);
}

/* Each of the six sampled metrics has a row. */
static int
host_metrics_in(void *arg)
{
	static const char *const names[] = { "host.cpu.utilization",
	    "host.memory.used_bytes", "host.load.1m", "host.disk.free_bytes",
	    "oct.queue.depth", "oct.dropped.total" };
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (harness_db_count(&run, "system_metrics", "name", names[i],
		    NULL) < 1)
			return 0;
	return 1;
}

Test(ingest, host_metrics_are_sampled)
{
	harness_setup(&run, NULL);
	harness_write_conf(&run, "metrics_interval_ms = 200ms\n");
	{
		/* harness_write_conf wrote metrics_interval_ms = 0 first. */
		char	*text = harness_slurp(run.conf), *p;
		FILE	*f;

		p = strstr(text, "metrics_interval_ms = 0\n");
		cr_assert_not_null(p);
		memmove(p, p + 24, strlen(p + 24) + 1);
		f = fopen(run.conf, "w");
		fputs(text, f);
		fclose(f);
		free(text);
	}
	harness_start(&run);
	cr_assert(harness_wait(host_metrics_in, NULL, 5000));
	cr_assert_gt(harness_db_count(&run, "system_metrics", "name",
	    "host.disk.free_bytes", "value >", "0", "unit", "bytes", NULL), 0);
}

Test(ingest, healthz_and_metrics)
{
	struct http_res r;

	start(NULL);
	http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &r);
	expect(&r, 200, "{\"status\":\"ok\"}\n");
	http_post(run.port, "/v1/traces?wait=commit", "{\"model\":\"m\"}", &r);
	cr_assert_eq(metric("oct_ingest_accepted_total{type=\"llm_trace\"} "), 1);
	cr_assert_eq(metric("oct_rows_pending{table=\"llm_traces\"} "), 1);
	cr_assert_eq(metric("oct_push_sent_total "), 0);
	cr_assert_eq(metric("oct_worker_restarts_total{worker=\"writerd\"} "), 0);
	http_post(run.port, "/nope", "{}", &r);
	cr_assert_eq(metric("oct_ingest_rejected_total{reason=\"not_found\"} "),
	    1);
}

Test(ingest, a_thousand_idle_connections_do_not_block_a_client)
{
	struct sockaddr_in	sin;
	struct rlimit		rl;
	struct http_res		r;
	int			fds[1000], i;

	start(NULL);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)run.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 1000; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert(fds[i] != -1, "socket %d: %s", i, strerror(errno));
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sin,
		    sizeof(sin)), 0, "connect %d: %s", i, strerror(errno));
		if (i % 2)
			(void)!write(fds[i], "POST /v1/traces HTTP/1.1\r\n", 26);
	}
	cr_assert_eq(http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"m\"}", &r), 0);
	expect(&r, 200, NULL);
	for (i = 0; i < 1000; i++)
		close(fds[i]);
}

/*
 * A client that trickles its headers is cut off at the request deadline
 * (shortened here through OCT_TEST_CONN_DEADLINE_MS), however steadily it
 * sends, and a good client is served meanwhile.
 */
Test(ingest, a_slow_client_cannot_hold_a_connection)
{
	struct sockaddr_in	sin;
	struct http_res		r;
	struct pollfd		pfd;
	struct timespec		t0, t1;
	int			fd, rounds, closed = 0;
	long			ms;
	char			c;

	setenv("OCT_TEST_CONN_DEADLINE_MS", "1000", 1);
	start(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)run.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(write(fd, "POST /v1/traces HTTP/1.1\r\n", 26), 26);
	http_post(run.port, "/v1/traces?wait=commit", "{\"model\":\"m\"}", &r);
	expect(&r, 200, NULL);
	/* One header byte every 100 ms: each resets evhttp's own timeout. */
	for (rounds = 0; rounds < 50 && !closed; rounds++) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == 1)
			closed = read(fd, &c, 1) <= 0;
		else if (write(fd, "x", 1) != 1)
			closed = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert(closed, "the slow connection is still open after 5 s");
	cr_assert_geq(ms, 1000, "cut at the deadline, not before (%ld ms)", ms);
	close(fd);
}

static int
octd_gone(void *arg)
{
	return harness_reaped(arg);
}

/* Found in review: the stop cancelled writerd's restart, so ingestd could
 * not drain and the events it had answered 202 were lost. */
Test(ingest, stop_right_after_writerd_died_keeps_every_answered_event)
{
	struct http_res r;

	start("batch_ms = 5s\n");
	http_post(run.port, "/v1/traces", "[{\"model\":\"a\"},{\"model\":\"b\"}]",
	    &r);
	expect(&r, 202, NULL);
	cr_assert_eq(kill(worker("writerd"), SIGKILL), 0);
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(octd_gone, &run, 15000));
	cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0);
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 2);
}

static int
ingestd_serving_again(void *arg)
{
	struct http_res r;

	(void)arg;
	return http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &r) == 0 &&
	    r.status == 200 && harness_count(logpath_of("octd"),
	    "stopped for reload") == 2;
}

/* Found in review: two reloads in a row stopped writerd while ingestd was
 * still draining, and ingestd never got the new writerd's channel. */
Test(ingest, two_reloads_in_a_row_do_not_strand_ingestd)
{
	struct http_res r;

	start("batch_ms = 5s\n");
	http_post(run.port, "/v1/traces", "[{\"model\":\"a\"},{\"model\":\"b\"}]",
	    &r);
	expect(&r, 202, NULL);
	harness_write_conf(&run, "batch_ms = 5s\nauth_token = t\n");
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	harness_write_conf(&run, "batch_ms = 4s\nauth_token = t\n");
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(ingestd_serving_again, NULL, 20000),
	    "ingestd and writerd restarted one after the other");
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 2);
}

static int
host_room_full(void *arg)
{
	(void)arg;
	return harness_count(logpath_of("ingestd"), "host metrics skipped") > 0;
}

/* Found in review: host metrics could take the client events' room, and
 * the next request then killed ingestd. */
Test(ingest, host_metrics_never_take_the_room_of_client_events)
{
	struct http_res	r;
	pid_t		ing, wri;

	harness_setup(&run, NULL);
	{
		char	*text = harness_slurp(run.conf), *p;
		FILE	*f;

		p = strstr(text, "metrics_interval_ms = 0\n");
		cr_assert_not_null(p);
		*p = '#';	/* the default is back, then ours */
		f = fopen(run.conf, "w");
		fputs(text, f);
		fputs("metrics_interval_ms = 10ms\n", f);
		fclose(f);
		free(text);
	}
	harness_start(&run);
	ing = worker("ingestd");
	wri = worker("writerd");
	cr_assert_eq(kill(wri, SIGSTOP), 0);
	cr_assert(harness_wait(host_room_full, NULL, 10000));
	http_post(run.port, "/v1/traces", "{\"model\":\"m\"}", &r);
	expect(&r, 202, NULL);
	cr_assert_eq(worker("ingestd"), ing, "ingestd still runs");
	cr_assert_eq(kill(wri, SIGCONT), 0);
	cr_assert(harness_db_wait(&run, 5000, 1, "llm_traces", NULL));
}

/* SPEC 4: a number below 10^11 is Unix seconds, at or above it Unix ms. */
Test(ingest, timestamps_in_seconds_are_stored_as_milliseconds)
{
	struct http_res r;

	start(NULL);
	http_post(run.port, "/v1/traces?wait=commit", "[{\"model\":\"py\","
	    "\"started_at\":1796500000.123},{\"model\":\"ms\",\"started_at\":"
	    "1796500000123},{\"model\":\"int\",\"started_at\":1796500000}]", &r);
	expect(&r, 200, NULL);
	http_post(run.port, "/v1/errors?wait=commit", "{\"message\":\"m\","
	    "\"occurred_at\":1796500000.5}", &r);
	expect(&r, 200, NULL);
	http_post(run.port, "/v1/metrics?wait=commit", "[{\"name\":\"n\","
	    "\"value\":1,\"ts\":1796500000.0004},{\"name\":\"m\",\"value\":1,"
	    "\"ts\":100000000000}]", &r);
	expect(&r, 200, NULL);
	cr_assert_eq(harness_db_value(&run, "llm_traces", "started_at",
	    "model", "py", NULL), 1796500000123LL);
	cr_assert_eq(harness_db_value(&run, "llm_traces", "started_at",
	    "model", "ms", NULL), 1796500000123LL);
	cr_assert_eq(harness_db_value(&run, "llm_traces", "started_at",
	    "model", "int", NULL), 1796500000000LL);
	cr_assert_eq(harness_db_value(&run, "error_events", "occurred_at",
	    NULL), 1796500000500LL);
	cr_assert_eq(harness_db_value(&run, "system_metrics", "ts", "name",
	    "n", NULL), 1796500000000LL);
	cr_assert_eq(harness_db_value(&run, "system_metrics", "ts", "name",
	    "m", NULL), 100000000000LL, "10^11 is milliseconds");
}

/* The i-th trace id of an answer. */
static void
nth_id(struct http_res *r, size_t i, char *out, size_t len)
{
	json_t *o = json_loads(r->body, 0, NULL);

	cr_assert_not_null(o, "not JSON: %s", r->body);
	snprintf(out, len, "%s", json_string_value(json_array_get(
	    json_object_get(o, "trace_ids"), i)));
	json_decref(o);
}

static void
assert_v4(const char *id)
{
	cr_assert_eq(strlen(id), 36, "%s", id);
	cr_assert_eq(id[14], '4', "%s", id);
	cr_assert(strchr("89ab", id[19]) != NULL, "%s", id);
}

/*
 * SPEC 4: a repeated event_id is answered with the trace_id of the stored
 * event: in flight, committed, in the same array, after a restart.
 */
Test(ingest, a_repeated_event_id_answers_the_stored_trace_id)
{
	struct http_res	r;
	char		a[64], b[64], c[64];
	pid_t		writerd;

	start(NULL);
	/* in flight: writerd has not committed the first yet */
	writerd = worker("writerd");
	cr_assert_eq(kill(writerd, SIGSTOP), 0);
	http_post(run.port, "/v1/traces", "{\"model\":\"first\","
	    "\"event_id\":\"req-1\"}", &r);
	expect(&r, 202, NULL);
	first_id(&r, a, sizeof(a));
	assert_v4(a);
	http_post(run.port, "/v1/traces", "{\"model\":\"again\","
	    "\"event_id\":\"req-1\"}", &r);
	expect(&r, 202, NULL);
	first_id(&r, b, sizeof(b));
	cr_assert_str_eq(a, b, "in flight");
	cr_assert_eq(kill(writerd, SIGCONT), 0);
	/* in one array, and committed */
	http_post(run.port, "/v1/traces?wait=commit", "[{\"model\":\"x\","
	    "\"event_id\":\"req-1\"},{\"model\":\"y\",\"event_id\":\"req-2\"},"
	    "{\"model\":\"z\",\"event_id\":\"req-2\"}]", &r);
	expect(&r, 200, NULL);
	nth_id(&r, 0, b, sizeof(b));
	cr_assert_str_eq(a, b, "committed");
	nth_id(&r, 1, b, sizeof(b));
	nth_id(&r, 2, c, sizeof(c));
	cr_assert_str_eq(b, c, "in the same array");
	cr_assert_str_neq(a, b);
	cr_assert_eq(harness_db_count(&run, "llm_traces", "trace_id", a,
	    "event_id", "req-1", "model", "first", NULL), 1,
	    "the row has the id answered");
	cr_assert_eq(harness_db_count(&run, "llm_traces", "trace_id", b,
	    "event_id", "req-2", "model", "y", NULL), 1);
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 2);
	/* the same event_id in another table is another event */
	http_post(run.port, "/v1/errors?wait=commit", "{\"message\":\"m\","
	    "\"event_id\":\"req-1\"}", &r);
	first_id(&r, c, sizeof(c));
	cr_assert_str_neq(a, c);
	/* after a restart of octd */
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(octd_gone, &run, 15000));
	unlink(logpath_of("octd"));	/* harness_start counts its "ready"s */
	harness_start(&run);
	http_post(run.port, "/v1/traces?wait=commit", "{\"model\":\"later\","
	    "\"event_id\":\"req-1\"}", &r);
	expect(&r, 200, NULL);
	first_id(&r, b, sizeof(b));
	cr_assert_str_eq(a, b, "after a restart");
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 2);
	/* without event_id: random UUID v4s */
	http_post(run.port, "/v1/traces?wait=commit", "[{\"model\":\"r\"},"
	    "{\"model\":\"r\"}]", &r);
	nth_id(&r, 0, b, sizeof(b));
	nth_id(&r, 1, c, sizeof(c));
	assert_v4(b);
	assert_v4(c);
	cr_assert_str_neq(b, c);
	cr_assert_eq(harness_db_distinct(&run, "llm_traces", "trace_id",
	    "model", "r", NULL), 2);
}

/* SPEC 4: an array that could never be queued whole is 413, never 503. */
Test(ingest, an_array_larger_than_queue_capacity_gets_413)
{
	struct http_res	r;
	char		body[64 * 12] = "[";
	int		i;

	start("queue_capacity = 10\n");
	for (i = 0; i < 11; i++)
		strcat(body, i ? ",{\"model\":\"m\"}" : "{\"model\":\"m\"}");
	strcat(body, "]");
	http_post(run.port, "/v1/traces", body, &r);
	expect(&r, 413, "{\"error\":\"array of 11 events is larger than "
	    "queue_capacity (10); split it\"}\n");
	cr_assert_null(strstr(r.headers, "Retry-After"), "%s", r.headers);
	cr_assert_eq(metric("oct_ingest_dropped_total "), 0);
	body[strlen(body) - 15] = ']';
	body[strlen(body) - 14] = '\0';
	http_post(run.port, "/v1/traces?wait=commit", body, &r);
	expect(&r, 200, NULL);
}

/* One request on a raw connection; the answer (head and body) into out. */
static void
raw_request(int fd, const char *req, char *out, size_t len)
{
	size_t	n = 0;
	ssize_t	k;

	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < len && (k = read(fd, out + n, len - 1 - n)) > 0) {
		n += (size_t)k;
		out[n] = '\0';
		if (strstr(out, "\r\n\r\n") != NULL &&
		    strstr(out, "}\n") != NULL)
			break;
	}
	out[n] = '\0';
}

static int
raw_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval		tv = { 10, 0 };

	cr_assert(fd != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Every answer is JSON, also those evhttp makes itself: and counted. */
Test(ingest, a_request_evhttp_cannot_parse_gets_json)
{
	char	out[2048];
	int	fd;

	start(NULL);
	fd = raw_connect(run.port);
	raw_request(fd, "GARBAGE\r\n\r\n", out, sizeof(out));
	close(fd);
	cr_assert(strncmp(out, "HTTP/1.", 7) == 0 && strstr(out, " 400 "),
	    "%s", out);
	cr_assert(strstr(out, "Content-Type: application/json"), "%s", out);
	cr_assert(strstr(out, "\r\n\r\n{\"error\":\"malformed HTTP request\"}\n"),
	    "%s", out);
	cr_assert_eq(metric("oct_ingest_rejected_total{reason=\"bad_request\"} "),
	    1);
}

static int
ingestd_stopping(void *arg)
{
	(void)arg;
	return harness_count(logpath_of("ingestd"), "stopping: ") > 0;
}

/* A 503 while shutting down has its own reason. */
Test(ingest, a_503_while_shutting_down_is_counted_as_such)
{
	static const char post[] = "POST /v1/traces HTTP/1.1\r\nHost: "
	    "127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
	    "13\r\n\r\n{\"model\":\"m\"}";
	char	out[4096], *p;
	int	fd;

	start("shutdown_timeout_ms = 5s\n");
	fd = raw_connect(run.port);
	raw_request(fd, post, out, sizeof(out));
	cr_assert(strstr(out, " 202 "), "%s", out);
	/* writerd cannot commit: ingestd stays draining, the connection open */
	cr_assert_eq(kill(worker("writerd"), SIGSTOP), 0);
	raw_request(fd, post, out, sizeof(out));
	cr_assert(strstr(out, " 202 "), "%s", out);
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(ingestd_stopping, NULL, 5000));
	raw_request(fd, post, out, sizeof(out));
	cr_assert(strstr(out, " 503 "), "%s", out);
	cr_assert(strstr(out, "{\"error\":\"shutting down\"}"), "%s", out);
	raw_request(fd, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", out,
	    sizeof(out));
	close(fd);
	p = strstr(out, "oct_ingest_rejected_total{reason=\"shutting_down\"} ");
	cr_assert_not_null(p, "%s", out);
	cr_assert_eq(atol(p + 50), 1, "%.60s", p);
	p = strstr(out, "oct_ingest_rejected_total{reason=\"queue_full\"} ");
	cr_assert_not_null(p);
	cr_assert_eq(atol(p + 47), 0, "%.60s", p);
	kill(worker("writerd"), SIGCONT);
}

/*
 * A ?wait=commit request is not held for ever while writerd cannot
 * commit: after shutdown_timeout_ms it gets 503 with Retry-After. Its
 * event was accepted into the window and is stored once writerd is back.
 */
Test(ingest, a_commit_wait_is_cut_after_shutdown_timeout_ms)
{
	struct http_res	r;
	pid_t		writerd;
	int64_t		t0;
	struct timespec	ts;

	start("shutdown_timeout_ms = 1s\n");
	writerd = worker("writerd");
	cr_assert_eq(kill(writerd, SIGSTOP), 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	http_post(run.port, "/v1/traces?wait=commit", "{\"model\":\"m\","
	    "\"event_id\":\"e\"}", &r);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	expect(&r, 503, "{\"error\":\"not committed within shutdown_timeout_ms "
	    "(1000 ms); the events are queued and will be stored: retry with "
	    "the same event_id\"}\n");
	cr_assert(strstr(r.headers, "Retry-After: 1\r\n"), "%s", r.headers);
	cr_assert(ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0 < 5000);
	cr_assert_eq(metric("oct_ingest_rejected_total{reason=\"commit_timeout\"} "),
	    1);
	cr_assert_eq(kill(writerd, SIGCONT), 0);
	cr_assert(harness_db_wait(&run, 5000, 1, "llm_traces", "event_id", "e",
	    NULL), "stored once writerd commits");
	http_post(run.port, "/v1/traces?wait=commit", "{\"model\":\"m\","
	    "\"event_id\":\"e\"}", &r);
	expect(&r, 200, NULL);
	cr_assert_eq(harness_db_count(&run, "llm_traces", NULL), 1,
	    "the retry is not stored again");
}

/*
 * event_encode leaked its attributes object when an unknown key came
 * before a bad event_id or attributes: LeakSanitizer, in the ASan build,
 * reports it in ingestd's log when ingestd exits.
 */
Test(ingest, a_bad_event_id_after_an_unknown_key_leaks_nothing)
{
	struct http_res	r;
	int		i;

	start(NULL);
	for (i = 0; i < 20; i++) {
		http_post(run.port, "/v1/traces", "{\"model\":\"m\",\"zzz\":1,"
		    "\"event_id\":5}", &r);
		expect(&r, 400, "{\"error\":\"event_id must be a string of 1 to "
		    "128 bytes\",\"field\":\"event_id\"}\n");
		http_post(run.port, "/v1/traces", "{\"model\":\"m\",\"zzz\":1,"
		    "\"attributes\":7}", &r);
		expect(&r, 400, "{\"error\":\"attributes must be an object\","
		    "\"field\":\"attributes\"}\n");
	}
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(octd_gone, &run, 15000));
	cr_assert(harness_count(logpath_of("ingestd"), "exiting") == 1);
	cr_assert_eq(harness_count(logpath_of("ingestd"), "LeakSanitizer"), 0,
	    "%s", harness_slurp(logpath_of("ingestd")));
	cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0);
}
