/*
 * chan.c: writerd's peer channels, one dispatch function per peer.
 *
 * From ingestd: EVENT_HELLO names the stream (one per ingestd life), then
 * EVENT_ADD frames with increasing sequence numbers, starting again from
 * the oldest uncommitted one whenever the channel is new. An event whose
 * seq is at or below what this stream already has (committed, or waiting in
 * the batch) is a replay and is dropped here; that is how an event is never
 * stored twice without any index on trace_id.
 *
 * From pushd: EVENT_HELLO names pushd's stream, then MARK_* frames (the
 * outcome of each push) numbered the same way, each committed at once;
 * MARK_FLUSH first takes in what ingestd has already written. A mark of
 * rows read from another file than ours (one moved aside before this
 * writerd started a fresh oct.db) is committed and acknowledged like the
 * others but changes nothing: marks_apply() compares the files' db_id.
 *
 * Peers are trusted siblings: a malformed or unexpected frame is a bug and
 * fatal. chan.c calls batch.c and the store; writerd.c calls it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "event.h"
#include "log.h"
#include "marks.h"
#include "msg.h"
#include "store.h"
#include "util.h"
#include "writerd.h"

struct chan;
typedef void	 dispatch_fn(struct chan *, struct msg *, const uint8_t *,
		    size_t);

struct chan {
	enum proc_id		 peer;
	dispatch_fn		*dispatch;	/* its peer's */
	int			 events;	/* ingestd's: events, storage */
	struct bufferevent	*bev;
	char			*stream;	/* after EVENT_HELLO */
	uint64_t		 accepted;	/* highest seq stored or queued */
	TAILQ_ENTRY(chan)	 entry;
};

static TAILQ_HEAD(, chan) chans = TAILQ_HEAD_INITIALIZER(chans);
static struct {
	struct event_base	*base;
	struct store		*store;
	int			 storage_full;	/* last chan_storage() */
	struct msgb		 out;
} ch;

void
chan_init(struct event_base *base, struct store *store)
{
	ch.base = base;
	ch.store = store;
}

static void
chan_free(struct chan *c)
{
	TAILQ_REMOVE(&chans, c, entry);
	bufferevent_free(c->bev);
	free(c->stream);
	free(c);
}

/* Queue ch.out, a type message, on c; writerd cannot go on without it. */
static void
send_out(struct chan *c, uint16_t type)
{
	if (msg_close(&ch.out) == -1 ||
	    bufferevent_write(c->bev, ch.out.buf, ch.out.len) == -1)
		fatalx("%s channel: cannot queue %s", proc_name(c->peer),
		    msg_type_str(type));
}

/* c's stream is stored up to seq. */
static void
send_committed(struct chan *c, uint64_t seq)
{
	msg_init(&ch.out, MSG_EVENT_COMMITTED, seq);
	send_out(c, MSG_EVENT_COMMITTED);
}

/* Whether storage is full (ingestd answers 503 while it is). */
static void
send_storage(struct chan *c, int full)
{
	msg_init(&ch.out, MSG_EVENT_STORAGE, 0);
	msg_add_u8(&ch.out, (uint8_t)full);
	send_out(c, MSG_EVENT_STORAGE);
}

static void
on_hello(struct chan *c, struct msg *m)
{
	const char	*stream = msg_get_str(m, NULL);
	uint64_t	 committed, queued;

	if (stream == NULL || msg_done(m) == -1 || c->stream != NULL)
		fatalx("%s channel: bad %s", proc_name(c->peer),
		    msg_type_str(m->type));
	if ((c->stream = strdup(stream)) == NULL)
		fatal("hello");
	if (store_cursor(ch.store, stream, &committed) == -1)
		fatalx("read cursor of %s: %s", stream, store_error(ch.store));
	queued = batch_last_seq(stream);
	c->accepted = queued > committed ? queued : committed;
	log_info("%s stream %s: committed up to %llu", proc_name(c->peer), stream,
	    (unsigned long long)committed);
	send_committed(c, committed);
	if (c->events)
		send_storage(c, ch.storage_full);
}

/*
 * An event (from ingestd) or a mark (from pushd): dropped when it is a
 * replay, else checked and queued; marks commit at once.
 */
static void
on_frame(struct chan *c, struct msg *m, const uint8_t *frame, size_t len)
{
	struct event	e;
	int		mark = m->type != MSG_EVENT_ADD;

	if (c->stream == NULL)
		fatalx("%s channel: %s before hello", proc_name(c->peer),
		    msg_type_str(m->type));
	if (m->seq <= c->accepted)
		return;		/* a replay of what we have */
	if ((mark ? marks_check(m) : event_decode(m, &e)) == -1)
		fatalx("%s channel: bad %s seq %llu", proc_name(c->peer),
		    msg_type_str(m->type), (unsigned long long)m->seq);
	c->accepted = m->seq;
	batch_add(c->stream, m->seq, frame, len, mark);
}

static void	chan_read(struct bufferevent *, void *);

/*
 * Read and handle every whole frame the peer has written into c's socket,
 * up to EOF; a frame it died in the middle of writing was never answered
 * and is dropped with the channel.
 */
