/*
 * cycle.c: the push cycle (SPEC section 6), run by oct-pushd and, with
 * octd stopped, by octctl push; they differ only in their push_sink.
 *
 * A cycle: fetch up to push_batch_size due rows (read-only connection),
 * cut them into requests, send them one at a time, turn each answer into
 * marks for writerd, and start the next cycle once writerd has committed
 * them: at once if the fetch was full, else after push_interval_ms.
 * A collector that is unwell (408, 429, 5xx, no answer) pauses the whole
 * loop by a full-jitter backoff, drawn once per failed request; the rows
 * of that request are charged an attempt and go again, together and under
 * the same batch id, when the pause is over. A collector that refuses our
 * configuration (3xx, 401, 403, 404) pauses the loop at the backoff cap
 * and charges nothing; so does one that refuses, in a 400/422 bisection,
 * every event of the batch alone (it is at fault, not the events).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>

#include "event.h"
#include "conf.h"
#include "key.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "pushd.h"

/*
 * octctl push: one pass over the rows, in order, from a cursor, so a row
 * that goes dead on the way is not fetched again (even with force); the
 * pass ends when a fetch comes back short or a request fails.
 */
struct session {
	int			 active, force, verbose, failed;
	int			 fetched;	/* its first fetch is done */
	int			 flushing;	/* waits for writerd's commit */
	int			 sizing;	/* adds up total_payload */
	int64_t			 batch, total, sent, bytes, batches, dead;
	int64_t			 payload, total_payload;	/* -1: unknown */
	int64_t			 started;
	struct fetch_cursor	 cur, size_cur;
};

/*
 * A 400/422 bisection (SPEC section 6): how many events it covers, how
 * many of them are not answered yet, and those refused alone, held until
 * every part is answered. They go dead only if the collector took another
 * event of the batch; refused one and all, the collector is at fault.
 * Its requests go first (at the queue's head), so one runs at a time.
 */
static struct {
	int		 n, pending, nheld;
	struct push_row	*held;		/* row ids only: data freed */
	char		**why;
} bis;

static struct {
	struct event_base	*base;
	const struct conf	*conf;
	const struct push_sink	*sink;
	struct store		*ro;
	int			 own_ro;	/* opened here, closed here */
	struct key		 key;
	int			 key_ok;
	char			 key_err[512];
	uint8_t			 hmac[256];
	size_t			 hmac_len;
	struct agent_info	 agent;
	char			*host_json;
	char			 agent_id[UUID_STR_LEN];
	struct reqq		 queue;
	struct req		*inflight;
	struct req		*retry;		/* to send first after a pause */
	struct event		*timer;
	struct event		*flush_timer;	/* writerd's answer is late */
	struct event		*size_timer;	/* a session's sizing step */
	int64_t			 paused_until;
	int			 more;		/* the last fetch was full */
	int			 waiting;	/* for writerd to commit marks */
	int			 stopping;
	char			 last_error[512];
	struct session		 ses;
} pd = { .queue = TAILQ_HEAD_INITIALIZER(pd.queue) };

static void	cycle(void);
static void	send_next(void);

static void
schedule(int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(pd.timer, &tv);
}

static void
on_timer(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	cycle();
}

static int
skipped(const char *id, const char *const *skip, size_t nskip)
{
	size_t j;

	for (j = 0; j < nskip; j++)
		if (strcmp(skip[j], id) == 0)
			return 1;
	return 0;
}

/*
 * Mark the rows of r, but those in skip, as synced or (with type
 * MSG_MARK_FAILED) as failed until next_at; link.c carries the frame.
 */
static void
mark_rows(uint16_t type, const struct req *r, const char *const *skip,
    size_t nskip, int64_t next_at, const char *error)
{
	struct msgb	b = { 0 };
	uint32_t	n = 0;
	int		i;

	for (i = 0; i < r->n; i++)
		n += !skipped(r->rows[i].trace_id, skip, nskip);
	if (n == 0)
		return;
	msg_init(&b, type, pd.sink->next_seq());
	msg_add_str(&b, r->batch_id);
	if (type == MSG_MARK_SYNCED)
		msg_add_i64(&b, now_ms());
	else {
		msg_add_i64(&b, next_at);
		msg_add_str(&b, error);
		msg_add_u8(&b, 1);
		msg_add_i64(&b, pd.conf->push_max_attempts);
		msg_add_i64(&b, now_ms() - pd.conf->push_give_up_after_ms);
	}
	msg_add_u32(&b, n);
	for (i = 0; i < r->n; i++) {
		if (skipped(r->rows[i].trace_id, skip, nskip))
			continue;
		msg_add_u8(&b, (uint8_t)r->rows[i].kind);
		msg_add_i64(&b, r->rows[i].id);
	}
	if (msg_close(&b) == -1)
		fatalx("mark frame too large");
	pd.sink->mark(&b);
	msg_free(&b);
}

