/*
 * store_push.c: the push queue in oct.db: the fetch of due rows and the
 * marks pushd's answers turn into (applied by writerd, marks.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oct.h"
#include "store_int.h"
#include "util.h"

/*
 * The data object of a row: its SPEC section 4 fields plus trace_id,
 * event_id, received_at and truncated; attributes and labels as objects.
 * json_patch('{}', ...) leaves out the fields that are NULL.
 */
static char *
data_expr(const struct event_def *d)
{
	char	*s = strdup("json_patch('{}', json_object('trace_id', trace_id, "
	    "'event_id', event_id, 'received_at', received_at");
	size_t	 i;

	for (i = 0; i < d->nfields; i++)
		s = st_cat(s, d->fields[i].type == F_LABELS ?
		    ", '%s', json(%s)" : ", '%s', %s", d->fields[i].name,
		    d->fields[i].name);
	return st_cat(s, ", 'attributes', json(attributes), 'truncated', "
	    "truncated))");
}

static char *
fetch_sql(int force)
{
	char	*s = strdup(""), *data;
	size_t	 k;

	for (k = 0; k < EV_NKINDS; k++) {
		data = data_expr(&event_defs[k]);
		s = st_cat(s, "%sSELECT %zu AS kind, id, trace_id, received_at, "
		    "push_attempts, %s FROM %s WHERE synced_at IS NULL AND "
		    "(received_at, %zu, id) > (?3, ?4, ?5)%s", k ?
		    " UNION ALL " : "", k, data ? data : "NULL",
		    event_defs[k].table, k, force ? "" :
		    " AND dead = 0 AND next_push_at <= ?1");
		free(data);
	}
	return st_cat(s, " ORDER BY received_at, kind, id LIMIT ?2");
}

/* The fetch statements: both readers and the writer use them. */
int
st_prepare_fetch(struct store *st, char *err, size_t errlen)
{
	char	*sql;
	int	 i, r;

	for (i = 0; i < 2; i++) {
		sql = fetch_sql(i);
		r = st_prepare(st, sql, &st->fetch[i], err, errlen);
		free(sql);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* The marks and push_state statements (read-write). */
int
st_prepare_marks(struct store *st, char *err, size_t errlen)
{
	char		 sql[1024];
	const char	*t;
	size_t		 k;

	for (k = 0; k < EV_NKINDS; k++) {
		t = event_defs[k].table;
		snprintf(sql, sizeof(sql), "UPDATE %s SET synced_at = "
		    "coalesce(synced_at, ?3), batch_id = ?2, dead = 0 WHERE id = "
		    "?1", t);
		if (st_prepare(st, sql, &st->synced[k], err, errlen) == -1)
			return -1;
		snprintf(sql, sizeof(sql), "UPDATE %s SET push_attempts = "
		    "push_attempts + ?5, next_push_at = ?3, last_push_error = ?4, "
		    "batch_id = ?2, dead = (push_attempts + ?5 >= ?6 AND "
		    "received_at < ?7) WHERE id = ?1 AND synced_at IS NULL", t);
		if (st_prepare(st, sql, &st->failed[k], err, errlen) == -1)
			return -1;
		snprintf(sql, sizeof(sql), "UPDATE %s SET dead = 1, "
		    "last_push_error = ?2 WHERE id = ?1 AND synced_at IS NULL", t);
		if (st_prepare(st, sql, &st->dead[k], err, errlen) == -1)
			return -1;
	}
	if (st_prepare(st, "UPDATE push_state SET sent_total = sent_total + ?1, "
	    "failed_total = failed_total + ?2 WHERE id = 1", &st->push_count,
	    err, errlen) == -1)
		return -1;
	return st_prepare(st, "UPDATE push_state SET last_success_at = "
	    "coalesce(nullif(?1, 0), last_success_at), last_error = "
	    "coalesce(?2, last_error), last_error_at = CASE WHEN ?2 IS NULL "
	    "THEN last_error_at ELSE ?3 END WHERE id = 1", &st->push_state, err,
	    errlen);
}

int
store_fetch_due(struct store *st, int64_t now, int limit, int force,
    const struct fetch_cursor *after, struct push_row **out)
{
	sqlite3_stmt	*s = st->fetch[force ? 1 : 0];
	struct push_row	*rows, *r;
	const char	*data;
	int		 n = 0, rc;

	*out = NULL;
	if ((rows = calloc((size_t)limit, sizeof(*rows))) == NULL)
		return -1;
	if (!force)
		sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, limit);
	sqlite3_bind_int64(s, 3, after != NULL ? after->received_at : -1);
	sqlite3_bind_int(s, 4, after != NULL ? after->kind : 0);
	sqlite3_bind_int64(s, 5, after != NULL ? after->id : 0);
	while (n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = &rows[n];
		r->kind = (enum event_kind)sqlite3_column_int(s, 0);
		r->id = sqlite3_column_int64(s, 1);
		snprintf(r->trace_id, sizeof(r->trace_id), "%s",
		    (const char *)sqlite3_column_text(s, 2));
		r->received_at = sqlite3_column_int64(s, 3);
		r->attempts = sqlite3_column_int64(s, 4);
		data = (const char *)sqlite3_column_text(s, 5);
		r->data_len = (size_t)sqlite3_column_bytes(s, 5);
		if (data == NULL || (r->data = strdup(data)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		n++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (n < limit && rc != SQLITE_DONE) {
		store_rows_free(rows, n);
		return -1;
	}
	*out = rows;
	return n;
}

void
store_rows_free(struct push_row *rows, int n)
{
	int i;

	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i].data);
	free(rows);
}

int
store_mark_synced(struct store *st, enum event_kind k, int64_t id,
    const char *batch_id, int64_t at)
{
	sqlite3_stmt *s = st->synced[k];

	sqlite3_bind_int64(s, 1, id);
	st_bind_text(s, 2, batch_id);
	sqlite3_bind_int64(s, 3, at);
	return st_run(s);
}

int
store_mark_failed(struct store *st, enum event_kind k, int64_t id,
    const char *batch_id, int64_t next_at, const char *error, int charge,
    int64_t max_attempts, int64_t giveup_before)
{
	sqlite3_stmt *s = st->failed[k];

	sqlite3_bind_int64(s, 1, id);
	st_bind_text(s, 2, batch_id);
	sqlite3_bind_int64(s, 3, next_at);
	st_bind_text(s, 4, error);
	sqlite3_bind_int(s, 5, charge ? 1 : 0);
	sqlite3_bind_int64(s, 6, max_attempts);
	sqlite3_bind_int64(s, 7, giveup_before);
	return st_run(s);
}

int
store_mark_dead(struct store *st, enum event_kind k, int64_t id,
    const char *reason)
{
	sqlite3_stmt *s = st->dead[k];

	sqlite3_bind_int64(s, 1, id);
	st_bind_text(s, 2, reason);
	return st_run(s);
}

int
store_set_push_state(struct store *st, int64_t last_success_at,
    const char *last_error)
{
	sqlite3_stmt *s = st->push_state;

	sqlite3_bind_int64(s, 1, last_success_at);
	st_bind_text(s, 2, last_error);
	sqlite3_bind_int64(s, 3, now_ms());
	return st_run(s);
}

int
store_count_push(struct store *st, int64_t sent, int64_t failed)
{
	sqlite3_bind_int64(st->push_count, 1, sent);
	sqlite3_bind_int64(st->push_count, 2, failed);
	return st_run(st->push_count);
}
