/*
 * hostmetrics.c: every metrics_interval_ms, sample the host (SPEC 4.3)
 * into system_metrics through the same window as client events, without
 * using the room client events have (window_push counted = 0).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include <event2/event.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "util.h"

static struct {
	struct event		*timer;
	unsigned long long	 busy, total;	/* last /proc/stat reading */
	int			 skipping;	/* said so once */
} hm;

/* CPU busy share since the last call, from /proc/stat's first line. */
static int
cpu_utilization(double *out)
{
	unsigned long long	 v[8] = { 0 }, busy, total;
	FILE			*f = fopen("/proc/stat", "r");
	int			 n, ok;

	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -1;
	total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	busy = total - v[3] - v[4];
	ok = hm.total != 0 && total > hm.total;
	if (ok)
		*out = (double)(busy - hm.busy) / (double)(total - hm.total);
	hm.busy = busy;
	hm.total = total;
	return ok ? 0 : -1;
}

static int
memory_used(double *out)
{
	char			 line[256];
	unsigned long long	 total = 0, avail = 0, v;
	FILE			*f = fopen("/proc/meminfo", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "MemTotal: %llu kB", &v) == 1)
			total = v;
		else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1)
			avail = v;
	}
	fclose(f);
	if (total == 0)
		return -1;
	*out = (double)(total - avail) * 1024;
	return 0;
}

static int
load_1m(double *out)
{
	FILE	*f = fopen("/proc/loadavg", "r");
	int	 n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%lf", out);
	fclose(f);
	return n == 1 ? 0 : -1;
}

static int
disk_free(double *out)
{
	struct statvfs sv;

	if (statvfs(ing.conf->data_dir, &sv) == -1)
		return -1;
	*out = (double)sv.f_bavail * (double)sv.f_frsize;
	return 0;
}

/* The host metric name = value, as a system_metrics event. */
static void
put_metric(struct event *e, const char *name, double value, const char *unit,
    const char *kind)
{
	const char	*text[] = { name, unit, kind };
	const char	*names[] = { "name", "unit", "kind" };
	int		 fi, alias;
	size_t		 i;

	event_init(e, EV_METRIC, now_ms());
	for (i = 0; i < 3; i++) {
		fi = event_field(EV_METRIC, names[i], &alias);
		e->v[fi].tag = V_TEXT;
		e->v[fi].s = text[i];
		e->v[fi].len = strlen(text[i]);
	}
	fi = event_field(EV_METRIC, "value", &alias);
	e->v[fi].tag = V_REAL;
	e->v[fi].r = value;
}

static void
emit(const char *name, double value, const char *unit, const char *kind)
{
	struct msgb		b = { 0 };
	struct event		e;
	struct event_error	err;
	char			id[UUID_STR_LEN];

	put_metric(&e, name, value, unit, kind);
	if (event_encode(&e, NULL, id, (size_t)ing.conf->max_text_bytes,
	    window_next_seq(), &b, &err) == -1)
		log_warnx("host metric %s: %s", name, err.msg);
	else if (window_push(&b, 0) == -1) {
		if (!hm.skipping)
			log_warnx("host metrics skipped: writerd has not taken "
			    "the last %d samples", 256);
		hm.skipping = 1;
	} else
		hm.skipping = 0;
	msg_free(&b);
}

static void
sample(evutil_socket_t fd, short ev, void *arg)
{
	double v;

	(void)fd;
	(void)ev;
	(void)arg;
	if (cpu_utilization(&v) == 0)
		emit("host.cpu.utilization", v, "ratio", "gauge");
	if (memory_used(&v) == 0)
		emit("host.memory.used_bytes", v, "bytes", "gauge");
	if (load_1m(&v) == 0)
		emit("host.load.1m", v, "", "gauge");
	if (disk_free(&v) == 0)
		emit("host.disk.free_bytes", v, "bytes", "gauge");
	emit("oct.queue.depth", (double)window_depth(), "events", "gauge");
	emit("oct.dropped.total", (double)stats_dropped_total(), "events",
	    "counter");
}

void
hostmetrics_start(void)
{
	int64_t		ms = ing.conf->metrics_interval_ms;
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };
	double		ignored;

	if (ms == 0)
		return;
	cpu_utilization(&ignored);	/* the first reading is the baseline */
	hm.timer = event_new(ing.base, -1, EV_PERSIST, sample, NULL);
	if (hm.timer == NULL || event_add(hm.timer, &tv) == -1)
		fatalx("host metrics timer");
}

void
hostmetrics_stop(void)
{
	if (hm.timer != NULL)
		event_free(hm.timer);
	hm.timer = NULL;
}