/* The session the answers now count for, or NULL. */
static struct session *
counting(void)
{
	return pd.ses.active && pd.ses.fetched ? &pd.ses : NULL;
}

static void
mark_dead(const struct push_row *rows, int n, const char *const *reasons)
{
	struct msgb	b = { 0 };
	int		i;

	if (n == 0)
		return;
	if (counting() != NULL)
		counting()->dead += n;
	msg_init(&b, MSG_MARK_DEAD, pd.sink->next_seq());
	msg_add_u32(&b, (uint32_t)n);
	for (i = 0; i < n; i++) {
		msg_add_u8(&b, (uint8_t)rows[i].kind);
		msg_add_i64(&b, rows[i].id);
		msg_add_str(&b, reasons[i]);
	}
	if (msg_close(&b) == -1)
		fatalx("mark frame too large");
	pd.sink->mark(&b);
	msg_free(&b);
}

static void
mark_dead_one(const struct push_row *row, const char *reason)
{
	mark_dead(row, 1, &reason);
}

/* Record the last success or error for push-status. */
static void
state(int success, const char *error)
{
	struct msgb b = { 0 };

	if (!success && error != NULL && strcmp(error, pd.last_error) == 0)
		return;		/* said already */
	snprintf(pd.last_error, sizeof(pd.last_error), "%s",
	    error != NULL ? error : "");
	msg_init(&b, MSG_MARK_STATE, pd.sink->next_seq());
	msg_add_i64(&b, success ? now_ms() : 0);
	msg_add_str(&b, error);
	if (msg_close(&b) == -1)
		fatalx("state frame");
	pd.sink->mark(&b);
	msg_free(&b);
}

/* Unsynced rows a push would take now: live ones, or with force all. */
static int64_t
pending_rows(int force)
{
	struct table_stats	t;
	int64_t			n = 0;
	int			k;

	for (k = 0; k < EV_NKINDS && pd.ro != NULL; k++)
		if (store_table_stats(pd.ro, (enum event_kind)k, &t) == 0)
			n += t.pending + (force ? t.dead : 0);
	return n;
}

static void
report(int done, json_t *o)
{
	struct session	*s = &pd.ses;
	char		*line;

	json_object_set_new(o, "done", json_boolean(done));
	json_object_set_new(o, "total", json_integer(s->total));
	json_object_set_new(o, "sent", json_integer(s->sent));
	json_object_set_new(o, "bytes", json_integer(s->bytes));
	json_object_set_new(o, "payload_bytes", json_integer(s->payload));
	if (s->total_payload >= 0 && !s->sizing)
		json_object_set_new(o, "total_payload_bytes",
		    json_integer(s->total_payload));
	json_object_set_new(o, "batches", json_integer(s->batches));
	json_object_set_new(o, "failures", json_integer(s->failed));
	json_object_set_new(o, "dead", json_integer(s->dead));
	json_object_set_new(o, "elapsed_ms", json_integer(mono_ms() -
	    s->started));
	if ((line = json_dumps(o, JSON_COMPACT)) != NULL)
		pd.sink->report(done, line);
	free(line);
	json_decref(o);
}

static void
session_end(const char *error)
{
	json_t *o = json_object();

	if (error != NULL)
		json_object_set_new(o, "error", json_string(error));
	pd.ses.active = 0;
	json_object_set_new(o, "remaining", json_integer(pending_rows(
	    pd.ses.force)));
	report(1, o);
	log_info("push asked by octctl: %lld of %lld events sent in %lld "
	    "batches", (long long)pd.ses.sent, (long long)pd.ses.total,
	    (long long)pd.ses.batches);
}