static void
pull(struct chan *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	int		 fd;

	if ((fd = bufferevent_getfd(c->bev)) == -1)
		return;
	/* a bufferevent's input is frozen at its end outside its own reads */
	evbuffer_unfreeze(in, 0);
	while (evbuffer_read(in, fd, 64 * 1024) > 0)
		;
	evbuffer_freeze(in, 0);
	chan_read(c->bev, c);
}

/*
 * Take in every frame ingestd has already written, though its socket has
 * not had its turn in the loop yet: an octctl push (MARK_FLUSH) must find
 * committed each event answered 202 before it was asked.
 */
static void
pull_ingestd(void)
{
	struct chan *c;

	TAILQ_FOREACH(c, &chans, entry)
		if (c->events)
			pull(c);
}

static void __attribute__((noreturn))
unexpected(struct chan *c, struct msg *m)
{
	fatalx("%s channel: unexpected %s (%u)", proc_name(c->peer),
	    msg_type_str(m->type), m->type);
}

/* A frame from ingestd after its hello: events. */
static void
dispatch_ingestd(struct chan *c, struct msg *m, const uint8_t *frame,
    size_t len)
{
	if (m->type != MSG_EVENT_ADD)
		unexpected(c, m);
	on_frame(c, m, frame, len);
}

/* A frame from pushd after its hello: marks. */
static void
dispatch_pushd(struct chan *c, struct msg *m, const uint8_t *frame,
    size_t len)
{
	switch (m->type) {
	case MSG_MARK_SYNCED:
	case MSG_MARK_FAILED:
	case MSG_MARK_DEAD:
	case MSG_MARK_STATE:
		on_frame(c, m, frame, len);
		break;
	case MSG_MARK_FLUSH:
		pull_ingestd();
		on_frame(c, m, frame, len);
		break;
	default:
		unexpected(c, m);
	}
}

static void
chan_read(struct bufferevent *bev, void *arg)
{
	struct chan	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct msg	 m;
	const uint8_t	*frame;
	size_t		 len;
	int		 r;

	while ((r = msg_pull(in, &m, &len)) == 1) {
		frame = evbuffer_pullup(in, (ssize_t)len);
		if (m.type == MSG_EVENT_HELLO)
			on_hello(c, &m);	/* every peer's first frame */
		else
			c->dispatch(c, &m, frame, len);
		evbuffer_drain(in, len);
	}
	if (r == -1)
		fatalx("%s channel: malformed frame", proc_name(c->peer));
}

static void
chan_event(struct bufferevent *bev, short what, void *arg)
{
	struct chan *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/*
		 * A peer that died may leave frames unread here, and the
		 * error may be our write to it (EPIPE) rather than EOF:
		 * what it wrote was answered 202 and must still be stored.
		 */
		pull(c);
		log_info("%s channel closed", proc_name(c->peer));
		chan_free(c);
	}
}

int
chan_peer_open(enum proc_id peer)
{
	struct chan	*c;

	TAILQ_FOREACH(c, &chans, entry)
		if (c->peer == peer)
			return 1;
	return 0;
}

int
chan_open(enum proc_id peer, int fd)
{
	struct chan *c;

	if (peer != PROC_INGESTD && peer != PROC_PUSHD)
		return -1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("chan");
	c->peer = peer;
	c->events = peer == PROC_INGESTD;
	c->dispatch = c->events ? dispatch_ingestd : dispatch_pushd;
	if (fd_nonblock(fd) == -1)
		fatal("%s channel", proc_name(peer));
	c->bev = bufferevent_socket_new(ch.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatalx("bufferevent for %s", proc_name(peer));
	bufferevent_setcb(c->bev, chan_read, NULL, chan_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&chans, c, entry);
	log_info("%s channel open", proc_name(peer));
	return 0;
}

void
chan_committed(const char *stream, uint64_t seq)
{
	struct chan *c;

	TAILQ_FOREACH(c, &chans, entry)
		if (c->stream != NULL && strcmp(c->stream, stream) == 0)
			send_committed(c, seq);
}

void
chan_storage(int full)
{
	struct chan *c;

	ch.storage_full = full;
	TAILQ_FOREACH(c, &chans, entry)
		if (c->stream != NULL && c->events)
			send_storage(c, full);
}

/*
 * Write what is queued for the peers now (the last acks, at exit), as far
 * as their sockets take it without waiting; an ack that does not fit is
 * not needed: the peer sends those events again, and they are dropped as
 * replays.
 */
void
chan_flush_all(void)
{
	struct evbuffer	*q;
	struct chan	*c;
	int		 fd;

	TAILQ_FOREACH(c, &chans, entry) {
		q = bufferevent_get_output(c->bev);
		fd = bufferevent_getfd(c->bev);
		while (evbuffer_get_length(q) > 0 && evbuffer_write(q, fd) > 0)
			;
	}
}

void
chan_close_all(void)
{
	while (!TAILQ_EMPTY(&chans))
		chan_free(TAILQ_FIRST(&chans));
	msg_free(&ch.out);
}
