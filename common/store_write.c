/*
 * store_write.c: writerd's writes to oct.db: events, ingest cursors, and
 * the housekeeping (trim, checkpoint). See store.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oct.h"
#include "store_int.h"
#include "util.h"

static char *
insert_sql(const struct event_def *d)
{
	char	*s = strdup("");
	size_t	 i;

	s = st_cat(s, "INSERT OR IGNORE INTO %s (trace_id, event_id, received_at, "
	    "attributes, truncated", d->table);
	for (i = 0; i < d->nfields; i++)
		s = st_cat(s, ", %s", d->fields[i].name);
	s = st_cat(s, ") VALUES (?, ?, ?, ?, ?");
	for (i = 0; i < d->nfields; i++)
		s = st_cat(s, ", ?");
	return st_cat(s, ")");
}

/* The insert of each table and the cursor statements. */
int
st_prepare_writes(struct store *st, char *err, size_t errlen)
{
	char	*sql;
	size_t	 k;
	int	 r;

	for (k = 0; k < EV_NKINDS; k++) {
		sql = insert_sql(&event_defs[k]);
		r = st_prepare(st, sql, &st->insert[k], err, errlen);
		free(sql);
		if (r == -1)
			return -1;
	}
	return st_prepare(st, "SELECT seq FROM ingest_cursor WHERE stream = ?",
	    &st->cursor_get, err, errlen) ||
	    st_prepare(st, "INSERT INTO ingest_cursor (stream, seq, commits, "
	    "updated_at) VALUES (?1, ?2, 1, ?3) ON CONFLICT (stream) DO UPDATE "
	    "SET seq = max(seq, ?2), commits = commits + 1, updated_at = ?3",
	    &st->cursor_set, err, errlen) ||
	    st_prepare(st, "SELECT commits FROM ingest_cursor WHERE stream = ?",
	    &st->commits_get, err, errlen) ? -1 : 0;
}

int
store_insert(struct store *st, const struct event *e)
{
	const struct event_def	*d = &event_defs[e->kind];
	sqlite3_stmt		*s = st->insert[e->kind];
	const struct event_value *v;
	size_t			 i;
	int			 c;

	st_bind_text(s, 1, e->trace_id);
	st_bind_text(s, 2, e->event_id);
	sqlite3_bind_int64(s, 3, e->received_at);
	st_bind_text(s, 4, e->attributes);
	sqlite3_bind_int(s, 5, e->truncated);
	for (i = 0; i < d->nfields; i++) {
		v = &e->v[i];
		c = (int)i + 6;
		switch (v->tag) {
		case V_INT:
			sqlite3_bind_int64(s, c, v->i);
			break;
		case V_REAL:
			sqlite3_bind_double(s, c, v->r);
			break;
		case V_TEXT:
			sqlite3_bind_text(s, c, v->s, (int)v->len, SQLITE_STATIC);
			break;
		default:
			sqlite3_bind_null(s, c);
		}
	}
	/* every parameter is bound each time: no sqlite3_clear_bindings() */
	c = sqlite3_step(s);
	sqlite3_reset(s);
	return c == SQLITE_DONE ? 0 : -1;
}

/* Step s (bound to stream) for one integer, 0 when there is no row. */
static int
stream_int(sqlite3_stmt *s, const char *stream, int64_t *out)
{
	int rc;

	st_bind_text(s, 1, stream);
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_cursor(struct store *st, const char *stream, uint64_t *seq)
{
	int64_t	v;
	int	r = stream_int(st->cursor_get, stream, &v);

	*seq = (uint64_t)v;
	return r;
}

int
store_set_cursor(struct store *st, const char *stream, uint64_t seq)
{
	st_bind_text(st->cursor_set, 1, stream);
	sqlite3_bind_int64(st->cursor_set, 2, (sqlite3_int64)seq);
	sqlite3_bind_int64(st->cursor_set, 3, now_ms());
	return st_run(st->cursor_set);
}

int
store_commits(struct store *st, const char *stream, int64_t *n)
{
	return stream_int(st->commits_get, stream, n);
}

int
store_used_bytes(struct store *st, int64_t *bytes)
{
	int64_t		pages, freel, size;
	struct stat	sb;
	char		wal[4096];

	if (st_query_int(st, &pages, "PRAGMA page_count") ||
	    st_query_int(st, &freel, "PRAGMA freelist_count") ||
	    st_query_int(st, &size, "PRAGMA page_size"))
		return -1;
	*bytes = (pages - freel) * size;
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	if (stat(wal, &sb) == 0)
		*bytes += sb.st_size;
	return 0;
}

/*
 * Without a cutoff (the max_db_bytes cap) the oldest synced rows of all
 * tables go first: the bound is the earliest of each table's limit-th
 * oldest synced row (by id, which follows received_at), and every synced
 * row up to it goes, so no row goes while an older one stays.
 */
static int
trim_bound(struct store *st, int limit, int64_t *bound)
{
	sqlite3_stmt	*s;
	char		 sql[512];
	size_t		 k;
	int		 r;

	*bound = INT64_MAX;
	for (k = 0; k < EV_NKINDS; k++) {
		snprintf(sql, sizeof(sql), "SELECT received_at FROM %s WHERE "
		    "synced_at IS NOT NULL ORDER BY id LIMIT 1 OFFSET ?1",
		    event_defs[k].table);
		if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int(s, 1, limit - 1);
		r = sqlite3_step(s);
		if (r == SQLITE_ROW && sqlite3_column_int64(s, 0) < *bound)
			*bound = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		if (r != SQLITE_ROW && r != SQLITE_DONE)
			return -1;
	}
	return 0;
}

int
store_trim_synced(struct store *st, int64_t cutoff_ms, int limit, int *deleted)
{
	sqlite3_stmt	*s;
	char		 sql[512];
	size_t		 k;
	int64_t		 bound = INT64_MAX;

	*deleted = 0;
	if (cutoff_ms == 0 && trim_bound(st, limit, &bound) == -1)
		return -1;
	for (k = 0; k < EV_NKINDS; k++) {
		/*
		 * Past a cutoff every such row goes, in any order: without
		 * ORDER BY id, SQLite reads llm_traces through its
		 * received_at index instead of the whole table, which with
		 * 1 GB of unsynced rows took writerd's start 5 to 7 s.
		 */
		snprintf(sql, sizeof(sql), cutoff_ms != 0 ?
		    "DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE "
		    "synced_at IS NOT NULL AND received_at < ?1 LIMIT ?2)" :
		    "DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE "
		    "synced_at IS NOT NULL AND received_at <= ?3 ORDER BY id "
		    "LIMIT ?2)", event_defs[k].table, event_defs[k].table);
		if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int64(s, 1, cutoff_ms);
		sqlite3_bind_int(s, 2, limit);
		sqlite3_bind_int64(s, 3, bound);
		if (sqlite3_step(s) != SQLITE_DONE) {
			sqlite3_finalize(s);
			return -1;
		}
		*deleted += sqlite3_changes(st->db);
		sqlite3_finalize(s);
	}
	return 0;
}

/*
 * TRUNCATE waits for readers through the busy handler; with the usual
 * 5 s timeout that would stall writerd's loop whenever pushd, ingestd's
 * /metrics or octctl reads. Try without waiting: when a reader is in the
 * way, SQLITE_BUSY, and the next pause in writes tries again.
 */
int
store_checkpoint(struct store *st)
{
	int rc;

	sqlite3_busy_timeout(st->db, 0);
	rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);
	sqlite3_busy_timeout(st->db, 5000);
	return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : -1;
}
