/*
 * http.c: the ingest HTTP API (SPEC section 4) on libevent's evhttp.
 *
 * Checks run in the SPEC's order: body size (evhttp, before anything),
 * path and method, Origin and Host, token, content type, content. An array
 * is all or nothing: every item is validated and encoded before any enters
 * the window. A request is answered only when its last event is written to
 * writerd's channel (202) or, with ?wait=commit, committed (200); until
 * then it waits in the pending list, bounded by queue_capacity.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "util.h"

#define MAX_ARRAY	1000
#define MAX_DEPTH	64
#define HEADERS_MAX	(64 * 1024)
#define IO_TIMEOUT_S	10

struct pending {
	struct evhttp_request	*req;
	uint64_t		 last_seq;
	int			 commit;
	int64_t			 cut_at;	/* mono ms; commit only */
	char			*body;
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
reply_json(struct evhttp_request *req, int code, const char *reason,
    const char *body)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add_printf(buf, "%s\n", body);
	evhttp_send_reply(req, code, reason, buf);
	evbuffer_free(buf);
}

/* Answer an error as {"error":msg[,"index":i][,"field":f]}. */
static void
reply_error(struct evhttp_request *req, int code, const char *reason,
    enum reject_reason why, const char *msg, int index, const char *field)
{
	json_t	*o = json_pack("{s:s}", "error", msg);
	char	*text;

	stats_rejected(why);
	if (o != NULL && index >= 0)
		json_object_set_new(o, "index", json_integer(index));
	if (o != NULL && field != NULL)
		json_object_set_new(o, "field", json_string(field));
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	reply_json(req, code, reason, text != NULL ? text :
	    "{\"error\":\"out of memory\"}");
	free(text);
	json_decref(o);
}

