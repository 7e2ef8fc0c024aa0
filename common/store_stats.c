/*
 * store_stats.c: the rows behind `octctl stats` (SPEC section 7), read-only.
 *
 * One pass over llm_traces in the window, handing each row to the caller as
 * typed columns; the caller groups, sums and sorts (percentiles need every
 * latency of a group, which SQL would sort once per group and percentile).
 * The window is on started_at, else received_at; rows are found by
 * received_at, which cannot be much older than started_at: an hour of
 * margin covers a client whose clock runs ahead of this host's. The scan
 * reads only llm_traces_stats, an index holding every column it needs
 * (schema 3): a million rows in about 0.4 s here, where reading the rows
 * themselves, past their input and output text, took 1.7 s. The error
 * messages, on few rows, are read from the table by a second query.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "store_int.h"

#define MARGIN_MS	(3600 * 1000LL)

static const char *const by_columns[] = {
	"model", "provider", "operation", "service", "session_id", NULL
};

const char *
store_stats_column(const char *by)
{
	size_t	i;

	if (strcmp(by, "session") == 0)
		by = "session_id";
	for (i = 0; by_columns[i] != NULL; i++)
		if (strcmp(by, by_columns[i]) == 0)
			return by_columns[i];
	return NULL;
}

static int64_t
int_or(sqlite3_stmt *s, int col, int64_t none)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? none :
	    sqlite3_column_int64(s, col);
}

static double
real_or_nan(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? NAN :
	    sqlite3_column_double(s, col);
}

int
store_stats_scan(struct store *st, int64_t since_ms, const char *by,
    int (*fn)(const struct stats_row *, void *), void *arg)
{
	sqlite3		*db = st->db;
	sqlite3_stmt	*s;
	struct stats_row r;
	const char	*col = store_stats_column(by);
	char		 sql[512];
	int		 rc;

	if (col == NULL)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT %s, status = 'error', "
	    "prompt_tokens, completion_tokens, cost_usd, cost_source = 'table', "
	    "latency_ms, coalesce(started_at, received_at) FROM llm_traces "
	    "WHERE received_at >= ?1 - %lld AND coalesce(started_at, "
	    "received_at) >= ?1", col, (long long)MARGIN_MS);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, since_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r.key = (const char *)sqlite3_column_text(s, 0);
		r.error = sqlite3_column_int(s, 1);
		r.prompt_tokens = int_or(s, 2, -1);
		r.completion_tokens = int_or(s, 3, -1);
		r.cost_usd = real_or_nan(s, 4);
		r.cost_from_table = sqlite3_column_int(s, 5);
		r.latency_ms = real_or_nan(s, 6);
		r.at = sqlite3_column_int64(s, 7);
		if (fn(&r, arg) == -1) {
			rc = SQLITE_ABORT;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_stats_errors(struct store *st, int64_t since_ms, int max,
    int (*fn)(const char *message, int64_t count, void *), void *arg)
{
	sqlite3_stmt	*s;
	char		 sql[512];
	int		 rc;

	snprintf(sql, sizeof(sql), "SELECT error_message, count(*) AS n FROM "
	    "llm_traces WHERE received_at >= ?1 - %lld AND coalesce(started_at, "
	    "received_at) >= ?1 AND status = 'error' AND error_message IS NOT "
	    "NULL GROUP BY error_message ORDER BY n DESC, error_message LIMIT "
	    "?2", (long long)MARGIN_MS);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, since_ms);
	sqlite3_bind_int(s, 2, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn((const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_int64(s, 1), arg) == -1) {
			rc = SQLITE_ABORT;
			break;
		}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}
