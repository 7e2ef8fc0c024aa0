/*
 * conn.c: counting connections and giving each request a deadline.
 *
 * libevent 2.1's evhttp has no connection cap, and its timeouts restart on
 * every byte, so a client sending a byte now and then could hold a
 * connection for ever. evhttp makes each connection's bufferevent through
 * conn_bev(); we keep a reference on it, which tells us when evhttp has let
 * go (its callbacks are cleared) and gives us the socket to shut down when
 * a request takes longer than CONN_DEADLINE_MS. At CONN_MAX connections
 * (of both listeners together) the listeners pause (the kernel backlog holds newcomers) until some close.
 * A request ingestd itself holds (waiting for writerd) is not the client's
 * delay and is never cut.
 *
 * Built for up to a few thousand connections: a request finds its record by
 * a linear scan, a few hundred nanoseconds at that size.
 *
 * Every answer of the API is JSON (SPEC section 4.4), also the ones evhttp
 * makes by itself without ever calling route(): 413 for a body over
 * max_body_bytes (evhttp enforces it while reading, after a lingering
 * close has taken the rest of the body, so the client reads the answer),
 * 400 for a request line or headers it cannot parse. libevent 2.1 has no
 * hook for those pages (2.2's evhttp_set_errorcb), so conn.c watches each
 * connection's output buffer: a response that starts while no request of
 * the connection reached route() is evhttp's own; once it is whole (it is
 * written in one go, before any byte leaves), it is replaced by the same
 * status with a JSON body, and counted in oct_ingest_rejected_total.
 *
 * What conn.c checks of a request before evhttp parses it (SPEC section
 * 4.4; RFC 9112), because evhttp 2.1 gets these wrong and has no hook
 * between reading a request's headers and reading its body:
 *  - bytes that cannot start a request (a TLS ClientHello): 400 at once
 *    (evhttp would wait for a line end until the request deadline);
 *  - a Content-Length over max_body_bytes (also 20 digits long): 413 at
 *    once (evhttp's lingering close would wait for the body, which a
 *    client sending Expect: 100-continue never sends);
 *  - two Content-Lengths that differ: 400 (evhttp takes the first);
 *  - a Transfer-Encoding other than "chunked": 501 (evhttp ignores it);
 *  - a chunk size that is not hex: 400 "malformed chunked body" (evhttp
 *    answers 413 "too large"); a chunk extension (";a=b", which evhttp
 *    refuses) is cut out of the input before evhttp reads the line.
 * The input buffer's callback runs as bytes arrive, before evhttp reads
 * them; a refused request is answered on the socket itself (JSON,
 * Connection: close), the write side is shut, and all further input is
 * dropped, so evhttp never sees it and frees the connection at the
 * client's close or the deadline. After an answer of route()'s has left,
 * the next request is followed from the start of the input, where evhttp
 * reads it (pipelined bytes may be there already); after evhttp's own
 * error page, which closes the connection, nothing is followed.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "oct.h"

#define CONN_SWEEP_MS	250
#define HEAD_MAX	(128 * 1024)	/* past it, evhttp answers alone */
#define CHUNK_LINE_MAX	1024

/* Where a connection's input is, as conn.c follows it. */
enum phase {
	PH_HEAD,	/* a request's head: collected into hbuf */
	PH_CHUNKS,	/* a chunked body: its size lines checked */
	PH_PASS,	/* the rest: evhttp's */
	PH_REFUSED	/* answered here: input is dropped */
};

struct conn {
	struct bufferevent	*bev;
	struct evbuffer_cb_entry *watch;	/* on the output buffer */
	struct evbuffer_cb_entry *iwatch;	/* on the input buffer */
	int64_t			 since;		/* accepted, or last request done */
	int			 held;		/* a request waits on ingestd */
	int			 routed;	/* route() has the request */
	int			 rewriting;
	int			 interim;	/* output is a 1xx answer */
	enum phase		 phase;
	char			*hbuf;		/* PH_HEAD: the head so far */
	size_t			 hlen, hcap;
	int64_t			 tot;		/* input bytes ever, as evhttp
						   sees them */
	int			 editing;	/* conn.c changes the input */
	int64_t			 cline;		/* PH_CHUNKS: where the size
						   line starts (-1: data) */
	int64_t			 cend;		/* the end of its hex digits
						   if more follows, or -1 */
	int64_t			 cext;		/* its ';', or -1 */
	uint64_t		 cval;		/* its size */
	uint64_t		 cdata;		/* data bytes still to come */
	int			 chex, cdigits;	/* hex digits, significant */
	int			 cbad;		/* the line is not hex */
	int			 ccr;		/* the last byte was a CR */
	TAILQ_ENTRY(conn)	 entry;
};