/*
 * An answer to a request of a session: counted, and the start of its
 * progress line (with verbose, the request), to report once acted on.
 * NULL when no session counts it.
 */
static json_t *
session_answer(const struct req *r, const struct send_result *res)
{
	json_t *o;

	if (counting() == NULL)
		return NULL;
	pd.ses.batches++;
	pd.ses.bytes += (int64_t)res->sent_bytes;
	o = json_object();
	if (pd.ses.verbose)
		json_object_set_new(o, "request", json_pack("{s:s,s:i,s:I,s:I,"
		    "s:I,s:s?}", "batch_id", r->batch_id, "events", r->n,
		    "bytes", (json_int_t)res->sent_bytes, "status",
		    (json_int_t)res->status, "ms", (json_int_t)res->elapsed_ms,
		    "error", res->error));
	return o;
}

/* Forget a bisection: its held events stay as they are, to go again. */
static void
bis_abandon(void)
{
	int i;

	for (i = 0; i < bis.nheld; i++)
		free(bis.why[i]);
	free(bis.held);
	free(bis.why);
	memset(&bis, 0, sizeof(bis));
}

/* Drop the requests not sent yet, and with them any bisection. */
static void
drop_queue(void)
{
	struct req *r;

	while ((r = TAILQ_FIRST(&pd.queue)) != NULL) {
		TAILQ_REMOVE(&pd.queue, r, entry);
		req_free(r);
	}
	bis_abandon();
}

/*
 * Leave once nothing is in flight and writerd has committed every mark:
 * a mark lost here would send delivered rows again under a new batch id.
 * octd's shutdown_timeout_ms bounds the wait.
 */
static int
maybe_exit(void)
{
	if (pd.stopping && pd.inflight == NULL && pd.sink->idle()) {
		pd.sink->exit();
		return 1;
	}
	return 0;
}

/* The cycle is over once writerd has what it needs. */
static void
cycle_done(void)
{
	if (!pd.sink->idle()) {
		pd.waiting = 1;
		return;
	}
	if (maybe_exit())
		return;
	pd.waiting = 0;
	if (pd.ses.active && pd.ses.fetched && (pd.ses.failed || !pd.more)) {
		session_end(pd.ses.failed ? pd.last_error : NULL);
		pd.paused_until = pd.ses.failed ? pd.paused_until : 0;
	}
	schedule(pd.more || pd.ses.active ? 0 : pd.conf->push_interval_ms);
}

static void	session_begin(void);
static void	on_size_timer(evutil_socket_t, short, void *);

/*
 * A push waits this long for writerd to commit what ingestd holds (and the
 * marks before it); writerd down or its commits failing, the push ends
 * with that reason rather than leave octctl waiting. The flush itself
 * stays queued and is committed whenever writerd can.
 */
#define FLUSH_WAIT_S	10
static const struct timeval flush_wait = { FLUSH_WAIT_S, 0 };

static void
on_flush_late(evutil_socket_t fd, short ev, void *arg)
{
	char why[160];

	(void)fd;
	(void)ev;
	(void)arg;
	if (!pd.ses.active || !pd.ses.flushing)
		return;
	pd.ses.flushing = 0;
	snprintf(why, sizeof(why), "writerd has not committed the events it "
	    "holds for %d s; nothing was pushed (see writerd's log)",
	    FLUSH_WAIT_S);
	session_end(why);
	schedule(pd.conf->push_interval_ms);
}

void
push_marks_committed(void)
{
	if (maybe_exit())
		return;
	if (pd.ses.active && pd.ses.flushing) {
		pd.ses.flushing = 0;
		evtimer_del(pd.flush_timer);
		session_begin();
	}
	if (pd.waiting && pd.inflight == NULL && TAILQ_EMPTY(&pd.queue))
		cycle_done();
}

/* Rows that reached the dead rule leave the retry; the rest stay together. */
static struct req *
keep_for_retry(struct req *r)
{
	int64_t	before = now_ms() - pd.conf->push_give_up_after_ms;
	int	i, n = 0;

	for (i = 0; i < r->n; i++) {
		if (r->rows[i].attempts + 1 >= pd.conf->push_max_attempts &&
		    r->rows[i].received_at < before) {
			free(r->rows[i].data);
			continue;
		}
		r->rows[i].attempts++;
		r->rows[n++] = r->rows[i];
	}
	if (n < r->n)
		uuid_v4(r->batch_id);	/* another set: another id */
	r->n = n;
	if (n == 0) {
		req_free(r);
		return NULL;
	}
	return r;
}

