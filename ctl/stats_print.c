/*
 * stats_print.c: octctl stats' two views. Text: a table of the groups that
 * fits 80 columns, the top error messages, and per hour a bar of calls and
 * one of cost, as wide as the terminal, in block characters on a UTF-8
 * terminal and '#' elsewhere. JSON: one object, the fields of SPEC
 * section 7.
 */
#include "config.h"

#include <jansson.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

#define KEY_WIDTH	11	/* the table is 79 columns */
#define HOUR_MS		(3600 * 1000LL)

static json_t *
number_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *
group_json(const struct stats_group *g)
{
	return json_pack("{s:o, s:I, s:I, s:f, s:I, s:I, s:f, s:f, "
	    "s:{s:o, s:o, s:o}}",
	    "key", g->key != NULL ? json_string(g->key) : json_null(),
	    "calls", (json_int_t)g->calls, "errors", (json_int_t)g->errors,
	    "error_rate", g->calls ? (double)g->errors / g->calls : 0.0,
	    "prompt_tokens", (json_int_t)g->prompt_tokens,
	    "completion_tokens", (json_int_t)g->completion_tokens,
	    "cost_usd", g->cost_usd, "cost_from_table_usd",
	    g->cost_from_table_usd, "latency_ms",
	    "p50", number_or_null(stats_percentile(g->lat, g->nlat, 50)),
	    "p95", number_or_null(stats_percentile(g->lat, g->nlat, 95)),
	    "p99", number_or_null(stats_percentile(g->lat, g->nlat, 99)));
}

void
stats_print_json(const struct stats *s)
{
	json_t	*o, *a;
	char	*text;
	size_t	 i;

	o = json_pack("{s:I, s:s}", "since_ms", (json_int_t)s->since_ms, "by",
	    s->by);
	json_object_set_new(o, "groups", a = json_array());
	for (i = 0; i < s->ngroups; i++)
		json_array_append_new(a, group_json(&s->groups[i]));
	json_object_set_new(o, "top_errors", a = json_array());
	for (i = 0; i < s->nmessages && i < STATS_TOP_ERRORS; i++)
		json_array_append_new(a, json_pack("{s:s, s:I}", "message",
		    s->messages[i].message, "count",
		    (json_int_t)s->messages[i].count));
	json_object_set_new(o, "hours", a = json_array());
	for (i = 0; i < s->nhours; i++)
		json_array_append_new(a, json_pack("{s:I, s:I, s:f}",
		    "start_ms", (json_int_t)(s->hour0 + (int64_t)i * HOUR_MS),
		    "calls", (json_int_t)s->hours[i].calls, "cost_usd",
		    s->hours[i].cost_usd));
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
	printf("%s\n", text);
	free(text);
	json_decref(o);
}

/* n in at most 6 columns: 999999, 1.2M, 34.5G. */
static const char *
compact(int64_t n, char *buf, size_t len)
{
	if (n < 1000000)
		snprintf(buf, len, "%lld", (long long)n);
	else if (n < 1000000000)
		snprintf(buf, len, "%.1fM", n / 1e6);
	else
		snprintf(buf, len, "%.1fG", n / 1e9);
	return buf;
}

/* Dollars in at most 8 columns: cents of cents while they are small. */
static const char *
money(double v, char *buf, size_t len)
{
	if (v < 100)
		snprintf(buf, len, "%.4f", v);
	else if (v < 100000)
		snprintf(buf, len, "%.2f", v);
	else if (v < 1e8)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.2e", v);
	return buf;
}

/* A latency in at most 6 columns, "-" for none. */
static const char *
ms(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v < 100000)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.0fk", v / 1000);
	return buf;
}

