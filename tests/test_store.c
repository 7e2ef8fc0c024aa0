/* test_store.c: oct.db on a temp file: schema, lock, inserts, cursors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>

#include "event.h"
#include "harness.h"
#include "ingestd.h"
#include "marks.h"
#include "msg.h"
#include "store.h"
#include "push.h"
#include "engine.h"

/* (the store test opens the file with sqlite3 too, to set up rows) */

static char dir[64];
static char path[128];
static struct msgb b;

static void
setup(void)
{
	harness_tmpdir(dir, sizeof(dir), "store");
	snprintf(path, sizeof(path), "%s/oct.db", dir);
}

static void
teardown(void)
{
	msg_free(&b);
	harness_rmdir(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

/* What turns a version 4 file back into the shape of version 3. */
#define V4_COLUMNS_OUT	"ALTER TABLE agent DROP COLUMN db_id; "
/* What turns a version 4 file back into the shape of version 2. */
#define V3_COLUMNS_OUT	V4_COLUMNS_OUT "DROP INDEX llm_traces_stats; " \
	"ALTER TABLE llm_traces DROP COLUMN cached_tokens; " \
	"ALTER TABLE llm_traces DROP COLUMN service; " \
	"ALTER TABLE llm_traces DROP COLUMN cost_source; "

static struct store *
open_rw(void)
{
	char		 err[512];
	struct store	*st = store_open(path, STORE_RW, 0, err, sizeof(err));

	cr_assert_not_null(st, "%s", err);
	return st;
}

/* Insert one event of kind from JSON text. */
static int
insert(struct store *st, enum event_kind kind, const char *text,
    const char *trace_id)
{
	struct ingest_fmt	 f = { LS_API, "/", "application/json", kind,
				    &fmt_json };
	struct event_error	 err;
	struct event		 e;
	struct msg		 m;
	size_t			 fl;
	char			 made[UUID_STR_LEN];
	struct fmt_info		 info;
	void			*h = fmt_json.open(&f, NULL, text,
				    strlen(text), &info, &err);

	cr_assert_not_null(h);
	cr_assert_eq(fmt_json.item(h, 0, NULL, &e, &err), 0);
	e.received_at = 1000;
	cr_assert_eq(event_encode(&e, NULL, made, 100, 1, &b, &err), 0);
	fmt_json.close(h);
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &fl), 1);
	cr_assert_eq(event_decode(&m, &e), 0);
	e.trace_id = trace_id;		/* the test's own, to find the row */
	return store_insert(st, &e);
}

static long long
q(const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	long long	 v = -1;

	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), 0);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), 0, "%s",
	    sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

Test(store, new_file_gets_schema_wal_agent_and_mode_0600)
{
	struct store	*st = open_rw();
	struct stat	 sb;

	cr_assert_eq(strlen(store_agent_id(st)), 36);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
	store_close(st);
	cr_assert_eq(q("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(q("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
	    "AND name IN ('llm_traces','error_events','system_metrics','agent',"
	    "'ingest_cursor')"), 5);
	cr_assert_eq(q("SELECT count(*) FROM pragma_table_info('llm_traces') "
	    "WHERE name IN ('id','trace_id','event_id','received_at','model',"
	    "'attributes','truncated','synced_at','push_attempts','next_push_at',"
	    "'batch_id','last_push_error','dead')"), 13);
	cr_assert_eq(q("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
	    "AND sql LIKE '%trace_id%'"), 0, "no index on trace_id");
}

Test(store, reopening_keeps_the_agent_id)
{
	struct store	*st = open_rw();
	char		 id[64];

	snprintf(id, sizeof(id), "%s", store_agent_id(st));
	store_close(st);
	st = open_rw();
	cr_assert_str_eq(store_agent_id(st), id);
	store_close(st);
}

