/*
 * test_writerd.c: writerd's housekeeping, through a real octd on a temp
 * config: what retention leaves in oct.db, checked with SQLite from
 * outside as an operator would.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "harness.h"
#include "store.h"

static struct octd_run run;

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(writerd, .fini = teardown, .timeout = 60);

/*
 * Fill a fresh oct.db with n synced rows per table received 30 days ago,
 * plus one unsynced old row and one synced new row per table.
 */
static void
fill(int n)
{
	static const char *ins[] = {
	    "INSERT INTO llm_traces (trace_id, received_at, model, synced_at) "
	    "VALUES (?1, ?2, 'm', ?3)",
	    "INSERT INTO error_events (trace_id, received_at, message, "
	    "synced_at) VALUES (?1, ?2, 'e', ?3)",
	    "INSERT INTO system_metrics (trace_id, received_at, name, value, "
	    "synced_at) VALUES (?1, ?2, 'x', 1, ?3)",
	};
	char		 path[512], err[256], id[64];
	struct store	*st;
	sqlite3		*db;
	sqlite3_stmt	*s;
	long long	 old = 1700000000000LL, now = 4000000000000LL;
	size_t		 k;
	int		 i;

	snprintf(path, sizeof(path), "%s/data", run.dir);
	cr_assert(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	st = store_open(path, STORE_RW, 0, err, sizeof(err));
	cr_assert_not_null(st, "%s", err);
	store_close(st);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (k = 0; k < 3; k++) {
		cr_assert_eq(sqlite3_prepare_v2(db, ins[k], -1, &s, NULL),
		    SQLITE_OK, "%s", sqlite3_errmsg(db));
		for (i = 0; i < n + 2; i++) {
			snprintf(id, sizeof(id), "t%zu-%d", k, i);
			sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(s, 2, i == n + 1 ? now : old + i);
			if (i == n)	/* old, never delivered: kept */
				sqlite3_bind_null(s, 3);
			else
				sqlite3_bind_int64(s, 3, old + i);
			cr_assert_eq(sqlite3_step(s), SQLITE_DONE);
			sqlite3_reset(s);
		}
		sqlite3_finalize(s);
	}
	cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int
rows_left(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT (SELECT count(*) FROM llm_traces) + "
	    "(SELECT count(*) FROM error_events) + "
	    "(SELECT count(*) FROM system_metrics)") == 6;
}

/*
 * Found in review: each pass deletes up to 1000 rows of each table, and the
 * loop went on only while a pass's sum was exactly 1000, so with old rows
 * in more than one table retention stopped after one pass and fell behind
 * for good.
 */
Test(writerd, retention_empties_every_table_of_old_synced_rows)
{
	harness_setup(&run, "retention_days = 7\n");
	fill(2500);
	harness_start(&run);
	cr_assert(harness_wait(rows_left, NULL, 20000),
	    "%lld rows left, want 6 (the unsynced and the new ones)",
	    db_int(&run, "SELECT (SELECT count(*) FROM llm_traces) + "
	    "(SELECT count(*) FROM error_events) + "
	    "(SELECT count(*) FROM system_metrics)"));
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "synced_at IS NULL"), 1);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM system_metrics WHERE "
	    "received_at = 4000000000000"), 1);
}