/* One group a line; a key too long for its column gets a line above. */
static void
print_group(const struct stats_group *g)
{
	const char	*k = g->key != NULL ? g->key : "(none)";
	char		 a[24], b[24], c[24], d[24], e[24];

	if (strlen(k) > KEY_WIDTH) {
		printf("%s\n", k);
		k = "";
	}
	printf("%-*s %6s %4lld %4.0f%% %6s", KEY_WIDTH, k, compact(g->calls, a,
	    sizeof(a)), (long long)g->errors, g->calls ? 100.0 * g->errors /
	    g->calls : 0.0, compact(g->prompt_tokens, b, sizeof(b)));
	printf(" %6s %8s", compact(g->completion_tokens, c, sizeof(c)),
	    money(g->cost_usd, d, sizeof(d)));
	printf(" %8s", money(g->cost_from_table_usd, e, sizeof(e)));
	printf(" %5s %5s %5s\n", ms(stats_percentile(g->lat, g->nlat, 50), a,
	    sizeof(a)), ms(stats_percentile(g->lat, g->nlat, 95), d,
	    sizeof(d)), ms(stats_percentile(g->lat, g->nlat, 99), e,
	    sizeof(e)));
}

static int
columns(void)
{
	struct winsize	w;
	const char	*env = getenv("COLUMNS");

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0
	    && w.ws_col > 0)
		return w.ws_col;
	if (env != NULL && atoi(env) > 0)
		return atoi(env);
	return 80;
}

/* A bar of v out of max in width cells (eighths with block characters). */
static void
bar(double v, double max, int width, int utf8)
{
	static const char *const part[] = { "", "\u258f", "\u258e",
	    "\u258d", "\u258c", "\u258b", "\u258a", "\u2589" };
	int	eighths = max > 0 ? (int)(v / max * width * 8 + 0.5) : 0;
	int	i, used = 0;

	if (v > 0 && eighths == 0)
		eighths = 1;			/* something, not nothing */
	for (i = 0; i < eighths / 8; i++, used++)
		fputs(utf8 ? "\u2588" : "#", stdout);
	if (eighths % 8 != 0) {
		fputs(utf8 ? part[eighths % 8] : (eighths % 8 >= 4 ? "#" : "."),
		    stdout);
		used++;
	}
	printf("%*s", width - used, "");
}

static void
print_hours(const struct stats *s, int utf8)
{
	int64_t	maxc = 0;
	double	maxu = 0;
	int	cols = columns(), w;
	char	hh[8];
	time_t	t;
	size_t	i;

	for (i = 0; i < s->nhours; i++) {
		if (s->hours[i].calls > maxc)
			maxc = s->hours[i].calls;
		if (s->hours[i].cost_usd > maxu)
			maxu = s->hours[i].cost_usd;
	}
	/* "HH:00 " + bar + " 123456 " + bar + " $12345.67" */
	w = (cols - 6 - 8 - 10 - 1) / 2;
	if (w < 4)
		w = 4;
	printf("\nper hour (UTC): calls%*scost\n", w + 3, "");
	for (i = 0; i < s->nhours; i++) {
		t = (time_t)((s->hour0 + (int64_t)i * HOUR_MS) / 1000);
		strftime(hh, sizeof(hh), "%H:00", gmtime(&t));
		printf("%s ", hh);
		bar((double)s->hours[i].calls, (double)maxc, w, utf8);
		printf(" %6lld ", (long long)s->hours[i].calls);
		bar(s->hours[i].cost_usd, maxu, w, utf8);
		printf(" $%.2f\n", s->hours[i].cost_usd);
	}
}

void
stats_print_text(const struct stats *s)
{
	char	from[32];
	time_t	t = (time_t)(s->since_ms / 1000);
	size_t	i;
	int	utf8;

	setlocale(LC_CTYPE, "");
	utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	strftime(from, sizeof(from), "%Y-%m-%d %H:%M UTC", gmtime(&t));
	printf("LLM calls since %s, by %s\n\n", from, s->by);
	printf("%-*s %6s %4s %5s %6s %6s %8s %8s %5s %5s %5s\n",
	    KEY_WIDTH, s->by, "calls", "errs", "err%", "in", "out", "cost $", "table $",
	    "p50", "p95", "p99");
	for (i = 0; i < s->ngroups; i++)
		print_group(&s->groups[i]);
	if (s->ngroups == 0)
		printf("(no calls)\n");
	if (s->nmessages > 0)
		printf("\ntop errors:\n");
	for (i = 0; i < s->nmessages && i < STATS_TOP_ERRORS; i++)
		printf("%7lld  %.70s\n", (long long)s->messages[i].count,
		    s->messages[i].message);
	print_hours(s, utf8);
}
