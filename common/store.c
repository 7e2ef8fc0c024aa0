/*
 * store.c: SQLite storage for oct (see store.h): opening, the lock, the
 * schema and its migrations, transactions. The statements of each job are
 * in store_write.c, store_push.c and store_report.c (store_int.h).
 *
 * The three event tables are generated from event_defs[], so a field added
 * there is a column here. Rows are never matched by their random trace_id:
 * a replayed event is known by the ingest stream's cursor (committed in the
 * same transaction as the rows), and a client's retry by its event_id
 * (a partial unique index, only over rows that have one).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oct.h"
#include "store_int.h"
#include "util.h"

static const char *
col_type(enum field_type t)
{
	switch (t) {
	case F_UINT:
	case F_TIME:
		return "INTEGER";
	case F_NUM:
	case F_REAL:
		return "REAL";
	default:
		return "TEXT";
	}
}

char *
st_cat(char *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*add, *out;

	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	if (vasprintf(&add, fmt, ap) == -1) {
		va_end(ap);
		free(s);
		return NULL;
	}
	va_end(ap);
	out = realloc(s, strlen(s) + strlen(add) + 1);
	if (out != NULL)
		strcat(out, add);
	else
		free(s);
	free(add);
	return out;
}

static char *
schema_v1(void)
{
	char	*s = strdup("CREATE TABLE agent (id INTEGER PRIMARY KEY "
	    "CHECK (id = 1), agent_id TEXT NOT NULL, created_at INTEGER NOT "
	    "NULL);\nCREATE TABLE ingest_cursor (stream TEXT PRIMARY KEY, "
	    "seq INTEGER NOT NULL, commits INTEGER NOT NULL DEFAULT 0, "
	    "updated_at INTEGER NOT NULL);\nCREATE TABLE push_state (id "
	    "INTEGER PRIMARY KEY CHECK (id = 1), last_success_at INTEGER, "
	    "last_error TEXT, last_error_at INTEGER);\n"
	    "INSERT INTO push_state (id) VALUES (1);\n");
	const struct event_def	*d;
	size_t			 k, i;

	for (k = 0; k < EV_NKINDS; k++) {
		d = &event_defs[k];
		s = st_cat(s, "CREATE TABLE %s (\n id INTEGER PRIMARY KEY,\n "
		    "trace_id TEXT NOT NULL,\n event_id TEXT,\n received_at "
		    "INTEGER NOT NULL,\n", d->table);
		for (i = 0; i < d->nfields; i++)
			s = st_cat(s, " %s %s%s,\n", d->fields[i].name,
			    col_type(d->fields[i].type),
			    d->fields[i].required ? " NOT NULL" : "");
		s = st_cat(s, " attributes TEXT,\n truncated INTEGER NOT NULL "
		    "DEFAULT 0,\n synced_at INTEGER,\n push_attempts INTEGER NOT "
		    "NULL DEFAULT 0,\n next_push_at INTEGER NOT NULL DEFAULT 0,\n "
		    "batch_id TEXT,\n last_push_error TEXT,\n dead INTEGER NOT "
		    "NULL DEFAULT 0\n);\n"
		    "CREATE UNIQUE INDEX %s_event_id ON %s(event_id) WHERE "
		    "event_id IS NOT NULL;\n"
		    "CREATE INDEX %s_unsynced ON %s(received_at) WHERE synced_at "
		    "IS NULL;\n", d->table, d->table, d->table, d->table);
	}
	return s;
}

/*
 * Version 2: push totals for /metrics (oct_push_sent_total,
 * oct_push_failed_total), counted by marks_apply() as writerd (or an
 * offline octctl push) applies pushd's marks.
 */
#define SCHEMA_V2	"ALTER TABLE push_state ADD COLUMN sent_total INTEGER " \
	"NOT NULL DEFAULT 0;\nALTER TABLE push_state ADD COLUMN failed_total " \
	"INTEGER NOT NULL DEFAULT 0;\n"

