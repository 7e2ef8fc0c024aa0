/*
 * stats.c: octctl stats (SPEC section 7): what the apps on this host did
 * with LLMs in a window, from oct.db read-only, whether octd runs or not.
 *
 * One pass over the window's llm_traces (store_stats_scan) fills the
 * groups, the error messages and the hours; the text and JSON views
 * (stats_print.c) read the result. Built for up to a few million rows in a
 * window and a few thousand groups: groups are found through a hash,
 * latencies kept per group for the percentiles.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "ctl.h"
#include "stats.h"
#include "store.h"

#define HOUR_MS		(3600 * 1000LL)
#define NBUCKETS	4096	/* hash of groups */

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int
same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static void *
grow(void *v, size_t *cap, size_t n, size_t size)
{
	void	*nv;

	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 16;
	if ((nv = realloc(v, *cap * size)) == NULL) {
		perror("octctl");
		exit(1);
	}
	return nv;
}

/* The group of key (NULL: the rows without one), made on first sight. */
static struct stats_group *
group(struct stats *s, const char *key)
{
	size_t			 b = hash(key) % NBUCKETS, i;
	struct stats_group	*g;

	for (i = s->gbucket[b]; i != 0; i = s->groups[i - 1].next)
		if (same(s->groups[i - 1].key, key))
			return &s->groups[i - 1];
	s->groups = grow(s->groups, &s->gcap, s->ngroups, sizeof(*g));
	g = &s->groups[s->ngroups++];
	memset(g, 0, sizeof(*g));
	if (key != NULL && (g->key = strdup(key)) == NULL) {
		perror("octctl");
		exit(1);
	}
	g->next = s->gbucket[b];
	s->gbucket[b] = s->ngroups;
	return g;
}

/* store_stats_errors' callback: the messages come most frequent first. */
static int
add_message(const char *msg, int64_t count, void *arg)
{
	struct stats		*s = arg;
	struct stats_message	*m;

	s->messages = grow(s->messages, &s->mcap, s->nmessages, sizeof(*m));
	m = &s->messages[s->nmessages++];
	if ((m->message = strdup(msg)) == NULL) {
		perror("octctl");
		exit(1);
	}
	m->count = count;
	return 0;
}

/* store_stats_scan's callback: one trace into its group and hour. */
static int
add_row(const struct stats_row *r, void *arg)
{
	struct stats		*s = arg;
	struct stats_group	*g = group(s, r->key);
	struct stats_hour	*h;

	g->calls++;
	g->errors += r->error != 0;
	if (r->prompt_tokens > 0)
		g->prompt_tokens += r->prompt_tokens;
	if (r->completion_tokens > 0)
		g->completion_tokens += r->completion_tokens;
	if (!isnan(r->cost_usd)) {
		g->cost_usd += r->cost_usd;
		if (r->cost_from_table)
			g->cost_from_table_usd += r->cost_usd;
	}
	if (!isnan(r->latency_ms)) {
		g->lat = grow(g->lat, &g->latcap, g->nlat, sizeof(*g->lat));
		g->lat[g->nlat++] = r->latency_ms;
	}
	if (r->at >= s->hour0 && r->at < s->hour0 + (int64_t)s->nhours *
	    HOUR_MS) {
		h = &s->hours[(r->at - s->hour0) / HOUR_MS];
		h->calls++;
		if (!isnan(r->cost_usd))
			h->cost_usd += r->cost_usd;
	}
	return 0;
}

static int
by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
by_calls(const void *a, const void *b)
{
	const struct stats_group *x = a, *y = b;

	if (x->calls != y->calls)
		return x->calls > y->calls ? -1 : 1;
	if (x->key == NULL || y->key == NULL)	/* "(none)" last */
		return (x->key == NULL) - (y->key == NULL);
	return strcmp(x->key, y->key);
}

/* The nearest-rank percentile p of n sorted values; NAN for none. */
double
stats_percentile(const double *v, size_t n, int p)
{
	size_t	rank;

	if (n == 0)
		return NAN;
	rank = ((size_t)p * n + 99) / 100;
	return v[rank > 0 ? rank - 1 : 0];
}

