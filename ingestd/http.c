/*
 * http.c: the ingest HTTP listeners (SPEC sections 4 and 4.5) on
 * libevent's evhttp: `listen` serves the JSON API, `otlp_listen` OTLP/HTTP.
 *
 * Checks run in the SPEC's order: body size and framing (evhttp and
 * conn.c, before anything), path and method, Origin and Host (also an
 * absolute-form target's host), token, content type, content. No wire
 * format is known here: the path and Content-Type pick a row of fmt.c's
 * table, whose decoder turns the body into struct events and whose
 * answers are in its encoding. A request is all or nothing: every event
 * is validated and encoded (event_encode) before any enters the window
 * (a format that takes partial success, as OTLP, drops and counts the
 * events it refuses instead). answer.c holds the answer until the events
 * are written or committed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
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

/* One listening socket, serving the rows of ingest_fmts[] that name it. */
struct lsock {
	const char		*key;		/* its configuration key */
	struct evhttp		*http;
	struct evhttp_bound_socket *bound;
	char			 host[64];	/* of its address */
};

static struct {
	struct lsock		 ls[LS_N];
	int			 draining;
	unsigned char		 token_hash[crypto_generichash_BYTES];
} h = { .ls = { [LS_API] = { .key = "listen" },
	[LS_OTLP] = { .key = "otlp_listen" } } };


