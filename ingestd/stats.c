/*
 * stats.c: the counters GET /metrics shows (Prometheus text format).
 * Ingest counters are kept here; restarts and push totals are octd's and
 * pushd's, forwarded by octd (MSG_CTL_STATS) and shown as they came.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
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

static struct {
	uint64_t	 accepted[EV_NKINDS];
	uint64_t	 rejected[RJ_NREASONS];
	uint64_t	 dropped;
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
render_pending(struct evbuffer *b)
{
	char	 path[4096], err[512];
	int64_t	 n;
	int	 k;

	if (st.ro == NULL) {
		snprintf(path, sizeof(path), "%s/oct.db", ing.conf->data_dir);
		st.ro = store_open(path, STORE_RO, 0, err, sizeof(err));
	}
	evbuffer_add_printf(b, "# HELP oct_rows_pending Rows not yet synced "
	    "to the collector (and not dead).\n# TYPE oct_rows_pending gauge\n");
	for (k = 0; k < EV_NKINDS && st.ro != NULL; k++)
		if (store_pending(st.ro, (enum event_kind)k, &n) == 0)
			evbuffer_add_printf(b, "oct_rows_pending{table=\"%s\"} "
			    "%lld\n", event_defs[k].table, (long long)n);
}

void
stats_render(struct evbuffer *b)
{
	static const char *const workers[] = { "ingestd", "writerd", "pushd" };
	char	name[64];
	int	i;

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
	evbuffer_add_printf(b, "# HELP oct_queue_depth Events accepted, not "
	    "yet committed.\n# TYPE oct_queue_depth gauge\noct_queue_depth "
	    "%zu\n", window_depth());
	render_pending(b);
	evbuffer_add_printf(b, "# HELP oct_push_sent_total Events delivered to "
	    "the collector.\n# TYPE oct_push_sent_total counter\n"
	    "oct_push_sent_total %llu\n", (unsigned long long)
	    external("push_sent"));
	evbuffer_add_printf(b, "# HELP oct_push_failed_total Push requests "
	    "that failed.\n# TYPE oct_push_failed_total counter\n"
	    "oct_push_failed_total %llu\n", (unsigned long long)
	    external("push_failed"));
	evbuffer_add_printf(b, "# HELP oct_worker_restarts_total Unexpected "
	    "worker restarts.\n# TYPE oct_worker_restarts_total counter\n");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "restarts_%s", workers[i]);
		evbuffer_add_printf(b, "oct_worker_restarts_total{worker=\"%s\"} "
		    "%llu\n", workers[i], (unsigned long long)external(name));
	}
}

void
stats_free(void)
{
	int i;

	for (i = 0; i < MAX_EXTERNAL; i++)
		free(st.ext[i].name);
	store_close(st.ro);
}
