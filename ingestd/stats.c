/*
 * stats.c: the counters GET /metrics shows (Prometheus text format).
 * Ingest counters are kept here; restart counts are octd's, forwarded by
 * octd (MSG_CTL_STATS) and shown as they came. What is in oct.db is read
 * from it, read-only, at each scrape: rows pending and dead, and the push
 * totals writerd counts as it applies pushd's marks (common/marks.c), so
 * they survive restarts of any process. process_* are ingestd's own, as
 * Prometheus client libraries give them, from /proc/self.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "oct.h"
#include "store.h"

#define MAX_EXTERNAL	16

static const char *const reasons[RJ_NREASONS] = {
	[RJ_BAD_REQUEST] = "bad_request", [RJ_UNAUTHORIZED] = "unauthorized",
	[RJ_FORBIDDEN] = "forbidden", [RJ_NOT_FOUND] = "not_found",
	[RJ_METHOD] = "method_not_allowed", [RJ_TOO_LARGE] = "too_large",
	[RJ_MEDIA_TYPE] = "unsupported_media_type",
	[RJ_QUEUE_FULL] = "queue_full", [RJ_STORAGE_FULL] = "storage_full",
	[RJ_SHUTTING_DOWN] = "shutting_down",
	[RJ_COMMIT_TIMEOUT] = "commit_timeout",
};

static const char *const otlp_signals[] = { "traces", "metrics", "logs" };

static struct {
	uint64_t	 accepted[EV_NKINDS];
	uint64_t	 rejected[RJ_NREASONS];
	uint64_t	 dropped;
	uint64_t	 ignored[3];	/* otlp_signals[] */
	uint64_t	 cost_unknown;
	struct {
		char		*name;
		uint64_t	 value;
	} ext[MAX_EXTERNAL];
	struct store	*ro;		/* read-only, opened on first use */
} st;

void
stats_accepted(enum event_kind k, size_t n)
{
	st.accepted[k] += n;
}

void
stats_rejected(enum reject_reason r)
{
	st.rejected[r]++;
}

void
stats_dropped(size_t n)
{
	st.dropped += n;
}

void
stats_ignored(const char *signal, size_t n)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (strcmp(signal, otlp_signals[i]) == 0)
			st.ignored[i] += n;
}

void
stats_unknown_cost(size_t n)
{
	st.cost_unknown += n;
}

uint64_t
stats_dropped_total(void)
{
	return st.dropped;
}

void
stats_set_external(const char *name, uint64_t value)
{
	int i;

	for (i = 0; i < MAX_EXTERNAL && st.ext[i].name != NULL; i++)
		if (strcmp(st.ext[i].name, name) == 0)
			break;
	if (i == MAX_EXTERNAL)
		return;
	if (st.ext[i].name == NULL && (st.ext[i].name = strdup(name)) == NULL)
		return;
	st.ext[i].value = value;
}

static uint64_t
external(const char *name)
{
	int i;

	for (i = 0; i < MAX_EXTERNAL && st.ext[i].name != NULL; i++)
		if (strcmp(st.ext[i].name, name) == 0)
			return st.ext[i].value;
	return 0;
}

static void
render_rows(struct evbuffer *b)
{
	char	 path[4096], err[512];
	int64_t	 n;
	int	 k;

	snprintf(path, sizeof(path), "%s/oct.db", ing.conf->data_dir);
	/* writerd moved a damaged oct.db aside: read the fresh one */
	if (st.ro != NULL && store_replaced(st.ro)) {
		log_info("%s is another file than the one opened: reading the "
		    "new one", path);
		store_close(st.ro);
		st.ro = NULL;
	}
	if (st.ro == NULL)
		st.ro = store_open(path, STORE_RO, 0, err, sizeof(err));
	evbuffer_add_printf(b, "# HELP oct_rows_pending Rows not yet synced "
	    "to the collector (and not dead).\n# TYPE oct_rows_pending gauge\n");
	for (k = 0; k < EV_NKINDS && st.ro != NULL; k++)
		if (store_pending(st.ro, (enum event_kind)k, &n) == 0)
			evbuffer_add_printf(b, "oct_rows_pending{table=\"%s\"} "
			    "%lld\n", event_defs[k].table, (long long)n);
	evbuffer_add_printf(b, "# HELP oct_rows_dead Rows given up on (shown by "
	    "octctl push-status).\n# TYPE oct_rows_dead gauge\n");
	for (k = 0; k < EV_NKINDS && st.ro != NULL; k++)
		if (store_dead(st.ro, (enum event_kind)k, &n) == 0)
			evbuffer_add_printf(b, "oct_rows_dead{table=\"%s\"} "
			    "%lld\n", event_defs[k].table, (long long)n);
}

