/*
 * notify.c: what octd tells systemd (sd_notify): READY=1 once the three
 * workers are up and ingestd has bound its port, RELOADING=1 and READY=1
 * around a reload, STOPPING=1 when it stops. Under a watchdog
 * (WatchdogSec=, so WATCHDOG_USEC is set) it pings WATCHDOG=1 every
 * second, but only while every worker answers its heartbeats (SPEC 3), or
 * while octd stops them (the stop has its own limit, shutdown_timeout_ms):
 * a supervisor whose workers are stuck is not alive in any useful sense.
 *
 * Built without --with-systemd (no HAVE_SYSTEMD), every function here does
 * nothing, so the rest of octd calls them unconditionally. Outside systemd
 * (no NOTIFY_SOCKET) sd_notify() does nothing either.
 */
#include "config.h"

#include <stdio.h>

#include <event2/event.h>

#include "log.h"
#include "supervisor.h"

#ifdef HAVE_SYSTEMD

#include <systemd/sd-daemon.h>

static struct {
	struct event	*ev_watchdog;
	int		 stopping;
	int		(*answering)(void);
} nt;

static void
watchdog_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (nt.stopping || nt.answering())
		sd_notify(0, "WATCHDOG=1");
}

void
notify_init(struct event_base *base, int (*answering)(void))
{
	struct timeval	tv;
	uint64_t	usec, every;

	nt.answering = answering;
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return;
	/* the manual asks for half the timeout; a second loses nothing */
	every = usec / 2 < 1000000 ? usec / 2 : 1000000;
	tv.tv_sec = (time_t)(every / 1000000);
	tv.tv_usec = (suseconds_t)(every % 1000000);
	nt.ev_watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, NULL);
	if (nt.ev_watchdog == NULL || event_add(nt.ev_watchdog, &tv) == -1)
		fatalx("watchdog timer");
	log_info("systemd watchdog: %llu ms", (unsigned long long)(usec / 1000));
}

void
notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
notify_reloading(void)
{
	sd_notify(0, "RELOADING=1\nSTATUS=reloading");
}

void
notify_stopping(void)
{
	nt.stopping = 1;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void
notify_free(void)
{
	if (nt.ev_watchdog != NULL)
		event_free(nt.ev_watchdog);
	nt.ev_watchdog = NULL;
}

#else /* !HAVE_SYSTEMD */

void
notify_init(struct event_base *base, int (*answering)(void))
{
	(void)base;
	(void)answering;
}

void
notify_ready(const char *status)
{
	(void)status;
}

void
notify_reloading(void)
{
}

void
notify_stopping(void)
{
}

void
notify_free(void)
{
}

#endif