static void
unwell(struct req *r, const struct send_result *res, const char *what)
{
	int64_t	wait, attempts = 0;
	int	i;

	for (i = 0; i < r->n; i++)
		if (r->rows[i].attempts > attempts)
			attempts = r->rows[i].attempts;
	wait = retry_backoff(pd.conf->push_backoff_base_ms,
	    pd.conf->push_backoff_cap_ms, attempts);
	if (res->retry_after > wait)
		wait = res->retry_after;
	log_warnx("push of %d events (batch %s) failed: %s; retrying in %lld "
	    "ms", r->n, r->batch_id, what, (long long)wait);
	mark_rows(MSG_MARK_FAILED, r, NULL, 0, now_ms() + wait, what);
	state(0, what);
	if (counting() != NULL)
		counting()->failed++;
	pd.paused_until = mono_ms() + wait;
	r->bisecting = 0;
	pd.retry = keep_for_retry(r);
	drop_queue();
}

static void
refused_config(struct req *r, const char *what)
{
	log_errorx("collector refused the request: %s; check push_url and "
	    "push_auth_token; pausing %lld ms", what,
	    (long long)pd.conf->push_backoff_cap_ms);
	state(0, what);
	if (counting() != NULL)
		counting()->failed++;
	pd.paused_until = mono_ms() + pd.conf->push_backoff_cap_ms;
	r->bisecting = 0;
	pd.retry = r;
	drop_queue();
}

/*
 * Every event of a bisected batch was refused alone: the collector is at
 * fault (it refuses everything: a failed verification, say), not the
 * events. Nothing goes dead and nothing is charged; the loop pauses at the
 * cap and the rows are fetched again after it.
 */
static void
collector_at_fault(int n, const char *what)
{
	log_errorx("collector refused each of the %d events of a batch alone: "
	    "%s; it is at fault, not the events: none is dead; pausing %lld ms",
	    n, what, (long long)pd.conf->push_backoff_cap_ms);
	state(0, what);
	if (counting() != NULL)
		counting()->failed++;
	pd.paused_until = mono_ms() + pd.conf->push_backoff_cap_ms;
	drop_queue();
}

/* r's events are part of a bisection from now on. */
static void
bis_join(struct req *r)
{
	if (r->bisecting)
		return;
	bis.held = reallocarray(bis.held, (size_t)(bis.n + r->n),
	    sizeof(*bis.held));
	bis.why = reallocarray(bis.why, (size_t)(bis.n + r->n),
	    sizeof(*bis.why));
	if (bis.held == NULL || bis.why == NULL)
		fatal("bisection");
	bis.n += r->n;
	bis.pending += r->n;
	r->bisecting = 1;
}

/* r's events have their answer: those of a bisection are no longer due. */
static void
bis_answered(const struct req *r)
{
	if (r->bisecting)
		bis.pending -= r->n;
}

/* The one event of r was refused alone: held until the bisection ends. */
static void
bis_hold(const struct req *r, const char *what)
{
	bis.held[bis.nheld] = r->rows[0];
	bis.held[bis.nheld].data = NULL;
	if ((bis.why[bis.nheld++] = strdup(what)) == NULL)
		fatal("bisection");
}

/*
 * Once every part of the bisection is answered: the held events go dead,
 * unless every event was refused alone. Returns -1 then (nothing marked),
 * else 0.
 */
static int
bis_settle(void)
{
	int i;

	if (bis.n == 0 || bis.pending > 0)
		return 0;
	if (bis.nheld == bis.n)
		return -1;
	for (i = 0; i < bis.nheld; i++)
		log_warnx("event %s is dead: %s", bis.held[i].trace_id,
		    bis.why[i]);
	mark_dead(bis.held, bis.nheld, (const char *const *)bis.why);
	bis_abandon();
	return 0;
}

/*
 * 413 (too_big) and 400/422: halve and send the halves now; a single event
 * too big is dead, one refused is held by the bisection.
 */
