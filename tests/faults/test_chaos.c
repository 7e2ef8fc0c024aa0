/*
 * test_chaos.c: fault row 1, the chaos soak. Six client threads post
 * about 500 events/s in requests of ten (half of the threads with
 * ?wait=commit, half without), every event with its own sequence number
 * "seq": four threads post arrays to the JSON API, two post OTLP JSON
 * spans to otlp_listen, each span with its own trace and span id (from
 * its seq) and a "seq" attribute; oct-receiver takes pushes throughout.
 * OTLP answers 200 both when queued and when committed: its 200 without
 * ?wait=commit is counted as the JSON API's 202. The test's main thread SIGKILLs a random
 * worker, waits until octd has replaced it and ingest answers again (so
 * each fault is the crash of one worker, as SPEC section 4.4 promises),
 * then waits U(0.2, 2) s, 100 times. After every 10 kills octd is
 * restarted (SIGTERM, drain, start): the restart backoff (up to 30 s,
 * reset only after 60 s up) would otherwise turn a soak into an outage.
 *
 * After quiesce: every event answered 200 or 202 is stored (L200 = L202 =
 * 0), no seq and no trace_id twice, nothing answered 503 stored (except a
 * ?wait=commit cut at shutdown_timeout_ms, whose answer says its events
 * will be stored: those are counted apart and must be stored once),
 * PRAGMA integrity_check ok, the receiver holds every stored event once,
 * no row dead. Events whose request died with ingestd (no answer) may be
 * stored or not, but once at most. The seed is printed to replay a run.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "../harness.h"

#define MAXSEQ		400000
#define PER_REQ		10
#define THREADS		6
#define OTLP_FROM	4		/* threads from here on post OTLP */
#define RATE		500		/* events/s, all threads */
#define KILLS		100
#define KILLS_PER_OCTD	10

/* What the client was told about each event. */
enum outcome {
	O_NONE, O_200, O_202, O_503, O_CUT, O_NOANSWER, O_OTHER, O_NOUT
};
static const char *const outcome_name[] = {
	"unsent", "200", "202", "503", "503 commit cut", "no answer", "other"
};
#define OTLP_BIT	0x80		/* in outcome[]: posted over OTLP */

static struct octd_run	run;
static char		recv_db[600];
static pid_t		receiver;
static int		otlp_port;
static unsigned char	*outcome;	/* by seq */
static volatile int	 stop;
static int		 next_seq;	/* atomic */

static void
teardown(void)
{
	harness_teardown(&run);
	if (receiver > 0)
		kill(receiver, SIGKILL);
}

TestSuite(faults_chaos, .fini = teardown, .timeout = 360);

static double
now_s(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	char	*buf = arg;
	size_t	 have = strlen(buf), add = size * n;

	if (have + add > 511)
		add = have < 511 ? 511 - have : 0;
	memcpy(buf + have, p, add);
	buf[have + add] = '\0';
	return size * n;
}

/*
 * An ExportTraceServiceRequest (OTLP JSON) of PER_REQ GenAI spans from
 * seq on, into body (len bytes); returns its length.
 */
static int
otlp_body(char *body, size_t len, int seq)
{
	struct timespec	t;
	long long	ns;
	int		i, n;

	clock_gettime(CLOCK_REALTIME, &t);
	ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
	n = snprintf(body, len, "{\"resourceSpans\":[{\"scopeSpans\":[{"
	    "\"spans\":[");
	for (i = 0; i < PER_REQ; i++)
		n += snprintf(body + n, len - (size_t)n, "%s{\"traceId\":"
		    "\"c4a05c4a05c4a05c%016x\",\"spanId\":\"%016x\","
		    "\"name\":\"chat chaos\",\"kind\":3,"
		    "\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":"
		    "\"%lld\",\"attributes\":[{\"key\":"
		    "\"gen_ai.request.model\",\"value\":{\"stringValue\":"
		    "\"chaos\"}},{\"key\":\"gen_ai.operation.name\",\"value\":"
		    "{\"stringValue\":\"chat\"}},{\"key\":\"seq\",\"value\":"
		    "{\"intValue\":%d}}]}", i ? "," : "", seq + i + 1,
		    seq + i + 1, ns, ns + 1000000, seq + i);
	n += snprintf(body + n, len - (size_t)n, "]}]}]}");
	return n;
}

