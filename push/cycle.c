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
 * What an answer means and what is done about it is answer.c's; the
 * bytes on the wire are the encoder's (pd.enc, enc_oct.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "event.h"
#include "conf.h"
#include "key.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "engine.h"

struct engine pd = { .queue = TAILQ_HEAD_INITIALIZER(pd.queue) };

void
cycle_schedule(int64_t ms)
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
	cycle_run();
}

void
cycle_drop_queue(void)
{
	struct req *r;

	while ((r = TAILQ_FIRST(&pd.queue)) != NULL) {
		TAILQ_REMOVE(&pd.queue, r, entry);
		req_free(r);
	}
	bis_abandon();
}

int
cycle_maybe_exit(void)
{
	if (pd.stopping && pd.inflight == NULL && pd.sink->idle()) {
		pd.sink->exit();
		return 1;
	}
	return 0;
}

void
cycle_done(void)
{
	if (!pd.sink->idle()) {
		pd.waiting = 1;
		return;
	}
	if (cycle_maybe_exit())
		return;
	pd.waiting = 0;
	if (pd.ses.active && pd.ses.fetched && (pd.ses.failed || !pd.more)) {
		session_end(pd.ses.failed ? pd.last_error : NULL);
		pd.paused_until = pd.ses.failed ? pd.paused_until : 0;
	}
	cycle_schedule(pd.more || pd.ses.active ? 0 : pd.conf->push_interval_ms);
}

void
push_marks_committed(void)
{
	if (cycle_maybe_exit())
		return;
	if (pd.ses.active && pd.ses.flushing) {
		pd.ses.flushing = 0;
		evtimer_del(pd.flush_timer);
		session_begin();
	}
	if (pd.waiting && pd.inflight == NULL && TAILQ_EMPTY(&pd.queue))
		cycle_done();
}

/*
 * The headers of SPEC section 6 into h (hdr holds their text), then
 * push_headers' (extra), NULL-ended.
 */
static void
build_headers(const struct req *r, int64_t ts, const char *sig, int gzip,
    char hdr[][600], char *const *extra, const char **h)
{
	size_t n = 0;

	snprintf(hdr[n], sizeof(hdr[0]), "webhook-id: %s", r->batch_id);
	h[n] = hdr[n]; n++;
	snprintf(hdr[n], sizeof(hdr[0]), "webhook-timestamp: %lld",
	    (long long)ts);
	h[n] = hdr[n]; n++;
	snprintf(hdr[n], sizeof(hdr[0]), "webhook-signature: %s", sig);
	h[n] = hdr[n]; n++;
	snprintf(hdr[n], sizeof(hdr[0]), "Oct-Key-Id: %s", pd.key.id);
	h[n] = hdr[n]; n++;
	snprintf(hdr[n], sizeof(hdr[0]), "Oct-Agent-Id: %s", pd.agent_id);
	h[n] = hdr[n]; n++;
	snprintf(hdr[n], sizeof(hdr[0]), "Content-Type: %s",
	    pd.enc->content_type);
	h[n] = hdr[n]; n++;
	if (gzip)
		h[n++] = "Content-Encoding: gzip";
	if (*pd.conf->push_auth_token != '\0') {
		snprintf(hdr[n], sizeof(hdr[0]), "Authorization: Bearer %s",
		    pd.conf->push_auth_token);
		h[n] = hdr[n]; n++;
	}
	while (extra != NULL && *extra != NULL && n < SEND_HEADERS_MAX)
		h[n++] = *extra++;
	h[n] = NULL;
}

/* Where r goes: push_url, and its kind's path for a per_kind encoder. */
static const char *
req_url(const struct req *r, char *buf, size_t len)
{
	if (!pd.enc->per_kind || pd.enc->paths == NULL)
		return pd.conf->push_url;
	snprintf(buf, len, "%s%s", pd.conf->push_url,
	    pd.enc->paths[r->rows[0].kind]);
	return buf;
}

/*
 * Build, compress and sign r into its ahead fields: the bulk of the
 * pushing side's work, done while the request before it is with the
 * collector (build_ahead) or, failing that, just before r is sent.
 */