static void
bisect(struct req *r, int too_big, const char *what)
{
	struct req	*a, *b;
	int		 bisecting;

	if (!too_big)
		bis_join(r);
	if (r->n == 1) {
		bis_answered(r);
		if (too_big) {
			log_warnx("event %s is dead: %s", r->rows[0].trace_id,
			    what);
			mark_dead_one(&r->rows[0], what);
		} else
			bis_hold(r, what);
		req_free(r);
		return;
	}
	bisecting = r->bisecting;
	req_halve(r, &a, &b);
	if (a == NULL || b == NULL)
		fatal("halve");
	a->bisecting = b->bisecting = bisecting;
	TAILQ_INSERT_HEAD(&pd.queue, b, entry);
	TAILQ_INSERT_HEAD(&pd.queue, a, entry);
}

/* 2xx: synced, but for the events the collector rejected itself. */
static void
delivered(struct req *r, const char *body)
{
	json_t		 *o = json_loads(body, 0, NULL), *rej, *x;
	const char	**ids, **reasons;
	struct push_row	 *dead;
	size_t		  i, n = 0;
	int		  k;

	ids = calloc((size_t)r->n + 1, sizeof(*ids));
	reasons = calloc((size_t)r->n + 1, sizeof(*reasons));
	dead = calloc((size_t)r->n + 1, sizeof(*dead));
	if (ids == NULL || reasons == NULL || dead == NULL)
		fatal("delivered");
	rej = o != NULL ? json_object_get(o, "rejected") : NULL;
	json_array_foreach(rej, i, x) {
		const char *id = json_string_value(json_object_get(x,
		    "trace_id"));
		for (k = 0; id != NULL && k < r->n && n < (size_t)r->n; k++) {
			if (strcmp(r->rows[k].trace_id, id) != 0)
				continue;
			ids[n] = id;
			reasons[n] = json_string_value(json_object_get(x,
			    "reason"));
			if (reasons[n] == NULL)
				reasons[n] = "rejected by the collector";
			dead[n++] = r->rows[k];
		}
	}
	mark_rows(MSG_MARK_SYNCED, r, ids, n, 0, NULL);
	mark_dead(dead, (int)n, reasons);
	if (counting() != NULL) {
		counting()->sent += r->n - (int64_t)n;
		for (k = 0; k < r->n; k++)
			if (!skipped(r->rows[k].trace_id, ids, n))
				counting()->payload += (int64_t)
				    envelope_event_len(&r->rows[k]);
	}
	if (n > 0)
		log_warnx("collector rejected %zu of %d events in batch %s", n,
		    r->n, r->batch_id);
	json_decref(o);
	free(ids);
	free(reasons);
	free(dead);
	state(1, NULL);
	req_free(r);
}

/*
 * Act on the answer to r (taken over), as SPEC section 6's table says.
 * Returns 1 to send the next request, 0 when the cycle stops here.
 */
static int
act(struct req *r, const struct send_result *res, const char *what)
{
	char	 why[300];
	long	 st = res->status;
	int	 n = bis.n;

	if (st >= 200 && st < 300 && res->truncated) {
		/* which events it rejected cannot be known: try again */
		snprintf(why, sizeof(why), "HTTP %ld with an answer over %d "
		    "bytes", st, SEND_ANSWER_MAX);
		unwell(r, res, why);
		return 0;
	}
	if (st >= 200 && st < 300) {
		bis_answered(r);
		delivered(r, res->body);
	} else if (st == 413 || st == 400 || st == 422) {
		state(0, what);
		bisect(r, st == 413, what);
		n = bis.n;
	} else if (st == 0 || st == 408 || st == 429 || st >= 500 ||
	    st < 200) {
		unwell(r, res, what);
		return 0;
	} else {
		refused_config(r, what);
		return 0;
	}
	if (bis_settle() == -1) {
		collector_at_fault(n, what);
		return 0;
	}
	return 1;
}

