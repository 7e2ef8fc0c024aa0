/*
 * test_push.c: the push path end to end: octd pushing to a real
 * oct-receiver, and to a collector written here that answers what each
 * test needs, over real HTTP on loopback.
 */
#include "config.h"

#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <zlib.h>

#include "harness.h"
#include "key.h"

#define worker(name)	harness_worker(&run, name)

static struct octd_run	run;
static void coll_stop(void);
static int octctl_push(char *, size_t, const char *, const char *);
static pid_t		receiver;
static char		recv_db[600];

static void
setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	coll_stop();
	if (receiver > 0) {
		kill(receiver, SIGKILL);
		waitpid(receiver, NULL, 0);
	}
	harness_teardown(&run);
}

TestSuite(push, .init = setup, .fini = teardown, .timeout = 120);

/*
 * The test collector. It checks each request on its own, with a
 * Standard Webhooks verification written here (not oct's), records it,
 * and answers from a script: the next status in "statuses" (0: 200 and
 * store), a 413 for bodies over "max_body", a 400 for any batch holding a
 * "poison" event, and a "rejected" list for events whose model is "bad".
 */
#define COLL_MAX	4096

static struct {
	pthread_t		 thread;
	struct event_base	*base;
	struct evhttp		*http;
	pthread_mutex_t		 mu;
	int			 port;
	unsigned char		 pk[crypto_sign_PUBLICKEYBYTES];
	int			 statuses[32], nstatus, next;
	const char		*retry_after;
	size_t			 max_body;
	int			 delay_ms;	/* answer this late */
	int			 always;	/* answer this to every request */
	/* what arrived */
	int			 requests, bad_signatures, stored;
	int			 ts_skew;	/* most webhook-timestamp off, s */
	size_t			 biggest;
	char			 ids[COLL_MAX][40];	/* webhook-id per request */
	long long		 at_ms[COLL_MAX];
	int			 status[COLL_MAX];
	json_t			*events;		/* trace_id -> count */
} coll = { .mu = PTHREAD_MUTEX_INITIALIZER };

static long long
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static char *
gunzip(const unsigned char *in, size_t len, size_t *outlen)
{
	z_stream	z;
	size_t		cap = 64 * 1024 * 1024;
	char		*out = malloc(cap + 1);

	memset(&z, 0, sizeof(z));
	inflateInit2(&z, 15 + 16);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = (unsigned char *)out;
	z.avail_out = (uInt)cap;
	cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END, "bad gzip");
	*outlen = z.total_out;
	out[*outlen] = '\0';
	inflateEnd(&z);
	return out;
}

static void
coll_reply(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	if (coll.retry_after != NULL && (status == 429 || status == 503))
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", coll.retry_after);
	if (body != NULL)
		evbuffer_add_printf(b, "%s", body);
	evhttp_send_reply(req, status, "X", b);
	evbuffer_free(b);
}

/* Answer a verified batch env (plain JSON text of plen bytes). */
static int
coll_answer(json_t *env, size_t plen, char **answer)
{
	json_t		*ev, *rej = json_array(), *o;
	const char	*model, *id;
	size_t		 i;
	int		 st;

	*answer = NULL;
	if (coll.always != 0) {
		json_decref(rej);
		return coll.always;
	}
	if (coll.next < coll.nstatus && coll.statuses[coll.next] != 0) {
		json_decref(rej);
		return coll.statuses[coll.next++];
	}
	if (coll.next < coll.nstatus)
		coll.next++;
	if (coll.max_body > 0 && plen > coll.max_body) {
		json_decref(rej);
		return 413;
	}
	json_array_foreach(json_object_get(env, "events"), i, ev) {
		model = json_string_value(json_object_get(json_object_get(ev,
		    "data"), "model"));
		if (model != NULL && strcmp(model, "poison") == 0) {
			json_decref(rej);
			return 400;
		}
	}
	json_array_foreach(json_object_get(env, "events"), i, ev) {
		id = json_string_value(json_object_get(ev, "trace_id"));
		model = json_string_value(json_object_get(json_object_get(ev,
		    "data"), "model"));
		if (model != NULL && strcmp(model, "bad") == 0) {
			json_array_append_new(rej, json_pack("{s:s,s:s}",
			    "trace_id", id, "reason", "model bad is refused"));
			continue;
		}
		o = json_object_get(coll.events, id);
		json_object_set_new(coll.events, id, json_integer(
		    json_integer_value(o) + 1));
		coll.stored++;
	}
	st = 200;
	if (json_array_size(rej) > 0) {
		o = json_pack("{s:o}", "rejected", rej);
		*answer = json_dumps(o, 0);
		json_decref(o);
	} else
		json_decref(rej);
	return st;
}

struct later {
	struct evhttp_request	*req;
	int			 status;
	char			*answer;
};

static void
reply_later(evutil_socket_t fd, short ev, void *arg)
{
	struct later *l = arg;

	(void)fd;
	(void)ev;
	coll_reply(l->req, l->status, l->answer);
	free(l->answer);
	free(l);
}

static void
coll_handle(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	size_t			 len = evbuffer_get_length(in), plen;
	unsigned char		*body = evbuffer_pullup(in, -1);
	const char		*id = evhttp_find_header(h, "webhook-id");
	const char		*ts = evhttp_find_header(h, "webhook-timestamp");
	const char		*sig = evhttp_find_header(h, "webhook-signature");
	char			*plain, *answer;
	json_t			*env;
	int			 st, n;

	(void)arg;
	pthread_mutex_lock(&coll.mu);
	n = coll.requests++;
	plain = gunzip(body, len, &plen);
	/* signed: the JSON before compression, as a framework hands it on */
	if (id == NULL || ts == NULL || sig == NULL ||
	    !harness_sw_verify(coll.pk, id, strtoll(ts, NULL, 10), plain, plen,
	    sig)) {
		coll.bad_signatures++;
		pthread_mutex_unlock(&coll.mu);
		coll_reply(req, 401, NULL);
		free(plain);
		return;
	}
	if (plen > coll.biggest)
		coll.biggest = plen;
	if (llabs(time(NULL) - strtoll(ts, NULL, 10)) > coll.ts_skew)
		coll.ts_skew = (int)llabs(time(NULL) - strtoll(ts, NULL, 10));
	env = json_loads(plain, 0, NULL);
	cr_assert_not_null(env);
	cr_assert_str_eq(json_string_value(json_object_get(env, "batch_id")),
	    id);
	st = coll_answer(env, plen, &answer);
	if (n < COLL_MAX) {
		snprintf(coll.ids[n], sizeof(coll.ids[n]), "%s", id);
		coll.at_ms[n] = mono();
		coll.status[n] = st;
	}
	pthread_mutex_unlock(&coll.mu);
	if (coll.delay_ms > 0) {
		struct later	*l = calloc(1, sizeof(*l));
		struct timeval	 tv = { coll.delay_ms / 1000,
				     (coll.delay_ms % 1000) * 1000 };

		l->req = req;
		l->status = st;
		l->answer = answer;
		event_base_once(coll.base, -1, EV_TIMEOUT, reply_later, l, &tv);
	} else {
		coll_reply(req, st, answer);
		free(answer);
	}
	free(plain);
	json_decref(env);
}

