/*
 * writerd.h: oct-writerd, the only process that writes oct.db.
 *
 * chan.c reads its peers' channels (ingestd's events, pushd's marks: the
 * outcome of each push); batch.c turns what arrived into one transaction
 * per batch_max frames or batch_ms; writerd.c holds the store and the
 * housekeeping (retention, the max_db_bytes cap, WAL checkpoints) and
 * wires the other two together.
 *
 * Calls go one way: writerd.c -> chan.c -> batch.c. What batch.c has to
 * say after a commit reaches chan.c and writerd.c through struct
 * batch_ops, which writerd.c fills.
 */
#ifndef OCT_WRITERD_H
#define OCT_WRITERD_H

#include <stddef.h>
#include <stdint.h>

#include "oct.h"

struct event_base;
struct store;

/* chan.c */
/*
 * The loop and the store the channels use; before chan_open(), and again
 * when writerd starts a fresh store in the place of a damaged one.
 */
void	 chan_init(struct event_base *, struct store *);
/* Take fd, a new channel to peer; -1 if peer is not one writerd serves. */
int	 chan_open(enum proc_id peer, int fd);
void	 chan_close_all(void);
void	 chan_flush_all(void);
/* Whether a channel to peer is open. */
int	 chan_peer_open(enum proc_id peer);
/*
 * Everything of stream up to seq is committed: send EVENT_COMMITTED to
 * the channel(s) of that stream (an ingestd's, or pushd's, whose marks
 * are acknowledged the same way).
 */
void	 chan_committed(const char *stream, uint64_t seq);
/* Tell every ingest channel whether storage is full; kept for new ones. */
void	 chan_storage(int full);

/* batch.c */
struct batch_ops {
	/* after a commit, once per stream in it: stored up to seq */
	void	(*committed)(const char *stream, uint64_t seq);
	/* after every commit: housekeeping that must follow writes */
	void	(*after_commit)(void);
	/*
	 * a commit found the file damaged (SQLite's words in why), rolled
	 * back: the fresh store to commit into instead (every other holder
	 * of the old one told), or NULL to keep the old one and retry
	 */
	struct store	*(*damaged)(const char *why);
};
/* max frames or ms milliseconds make a commit; ops must outlive it. */
void	 batch_init(struct event_base *, struct store *, int64_t max,
	    int64_t ms, const struct batch_ops *ops);
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

#endif