Test(store, a_second_writer_is_refused)
{
	struct store	*st = open_rw(), *two;
	char		 err[512], want[300];

	two = store_open(path, STORE_RW, 0, err, sizeof(err));
	cr_assert_null(two);
	snprintf(want, sizeof(want), "%s is in use by another writer "
	    "(oct-writerd of a running octd, or octctl)", path);
	cr_assert_str_eq(err, want);
	two = store_open(path, STORE_RO, 0, err, sizeof(err));
	cr_assert_not_null(two, "readers are welcome: %s", err);
	store_close(two);
	store_close(st);
}

Test(store, a_newer_schema_is_refused_and_left_alone)
{
	struct store	*st = open_rw();
	sqlite3		*db;
	char		 err[512];

	store_close(st);
	cr_assert_eq(sqlite3_open(path, &db), 0);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version = 99", 0, 0, 0), 0);
	sqlite3_close(db);
	st = store_open(path, STORE_RW, 0, err, sizeof(err));
	cr_assert_null(st);
	cr_assert(strstr(err, "schema version 99 is newer than this oct knows"),
	    "%s", err);
	cr_assert_eq(q("PRAGMA user_version"), 99, "not overwritten");
}

Test(store, read_only_needs_an_existing_file)
{
	char err[512];

	cr_assert_null(store_open(path, STORE_RO, 0, err, sizeof(err)));
	cr_assert(strstr(err, "No such file"), "%s", err);
}

Test(store, inserts_and_event_id_dedup)
{
	struct store	*st = open_rw();
	int64_t		 n;

	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"a\",\"event_id\":\"x\"}",
	    "11111111-1111-4111-8111-111111111111"), 0);
	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"b\",\"event_id\":\"x\"}",
	    "22222222-2222-4222-8222-222222222222"), 0, "ignored, no error");
	cr_assert_eq(insert(st, EV_ERROR, "{\"message\":\"m\",\"event_id\":"
	    "\"x\"}", "33333333-3333-4333-8333-333333333333"), 0);
	cr_assert_eq(insert(st, EV_METRIC, "{\"name\":\"n\",\"value\":2}",
	    "44444444-4444-4444-8444-444444444444"), 0);
	cr_assert_eq(insert(st, EV_METRIC, "{\"name\":\"n\",\"value\":3}",
	    "55555555-5555-4555-8555-555555555555"), 0);
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(store_count(st, EV_TRACE, &n), 0);
	cr_assert_eq(n, 1, "same type, same event_id: stored once");
	cr_assert_eq(store_count(st, EV_ERROR, &n), 0);
	cr_assert_eq(n, 1, "another type may reuse the event_id");
	cr_assert_eq(store_pending(st, EV_METRIC, &n), 0);
	cr_assert_eq(n, 2);
	store_close(st);
	cr_assert_eq(q("SELECT count(*) FROM llm_traces WHERE model = 'a'"), 1);
}

/*
 * Under steady load the WAL is folded back every 256 pages, so it never
 * holds much more than 1 MB (with SQLite's default of 1,000 pages it
 * reached 4 MB, and the copy back stalled ingest for milliseconds).
 */
Test(store, steady_commits_keep_the_wal_near_one_megabyte)
{
	struct store	*st = open_rw();
	char		 wal[160], text[1200], id[UUID_STR_LEN];
	struct stat	 sb;
	off_t		 most = 0;
	int		 i, j;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(text, sizeof(text), "{\"model\":\"m\",\"input\":\"%0900d\"}",
	    0);
	for (i = 0; i < 200; i++) {
		cr_assert_eq(store_begin(st), 0);
		for (j = 0; j < 50; j++) {
			uuid_v4(id);
			cr_assert_eq(insert(st, EV_TRACE, text, id), 0);
		}
		cr_assert_eq(store_commit(st), 0);
		cr_assert_eq(stat(wal, &sb), 0);
		if (sb.st_size > most)
			most = sb.st_size;
	}
	store_close(st);
	cr_assert_eq(q("SELECT count(*) FROM llm_traces"), 10000);
	cr_assert_gt(most, 512 * 1024, "the WAL was used (%lld bytes)",
	    (long long)most);
	cr_assert_lt(most, 1536 * 1024, "the WAL grew to %lld bytes",
	    (long long)most);
}

