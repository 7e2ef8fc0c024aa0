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
 * (no NOTIFY_SOCKET) send_state() does nothing either.
 *
 * The protocol is spoken here, not through libsystemd: one datagram to
 * the AF_UNIX socket in NOTIFY_SOCKET ("@" for the abstract namespace),
 * and WATCHDOG_USEC (with WATCHDOG_PID, if set, ours) for the watchdog,
 * as sd_notify(3) documents it. libsystemd and the compression and crypto
 * libraries it brings cost octd 144 kB of private memory for three calls.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "supervisor.h"

#ifdef HAVE_SYSTEMD

/*
 * Send state to NOTIFY_SOCKET: 1 once sent, 0 without a socket to tell,
 * -1 (errno) if it could not be sent.
 */
static int
send_state(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	size_t			 plen;
	ssize_t			 n;
	int			 fd, saved;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (plen = strlen(path)) < 2)
		return 0;
	if (plen >= sizeof(sun.sun_path)) {
		errno = E2BIG;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	saved = errno;
	close(fd);
	errno = saved;
	return n == -1 ? -1 : 1;
}

static int send_statef(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static int
send_statef(const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return send_state(buf);
}

/* >0 with usec set when systemd watches this process, else 0. */
static int
watchdog_usec(uint64_t *usec)
{
	const char		*s = getenv("WATCHDOG_USEC"), *p;
	char			*end;
	unsigned long long	 u, pid;

	if (s == NULL)
		return 0;
	errno = 0;
	u = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || u == 0 || *s == '-')
		return 0;
	if ((p = getenv("WATCHDOG_PID")) != NULL) {
		errno = 0;
		pid = strtoull(p, &end, 10);
		if (errno != 0 || end == p || *end != '\0' ||
		    pid != (unsigned long long)getpid())
			return 0;
	}
	*usec = u;
	return 1;
}

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
		send_state("WATCHDOG=1");
}

void
notify_init(struct event_base *base, int (*answering)(void))
{
	struct timeval	tv;
	uint64_t	usec, every;

	nt.answering = answering;
	if (watchdog_usec(&usec) <= 0)
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
	send_statef("READY=1\nSTATUS=%s", status);
}

void
notify_reloading(void)
{
	send_state("RELOADING=1\nSTATUS=reloading");
}

void
notify_stopping(void)
{
	nt.stopping = 1;
	send_state("STOPPING=1\nSTATUS=stopping");
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