static void *
coll_loop(void *arg)
{
	(void)arg;
	event_base_dispatch(coll.base);
	return NULL;
}

/* Start the collector; statuses end with -1. */
static void
coll_start(const int *statuses)
{
	coll.port = harness_free_port();
	coll.events = json_object();
	for (coll.nstatus = 0; statuses != NULL && statuses[coll.nstatus] != -1;
	    coll.nstatus++)
		coll.statuses[coll.nstatus] = statuses[coll.nstatus];
	coll.base = event_base_new();
	coll.http = evhttp_new(coll.base);
	evhttp_set_gencb(coll.http, coll_handle, NULL);
	cr_assert_eq(evhttp_bind_socket(coll.http, "127.0.0.1",
	    (ev_uint16_t)coll.port), 0);
	cr_assert_eq(pthread_create(&coll.thread, NULL, coll_loop, NULL), 0);
}

/*
 * Each test runs in a process of its own: the collector's thread ends with
 * it. (Stopping its loop from here would need libevent's thread support.)
 */
static void
coll_stop(void)
{
}

/* Start octd with extra settings, pushing nowhere yet. */
static void
begin(const char *extra)
{
	harness_setup(&run, extra);
	harness_start(&run);
}

/* Start the collector for the run's key and point the config at it. */
static void
point_at_collector(const int *statuses, const char *extra)
{
	char	key[128], conf[1024];
	size_t	len;

	harness_pubkey(&run, key, sizeof(key));
	sodium_base642bin(coll.pk, sizeof(coll.pk), key, strlen(key), NULL,
	    &len, NULL, sodium_base64_VARIANT_ORIGINAL);
	coll_start(statuses);
	snprintf(conf, sizeof(conf), "%spush_url = http://127.0.0.1:%d/in\n",
	    extra != NULL ? extra : "", coll.port);
	harness_write_conf(&run, conf);
}

/* The same, and tell the running octd (a reload). */
static void
push_to_collector(const int *statuses, const char *extra)
{
	point_at_collector(statuses, extra);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
}

static int
coll_int(int *field)
{
	int v;

	pthread_mutex_lock(&coll.mu);
	v = *field;
	pthread_mutex_unlock(&coll.mu);
	return v;
}

struct at_least {
	int	*field;
	int	 n;
};

static int
reached(void *arg)
{
	struct at_least *a = arg;

	return coll_int(a->field) >= a->n;
}

static int
wait_requests(int n, int ms)
{
	struct at_least a = { &coll.requests, n };

	return harness_wait(reached, &a, ms);
}

static void
post_n(const char *model, int n)
{
	struct http_res	r;
	char		body[256];
	int		i;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "{\"model\":\"%s\"}", model);
		http_post(run.port, "/v1/traces?wait=commit", body, &r);
		cr_assert_eq(r.status, 200);
	}
}

/* llm_traces rows of this run in a push state (harness.h). */
#define ROWS(...)	harness_rows(&run, &(struct row_match){ __VA_ARGS__ })

/* push_state's last success (Unix ms, 0: never). */
static long long
last_success(void)
{
	long long	at;
	char		err[512];

	harness_push_state(&run, &at, err, sizeof(err));
	return at;
}

/* push_state's last error starts with prefix. */
static int
last_error_is(const char *prefix)
{
	long long	at;
	char		err[512];

	harness_push_state(&run, &at, err, sizeof(err));
	return strncmp(err, prefix, strlen(prefix)) == 0;
}

/* push_state's last error holds s. */
static int
last_error_has(const char *s)
{
	long long	at;
	char		err[512];

	harness_push_state(&run, &at, err, sizeof(err));
	return strstr(err, s) != NULL;
}

static int
synced_is(void *arg)
{
	return ROWS(.synced = ROW_YES) == *(long long *)arg;
}

static int
wait_synced(long long n, int ms)
{
	return harness_wait(synced_is, &n, ms);
}

/* octd first (it makes the key), then a receiver for that key, then push. */
static void
start_with_receiver(const char *extra)
{
	char	key[128], conf[1024];
	int	port;

	harness_setup(&run, extra);
	harness_start(&run);
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	receiver = harness_receiver(recv_db, key, &port);
	snprintf(conf, sizeof(conf), "%spush_url = http://127.0.0.1:%d/in\n"
	    "push_interval_ms = 100\n", extra != NULL ? extra : "", port);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
}

struct both {
	long long	want;
};

static int
all_delivered(void *arg)
{
	struct both *b = arg;

	return harness_received(recv_db) == b->want &&
	    ROWS(.table = ROW_ALL_TABLES, .synced = ROW_YES) == b->want;
}