/* The JSON API's array of PER_REQ events from seq on. */
static int
api_body(char *body, size_t len, int seq)
{
	int	i, n;

	n = snprintf(body, len, "[");
	for (i = 0; i < PER_REQ; i++)
		n += snprintf(body + n, len - (size_t)n,
		    "%s{\"model\":\"chaos\",\"seq\":%d}", i ? "," : "",
		    seq + i);
	n += snprintf(body + n, len - (size_t)n, "]");
	return n;
}

/*
 * What the client was told, by status and answer: OTLP's 200 is a 202
 * unless the request waited for the commit; a 200 with a partial success
 * refused something.
 */
static int
outcome_of(long status, const char *ans, int otlp, int commit)
{
	if (status == 200 && otlp && strstr(ans, "partialSuccess") != NULL)
		return O_OTHER;
	if (status == 200)
		return otlp && !commit ? O_202 : O_200;
	if (status == 202 && !otlp)
		return O_202;
	if (status == 503 && strstr(ans, "not committed within"))
		return O_CUT;
	if (status == 503)
		return O_503;
	return status == 0 ? O_NOANSWER : O_OTHER;
}

/*
 * One client: its own keep-alive connection, RATE / THREADS events/s;
 * thread numbers from OTLP_FROM on post OTLP.
 */
static void *
client(void *arg)
{
	int			 commit = (int)(long)arg % 2;
	int			 otlp = (int)(long)arg >= OTLP_FROM;
	CURL			*c = curl_easy_init();
	struct curl_slist	*hl = NULL;
	char			 url[128], body[PER_REQ * 400 + 64], ans[512];
	double			 t0 = now_s(), every = (double)PER_REQ /
				    (RATE / THREADS);
	long			 status, sent = 0;
	int			 seq, i, n, o;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces%s",
	    otlp ? otlp_port : run.port, commit ? "?wait=commit" : "");
	hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ans);
	while (!stop) {
		seq = __atomic_fetch_add(&next_seq, PER_REQ, __ATOMIC_SEQ_CST);
		if (seq + PER_REQ > MAXSEQ)
			break;
		n = otlp ? otlp_body(body, sizeof(body), seq) :
		    api_body(body, sizeof(body), seq);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)n);
		ans[0] = '\0';
		status = 0;
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		o = outcome_of(status, ans, otlp, commit);
		if (otlp)
			o |= OTLP_BIT;
		for (i = 0; i < PER_REQ; i++)
			outcome[seq + i] = (unsigned char)o;
		sent++;
		while (!stop && now_s() < t0 + sent * every)
			usleep(2000);
		/* far behind (a kill): start afresh, no catch-up burst */
		if (now_s() > t0 + (sent + 5) * every)
			t0 = now_s() - sent * every;
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return NULL;
}

static int
serving(void *arg)
{
	struct http_res	r;

	(void)arg;
	return http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &r) == 0 &&
	    r.status == 200;
}

struct replaced {
	const char	*name;
	pid_t		 old;
};

static int
is_replaced(void *arg)
{
	struct replaced	*w = arg;
	pid_t		 now = harness_worker(&run, w->name);

	return now != 0 && now != w->old;
}

static int
octd_gone(void *arg)
{
	(void)arg;
	return harness_reaped(&run);
}

/* SIGTERM octd, let it drain, start it again with a fresh octd.log. */
static void
restart_octd(int n)
{
	char	old[700];

	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(octd_gone, NULL, 20000), "octd did not stop");
	cr_expect(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0,
	    "octd stopped with status %d", run.status);
	snprintf(old, sizeof(old), "%s.%d", harness_log(&run, "octd"), n);
	cr_assert_eq(rename(harness_log(&run, "octd"), old), 0);
	harness_start(&run);
}

/* Start octd again after it was killed, with a fresh octd.log. */
static void
restart_octd_after_kill(int n)
{
	char	old[700];

	snprintf(old, sizeof(old), "%s.k%d", harness_log(&run, "octd"), n);
	cr_assert_eq(rename(harness_log(&run, "octd"), old), 0);
	harness_start(&run);
}

static int
port_closed(void *arg)
{
	struct http_res	r;

	(void)arg;
	return http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &r) != 0;
}