Test(store, rollback_leaves_nothing)
{
	struct store	*st = open_rw();
	int64_t		 n;

	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"a\"}",
	    "11111111-1111-4111-8111-111111111111"), 0);
	cr_assert_eq(store_set_cursor(st, "s", 5), 0);
	store_rollback(st);
	cr_assert_eq(store_count(st, EV_TRACE, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(store_commits(st, "s", &n), 0);
	cr_assert_eq(n, 0);
	store_close(st);
}

Test(store, cursors_only_move_forward_and_count_commits)
{
	struct store	*st = open_rw();
	uint64_t	 seq;
	int64_t		 n;

	cr_assert_eq(store_cursor(st, "s1", &seq), 0);
	cr_assert_eq(seq, 0);
	cr_assert_eq(store_set_cursor(st, "s1", 50), 0);
	cr_assert_eq(store_set_cursor(st, "s1", 40), 0);
	cr_assert_eq(store_cursor(st, "s1", &seq), 0);
	cr_assert_eq(seq, 50);
	cr_assert_eq(store_commits(st, "s1", &n), 0);
	cr_assert_eq(n, 2);
	store_close(st);
}

/* SPEC section 2, max_db_bytes: the oldest synced rows go first, of all tables */
Test(store, trimming_takes_the_oldest_rows_across_tables)
{
	struct store	*st = open_rw();
	sqlite3		*db;
	int		 deleted, i;
	char		 id[40];

	cr_assert_eq(store_begin(st), 0);
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "%08d-0000-4000-8000-000000000000", i);
		cr_assert_eq(insert(st, i % 2 ? EV_ERROR : EV_TRACE, i % 2 ?
		    "{\"message\":\"m\"}" : "{\"model\":\"m\"}", id), 0);
	}
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(sqlite3_open(path, &db), 0);
	sqlite3_busy_timeout(db, 2000);
	cr_assert_eq(sqlite3_exec(db, "UPDATE llm_traces SET synced_at = 1, "
	    "received_at = id * 2 - 1; UPDATE error_events SET synced_at = 1, "
	    "received_at = id * 2", 0, 0, 0), 0);
	sqlite3_close(db);
	cr_assert_eq(store_trim_synced(st, 0, 2, &deleted), 0);
	cr_assert_eq(deleted, 3, "the rows received at 1, 2 and 3");
	cr_assert_eq(q("SELECT min(t) FROM (SELECT received_at AS t FROM "
	    "llm_traces UNION ALL SELECT received_at FROM error_events)"), 4);
	store_close(st);
}

Test(store, trimming_touches_only_synced_rows_oldest_first)
{
	struct store	*st = open_rw();
	sqlite3		*db;
	int		 deleted, i;
	char		 id[40];

	cr_assert_eq(store_begin(st), 0);
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "%08d-0000-4000-8000-000000000000", i);
		cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"m\"}", id), 0);
	}
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(sqlite3_open(path, &db), 0);
	sqlite3_busy_timeout(db, 2000);
	cr_assert_eq(sqlite3_exec(db, "UPDATE llm_traces SET synced_at = 1 "
	    "WHERE id <= 6", 0, 0, 0), 0);
	sqlite3_close(db);
	cr_assert_eq(store_trim_synced(st, 0, 4, &deleted), 0);
	cr_assert_eq(deleted, 4);
	cr_assert_eq(q("SELECT min(id) FROM llm_traces"), 5);
	cr_assert_eq(store_trim_synced(st, 0, 100, &deleted), 0);
	cr_assert_eq(deleted, 2);
	cr_assert_eq(store_trim_synced(st, 0, 100, &deleted), 0);
	cr_assert_eq(deleted, 0, "unsynced rows are never deleted");
	cr_assert_eq(q("SELECT count(*) FROM llm_traces"), 4);
	store_close(st);
}

