/*
 * writerd.h: oct-writerd, the only process that writes oct.db.
 *
 * chan.c reads its peers' channels (ingestd's events, later pushd's sync
 * marks); batch.c turns what arrived into one transaction per batch_max
 * events or batch_ms; writerd.c holds the store and the housekeeping
 * (retention, the max_db_bytes cap, WAL checkpoints).
 */
#ifndef OCT_WRITERD_H
#define OCT_WRITERD_H

#include <stddef.h>
#include <stdint.h>

#include "oct.h"

struct conf;
struct event_base;
struct store;
struct msg;

struct writerd {
	struct event_base	*base;
	const struct conf	*conf;
	struct store		*store;
	int			 storage_full;
};
extern struct writerd wd;

/* chan.c */
void	 chan_open(enum proc_id peer, int fd);
void	 chan_close_all(void);
void	 chan_flush_all(void);
/* Tell ingestd's channel(s) of stream that everything up to seq is stored. */
void	 chan_committed(const char *stream, uint64_t seq);
/* Tell every ingest channel whether storage is full. */
void	 chan_storage(int full);

/* batch.c */
void	 batch_init(void);
/*
 * Queue a validated MSG_EVENT_ADD or MSG_MARK_* frame of stream (copied).
 * urgent: commit now rather than at batch_max or batch_ms (marks).
 */
void	 batch_add(const char *stream, uint64_t seq, const uint8_t *frame,
	    size_t len, int urgent);
/* The highest seq of stream waiting in the batch, or 0. */
uint64_t batch_last_seq(const char *stream);
/* Commit what waits. Returns 0, or -1 if it failed (kept, retried later). */
int	 batch_flush(void);
void	 batch_free(void);

/* writerd.c */
/* After every commit: housekeeping that must follow writes. */
void	 writerd_committed(void);

#endif