static void
on_answer(const struct send_result *res, void *arg)
{
	struct req	*r = arg;
	char		 what[300];
	json_t		*progress;
	int		 go_on;

	pd.inflight = NULL;
	if (res->error != NULL)
		snprintf(what, sizeof(what), "%s", res->error);
	else
		snprintf(what, sizeof(what), "HTTP %ld%s%.200s", res->status,
		    *res->body ? ": " : "", res->body);
	what[strcspn(what, "\r\n")] = '\0';
	log_debug("batch %s: %d events, %s in %lld ms", r->batch_id, r->n,
	    what, (long long)res->elapsed_ms);
	progress = session_answer(r, res);
	go_on = act(r, res, what);
	if (progress != NULL)
		report(0, progress);
	if (go_on)
		send_next();
	else
		cycle_done();
}

/* Build, compress, sign and send r. Returns 0, or -1 (r dropped). */
static int
send_req(struct req *r)
{
	char		*body, *sig, hdr[5][600], auth[600];
	const char	*headers[10];
	uint8_t		*gz = NULL;
	size_t		 len, gzlen, nh = 0;
	int64_t		 ts = now_ms() / 1000;
	int		 gzip = pd.conf->push_compression == CONF_COMPRESS_GZIP, rc;

	if ((body = envelope_body(&pd.agent, r, now_ms(), &len)) == NULL ||
	    (gzip && sign_gzip(body, len, &gz, &gzlen) == -1))
		fatalx("cannot build a request body");
	/* signed before compression: what verify(payload, headers) is given */
	sig = sign_header(&pd.key, r->batch_id, ts, (const uint8_t *)body, len,
	    pd.hmac_len ? pd.hmac : NULL, pd.hmac_len);
	if (sig == NULL)
		fatalx("cannot sign");
	if (!gzip) {
		gz = (uint8_t *)body;
		gzlen = len;
		body = NULL;
	}
	snprintf(hdr[nh], sizeof(hdr[0]), "webhook-id: %s", r->batch_id);
	headers[nh] = hdr[nh]; nh++;
	snprintf(hdr[nh], sizeof(hdr[0]), "webhook-timestamp: %lld",
	    (long long)ts);
	headers[nh] = hdr[nh]; nh++;
	snprintf(hdr[nh], sizeof(hdr[0]), "webhook-signature: %s", sig);
	headers[nh] = hdr[nh]; nh++;
	snprintf(hdr[nh], sizeof(hdr[0]), "Oct-Key-Id: %s", pd.key.id);
	headers[nh] = hdr[nh]; nh++;
	snprintf(hdr[nh], sizeof(hdr[0]), "Oct-Agent-Id: %s", pd.agent_id);
	headers[nh] = hdr[nh]; nh++;
	headers[nh++] = "Content-Type: application/json";
	if (gzip)
		headers[nh++] = "Content-Encoding: gzip";
	if (*pd.conf->push_auth_token != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    pd.conf->push_auth_token);
		headers[nh++] = auth;
	}
	headers[nh] = NULL;
	/* libcurl does not copy the body: r keeps it until the answer. */
	free(r->body);
	r->body = gz;
	rc = send_post(pd.conf->push_url, gz, gzlen, headers,
	    pd.conf->push_timeout_ms, on_answer, r);
	free(sig);
	free(body);
	return rc;
}

static void
send_next(void)
{
	struct req *r;

	if ((r = TAILQ_FIRST(&pd.queue)) == NULL || pd.stopping) {
		drop_queue();
		cycle_done();
		return;
	}
	TAILQ_REMOVE(&pd.queue, r, entry);
	pd.inflight = r;
	if (send_req(r) == -1) {
		log_warnx("cannot start a request");
		pd.inflight = NULL;
		req_free(r);
		drop_queue();
		cycle_done();
	}
}