static struct {
	TAILQ_HEAD(, conn)	 all;
	size_t			 n;
	struct evconnlistener	*listeners[LS_N];
	size_t			 nlisteners;
	int			 paused;
	struct event		*sweep;
	int64_t			 deadline;
} cs = { .all = TAILQ_HEAD_INITIALIZER(cs.all), .deadline = CONN_DEADLINE_MS };

static struct conn *
find(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	struct conn			*c;

	if ((evcon = evhttp_request_get_connection(req)) == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	TAILQ_FOREACH(c, &cs.all, entry)
		if (c->bev == bev)
			return c;
	return NULL;
}

void
conn_request(struct evhttp_request *req)
{
	struct conn *c = find(req);

	if (c != NULL) {
		c->since = mono_ms();
		c->routed = 1;
	}
}

void
conn_hold(struct evhttp_request *req, int held)
{
	struct conn *c = find(req);

	if (c != NULL) {
		c->held = held;
		c->since = mono_ms();
	}
}

size_t
conn_count(void)
{
	return cs.n;
}

size_t
conn_unflushed(void)
{
	struct conn	*c;
	size_t		 n = 0;

	TAILQ_FOREACH(c, &cs.all, entry)
		n += evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
	return n;
}

/* Stop (or resume) accepting on every listener; the kernel queues. */
static void
pause_listeners(int pause)
{
	size_t i;

	for (i = 0; i < cs.nlisteners; i++)
		if (pause)
			evconnlistener_disable(cs.listeners[i]);
		else
			evconnlistener_enable(cs.listeners[i]);
}

static void
drop(struct conn *c)
{
	TAILQ_REMOVE(&cs.all, c, entry);
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->watch);
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->iwatch);
	free(c->hbuf);
	bufferevent_decref(c->bev);
	free(c);
	cs.n--;
	if (cs.paused && cs.n < CONN_MAX) {
		pause_listeners(0);
		cs.paused = 0;
		log_info("below %d connections: accepting again", CONN_MAX);
	}
}

static void
sweep(evutil_socket_t fd, short ev, void *arg)
{
	struct conn		*c, *next;
	bufferevent_data_cb	 rcb, wcb;
	bufferevent_event_cb	 ecb;
	int64_t			 now = mono_ms();
	int			 sock;

	(void)fd;
	(void)ev;
	(void)arg;
	for (c = TAILQ_FIRST(&cs.all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, NULL);
		if (rcb == NULL && wcb == NULL && ecb == NULL) {
			drop(c);	/* evhttp is done with it */
			continue;
		}
		if (c->held || now - c->since <= cs.deadline)
			continue;
		if ((sock = bufferevent_getfd(c->bev)) != -1) {
			log_info("closing a connection whose request took over "
			    "%lld ms", (long long)cs.deadline);
			shutdown(sock, SHUT_RDWR);
		}
		c->since = now;
	}
}

/* The JSON answer for evhttp's own error status; counts the refusal. */
static const char *
own_error(int status, char *buf, size_t len)
{
	switch (status) {
	case 413:
		stats_rejected(RJ_TOO_LARGE);
		snprintf(buf, len, "{\"error\":\"body larger than "
		    "max_body_bytes (%lld bytes)\"}\n",
		    (long long)ing.conf->max_body_bytes);
		return "Payload Too Large";
	case 405:
	case 501:
		stats_rejected(RJ_METHOD);
		snprintf(buf, len, "{\"error\":\"method not allowed\"}\n");
		return "Method Not Allowed";
	default:
		stats_rejected(RJ_BAD_REQUEST);
		snprintf(buf, len, "{\"error\":\"malformed HTTP request\"}\n");
		return "Bad Request";
	}
}

