/*
 * window.c: the in-flight window between ingestd and writerd.
 *
 * Every event accepted gets the next channel sequence number and stays in
 * this ring until writerd says it is committed (EVENT_COMMITTED is
 * cumulative). Frames are written with writev(2) straight from here rather
 * than through a bufferevent, so "written" means in the socket: only then
 * does a client get its 202 (SPEC section 4 promise). The frames of all
 * the requests one turn of the event loop handles go out in one writev,
 * from an event activated by the first of them and run after the rest:
 * one system call and one wake-up of writerd per turn, not per event;
 * their 202s follow at once. When the channel is
 * lost, everything not yet committed is written again to the next writerd
 * after an EVENT_HELLO naming this ingestd's stream; writerd drops what it
 * already has by sequence number.
 *
 * Client events are bounded by queue_capacity; host metrics ride along in a
 * little extra room and are the first thing dropped when writerd is away.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ingestd.h"
#include "log.h"
#include "msg.h"
#include "util.h"

#define HOST_ROOM	256

struct slot {
	uint64_t	 seq;
	uint8_t		*frame;
	size_t		 len;
	int		 counted;
};

static struct {
	struct slot	*ring;
	size_t		 cap, head, count;
	size_t		 limit;		/* client events allowed */
	size_t		 used;		/* client events held */
	size_t		 wpos, woff;	/* next slot to write, bytes of it done */
	uint64_t	 next_seq;
	uint64_t	 written, committed;
	int		 fd;
	int		 storage_full;
	struct event	*ev_read, *ev_write;
	struct event	*ev_flush;	/* end of this loop turn */
	int		 flush_due;
	struct evbuffer	*in;
	char		 stream[UUID_STR_LEN];
	void		(*progress)(void);
} win = { .fd = -1 };

static void	on_flush(evutil_socket_t, short, void *);

static struct slot *
slot_at(size_t i)
{
	return &win.ring[(win.head + i) % win.cap];
}

void
window_init(size_t capacity)
{
	win.limit = capacity;
	win.cap = capacity + HOST_ROOM;
	if ((win.ring = calloc(win.cap, sizeof(*win.ring))) == NULL ||
	    (win.in = evbuffer_new()) == NULL ||
	    (win.ev_flush = event_new(ing.base, -1, 0, on_flush, NULL)) == NULL)
		fatal("window");
	win.next_seq = 1;
	uuid_v4(win.stream);
}

void
window_on_progress(void (*cb)(void))
{
	win.progress = cb;
}

size_t
window_room(void)
{
	return win.limit - win.used;
}

size_t
window_depth(void)
{
	return win.used;
}

int
window_empty(void)
{
	return win.count == 0;
}

int
window_storage_full(void)
{
	return win.storage_full;
}

int
window_connected(void)
{
	return win.fd != -1;
}

uint64_t
window_next_seq(void)
{
	return win.next_seq;
}

int
window_done(uint64_t seq, int commit)
{
	return win.committed >= seq || (!commit && win.written >= seq);
}

static void
detach(void)
{
	if (win.fd == -1)
		return;
	event_free(win.ev_read);
	event_free(win.ev_write);
	win.ev_read = win.ev_write = NULL;
	close(win.fd);
	win.fd = -1;
	win.wpos = win.woff = 0;
	evbuffer_drain(win.in, evbuffer_get_length(win.in));
}

/* Drop committed slots from the head; never one half written. */
static void
pop_committed(void)
{
	struct slot *s;

	while (win.count > 0 && (s = slot_at(0))->seq <= win.committed &&
	    (win.wpos > 0 || win.woff == 0)) {
		free(s->frame);
		if (s->counted)
			win.used--;
		memset(s, 0, sizeof(*s));
		win.head = (win.head + 1) % win.cap;
		win.count--;
		if (win.wpos > 0)
			win.wpos--;
	}
}

static void
lost(const char *why)
{
	log_warnx("writerd channel lost (%s); %zu events wait for the next "
	    "writerd", why, win.count);
	detach();
}

#define FLUSH_IOV	64