static int
settled(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT (SELECT count(*) FROM llm_traces WHERE "
	    "synced_at IS NULL AND dead = 0) + (SELECT count(*) FROM "
	    "error_events WHERE synced_at IS NULL AND dead = 0) + (SELECT "
	    "count(*) FROM system_metrics WHERE synced_at IS NULL AND "
	    "dead = 0)") == 0 && file_int(recv_db, "SELECT count(*) FROM "
	    "events") == db_int(&run, "SELECT count(*) FROM llm_traces");
}

static int
all_committed(void *arg)
{
	struct http_res	r;

	(void)arg;
	return http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"flush\"}", &r) == 0 && r.status == 200;
}

/* One text from a SELECT on oct.db (read-only). */
static void
db_text(const char *sql, char *out, size_t len)
{
	char		 path[600];
	sqlite3		*db;
	sqlite3_stmt	*s;

	snprintf(out, len, "(error)");
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &s, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			snprintf(out, len, "%s", sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
}

struct audit {
	int	events[O_NOUT], stored[O_NOUT];
	int	otlp_events[O_NOUT], otlp_stored[O_NOUT];	/* of them */
	int	twice, trace_twice, span_twice;
	int	not_in_receiver, receiver_twice, dead;
	int	receiver_total, stored_total;
};

static void
audit(struct audit *a)
{
	unsigned char	*seen = calloc(MAXSEQ, 1);
	char		 path[600], sql[1200];
	sqlite3		*db;
	sqlite3_stmt	*s;
	int		 i, o, seq;

	cr_assert_not_null(seen);
	memset(a, 0, sizeof(*a));
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT json_extract(attributes, "
	    "'$.seq') FROM llm_traces WHERE model = 'chaos'", -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		seq = sqlite3_column_int(s, 0);
		a->stored_total++;
		if (seq >= 0 && seq < MAXSEQ && seen[seq]++ > 0)
			a->twice++;
	}
	sqlite3_finalize(s);
	snprintf(sql, sizeof(sql), "ATTACH '%s' AS r", recv_db);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	a->trace_twice = (int)db_int(&run, "SELECT (SELECT count(*) - "
	    "count(DISTINCT trace_id) FROM llm_traces)");
	a->span_twice = (int)db_int(&run, "SELECT count(*) - count(DISTINCT "
	    "json_extract(attributes, '$.otel.span_id')) FROM llm_traces "
	    "WHERE json_extract(attributes, '$.otel.span_id') IS NOT NULL");
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM "
	    "llm_traces t WHERE NOT EXISTS (SELECT 1 FROM r.events e WHERE "
	    "e.trace_id = t.trace_id)), (SELECT count(*) FROM r.events), "
	    "(SELECT count(*) - count(DISTINCT json_extract(data, "
	    "'$.attributes.seq')) FROM r.events WHERE json_extract(data, "
	    "'$.model') = 'chaos'), (SELECT count(*) FROM llm_traces WHERE "
	    "dead = 1)", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	a->not_in_receiver = sqlite3_column_int(s, 0);
	a->receiver_total = sqlite3_column_int(s, 1);
	a->receiver_twice = sqlite3_column_int(s, 2);
	a->dead = sqlite3_column_int(s, 3);
	sqlite3_finalize(s);
	sqlite3_close(db);
	for (i = 0; i < next_seq && i < MAXSEQ; i++) {
		o = outcome[i] & ~OTLP_BIT;
		a->events[o]++;
		a->stored[o] += seen[i] > 0;
		if (outcome[i] & OTLP_BIT) {
			a->otlp_events[o]++;
			a->otlp_stored[o] += seen[i] > 0;
		}
		if (!seen[i] && (o == O_200 || o == O_202 || o == O_CUT) &&
		    a->events[o] - a->stored[o] <= 3)
			cr_log_error("seq %d answered %s%s, not stored", i,
			    outcome_name[o], outcome[i] & OTLP_BIT ?
			    " (OTLP)" : "");
	}
	free(seen);
}

/* oct-receiver, its log (a line a batch) in run.dir/receiver.log. */
static pid_t
quiet_receiver(const char *key, int *port)
{
	char	path[600];
	int	fd, saved = dup(STDERR_FILENO);
	pid_t	pid;

	snprintf(path, sizeof(path), "%s/receiver.log", run.dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	cr_assert(fd != -1 && saved != -1);
	dup2(fd, STDERR_FILENO);
	close(fd);
	pid = harness_receiver(recv_db, key, port);
	dup2(saved, STDERR_FILENO);
	close(saved);
	return pid;
}

static pthread_t	clients[THREADS];
static double		soak_t0;

/* octd with a receiver, then the clients. */
static void
soak_start(void)
{
	char	key[128], conf[600];
	int	i, port;

	outcome = calloc(MAXSEQ, 1);
	cr_assert_not_null(outcome);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	otlp_port = harness_free_port();
	snprintf(conf, sizeof(conf), "127.0.0.1:%d", otlp_port);
	setenv("OCT_OTLP_LISTEN", conf, 1);
	harness_setup(&run, NULL);
	harness_start(&run);
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	receiver = quiet_receiver(key, &port);
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d/in\n"
	    "push_interval_ms = 200\npush_backoff_base_ms = 100\n"
	    "push_backoff_cap_ms = 1000\n", port);
	harness_write_conf(&run, conf);
	restart_octd(0);
	soak_t0 = now_s();
	for (i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&clients[i], NULL, client,
		    (void *)(long)i), 0);
}