static int
open_store(void)
{
	char	path[4096], err[1024];

	if (pd.ro != NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/oct.db", pd.conf->data_dir);
	if ((pd.ro = store_open(path, STORE_RO, 0, err, sizeof(err))) == NULL) {
		log_debug("%s", err);
		return -1;
	}
	pd.own_ro = 1;
	snprintf(pd.agent_id, sizeof(pd.agent_id), "%s",
	    store_agent_id(pd.ro));
	pd.agent.id = pd.agent_id;
	return 0;
}

static int
key_usable(void)
{
	char err[512];

	if (pd.key_ok)
		return 1;
	if (key_load(pd.conf->signing_key, &pd.key, err, sizeof(err)) == 0) {
		pd.key_ok = 1;
		log_info("signing with key %s", pd.key.id);
		return 1;
	}
	if (strcmp(err, pd.key_err) != 0) {
		log_errorx("not pushing: %s", err);
		snprintf(pd.key_err, sizeof(pd.key_err), "%s", err);
		state(0, err);
	}
	return 0;
}

/* Fetch due rows and queue their requests. Returns how many requests. */
static int
fetch(void)
{
	struct push_row	*rows, *big;
	char		 why[200];
	int		 n, nbig, i;

	int64_t	batch = pd.ses.active ? pd.ses.batch : pd.conf->push_batch_size;

	n = store_fetch_due(pd.ro, now_ms(), (int)batch, pd.ses.active &&
	    pd.ses.force, pd.ses.active ? &pd.ses.cur : NULL, &rows);
	if (n < 0) {
		log_warnx("read unsynced rows: %s", store_error(pd.ro));
		return 0;
	}
	pd.more = n == batch;
	if (pd.ses.active)
		pd.ses.fetched = 1;
	if (n > 0 && pd.ses.active) {
		pd.ses.cur.received_at = rows[n - 1].received_at;
		pd.ses.cur.kind = rows[n - 1].kind;
		pd.ses.cur.id = rows[n - 1].id;
	}
	if (n == 0) {
		free(rows);
		return 0;
	}
	if (envelope_split(&pd.agent, rows, n,
	    (size_t)pd.conf->push_max_payload_bytes, &pd.queue, &big,
	    &nbig) == -1)
		fatal("split");
	for (i = 0; i < nbig; i++) {
		snprintf(why, sizeof(why), "event of %zu bytes is over "
		    "push_max_payload_bytes (%lld)", envelope_event_len(&big[i]),
		    (long long)pd.conf->push_max_payload_bytes);
		log_warnx("event %s is dead: %s", big[i].trace_id, why);
		mark_dead_one(&big[i], why);
		free(big[i].data);
	}
	free(big);
	return 1;
}

static void
cycle(void)
{
	int64_t now = mono_ms();

	if (pd.stopping || pd.inflight != NULL || pd.waiting ||
	    pd.ses.flushing || pd.ses.sizing)
		return;
	if (*pd.conf->push_url == '\0')
		return;
	if (now < pd.paused_until && !pd.ses.active) {
		schedule(pd.paused_until - now);
		return;
	}
	if (!key_usable() || open_store() == -1) {
		schedule(pd.conf->push_interval_ms);
		return;
	}
	if (pd.retry != NULL) {
		TAILQ_INSERT_HEAD(&pd.queue, pd.retry, entry);
		pd.retry = NULL;
		pd.more = 1;
		if (pd.ses.active)
			pd.ses.fetched = 1;	/* the session starts here */
	} else if (!fetch()) {
		cycle_done();
		return;
	}
	send_next();
}

static void
decode_hmac(const char *secret)
{
	size_t len;

	pd.hmac_len = 0;
	if (*secret == '\0')
		return;
	if (sodium_base642bin(pd.hmac, sizeof(pd.hmac), secret + 6,
	    strlen(secret + 6), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0)
		pd.hmac_len = len;
}

void
push_init(struct event_base *base, const struct conf *c,
    const struct push_sink *sink, struct store *rw)
{
	char	 host[256];
	json_t	*h;

	pd.base = base;
	pd.conf = c;
	pd.sink = sink;
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	h = json_string(host);
	pd.host_json = json_dumps(h, JSON_ENCODE_ANY);
	json_decref(h);
	pd.agent.host = pd.host_json;
	pd.agent.version = OCT_VERSION;
	pd.agent.id = "";
	if (rw != NULL) {
		pd.ro = rw;
		snprintf(pd.agent_id, sizeof(pd.agent_id), "%s",
		    store_agent_id(rw));
		pd.agent.id = pd.agent_id;
	}
	decode_hmac(c->push_hmac_secret);
	pd.timer = evtimer_new(base, on_timer, NULL);
	pd.flush_timer = evtimer_new(base, on_flush_late, NULL);
	pd.size_timer = evtimer_new(base, on_size_timer, NULL);
	if (pd.timer == NULL || pd.flush_timer == NULL ||
	    pd.size_timer == NULL || pd.host_json == NULL)
		fatalx("push setup");
	/* No collector, no TLS: libcurl and OpenSSL stay untouched (~7 MB). */
	if (*c->push_url != '\0')
		send_init(base);
}

void
push_start(void)
{
	if (*pd.conf->push_url == '\0')
		log_info("push_url is empty: pushing is off, data stays local");
	else {
		log_info("pushing to %s every %lld ms", pd.conf->push_url,
		    (long long)pd.conf->push_interval_ms);
		key_usable();
		schedule(0);
	}
}

void
push_session(int force, int verbose, int64_t batch)
{
	struct session *s = &pd.ses;

	if (s->active) {
		pd.sink->report(1, "{\"done\":true,\"error\":\"a push is "
		    "already running\"}");
		return;
	}
	memset(s, 0, sizeof(*s));
	s->force = force;
	s->verbose = verbose;
	s->batch = batch > 0 ? batch : pd.conf->push_batch_size;
	s->cur.received_at = -1;
	s->started = mono_ms();
	if (*pd.conf->push_url == '\0') {
		report(1, json_pack("{s:s}", "error", "push_url is empty: "
		    "there is no collector to push to"));
		return;
	}
	if (!key_usable() || open_store() == -1) {
		report(1, json_pack("{s:s}", "error", pd.key_err[0] ?
		    pd.key_err : "oct.db cannot be read yet"));
		return;
	}
	s->active = 1;
	if (pd.sink->flush == NULL) {
		session_begin();
		return;
	}
	s->flushing = 1;	/* no fetch until writerd has committed */
	pd.sink->flush();
	evtimer_add(pd.flush_timer, &flush_wait);
}

/*
 * Rows a sizing step reads: a few ms of SQLite's time, so that a large
 * backlog never keeps pushd from its heartbeats.
 */
#define SIZE_STEP	2000

/*
 * One step of adding up the payload a session will send (its rows, as
 * pending_rows() counts them); the last step starts the sending.
 */
static void
on_size_timer(evutil_socket_t fd, short ev, void *arg)
{
	static const struct timeval	 now = { 0, 0 };
	struct session			*s = &pd.ses;
	struct push_row			*rows;
	int				 n, i;

	(void)fd;
	(void)ev;
	(void)arg;
	if (!s->active || !s->sizing)
		return;
	n = store_fetch_due(pd.ro, INT64_MAX, SIZE_STEP, s->force,
	    &s->size_cur, &rows);
	if (n < 0)
		s->total_payload = -1;
	for (i = 0; i < n; i++)
		s->total_payload += (int64_t)envelope_event_len(&rows[i]);
	if (n > 0) {
		s->size_cur.received_at = rows[n - 1].received_at;
		s->size_cur.kind = rows[n - 1].kind;
		s->size_cur.id = rows[n - 1].id;
	}
	store_rows_free(rows, n > 0 ? n : 0);
	if (n == SIZE_STEP) {
		evtimer_add(pd.size_timer, &now);
		return;
	}
	s->sizing = 0;
	report(0, json_object());
	pd.paused_until = 0;
	if (pd.inflight == NULL && !pd.waiting) {
		evtimer_del(pd.timer);
		cycle();
	}
}

/* The session's rows are all in oct.db: count them, size them, send. */
static void
session_begin(void)
{
	static const struct timeval	 now = { 0, 0 };
	struct session			*s = &pd.ses;

	s->total = pending_rows(s->force);
	s->sizing = 1;
	s->size_cur.received_at = -1;
	evtimer_add(pd.size_timer, &now);
}

void
push_stop(void)
{
	pd.stopping = 1;
	if (pd.inflight != NULL)
		log_info("waiting for the request in flight");
	if (!pd.sink->idle())
		log_info("waiting for writerd to commit the last marks");
	maybe_exit();
}

void
push_free(void)
{
	drop_queue();
	req_free(pd.retry);
	send_free();
	if (pd.inflight != NULL)
		req_free(pd.inflight);
	event_free(pd.timer);
	event_free(pd.flush_timer);
	event_free(pd.size_timer);
	bis_abandon();
	if (pd.own_ro)
		store_close(pd.ro);
	free(pd.host_json);
	sodium_memzero(&pd.key, sizeof(pd.key));
}
