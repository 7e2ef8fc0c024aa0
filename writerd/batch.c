/*
 * batch.c: events waiting for their transaction.
 *
 * Frames are kept as they arrived until their commit succeeded, so a failed
 * commit (disk full, I/O error) is rolled back whole and tried again a
 * second later; nothing is half-written and nothing is lost. The batch
 * never holds more than ingestd's window (queue_capacity events), because
 * ingestd sends no more than that uncommitted.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf.h"
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
batch_init(void)
{
	batch.timer = evtimer_new(wd.base, batch_timer, NULL);
	if (batch.timer == NULL)
		fatalx("evtimer_new");
}

static void
arm(int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(batch.timer, &tv);
}

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
		arm(wd.conf->batch_ms);
	if ((urgent || (int64_t)batch.n >= wd.conf->batch_max) &&
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
			if (marks_apply(wd.store, &m) == -1)
				return -1;
			continue;
		}
		if (event_decode(&m, &e) == -1)
			fatalx("batch: undecodable frame");
		if (store_insert(wd.store, &e) == -1)
			return -1;
	}
	return 0;
}

/*
 * Record each stream's last seq; streams are few (one per ingestd life),
 * so a stream's last item is found by scanning back from the end.
 */
static int
set_cursors(int send)
{
	size_t	i, j;
	int	seen;

	for (i = batch.n; i-- > 0;) {
		for (seen = 0, j = i + 1; j < batch.n && !seen; j++)
			seen = strcmp(batch.items[j].stream,
			    batch.items[i].stream) == 0;
		if (seen)
			continue;
		if (send)
			chan_committed(batch.items[i].stream, batch.items[i].seq);
		else if (store_set_cursor(wd.store, batch.items[i].stream,
		    batch.items[i].seq) == -1)
			return -1;
	}
	return 0;
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

int
batch_flush(void)
{
	size_t n = batch.n;

	evtimer_del(batch.timer);
	if (n == 0)
		return 0;
	if (store_begin(wd.store) == -1 || insert_all() == -1 ||
	    set_cursors(0) == -1 || store_commit(wd.store) == -1) {
		if (!batch.failing)
			log_warnx("commit of %zu events failed: %s; keeping "
			    "them and retrying every %d ms", n,
			    store_error(wd.store), RETRY_MS);
		store_rollback(wd.store);
		batch.failing = 1;
		arm(RETRY_MS);
		return -1;
	}
	if (batch.failing)
		log_info("commit works again: %zu events stored", n);
	batch.failing = 0;
	set_cursors(1);
	clear();
	writerd_committed();
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