/* Stop the clients, let everything commit and reach the receiver. */
static double
soak_stop(struct audit *a, char *integrity, size_t len)
{
	double	soak;
	int	i;

	stop = 1;
	for (i = 0; i < THREADS; i++)
		pthread_join(clients[i], NULL);
	soak = now_s() - soak_t0;
	cr_assert(harness_wait(all_committed, NULL, 20000));
	cr_assert(harness_wait(settled, NULL, 60000), "not drained: receiver "
	    "%lld, stored %lld", file_int(recv_db, "SELECT count(*) FROM "
	    "events"), db_int(&run, "SELECT count(*) FROM llm_traces"));
	db_text("PRAGMA integrity_check", integrity, len);
	audit(a);
	return soak;
}

static void
print_outcomes(const struct audit *a, const char *integrity)
{
	int	i;

	for (i = O_200; i < O_NOUT; i++)
		fprintf(stderr, "row 1:   answered %s: %d events, %d stored "
		    "(over OTLP: %d, %d stored)\n", outcome_name[i],
		    a->events[i], a->stored[i], a->otlp_events[i],
		    a->otlp_stored[i]);
	fprintf(stderr, "row 1: L200 %d, L202 %d, 503 stored %d, commit-cut "
	    "503 not stored %d; seq twice %d, trace_id twice %d, span_id "
	    "twice %d; integrity "
	    "%s; receiver %d events, %d stored ones missing, %d twice; %d "
	    "dead\n", a->events[O_200] - a->stored[O_200], a->events[O_202] -
	    a->stored[O_202], a->stored[O_503], a->events[O_CUT] -
	    a->stored[O_CUT], a->twice, a->trace_twice, a->span_twice,
	    integrity,
	    a->receiver_total, a->not_in_receiver, a->receiver_twice,
	    a->dead);
}

/* What holds whatever was killed. */
static void
expect_common(const struct audit *a, const char *integrity)
{
	cr_expect_eq(a->events[O_200], a->stored[O_200], "L200: %d events "
	    "answered 200 lost", a->events[O_200] - a->stored[O_200]);
	cr_expect_eq(a->stored[O_503], 0, "%d events answered 503 stored",
	    a->stored[O_503]);
	cr_expect_eq(a->events[O_OTHER], 0, "%d events answered otherwise",
	    a->events[O_OTHER]);
	cr_expect_eq(a->twice, 0, "%d events stored twice", a->twice);
	cr_expect_eq(a->trace_twice, 0, "%d trace_ids twice", a->trace_twice);
	cr_expect_eq(a->span_twice, 0, "%d OTLP span ids twice",
	    a->span_twice);
	cr_expect_str_eq(integrity, "ok");
	cr_expect_eq(a->not_in_receiver, 0, "%d stored events never reached "
	    "the receiver", a->not_in_receiver);
	cr_expect_eq(a->receiver_twice, 0, "%d events twice at the receiver",
	    a->receiver_twice);
	cr_expect_eq(a->dead, 0, "%d rows dead", a->dead);
}