Test(store, fetch_takes_all_tables_oldest_first_and_honours_next_push_at)
{
	struct store	*st = open_rw(), *ro;
	struct push_row		*rows;
	struct agent_info	 a = { "id", "\"h\"", "v" };
	sqlite3			*db;
	char			 err[512], *body;
	size_t			 len;
	int			 n;

	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(insert(st, EV_METRIC, "{\"name\":\"n\",\"value\":1}",
	    "33333333-3333-4333-8333-333333333333"), 0);
	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"m\",\"labels\":1}",
	    "11111111-1111-4111-8111-111111111111"), 0);
	cr_assert_eq(insert(st, EV_ERROR, "{\"message\":\"e\"}",
	    "22222222-2222-4222-8222-222222222222"), 0);
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(sqlite3_open(path, &db), 0);
	sqlite3_busy_timeout(db, 2000);
	cr_assert_eq(sqlite3_exec(db, "UPDATE llm_traces SET received_at = 10;"
	    "UPDATE error_events SET received_at = 20;"
	    "UPDATE system_metrics SET received_at = 30;", 0, 0, 0), 0);
	ro = store_open(path, STORE_RO, 0, err, sizeof(err));
	cr_assert_not_null(ro, "%s", err);
	n = store_fetch_due(ro, 1000, -1, 10, 0, NULL, &rows);
	cr_assert_eq(n, 3);
	cr_assert_eq(rows[0].kind, EV_TRACE);
	cr_assert_eq(rows[1].kind, EV_ERROR);
	cr_assert_eq(rows[2].kind, EV_METRIC);
	cr_assert_str_eq(rows[0].trace_id, "11111111-1111-4111-8111-111111111111");
	/* typed columns, which the push encoder makes the data object of */
	body = enc_oct.body(&a, "b", rows, 1, 5, &len);
	cr_assert_str_eq(strstr(body, "\"data\":") + 7, "{\"trace_id\":"
	    "\"11111111-1111-4111-8111-"
	    "111111111111\",\"received_at\":10,\"model\":\"m\",\"status\":\"ok\","
	    "\"attributes\":{\"labels\":1},\"truncated\":0}}]}");
	free(body);
	store_rows_free(rows, n);
	/* a row not yet due, and a dead one, wait; --force takes both */
	cr_assert_eq(sqlite3_exec(db, "UPDATE llm_traces SET next_push_at = 5000;"
	    "UPDATE error_events SET dead = 1;", 0, 0, 0), 0);
	n = store_fetch_due(ro, 1000, -1, 10, 0, NULL, &rows);
	cr_assert_eq(n, 1);
	cr_assert_eq(rows[0].kind, EV_METRIC);
	store_rows_free(rows, n);
	n = store_fetch_due(ro, 1000, -1, 10, 1, NULL, &rows);
	cr_assert_eq(n, 3);
	store_rows_free(rows, n);
	n = store_fetch_due(ro, 1000, -1, 2, 1, NULL, &rows);
	cr_assert_eq(n, 2, "limit");
	store_rows_free(rows, n);
	/* 4000 ms ahead: due within a 4000 ms horizon only by the clock */
	n = store_fetch_due(ro, 1000, 4000, 10, 0, NULL, &rows);
	cr_assert_eq(n, 1, "a wait within the horizon is kept");
	store_rows_free(rows, n);
	/* beyond the horizon: written by a clock since gone back, due now */
	n = store_fetch_due(ro, 1000, 3999, 10, 0, NULL, &rows);
	cr_assert_eq(n, 2, "a next_push_at beyond the horizon is not due");
	cr_assert_eq(rows[0].kind, EV_TRACE);
	store_rows_free(rows, n);
	sqlite3_close(db);
	store_close(ro);
	store_close(st);
}

/*
 * Schema 2 adds the push totals to push_state. A version 1 file (as oct
 * made it before) is migrated by the writer, keeping its rows and agent;
 * a reader asks for the writer first.
 */