static int
is_loopback(const char *host)
{
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

/* A Host header names this agent: loopback, or the address of ls. */
static int
host_ok(enum fmt_listener ls, const char *hdr)
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
	return is_loopback(host) || strcasecmp(host, h.ls[ls].host) == 0;
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

/* Where a request's events go: frames, their ids, what was refused. */
struct batch {
	struct msgb	*frames;	/* the accepted ones, in order */
	char		(*ids)[UUID_STR_LEN];	/* of all n; "": refused */
	size_t		 accepted, refused;
	size_t		 counts[EV_NKINDS];
	size_t		 unknown_cost;	/* traces of models without a price */
	char		 why[160];	/* the first refusal */
};

/*
 * Validate and encode the n events of fh into b, the accepted ones under
 * consecutive sequence numbers from seq. A refused event ends it with a
 * 400 answer (returns -1), unless the format takes partial success: then
 * it is counted in b and the others go on. Returns 0.
 */
static int
encode_all(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    size_t n, uint64_t seq, struct batch *b)
{
	struct event		 e;
	struct event_error	 err;
	struct msgb		*fr;
	int64_t			 now = now_ms();
	size_t			 i;
	int			 unknown;

	for (i = 0; i < n; i++) {
		err.field[0] = '\0';
		fr = &b->frames[b->accepted];
		if (f->ops->item(fh, i, b->ids, &e, &err) == 0) {
			e.received_at = now;
			unknown = cost_fill(&e);
			if (event_encode(&e, ing.idkey, b->ids[i],
			    (size_t)ing.conf->max_text_bytes, seq + b->accepted,
			    fr, &err) == 0) {
				b->counts[e.kind]++;
				b->unknown_cost += (size_t)unknown;
				b->accepted++;
				continue;
			}
		}
		msg_free(fr);
		b->ids[i][0] = '\0';
		if (!f->ops->partial) {
			reply_fmt(req, f, fh, 400, "Bad Request",
			    RJ_BAD_REQUEST, err.msg, (long)i,
			    err.field[0] != '\0' ? err.field : NULL);
			return -1;
		}
		if (b->refused++ == 0)
			snprintf(b->why, sizeof(b->why), "%s", err.msg);
	}
	return 0;
}

/* Queue the accepted events of b and answer (or hold the answer). */
static void
queue_batch(struct evhttp_request *req, const struct ingest_fmt *f,
    void *fh, size_t n, uint64_t seq, struct batch *b)
{
	char	*body;
	size_t	 i, len = 0;

	for (i = 0; i < b->accepted; i++)
		if (window_push(&b->frames[i], 1) == -1)
			fatalx("window refused an event it had room for");
	for (i = 0; i < EV_NKINDS; i++)
		if (b->counts[i] > 0)
			stats_accepted((enum event_kind)i, b->counts[i]);
	stats_unknown_cost(b->unknown_cost);
	body = f->ops->accepted(fh, b->ids, n, b->refused, b->why, &len);
	if (body == NULL)
		fatal("answer");
	if (b->accepted > 0) {
		answer_hold(req, f, seq + b->accepted - 1,
		    answer_wants_commit(req), body, len);
		return;
	}
	reply(req, 200, "OK", f->ops->answer_type, body, len);	/* nothing */
	free(body);
}

/* Validate and queue the n events of fh (all or none, or partial), answer. */
static void
ingest(struct evhttp_request *req, const struct ingest_fmt *f, void *fh,
    size_t n)
{
	struct batch	 b;
	uint64_t	 seq = window_next_seq();
	size_t		 i;

	if (!room_for(req, f, fh, n))
		return;
	memset(&b, 0, sizeof(b));
	b.frames = calloc(n + 1, sizeof(*b.frames));
	b.ids = calloc(n + 1, sizeof(*b.ids));
	if (b.frames == NULL || b.ids == NULL)
		fatal("ingest");
	if (encode_all(req, f, fh, n, seq, &b) == 0)
		queue_batch(req, f, fh, n, seq, &b);
	for (i = 0; i < n; i++)
		msg_free(&b.frames[i]);
	free(b.frames);
	free(b.ids);
}

/*
 * The body of req, inflated when the format takes gzip and the client
 * sent it so (SPEC 4.5: at most max_body_bytes once inflated) into *body
 * (NULL when empty) and *len; *tofree is what to free after, or NULL.
 * Returns 0, or -1 once answered.
 */
static int
request_body(struct evhttp_request *req, const struct ingest_fmt *f,
    const char **body, size_t *len, char **tofree)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	const char	*ce;
	char		 msg[120];

	*tofree = NULL;
	*len = evbuffer_get_length(in);
	*body = (const char *)evbuffer_pullup(in, -1);
	ce = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Encoding");
	if (!f->ops->gzip || ce == NULL || strcasecmp(ce, "identity") == 0)
		return 0;
	if (strcasecmp(ce, "gzip") != 0) {
		reply_fmt(req, f, NULL, 415, "Unsupported Media Type",
		    RJ_MEDIA_TYPE, "Content-Encoding must be gzip or identity",
		    -1, NULL);
		return -1;
	}
	switch (gunzip(*body, *len, (size_t)ing.conf->max_body_bytes, tofree,
	    len)) {
	case 0:
		*body = *tofree;
		return 0;
	case -2:
		snprintf(msg, sizeof(msg), "body larger than max_body_bytes "
		    "(%lld bytes) once inflated",
		    (long long)ing.conf->max_body_bytes);
		reply_fmt(req, f, NULL, 413, "Payload Too Large", RJ_TOO_LARGE,
		    msg, -1, NULL);
		return -1;
	default:
		reply_fmt(req, f, NULL, 400, "Bad Request", RJ_BAD_REQUEST,
		    "malformed gzip body", -1, NULL);
		return -1;
	}
}