/*
 * Version 3: what cost and octctl stats need (SPEC 4.1): cached_tokens and
 * service given by the client, cost_source said by oct. A new file has
 * them from schema_v1(), which follows the field table.
 */
#define SCHEMA_V3	"ALTER TABLE llm_traces ADD COLUMN cached_tokens INTEGER;\n" \
	"ALTER TABLE llm_traces ADD COLUMN service TEXT;\n" \
	"ALTER TABLE llm_traces ADD COLUMN cost_source TEXT;\n"
/*
 * Also version 3, new files too: what octctl stats reads, so that it reads
 * no row itself (store_stats.c). received_at first: it is appended in
 * order, so the index costs an insert little (+8 % of SQLite's time for
 * 1 KB traces here, +4 % on disk).
 */
#define STATS_INDEX	"CREATE INDEX llm_traces_stats ON llm_traces(" \
	"received_at, model, provider, operation, service, session_id, " \
	"status, prompt_tokens, completion_tokens, cost_usd, cost_source, " \
	"latency_ms, started_at);\n"
/*
 * Version 4, new files too: agent.db_id, the file's identity, a UUID made
 * when it is created (or migrated to 4). pushd's sync marks carry the
 * db_id of the file their rows were read from and are applied to that
 * file only (marks.c): the fresh oct.db writerd starts after moving a
 * damaged one aside numbers its rows from 1 again, and a mark for a row
 * of the old file must not land on the fresh row of the same id. Not the
 * agent_id: that is the agent's name to collectors, not the file's.
 */
#define SCHEMA_V4	"ALTER TABLE agent ADD COLUMN db_id TEXT;\n" \
	"UPDATE agent SET db_id = '%s';\n"

int
st_exec(struct store *st, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", st->path, msg ? msg :
		    sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int
st_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt, char *err,
    size_t errlen)
{
	if (sql == NULL || sqlite3_prepare_v3(st->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: prepare: %s", st->path,
		    sql ? sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	return 0;
}

static int
user_version(struct store *st, int *v)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL))
		return -1;
	*v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	return *v < 0 ? -1 : 0;
}

/* Bring the schema to STORE_SCHEMA_VERSION; refuse a newer one. */
static int
migrate(struct store *st, char *err, size_t errlen)
{
	char	*sql = NULL, agent[UUID_STR_LEN], buf[256], dbid[UUID_STR_LEN];
	char	 v4[256];
	int	 v, r;

	if (user_version(st, &v) == -1) {
		snprintf(err, errlen, "%s: %s", st->path, sqlite3_errmsg(st->db));
		return -1;
	}
	if (v > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "oct knows (%d); refusing to touch it", st->path, v,
		    STORE_SCHEMA_VERSION);
		return -1;
	}
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	if (st->mode == STORE_RO) {
		snprintf(err, errlen, "%s: schema version %d, not %d: start "
		    "octd once to migrate it", st->path, v, STORE_SCHEMA_VERSION);
		return -1;
	}
	/* v == 0: a new file; then each "if (v < N)" step, in one transaction */
	if (v == 0 && (sql = schema_v1()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uuid_v4(agent);
	snprintf(buf, sizeof(buf), "INSERT INTO agent VALUES (1, '%s', %lld);",
	    agent, (long long)now_ms());
	uuid_v4(dbid);
	snprintf(v4, sizeof(v4), SCHEMA_V4, dbid);
	r = st_exec(st, "BEGIN", err, errlen) || (v == 0 &&
	    (st_exec(st, sql, err, errlen) || st_exec(st, buf, err, errlen))) ||
	    (v < 2 && st_exec(st, SCHEMA_V2, err, errlen)) ||
	    (v != 0 && v < 3 && st_exec(st, SCHEMA_V3, err, errlen)) ||
	    (v < 3 && st_exec(st, STATS_INDEX, err, errlen)) ||
	    (v < 4 && st_exec(st, v4, err, errlen));
	if (v == 0)
		free(sql);
	snprintf(buf, sizeof(buf), "PRAGMA user_version = %d;",
	    STORE_SCHEMA_VERSION);
	r = r || st_exec(st, buf, err, errlen) || st_exec(st, "COMMIT", err, errlen);
	if (r)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r ? -1 : 0;
}

static int
read_agent(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt	*s;
	int		 ok = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT agent_id, db_id FROM agent",
	    -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 1) == SQLITE_TEXT) {
		snprintf(st->agent_id, sizeof(st->agent_id), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(st->db_id, sizeof(st->db_id), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		ok = 1;
	}
	sqlite3_finalize(s);
	if (!ok)
		snprintf(err, errlen, "%s: no agent id or db id: %s", st->path,
		    sqlite3_errmsg(st->db));
	return ok ? 0 : -1;
}

static int
take_lock(struct store *st, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s.lock", st->path);
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "%s is in use by another writer "
		    "(oct-writerd of a running octd, or octctl)", st->path);
		return -1;
	}
	return 0;
}