Test(store, a_version_1_file_is_migrated_to_version_2)
{
	struct store	*st = open_rw();
	sqlite3		*db;
	char		 id[64], err[512];
	int64_t		 sent, failed, last;

	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"old\"}",
	    "11111111-1111-4111-8111-111111111111"), 0);
	snprintf(id, sizeof(id), "%s", store_agent_id(st));
	store_close(st);
	cr_assert_eq(sqlite3_open(path, &db), 0);
	cr_assert_eq(sqlite3_exec(db, "ALTER TABLE push_state DROP COLUMN "
	    "sent_total; ALTER TABLE push_state DROP COLUMN failed_total; "
	    V3_COLUMNS_OUT "PRAGMA user_version = 1", 0, 0, 0), 0);
	sqlite3_close(db);
	cr_assert_null(store_open(path, STORE_RO, 0, err, sizeof(err)));
	cr_assert(strstr(err, "schema version 1, not 4: start octd once to "
	    "migrate it"), "%s", err);
	st = open_rw();
	cr_assert_str_eq(store_agent_id(st), id);
	cr_assert_eq(store_push_totals(st, &sent, &failed, &last), 0);
	cr_assert_eq(sent + failed + last, 0);
	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(store_count_push(st, 5, 1), 0);
	cr_assert_eq(store_count_push(st, 2, 0), 0);
	cr_assert_eq(store_set_push_state(st, 1700000000123, NULL), 0);
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(store_push_totals(st, &sent, &failed, &last), 0);
	cr_assert_eq(sent, 7);
	cr_assert_eq(failed, 1);
	cr_assert_eq(last, 1700000000123);
	store_close(st);
	cr_assert_eq(q("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(q("SELECT count(*) FROM llm_traces WHERE model = 'old'"), 1);
}

/* The data object SQLite's json_patch made, as the fetch once selected it. */
static char *
patch_expr(const struct event_def *d)
{
	char	*s = strdup("json_patch('{}', json_object('trace_id', trace_id, "
	    "'event_id', event_id, 'received_at', received_at"), *t;
	size_t	 i;

	for (i = 0; i < d->nfields; i++) {
		cr_assert_neq(asprintf(&t, d->fields[i].type == F_LABELS ?
		    "%s, '%s', json(%s)" : "%s, '%s', %s", s, d->fields[i].name,
		    d->fields[i].name), -1);
		free(s);
		s = t;
	}
	cr_assert_neq(asprintf(&t, "%s, 'attributes', json(attributes), "
	    "'truncated', truncated))", s), -1);
	free(s);
	return t;
}

static void
put_text(struct event *e, int i, const char *s)
{
	e->v[i].tag = V_TEXT;
	e->v[i].s = s;
	e->v[i].len = strlen(s);
}

/*
 * The push JSON is made from typed rows by the encoder, no longer in the
 * SELECT: byte for byte what json_patch('{}', json_object(...)) made, for
 * escapes, reals, NULL columns, and null members in attributes.
 */
Test(store, push_data_is_what_sqlite_made_of_the_row)
{
	static const double	 reals[] = { 12.0, 1e20, 0.1, 1.0 / 3, 1.5e-7,
				    123456789012345678.0, 0.0, -0.0, 1e15, 1e16,
				    99999999999999.9, 1e-5, 1e300, 5e-324, -3.75 };
	struct store		*st = open_rw();
	struct agent_info	 a = { "id", "\"h\"", "v" };
	struct push_row		*rows;
	struct event		 e;
	sqlite3			*db;
	sqlite3_stmt		*s;
	char			 id[UUID_STR_LEN], sql[2048], *x, *body;
	size_t			 i, len;
	int			 n;

	cr_assert_eq(store_begin(st), 0);
	memset(&e, 0, sizeof(e));
	e.kind = EV_TRACE;
	e.trace_id = "00000000-0000-4000-8000-000000000000";
	e.event_id = "ev-1";
	e.truncated = 1;
	e.attributes = "{\"x\":null,\"y\":{\"z\":null,\"k\":[1,null,{\"q\":"
	    "null}]},\"s\":\"a,}b\\\"null\",\"n\":null}";
	put_text(&e, 0, "q\" \\ / \x01\x08\t\n\x0c\r\x1f\x7f \xc3\xa9");
	put_text(&e, 3, "{\"a\":1}");
	e.v[5].tag = V_INT;
	e.v[5].i = 10;
	cr_assert_eq(store_insert(st, &e), 0);
	for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		memset(&e, 0, sizeof(e));
		snprintf(id, sizeof(id), "%08zu-0000-4000-8000-000000000000",
		    i + 1);
		e.kind = EV_METRIC;
		e.trace_id = id;
		e.received_at = (int64_t)i;
		e.attributes = i % 2 ? "{\"only\":null}" : NULL;
		put_text(&e, 0, "cpu");
		e.v[1].tag = V_REAL;
		e.v[1].r = reals[i];
		if (i % 3 == 0)
			put_text(&e, 4, "{\"host\":\"a\",\"b\":\"c\\\"d\"}");
		cr_assert_eq(store_insert(st, &e), 0);
	}
	cr_assert_eq(store_commit(st), 0);
	n = store_fetch_due(st, 0, -1, 100, 1, NULL, &rows);
	cr_assert_eq(n, 1 + (int)(sizeof(reals) / sizeof(reals[0])));
	cr_assert_eq(sqlite3_open(path, &db), 0);
	for (i = 0; i < (size_t)n; i++) {
		x = patch_expr(&event_defs[rows[i].kind]);
		snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE id = %lld", x,
		    event_defs[rows[i].kind].table, (long long)rows[i].id);
		free(x);
		cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), 0);
		cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
		body = enc_oct.body(&a, "b", &rows[i], 1, 5, &len);
		cr_assert_eq(strlen(body), len);
		/* overhead() counts a 36-byte batch id and a 14-digit sent_at */
		cr_assert_eq(enc_oct.event_len(&rows[i]) + enc_oct.overhead(&a),
		    len + 1 + 35 + 13, "sizes as split.c is told");
		body[len - 3] = '\0';		/* "}]}": the event's end */
		cr_assert_str_eq(strstr(body, "\"data\":") + 7,
		    (const char *)sqlite3_column_text(s, 0));
		free(body);
		sqlite3_finalize(s);
	}
	store_rows_free(rows, n);
	sqlite3_close(db);
	store_close(st);
}