static void
render_push(struct evbuffer *b)
{
	int64_t	sent = 0, failed = 0, last = 0;

	if (st.ro != NULL)
		(void)store_push_totals(st.ro, &sent, &failed, &last);
	evbuffer_add_printf(b, "# HELP oct_push_sent_total Events delivered to "
	    "the collector.\n# TYPE oct_push_sent_total counter\n"
	    "oct_push_sent_total %lld\n", (long long)sent);
	evbuffer_add_printf(b, "# HELP oct_push_failed_total Push requests "
	    "that failed (timeouts, connection errors, 408, 429, 5xx).\n"
	    "# TYPE oct_push_failed_total counter\n"
	    "oct_push_failed_total %lld\n", (long long)failed);
	evbuffer_add_printf(b, "# HELP oct_push_last_success_timestamp_seconds "
	    "When a push was last accepted by the collector (0: never).\n"
	    "# TYPE oct_push_last_success_timestamp_seconds gauge\n"
	    "oct_push_last_success_timestamp_seconds %lld.%03lld\n",
	    (long long)(last / 1000), (long long)(last % 1000));
}

/* Boot time, Unix seconds, from /proc/stat's btime; 0 if unknown. */
static long long
boot_time(void)
{
	char		 line[256];
	long long	 btime = 0;
	FILE		*f = fopen("/proc/stat", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return btime;
}

static long
open_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	long		 n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;		/* the one opendir holds */
}

/* The standard process_* metrics of a Prometheus client, for ingestd. */
static void
render_process(struct evbuffer *b)
{
	char			 buf[1024], *p;
	unsigned long		 utime, stime, vsize;
	unsigned long long	 start;
	long			 rss, tck = sysconf(_SC_CLK_TCK);
	long			 page = sysconf(_SC_PAGESIZE);
	struct rlimit		 rl;
	FILE			*f;
	int			 ok = 0;

	if ((f = fopen("/proc/self/stat", "r")) != NULL) {
		/* fields after the command, which may hold anything: from ')' */
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL && sscanf(p + 2,
		    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
		    "%*d %*d %*d %*d %llu %lu %ld", &utime, &stime, &start, &vsize,
		    &rss) == 5)
			ok = 1;
		fclose(f);
	}
	if (ok && tck > 0) {
		evbuffer_add_printf(b, "# HELP process_cpu_seconds_total Total "
		    "user and system CPU time spent in seconds.\n# TYPE "
		    "process_cpu_seconds_total counter\n"
		    "process_cpu_seconds_total %.2f\n",
		    (double)(utime + stime) / (double)tck);
		evbuffer_add_printf(b, "# HELP process_start_time_seconds Start "
		    "time of the process since unix epoch in seconds.\n# TYPE "
		    "process_start_time_seconds gauge\n"
		    "process_start_time_seconds %.2f\n", (double)boot_time() +
		    (double)start / (double)tck);
		evbuffer_add_printf(b, "# HELP process_virtual_memory_bytes "
		    "Virtual memory size in bytes.\n# TYPE "
		    "process_virtual_memory_bytes gauge\n"
		    "process_virtual_memory_bytes %lu\n", vsize);
		evbuffer_add_printf(b, "# HELP process_resident_memory_bytes "
		    "Resident memory size in bytes.\n# TYPE "
		    "process_resident_memory_bytes gauge\n"
		    "process_resident_memory_bytes %lld\n",
		    (long long)rss * page);
	}
	evbuffer_add_printf(b, "# HELP process_open_fds Number of open file "
	    "descriptors.\n# TYPE process_open_fds gauge\n"
	    "process_open_fds %ld\n", open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		evbuffer_add_printf(b, "# HELP process_max_fds Maximum number of "
		    "open file descriptors.\n# TYPE process_max_fds gauge\n"
		    "process_max_fds %lld\n", rl.rlim_cur == RLIM_INFINITY ?
		    -1LL : (long long)rl.rlim_cur);
}