/* Sort what the views read: latencies, and groups by calls. */
static void
finish(struct stats *s)
{
	size_t	i;

	for (i = 0; i < s->ngroups; i++)
		qsort(s->groups[i].lat, s->groups[i].nlat, sizeof(double),
		    by_double);
	qsort(s->groups, s->ngroups, sizeof(*s->groups), by_calls);
}

/*
 * Read the window [now - since_ms, now] of store st into s, grouped by by
 * (a name store_stats_column() knows). Returns 0, or -1 on a read error.
 */
static int
gather(struct store *st, struct stats *s, int64_t now, int64_t since_ms,
    const char *by)
{
	s->now = now;
	s->since_ms = now - since_ms;
	s->hour0 = s->since_ms - s->since_ms % HOUR_MS;
	s->nhours = (size_t)((now - s->hour0) / HOUR_MS + 1);
	if ((s->hours = calloc(s->nhours, sizeof(*s->hours))) == NULL) {
		perror("octctl");
		exit(1);
	}
	if ((s->gbucket = calloc(NBUCKETS, sizeof(*s->gbucket))) == NULL) {
		perror("octctl");
		exit(1);
	}
	if (store_stats_scan(st, s->since_ms, by, add_row, s) == -1 ||
	    store_stats_errors(st, s->since_ms, STATS_TOP_ERRORS, add_message,
	    s) == -1)
		return -1;
	finish(s);
	return 0;
}

static void
stats_free(struct stats *s)
{
	size_t	i;

	for (i = 0; i < s->ngroups; i++) {
		free(s->groups[i].key);
		free(s->groups[i].lat);
	}
	for (i = 0; i < s->nmessages; i++)
		free(s->messages[i].message);
	free(s->groups);
	free(s->messages);
	free(s->hours);
	free(s->gbucket);
}

/* --since: a number with s, m, h or d (a bare number is refused). */
static int
parse_since(const char *arg, int64_t *ms)
{
	size_t	len = strlen(arg);

	if (len < 2 || arg[len - 1] < 'a' || arg[len - 1] > 'z' ||
	    conf_parse_duration(arg, ms) == -1 || *ms <= 0) {
		fprintf(stderr, "octctl stats: --since %s: want a duration "
		    "such as 30m, 24h or 7d\n", arg);
		return -1;
	}
	return 0;
}

/* The options; exits 2 on a usage error. */
static void
options(int argc, char **argv, int64_t *since, const char **by, int *json)
{
	int	i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			*json = 1;
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
			if (parse_since(argv[++i], since) == -1)
				exit(2);
		} else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
			*by = argv[++i];
			if (store_stats_column(*by) == NULL) {
				fprintf(stderr, "octctl stats: --by %s: want "
				    "model, provider, operation, service or "
				    "session\n", *by);
				exit(2);
			}
		} else
			ctl_usage();
	}
}

int
cmd_stats(struct ctl *c, int argc, char **argv)
{
	struct stats	 s;
	struct store	*st;
	struct timespec	 ts;
	char		 path[4096], err[1024];
	int64_t		 since = 24 * HOUR_MS;
	const char	*by = "model";
	int		 json = 0, rc;

	options(argc, argv, &since, &by, &json);
	snprintf(path, sizeof(path), "%s/oct.db", c->conf.data_dir);
	if ((st = store_open(path, STORE_RO, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "octctl: %s (has octd run with this "
		    "configuration?)\n", err);
		return 1;
	}
	memset(&s, 0, sizeof(s));
	s.by = strcmp(by, "session_id") == 0 ? "session" : by;
	clock_gettime(CLOCK_REALTIME, &ts);
	rc = gather(st, &s, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    since, by);
	if (rc == -1)
		fprintf(stderr, "octctl: %s: %s\n", path, store_error(st));
	store_close(st);
	if (rc == 0) {
		if (json)
			stats_print_json(&s);
		else
			stats_print_text(&s);
	}
	stats_free(&s);
	return rc == 0 ? 0 : 1;
}