/* A POST to format f's path with its media type: decode, then ingest. */
static void
post_events(struct evhttp_request *req, const struct ingest_fmt *f)
{
	struct evkeyvalq	*hdr = evhttp_request_get_input_headers(req);
	struct event_error	 err;
	struct fmt_info		 info = { 0, 0, NULL };
	const char		*body;
	char			*inflated;
	size_t			 len;
	void			*fh;

	if (evhttp_find_header(hdr, "Transfer-Encoding") != NULL &&
	    evhttp_find_header(hdr, "Content-Length") != NULL) {
		reply_fmt(req, f, NULL, 400, "Bad Request", RJ_BAD_REQUEST,
		    "both Transfer-Encoding and Content-Length", -1, NULL);
		return;
	}
	if (request_body(req, f, &body, &len, &inflated) == -1)
		return;
	fh = f->ops->open(f, ing.conf, body, len, &info, &err);
	if (fh == NULL)
		reply_fmt(req, f, NULL, 400, "Bad Request", RJ_BAD_REQUEST,
		    err.msg, -1, NULL);
	else {
		if (info.ignored > 0)
			stats_ignored(info.signal, info.ignored);
		ingest(req, f, fh, info.n);
		f->ops->close(fh);
	}
	free(inflated);
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
origin_ok(struct evhttp_request *req, enum fmt_listener ls)
{
	struct evkeyvalq	*hdr = evhttp_request_get_input_headers(req);
	const char		*uri_host;

	if (evhttp_find_header(hdr, "Origin") != NULL) {
		reply_error(req, 403, "Forbidden", RJ_FORBIDDEN,
		    "requests from browsers (Origin) are refused");
		return 0;
	}
	/* an absolute-form target names the host (RFC 9112 3.2.2) */
	uri_host = evhttp_uri_get_host(evhttp_request_get_evhttp_uri(req));
	if (!host_ok(ls, evhttp_find_header(hdr, "Host")) ||
	    (uri_host != NULL && !host_ok(ls, uri_host))) {
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
	if (!method_ok(req, post, get) || !origin_ok(req, ls))
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

/* A new evhttp with ingestd's limits, routing to ls. */
static struct evhttp *
http_new(enum fmt_listener ls)
{
	struct evhttp *http;

	if ((http = evhttp_new(ing.base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_max_body_size(http, ing.conf->max_body_bytes);
	evhttp_set_max_headers_size(http, HEADERS_MAX);
	evhttp_set_timeout(http, IO_TIMEOUT_S);
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, route, (void *)(intptr_t)ls);
	evhttp_set_bevcb(http, conn_bev, NULL);
	return http;
}

/* Listen on addr for ls. Returns 0, or -1 with err naming the key. */
static int
lsock_bind(enum fmt_listener ls, const char *addr, char *err, size_t errlen)
{
	struct lsock	*l = &h.ls[ls];
	int		 port;

	if (conf_parse_addr(addr, l->host, sizeof(l->host), &port) == -1) {
		snprintf(err, errlen, "%s %s: bad address", l->key, addr);
		return -1;
	}
	l->http = http_new(ls);
	l->bound = evhttp_bind_socket_with_handle(l->http, l->host,
	    (ev_uint16_t)port);
	if (l->bound == NULL) {
		snprintf(err, errlen, "%s %s: cannot listen: %s", l->key, addr,
		    strerror(errno));
		return -1;
	}
	conn_listener(evhttp_bound_socket_get_listener(l->bound));
	log_info("listening on %s%s", addr,
	    ls == LS_OTLP ? " (OTLP/HTTP)" : "");
	return 0;
}

int
http_start(char *err, size_t errlen)
{
	const struct conf *c = ing.conf;

	crypto_generichash(h.token_hash, sizeof(h.token_hash),
	    (const unsigned char *)c->auth_token, strlen(c->auth_token), NULL, 0);
	raise_nofile();
	answer_start();
	conn_start(getenv("OCT_TEST_CONN_DEADLINE_MS") != NULL ?
	    atoll(getenv("OCT_TEST_CONN_DEADLINE_MS")) : CONN_DEADLINE_MS);
	if (lsock_bind(LS_API, c->listen, err, errlen) == -1)
		return -1;
	if (*c->otlp_listen != '\0' &&
	    lsock_bind(LS_OTLP, c->otlp_listen, err, errlen) == -1)
		return -1;
	return 0;
}

void
http_drain(void)
{
	int i;

	h.draining = 1;
	conn_drain();
	for (i = 0; i < LS_N; i++) {
		if (h.ls[i].bound != NULL)
			evhttp_del_accept_socket(h.ls[i].http, h.ls[i].bound);
		h.ls[i].bound = NULL;
	}
}

void
http_stop(void)
{
	int i;

	answer_stop();
	conn_stop();
	for (i = 0; i < LS_N; i++) {
		if (h.ls[i].http != NULL)
			evhttp_free(h.ls[i].http);
		h.ls[i].http = NULL;
	}
	conn_free();
}
