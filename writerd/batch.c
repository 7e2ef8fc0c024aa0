/*
 * batch.c: events and marks waiting for their transaction.
 *
 * Frames are kept as they arrived until their commit succeeded, so a failed
 * commit (disk full, I/O error) is rolled back whole and tried again a
 * second later; nothing is half-written and nothing is lost. One that
 * finds the file damaged is tried again at once in the fresh file that
 * writerd.c starts in its place (ops->damaged). While commits succeed
 * the batch holds at most batch_max frames (it commits when it has that
 * many). While they fail it grows with what the peers send on: at
 * most each ingestd's window (queue_capacity events, all ingestd sends
 * uncommitted) plus pushd's marks, one message per push outcome.
 *
 * batch.c calls no other file: what follows a commit goes through the
 * struct batch_ops writerd.c gives batch_init().
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "event.h"
#include "log.h"
#include "marks.h"
#include "msg.h"
#include "store.h"
#include "writerd.h"

#define RETRY_MS	1000

struct item {
	char		*stream;
	uint64_t	 seq;
	uint8_t		*frame;
	size_t		 len;
};

static struct {
	struct event_base	*base;
	struct store		*store;
	int64_t			 max, ms;	/* batch_max, batch_ms */
	const struct batch_ops	*ops;
	struct item	*items;
	size_t		 n, cap;
	struct event	*timer;		/* batch_ms after the first item */
	int		 failing;	/* commits fail: log once, retry */
} batch;

static void
batch_timer(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	batch_flush();
}

void
batch_init(struct event_base *base, struct store *store, int64_t max,
    int64_t ms, const struct batch_ops *ops)
{
	batch.base = base;
	batch.store = store;
	batch.max = max;
	batch.ms = ms;
	batch.ops = ops;
	batch.timer = evtimer_new(base, batch_timer, NULL);
	if (batch.timer == NULL)
		fatalx("evtimer_new");
}

static void
arm(int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(batch.timer, &tv);
}

/*
 * Copy frame (len bytes, a whole validated frame of stream) into the
 * batch; the caller keeps its buffer. Arms the batch_ms timer on the
 * first item and commits at batch_max or when urgent, except while
 * commits fail: then the retry timer alone commits.
 */
void
batch_add(const char *stream, uint64_t seq, const uint8_t *frame, size_t len,
    int urgent)
{
	struct item	*it;

	if (batch.n == batch.cap) {
		batch.cap = batch.cap ? batch.cap * 2 : 64;
		batch.items = reallocarray(batch.items, batch.cap,
		    sizeof(*batch.items));
		if (batch.items == NULL)
			fatal("batch");
	}
	it = &batch.items[batch.n];
	if ((it->stream = strdup(stream)) == NULL ||
	    (it->frame = malloc(len)) == NULL)
		fatal("batch");
	memcpy(it->frame, frame, len);
	it->len = len;
	it->seq = seq;
	if (batch.n++ == 0 && !batch.failing)
		arm(batch.ms);
	if ((urgent || (int64_t)batch.n >= batch.max) &&
	    !batch.failing)
		batch_flush();
}

uint64_t
batch_last_seq(const char *stream)
{
	size_t i;

	for (i = batch.n; i-- > 0;)
		if (strcmp(batch.items[i].stream, stream) == 0)
			return batch.items[i].seq;
	return 0;
}

/* Write every frame in the open transaction; 0, or -1 (roll back). */
static int
insert_all(void)
{
	struct msg	m;
	struct event	e;
	size_t		i, framelen;

	for (i = 0; i < batch.n; i++) {
		if (msg_parse(batch.items[i].frame, batch.items[i].len, &m,
		    &framelen) != 1)
			fatalx("batch: undecodable frame");
		if (m.type != MSG_EVENT_ADD) {
			if (marks_apply(batch.store, &m) == -1)
				return -1;
			continue;
		}
		if (event_decode(&m, &e) == -1)
			fatalx("batch: undecodable frame");
		if (store_insert(batch.store, &e) == -1)
			return -1;
	}
	return 0;
}

/*
 * Whether item i is the last of its stream in the batch. Streams are few
 * (one per ingestd life, and pushd's), so a scan forward is enough.
 */
static int
last_of_stream(size_t i)
{
	size_t j;

	for (j = i + 1; j < batch.n; j++)
		if (strcmp(batch.items[j].stream, batch.items[i].stream) == 0)
			return 0;
	return 1;
}

/* In the open transaction: each stream's cursor to its last seq; 0 or -1. */
static int
store_cursors(void)
{
	size_t i;

	for (i = 0; i < batch.n; i++)
		if (last_of_stream(i) && store_set_cursor(batch.store,
		    batch.items[i].stream, batch.items[i].seq) == -1)
			return -1;
	return 0;
}

/* After the commit: each stream's last seq to ops->committed. */
static void
tell_committed(void)
{
	size_t i;

	for (i = batch.n; i-- > 0;)
		if (last_of_stream(i))
			batch.ops->committed(batch.items[i].stream,
			    batch.items[i].seq);
}

static void
clear(void)
{
	size_t i;

	for (i = 0; i < batch.n; i++) {
		free(batch.items[i].stream);
		free(batch.items[i].frame);
	}
	batch.n = 0;
}

/* Every item in one transaction, then each stream's cursor; 0 or -1. */
static int
commit_all(void)
{
	if (store_begin(batch.store) == -1 || insert_all() == -1 ||
	    store_cursors() == -1 || store_commit(batch.store) == -1)
		return -1;
	return 0;
}

/*
 * Commit every item in one transaction: the frames, then each stream's
 * cursor. Returns 0 and tells ops->committed each stream's last seq; or
 * -1, rolled back with every item kept, and retried every RETRY_MS (the
 * first failure is logged, and the recovery). A commit that finds the
 * file damaged (a damage its open did not see) is rolled back and tried
 * at once in the fresh store ops->damaged starts in its place.
 */
int
batch_flush(void)
{
	struct store	*fresh;
	char		 why[256];
	size_t		 n = batch.n;
	int		 r, damaged = 0;

	evtimer_del(batch.timer);
	if (n == 0)
		return 0;
	if ((r = commit_all()) == -1) {
		snprintf(why, sizeof(why), "%s", store_error(batch.store));
		damaged = store_is_damaged(batch.store);
		store_rollback(batch.store);
	}
	if (r == -1 && damaged &&
	    (fresh = batch.ops->damaged(why)) != NULL) {
		batch.store = fresh;
		if ((r = commit_all()) == -1) {
			snprintf(why, sizeof(why), "%s",
			    store_error(batch.store));
			store_rollback(batch.store);
		}
	}
	if (r == -1) {
		if (!batch.failing)
			log_warnx("commit of %zu events failed: %s; keeping "
			    "them and retrying every %d ms", n, why, RETRY_MS);
		batch.failing = 1;
		arm(RETRY_MS);
		return -1;
	}
	if (batch.failing)
		log_info("commit works again: %zu events stored", n);
	batch.failing = 0;
	tell_committed();
	clear();
	batch.ops->after_commit();
	return 0;
}

void
batch_free(void)
{
	clear();
	free(batch.items);
	if (batch.timer != NULL)
		event_free(batch.timer);
}
