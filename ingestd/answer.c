/*
 * answer.c: answering ingest requests, in the encoding of their format.
 *
 * An accepted request is answered only when its last event is written to
 * writerd's channel (202, or OTLP's 200) or, with ?wait=commit, committed
 * (200); until then it waits in the pending list, bounded by
 * queue_capacity. A commit wait writerd does not honour within
 * shutdown_timeout_ms is cut with 503. http.c calls answer_hold() and the
 * reply_* functions; ingestd.c calls answer_progress() whenever the window
 * moves.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "oct.h"
#include "util.h"

struct pending {
	struct evhttp_request	*req;
	uint64_t		 last_seq;
	int			 commit;
	int64_t			 cut_at;	/* mono ms; commit only */
	const struct ingest_fmt	*fmt;		/* answers in its encoding */
	char			*body;
	size_t			 len;
	TAILQ_ENTRY(pending)	 entry;
};

static struct {
	TAILQ_HEAD(, pending)	 pending;
	size_t			 npending;
	struct event		*ev_cut;	/* the next commit wait to cut */
} h = { .pending = TAILQ_HEAD_INITIALIZER(h.pending) };

/*
 * The Date header, written once a second: evhttp would format it for
 * every answer (gmtime and a printf, 3,500 instructions of the 93,000 an
 * event cost ingestd), and it only writes one when none is there.
 */
static const char *
http_date(void)
{
	static const char	 days[][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char	 months[][4] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static char		 date[40];
	static time_t		 at = -1;
	time_t			 now = time(NULL);
	struct tm		 tm;

	if (now != at && gmtime_r(&now, &tm) != NULL) {
		snprintf(date, sizeof(date), "%s, %02d %s %d %02d:%02d:%02d GMT",
		    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		at = now;
	}
	return date[0] != '\0' ? date : NULL;
}

/* n in decimal into buf (21 bytes). */
static const char *
decimal(size_t n, char buf[21])
{
	char *p = buf + 20;

	*p = '\0';
	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	return p;
}

void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);
	struct evbuffer		*buf = evbuffer_new();
	const char		*date = http_date();
	char			 num[21];

	if (buf == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(oh, "Content-Type", type);
	if (date != NULL)
		evhttp_add_header(oh, "Date", date);
	/* evhttp's own would be a printf; the same header */
	evhttp_add_header(oh, "Content-Length", decimal(len, num));
	evbuffer_add(buf, body, len);
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

/* A JSON body of our own (/healthz). */
void
reply_json(struct evhttp_request *req, int code, const char *reason,
    const char *body)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "%s\n", body);

	reply(req, code, reason, "application/json", text, (size_t)n);
}

/*
 * Answer an error in format f's encoding (h: its open body, or NULL),
 * naming the event at fault (index, -1: none) and its field (or NULL).
 * Before a format is chosen, f is the JSON API's (SPEC section 4.4).
 */
void
reply_fmt(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    int code, const char *reason, enum reject_reason why, const char *msg,
    long index, const char *field)
{
	const struct fmt_ops	*ops = f != NULL ? f->ops : &fmt_json;
	char			*body;
	size_t			 len = 0;

	stats_rejected(why);
	if ((body = ops->error(fh, code, msg, index, field, &len)) == NULL)
		reply(req, code, reason, "application/json",
		    "{\"error\":\"out of memory\"}\n", 26);
	else
		reply(req, code, reason, ops->answer_type, body, len);
	free(body);
}

void
reply_error(struct evhttp_request *req, int code, const char *reason,
    enum reject_reason why, const char *msg)
{
	reply_fmt(req, NULL, NULL, code, reason, why, msg, -1, NULL);
}

void
reply_503(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    enum reject_reason why, size_t events)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", "1");
	stats_dropped(events);
	reply_fmt(req, f, fh, 503, "Service Unavailable", why,
	    why == RJ_STORAGE_FULL ? "storage full" : "queue full", -1, NULL);
}

/* The request is answered now: it no longer waits on ingestd. */
static void
release(struct pending *p)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);

	if (evcon != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	conn_hold(p->req, 0);
}

static void
answer(struct pending *p)
{
	int status = p->commit ? 200 : p->fmt->ops->queued_status;

	release(p);
	reply(p->req, status, status == 200 ? "OK" : "Accepted",
	    p->fmt->ops->answer_type, p->body, p->len);
}

