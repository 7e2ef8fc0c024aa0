/*
 * sqlite_append.c: the storage ceiling of this machine for bench/run.
 *
 * Copies the llm_traces table (and its indexes) from an oct.db made by
 * oct, then inserts the rows oct would store for EVENT_JSON: one prepared
 * statement, BATCH rows per transaction, WAL, synchronous as oct's
 * default (NORMAL). Fields that are columns go in their column, the rest
 * in attributes, as oct does. Prints rows per second.
 *
 *	sqlite_append TEMPLATE_DB NEW_DB EVENT_JSON ROWS [BATCH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#define MAXCOL	64

static void
die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sqlite_append: %s: %s\n", what, db != NULL ?
	    sqlite3_errmsg(db) : "");
	exit(1);
}

static void
exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(db, sql);
}

/* The schema of llm_traces, from the template. */
static void
copy_schema(const char *from, sqlite3 *to)
{
	sqlite3		*db;
	sqlite3_stmt	*s;

	if (sqlite3_open_v2(from, &db, SQLITE_OPEN_READONLY, NULL))
		die(db, from);
	if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE "
	    "tbl_name = 'llm_traces' AND sql IS NOT NULL ORDER BY type DESC",
	    -1, &s, NULL))
		die(db, "schema");
	while (sqlite3_step(s) == SQLITE_ROW)
		exec(to, (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	sqlite3		*db;
	sqlite3_stmt	*ins, *info;
	json_t		*ev, *attrs, *v;
	const char	*cols[MAXCOL], *key;
	char		 sql[4096], uuid[37], *attr_text;
	unsigned char	 b[16];
	int		 ncol = 0, i, c, batch;
	long		 rows, n;
	double		 t0, t1;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: sqlite_append TEMPLATE_DB NEW_DB "
		    "EVENT_JSON ROWS [BATCH]\n");
		return 2;
	}
	rows = atol(argv[4]);
	batch = argc == 6 ? atoi(argv[5]) : 50;
	if (sodium_init() < 0 || (ev = json_load_file(argv[3], 0, NULL)) == NULL)
		return 1;
	remove(argv[2]);
	if (sqlite3_open(argv[2], &db))
		die(db, argv[2]);
	exec(db, "PRAGMA journal_mode = WAL");
	exec(db, "PRAGMA synchronous = NORMAL");
	copy_schema(argv[1], db);

	/* the event's fields that are columns; the rest are attributes */
	attrs = json_object();
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info("
	    "'llm_traces') WHERE name = ?", -1, &info, NULL))
		die(db, "table_info");
	json_object_foreach(ev, key, v) {
		sqlite3_bind_text(info, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(info) == SQLITE_ROW && ncol < MAXCOL)
			cols[ncol++] = key;
		else
			json_object_set(attrs, key, v);
		sqlite3_reset(info);
	}
	sqlite3_finalize(info);
	attr_text = json_dumps(attrs, JSON_COMPACT);
	c = snprintf(sql, sizeof(sql), "INSERT INTO llm_traces (trace_id, "
	    "received_at, attributes");
	for (i = 0; i < ncol; i++)
		c += snprintf(sql + c, sizeof(sql) - (size_t)c, ", %s", cols[i]);
	c += snprintf(sql + c, sizeof(sql) - (size_t)c, ") VALUES (?, ?, ?");
	for (i = 0; i < ncol; i++)
		c += snprintf(sql + c, sizeof(sql) - (size_t)c, ", ?");
	snprintf(sql + c, sizeof(sql) - (size_t)c, ")");
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ins,
	    NULL))
		die(db, sql);

	t0 = now();
	for (n = 0; n < rows; n++) {
		if (n % batch == 0)
			exec(db, "BEGIN IMMEDIATE");
		randombytes_buf(b, sizeof(b));
		b[6] = (b[6] & 0x0f) | 0x40;
		b[8] = (b[8] & 0x3f) | 0x80;
		snprintf(uuid, sizeof(uuid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
		    "%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
		    b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		    b[13], b[14], b[15]);
		sqlite3_bind_text(ins, 1, uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 2, (sqlite3_int64)(now() * 1000));
		sqlite3_bind_text(ins, 3, attr_text, -1, SQLITE_STATIC);
		for (i = 0; i < ncol; i++) {
			v = json_object_get(ev, cols[i]);
			if (json_is_integer(v))
				sqlite3_bind_int64(ins, i + 4,
				    json_integer_value(v));
			else if (json_is_real(v))
				sqlite3_bind_double(ins, i + 4,
				    json_real_value(v));
			else
				sqlite3_bind_text(ins, i + 4,
				    json_string_value(v), -1, SQLITE_STATIC);
		}
		if (sqlite3_step(ins) != SQLITE_DONE)
			die(db, "insert");
		sqlite3_reset(ins);
		if (n % batch == batch - 1 || n == rows - 1)
			exec(db, "COMMIT");
	}
	t1 = now();
	printf("%.0f\n", (double)rows / (t1 - t0));
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(attr_text);
	json_decref(attrs);
	json_decref(ev);
	return 0;
}