Test(push, events_reach_the_receiver_verified_and_are_marked_synced)
{
	struct http_res	r;
	struct both	b = { 3 };

	start_with_receiver(NULL);
	http_post(run.port, "/v1/traces", "{\"model\":\"gpt-4o\",\"input\":"
	    "\"hi\",\"team\":\"red\"}", &r);
	cr_assert_eq(r.status, 202);
	http_post(run.port, "/v1/errors", "{\"message\":\"boom\"}", &r);
	http_post(run.port, "/v1/metrics", "{\"name\":\"n\",\"value\":1.5}", &r);
	cr_assert(harness_wait(all_delivered, &b, 15000),
	    "receiver has %lld, synced %lld", harness_received(recv_db),
	    ROWS(.synced = ROW_YES));
	cr_assert_eq(file_int(recv_db, "SELECT count(*) FROM events e WHERE "
	    "type = 'llm_trace' AND json_extract(data, '$.model') = 'gpt-4o' AND "
	    "json_extract(data, '$.trace_id') = e.trace_id AND "
	    "json_extract(data, '$.attributes.team') = 'red' AND "
	    "json_extract(data, '$.truncated') = 0 AND "
	    "json_extract(data, '$.synced_at') IS NULL"), 1);
	cr_assert_eq(file_int(recv_db, "SELECT count(*) FROM events WHERE "
	    "type = 'error_event' AND json_extract(data, '$.level') = 'error'"),
	    1);
	cr_assert_eq(file_int(recv_db, "SELECT count(*) FROM events WHERE "
	    "type = 'system_metric' AND json_extract(data, '$.value') = 1.5"), 1);
	cr_assert_eq(ROWS(.batched = ROW_YES, .attempts = ROW_ATTEMPTS(0),
	    .dead = ROW_NO), 1);
	cr_assert_eq(file_int(recv_db, "SELECT count(DISTINCT agent_id) FROM "
	    "events WHERE length(agent_id) = 36"), 1, "one agent, by its id");
}

#define PUSH_FAST "push_interval_ms = 50\npush_backoff_base_ms = 200\n" \
		  "push_backoff_cap_ms = 400\n"

Test(push, a_500_charges_an_attempt_and_the_retry_reuses_the_batch_id)
{
	static const int script[] = { 500, 0, -1 };

	begin(NULL);
	post_n("m", 3);
	push_to_collector(script, PUSH_FAST);
	cr_assert(wait_requests(1, 10000));
	/* between the failure and the retry: unsynced, charged, due later */
	cr_assert(harness_wait(synced_is, &(long long){ 0 }, 100));
	cr_assert(wait_synced(3, 10000));
	cr_assert_eq(coll_int(&coll.requests), 2);
	cr_assert_str_eq(coll.ids[0], coll.ids[1], "same rows, same batch id");
	cr_assert_eq(ROWS(.attempts = ROW_ATTEMPTS(1), .dead = ROW_NO,
	    .error = "HTTP 500%", .batched = ROW_YES), 3);
	cr_assert_eq(json_object_size(coll.events), 3);
	cr_assert_eq(coll.bad_signatures, 0);
}

static int
charged(void *arg)
{
	(void)arg;
	return ROWS(.attempts = ROW_ATTEMPTS(1), .synced = ROW_NO,
	    .scheduled = ROW_YES) == 2;
}

Test(push, rows_stay_unsynced_after_a_failed_attempt)
{
	static const int script[] = { 503, 0, -1 };

	begin(NULL);
	post_n("m", 2);
	push_to_collector(script, "push_interval_ms = 50\n"
	    "push_backoff_base_ms = 3000\npush_backoff_cap_ms = 3000\n");
	cr_assert(harness_wait(charged, NULL, 10000),
	    "after a 503 the rows are charged and still unsynced");
	cr_assert_eq(ROWS(.synced = ROW_YES), 0);
	cr_assert(wait_synced(2, 10000));
}

Test(push, retry_after_is_honoured)
{
	static const int script[] = { 429, 0, -1 };
	long long gap;

	coll.retry_after = "2";
	begin(NULL);
	post_n("m", 1);
	push_to_collector(script, PUSH_FAST);
	cr_assert(wait_synced(1, 10000));
	gap = coll.at_ms[1] - coll.at_ms[0];
	cr_assert_geq(gap, 2000, "retried after %lld ms, not the 2 s asked", gap);
}

Test(push, a_413_splits_the_batch_and_everything_arrives_once)
{
	begin(NULL);
	post_n("m", 40);
	coll.max_body = 3000;
	push_to_collector(NULL, PUSH_FAST);
	cr_assert(wait_synced(40, 15000));
	cr_assert_eq(json_object_size(coll.events), 40);
	cr_assert_eq(coll.stored, 40, "each event stored once");
	cr_assert_leq(coll.biggest, 20000);
	cr_assert_gt(coll.requests, 2, "split in halves");
}

Test(push, requests_never_exceed_push_max_payload_bytes)
{
	begin(NULL);
	post_n("model-with-a-longer-name", 100);
	push_to_collector(NULL, PUSH_FAST "push_max_payload_bytes = 2k\n");
	cr_assert(wait_synced(100, 15000));
	cr_assert_leq(coll.biggest, 2048, "a body of %zu bytes", coll.biggest);
	cr_assert_eq(coll.stored, 100);
	cr_assert_geq(coll.requests, 100 * 250 / 2048);
}

Test(push, an_event_larger_than_the_limit_is_dead_with_the_reason)
{
	struct http_res	 r;
	char		*body = malloc(4000);

	begin(NULL);
	snprintf(body, 4000, "{\"model\":\"big\",\"input\":\"%03000d\"}", 7);
	http_post(run.port, "/v1/traces?wait=commit", body, &r);
	post_n("small", 2);
	push_to_collector(NULL, PUSH_FAST "push_max_payload_bytes = 2k\n");
	cr_assert(wait_synced(2, 10000));
	cr_assert(harness_wait(synced_is, &(long long){ 2 }, 500));
	cr_assert_eq(ROWS(.model = "big", .dead = ROW_YES, .synced = ROW_NO,
	    .error = "%over push_max_payload_bytes (2048)"), 1);
	free(body);
}

Test(push, a_400_is_bisected_down_to_the_poison_event)
{
	begin(NULL);
	post_n("m", 5);
	post_n("poison", 1);
	post_n("m", 4);
	push_to_collector(NULL, PUSH_FAST);
	cr_assert(wait_synced(9, 15000));
	cr_assert(harness_wait(synced_is, &(long long){ 9 }, 300));
	cr_assert_eq(ROWS(.model = "poison", .dead = ROW_YES,
	    .error = "HTTP 400%"), 1);
	cr_assert_eq(ROWS(.dead = ROW_NO, .attempts = ROW_ATTEMPTS(0)), 9,
	    "nothing charged an attempt");
	cr_assert(last_error_is("HTTP 400") && last_success() > 0,
	    "a 400 is the last collector error, also when others went through");
}