Test(faults_chaos, random_kills_lose_nothing)
{
	const char	*names[] = { "ingestd", "writerd", "pushd" };
	struct audit	 a;
	struct replaced	 w;
	char		 integrity[256];
	int		 i, k, kills[3] = { 0 }, restarts = 1, slow_back = 0;
	unsigned int	 seed = (unsigned int)time(NULL);
	double		 soak, wait;
	const char	*env = getenv("OCT_CHAOS_SEED");

	if (env != NULL)
		seed = (unsigned int)strtoul(env, NULL, 10);
	fprintf(stderr, "row 1: seed %u (OCT_CHAOS_SEED replays it)\n", seed);
	soak_start();
	for (k = 0; k < KILLS; k++) {
		if (k > 0 && k % KILLS_PER_OCTD == 0)
			restart_octd(restarts++);
		i = rand_r(&seed) % 3;
		w.name = names[i];
		w.old = harness_worker(&run, w.name);
		cr_assert_neq(w.old, 0, "%s runs", w.name);
		cr_assert_eq(kill(w.old, SIGKILL), 0);
		kills[i]++;
		wait = now_s();
		cr_assert(harness_wait(is_replaced, &w, 35000), "%s not "
		    "restarted", w.name);
		cr_assert(harness_wait(serving, NULL, 35000), "ingest not "
		    "back after %s", w.name);
		if (now_s() - wait > 5)
			slow_back++;
		usleep((useconds_t)(200000 + rand_r(&seed) % 1800001));
	}
	soak = soak_stop(&a, integrity, sizeof(integrity));
	fprintf(stderr, "row 1: %.0f s, %d events sent (%.0f/s); kills: "
	    "ingestd %d, writerd %d, pushd %d (%d took over 5 s to come "
	    "back); octd restarted %d times\n", soak, next_seq,
	    next_seq / soak, kills[0], kills[1], kills[2], slow_back,
	    restarts - 1);
	print_outcomes(&a, integrity);
	expect_common(&a, integrity);
	cr_expect_eq(a.events[O_202], a.stored[O_202], "L202: %d events "
	    "answered 202 lost", a.events[O_202] - a.stored[O_202]);
	cr_expect_eq(a.events[O_CUT], a.stored[O_CUT], "%d events of a "
	    "commit-cut 503 (\"will be stored\") lost", a.events[O_CUT] -
	    a.stored[O_CUT]);
	cr_expect_eq(kills[0] + kills[1] + kills[2], KILLS);
	cr_expect_gt(a.events[O_200], 10000);
	cr_expect_gt(a.events[O_202], 10000);
	cr_expect_gt(a.otlp_events[O_200], 3000, "a third over OTLP");
	cr_expect_gt(a.otlp_events[O_202], 3000, "a third over OTLP");
	free(outcome);
	curl_global_cleanup();
}

/*
 * The variant: SIGKILL octd itself (its workers get SIGTERM from the
 * kernel as it dies), then start it again, 10 times. Found by this row:
 * an ingestd whose writerd had gone too waited for a new one for ever,
 * holding its clients' connections. Now writerd stays while ingestd
 * drains into it, and ingestd's drain is bounded. An event answered 200
 * is committed and survives; one answered 202 may be lost when two
 * processes die at once (not one worker's crash), and is counted.
 */
Test(faults_chaos, octd_killed_loses_no_commit)
{
	struct audit	 a;
	char		 integrity[256];
	int		 k, lost202;
	unsigned int	 seed = (unsigned int)time(NULL) + 1;
	double		 soak;

	soak_start();
	for (k = 0; k < 10; k++) {
		usleep((useconds_t)(500000 + rand_r(&seed) % 2500001));
		cr_assert_eq(kill(run.pid, SIGKILL), 0);
		cr_assert(harness_wait(octd_gone, NULL, 5000));
		cr_assert(harness_wait(port_closed, NULL, 15000),
		    "the workers of a killed octd still serve");
		restart_octd_after_kill(k + 1);
	}
	soak = soak_stop(&a, integrity, sizeof(integrity));
	lost202 = a.events[O_202] - a.stored[O_202];
	fprintf(stderr, "row 1 (octd killed): %.0f s, %d events sent, octd "
	    "killed 10 times; %d answered 202 lost (allowed: not one "
	    "worker's crash)\n", soak, next_seq, lost202);
	print_outcomes(&a, integrity);
	expect_common(&a, integrity);
	/* progress, not a rate: the clients run on a busy machine in CI */
	cr_expect_gt(a.events[O_200], 100);
	cr_expect_gt(a.otlp_events[O_200], 30, "OTLP clients were served");
	free(outcome);
	curl_global_cleanup();
}
