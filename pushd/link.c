/*
 * link.c: pushd's channel to writerd, which alone may write oct.db.
 *
 * Marks get increasing sequence numbers under this pushd's stream id and
 * stay queued here until writerd says they are committed; a new writerd
 * gets EVENT_HELLO and every mark still queued, and drops those it already
 * has. pushd fetches again only when nothing is queued, so it never sends
 * rows whose sync mark is on its way. A mark names the file its rows were
 * read from: a writerd that started a fresh oct.db meanwhile acknowledges
 * the old file's marks without applying them (common/marks.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "msg.h"
#include "pushd.h"
#include "util.h"

struct mark {
	uint64_t		 seq;
	struct msgb		 frame;
	TAILQ_ENTRY(mark)	 entry;
};

static struct {
	struct event_base	*base;
	struct bufferevent	*bev;
	TAILQ_HEAD(, mark)	 queue;
	uint64_t		 next_seq;
	char			 stream[UUID_STR_LEN];
	void			(*idle)(void);
} lk = { .queue = TAILQ_HEAD_INITIALIZER(lk.queue), .next_seq = 1 };

void
link_init(struct event_base *base)
{
	lk.base = base;
	uuid_v4(lk.stream);
}

void
link_on_idle(void (*cb)(void))
{
	lk.idle = cb;
}

int
link_idle(void)
{
	return TAILQ_EMPTY(&lk.queue);
}

uint64_t
link_next_seq(void)
{
	return lk.next_seq;
}

static void
drop_channel(const char *why)
{
	if (lk.bev == NULL)
		return;
	log_warnx("writerd channel lost (%s); holding marks for the next "
	    "writerd", why);
	bufferevent_free(lk.bev);
	lk.bev = NULL;
}

static void
committed(uint64_t seq)
{
	struct mark *m;

	while ((m = TAILQ_FIRST(&lk.queue)) != NULL && m->seq <= seq) {
		TAILQ_REMOVE(&lk.queue, m, entry);
		msg_free(&m->frame);
		free(m);
	}
	if (TAILQ_EMPTY(&lk.queue) && lk.idle != NULL)
		lk.idle();
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct msg	 m;
	size_t		 len;
	int		 r;

	(void)arg;
	while ((r = msg_pull(in, &m, &len)) == 1) {
		if (m.type != MSG_EVENT_COMMITTED || msg_done(&m) == -1)
			fatalx("writerd channel: unexpected %s",
			    msg_type_str(m.type));
		evbuffer_drain(in, len);
		committed(m.seq);
		if (lk.bev == NULL)
			return;
	}
	if (r == -1)
		fatalx("writerd channel: malformed frame");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		drop_channel(what & BEV_EVENT_EOF ? "EOF" : "error");
}

void
link_attach(int fd)
{
	struct msgb	 hello = { 0 };
	struct mark	*m;

	drop_channel("replaced");
	if (fd_nonblock(fd) == -1)
		fatal("writerd channel");
	lk.bev = bufferevent_socket_new(lk.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (lk.bev == NULL)
		fatalx("bufferevent for writerd");
	bufferevent_setcb(lk.bev, on_read, NULL, on_event, NULL);
	bufferevent_enable(lk.bev, EV_READ | EV_WRITE);
	msg_init(&hello, MSG_EVENT_HELLO, 0);
	msg_add_str(&hello, lk.stream);
	if (msg_close(&hello) == -1 ||
	    bufferevent_write(lk.bev, hello.buf, hello.len) == -1)
		fatalx("hello to writerd");
	msg_free(&hello);
	TAILQ_FOREACH(m, &lk.queue, entry)
		bufferevent_write(lk.bev, m->frame.buf, m->frame.len);
}

void
link_send(struct msgb *b)
{
	struct mark *m = calloc(1, sizeof(*m));

	if (m == NULL)
		fatal("mark");
	m->seq = lk.next_seq++;
	m->frame = *b;
	memset(b, 0, sizeof(*b));
	TAILQ_INSERT_TAIL(&lk.queue, m, entry);
	if (lk.bev != NULL &&
	    bufferevent_write(lk.bev, m->frame.buf, m->frame.len) == -1)
		drop_channel("write failed");
}

void
link_flush(void)
{
	struct msgb b = { 0 };

	msg_init(&b, MSG_MARK_FLUSH, lk.next_seq);
	if (msg_close(&b) == -1)
		fatalx("flush mark");
	link_send(&b);
}

void
link_free(void)
{
	struct mark *m;

	if (lk.bev != NULL)
		bufferevent_free(lk.bev);
	while ((m = TAILQ_FIRST(&lk.queue)) != NULL) {
		TAILQ_REMOVE(&lk.queue, m, entry);
		msg_free(&m->frame);
		free(m);
	}
}
