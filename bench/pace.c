/*
 * pace.c: a paced HTTP client for bench/run (what wrk2 does, which Debian
 * does not ship). It sends REQUESTS posts of a body at a fixed RATE over
 * CONNS keep-alive connections and measures each answer from the moment
 * the request was due, not from when a connection was free, so a stall
 * shows in the figures instead of slowing the client (no coordinated
 * omission). Prints: sent, answered 2xx, other, p50, p99, p99.9 (µs).
 *
 *	pace PORT PATH BODY_FILE RATE REQUESTS [CONNS]
 *
 * The body is sent as application/json, trailing blanks cut; with
 * PACE_CONTENT_TYPE set, as that type and byte for byte (OTLP protobuf).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

struct conn {
	struct bufferevent	*bev;
	int			 busy;
	long			 req;	/* the request it carries */
};

static struct {
	struct event_base	*base;
	struct event		*tick;
	struct conn		*conns;
	int			 nconn;
	char			*request;
	size_t			 reqlen;
	double			 rate, t0;
	long			 total, next, done, ok, bad;
	double			*lat;	/* µs, by request */
} p;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void	dispatch(void);

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	char		*head, *cl;
	size_t		 hlen, blen = 0;
	int		 status;

	for (;;) {
		end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (end.pos == -1)
			return;
		hlen = (size_t)end.pos + 4;
		head = malloc(hlen + 1);
		evbuffer_copyout(in, head, hlen);
		head[hlen] = '\0';
		if ((cl = strcasestr(head, "\r\nContent-Length:")) != NULL)
			blen = strtoul(cl + 17, NULL, 10);
		status = atoi(head + 9);
		free(head);
		if (evbuffer_get_length(in) < hlen + blen)
			return;
		evbuffer_drain(in, hlen + blen);
		if (status == 202 || status == 200)
			p.ok++;
		else
			p.bad++;
		p.lat[c->req] = (now() - (p.t0 + (double)c->req / p.rate)) * 1e6;
		p.done++;
		c->busy = 0;
		if (p.done == p.total) {
			event_base_loopbreak(p.base);
			return;
		}
		dispatch();
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		fprintf(stderr, "pace: connection lost\n");
		exit(1);
	}
}

/* Send every request that is due on a free connection. */
static void
dispatch(void)
{
	double	t = now();
	int	i;

	for (i = 0; i < p.nconn && p.next < p.total &&
	    p.t0 + (double)p.next / p.rate <= t; i++) {
		if (p.conns[i].busy)
			continue;
		p.conns[i].busy = 1;
		p.conns[i].req = p.next++;
		bufferevent_write(p.conns[i].bev, p.request, p.reqlen);
	}
}

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	dispatch();
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct event_config	*cfg;
	struct timeval		 tv = { 0, 100 };
	FILE			*f;
	char			*body;
	const char		*ctype;
	long			 blen;
	int			 i, fd, one = 1;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: pace PORT PATH BODY_FILE RATE REQUESTS "
		    "[CONNS]\n");
		return 2;
	}
	p.rate = atof(argv[4]);
	p.total = atol(argv[5]);
	p.nconn = argc == 7 ? atoi(argv[6]) : 32;
	if ((f = fopen(argv[3], "r")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	blen = ftell(f);
	rewind(f);
	body = malloc((size_t)blen + 1);
	if (fread(body, 1, (size_t)blen, f) != (size_t)blen)
		return 1;
	fclose(f);
	ctype = getenv("PACE_CONTENT_TYPE");
	while (ctype == NULL && blen > 0 &&
	    (body[blen - 1] == '\n' || body[blen - 1] == ' '))
		blen--;
	p.request = malloc((size_t)blen + 512);
	p.reqlen = (size_t)sprintf(p.request, "POST %s HTTP/1.1\r\nHost: "
	    "127.0.0.1:%s\r\nContent-Type: %s\r\n"
	    "Content-Length: %ld\r\n\r\n", argv[2], argv[1],
	    ctype != NULL ? ctype : "application/json", blen);
	memcpy(p.request + p.reqlen, body, (size_t)blen);
	p.reqlen += (size_t)blen;
	p.lat = calloc((size_t)p.total, sizeof(double));
	p.conns = calloc((size_t)p.nconn, sizeof(*p.conns));
	/* timerfd: requests go out when due, not at the next millisecond */
	cfg = event_config_new();
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	p.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < p.nconn; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			perror("pace: connect");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		evutil_make_socket_nonblocking(fd);
		p.conns[i].bev = bufferevent_socket_new(p.base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(p.conns[i].bev, on_read, NULL, on_event,
		    &p.conns[i]);
		bufferevent_enable(p.conns[i].bev, EV_READ | EV_WRITE);
	}
	p.tick = event_new(p.base, -1, EV_PERSIST, on_tick, NULL);
	event_add(p.tick, &tv);
	p.t0 = now();
	dispatch();
	event_base_dispatch(p.base);
	qsort(p.lat, (size_t)p.total, sizeof(double), cmp);
	printf("%ld %ld %ld %.0f %.0f %.0f\n", p.done, p.ok, p.bad,
	    p.lat[p.total / 2], p.lat[p.total * 99 / 100],
	    p.lat[p.total * 999 / 1000]);
	return 0;
}