static int
refused_alone_logged(void *arg)
{
	(void)arg;
	return harness_count(harness_log(&run, "pushd"), "error: collector "
	    "refused each of the 4 events of a batch alone: HTTP 400") >= 1;
}

/*
 * A collector that answers 400 to everything (a failed verification, as
 * most webhook examples answer it) has bisection find every event refused
 * alone: the collector is at fault, not the events.
 */
Test(push, a_collector_refusing_every_event_alone_kills_none_and_pauses)
{
	char		out[65536];
	long long	gap;

	coll.always = 400;
	begin(NULL);
	post_n("m", 4);
	push_to_collector(NULL, "push_interval_ms = 50\n"
	    "push_backoff_base_ms = 100\npush_backoff_cap_ms = 1500\n");
	/* 4 events: the batch, 2 halves, 4 alone; then the next round */
	cr_assert(wait_requests(8, 15000));
	gap = coll.at_ms[7] - coll.at_ms[6];
	cr_assert_geq(gap, 1500, "paused at the cap after the bisection (%lld "
	    "ms)", gap);
	cr_assert_eq(ROWS(.dead = ROW_NO, .attempts = ROW_ATTEMPTS(0),
	    .synced = ROW_NO), 4,
	    "none dead, none charged");
	cr_assert(harness_wait(refused_alone_logged, NULL, 5000), "%s",
	    harness_slurp(harness_log(&run, "pushd")));
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 1, "%s", out);
	cr_assert(strstr(out, "pushed 0 of 4 events in 7 batches"), "%s", out);
	cr_assert(strstr(out, "1 failure, 0 dead, 4 left"), "%s", out);
	cr_assert(strstr(out, "octctl: HTTP 400"), "%s", out);
	{
		char *argv[] = { (char *)harness_bin("octctl"), "-c", run.conf,
		    "push-status", NULL };

		harness_run(argv, out, sizeof(out));
		cr_assert(strstr(out, "last collector error: HTTP 400"), "%s",
		    out);
	}
	cr_assert_eq(ROWS(.dead = ROW_NO, .attempts = ROW_ATTEMPTS(0),
	    .synced = ROW_NO), 4);
}

Test(push, rejected_events_go_dead_the_rest_are_synced)
{
	begin(NULL);
	post_n("m", 2);
	post_n("bad", 1);
	push_to_collector(NULL, PUSH_FAST);
	cr_assert(wait_synced(2, 10000));
	cr_assert_eq(ROWS(.model = "bad", .dead = ROW_YES, .synced = ROW_NO,
	    .error = "model bad is refused"), 1);
}

static int
paused_with_error(void *arg)
{
	(void)arg;
	return last_error_is("HTTP 401");
}

Test(push, a_401_charges_nothing_and_pauses_at_the_cap)
{
	static const int script[] = { 401, 401, 401, -1 };

	begin(NULL);
	post_n("m", 2);
	push_to_collector(script, "push_interval_ms = 50\n"
	    "push_backoff_base_ms = 100\npush_backoff_cap_ms = 1500\n");
	cr_assert(wait_requests(2, 10000));
	cr_assert_geq(coll.at_ms[1] - coll.at_ms[0], 1500,
	    "paused at the cap (%lld ms)", coll.at_ms[1] - coll.at_ms[0]);
	cr_assert(harness_wait(paused_with_error, NULL, 5000));
	cr_assert_eq(ROWS(.attempts = ROW_ATTEMPTS(0), .synced = ROW_NO,
	    .dead = ROW_NO), 2);
}

static int
all_dead(void *arg)
{
	return ROWS(.dead = ROW_YES, .attempts = ROW_ATTEMPTS(2)) ==
	    *(long long *)arg;
}

Test(push, rows_die_after_max_attempts_once_old_enough)
{
	static const int script[] = { 500, 500, 500, 500, -1 };

	begin(NULL);
	post_n("m", 2);
	push_to_collector(script, PUSH_FAST "push_max_attempts = 2\n"
	    "push_give_up_after_ms = 0\n");
	cr_assert(harness_wait(all_dead, &(long long){ 2 }, 10000));
	cr_assert_eq(coll_int(&coll.requests), 2, "no request after dead");
}

Test(push, an_outage_never_kills_young_rows)
{
	static const int script[] = { 500, 500, 500, 500, 0, -1 };

	begin(NULL);
	post_n("m", 1);
	push_to_collector(script, PUSH_FAST "push_max_attempts = 2\n"
	    "push_give_up_after_ms = 1h\n");
	cr_assert(wait_synced(1, 15000));
	cr_assert_eq(ROWS(.attempts = ROW_ATTEMPTS(4), .dead = ROW_NO), 1);
}

static int
five_thousand(void *arg)
{
	(void)arg;
	return harness_received(recv_db) == 5000 &&
	    ROWS(.synced = ROW_YES) == 5000;
}

static int
some_synced(void *arg)
{
	(void)arg;
	return ROWS(.synced = ROW_YES) >= 1000;
}

Test(push, kill9_of_pushd_and_writerd_mid_push_loses_and_duplicates_nothing)
{
	struct http_res	r;
	char		body[64 * 60];
	int		i, j;

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
	{
		char	key[128], conf[256];
		int	port;

		harness_pubkey(&run, key, sizeof(key));
		snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
		receiver = harness_receiver(recv_db, key, &port);
		snprintf(conf, sizeof(conf), "push_batch_size = 100\n"
		    "push_url = http://127.0.0.1:%d/in\npush_interval_ms = 50\n",
		    port);
		harness_write_conf(&run, conf);
		cr_assert_eq(kill(run.pid, SIGHUP), 0);
	}
	cr_assert(harness_wait(some_synced, NULL, 20000));
	cr_assert_eq(kill(worker("pushd"), SIGKILL), 0);
	cr_assert_eq(kill(worker("writerd"), SIGKILL), 0);
	cr_assert(harness_wait(five_thousand, NULL, 60000),
	    "receiver %lld, synced %lld", harness_received(recv_db),
	    ROWS(.synced = ROW_YES));
	cr_assert_eq(file_int(recv_db, "SELECT count(DISTINCT trace_id) FROM "
	    "events"), 5000);
}