/*
 * Schema 3 adds cached_tokens, service and cost_source to llm_traces (SPEC
 * 4.1), and octctl stats' index: a version 2 file keeps its rows and gets
 * the columns, empty, and the index.
 */
Test(store, a_version_2_file_gets_the_cost_columns)
{
	struct store	*st = open_rw();
	sqlite3		*db;

	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"old\"}",
	    "11111111-1111-4111-8111-111111111111"), 0);
	store_close(st);
	cr_assert_eq(sqlite3_open(path, &db), 0);
	cr_assert_eq(sqlite3_exec(db, V3_COLUMNS_OUT "PRAGMA user_version = 2",
	    0, 0, 0), 0);
	sqlite3_close(db);
	cr_assert_eq(q("SELECT count(*) FROM pragma_table_info('llm_traces') "
	    "WHERE name IN ('cached_tokens', 'service', 'cost_source')"), 0);
	st = open_rw();
	store_close(st);
	cr_assert_eq(q("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(q("SELECT count(*) FROM llm_traces WHERE model = 'old' "
	    "AND cached_tokens IS NULL AND service IS NULL AND cost_source IS "
	    "NULL"), 1);
	cr_assert_eq(q("SELECT count(*) FROM sqlite_master WHERE name = "
	    "'llm_traces_stats'"), 1, "octctl stats' index");
}

/*
 * Schema 4 gives each file its own identity (agent.db_id): a version 3
 * file gets one, keeping its agent id and rows; a reader sees the same;
 * a new file has another.
 */
