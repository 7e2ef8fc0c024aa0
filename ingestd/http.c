/*
 * http.c: the ingest HTTP API (SPEC section 4) on libevent's evhttp.
 *
 * Checks run in the SPEC's order: body size (evhttp, before anything),
 * path and method, Origin and Host, token, content type, content. No wire
 * format is known here: the path and Content-Type pick a row of fmt.c's
 * table, whose decoder turns the body into struct events and whose
 * answers are in its encoding. A request is all or nothing: every event
 * is validated and encoded (event_encode) before any enters the window. A request is answered only when its last event is written to
 * writerd's channel (202) or, with ?wait=commit, committed (200); until
 * then it waits in the pending list, bounded by queue_capacity.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "util.h"

#define MAX_ARRAY	1000
#define HEADERS_MAX	(64 * 1024)
#define IO_TIMEOUT_S	10

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
	struct evhttp		*http;
	struct evhttp_bound_socket *listener;
	int			 draining;
	char			 host[64];	/* of listen */
	TAILQ_HEAD(, pending)	 pending;
	size_t			 npending;
	struct event		*ev_cut;	/* the next commit wait to cut */
	unsigned char		 token_hash[crypto_generichash_BYTES];
} h = { .pending = TAILQ_HEAD_INITIALIZER(h.pending) };

static void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evbuffer_add(buf, body, len);
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

/* A JSON body of our own (/healthz). */
static void
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
static void
reply_fmt(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    int code, const char *reason, enum reject_reason why, const char *msg,
    long index, const char *field)
{
	const struct fmt_ops	*ops = f != NULL ? f->ops : &fmt_json;
	char			*body;
	size_t			 len = 0;

	stats_rejected(why);
	if ((body = ops->error(fh, msg, index, field, &len)) == NULL)
		reply(req, code, reason, "application/json",
		    "{\"error\":\"out of memory\"}\n", 26);
	else
		reply(req, code, reason, ops->answer_type, body, len);
	free(body);
}

static void
reply_error(struct evhttp_request *req, int code, const char *reason,
    enum reject_reason why, const char *msg)
{
	reply_fmt(req, NULL, NULL, code, reason, why, msg, -1, NULL);
}

static void
reply_503(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    enum reject_reason why, size_t events)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", "1");
	stats_dropped(events);
	reply_fmt(req, f, fh, 503, "Service Unavailable", why,
	    why == RJ_STORAGE_FULL ? "storage full" : "queue full", -1, NULL);
}