static void
build_req(struct req *r)
{
	char		*body;
	uint8_t		*gz = NULL;
	size_t		 len, gzlen;
	int		 gzip = pd.conf->push_compression == CONF_COMPRESS_GZIP;

	free(r->ahead);
	free(r->ahead_sig);
	r->ahead_ts = now_ms() / 1000;
	body = pd.enc->body(&pd.agent, r->batch_id, r->rows, r->n, now_ms(),
	    &len);
	if (body == NULL || (gzip && sign_gzip(body, len, &gz, &gzlen) == -1))
		fatalx("cannot build a request body");
	/* signed before compression: what verify(payload, headers) is given */
	r->ahead_sig = sign_header(&pd.key, r->batch_id, r->ahead_ts,
	    (const uint8_t *)body, len, pd.hmac_len ? pd.hmac : NULL,
	    pd.hmac_len);
	if (r->ahead_sig == NULL)
		fatalx("cannot sign");
	if (gzip) {
		free(body);
		r->ahead = gz;
		r->ahead_len = gzlen;
	} else {
		r->ahead = (uint8_t *)body;
		r->ahead_len = len;
	}
}

/*
 * A body built ahead goes out at most this long after it was signed, so
 * its webhook-timestamp stays current (a pause between requests, a
 * collector's tolerance); older, or the clock set back, it is built again.
 */
#define AHEAD_MAX_S	2

/*
 * send_on_sent's callback: the request in flight is written; build the
 * next one while the collector works on this one.
 */
static void
build_ahead(void)
{
	struct req *r = TAILQ_FIRST(&pd.queue);

	if (r != NULL && r->ahead == NULL && !pd.stopping)
		build_req(r);
}

/* Send r, built ahead or now. Returns 0, or -1 (r dropped). */
static int
send_req(struct req *r)
{
	char		 hdr[8][600], url[4096], **extra;
	const char	*headers[SEND_HEADERS_MAX + 1], *why;
	int		 gzip = pd.conf->push_compression == CONF_COMPRESS_GZIP, rc;

	if (r->ahead == NULL || llabs(now_ms() / 1000 - r->ahead_ts) >
	    AHEAD_MAX_S)
		build_req(r);
	/* checked by conf.c; their values are never logged */
	extra = conf_headers(pd.conf->push_headers, &why);
	build_headers(r, r->ahead_ts, r->ahead_sig, gzip, hdr, extra, headers);
	/* libcurl does not copy the body: r keeps it until the answer. */
	free(r->body);
	r->body = r->ahead;
	r->ahead = NULL;
	rc = send_post(req_url(r, url, sizeof(url)), pd.conf->push_ca_file,
	    r->body, r->ahead_len, headers, pd.conf->push_timeout_ms,
	    answer_done, r);
	conf_headers_free(extra);
	free(r->ahead_sig);
	r->ahead_sig = NULL;
	return rc;
}

void
cycle_send_next(void)
{
	struct req *r;

	if ((r = TAILQ_FIRST(&pd.queue)) == NULL || pd.stopping) {
		cycle_drop_queue();
		cycle_done();
		return;
	}
	TAILQ_REMOVE(&pd.queue, r, entry);
	pd.inflight = r;
	if (send_req(r) == -1) {
		log_warnx("cannot start a request");
		pd.inflight = NULL;
		req_free(r);
		cycle_drop_queue();
		cycle_done();
	}
}

/* Rows are read from st now: the agent and the file they name. */
static void
use_store(struct store *st)
{
	snprintf(pd.agent_id, sizeof(pd.agent_id), "%s", store_agent_id(st));
	snprintf(pd.db_id, sizeof(pd.db_id), "%s", store_db_id(st));
	pd.agent.id = pd.agent_id;
}

/*
 * oct.db is no longer the file pushd opened: writerd moved a damaged one
 * aside and started a fresh one. Close ours; what is held from it (the
 * retry, queued requests) names its rows, not the fresh file's, and goes
 * too, as it would with a new pushd. Marks already handed to writerd
 * name the old file (pd.db_id) and are dropped there, never applied to
 * the fresh one. Not while a request is in flight: its answer marks rows
 * of the file pd.db_id names until then.
 */
