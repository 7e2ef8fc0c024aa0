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
 * conn_frame.c checks each request's framing before evhttp parses it
 * (conn_int.h); conn.c sees its bytes arrive and leave and hands them on.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "conn_int.h"

#define CONN_SWEEP_MS	250

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
		conn_follow(c, in, evbuffer_get_length(in) - info->n_added);
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
			conn_follow(c, bufferevent_get_input(c->bev), 0);
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