static int
is_loopback(const char *host)
{
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

/* A Host header names this agent: loopback, or the listen address. */
static int
host_ok(const char *hdr)
{
	char		 host[256];
	const char	*end;
	size_t		 len;

	if (hdr == NULL)
		return 1;	/* HTTP/1.0: no name to rebind */
	if (*hdr == '[') {
		if ((end = strchr(hdr, ']')) == NULL)
			return 0;
		hdr++;
	} else if ((end = strrchr(hdr, ':')) == NULL ||
	    strchr(hdr, ':') != end)
		end = hdr + strlen(hdr);
	len = (size_t)(end - hdr);
	if (len == 0 || len >= sizeof(host))
		return 0;
	memcpy(host, hdr, len);
	host[len] = '\0';
	return is_loopback(host) || strcasecmp(host, h.host) == 0;
}

/* Bearer token, compared in constant time through fixed-size hashes. */
static int
token_ok(struct evhttp_request *req)
{
	const char	*a;
	unsigned char	 got[crypto_generichash_BYTES];

	if (*ing.conf->auth_token == '\0')
		return 1;
	a = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return 0;
	crypto_generichash(got, sizeof(got), (const unsigned char *)a + 7,
	    strlen(a + 7), NULL, 0);
	return sodium_memcmp(got, h.token_hash, sizeof(got)) == 0;
}

static int
wants_commit(struct evhttp_request *req)
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
	release(p);
	reply(p->req, p->commit ? 200 : 202, p->commit ? "OK" : "Accepted",
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
http_progress(void)
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
http_pending(void)
{
	return h.npending;
}

/* Answer body (len bytes, taken over) once last_seq is written or committed. */
static void
hold(struct evhttp_request *req, const struct ingest_fmt *f,
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

/*
 * Whether n events may be taken now; if not, the request is answered
 * (413: never, 503: not now).
 */
static int
room_for(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    size_t n)
{
	char msg[120];

	if (n > MAX_ARRAY) {
		reply_fmt(req, f, fh, 413, "Payload Too Large", RJ_TOO_LARGE,
		    "more than 1000 events in one request", -1, NULL);
		return 0;
	}
	if (n > (size_t)ing.conf->queue_capacity) {
		/* never 503: a retry could never fit either */
		snprintf(msg, sizeof(msg), "array of %zu events is larger than "
		    "queue_capacity (%lld); split it", n,
		    (long long)ing.conf->queue_capacity);
		reply_fmt(req, f, fh, 413, "Payload Too Large", RJ_TOO_LARGE,
		    msg, -1, NULL);
		return 0;
	}
	if (window_storage_full()) {
		reply_503(req, f, fh, RJ_STORAGE_FULL, n);
		return 0;
	}
	if (window_room() < n) {
		reply_503(req, f, fh, RJ_QUEUE_FULL, n);
		return 0;
	}
	return 1;
}

/*
 * Encode the n events of h into frames (n of them, caller's), counting
 * them by kind; ids receives their trace_ids. Returns 0, or -1 after
 * answering 400 for the first event that is refused.
 */
static int
encode_all(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    size_t n, uint64_t seq, struct msgb *frames, char (*ids)[UUID_STR_LEN],
    size_t counts[EV_NKINDS])
{
	struct event		 e;
	struct event_error	 err;
	int64_t			 now = now_ms();
	size_t			 i;

	for (i = 0; i < n; i++) {
		err.field[0] = '\0';
		if (f->ops->item(fh, i, &e, &err) == 0) {
			e.received_at = now;
			if (event_encode(&e, ing.idkey, ids[i],
			    (size_t)ing.conf->max_text_bytes, seq + i,
			    &frames[i], &err) == 0) {
				counts[e.kind]++;
				continue;
			}
		}
		reply_fmt(req, f, fh, 400, "Bad Request", RJ_BAD_REQUEST,
		    err.msg, (long)i, err.field[0] != '\0' ? err.field : NULL);
		return -1;
	}
	return 0;
}

/* Validate and queue the n events of h, all or none, and answer. */
static void
ingest(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    size_t n)
{
	struct msgb	*frames;
	char		(*ids)[UUID_STR_LEN], *body;
	size_t		 i, len = 0, counts[EV_NKINDS] = { 0 };
	uint64_t	 seq = window_next_seq();

	if (!room_for(req, f, fh, n))
		return;
	frames = calloc(n, sizeof(*frames));
	ids = calloc(n, sizeof(*ids));
	if (frames == NULL || ids == NULL)
		fatal("ingest");
	if (encode_all(req, f, fh, n, seq, frames, ids, counts) == -1)
		goto done;
	for (i = 0; i < n; i++)
		if (window_push(&frames[i], 1) == -1)
			fatalx("window refused an event it had room for");
	for (i = 0; i < EV_NKINDS; i++)
		if (counts[i] > 0)
			stats_accepted((enum event_kind)i, counts[i]);
	if ((body = f->ops->accepted(fh, ids, n, &len)) == NULL)
		fatal("answer");
	hold(req, f, seq + n - 1, wants_commit(req), body, len);
done:
	for (i = 0; i < n; i++)
		msg_free(&frames[i]);
	free(frames);
	free(ids);
}

/* A POST to format f's path with its media type: decode, then ingest. */
static void
post_events(struct evhttp_request *req, const struct ingest_fmt *f)
{
	struct evkeyvalq	*hdr = evhttp_request_get_input_headers(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct event_error	 err;
	size_t			 len = evbuffer_get_length(in), n = 0;
	void			*fh;

	if (evhttp_find_header(hdr, "Transfer-Encoding") != NULL &&
	    evhttp_find_header(hdr, "Content-Length") != NULL) {
		reply_fmt(req, f, NULL, 400, "Bad Request", RJ_BAD_REQUEST,
		    "both Transfer-Encoding and Content-Length", -1, NULL);
		return;
	}
	fh = f->ops->open(f, (const char *)evbuffer_pullup(in, -1), len, &n,
	    &err);
	if (fh == NULL) {
		reply_fmt(req, f, NULL, 400, "Bad Request", RJ_BAD_REQUEST,
		    err.msg, -1, NULL);
		return;
	}
	ingest(req, f, fh, n);
	f->ops->close(fh);
}

static void
get_metrics(struct evhttp_request *req)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	stats_render(buf);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

/*
 * The row of ingest_fmts[] for a request on listener ls to path with
 * Content-Type ct. NULL, with *known set when some row serves the path
 * (another media type: 415) and clear when none does (404).
 */
static const struct ingest_fmt *
fmt_find(enum fmt_listener ls, const char *path, const char *ct, int *known)
{
	const struct ingest_fmt	*f;
	size_t			 i;

	*known = 0;
	for (i = 0; i < ingest_nfmts; i++) {
		f = &ingest_fmts[i];
		if (f->listener != ls || strcmp(f->path, path) != 0)
			continue;
		*known = 1;
		if (fmt_media_is(ct, f->media))
			return f;
	}
	return NULL;
}

/* 415, naming the media types path takes on ls. */
static void
reply_415(struct evhttp_request *req, enum fmt_listener ls, const char *path)
{
	char	msg[200];
	size_t	i, off;

	off = (size_t)snprintf(msg, sizeof(msg), "Content-Type must be");
	for (i = 0; i < ingest_nfmts && off < sizeof(msg); i++)
		if (ingest_fmts[i].listener == ls &&
		    strcmp(ingest_fmts[i].path, path) == 0)
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
			    "%s %s", off > 20 ? " or" : "",
			    ingest_fmts[i].media);
	reply_error(req, 415, "Unsupported Media Type", RJ_MEDIA_TYPE, msg);
}

/* Whether the request may go on past path and method; if not, answered. */
static int
method_ok(struct evhttp_request *req, int post, int get)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (!post && !get) {
		reply_error(req, 404, "Not Found", RJ_NOT_FOUND, "not found");
		return 0;
	}
	if ((post && cmd != EVHTTP_REQ_POST) || (get &&
	    cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", post ? "POST" : "GET, HEAD");
		reply_error(req, 405, "Method Not Allowed", RJ_METHOD,
		    "method not allowed");
		return 0;
	}
	return 1;
}

/* Origin and Host: no browser page and no rebound name. */
static int
origin_ok(struct evhttp_request *req)
{
	struct evkeyvalq *hdr = evhttp_request_get_input_headers(req);

	if (evhttp_find_header(hdr, "Origin") != NULL) {
		reply_error(req, 403, "Forbidden", RJ_FORBIDDEN,
		    "requests from browsers (Origin) are refused");
		return 0;
	}
	if (!host_ok(evhttp_find_header(hdr, "Host"))) {
		reply_error(req, 403, "Forbidden", RJ_FORBIDDEN,
		    "Host is not this agent");
		return 0;
	}
	return 1;
}

static void
get_healthz(struct evhttp_request *req)
{
	if (window_connected())
		reply_json(req, 200, "OK", "{\"status\":\"ok\"}");
	else
		reply_json(req, 503, "Service Unavailable",
		    "{\"status\":\"writerd unavailable\"}");
}

/* evhttp's callback for every request on listener arg (an fmt_listener). */
static void
route(struct evhttp_request *req, void *arg)
{
	enum fmt_listener	 ls = (enum fmt_listener)(intptr_t)arg;
	const struct ingest_fmt	*f;
	const char		*path, *ct;
	int			 post, get;

	conn_request(req);
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL)
		path = "";
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	f = fmt_find(ls, path, ct, &post);
	get = strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0;
	if (!method_ok(req, post, get) || !origin_ok(req))
		return;
	if (strcmp(path, "/healthz") == 0)
		get_healthz(req);
	else if (!token_ok(req))
		reply_error(req, 401, "Unauthorized", RJ_UNAUTHORIZED,
		    "unauthorized");
	else if (get)
		get_metrics(req);
	else if (h.draining) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", "1");
		reply_error(req, 503, "Service Unavailable", RJ_SHUTTING_DOWN,
		    "shutting down");
	} else if (f == NULL)
		reply_415(req, ls, path);
	else
		post_events(req, f);
}

/* Let many idle connections coexist: raise the descriptor limit. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("raise RLIMIT_NOFILE");
	}
}

int
http_start(void)
{
	const struct conf	*c = ing.conf;
	int			 port;

	if (conf_parse_addr(c->listen, h.host, sizeof(h.host), &port) == -1)
		fatalx("listen %s: bad address", c->listen);
	crypto_generichash(h.token_hash, sizeof(h.token_hash),
	    (const unsigned char *)c->auth_token, strlen(c->auth_token), NULL, 0);
	raise_nofile();
	if ((h.http = evhttp_new(ing.base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_max_body_size(h.http, c->max_body_bytes);
	evhttp_set_max_headers_size(h.http, HEADERS_MAX);
	evhttp_set_timeout(h.http, IO_TIMEOUT_S);
	evhttp_set_flags(h.http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_allowed_methods(h.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h.http, route, (void *)(intptr_t)LS_API);
	if ((h.ev_cut = evtimer_new(ing.base, on_cut, NULL)) == NULL)
		fatalx("evtimer_new");
	evhttp_set_bevcb(h.http, conn_bev, NULL);
	h.listener = evhttp_bind_socket_with_handle(h.http, h.host,
	    (ev_uint16_t)port);
	if (h.listener == NULL) {
		log_warn("listen on %s", c->listen);
		return -1;
	}
	conn_start(evhttp_bound_socket_get_listener(h.listener),
	    getenv("OCT_TEST_CONN_DEADLINE_MS") != NULL ?
	    atoll(getenv("OCT_TEST_CONN_DEADLINE_MS")) : CONN_DEADLINE_MS);
	log_info("listening on %s", c->listen);
	return 0;
}

void
http_drain(void)
{
	h.draining = 1;
	conn_drain();
	if (h.listener != NULL)
		evhttp_del_accept_socket(h.http, h.listener);
	h.listener = NULL;
}

void
http_stop(void)
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
	conn_stop();
	if (h.http != NULL)
		evhttp_free(h.http);
	h.http = NULL;
	conn_free();
}