static void
flush(void)
{
	struct iovec	 iov[FLUSH_IOV];
	struct slot	*s;
	ssize_t		 n;
	size_t		 left;
	int		 k;

	while (win.fd != -1 && win.wpos < win.count) {
		for (k = 0; k < FLUSH_IOV && win.wpos + (size_t)k < win.count;
		    k++) {
			s = slot_at(win.wpos + (size_t)k);
			iov[k].iov_base = s->frame + (k == 0 ? win.woff : 0);
			iov[k].iov_len = s->len - (k == 0 ? win.woff : 0);
		}
		n = writev(win.fd, iov, k);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(win.ev_write, NULL);
			break;
		}
		if (n == -1) {
			lost(strerror(errno));
			break;
		}
		for (left = (size_t)n; left > 0; ) {
			s = slot_at(win.wpos);
			if (left < s->len - win.woff) {
				win.woff += left;
				break;
			}
			left -= s->len - win.woff;
			if (s->seq > win.written)
				win.written = s->seq;
			win.wpos++;
			win.woff = 0;
		}
	}
	if (win.fd != -1 && win.wpos == win.count)
		event_del(win.ev_write);
	pop_committed();
}

int
window_push(struct msgb *b, int counted)
{
	struct slot *s;

	if (win.count == win.cap || (counted && win.used == win.limit) ||
	    (!counted && win.count - win.used >= HOST_ROOM))
		return -1;
	s = slot_at(win.count++);
	s->seq = win.next_seq++;
	s->frame = b->buf;
	s->len = b->len;
	s->counted = counted;
	memset(b, 0, sizeof(*b));
	if (counted)
		win.used++;
	if (!win.flush_due && win.fd != -1) {
		win.flush_due = 1;
		event_active(win.ev_flush, EV_WRITE, 0);
	}
	return 0;
}

/* The loop turn's requests are all in: write their frames, answer them. */
static void
on_flush(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	win.flush_due = 0;
	flush();
	if (win.progress != NULL)
		win.progress();
}

static void
on_message(struct msg *m)
{
	uint8_t full;

	switch (m->type) {
	case MSG_EVENT_COMMITTED:
		if (msg_done(m) == -1)
			fatalx("writerd channel: bad %s", msg_type_str(m->type));
		if (m->seq > win.committed)
			win.committed = m->seq;
		pop_committed();
		break;
	case MSG_EVENT_STORAGE:
		full = msg_get_u8(m);
		if (msg_done(m) == -1)
			fatalx("writerd channel: bad %s", msg_type_str(m->type));
		if (full != win.storage_full)
			log_info("storage %s", full ? "full: refusing events" :
			    "has room again");
		win.storage_full = full;
		break;
	default:
		fatalx("writerd channel: unexpected %s (%u)",
		    msg_type_str(m->type), m->type);
	}
}

static void
on_read(evutil_socket_t fd, short ev, void *arg)
{
	struct msg	m;
	size_t		len;
	int		n, r;

	(void)ev;
	(void)arg;
	n = evbuffer_read(win.in, fd, -1);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		lost(n == 0 ? "EOF" : strerror(errno));
		if (win.progress != NULL)
			win.progress();
		return;
	}
	while ((r = msg_pull(win.in, &m, &len)) == 1) {
		on_message(&m);
		evbuffer_drain(win.in, len);
	}
	if (r == -1)
		fatalx("writerd channel: malformed frame");
	flush();
	if (win.progress != NULL)
		win.progress();
}

static void
on_write(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	flush();
	if (win.progress != NULL)
		win.progress();
}

void
window_attach(int fd)
{
	struct msgb	hello = { 0 };

	detach();
	win.fd = fd;
	win.ev_read = event_new(ing.base, fd, EV_READ | EV_PERSIST, on_read,
	    NULL);
	win.ev_write = event_new(ing.base, fd, EV_WRITE | EV_PERSIST, on_write,
	    NULL);
	if (fd_nonblock(fd) == -1 || win.ev_read == NULL ||
	    win.ev_write == NULL || event_add(win.ev_read, NULL) == -1)
		fatalx("writerd channel setup");
	msg_init(&hello, MSG_EVENT_HELLO, 0);
	msg_add_str(&hello, win.stream);
	if (msg_close(&hello) == -1 ||
	    write(fd, hello.buf, hello.len) != (ssize_t)hello.len)
		lost("cannot say hello");
	msg_free(&hello);
	log_info("writerd channel open; sending %zu uncommitted events",
	    win.count);
	flush();
	if (win.progress != NULL)
		win.progress();
}

void
window_free(void)
{
	size_t i;

	detach();
	for (i = 0; i < win.count; i++)
		free(slot_at(i)->frame);
	free(win.ring);
	evbuffer_free(win.in);
	event_free(win.ev_flush);
}
