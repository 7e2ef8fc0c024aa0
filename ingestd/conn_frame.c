/*
 * conn_frame.c: what ingestd checks of a request before evhttp parses it
 * (SPEC section 4.4; RFC 9112), because evhttp 2.1 gets these wrong and
 * has no hook between reading a request's headers and reading its body:
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
 *
 * conn.c calls conn_follow() from the input buffer's callback and after
 * an answer has left (conn_int.h). Built for heads of a few hundred bytes
 * and bodies read once: a head is copied while it is collected, a chunked
 * body is scanned in 4 KiB steps and copied again only when an extension
 * is cut out of it.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "conn_int.h"

#define HEAD_MAX	(128 * 1024)	/* past it, evhttp answers alone */
#define CHUNK_LINE_MAX	1024

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
void
conn_follow(struct conn *c, struct evbuffer *in, size_t off)
{
	if (c->phase == PH_HEAD)
		head(c, in, off);
	else if (c->phase == PH_CHUNKS)
		chunks(c, in, off);
}

