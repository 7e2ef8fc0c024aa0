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

/* Column of the first field: kind, id, trace_id, received_at, ... */
#define FETCH_FIELDS	8

/*
 * The fetch of one table k, in the order of its unsynced index
 * (received_at, then the rowid), so SQLite walks the index and sorts
 * nothing: store_fetch_due() merges the tables' rows itself. (One
 * SELECT of the three under ORDER BY received_at, kind, id made SQLite
 * copy every row into a temporary b-tree to order equal received_at by
 * kind, two thirds of the fetch's cost.)
 */
static char *
fetch_sql(size_t k, int force)
{
	const struct event_def	*d = &event_defs[k];
	char			*s;
	size_t			 i;

	s = st_cat(strdup(""), "SELECT %zu AS kind, id, trace_id, received_at, "
	    "push_attempts, event_id, attributes, truncated", k);
	for (i = 0; i < d->nfields; i++)
		s = st_cat(s, ", %s", d->fields[i].name);
	return st_cat(s, " FROM %s WHERE synced_at IS NULL AND "
	    "(received_at, %zu, id) > (?3, ?4, ?5)%s ORDER BY received_at, id "
	    "LIMIT ?2", d->table, k, force ? "" : " AND dead = 0 AND "
	    "(next_push_at <= ?1 OR next_push_at > ?6)");
}