void
stats_render(struct evbuffer *b)
{
	static const char *const workers[] = { "ingestd", "writerd", "pushd" };
	char	name[64];
	int	i;

	evbuffer_add_printf(b, "# HELP oct_build_info The version of oct "
	    "running.\n# TYPE oct_build_info gauge\n"
	    "oct_build_info{version=\"%s\"} 1\n", OCT_VERSION);
	evbuffer_add_printf(b, "# HELP oct_ingest_accepted_total Events "
	    "accepted.\n# TYPE oct_ingest_accepted_total counter\n");
	for (i = 0; i < EV_NKINDS; i++)
		evbuffer_add_printf(b, "oct_ingest_accepted_total{type=\"%s\"} "
		    "%llu\n", event_defs[i].type,
		    (unsigned long long)st.accepted[i]);
	evbuffer_add_printf(b, "# HELP oct_ingest_rejected_total Requests "
	    "refused.\n# TYPE oct_ingest_rejected_total counter\n");
	for (i = 0; i < RJ_NREASONS; i++)
		evbuffer_add_printf(b, "oct_ingest_rejected_total{reason=\"%s\"} "
		    "%llu\n", reasons[i], (unsigned long long)st.rejected[i]);
	evbuffer_add_printf(b, "# HELP oct_ingest_dropped_total Events refused "
	    "with 503.\n# TYPE oct_ingest_dropped_total counter\n"
	    "oct_ingest_dropped_total %llu\n", (unsigned long long)st.dropped);
	evbuffer_add_printf(b, "# HELP oct_otlp_ignored_total OTLP items "
	    "neither stored nor refused (spans that are no LLM call, other "
	    "metrics, log records below ERROR).\n"
	    "# TYPE oct_otlp_ignored_total counter\n");
	for (i = 0; i < 3; i++)
		evbuffer_add_printf(b, "oct_otlp_ignored_total{signal=\"%s\"} "
		    "%llu\n", otlp_signals[i],
		    (unsigned long long)st.ignored[i]);
	evbuffer_add_printf(b, "# HELP oct_cost_unknown_model_total LLM "
	    "traces without cost_usd whose model the price table does not "
	    "know.\n# TYPE oct_cost_unknown_model_total counter\n"
	    "oct_cost_unknown_model_total %llu\n",
	    (unsigned long long)st.cost_unknown);
	evbuffer_add_printf(b, "# HELP oct_queue_depth Events accepted, not "
	    "yet committed.\n# TYPE oct_queue_depth gauge\noct_queue_depth "
	    "%zu\n", window_depth());
	render_rows(b);
	render_push(b);
	evbuffer_add_printf(b, "# HELP oct_worker_restarts_total Unexpected "
	    "worker restarts.\n# TYPE oct_worker_restarts_total counter\n");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "restarts_%s", workers[i]);
		evbuffer_add_printf(b, "oct_worker_restarts_total{worker=\"%s\"} "
		    "%llu\n", workers[i], (unsigned long long)external(name));
	}
	render_process(b);
}

void
stats_free(void)
{
	int i;

	for (i = 0; i < MAX_EXTERNAL; i++)
		free(st.ext[i].name);
	store_close(st.ro);
}