static int
key_refusal_recorded(void *arg)
{
	(void)arg;
	return last_error_has("readable by group or others");
}

Test(push, a_key_others_can_read_stops_pushing_not_collecting)
{
	char	path[600], logp[600];
	char	conf[300];

	begin(NULL);
	snprintf(path, sizeof(path), "%s/data/signing.key", run.dir);
	cr_assert_eq(chmod(path, 0644), 0);
	post_n("m", 2);
	coll_start(NULL);	/* nothing may reach it: no key needed */
	snprintf(conf, sizeof(conf), PUSH_FAST "push_url = "
	    "http://127.0.0.1:%d/in\n", coll.port);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(key_refusal_recorded, NULL, 10000));
	snprintf(logp, sizeof(logp), "%s/log/pushd.log", run.dir);
	cr_assert_geq(harness_count(logp, "error: not pushing: signing key"), 1);
	post_n("still", 1);
	cr_assert_eq(coll_int(&coll.requests), 0, "never sent unsigned");
	cr_assert_eq(ROWS(.synced = ROW_NO), 3);
}

/* octctl -c run.conf push [args]; output (stdout and stderr) in out. */
static int
octctl_push(char *out, size_t len, const char *a, const char *b)
{
	char *argv[] = { (char *)harness_bin("octctl"), "-c", run.conf, "push",
	    (char *)a, (char *)b, NULL };

	return harness_run(argv, out, len);
}

#define PUSH_MANUAL "push_interval_ms = 1h\n"

Test(push, octctl_push_delivers_everything_and_says_so)
{
	static const int script[] = { -1 };
	char out[65536], want[200];

	begin(NULL);
	post_n("m", 30);
	push_to_collector(script, PUSH_MANUAL "push_max_payload_bytes = 2k\n");
	cr_assert(wait_requests(1, 10000), "pushd's first cycle at start");
	cr_assert(wait_synced(30, 10000));
	post_n("n", 40);
	cr_assert_eq(octctl_push(out, sizeof(out), "--verbose", NULL), 0, "%s",
	    out);
	cr_assert(strstr(out, "-> HTTP 200 in "), "%s", out);
	snprintf(want, sizeof(want), "pushed 40 of 40 events in ");
	cr_assert(strstr(out, want), "%s", out);
	cr_assert(strstr(out, ", 0 failures, 0 dead, 0 left\n"), "%s", out);
	cr_assert_eq(ROWS(.synced = ROW_NO), 0);
	cr_assert_eq(coll.stored, 70);
}

/*
 * "Push now" means what was accepted before it was asked: an event answered
 * 202 a moment ago, still waiting in writerd for its batch (batch_ms is a
 * minute here), goes in the same push.
 */
/* octd pushing to the scripted collector from its first start, its key
 * made beforehand; batch_ms a minute, so only a flush commits. */
static void
begin_held(const int *script)
{
	struct key	 k;
	char		 path[600], err[512];

	harness_setup(&run, NULL);
	snprintf(path, sizeof(path), "%s/data", run.dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/data/signing.key", run.dir);
	cr_assert_eq(key_create(path, 0, &k, err, sizeof(err)), 0, "%s", err);
	point_at_collector(script, "batch_ms = 60s\n" PUSH_MANUAL);
	harness_start(&run);
}

Test(push, octctl_push_sends_what_was_answered_202_just_before)
{
	static const int script[] = { -1 };
	struct http_res	 r;
	char		 out[65536];

	begin_held(script);
	http_post(run.port, "/v1/traces", "{\"model\":\"just-now\"}", &r);
	cr_assert_eq(r.status, 202);
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 0, "%s", out);
	cr_assert(strstr(out, "pushed 1 of 1 event in 1 batch ("), "%s", out);
	cr_assert_eq(coll_int(&coll.stored), 1);
	cr_assert_eq(ROWS(.model = "just-now", .synced = ROW_YES), 1);
}

/* What a process has written so far (/proc/PID/io wchar). */
static long long
wchar(pid_t pid)
{
	char		 path[64], line[128];
	long long	 n = -1;
	FILE		*f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

struct wrote {
	pid_t		pid;
	long long	before;
};

static int
has_written(void *arg)
{
	struct wrote *w = arg;

	return wchar(w->pid) > w->before;
}

/* octctl -c run.conf push, in the background, its output into path. */
static pid_t
octctl_push_bg(const char *path)
{
	pid_t	pid = fork();
	int	fd;

	cr_assert(pid != -1);
	if (pid == 0) {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(harness_bin("octctl"), "octctl", "-c", run.conf, "push",
		    (char *)NULL);
		_exit(127);
	}
	return pid;
}

/*
 * The same, made certain: writerd is stopped while 30 events (9 KB, more
 * than the 4 KB libevent reads at a time) are answered and while pushd
 * writes its flush. Woken, writerd meets the flush before most of those
 * frames, and must read them before it commits.
 */
Test(push, octctl_push_reads_what_writerd_has_not_read_yet)
{
	static const int script[] = { -1 };
	struct http_res	 r;
	struct wrote	 w;
	pid_t		 writerd, ctl;
	char		 body[400], path[600], *out;
	int		 i, status;

	begin_held(script);
	writerd = worker("writerd");
	w.pid = worker("pushd");
	cr_assert(writerd > 0 && w.pid > 0);
	cr_assert_eq(kill(writerd, SIGSTOP), 0);
	snprintf(body, sizeof(body), "{\"model\":\"held\",\"input\":\"%0250d\"}",
	    0);
	for (i = 0; i < 30; i++) {
		http_post(run.port, "/v1/traces", body, &r);
		cr_assert_eq(r.status, 202);
	}
	w.before = wchar(w.pid);
	snprintf(path, sizeof(path), "%s/push.out", run.dir);
	ctl = octctl_push_bg(path);
	cr_assert(harness_wait(has_written, &w, 10000), "pushd sent its flush");
	cr_assert_eq(kill(writerd, SIGCONT), 0);
	cr_assert_eq(waitpid(ctl, &status, 0), ctl);
	out = harness_slurp(path);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	cr_assert(strstr(out, "pushed 30 of 30 events"), "%s", out);
	free(out);
	cr_assert_eq(coll_int(&coll.stored), 30);
}

/* writerd that cannot commit: the push ends saying so, it does not hang. */
Test(push, octctl_push_says_so_when_writerd_does_not_commit)
{
	static const int script[] = { -1 };
	struct http_res	 r;
	pid_t		 writerd;
	char		 out[65536];

	begin_held(script);
	http_post(run.port, "/v1/traces", "{\"model\":\"m\"}", &r);
	cr_assert_eq(r.status, 202);
	writerd = worker("writerd");
	cr_assert(writerd > 0);
	cr_assert_eq(kill(writerd, SIGSTOP), 0);
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 1, "%s", out);
	cr_assert(strstr(out, "writerd has not committed the events it holds"),
	    "%s", out);
	cr_assert_eq(coll_int(&coll.requests), 0);
	cr_assert_eq(kill(writerd, SIGCONT), 0);
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 0, "%s", out);
	cr_assert(strstr(out, "pushed 1 of 1 event in"), "%s", out);
}