static int
prepare_all(struct store *st, char *err, size_t errlen)
{
	return st_prepare_writes(st, err, errlen) ||
	    st_prepare_fetch(st, err, errlen) ||
	    st_prepare_marks(st, err, errlen) ||
	    st_prepare(st, "BEGIN IMMEDIATE", &st->begin, err, errlen) ||
	    st_prepare(st, "COMMIT", &st->commit, err, errlen) ||
	    st_prepare(st, "ROLLBACK", &st->rollback, err, errlen) ? -1 : 0;
}

/*
 * Under steady load the committing connection checkpoints once the WAL
 * holds this many pages (SQLite's default is 1000). The copy back into
 * oct.db runs on the core ingestd shares: 1000 pages (4 MB) is a few ms of
 * kernel copying that delays ingestd's answers (p99 of a 202 at half load
 * 3-5 ms) and, at full load, fills the queue (a few hundred 503s a run).
 * 256 pages (1 MB) keeps each pause under a millisecond (p99 1.5-1.8 ms,
 * no 503s) for 2 % more bytes written: bench/run, docs/BENCHMARKS.md.
 */
#define WAL_CHECKPOINT_PAGES	256

/*
 * The writer's open: the lock, the file (0600), WAL, synchronous, the
 * schema brought up to date, and every statement prepared. 0, or -1 with
 * why in err (st is then closed by the caller).
 */
