/*
 * test_stats.c: octctl stats against rows the test made, with octd not
 * running: the figures of each group (percentiles checked against a sort
 * of the test's own latencies), the window, --by, the top errors, the
 * hours, the usage errors, and the text in an 80-column pseudo-terminal.
 */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "harness.h"
#include "store.h"

#define HOUR	3600000LL

static struct octd_run	 run;
static sqlite3		*db;
static long long	 now;

static void
setup(void)
{
	struct store	*st;
	struct timespec	 ts;
	char		 path[600], err[256];

	harness_setup(&run, NULL);
	snprintf(path, sizeof(path), "%s/data", run.dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	st = store_open(path, STORE_RW, 0, err, sizeof(err));
	cr_assert_not_null(st, "%s", err);
	store_close(st);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
teardown(void)
{
	sqlite3_close(db);
	harness_teardown(&run);
}

TestSuite(stats, .init = setup, .fini = teardown, .timeout = 60);

/* One trace; NULL-able numbers are given as < 0 (or NAN) for NULL. */
static void
trace(const char *model, const char *service, const char *status,
    long long prompt, long long completion, double cost, const char *source,
    double latency, long long started_ago, long long received_ago,
    const char *error)
{
	sqlite3_stmt	*s;
	static int	 n;
	char		 id[40];

	cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO llm_traces (trace_id, "
	    "model, service, status, prompt_tokens, completion_tokens, "
	    "cost_usd, cost_source, latency_ms, started_at, received_at, "
	    "error_message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &s, NULL),
	    SQLITE_OK, "%s", sqlite3_errmsg(db));
	snprintf(id, sizeof(id), "t-%d", n++);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, model, -1, SQLITE_STATIC);
	if (service != NULL)
		sqlite3_bind_text(s, 3, service, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, status, -1, SQLITE_STATIC);
	if (prompt >= 0)
		sqlite3_bind_int64(s, 5, prompt);
	if (completion >= 0)
		sqlite3_bind_int64(s, 6, completion);
	if (!isnan(cost))
		sqlite3_bind_double(s, 7, cost);
	if (source != NULL)
		sqlite3_bind_text(s, 8, source, -1, SQLITE_STATIC);
	if (!isnan(latency))
		sqlite3_bind_double(s, 9, latency);
	if (started_ago >= 0)
		sqlite3_bind_int64(s, 10, now - started_ago);
	sqlite3_bind_int64(s, 11, now - received_ago);
	if (error != NULL)
		sqlite3_bind_text(s, 12, error, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(s), SQLITE_DONE, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
}

/* octctl -c conf stats ARGS...: exit status, output in out. */
static int
stats(char *out, size_t len, const char *a1, const char *a2, const char *a3,
    const char *a4, const char *a5)
{
	char *argv[] = { (char *)harness_bin("octctl"), "-c", run.conf,
	    "stats", (char *)a1, (char *)a2, (char *)a3, (char *)a4,
	    (char *)a5, NULL };

	return harness_run(argv, out, len);
}

static json_t *
stats_json(const char *by, const char *since)
{
	static char	 out[65536];
	json_error_t	 e;
	json_t		*o;

	cr_assert_eq(stats(out, sizeof(out), "--json", "--by", by, "--since",
	    since), 0, "%s", out);
	o = json_loads(out, 0, &e);
	cr_assert_not_null(o, "not JSON: %s", out);
	return o;
}

static json_t *
group_of(json_t *o, const char *key)
{
	json_t	*g;
	size_t	 i;

	json_array_foreach(json_object_get(o, "groups"), i, g)
		if (key == NULL ? json_is_null(json_object_get(g, "key")) :
		    json_is_string(json_object_get(g, "key")) && strcmp(key,
		    json_string_value(json_object_get(g, "key"))) == 0)
			return g;
	cr_assert_fail("no group %s", key != NULL ? key : "null");
	return NULL;
}

static double
num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static int
by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

Test(stats, groups_sum_and_rank_what_the_rows_hold)
{
	double	 lat[37], want;
	int	 i, p, pct[] = { 50, 95, 99 };
	json_t	*o, *g, *l;

	/* 37 gpt-4o calls with odd latencies, 3 of them errors */
	for (i = 0; i < 37; i++) {
		lat[i] = (double)((i * 7919) % 1000) + 0.5;
		trace("gpt-4o", "chat-app", i % 13 == 0 ? "error" : "ok",
		    100 + i, 10, i % 2 ? 0.25 : NAN, i % 4 == 1 ? "table" :
		    i % 2 ? "client" : NULL, lat[i], 1000 * i, 1000 * i,
		    i % 13 == 0 ? "rate limited" : NULL);
	}
	trace("claude-haiku-4-5", "batch", "error", -1, -1, NAN, NULL, NAN,
	    -1, 5000, "overloaded");
	trace("claude-haiku-4-5", "batch", "error", 5, 7, 1.5, "table", 12,
	    -1, 6000, "rate limited");
	/* outside the default 24 h window, by started_at or received_at */
	trace("gpt-4o", "old", "ok", 1, 1, 9, "client", 1, 30 * HOUR,
	    30 * HOUR, NULL);
	trace("gpt-4o", "old", "ok", 1, 1, 9, "client", 1, 25 * HOUR,
	    1000, NULL);

	o = stats_json("model", "24h");
	cr_assert_eq(json_array_size(json_object_get(o, "groups")), 2);
	g = json_array_get(json_object_get(o, "groups"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(g, "key")),
	    "gpt-4o", "most calls first");
	cr_assert_eq(num(g, "calls"), 37);
	cr_assert_eq(num(g, "errors"), 3);
	cr_assert_eq(num(g, "prompt_tokens"), 37 * 100 + 36 * 37 / 2);
	cr_assert_eq(num(g, "completion_tokens"), 370);
	cr_assert_float_eq(num(g, "cost_usd"), 18 * 0.25, 1e-9);
	cr_assert_float_eq(num(g, "cost_from_table_usd"), 9 * 0.25, 1e-9);
	qsort(lat, 37, sizeof(double), by_double);
	l = json_object_get(g, "latency_ms");
	for (p = 0; p < 3; p++) {
		want = lat[(int)ceil(pct[p] / 100.0 * 37) - 1];
		cr_assert_float_eq(num(l, pct[p] == 50 ? "p50" : pct[p] == 95 ?
		    "p95" : "p99"), want, 1e-9, "p%d", pct[p]);
	}
	g = group_of(o, "claude-haiku-4-5");
	cr_assert_eq(num(g, "calls"), 2);
	cr_assert_eq(num(g, "errors"), 2);
	cr_assert_float_eq(num(json_object_get(g, "latency_ms"), "p50"), 12,
	    1e-9, "NULL latencies are left out");
	cr_assert_float_eq(num(g, "cost_from_table_usd"), 1.5, 1e-9);

	l = json_array_get(json_object_get(o, "top_errors"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(l, "message")),
	    "rate limited");
	cr_assert_eq(num(l, "count"), 4);
	cr_assert_eq(json_array_size(json_object_get(o, "top_errors")), 2);
	cr_assert_eq(json_array_size(json_object_get(o, "hours")), 25,
	    "24 h spans 25 clock hours");
	cr_assert_float_eq(num(o, "since_ms"), now - 24 * HOUR, 5000);
	json_decref(o);
}

Test(stats, by_service_and_a_shorter_window)
{
	json_t	*o;
	int	 i;
	long long calls = 0;

	for (i = 0; i < 5; i++)
		trace("m", "web", "ok", 1, 1, NAN, NULL, 10, -1, i * 10 * 60000,
		    NULL);
	trace("m", NULL, "ok", 1, 1, NAN, NULL, 10, -1, 1000, NULL);
	o = stats_json("service", "30m");
	cr_assert_eq(num(group_of(o, "web"), "calls"), 3, "0, 10, 20 min ago");
	cr_assert_eq(num(group_of(o, NULL), "calls"), 1);
	cr_assert_str_eq(json_string_value(json_object_get(o, "by")),
	    "service");
	json_decref(o);
	o = stats_json("session", "2h");
	for (i = 0; i < (int)json_array_size(json_object_get(o, "hours")); i++)
		calls += (long long)num(json_array_get(json_object_get(o,
		    "hours"), i), "calls");
	cr_assert_eq(calls, 6, "every call in one hour of the chart");
	json_decref(o);
}

Test(stats, usage_errors_exit_2_and_say_what_to_type)
{
	char	out[4096];

	cr_assert_eq(stats(out, sizeof(out), "--since", "24", NULL, NULL,
	    NULL), 2);
	cr_assert(strstr(out, "--since 24: want a duration such as 30m, 24h "
	    "or 7d"), "%s", out);
	cr_assert_eq(stats(out, sizeof(out), "--by", "colour", NULL, NULL,
	    NULL), 2);
	cr_assert(strstr(out, "--by colour: want model, provider, operation, "
	    "service or session"), "%s", out);
}

/* Display columns of one line of UTF-8 text (every code point one). */
static int
width(const char *s, size_t len)
{
	int	w = 0;
	size_t	i;

	for (i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

Test(stats, the_text_fits_80_columns_with_block_bars)
{
	struct winsize	 ws = { .ws_row = 24, .ws_col = 80 };
	char		 out[65536], *line, *end;
	ssize_t		 n;
	size_t		 len = 0;
	int		 master, status, lines = 0, blocks = 0;
	pid_t		 pid;

	trace("a-model-with-a-long-name-2026-01-01", "s", "ok", 123456789,
	    98765432, 12345.6789, "table", 123456.7, -1, 1000, NULL);
	trace("gpt-4o", "s", "error", 10, 10, 0.01, "client", 900, -1,
	    2 * HOUR, "boom");
	pid = forkpty(&master, NULL, NULL, &ws);
	cr_assert(pid != -1);
	if (pid == 0) {
		setenv("LC_ALL", "C.UTF-8", 1);
		execl(harness_bin("octctl"), "octctl", "-c", run.conf, "stats",
		    (char *)NULL);
		_exit(127);
	}
	while (len < sizeof(out) - 1 &&
	    (n = read(master, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(master);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	for (line = out; *line != '\0'; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		cr_assert_leq(width(line, (size_t)(end - line) -
		    (end > line && end[-1] == '\r')), 80, "too wide: %.*s",
		    (int)(end - line), line);
		lines++;
		blocks += strstr(line, "\u2588") != NULL &&
		    (size_t)(strstr(line, "\u2588") - line) < (size_t)(end -
		    line);
	}
	cr_assert(strstr(out, "a-model-with-a-long-name-2026-01-01"), "%s",
	    out);
	cr_assert(strstr(out, "boom"), "%s", out);
	cr_assert_geq(blocks, 2, "block bars on a UTF-8 terminal:\n%s", out);
	cr_assert_geq(lines, 30, "%s", out);
}