Test(store, a_version_3_file_gets_its_own_db_id)
{
	struct store	*st = open_rw(), *ro;
	sqlite3		*db;
	char		 agent[64], id[64], other[160], err[512];

	cr_assert_eq(strlen(store_db_id(st)), 36);
	cr_assert_str_neq(store_db_id(st), store_agent_id(st));
	snprintf(agent, sizeof(agent), "%s", store_agent_id(st));
	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"old\"}",
	    "11111111-1111-4111-8111-111111111111"), 0);
	store_close(st);
	cr_assert_eq(sqlite3_open(path, &db), 0);
	cr_assert_eq(sqlite3_exec(db, V4_COLUMNS_OUT "PRAGMA user_version = 3",
	    0, 0, 0), 0);
	sqlite3_close(db);
	st = open_rw();
	cr_assert_str_eq(store_agent_id(st), agent);
	cr_assert_eq(strlen(store_db_id(st)), 36);
	snprintf(id, sizeof(id), "%s", store_db_id(st));
	cr_assert_not_null(ro = store_open(path, STORE_RO, 0, err,
	    sizeof(err)), "%s", err);
	cr_assert_str_eq(store_db_id(ro), id);
	store_close(ro);
	store_close(st);
	cr_assert_eq(q("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(q("SELECT count(*) FROM llm_traces WHERE model = 'old'"), 1);
	st = open_rw();
	cr_assert_str_eq(store_db_id(st), id, "kept across opens");
	store_close(st);
	snprintf(other, sizeof(other), "%s/other.db", dir);
	cr_assert_not_null(st = store_open(other, STORE_RW, 0, err,
	    sizeof(err)), "%s", err);
	cr_assert_str_neq(store_db_id(st), id, "a new file has another");
	store_close(st);
}

/* A MARK_SYNCED of row 1 of table trace, read from the file named db. */
static void
synced_mark(const char *db)
{
	msg_init(&b, MSG_MARK_SYNCED, 1);
	msg_add_str(&b, db);
	msg_add_str(&b, "22222222-2222-4222-8222-222222222222");
	msg_add_i64(&b, 5000);
	msg_add_u32(&b, 1);
	msg_add_u8(&b, EV_TRACE);
	msg_add_i64(&b, 1);
	cr_assert_eq(msg_close(&b), 0);
}

/*
 * A sync mark is applied only to the file its rows were read from: one
 * naming another file (the one a fresh oct.db replaced) succeeds, so
 * that writerd acknowledges it, and changes no row and no count.
 */
Test(store, a_mark_of_another_file_changes_nothing)
{
	struct store	*st = open_rw();
	struct msg	 m;
	size_t		 fl;
	int64_t		 sent, failed, last;

	cr_assert_eq(insert(st, EV_TRACE, "{\"model\":\"fresh\"}",
	    "11111111-1111-4111-8111-111111111111"), 0);
	synced_mark("33333333-3333-4333-8333-333333333333");
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &fl), 1);
	cr_assert_eq(marks_check(&m), 0);
	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(marks_apply(st, &m), 0);
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(q("SELECT count(*) FROM llm_traces WHERE synced_at IS "
	    "NULL"), 1, "a row of another file marked synced");
	cr_assert_eq(store_push_totals(st, &sent, &failed, &last), 0);
	cr_assert_eq(sent, 0);

	synced_mark(store_db_id(st));
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &fl), 1);
	cr_assert_eq(store_begin(st), 0);
	cr_assert_eq(marks_apply(st, &m), 0);
	cr_assert_eq(store_commit(st), 0);
	cr_assert_eq(q("SELECT count(*) FROM llm_traces WHERE synced_at = "
	    "5000"), 1, "its own file's mark not applied");
	cr_assert_eq(store_push_totals(st, &sent, &failed, &last), 0);
	cr_assert_eq(sent, 1);

	synced_mark(NULL);
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &fl), 1);
	cr_assert_eq(marks_check(&m), -1, "a mark of rows names its file");
	store_close(st);
}

/* The ids of a row that came in over OTLP (enc_otlp.c reads them). */
#define OTEL_ATTRS "\"attributes\":{\"team\":\"ml\",\"n\":[1,2.5,true," \
	"{\"k\":\"v\"}],\"otel\":{\"trace_id\":" \
	"\"5b8efff798038103d269b633813fc60c\",\"span_id\":\"eee19b7ec3c1b174\"," \
	"\"parent_span_id\":\"eee19b7ec3c1b173\",\"scope\":{\"name\":\"app\"," \
	"\"version\":\"1\"}},\"resource\":{\"service.name\":\"shop\"," \
	"\"deployment\":\"eu\"}}"