static void
pending_free(struct pending *p)
{
	TAILQ_REMOVE(&h.pending, p, entry);
	h.npending--;
	free(p->body);
	free(p);
}

/* The client left before its answer; its events are still stored. */
static void
on_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	pending_free(arg);
}

/*
 * A ?wait=commit request writerd has not committed within
 * shutdown_timeout_ms (writerd stopped, or its commits failing: disk
 * full) gets 503 with Retry-After rather than no answer at all. Its
 * events stay in the window, as every accepted event does, and are stored
 * once writerd commits again: the client is told so, and that a retry
 * with the same event_id is stored once (SPEC section 4.4).
 */
static void
cut(struct pending *p)
{
	char	msg[200], after[24];

	release(p);
	snprintf(after, sizeof(after), "%lld", (long long)
	    (ing.conf->shutdown_timeout_ms + 999) / 1000);
	evhttp_add_header(evhttp_request_get_output_headers(p->req),
	    "Retry-After", after);
	snprintf(msg, sizeof(msg), "not committed within shutdown_timeout_ms "
	    "(%lld ms); the events are queued and will be stored: retry with "
	    "the same event_id", (long long)ing.conf->shutdown_timeout_ms);
	reply_fmt(p->req, p->fmt, NULL, 503, "Service Unavailable",
	    RJ_COMMIT_TIMEOUT, msg, -1, NULL);
}

/* Arm the cut timer for the oldest commit wait, if any. */
static void
arm_cut(void)
{
	struct pending	*p;
	struct timeval	 tv;
	int64_t		 ms;

	TAILQ_FOREACH(p, &h.pending, entry)
		if (p->commit)
			break;
	if (p == NULL || h.ev_cut == NULL) {
		if (h.ev_cut != NULL)
			evtimer_del(h.ev_cut);
		return;
	}
	ms = p->cut_at - mono_ms();
	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(h.ev_cut, &tv);
}

static void
on_cut(evutil_socket_t fd, short ev, void *arg)
{
	struct pending	*p, *next;
	int64_t		 now = mono_ms();

	(void)fd;
	(void)ev;
	(void)arg;
	for (p = TAILQ_FIRST(&h.pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->commit && p->cut_at <= now) {
			cut(p);
			pending_free(p);
		}
	}
	arm_cut();
}

void
answer_progress(void)
{
	struct pending *p, *next;

	for (p = TAILQ_FIRST(&h.pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (window_done(p->last_seq, p->commit)) {
			answer(p);
			pending_free(p);
		}
	}
}

size_t
answer_pending(void)
{
	return h.npending;
}

/* Answer body (len bytes, taken over) once last_seq is written or committed. */
void
answer_hold(struct evhttp_request *req, const struct ingest_fmt *f,
    uint64_t last_seq, int commit, char *body, size_t len)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		fatal("pending");
	p->req = req;
	p->last_seq = last_seq;
	p->commit = commit;
	p->cut_at = mono_ms() + ing.conf->shutdown_timeout_ms;
	p->fmt = f;
	p->body = body;
	p->len = len;
	TAILQ_INSERT_TAIL(&h.pending, p, entry);
	h.npending++;
	if (window_done(last_seq, commit)) {
		answer(p);
		pending_free(p);
		return;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    on_close, p);
	conn_hold(req, 1);
	if (commit && !evtimer_pending(h.ev_cut, NULL))
		arm_cut();
}

/* Whether the request asked for ?wait=commit. */
int
answer_wants_commit(struct evhttp_request *req)
{
	struct evkeyvalq	 q;
	const char		*query, *w;
	int			 yes = 0;

	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query == NULL || evhttp_parse_query_str(query, &q) == -1)
		return 0;
	w = evhttp_find_header(&q, "wait");
	yes = w != NULL && strcmp(w, "commit") == 0;
	evhttp_clear_headers(&q);
	return yes;
}

void
answer_start(void)
{
	if ((h.ev_cut = evtimer_new(ing.base, on_cut, NULL)) == NULL)
		fatalx("evtimer_new");
}

/* Forget every request still waiting (their connections are freed next). */
void
answer_stop(void)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&h.pending)) != NULL) {
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(p->req), NULL, NULL);
		pending_free(p);
	}
	if (h.ev_cut != NULL)
		event_free(h.ev_cut);
	h.ev_cut = NULL;
}
