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

#define STORE_SCHEMA_VERSION	4

enum store_mode { STORE_RO, STORE_RW };

struct store;

/*
 * Open path. STORE_RW: lock, create (0600) or migrate, WAL, synchronous
 * FULL if sync_full else NORMAL. Returns NULL with why in err.
 */
struct store	*store_open(const char *path, enum store_mode, int sync_full,
		    char *err, size_t errlen);
void		 store_close(struct store *);
/*
 * For a single-threaded process, before its first store_open(): SQLite
 * without its per-call mutexes and allocation counters. A no-op after.
 */
void		 store_single_threaded(void);
/*
 * Before the first store_open(): no page-cache block allocated up front
 * for each connection (20 pages, 80 kB, most never touched by an idle
 * worker); pages are allocated as read, up to the same cache_size.
 * 0, or -1 if SQLite refuses.
 */
int		 store_lazy_cache(void);
/*
 * 1 if a read-only st's path no longer names the file it opened: writerd
 * moved a damaged oct.db aside (a fresh one there, or none yet). A
 * long-lived reader closes st and opens the path again. One stat(2); 0
 * for the writer, or when it cannot tell.
 */
int		 store_replaced(struct store *);
/* 1 if SQLite calls the file at path damaged (why filled); after a failed open. */
int		 store_damaged(const char *path, char *why, size_t whylen);
/*
 * 1 if st's last call failed because SQLite calls the file damaged
 * (corrupt, not a database): a damage the open did not see, found by a
 * later statement. Ask before store_rollback(), which sets the error anew.
 */
int		 store_is_damaged(struct store *);
/*
 * Close st and leave its files as they are: no checkpoint into the file
 * and its WAL not deleted, so a damaged file moved aside stays byte for
 * byte what it was.
 */
void		 store_close_as_is(struct store *);
const char	*store_error(struct store *);
const char	*store_agent_id(struct store *);
/*
 * The file's identity (agent.db_id), a UUID made with the file: a fresh
 * oct.db started in the place of a damaged one has another. Sync marks
 * name by it the file their rows were read from.
 */
const char	*store_db_id(struct store *);

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
/*
 * Delete synced rows, up to limit per table: those received before
 * cutoff_ms, or with cutoff_ms 0 the oldest of all tables.
 */
int	 store_trim_synced(struct store *, int64_t cutoff_ms, int limit,
	    int *deleted);
int	 store_checkpoint(struct store *);
/* Rows of a table not yet synced and not dead. */
int	 store_pending(struct store *, enum event_kind, int64_t *n);
/* Rows of a table that are dead (not synced, given up on). */
int	 store_dead(struct store *, enum event_kind, int64_t *n);
/* Rows of a table in all. */
int	 store_count(struct store *, enum event_kind, int64_t *n);

/*
 * A row due for pushing, as stored: typed columns, no wire format (that
 * is the push encoder's). Its text lives in buf, one allocation per row.
 */
struct push_row {
	enum event_kind		 kind;
	int64_t			 id;
	char			 trace_id[UUID_STR_LEN];
	int64_t			 received_at;
	int64_t			 attempts;
	const char		*event_id;	/* NULL: none */
	const char		*attributes;	/* JSON object text, or NULL */
	int			 truncated;
	struct event_value	 v[EVENT_MAX_FIELDS];	/* event_defs[kind].fields */
	char			*buf;		/* malloc'd: the text above */
};

/* Where a pass over the rows has got to: (received_at, kind, id). */
struct fetch_cursor {
	int64_t	received_at;
	int	kind;
	int64_t	id;
};

/*
 * Up to limit unsynced rows of all tables, oldest first (received_at),
 * after *after (NULL: from the start). Normally only live rows whose
 * next_push_at has come, or lies more than horizon ms after now (-1: no
 * such limit): no wait pushd sets is that long, so the time was written
 * by a wall clock that has since gone back, and the row is due now rather
 * than after the jump. force: dead ones too, and next_push_at ignored.
 * Returns the count (rows malloc'd into *out, even for none; free with
 * store_rows_free) or -1.
 */
int	 store_fetch_due(struct store *, int64_t now, int64_t horizon,
	    int limit, int force, const struct fetch_cursor *after,
	    struct push_row **out);
/* Free the text of one row (the row itself is the caller's). */
void	 store_row_clear(struct push_row *);
void	 store_rows_free(struct push_row *, int n);

/* Sync marks, applied by writerd inside a batch transaction. */
int	 store_mark_synced(struct store *, enum event_kind, int64_t id,
	    const char *batch_id, int64_t at);
/*
 * A failed request: charge an attempt (if charge), set next_push_at and the
 * error, and make the row dead once it has max_attempts attempts and was
 * received before giveup_before.
 */
int	 store_mark_failed(struct store *, enum event_kind, int64_t id,
	    const char *batch_id, int64_t next_at, const char *error,
	    int charge, int64_t max_attempts, int64_t giveup_before);
int	 store_mark_dead(struct store *, enum event_kind, int64_t id,
	    const char *reason);
/* Add to the push totals: events delivered, requests failed (marks.c). */
int	 store_count_push(struct store *, int64_t sent, int64_t failed);
/* The push totals and the last success (Unix ms, 0: never), for /metrics. */
int	 store_push_totals(struct store *, int64_t *sent, int64_t *failed,
	    int64_t *last_success_at);
/* last_success_at 0 and last_error NULL leave a value as it is. */
int	 store_set_push_state(struct store *, int64_t last_success_at,
	    const char *last_error);

/* push-status and status (read-only). */
struct table_stats {
	int64_t	total, synced, pending, retrying, dead;
	int64_t	oldest_pending_at;	/* received_at, or 0: none pending */
};
int	 store_table_stats(struct store *, enum event_kind,
	    struct table_stats *);
/* Unsynced rows (dead too) by push_attempts: up to max (attempts, rows). */
int	 store_retry_distribution(struct store *, int64_t (*pairs)[2], int max);
struct worst_row {
	enum event_kind	 kind;
	char		 trace_id[UUID_STR_LEN];
	int64_t		 attempts;
	char		 last_error[256];
};
/* The unsynced rows with most attempts, then oldest. Returns how many. */
int	 store_worst(struct store *, struct worst_row *, int max);
/* last_error is "" when there is none; times are 0 when unknown. */
int	 store_push_state(struct store *, int64_t *last_success_at,
	    char *last_error, size_t len, int64_t *last_error_at);

/*
 * octctl stats (store_stats.c). One row of llm_traces in the window, its
 * strings valid only during the callback; NULL columns are -1 (counts) and
 * NAN (reals). by is model, provider, operation, service or session.
 */
struct stats_row {
	const char	*key;		/* the group's column; NULL: none */
	int		 error;		/* status = 'error' */
	int64_t		 prompt_tokens, completion_tokens;
	double		 cost_usd;
	int		 cost_from_table;
	double		 latency_ms;
	int64_t		 at;		/* started_at, else received_at */
};
/* The column for a --by name, or NULL when it is not one. */
const char	*store_stats_column(const char *by);
/*
 * Call fn for each trace started at or after since_ms (fn returning -1
 * stops the scan). Returns 0, or -1 (unknown by, SQL error, stopped).
 */
int	 store_stats_scan(struct store *, int64_t since_ms, const char *by,
	    int (*fn)(const struct stats_row *, void *), void *arg);
/* The max most frequent error messages of failed traces in the window. */
int	 store_stats_errors(struct store *, int64_t since_ms, int max,
	    int (*fn)(const char *message, int64_t count, void *), void *arg);

#endif