/*
 * If out holds one whole response of evhttp's own (status line, headers
 * ending in a blank line, then Content-Length bytes or, without one, its
 * HTML page up to </HTML>), replace it with the same status and JSON.
 */
static void
rewrite(struct conn *c, struct evbuffer *out)
{
	struct evbuffer_ptr	 end;
	char			 head[1024], body[200], *cl;
	const char		*reason;
	size_t			 len = evbuffer_get_length(out), hlen;
	long			 clen = -1;
	int			 status, minor;

	end = evbuffer_search(out, "\r\n\r\n", 4, NULL);
	if (end.pos < 0)
		return;
	hlen = (size_t)end.pos + 4;
	if (evbuffer_copyout(out, head, hlen < sizeof(head) ? hlen :
	    sizeof(head) - 1) < 0)
		return;
	head[hlen < sizeof(head) ? hlen : sizeof(head) - 1] = '\0';
	if (sscanf(head, "HTTP/1.%d %d", &minor, &status) != 2)
		return;
	if ((cl = strcasestr(head, "\r\nContent-Length:")) != NULL)
		clen = atol(cl + 17);
	if (clen >= 0 ? len < hlen + (size_t)clen :
	    evbuffer_search(out, "</HTML>\n", 8, NULL).pos + 8 != (ssize_t)len)
		return;		/* not whole yet */
	reason = own_error(status, body, sizeof(body));
	c->rewriting = 1;
	evbuffer_drain(out, len);
	evbuffer_add_printf(out, "HTTP/1.%d %d %s\r\nContent-Type: "
	    "application/json\r\nConnection: close\r\nContent-Length: %zu"
	    "\r\n\r\n%s", minor, status, reason, strlen(body), body);
	c->rewriting = 0;
}

/*
 * Answer the request on c's socket with status and {"error":msg}, shut
 * the write side (the client reads the answer, then EOF), and drop all
 * input from now on. Counted in oct_ingest_rejected_total.
 */
static void
refuse(struct conn *c, struct evbuffer *in, int status, const char *reason,
    enum reject_reason rj, const char *msg)
{
	char	body[256], buf[512];
	int	n, fd = bufferevent_getfd(c->bev);

	stats_rejected(rj);
	log_debug("refused a request before evhttp: %d %s", status, msg);
	c->phase = PH_REFUSED;
	free(c->hbuf);
	c->hbuf = NULL;
	c->hlen = c->hcap = 0;
	c->editing = 1;
	evbuffer_drain(in, evbuffer_get_length(in));
	c->editing = 0;
	snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "application/json\r\nConnection: close\r\nContent-Length: %zu"
	    "\r\n\r\n%s", status, reason, strlen(body), body);
	if (fd == -1)
		return;
	/* an answer of evhttp's not yet sent (a 100): cannot add ours */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 ||
	    send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
		shutdown(fd, SHUT_RDWR);
	else
		shutdown(fd, SHUT_WR);
}

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Whether h (the head so far) can still be a request: a method first. */
static int
starts_request(const char *h, size_t n)
{
	size_t i = 0;

	while (i < n && (h[i] == '\r' || h[i] == '\n'))
		i++;
	for (; i < n && h[i] != ' '; i++)
		if (!is_tchar((unsigned char)h[i]))
			return 0;
	return 1;
}

