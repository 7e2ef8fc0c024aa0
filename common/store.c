/*
 * store.c: SQLite storage for oct (see store.h).
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

#include <sqlite3.h>

#include "oct.h"
#include "store.h"
#include "util.h"

struct store {
	sqlite3		*db;
	enum store_mode	 mode;
	int		 lock_fd;
	char		*path;
	char		 agent_id[UUID_STR_LEN];
	sqlite3_stmt	*insert[EV_NKINDS];
	sqlite3_stmt	*begin, *commit, *rollback;
	sqlite3_stmt	*cursor_get, *cursor_set, *commits_get;
	sqlite3_stmt	*fetch[2];		/* due, forced */
	sqlite3_stmt	*synced[EV_NKINDS], *failed[EV_NKINDS], *dead[EV_NKINDS];
	sqlite3_stmt	*push_state, *push_count;
};

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

/* Append printf output to a malloc'd string; returns it or NULL. */
static char *
cat(char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *
cat(char *s, const char *fmt, ...)
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
		s = cat(s, "CREATE TABLE %s (\n id INTEGER PRIMARY KEY,\n "
		    "trace_id TEXT NOT NULL,\n event_id TEXT,\n received_at "
		    "INTEGER NOT NULL,\n", d->table);
		for (i = 0; i < d->nfields; i++)
			s = cat(s, " %s %s%s,\n", d->fields[i].name,
			    col_type(d->fields[i].type),
			    d->fields[i].required ? " NOT NULL" : "");
		if (k == EV_TRACE)	/* section 4.1: client, table or NULL */
			s = cat(s, " cost_source TEXT,\n");
		s = cat(s, " attributes TEXT,\n truncated INTEGER NOT NULL "
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

static char *
insert_sql(const struct event_def *d)
{
	char	*s = strdup("");
	size_t	 i;

	s = cat(s, "INSERT OR IGNORE INTO %s (trace_id, event_id, received_at, "
	    "attributes, truncated", d->table);
	for (i = 0; i < d->nfields; i++)
		s = cat(s, ", %s", d->fields[i].name);
	s = cat(s, ") VALUES (?, ?, ?, ?, ?");
	for (i = 0; i < d->nfields; i++)
		s = cat(s, ", ?");
	return cat(s, ")");
}

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
		s = cat(s, d->fields[i].type == F_LABELS ?
		    ", '%s', json(%s)" : ", '%s', %s", d->fields[i].name,
		    d->fields[i].name);
	return cat(s, ", 'attributes', json(attributes), 'truncated', "
	    "truncated))");
}

static char *
fetch_sql(int force)
{
	char	*s = strdup(""), *data;
	size_t	 k;

	for (k = 0; k < EV_NKINDS; k++) {
		data = data_expr(&event_defs[k]);
		s = cat(s, "%sSELECT %zu AS kind, id, trace_id, received_at, "
		    "push_attempts, %s FROM %s WHERE synced_at IS NULL AND "
		    "(received_at, %zu, id) > (?3, ?4, ?5)%s", k ?
		    " UNION ALL " : "", k, data ? data : "NULL",
		    event_defs[k].table, k, force ? "" :
		    " AND dead = 0 AND next_push_at <= ?1");
		free(data);
	}
	return cat(s, " ORDER BY received_at, kind, id LIMIT ?2");
}

static int
exec(struct store *st, const char *sql, char *err, size_t errlen)
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

static int
prepare(struct store *st, const char *sql, sqlite3_stmt **stmt, char *err,
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
	char	*sql = NULL, agent[UUID_STR_LEN], buf[256];
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
	r = exec(st, "BEGIN", err, errlen) || (v == 0 &&
	    (exec(st, sql, err, errlen) || exec(st, buf, err, errlen))) ||
	    (v < 2 && exec(st, SCHEMA_V2, err, errlen)) ||
	    (v != 0 && v < 3 && exec(st, SCHEMA_V3, err, errlen)) ||
	    (v < 3 && exec(st, STATS_INDEX, err, errlen));
	if (v == 0)
		free(sql);
	snprintf(buf, sizeof(buf), "PRAGMA user_version = %d;",
	    STORE_SCHEMA_VERSION);
	r = r || exec(st, buf, err, errlen) || exec(st, "COMMIT", err, errlen);
	if (r)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r ? -1 : 0;
}

static int
read_agent(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt	*s;
	int		 ok = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT agent_id FROM agent", -1, &s,
	    NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		snprintf(st->agent_id, sizeof(st->agent_id), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		ok = 1;
	}
	sqlite3_finalize(s);
	if (!ok)
		snprintf(err, errlen, "%s: no agent id: %s", st->path,
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

/* Statements both readers and the writer use. */
static int
prepare_reads(struct store *st, char *err, size_t errlen)
{
	char	*sql;
	int	 i, r;

	for (i = 0; i < 2; i++) {
		sql = fetch_sql(i);
		r = prepare(st, sql, &st->fetch[i], err, errlen);
		free(sql);
		if (r == -1)
			return -1;
	}
	return 0;
}

static int
prepare_marks(struct store *st, char *err, size_t errlen)
{
	char		 sql[1024];
	const char	*t;
	size_t		 k;

	for (k = 0; k < EV_NKINDS; k++) {
		t = event_defs[k].table;
		snprintf(sql, sizeof(sql), "UPDATE %s SET synced_at = "
		    "coalesce(synced_at, ?3), batch_id = ?2, dead = 0 WHERE id = "
		    "?1", t);
		if (prepare(st, sql, &st->synced[k], err, errlen) == -1)
			return -1;
		snprintf(sql, sizeof(sql), "UPDATE %s SET push_attempts = "
		    "push_attempts + ?5, next_push_at = ?3, last_push_error = ?4, "
		    "batch_id = ?2, dead = (push_attempts + ?5 >= ?6 AND "
		    "received_at < ?7) WHERE id = ?1 AND synced_at IS NULL", t);
		if (prepare(st, sql, &st->failed[k], err, errlen) == -1)
			return -1;
		snprintf(sql, sizeof(sql), "UPDATE %s SET dead = 1, "
		    "last_push_error = ?2 WHERE id = ?1 AND synced_at IS NULL", t);
		if (prepare(st, sql, &st->dead[k], err, errlen) == -1)
			return -1;
	}
	if (prepare(st, "UPDATE push_state SET sent_total = sent_total + ?1, "
	    "failed_total = failed_total + ?2 WHERE id = 1", &st->push_count,
	    err, errlen) == -1)
		return -1;
	return prepare(st, "UPDATE push_state SET last_success_at = "
	    "coalesce(nullif(?1, 0), last_success_at), last_error = "
	    "coalesce(?2, last_error), last_error_at = CASE WHEN ?2 IS NULL "
	    "THEN last_error_at ELSE ?3 END WHERE id = 1", &st->push_state, err,
	    errlen);
}

static int
prepare_all(struct store *st, char *err, size_t errlen)
{
	char	*sql;
	size_t	 k;
	int	 r;

	for (k = 0; k < EV_NKINDS; k++) {
		sql = insert_sql(&event_defs[k]);
		r = prepare(st, sql, &st->insert[k], err, errlen);
		free(sql);
		if (r == -1)
			return -1;
	}
	if (prepare_reads(st, err, errlen) == -1 ||
	    prepare_marks(st, err, errlen) == -1)
		return -1;
	return prepare(st, "BEGIN IMMEDIATE", &st->begin, err, errlen) ||
	    prepare(st, "COMMIT", &st->commit, err, errlen) ||
	    prepare(st, "ROLLBACK", &st->rollback, err, errlen) ||
	    prepare(st, "SELECT seq FROM ingest_cursor WHERE stream = ?",
	    &st->cursor_get, err, errlen) ||
	    prepare(st, "INSERT INTO ingest_cursor (stream, seq, commits, "
	    "updated_at) VALUES (?1, ?2, 1, ?3) ON CONFLICT (stream) DO UPDATE "
	    "SET seq = max(seq, ?2), commits = commits + 1, updated_at = ?3",
	    &st->cursor_set, err, errlen) ||
	    prepare(st, "SELECT commits FROM ingest_cursor WHERE stream = ?",
	    &st->commits_get, err, errlen) ? -1 : 0;
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
	if (exec(st, "PRAGMA journal_mode = WAL", err, errlen) ||
	    exec(st, sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", err, errlen) ||
	    migrate(st, err, errlen) || read_agent(st, err, errlen) ||
	    prepare_all(st, err, errlen))
		return -1;
	return 0;
}

static int
open_ro(struct store *st, char *err, size_t errlen)
{
	if (access(st->path, R_OK) == -1) {
		snprintf(err, errlen, "%s: %s", st->path, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READONLY, NULL)) {
		snprintf(err, errlen, "%s: %s", st->path, st->db ?
		    sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(st->db, 5000);
	return migrate(st, err, errlen) || read_agent(st, err, errlen) ||
	    prepare_reads(st, err, errlen) ? -1 : 0;
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

void
store_close(struct store *st)
{
	sqlite3_stmt	*s;
	size_t		 k;

	if (st == NULL)
		return;
	for (k = 0; k < EV_NKINDS; k++) {
		sqlite3_finalize(st->insert[k]);
		sqlite3_finalize(st->synced[k]);
		sqlite3_finalize(st->failed[k]);
		sqlite3_finalize(st->dead[k]);
	}
	sqlite3_finalize(st->fetch[0]);
	sqlite3_finalize(st->fetch[1]);
	sqlite3_finalize(st->push_state);
	sqlite3_finalize(st->push_count);
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->rollback);
	sqlite3_finalize(st->cursor_get);
	sqlite3_finalize(st->cursor_set);
	sqlite3_finalize(st->commits_get);
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

/* Step a statement that returns no row, then reset it. */
static int
run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_begin(struct store *st)
{
	return run(st->begin);
}

int
store_commit(struct store *st)
{
	return run(st->commit);
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		run(st->rollback);
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

int
store_insert(struct store *st, const struct event *e)
{
	const struct event_def	*d = &event_defs[e->kind];
	sqlite3_stmt		*s = st->insert[e->kind];
	const struct event_value *v;
	size_t			 i;
	int			 c;

	bind_text(s, 1, e->trace_id);
	bind_text(s, 2, e->event_id);
	sqlite3_bind_int64(s, 3, e->received_at);
	bind_text(s, 4, e->attributes);
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
	return run(s);
}

/* Step s (bound to stream) for one integer, 0 when there is no row. */
static int
stream_int(sqlite3_stmt *s, const char *stream, int64_t *out)
{
	int rc;

	bind_text(s, 1, stream);
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
	bind_text(st->cursor_set, 1, stream);
	sqlite3_bind_int64(st->cursor_set, 2, (sqlite3_int64)seq);
	sqlite3_bind_int64(st->cursor_set, 3, now_ms());
	return run(st->cursor_set);
}

int
store_commits(struct store *st, const char *stream, int64_t *n)
{
	return stream_int(st->commits_get, stream, n);
}

/* Run a one-integer query built from fmt (table names only). */
static int
query_int(struct store *st, int64_t *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
query_int(struct store *st, int64_t *out, const char *fmt, ...)
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

int
store_used_bytes(struct store *st, int64_t *bytes)
{
	int64_t		pages, freel, size;
	struct stat	sb;
	char		wal[4096];

	if (query_int(st, &pages, "PRAGMA page_count") ||
	    query_int(st, &freel, "PRAGMA freelist_count") ||
	    query_int(st, &size, "PRAGMA page_size"))
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
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id IN (SELECT "
		    "id FROM %s WHERE synced_at IS NOT NULL AND (?1 = 0 OR "
		    "received_at < ?1) AND received_at <= ?3 ORDER BY id LIMIT "
		    "?2)", event_defs[k].table, event_defs[k].table);
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

int
store_pending(struct store *st, enum event_kind k, int64_t *n)
{
	return query_int(st, n, "SELECT count(*) FROM %s WHERE synced_at IS "
	    "NULL AND dead = 0", event_defs[k].table);
}

int
store_count(struct store *st, enum event_kind k, int64_t *n)
{
	return query_int(st, n, "SELECT count(*) FROM %s", event_defs[k].table);
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
	bind_text(s, 2, batch_id);
	sqlite3_bind_int64(s, 3, at);
	return run(s);
}

int
store_mark_failed(struct store *st, enum event_kind k, int64_t id,
    const char *batch_id, int64_t next_at, const char *error, int charge,
    int64_t max_attempts, int64_t giveup_before)
{
	sqlite3_stmt *s = st->failed[k];

	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, batch_id);
	sqlite3_bind_int64(s, 3, next_at);
	bind_text(s, 4, error);
	sqlite3_bind_int(s, 5, charge ? 1 : 0);
	sqlite3_bind_int64(s, 6, max_attempts);
	sqlite3_bind_int64(s, 7, giveup_before);
	return run(s);
}

int
store_mark_dead(struct store *st, enum event_kind k, int64_t id,
    const char *reason)
{
	sqlite3_stmt *s = st->dead[k];

	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, reason);
	return run(s);
}

int
store_set_push_state(struct store *st, int64_t last_success_at,
    const char *last_error)
{
	sqlite3_stmt *s = st->push_state;

	sqlite3_bind_int64(s, 1, last_success_at);
	bind_text(s, 2, last_error);
	sqlite3_bind_int64(s, 3, now_ms());
	return run(s);
}

int
store_count_push(struct store *st, int64_t sent, int64_t failed)
{
	sqlite3_bind_int64(st->push_count, 1, sent);
	sqlite3_bind_int64(st->push_count, 2, failed);
	return run(st->push_count);
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
store_dead(struct store *st, enum event_kind k, int64_t *n)
{
	return query_int(st, n, "SELECT count(*) FROM %s WHERE synced_at IS "
	    "NULL AND dead = 1", event_defs[k].table);
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
		sql = cat(sql, "%sSELECT push_attempts FROM %s WHERE synced_at "
		    "IS NULL", k ? " UNION ALL " : "", event_defs[k].table);
	sql = cat(sql, ") GROUP BY push_attempts ORDER BY push_attempts");
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
		sql = cat(sql, "%sSELECT %zu AS kind, trace_id, push_attempts, "
		    "last_push_error, received_at FROM %s WHERE synced_at IS NULL "
		    "AND (push_attempts > 0 OR dead = 1)", k ? " UNION ALL " : "",
		    k, event_defs[k].table);
	sql = cat(sql, " ORDER BY push_attempts DESC, received_at LIMIT ?");
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

/* For the other store*.c files only (store_stats.c). */
sqlite3	*store_sqlite(struct store *);

sqlite3 *
store_sqlite(struct store *st)
{
	return st->db;
}