static void
drop_replaced_store(const char *path)
{
	log_warnx("%s is another file than the one opened (moved aside by "
	    "writerd?): reading the new one", path);
	cycle_drop_queue();
	req_free(pd.retry);
	pd.retry = NULL;
	store_close(pd.ro);
	pd.ro = NULL;
	pd.own_ro = 0;
}

int
cycle_open_store(void)
{
	char	path[4096], err[1024];

	snprintf(path, sizeof(path), "%s/oct.db", pd.conf->data_dir);
	if (pd.ro != NULL && pd.own_ro && pd.inflight == NULL &&
	    store_replaced(pd.ro))
		drop_replaced_store(path);
	if (pd.ro != NULL)
		return 0;
	if ((pd.ro = store_open(path, STORE_RO, 0, err, sizeof(err))) == NULL) {
		log_debug("%s", err);
		return -1;
	}
	pd.own_ro = 1;
	use_store(pd.ro);
	return 0;
}

int
cycle_key_usable(void)
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
		mark_state(0, err);
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

	/* a clock gone back holds no row longer than a backoff (store.h) */
	n = store_fetch_due(pd.ro, now_ms(), pd.conf->push_backoff_cap_ms,
	    (int)batch, pd.ses.active && pd.ses.force, pd.ses.active ?
	    &pd.ses.cur : NULL, &rows);
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
	if (push_split(pd.enc, &pd.agent, rows, n,
	    (size_t)pd.conf->push_max_payload_bytes, &pd.queue, &big,
	    &nbig) == -1)
		fatal("split");
	for (i = 0; i < nbig; i++) {
		snprintf(why, sizeof(why), "event of %zu bytes is over "
		    "push_max_payload_bytes (%lld)", pd.enc->event_len(&big[i]),
		    (long long)pd.conf->push_max_payload_bytes);
		log_warnx("event %s is dead: %s", big[i].trace_id, why);
		mark_dead_one(&big[i], why);
		store_row_clear(&big[i]);
	}
	free(big);
	return 1;
}

void
cycle_run(void)
{
	int64_t now = mono_ms();

	if (pd.stopping || pd.inflight != NULL || pd.waiting ||
	    pd.ses.flushing || pd.ses.sizing)
		return;
	if (*pd.conf->push_url == '\0')
		return;
	if (now < pd.paused_until && !pd.ses.active) {
		cycle_schedule(pd.paused_until - now);
		return;
	}
	if (!cycle_key_usable() || cycle_open_store() == -1) {
		cycle_schedule(pd.conf->push_interval_ms);
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
	cycle_send_next();
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
	pd.base = base;
	pd.conf = c;
	pd.sink = sink;
	pd.enc = push_conf_encoder(c);
	pd.host_json = push_host_json();
	pd.agent.host = pd.host_json;
	pd.agent.version = OCT_VERSION;
	pd.agent.id = "";
	if (rw != NULL) {
		pd.ro = rw;
		use_store(rw);
	}
	decode_hmac(c->push_hmac_secret);
	pd.timer = evtimer_new(base, on_timer, NULL);
	pd.flush_timer = evtimer_new(base, session_flush_late, NULL);
	pd.size_timer = evtimer_new(base, session_size_step, NULL);
	if (pd.timer == NULL || pd.flush_timer == NULL ||
	    pd.size_timer == NULL || pd.host_json == NULL)
		fatalx("push setup");
	/* No collector, no TLS: libcurl and OpenSSL stay untouched (~7 MB). */
	if (*c->push_url != '\0') {
		send_init(base);
		send_on_sent(build_ahead);
	}
}

void
push_start(void)
{
	if (*pd.conf->push_url == '\0')
		log_info("push_url is empty: pushing is off, data stays local");
	else {
		log_info("pushing to %s every %lld ms", pd.conf->push_url,
		    (long long)pd.conf->push_interval_ms);
		cycle_key_usable();
		cycle_schedule(0);
	}
}

void
push_stop(void)
{
	pd.stopping = 1;
	if (pd.inflight != NULL)
		log_info("waiting for the request in flight");
	if (!pd.sink->idle())
		log_info("waiting for writerd to commit the last marks");
	cycle_maybe_exit();
}

void
push_free(void)
{
	cycle_drop_queue();
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
