/*
 * store.h: oct.db (SPEC section 5). The only module that speaks SQL.
 *
 * oct-writerd opens it read-write (store_open with STORE_RW), which takes an
 * exclusive lock on oct.db.lock, so a second writer (another writerd, octctl
 * while the daemon is down) fails with a clear error. Everyone else opens it
 * read-only. Built for batches of ~50 inserts per transaction at thousands
 * of events a second: every statement is prepared once.
 */
#ifndef OCT_STORE_H
#define OCT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define STORE_SCHEMA_VERSION	1

enum store_mode { STORE_RO, STORE_RW };

struct store;

/*
 * Open path. STORE_RW: lock, create (0600) or migrate, WAL, synchronous
 * FULL if sync_full else NORMAL. Returns NULL with why in err.
 */
struct store	*store_open(const char *path, enum store_mode, int sync_full,
		    char *err, size_t errlen);
void		 store_close(struct store *);
const char	*store_error(struct store *);
const char	*store_agent_id(struct store *);

int	 store_begin(struct store *);
int	 store_commit(struct store *);
void	 store_rollback(struct store *);
/* Insert e; an event_id seen before in its table is silently skipped. */
int	 store_insert(struct store *, const struct event *e);
/* The last committed sequence number of an ingest stream (0 if new). */
int	 store_cursor(struct store *, const char *stream, uint64_t *seq);
/* Record seq for stream and count one more commit; in the batch's transaction. */
int	 store_set_cursor(struct store *, const char *stream, uint64_t seq);
/* Commits recorded for stream (for tests and status). */
int	 store_commits(struct store *, const char *stream, int64_t *n);

/* Bytes in use: live pages of the file plus the WAL. */
int	 store_used_bytes(struct store *, int64_t *bytes);
/* Delete up to limit synced rows received before cutoff_ms (0: any), oldest first. */
int	 store_trim_synced(struct store *, int64_t cutoff_ms, int limit,
	    int *deleted);
int	 store_checkpoint(struct store *);
/* Rows of a table not yet synced and not dead. */
int	 store_pending(struct store *, enum event_kind, int64_t *n);
/* Rows of a table in all. */
int	 store_count(struct store *, enum event_kind, int64_t *n);

#endif