/* The value of the header line [line, eol), trimmed; NULL if not name. */
static const char *
header_value(const char *line, const char *eol, const char *name,
    size_t *len)
{
	size_t		 nlen = strlen(name);
	const char	*v, *e = eol;

	if ((size_t)(eol - line) <= nlen || line[nlen] != ':' ||
	    strncasecmp(line, name, nlen) != 0)
		return NULL;
	for (v = line + nlen + 1; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*len = (size_t)(e - v);
	return v;
}

/* A chunk size line starts at stream position at. */
static void
chunk_reset(struct conn *c, int64_t at)
{
	c->cline = at;
	c->cend = -1;
	c->cext = -1;
	c->cbad = 0;
	c->cval = 0;
	c->chex = 0;
	c->cdigits = 0;
}

/*
 * A whole head h of n bytes: refuse what evhttp would get wrong (see the
 * comment at the top), else follow its chunked body or leave it to evhttp.
 */
static void
check_head(struct conn *c, struct evbuffer *in, const char *h, size_t n)
{
	const char	*line, *eol, *v, *end = h + n;
	char		 msg[120];
	size_t		 vlen, i;
	uint64_t	 cl = 0, x;
	int		 ncl = 0, differ = 0, big = 0, te = 0, chunked = 0;

	if ((line = memchr(h, '\n', n)) == NULL)
		return;
	for (line++; line < end && (eol = memchr(line, '\n',
	    (size_t)(end - line))) != NULL; line = eol + 1) {
		if ((v = header_value(line, eol, "Content-Length",
		    &vlen)) != NULL) {
			for (i = 0, x = 0; i < vlen && v[i] >= '0' &&
			    v[i] <= '9'; i++)
				x = x > UINT64_MAX / 100 ? UINT64_MAX :
				    x * 10 + (uint64_t)(v[i] - '0');
			if (vlen == 0 || i < vlen)
				continue;	/* not a number: evhttp's 400 */
			if (ncl++ > 0 && x != cl)
				differ = 1;
			cl = x;
			if (x > (uint64_t)ing.conf->max_body_bytes)
				big = 1;
		} else if ((v = header_value(line, eol, "Transfer-Encoding",
		    &vlen)) != NULL) {
			if (te++ == 0 && vlen == 7 &&
			    strncasecmp(v, "chunked", 7) == 0)
				chunked = 1;
			else
				chunked = 0;
		}
	}
	if (te > 0 && !chunked)
		refuse(c, in, 501, "Not Implemented", RJ_BAD_REQUEST,
		    "Transfer-Encoding other than chunked is not supported");
	else if (differ)
		refuse(c, in, 400, "Bad Request", RJ_BAD_REQUEST,
		    "Content-Length headers that differ");
	else if (big && !chunked) {
		snprintf(msg, sizeof(msg), "body larger than max_body_bytes "
		    "(%lld bytes)", (long long)ing.conf->max_body_bytes);
		refuse(c, in, 413, "Payload Too Large", RJ_TOO_LARGE, msg);
	} else if (chunked) {
		c->phase = PH_CHUNKS;
		chunk_reset(c, c->tot - (int64_t)evbuffer_get_length(in));
	} else
		c->phase = PH_PASS;
}

/*
 * Remove the stream bytes [from, to) from in (evhttp has not read them).
 * Returns how many.
 */
static size_t
cut(struct conn *c, struct evbuffer *in, int64_t from, int64_t to)
{
	size_t	 len = evbuffer_get_length(in), a, b;
	int64_t	 base = c->tot - (int64_t)len;
	char	*tmp;

	if (to <= from || from < base || (tmp = malloc(len)) == NULL)
		return 0;
	a = (size_t)(from - base);
	b = (size_t)(to - base);
	c->editing = 1;
	evbuffer_remove(in, tmp, len);
	evbuffer_add(in, tmp, a);
	evbuffer_add(in, tmp + b, len - b);
	c->editing = 0;
	free(tmp);
	c->tot -= (int64_t)(b - a);
	return b - a;
}

/*
 * A chunk size line ends at stream position nl (its '\n'): refuse it if
 * it is not hex, cut out an extension (and blanks before it), set up the
 * chunk's data. Returns the bytes cut, or -1 when following ends.
 */
static ssize_t
chunk_line(struct conn *c, struct evbuffer *in, int64_t nl, int cr)
{
	size_t	 k = 0;

	if (c->cbad || (c->chex == 0 && c->cend != -1)) {
		refuse(c, in, 400, "Bad Request", RJ_BAD_REQUEST,
		    "malformed chunked body");
		return -1;
	}
	if (c->chex == 0) {		/* the CRLF after a chunk's data */
		chunk_reset(c, nl + 1);
		return 0;
	}
	if (c->cend != -1)
		k = cut(c, in, c->cend, cr ? nl - 1 : nl);
	if (c->cdigits > 15 || c->cval == 0) {
		c->phase = PH_PASS;	/* too large (evhttp's 413), or last */
		return -1;
	}
	c->cdata = c->cval;
	c->cline = -1;
	return (ssize_t)k;
}

/* Follow the chunked body in the bytes of in from offset off. */
static void
chunks(struct conn *c, struct evbuffer *in, size_t off)
{
	struct evbuffer_ptr	 p;
	char			 tmp[4096];
	size_t			 len, n, i, k;
	ssize_t			 cutn;
	int64_t			 start, s;
	int			 ch;

	while (c->phase == PH_CHUNKS && (len = evbuffer_get_length(in)) > off) {
		start = c->tot - (int64_t)len + (int64_t)off;
		if (evbuffer_ptr_set(in, &p, off, EVBUFFER_PTR_SET) == -1)
			return;
		n = len - off < sizeof(tmp) ? len - off : sizeof(tmp);
		if (evbuffer_copyout_from(in, &p, tmp, n) != (ssize_t)n)
			return;
		for (i = 0; i < n; ) {
			if (c->cline == -1) {	/* inside a chunk's data */
				k = c->cdata < n - i ? c->cdata : n - i;
				i += k;
				if ((c->cdata -= k) == 0) {
					chunk_reset(c, start + (int64_t)i);
				}
				continue;
			}
			ch = (unsigned char)tmp[i++];
			s = start + (int64_t)i - 1;
			if (ch == '\n') {
				if ((cutn = chunk_line(c, in, s, i >= 2 ?
				    tmp[i - 2] == '\r' : c->ccr)) < 0)
					return;
				if (cutn > 0) {	/* in changed: copy again */
					off = (size_t)(s + 1 - cutn -
					    (c->tot - (int64_t)
					    evbuffer_get_length(in)));
					goto again;
				}
				continue;
			}
			c->ccr = ch == '\r';
			if (c->cext != -1 || ch == '\r')
				continue;
			if (ch == ';') {
				c->cext = s;
				if (c->cend == -1)
					c->cend = s;
			}
			else if (isxdigit(ch) && c->cend == -1) {
				c->chex++;
				c->cdigits += c->cdigits > 0 || ch != '0';
				c->cval = c->cval * 16 + (uint64_t)(ch <= '9' ?
				    ch - '0' : (ch | 0x20) - 'a' + 10);
			} else if (ch == ' ' || ch == '\t') {
				if (c->cend == -1)
					c->cend = s;
			} else
				c->cbad = 1;
			if (s - c->cline > CHUNK_LINE_MAX)
				c->cbad = 1;
		}
		off += n;
again:		;
	}
}

/*
 * Add the bytes of in from offset off to the head being collected; at its
 * end, check it and follow what comes after it.
 */
static void
head(struct conn *c, struct evbuffer *in, size_t off)
{
	struct evbuffer_ptr	 p;
	size_t			 len = evbuffer_get_length(in), n = len - off;
	size_t			 from, e, body;
	char			*nb;

	if (c->hlen + n > HEAD_MAX) {
		c->phase = PH_PASS;	/* evhttp answers 400 by itself */
		free(c->hbuf);
		c->hbuf = NULL;
		c->hlen = c->hcap = 0;
		return;
	}
	if (c->hlen + n > c->hcap) {
		c->hcap = (c->hlen + n) * 2 < HEAD_MAX ? (c->hlen + n) * 2 :
		    HEAD_MAX;
		if ((nb = realloc(c->hbuf, c->hcap)) == NULL) {
			c->phase = PH_PASS;
			return;
		}
		c->hbuf = nb;
	}
	if (evbuffer_ptr_set(in, &p, off, EVBUFFER_PTR_SET) == -1 ||
	    evbuffer_copyout_from(in, &p, c->hbuf + c->hlen, n) != (ssize_t)n) {
		c->phase = PH_PASS;
		return;
	}
	from = c->hlen;
	c->hlen += n;
	if (!starts_request(c->hbuf, c->hlen)) {
		refuse(c, in, 400, "Bad Request", RJ_BAD_REQUEST,
		    "malformed HTTP request");
		return;
	}
	/* the head ends at an empty line (evhttp takes LF for CRLF) */
	for (e = from > 2 ? from - 2 : 0; e < c->hlen; e++)
		if (c->hbuf[e] == '\n' && e > 0 && (c->hbuf[e - 1] == '\n' ||
		    (c->hbuf[e - 1] == '\r' && e > 1 &&
		    c->hbuf[e - 2] == '\n')))
			break;
	if (e == c->hlen)
		return;
	body = off + (e + 1 - from);	/* in's offset after the head */
	check_head(c, in, c->hbuf, e + 1);
	free(c->hbuf);
	c->hbuf = NULL;
	c->hlen = c->hcap = 0;
	if (c->phase == PH_CHUNKS) {
		c->cline = c->tot - (int64_t)len + (int64_t)body;
		chunks(c, in, body);
	}
}

/* Follow the bytes of in from offset off (see the comment at the top). */
static void
follow(struct conn *c, struct evbuffer *in, size_t off)
{
	if (c->phase == PH_HEAD)
		head(c, in, off);
	else if (c->phase == PH_CHUNKS)
		chunks(c, in, off);
}

/* Input of a connection changed: bytes arrived, or evhttp read some. */
static void
on_input(struct evbuffer *in, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;

	if (c->editing || info->n_added == 0)
		return;
	c->tot += (int64_t)info->n_added;
	if (c->phase == PH_REFUSED) {
		c->editing = 1;
		evbuffer_drain(in, evbuffer_get_length(in));
		c->editing = 0;
	} else
		follow(c, in, evbuffer_get_length(in) - info->n_added);
}

/* Output of a connection changed: see the comment at the top. */
static void
on_output(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn *c = arg;

	if (c->rewriting)
		return;
	if (info->n_added > 0 && info->orig_size == 0)
		c->interim = evbuffer_search(out, "HTTP/1.1 1", 10,
		    NULL).pos == 0;
	if (info->n_deleted > 0 && evbuffer_get_length(out) == 0) {
		/*
		 * An answer of route()'s sent: a new request next, maybe
		 * already in the input. evhttp closes after its own.
		 */
		if (c->interim || c->phase == PH_REFUSED)
			return;
		if (c->routed) {
			c->phase = PH_HEAD;
			follow(c, bufferevent_get_input(c->bev), 0);
		} else
			c->phase = PH_PASS;
		c->routed = 0;
		return;
	}
	/*
	 * Alone in the buffer: evhttp reads no new request before the last
	 * answer is sent, and routed is cleared only once it has been.
	 */
	if (info->n_added > 0 && !c->routed)
		rewrite(c, out);
}

struct bufferevent *
conn_bev(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;
	struct conn		*c;

	(void)arg;
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		return NULL;
	}
	c->watch = evbuffer_add_cb(bufferevent_get_output(bev), on_output, c);
	c->iwatch = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
	if (c->watch == NULL || c->iwatch == NULL) {
		bufferevent_free(bev);
		free(c);
		return NULL;
	}
	bufferevent_incref(bev);
	c->bev = bev;
	c->since = mono_ms();
	TAILQ_INSERT_TAIL(&cs.all, c, entry);
	if (++cs.n >= CONN_MAX && !cs.paused) {
		pause_listeners(1);
		cs.paused = 1;
		log_warnx("%d connections: not accepting more until some close",
		    CONN_MAX);
	}
	return bev;
}

void
conn_listener(struct evconnlistener *listener)
{
	if (cs.nlisteners == LS_N)
		fatalx("conn_listener: more listeners than LS_N");
	cs.listeners[cs.nlisteners++] = listener;
}

void
conn_start(int64_t deadline_ms)
{
	struct timeval tv = { 0, CONN_SWEEP_MS * 1000 };

	cs.deadline = deadline_ms;
	cs.sweep = event_new(ing.base, -1, EV_PERSIST, sweep, NULL);
	if (cs.sweep == NULL || event_add(cs.sweep, &tv) == -1)
		fatalx("connection sweep timer");
}

/* The listeners are gone (draining): stop pausing them, keep sweeping. */
void
conn_drain(void)
{
	cs.nlisteners = 0;
}

void
conn_stop(void)
{
	cs.nlisteners = 0;
	if (cs.sweep != NULL)
		event_free(cs.sweep);
	cs.sweep = NULL;
}

/* After evhttp_free(): every connection is released; drop our references. */
void
conn_free(void)
{
	while (!TAILQ_EMPTY(&cs.all))
		drop(TAILQ_FIRST(&cs.all));
}