Test(push, octctl_push_exits_1_when_the_collector_fails)
{
	static const int script[] = { 503, 503, 503, -1 };
	char out[65536];

	begin(NULL);
	post_n("m", 3);
	push_to_collector(script, PUSH_MANUAL);
	cr_assert(wait_requests(1, 10000));
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 1, "%s", out);
	cr_assert(strstr(out, "pushed 0 of 3 events in 1 batch ("), "%s", out);
	cr_assert(strstr(out, "1 failure, 0 dead, 3 left"), "%s", out);
	cr_assert(strstr(out, "octctl: HTTP 503"), "%s", out);
}

Test(push, octctl_push_force_sends_dead_rows)
{
	static const int script[] = { 500, 500, 0, -1 };
	char out[65536];

	begin(NULL);
	post_n("m", 2);
	push_to_collector(script, PUSH_MANUAL "push_max_attempts = 1\n"
	    "push_give_up_after_ms = 0\n");
	cr_assert(wait_requests(1, 10000));
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 0, "%s", out);
	cr_assert(strstr(out, "pushed 0 of 0 events"), "dead rows wait: %s",
	    out);
	cr_assert_eq(ROWS(.dead = ROW_YES), 2);
	cr_assert_eq(octctl_push(out, sizeof(out), "--force", NULL), 1,
	    "the collector fails once more: %s", out);
	cr_assert_eq(octctl_push(out, sizeof(out), "--force", NULL), 0, "%s",
	    out);
	cr_assert(strstr(out, "pushed 2 of 2 events"), "%s", out);
	cr_assert_eq(ROWS(.synced = ROW_YES, .dead = ROW_NO), 2,
	    "a dead row delivered is synced");
}

/*
 * Each drawing of the bar in what octctl wrote to its terminal (before the
 * summary): it fits cols - 1 columns and holds no line break. Returns the
 * last drawing (in a static buffer).
 */
static const char *
bars_fit(const char *out, int cols)
{
	static char	 last[512];
	char		*copy = strdup(out), *end = strstr(copy, "pushed ");
	char		*seg, *save = NULL;
	size_t		 n;
	int		 drawn = 0;

	cr_assert_not_null(end, "%s", out);
	*end = '\0';
	for (seg = strtok_r(copy, "\r", &save); seg != NULL;
	    seg = strtok_r(NULL, "\r", &save)) {
		if (strcmp(seg, "\n") == 0)
			continue;	/* the line break after the last drawing */
		n = strcspn(seg, "\033");
		cr_assert_str_eq(seg + n, "\033[K", "one line, redrawn: %s",
		    seg);
		cr_assert_leq(n, (size_t)cols - 1, "%zu columns: %.*s", n,
		    (int)n, seg);
		snprintf(last, sizeof(last), "%.*s", (int)n, seg);
		drawn++;
	}
	free(copy);
	cr_assert_geq(drawn, 2, "%s", out);
	return last;
}

