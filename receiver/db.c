/*
 * db.c: oct-receiver's own SQLite file: every event once (trace_id is the
 * key, so a repeat is ignored) and every batch id seen, so a retried
 * request is answered without storing anything again. Its statements are
 * prepared once, at open, and a request is one transaction.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "oct.h"
#include "receiver.h"

static struct {
	sqlite3		*db;
	sqlite3_stmt	*seen, *event, *batch;
} d;

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE IF NOT EXISTS events (trace_id TEXT PRIMARY KEY, type TEXT "
    "NOT NULL, agent_id TEXT, batch_id TEXT NOT NULL, received_at INTEGER NOT "
    "NULL, data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, "
    "received_at INTEGER NOT NULL, events INTEGER NOT NULL);";

int
db_open(const char *path, char *err, size_t errlen)
{
	if (sqlite3_open(path, &d.db) != SQLITE_OK ||
	    sqlite3_exec(d.db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d.db, "SELECT 1 FROM batches WHERE batch_id = ?",
	    -1, &d.seen, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d.db, "INSERT OR IGNORE INTO events VALUES "
	    "(?, ?, ?, ?, ?, ?)", -1, &d.event, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d.db, "INSERT OR IGNORE INTO batches VALUES "
	    "(?, ?, ?)", -1, &d.batch, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(d.db));
		return -1;
	}
	sqlite3_busy_timeout(d.db, 5000);
	return 0;
}

void
db_close(void)
{
	sqlite3_finalize(d.seen);
	sqlite3_finalize(d.event);
	sqlite3_finalize(d.batch);
	sqlite3_close(d.db);
}

const char *
db_error(void)
{
	return sqlite3_errmsg(d.db);
}

int
db_seen_batch(const char *batch_id)
{
	int rc;

	sqlite3_bind_text(d.seen, 1, batch_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(d.seen);
	sqlite3_reset(d.seen);
	return rc == SQLITE_ROW;
}

int
db_begin(void)
{
	return sqlite3_exec(d.db, "BEGIN IMMEDIATE", 0, 0, 0) == SQLITE_OK ?
	    0 : -1;
}

int
db_add_event(const char *trace_id, const char *type, const char *agent_id,
    const char *batch_id, const char *data, size_t len)
{
	int rc;

	sqlite3_bind_text(d.event, 1, trace_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(d.event, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(d.event, 3, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(d.event, 4, batch_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(d.event, 5, now_ms());
	sqlite3_bind_text(d.event, 6, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(d.event);
	sqlite3_reset(d.event);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_commit(const char *batch_id, int events)
{
	int rc;

	sqlite3_bind_text(d.batch, 1, batch_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(d.batch, 2, now_ms());
	sqlite3_bind_int(d.batch, 3, events);
	rc = sqlite3_step(d.batch);
	sqlite3_reset(d.batch);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_exec(d.db, "COMMIT", 0, 0, 0) == SQLITE_OK ? 0 : -1;
}

void
db_rollback(void)
{
	if (!sqlite3_get_autocommit(d.db))
		sqlite3_exec(d.db, "ROLLBACK", 0, 0, 0);
}