/* The fetch statements: both readers and the writer use them. */
int
st_prepare_fetch(struct store *st, char *err, size_t errlen)
{
	char	*sql;
	size_t	 k;
	int	 i, r;

	for (i = 0; i < 2; i++)
		for (k = 0; k < EV_NKINDS; k++) {
			sql = fetch_sql(k, i);
			r = st_prepare(st, sql, &st->fetch[i][k], err, errlen);
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

/* What a stored column of type t reads back as. */
static enum val_tag
tag_of(enum field_type t)
{
	switch (t) {
	case F_UINT:
	case F_TIME:
		return V_INT;
	case F_NUM:
	case F_REAL:
		return V_REAL;
	default:
		return V_TEXT;
	}
}

/* Copy column c's text (NULL: none) into *at, moving it on. */
static const char *
take_text(sqlite3_stmt *s, int c, char **at, size_t *len)
{
	const unsigned char	*t = sqlite3_column_text(s, c);
	char			*out = *at;

	*len = (size_t)sqlite3_column_bytes(s, c);
	if (t == NULL)
		return NULL;
	memcpy(out, t, *len);
	out[*len] = '\0';
	*at += *len + 1;
	return out;
}

/*
 * Read the row s is on into r: its columns typed by event_defs, its text
 * copied into one allocation (r->buf). Returns 0 or -1 (no memory).
 */
static int
read_row(sqlite3_stmt *s, struct push_row *r)
{
	const struct event_def	*d;
	struct event_value	*v;
	size_t			 i, need = 2, len;
	char			*at;
	int			 c;

	memset(r, 0, sizeof(*r));
	r->kind = (enum event_kind)sqlite3_column_int(s, 0);
	d = &event_defs[r->kind];
	/* text columns only: asking a number's bytes would make it text */
	need += (size_t)sqlite3_column_bytes(s, 5) +
	    (size_t)sqlite3_column_bytes(s, 6);
	for (i = 0; i < d->nfields; i++)
		if (tag_of(d->fields[i].type) == V_TEXT)
			need += (size_t)sqlite3_column_bytes(s,
			    FETCH_FIELDS + (int)i) + 1;
	if ((r->buf = at = malloc(need)) == NULL)
		return -1;
	r->id = sqlite3_column_int64(s, 1);
	snprintf(r->trace_id, sizeof(r->trace_id), "%s",
	    (const char *)sqlite3_column_text(s, 2));
	r->received_at = sqlite3_column_int64(s, 3);
	r->attempts = sqlite3_column_int64(s, 4);
	r->event_id = take_text(s, 5, &at, &len);
	r->attributes = take_text(s, 6, &at, &len);
	r->truncated = sqlite3_column_int(s, 7);
	for (i = 0; i < d->nfields; i++) {
		v = &r->v[i];
		c = FETCH_FIELDS + (int)i;
		v->tag = sqlite3_column_type(s, c) == SQLITE_NULL ? V_NULL :
		    tag_of(d->fields[i].type);
		if (v->tag == V_INT)
			v->i = sqlite3_column_int64(s, c);
		else if (v->tag == V_REAL)
			v->r = sqlite3_column_double(s, c);
		else if (v->tag == V_TEXT)
			v->s = take_text(s, c, &at, &v->len);
	}
	return 0;
}

/*
 * The table whose current row comes first by (received_at, kind, id),
 * of those still on a row; -1 when none is.
 */
static int
next_kind(sqlite3_stmt *const *s, const int *rc)
{
	int64_t	ra, best = 0;
	int	k, at = -1;

	for (k = 0; k < EV_NKINDS; k++) {
		if (rc[k] != SQLITE_ROW)
			continue;
		ra = sqlite3_column_int64(s[k], 3);
		if (at == -1 || ra < best) {
			best = ra;
			at = k;
		}
	}
	return at;
}

int
store_fetch_due(struct store *st, int64_t now, int64_t horizon, int limit,
    int force, const struct fetch_cursor *after, struct push_row **out)
{
	sqlite3_stmt	**s = st->fetch[force ? 1 : 0];
	struct push_row	*rows = NULL, *grown;
	int		 rc[EV_NKINDS], n = 0, cap = 0, k, err = SQLITE_OK;

	*out = NULL;
	for (k = 0; k < EV_NKINDS; k++) {
		if (!force) {
			sqlite3_bind_int64(s[k], 1, now);
			sqlite3_bind_int64(s[k], 6, horizon < 0 ||
			    now > INT64_MAX - horizon ? INT64_MAX : now +
			    horizon);
		}
		sqlite3_bind_int(s[k], 2, limit);
		sqlite3_bind_int64(s[k], 3, after != NULL ?
		    after->received_at : -1);
		sqlite3_bind_int(s[k], 4, after != NULL ? after->kind : 0);
		sqlite3_bind_int64(s[k], 5, after != NULL ? after->id : 0);
		rc[k] = limit > 0 ? sqlite3_step(s[k]) : SQLITE_DONE;
		if (rc[k] != SQLITE_ROW && rc[k] != SQLITE_DONE)
			err = rc[k];
	}
	while (err == SQLITE_OK && n < limit && (k = next_kind(s, rc)) != -1) {
		if (n == cap) {
			cap = cap ? cap * 2 : (limit < 64 ? limit : 64);
			if ((grown = reallocarray(rows, (size_t)cap,
			    sizeof(*rows))) == NULL) {
				err = SQLITE_NOMEM;
				break;
			}
			rows = grown;
		}
		if (read_row(s[k], &rows[n]) == -1) {
			err = SQLITE_NOMEM;
			break;
		}
		n++;
		rc[k] = sqlite3_step(s[k]);
		if (rc[k] != SQLITE_ROW && rc[k] != SQLITE_DONE)
			err = rc[k];
	}
	for (k = 0; k < EV_NKINDS; k++) {
		sqlite3_reset(s[k]);
		sqlite3_clear_bindings(s[k]);
	}
	if (err != SQLITE_OK && n < limit) {
		store_rows_free(rows, n);
		return -1;
	}
	if (rows == NULL && (rows = calloc(1, sizeof(*rows))) == NULL)
		return -1;
	*out = rows;
	return n;
}

void
store_row_clear(struct push_row *r)
{
	free(r->buf);
	r->buf = NULL;
	r->event_id = r->attributes = NULL;
	memset(r->v, 0, sizeof(r->v));
}

void
store_rows_free(struct push_row *rows, int n)
{
	int i;

	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i].buf);
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