/*
 * push_format = otlp: the size the encoder gives split.c for a row is
 * exactly what the row adds to a body, asked once or again (the encoder
 * keeps sizes it measured), for rows with and without attributes, their
 * own ids and resource, of each kind; and a row reusing an id under
 * another trace_id (with a long text) is measured anew.
 */
Test(store, otlp_sizes_are_what_the_body_holds)
{
	static const struct {
		enum event_kind	 kind;
		const char	*text;
	} in[] = {
		{ EV_TRACE, "{\"model\":\"m\"}" },
		{ EV_TRACE, "{\"model\":\"gpt-4o\",\"operation\":\"chat\","
		    "\"prompt_tokens\":10,\"cost_usd\":0.25,\"status\":"
		    "\"error\",\"error_message\":\"x\"," OTEL_ATTRS "}" },
		{ EV_ERROR, "{\"message\":\"boom\",\"type\":\"E\",\"trace_ref\":"
		    "\"00000000-0000-4000-8000-000000000001\"}" },
		{ EV_ERROR, "{\"message\":\"m\"," OTEL_ATTRS "}" },
		{ EV_METRIC, "{\"name\":\"g\",\"value\":1.5,\"labels\":"
		    "{\"a\":\"b\"}}" },
		{ EV_METRIC, "{\"name\":\"c\",\"value\":7,\"kind\":\"counter\","
		    "\"attributes\":{\"bounds\":[5,10],\"bucket_counts\":[1,2,0],"
		    "\"count\":3,\"resource\":{\"service.name\":\"s\"}}}" },
	};
	struct store	*st = open_rw();
	struct push_row	*rows, r2;
	char		 id[UUID_STR_LEN], *body, longtext[9001];
	size_t		 i, len, sum = 0, n;
	int		 nrows, input;

	pd.agent.id = "11111111-1111-4111-8111-111111111111";
	pd.agent.host = "\"h\"";
	pd.agent.version = "0.1.0";
	cr_assert_eq(store_begin(st), 0);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		snprintf(id, sizeof(id), "%08zu-0000-4000-8000-000000000000",
		    i + 1);
		cr_assert_eq(insert(st, in[i].kind, in[i].text, id), 0);
	}
	cr_assert_eq(store_commit(st), 0);
	nrows = store_fetch_due(st, INT64_MAX, -1, 100, 1, NULL, &rows);
	cr_assert_eq(nrows, (int)(sizeof(in) / sizeof(in[0])));
	for (i = 0; i < (size_t)nrows; i++) {
		body = enc_otlp.body(&pd.agent, "b", &rows[i], 1, 5, &len);
		cr_assert_not_null(body, "row %zu", i);
		cr_assert_eq(enc_otlp.event_len(&rows[i]), len, "row %zu", i);
		cr_assert_eq(enc_otlp.event_len(&rows[i]), len, "row %zu", i);
		sum += len;
		free(body);
	}
	body = enc_otlp.body(&pd.agent, "b", rows, nrows, 5, &len);
	cr_assert_not_null(body);
	cr_assert_eq(len, sum, "a body is the sum of its rows' sizes");
	free(body);
	for (i = 0; rows[i].kind != EV_TRACE; i++)
		;
	/* the same id, another trace_id and a long input: its own size */
	input = event_field(EV_TRACE, "input", &(int){ 0 });
	r2 = rows[i];
	snprintf(r2.trace_id, sizeof(r2.trace_id), "%s",
	    "99999999-0000-4000-8000-000000000000");
	r2.v[input].tag = V_TEXT;
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	r2.v[input].s = longtext;
	r2.v[input].len = sizeof(longtext) - 1;
	body = enc_otlp.body(&pd.agent, "b", &r2, 1, 5, &n);
	cr_assert_not_null(body);
	cr_assert_eq(enc_otlp.event_len(&r2), n);
	cr_assert_gt(n, 9000);
	cr_assert_lt(enc_otlp.event_len(&rows[i]), 9000);
	free(body);
	store_rows_free(rows, nrows);
	store_close(st);
}