Test(push, octctl_push_draws_a_progress_bar_that_fits_80_columns)
{
	static const int script[] = { -1 };
	struct winsize	 ws = { .ws_row = 24, .ws_col = 80 };
	const char	*last;
	char		 out[65536], unit[8];
	double		 done, total;
	size_t		 len = 0;
	ssize_t		 n;
	int		 master, status, batches;
	pid_t		 pid;

	begin(NULL);
	post_n("m", 20);
	push_to_collector(script, PUSH_MANUAL "push_max_payload_bytes = 1k\n");
	cr_assert(wait_requests(1, 10000));
	post_n("n", 20);
	pid = forkpty(&master, NULL, NULL, &ws);
	cr_assert(pid != -1);
	if (pid == 0) {
		execl(harness_bin("octctl"), "octctl", "-c", run.conf, "push",
		    (char *)NULL);
		_exit(127);
	}
	while (len < sizeof(out) - 1 &&
	    (n = read(master, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	last = bars_fit(out, 80);
	cr_assert(strncmp(last, "[#####", 6) == 0 && strstr(last, "#] "),
	    "a full bar: %s", last);
	cr_assert_eq(sscanf(strstr(last, "] ") + 2, "20/20 events  %lf/%lf %7s "
	    " %d batches  0 failures", &done, &total, unit, &batches), 4,
	    "events, bytes, batches and failures: %s", last);
	cr_assert(done == total && done > 0, "the payload sent of the total: "
	    "%s", last);
	cr_assert(strcmp(unit, "kB") == 0 || strcmp(unit, "B") == 0, "%s",
	    last);
	cr_assert_gt(batches, 1, "%s", last);
	cr_assert(strstr(out, "pushed 20 of 20 events"), "%s", out);
	close(master);
}

/* The collector took 2 of 3 events: not everything was delivered. */
Test(push, octctl_push_exits_1_when_the_collector_rejects_some)
{
	static const int script[] = { -1 };
	char	 out[65536];
	json_t	*o;

	begin(NULL);
	post_n("m", 1);
	push_to_collector(script, PUSH_MANUAL);
	cr_assert(wait_requests(1, 10000));
	post_n("m", 2);
	post_n("bad", 1);
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 1, "%s", out);
	cr_assert(strstr(out, "pushed 2 of 3 events in 1 batch ("), "%s", out);
	cr_assert(strstr(out, "0 failures, 1 dead, 0 left\n"), "%s", out);
	cr_assert(strstr(out, "octctl: 1 event was not delivered: refused by "
	    "the collector"), "%s", out);
	post_n("m", 1);
	post_n("bad", 1);
	cr_assert_eq(octctl_push(out, sizeof(out), "--json", "--verbose"), 1,
	    "%s", out);
	o = json_loads(out, 0, NULL);
	cr_assert_not_null(o, "one JSON object: %s", out);
	cr_assert_eq(json_integer_value(json_object_get(o, "total")), 2, "%s",
	    out);
	cr_assert_eq(json_integer_value(json_object_get(o, "sent")), 1);
	cr_assert_eq(json_integer_value(json_object_get(o, "dead")), 1);
	cr_assert_eq(json_integer_value(json_object_get(o, "failures")), 0);
	cr_assert_eq(json_integer_value(json_object_get(o, "remaining")), 0);
	cr_assert_eq(json_integer_value(json_object_get(o, "batches")), 1);
	cr_assert_gt(json_integer_value(json_object_get(o, "bytes")), 0);
	cr_assert_gt(json_integer_value(json_object_get(o, "payload_bytes")),
	    0);
	cr_assert_gt(json_integer_value(json_object_get(o,
	    "total_payload_bytes")), json_integer_value(json_object_get(o,
	    "payload_bytes")), "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(
	    json_object_get(o, "requests"), 0), "status")), 200, "%s", out);
	cr_assert_null(json_object_get(o, "error"), "%s", out);
	json_decref(o);
}

static int
stopped(void *arg)
{
	return harness_reaped(arg);
}

/* Found in review: pushd left before its marks were written, so rows the
 * collector had taken went out again under a new batch id. */
Test(push, a_stop_during_a_request_keeps_its_marks)
{
	begin(NULL);
	post_n("m", 2);
	coll.delay_ms = 1500;
	push_to_collector(NULL, "push_interval_ms = 50\n");
	cr_assert(wait_requests(1, 10000));
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(stopped, &run, 15000));
	cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0);
	cr_assert_eq(ROWS(.synced = ROW_YES, .batched = ROW_YES), 2,
	    "the answer came during the stop; its marks are committed");
}

/* Stop octd and wait until it is gone. */
static void
stop_octd(void)
{
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(stopped, &run, 15000));
	cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0);
}

Test(push, octctl_push_with_octd_stopped_delivers_to_a_receiver)
{
	char	key[128], conf[256], out[65536];
	int	port;

	begin(NULL);
	post_n("m", 30);
	stop_octd();
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	receiver = harness_receiver(recv_db, key, &port);
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d/in\n"
	    "push_max_payload_bytes = 2k\n", port);
	harness_write_conf(&run, conf);
	cr_assert_eq(octctl_push(out, sizeof(out), "--verbose", NULL), 0, "%s",
	    out);
	cr_assert(strstr(out, "-> HTTP 200 in "), "%s", out);
	cr_assert(strstr(out, "pushed 30 of 30 events in "), "%s", out);
	cr_assert(strstr(out, ", 0 failures, 0 dead, 0 left\n"), "%s", out);
	cr_assert_eq(file_int(recv_db, "SELECT count(DISTINCT trace_id) FROM "
	    "events"), 30, "verified and stored by oct-receiver");
	cr_assert_eq(ROWS(.synced = ROW_YES, .batched = ROW_YES), 30,
	    "marked synced by octctl itself");
	cr_assert_gt(last_success(), 0);
}

Test(push, octctl_push_with_octd_stopped_charges_a_failure)
{
	static const int script[] = { 503, -1 };
	char out[65536];

	begin(NULL);
	post_n("m", 3);
	stop_octd();
	point_at_collector(script, NULL);
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 1, "%s", out);
	cr_assert(strstr(out, "pushed 0 of 3 events in 1 batch ("), "%s", out);
	cr_assert(strstr(out, "1 failure, 0 dead, 3 left"), "%s", out);
	cr_assert(strstr(out, "octctl: HTTP 503"), "%s", out);
	cr_assert_eq(ROWS(.synced = ROW_NO, .attempts = ROW_ATTEMPTS(1),
	    .scheduled = ROW_YES, .error = "HTTP 503%"), 3,
	    "the attempt is recorded");
	cr_assert_eq(octctl_push(out, sizeof(out), "--force", NULL), 0, "%s",
	    out);
	cr_assert(strstr(out, "pushed 3 of 3 events in 1 batch ("), "%s", out);
	cr_assert_eq(coll_int(&coll.stored), 3);
	cr_assert_eq(ROWS(.synced = ROW_YES), 3);
}

/*
 * The next request is built and signed while the collector answers the one
 * before; an answer that takes seconds must not leave it with a stale
 * webhook-timestamp (a collector's tolerance is a few minutes at most).
 */
Test(push, octctl_push_stamps_each_request_when_it_goes_out)
{
	static const int script[] = { -1 };
	char out[65536];

	begin(NULL);
	post_n("m", 8);
	stop_octd();
	coll.delay_ms = 3500;
	point_at_collector(script, "push_max_payload_bytes = 1k\n");
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 0, "%s", out);
	cr_assert_gt(coll_int(&coll.requests), 1, "%s", out);
	cr_assert_eq(coll_int(&coll.stored), 8);
	cr_assert_leq(coll_int(&coll.ts_skew), 1, "a webhook-timestamp %d s "
	    "away from when its request arrived", coll_int(&coll.ts_skew));
}