static int
open_rw(struct store *st, int sync_full, char *err, size_t errlen)
{
	int fd;

	if (take_lock(st, err, errlen) == -1)
		return -1;
	if ((fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE, NULL)) {
		snprintf(err, errlen, "%s: %s", st->path, st->db ?
		    sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_wal_autocheckpoint(st->db, WAL_CHECKPOINT_PAGES);
	if (st_exec(st, "PRAGMA journal_mode = WAL", err, errlen) ||
	    st_exec(st, sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", err, errlen) ||
	    migrate(st, err, errlen) || read_agent(st, err, errlen) ||
	    prepare_all(st, err, errlen))
		return -1;
	return 0;
}

/*
 * The reader's open. The file's identity is taken before SQLite opens it:
 * a file replaced in between is then seen as replaced at the next
 * store_replaced(), which costs one needless reopen, never a missed one.
 */
static int
open_ro(struct store *st, char *err, size_t errlen)
{
	struct stat sb;

	if (access(st->path, R_OK) == -1 || stat(st->path, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
		return -1;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READONLY, NULL)) {
		snprintf(err, errlen, "%s: %s", st->path, st->db ?
		    sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(st->db, 5000);
	return migrate(st, err, errlen) || read_agent(st, err, errlen) ||
	    st_prepare_fetch(st, err, errlen) ? -1 : 0;
}

struct store *
store_open(const char *path, enum store_mode mode, int sync_full, char *err,
    size_t errlen)
{
	struct store	*st;
	int		 r;

	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->mode = mode;
	st->lock_fd = -1;
	r = mode == STORE_RW ? open_rw(st, sync_full, err, errlen) :
	    open_ro(st, err, errlen);
	if (r == -1) {
		store_close(st);
		return NULL;
	}
	return st;
}

/*
 * Whether the database at path is damaged: SQLite answers SQLITE_CORRUPT
 * or SQLITE_NOTADB when the schema is read, or PRAGMA quick_check finds a
 * fault. quick_check reads every page (2 s for 1.6 GB in the page cache,
 * 24 s from disk), so this is only for after an open failed, never on
 * every start; and only with the writer's lock free (an open that failed
 * because another writer holds it says nothing of the file). 1 damaged
 * (SQLite's words in why), 0 not damaged or it cannot tell (a missing
 * file, EACCES, the lock taken, ...).
 */
int
store_damaged(const char *path, char *why, size_t whylen)
{
	struct store	 lk = { .path = (char *)path, .lock_fd = -1 };
	sqlite3		*db = NULL;
	sqlite3_stmt	*s = NULL;
	const char	*res;
	int		 rc, bad = 0;

	snprintf(why, whylen, "not damaged");
	if (take_lock(&lk, why, whylen) == -1 ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		goto done;
	rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL,
	    NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s,
		    NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			res = (const char *)sqlite3_column_text(s, 0);
			if (res != NULL && strcmp(res, "ok") != 0) {
				snprintf(why, whylen, "quick_check: %s", res);
				bad = 1;
			}
			rc = SQLITE_OK;
		}
	}
	if (!bad && ((rc & 0xff) == SQLITE_CORRUPT ||
	    (rc & 0xff) == SQLITE_NOTADB)) {
		snprintf(why, whylen, "%s", sqlite3_errstr(rc));
		bad = 1;
	}
done:
	sqlite3_finalize(s);
	sqlite3_close(db);
	if (lk.lock_fd != -1)
		close(lk.lock_fd);
	return bad;
}

int
store_is_damaged(struct store *st)
{
	int rc = sqlite3_extended_errcode(st->db) & 0xff;

	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

void
store_single_threaded(void)
{
	/* a lock per call and per malloc: 5 % of a push's instructions */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
store_lazy_cache(void)
{
	return sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0) ==
	    SQLITE_OK ? 0 : -1;
}

void
store_close_as_is(struct store *st)
{
	if (st != NULL && st->db != NULL)
		sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
		    NULL);
	store_close(st);
}

int
store_replaced(struct store *st)
{
	struct stat sb;

	if (st->mode != STORE_RO)
		return 0;
	if (stat(st->path, &sb) == -1)
		return errno == ENOENT;
	return sb.st_dev != st->dev || sb.st_ino != st->ino;
}

void
store_close(struct store *st)
{
	sqlite3_stmt *s;

	if (st == NULL)
		return;
	/* every statement prepared, by whichever part */
	while (st->db != NULL && (s = sqlite3_next_stmt(st->db, NULL)) != NULL)
		sqlite3_finalize(s);
	sqlite3_close(st->db);
	if (st->lock_fd != -1)
		close(st->lock_fd);
	free(st->path);
	free(st);
}

const char *
store_error(struct store *st)
{
	return sqlite3_errmsg(st->db);
}

const char *
store_agent_id(struct store *st)
{
	return st->agent_id;
}

const char *
store_db_id(struct store *st)
{
	return st->db_id;
}

int
st_run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_begin(struct store *st)
{
	return st_run(st->begin);
}

int
store_commit(struct store *st)
{
	return st_run(st->commit);
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		st_run(st->rollback);
}

void
st_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

int
st_query_int(struct store *st, int64_t *out, const char *fmt, ...)
{
	sqlite3_stmt	*s;
	char		 sql[512];
	va_list		 ap;
	int		 rc;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}
