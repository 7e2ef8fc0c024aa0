/*
 * ingestd.c: oct-ingestd's main. Binds the ingest port once configured,
 * takes its channel to writerd from octd (again after every writerd
 * restart), and on shutdown stops taking events, then exits once writerd
 * has committed every event in the window.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "child.h"
#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "msg.h"
#include "oct.h"

#define GAUGE_EVERY_MS	100

struct ingestd ing;
static int draining;
static struct event *drain_ev;	/* the drain's tick and bound */
static int64_t drain_by;		/* mono ms */
static struct {
	struct event	*ev;
	uint64_t	 sent;
	int64_t		 sent_at;	/* mono ms */
} gauge;

/*
 * octctl status shows the queue depth octd last heard. Heard only in the
 * heartbeat's answer, it was up to a second old (a client answered 200
 * could see "queue depth: 1"); so a change is sent to octd at once, before
 * the answers it allows, and under load at most every GAUGE_EVERY_MS, the
 * last one always.
 */
static void
gauge_send(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	gauge.sent = window_depth();
	gauge.sent_at = mono_ms();
	child_gauge_changed();
}

static void
gauge_check(void)
{
	struct timeval	tv;
	int64_t		wait;

	if (gauge.ev == NULL || window_depth() == gauge.sent ||
	    evtimer_pending(gauge.ev, NULL))
		return;
	wait = gauge.sent_at + GAUGE_EVERY_MS - mono_ms();
	if (wait <= 0) {
		gauge_send(-1, 0, NULL);
		return;
	}
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)wait * 1000;
	evtimer_add(gauge.ev, &tv);
}

static void
progress(void)
{
	gauge_check();
	answer_progress();
	if (draining && window_empty() && answer_pending() == 0 &&
	    conn_unflushed() == 0)
		child_exit(0);
}

static void
ingestd_configure(struct event_base *base, const struct conf *c)
{
	char err[300];

	ing.base = base;
	ing.conf = c;
	ing.idkey = idkey_load(c->data_dir);
	cost_init(c);
	window_init((size_t)c->queue_capacity);
	window_on_progress(progress);
	if ((gauge.ev = evtimer_new(base, gauge_send, NULL)) == NULL)
		fatalx("evtimer_new");
	if (http_start(err, sizeof(err)) == -1)
		fatalx("%s", err);
	hostmetrics_start();
	child_ready();
}

static void
ingestd_peer(enum proc_id peer, int fd)
{
	if (peer != PROC_WRITERD)
		fatalx("unexpected peer %s", proc_name(peer));
	window_attach(fd);
}

static void
ingestd_ctl(struct msg *m)
{
	const char	*name;
	uint64_t	 value;
	uint32_t	 n = msg_get_u32(m);

	while (n-- > 0 && !m->err) {
		name = msg_get_str(m, NULL);
		value = msg_get_u64(m);
		if (name != NULL)
			stats_set_external(name, value);
	}
	if (msg_done(m) == -1)
		fatalx("supervisor channel: bad %s", msg_type_str(m->type));
}

/*
 * The drain is bounded: octd kills a worker that outlives
 * shutdown_timeout_ms, but with octd gone (killed) nobody would, and an
 * ingestd waiting for a writerd that will not come back would hold its
 * clients' connections for ever. What is still in the window then was
 * answered 202 and is lost with it: say how much.
 */
static void
drain_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (mono_ms() < drain_by) {	/* a tick: answers may be written */
		progress();
		return;
	}
	log_warnx("stopping after shutdown_timeout_ms with %zu events writerd "
	    "did not commit", window_depth());
	child_exit(0);
}

static void
ingestd_shutdown(void)
{
	struct timeval	tv;

	tv.tv_sec = 0;
	tv.tv_usec = 20 * 1000;
	drain_by = mono_ms() + ing.conf->shutdown_timeout_ms;
	if ((drain_ev = event_new(ing.base, -1, EV_PERSIST, drain_timeout,
	    NULL)) != NULL)
		event_add(drain_ev, &tv);
	draining = 1;
	http_drain();
	hostmetrics_stop();
	if (!window_empty())
		log_info("waiting for writerd to commit %zu events",
		    window_depth());
	progress();
}

static void
ingestd_cleanup(void)
{
	hostmetrics_stop();
	http_stop();
	window_free();
	stats_free();
	cost_free();
	if (drain_ev != NULL)
		event_free(drain_ev);
	drain_ev = NULL;
	if (gauge.ev != NULL)
		event_free(gauge.ev);
	gauge.ev = NULL;
}

static uint64_t
ingestd_gauge(void)
{
	return window_depth();
}

static const struct child_ops ingestd_ops = {
	.gauge = ingestd_gauge,
	.configure = ingestd_configure,
	.peer = ingestd_peer,
	.shutdown = ingestd_shutdown,
	.ctl = ingestd_ctl,
	.cleanup = ingestd_cleanup,
};

int
main(int argc, char *argv[])
{
	return child_main(argc, argv, PROC_INGESTD, &ingestd_ops);
}