Test(push, octctl_push_with_octd_stopped_needs_the_writer_lock)
{
	static const int script[] = { -1 };
	char	out[65536], lock[700];
	int	fd;

	begin(NULL);
	post_n("m", 2);
	stop_octd();
	point_at_collector(script, NULL);
	snprintf(lock, sizeof(lock), "%s/data/oct.db.lock", run.dir);
	cr_assert_neq(fd = open(lock, O_RDWR), -1);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	cr_assert_eq(octctl_push(out, sizeof(out), NULL, NULL), 1, "%s", out);
	cr_assert(strstr(out, "octctl: octd is not running; pushing without it "
	    "needs the writer lock: "), "%s", out);
	cr_assert(strstr(out, "in use by another writer"), "%s", out);
	cr_assert_eq(coll_int(&coll.requests), 0);
	close(fd);
	cr_assert_eq(ROWS(.synced = ROW_NO, .attempts = ROW_ATTEMPTS(0)), 2,
	    "nothing changed");
}

/*
 * A collector whose 200 is no whole answer: "Content-Length: 1000" and a
 * close after a few bytes (cut), or 17 MiB, more than pushd reads of an
 * answer (huge). Raw sockets, since evhttp will not send a short body.
 */
#define HUGE_ANSWER	(17 * 1024 * 1024)

static struct {
	int		fd, port, requests, huge;
	pthread_t	thread;
} cut = { .fd = -1 };

/* Read one request (headers, then Content-Length bytes) from fd. */
static int
read_request(int fd)
{
	char		 buf[65536], *eoh, *cl;
	size_t		 len = 0, want = 0;
	ssize_t		 n;

	while (len < sizeof(buf) - 1) {
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if ((eoh = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if (want == 0 && (cl = strcasestr(buf, "\r\nContent-Length:"))
		    != NULL)
			want = (size_t)(eoh + 4 - buf) + strtoul(cl + 17, NULL,
			    10);
		if (len >= want)
			return 0;
	}
	return -1;
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0 && (n = write(fd, p, len)) > 0) {
		p += n;
		len -= (size_t)n;
	}
}

static void
cut_answer(int c)
{
	static const char cut_ans[] = "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: 1000\r\n\r\n{\"rejec";
	char	 head[200], *body;
	int	 n;

	if (!cut.huge) {
		write_all(c, cut_ans, sizeof(cut_ans) - 1);
		return;
	}
	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %d\r\n\r\n", HUGE_ANSWER);
	write_all(c, head, (size_t)n);
	body = malloc(HUGE_ANSWER);
	memset(body, ' ', HUGE_ANSWER);
	body[0] = '{';
	body[HUGE_ANSWER - 1] = '}';
	write_all(c, body, HUGE_ANSWER);
	free(body);
}

static void *
cut_loop(void *arg)
{
	int c;

	(void)arg;
	while ((c = accept(cut.fd, NULL, NULL)) != -1) {
		if (read_request(c) == 0) {
			__atomic_add_fetch(&cut.requests, 1, __ATOMIC_SEQ_CST);
			cut_answer(c);
		}
		close(c);
	}
	return NULL;
}

/* Start it and point octd at it: manual pushes, a minute's backoff. */
static void
cut_start(int huge)
{
	struct sockaddr_in	sin;
	char			conf[300];

	cut.huge = huge;
	cut.port = harness_free_port();
	cut.fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(cut.fd != -1);
	setsockopt(cut.fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)cut.port);
	cr_assert_eq(bind(cut.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(cut.fd, 16), 0);
	cr_assert_eq(pthread_create(&cut.thread, NULL, cut_loop, NULL), 0);
	snprintf(conf, sizeof(conf), PUSH_MANUAL "push_backoff_base_ms = 60s\n"
	    "push_backoff_cap_ms = 60s\npush_url = http://127.0.0.1:%d/in\n",
	    cut.port);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
}

static int
cut_requests(void *arg)
{
	return __atomic_load_n(&cut.requests, __ATOMIC_SEQ_CST) >= *(int *)arg;
}

static int
charged_once_by_the_cut(void *arg)
{
	(void)arg;
	return ROWS(.synced = ROW_NO, .attempts = ROW_ATTEMPTS(1),
	    .scheduled = ROW_YES) == 3;
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
 * pushd's cycle meets the broken answer first, then octctl push does: it
 * ends (within 20 s) after one request, saying nothing was delivered.
 */
static void
push_meets_a_broken_2xx(int huge)
{
	struct child	 c;
	char		 path[600], *out;
	int		 one = 1;

	begin(NULL);
	post_n("m", 3);
	cut_start(huge);
	cr_assert(harness_wait(cut_requests, &one, 10000));
	cr_assert(harness_wait(charged_once_by_the_cut, NULL, 5000),
	    "the rows of the broken answer are charged and not synced");
	snprintf(path, sizeof(path), "%s/push.out", run.dir);
	c.pid = octctl_push_bg(path);
	if (!harness_wait(exited, &c, 20000)) {
		kill(c.pid, SIGKILL);
		waitpid(c.pid, NULL, 0);
		cr_assert_fail("octctl push still running after 20 s and %d "
		    "requests", __atomic_load_n(&cut.requests,
		    __ATOMIC_SEQ_CST));
	}
	out = harness_slurp(path);
	cr_assert(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 1, "%s", out);
	cr_assert(strstr(out, "pushed 0 of 3 events in 1 batch ("), "%s", out);
	cr_assert(strstr(out, "1 failure, 0 dead, 3 left"), "%s", out);
	free(out);
	cr_assert_eq(__atomic_load_n(&cut.requests, __ATOMIC_SEQ_CST), 2,
	    "one request by pushd's cycle, one by octctl push, no loop");
	cr_assert_eq(ROWS(.synced = ROW_NO, .attempts = ROW_ATTEMPTS(2),
	    .dead = ROW_NO), 3);
}

/* A 2xx cut short is no delivery: the rows are charged and wait. */
Test(push, a_2xx_whose_answer_was_cut_is_a_transport_failure)
{
	push_meets_a_broken_2xx(0);
}

/* Which events a 2xx over 16 MiB rejected cannot be known: the same. */
Test(push, a_2xx_whose_answer_is_too_long_is_a_transport_failure)
{
	push_meets_a_broken_2xx(1);
}