static void
reply_503(struct evhttp_request *req, enum reject_reason why, size_t events)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", "1");
	stats_dropped(events);
	reply_error(req, 503, "Service Unavailable", why,
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
is_json(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static int
too_deep(json_t *v, int depth)
{
	const char	*k;
	json_t		*x;
	size_t		 i;

	if (depth > MAX_DEPTH)
		return 1;
	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			if (too_deep(x, depth + 1))
				return 1;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (too_deep(x, depth + 1))
				return 1;
	}
	return 0;
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
	if (p->commit)
		reply_json(p->req, 200, "OK", p->body);
	else
		reply_json(p->req, 202, "Accepted", p->body);
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
	reply_error(p->req, 503, "Service Unavailable", RJ_COMMIT_TIMEOUT,
	    msg, -1, NULL);
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

/* Build {"accepted":N,"trace_ids":[...]} from n ids. */
static char *
accepted_body(char (*ids)[UUID_STR_LEN], size_t n)
{
	char	*s = malloc(40 + n * (UUID_STR_LEN + 3));
	size_t	 i, off;

	if (s == NULL)
		return NULL;
	off = (size_t)sprintf(s, "{\"accepted\":%zu,\"trace_ids\":[", n);
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(s + off, "%s\"%s\"", i ? "," : "", ids[i]);
	strcpy(s + off, "]}");
	return s;
}

static void
hold(struct evhttp_request *req, uint64_t last_seq, int commit, char *body)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		fatal("pending");
	p->req = req;
	p->last_seq = last_seq;
	p->commit = commit;
	p->cut_at = mono_ms() + ing.conf->shutdown_timeout_ms;
	p->body = body;
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

/* Validate and queue the events of body (one object or an array). */
static void
ingest(struct evhttp_request *req, enum event_kind kind, json_t *body)
{
	struct msgb		*frames;
	struct event_error	 err;
	char			(*ids)[UUID_STR_LEN], *answer_body, msg[120];
	size_t			 n, i;
	uint64_t		 seq = window_next_seq();
	int64_t			 now = now_ms();
	int			 arr = json_is_array(body);

	n = arr ? json_array_size(body) : 1;
	if (arr && n == 0) {
		reply_error(req, 400, "Bad Request", RJ_BAD_REQUEST,
		    "empty array", -1, NULL);
		return;
	}
	if (n > MAX_ARRAY) {
		reply_error(req, 413, "Payload Too Large", RJ_TOO_LARGE,
		    "more than 1000 events in one request", -1, NULL);
		return;
	}
	if (n > (size_t)ing.conf->queue_capacity) {
		/* never 503: a retry could never fit either */
		snprintf(msg, sizeof(msg), "array of %zu events is larger than "
		    "queue_capacity (%lld); split it", n,
		    (long long)ing.conf->queue_capacity);
		reply_error(req, 413, "Payload Too Large", RJ_TOO_LARGE, msg,
		    -1, NULL);
		return;
	}
	if (window_storage_full()) {
		reply_503(req, RJ_STORAGE_FULL, n);
		return;
	}
	if (window_room() < n) {
		reply_503(req, RJ_QUEUE_FULL, n);
		return;
	}
	frames = calloc(n, sizeof(*frames));
	ids = calloc(n, sizeof(*ids));
	if (frames == NULL || ids == NULL)
		fatal("ingest");
	for (i = 0; i < n; i++) {
		if (event_encode(kind, arr ? json_array_get(body, i) : body,
		    ing.idkey, ids[i], now, (size_t)ing.conf->max_text_bytes,
		    seq + i, &frames[i], &err) == -1) {
			reply_error(req, 400, "Bad Request", RJ_BAD_REQUEST,
			    err.msg, arr ? (int)i : -1,
			    err.field[0] != '\0' ? err.field : NULL);
			goto done;
		}
	}
	for (i = 0; i < n; i++)
		if (window_push(&frames[i], 1) == -1)
			fatalx("window refused an event it had room for");
	stats_accepted(kind, n);
	if ((answer_body = accepted_body(ids, n)) == NULL)
		fatal("answer");
	hold(req, seq + n - 1, wants_commit(req), answer_body);
done:
	for (i = 0; i < n; i++)
		msg_free(&frames[i]);
	free(frames);
	free(ids);
}

static void
post_event(struct evhttp_request *req, enum event_kind kind)
{
	struct evkeyvalq	*hdr = evhttp_request_get_input_headers(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	json_error_t		 jerr;
	json_t			*body;
	size_t			 len = evbuffer_get_length(in);
	char			 msg[300];

	if (!is_json(evhttp_find_header(hdr, "Content-Type"))) {
		reply_error(req, 415, "Unsupported Media Type", RJ_MEDIA_TYPE,
		    "Content-Type must be application/json", -1, NULL);
		return;
	}
	if (evhttp_find_header(hdr, "Transfer-Encoding") != NULL &&
	    evhttp_find_header(hdr, "Content-Length") != NULL) {
		reply_error(req, 400, "Bad Request", RJ_BAD_REQUEST,
		    "both Transfer-Encoding and Content-Length", -1, NULL);
		return;
	}
	body = json_loadb((const char *)evbuffer_pullup(in, -1), len,
	    JSON_DECODE_ANY, &jerr);
	if (body == NULL) {
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			snprintf(msg, sizeof(msg), "invalid UTF-8");
		else
			snprintf(msg, sizeof(msg), "malformed JSON: %s at line "
			    "%d column %d", jerr.text, jerr.line, jerr.column);
		reply_error(req, 400, "Bad Request", RJ_BAD_REQUEST, msg, -1,
		    NULL);
		return;
	}
	if (!json_is_object(body) && !json_is_array(body))
		reply_error(req, 400, "Bad Request", RJ_BAD_REQUEST,
		    "body must be an object or an array of objects", -1, NULL);
	else if (too_deep(body, 1))
		reply_error(req, 400, "Bad Request", RJ_BAD_REQUEST,
		    "nesting deeper than 64 levels", -1, NULL);
	else
		ingest(req, kind, body);
	json_decref(body);
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

static void
route(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq	*hdr = evhttp_request_get_input_headers(req);
	const char		*path;
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	int			 kind = -1, get = 0, i;

	(void)arg;
	conn_request(req);
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL)
		path = "";
	for (i = 0; i < EV_NKINDS; i++)
		if (strcmp(path, event_defs[i].path) == 0)
			kind = i;
	get = strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0;
	if (kind == -1 && !get) {
		reply_error(req, 404, "Not Found", RJ_NOT_FOUND, "not found", -1,
		    NULL);
		return;
	}
	if ((kind != -1 && cmd != EVHTTP_REQ_POST) ||
	    (get && cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", kind != -1 ? "POST" : "GET, HEAD");
		reply_error(req, 405, "Method Not Allowed", RJ_METHOD,
		    "method not allowed", -1, NULL);
		return;
	}
	if (evhttp_find_header(hdr, "Origin") != NULL) {
		reply_error(req, 403, "Forbidden", RJ_FORBIDDEN,
		    "requests from browsers (Origin) are refused", -1, NULL);
		return;
	}
	if (!host_ok(evhttp_find_header(hdr, "Host"))) {
		reply_error(req, 403, "Forbidden", RJ_FORBIDDEN,
		    "Host is not this agent", -1, NULL);
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		if (window_connected())
			reply_json(req, 200, "OK", "{\"status\":\"ok\"}");
		else
			reply_json(req, 503, "Service Unavailable",
			    "{\"status\":\"writerd unavailable\"}");
		return;
	}
	if (!token_ok(req)) {
		reply_error(req, 401, "Unauthorized", RJ_UNAUTHORIZED,
		    "unauthorized", -1, NULL);
		return;
	}
	if (get)
		get_metrics(req);
	else if (h.draining) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", "1");
		reply_error(req, 503, "Service Unavailable", RJ_SHUTTING_DOWN,
		    "shutting down", -1, NULL);
	} else
		post_event(req, (enum event_kind)kind);
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
	evhttp_set_gencb(h.http, route, NULL);
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
