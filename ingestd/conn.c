/*
 * conn.c: counting connections and giving each request a deadline.
 *
 * libevent 2.1's evhttp has no connection cap, and its timeouts restart on
 * every byte, so a client sending a byte now and then could hold a
 * connection for ever. evhttp makes each connection's bufferevent through
 * conn_bev(); we keep a reference on it, which tells us when evhttp has let
 * go (its callbacks are cleared) and gives us the socket to shut down when
 * a request takes longer than CONN_DEADLINE_MS. At CONN_MAX connections the
 * listener pauses (the kernel backlog holds newcomers) until some close.
 * A request ingestd itself holds (waiting for writerd) is not the client's
 * delay and is never cut.
 *
 * Built for up to a few thousand connections: a request finds its record by
 * a linear scan, a few hundred nanoseconds at that size.
 */
#include "config.h"

#include <stdlib.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "ingestd.h"
#include "log.h"
#include "oct.h"

#define CONN_SWEEP_MS	250

struct conn {
	struct bufferevent	*bev;
	int64_t			 since;		/* accepted, or last request done */
	int			 held;		/* a request waits on ingestd */
	TAILQ_ENTRY(conn)	 entry;
};

static struct {
	TAILQ_HEAD(, conn)	 all;
	size_t			 n;
	struct evconnlistener	*listener;
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

	if (c != NULL)
		c->since = mono_ms();
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

static void
drop(struct conn *c)
{
	TAILQ_REMOVE(&cs.all, c, entry);
	bufferevent_decref(c->bev);
	free(c);
	cs.n--;
	if (cs.paused && cs.n < CONN_MAX && cs.listener != NULL) {
		evconnlistener_enable(cs.listener);
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
	bufferevent_incref(bev);
	c->bev = bev;
	c->since = mono_ms();
	TAILQ_INSERT_TAIL(&cs.all, c, entry);
	if (++cs.n >= CONN_MAX && cs.listener != NULL && !cs.paused) {
		evconnlistener_disable(cs.listener);
		cs.paused = 1;
		log_warnx("%d connections: not accepting more until some close",
		    CONN_MAX);
	}
	return bev;
}

void
conn_start(struct evconnlistener *listener, int64_t deadline_ms)
{
	struct timeval tv = { 0, CONN_SWEEP_MS * 1000 };

	cs.listener = listener;
	cs.deadline = deadline_ms;
	cs.sweep = event_new(ing.base, -1, EV_PERSIST, sweep, NULL);
	if (cs.sweep == NULL || event_add(cs.sweep, &tv) == -1)
		fatalx("connection sweep timer");
}

/* The listener is gone (draining): stop pausing it, keep sweeping. */
void
conn_drain(void)
{
	cs.listener = NULL;
}

void
conn_stop(void)
{
	cs.listener = NULL;
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
