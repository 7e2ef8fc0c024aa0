/*
 * store_report.c: what oct.db holds, for octctl status and push-status and
 * for /metrics (read-only; statements prepared per call).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int
store_pending(struct store *st, enum event_kind k, int64_t *n)
{
	return st_query_int(st, n, "SELECT count(*) FROM %s WHERE synced_at IS "
	    "NULL AND dead = 0", event_defs[k].table);
}

int
store_dead(struct store *st, enum event_kind k, int64_t *n)
{
	return st_query_int(st, n, "SELECT count(*) FROM %s WHERE synced_at IS "
	    "NULL AND dead = 1", event_defs[k].table);
}

int
store_count(struct store *st, enum event_kind k, int64_t *n)
{
	return st_query_int(st, n, "SELECT count(*) FROM %s", event_defs[k].table);
}

int
store_push_totals(struct store *st, int64_t *sent, int64_t *failed,
    int64_t *last_success_at)
{
	sqlite3_stmt	*s;
	int		 rc;

	*sent = *failed = *last_success_at = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT sent_total, failed_total, "
	    "coalesce(last_success_at, 0) FROM push_state WHERE id = 1", -1,
	    &s, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*sent = sqlite3_column_int64(s, 0);
		*failed = sqlite3_column_int64(s, 1);
		*last_success_at = sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
store_table_stats(struct store *st, enum event_kind k, struct table_stats *t)
{
	sqlite3_stmt	*s;
	char		 sql[512];
	int		 rc;

	snprintf(sql, sizeof(sql), "SELECT count(*), count(synced_at), "
	    "sum(synced_at IS NULL AND dead = 0), sum(synced_at IS NULL AND "
	    "dead = 0 AND push_attempts > 0), sum(synced_at IS NULL AND dead = 1),"
	    " min(CASE WHEN synced_at IS NULL AND dead = 0 THEN received_at END) "
	    "FROM %s", event_defs[k].table);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		t->total = sqlite3_column_int64(s, 0);
		t->synced = sqlite3_column_int64(s, 1);
		t->pending = sqlite3_column_int64(s, 2);
		t->retrying = sqlite3_column_int64(s, 3);
		t->dead = sqlite3_column_int64(s, 4);
		t->oldest_pending_at = sqlite3_column_int64(s, 5);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
store_retry_distribution(struct store *st, int64_t (*pairs)[2], int max)
{
	sqlite3_stmt	*s;
	char		*sql = strdup("SELECT push_attempts, count(*) FROM (");
	size_t		 k;
	int		 n = 0;

	for (k = 0; k < EV_NKINDS; k++)
		sql = st_cat(sql, "%sSELECT push_attempts FROM %s WHERE synced_at "
		    "IS NULL", k ? " UNION ALL " : "", event_defs[k].table);
	sql = st_cat(sql, ") GROUP BY push_attempts ORDER BY push_attempts");
	if (sql == NULL || sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) {
		free(sql);
		return -1;
	}
	free(sql);
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		pairs[n][0] = sqlite3_column_int64(s, 0);
		pairs[n][1] = sqlite3_column_int64(s, 1);
		n++;
	}
	sqlite3_finalize(s);
	return n;
}

int
store_worst(struct store *st, struct worst_row *w, int max)
{
	sqlite3_stmt	*s;
	char		*sql = strdup("");
	const char	*err;
	size_t		 k;
	int		 n = 0;

	for (k = 0; k < EV_NKINDS; k++)
		sql = st_cat(sql, "%sSELECT %zu AS kind, trace_id, push_attempts, "
		    "last_push_error, received_at FROM %s WHERE synced_at IS NULL "
		    "AND (push_attempts > 0 OR dead = 1)", k ? " UNION ALL " : "",
		    k, event_defs[k].table);
	sql = st_cat(sql, " ORDER BY push_attempts DESC, received_at LIMIT ?");
	if (sql == NULL || sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) {
		free(sql);
		return -1;
	}
	free(sql);
	sqlite3_bind_int(s, 1, max);
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		w[n].kind = (enum event_kind)sqlite3_column_int(s, 0);
		snprintf(w[n].trace_id, sizeof(w[n].trace_id), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		w[n].attempts = sqlite3_column_int64(s, 2);
		err = (const char *)sqlite3_column_text(s, 3);
		snprintf(w[n].last_error, sizeof(w[n].last_error), "%s",
		    err != NULL ? err : "");
		n++;
	}
	sqlite3_finalize(s);
	return n;
}

int
store_push_state(struct store *st, int64_t *last_success_at, char *last_error,
    size_t len, int64_t *last_error_at)
{
	sqlite3_stmt	*s;
	const char	*e;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT last_success_at, last_error, "
	    "last_error_at FROM push_state WHERE id = 1", -1, &s, NULL))
		return -1;
	rc = sqlite3_step(s);
	*last_success_at = *last_error_at = 0;
	last_error[0] = '\0';
	if (rc == SQLITE_ROW) {
		*last_success_at = sqlite3_column_int64(s, 0);
		e = (const char *)sqlite3_column_text(s, 1);
		snprintf(last_error, len, "%s", e != NULL ? e : "");
		*last_error_at = sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}
