/*
 * pushstatus.c: octctl push-status, read-only on oct.db: what is synced,
 * pending, retrying and dead, how the retries are spread, the worst rows,
 * and the last success and collector error. Works with octd stopped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl.h"
#include "event.h"
#include "oct.h"
#include "store.h"

#define WORST	10
#define BAR	40

static json_t *
tables(struct store *st, int64_t now)
{
	struct table_stats	 t;
	json_t			*o = json_object();
	int			 k;

	for (k = 0; k < EV_NKINDS; k++) {
		if (store_table_stats(st, (enum event_kind)k, &t) == -1)
			continue;
		json_object_set_new(o, event_defs[k].table, json_pack(
		    "{s:I,s:I,s:I,s:I,s:I,s:o}", "total", (json_int_t)t.total,
		    "synced", (json_int_t)t.synced, "pending",
		    (json_int_t)t.pending, "retrying", (json_int_t)t.retrying,
		    "dead", (json_int_t)t.dead, "oldest_pending_age_s",
		    t.oldest_pending_at ? json_integer((now - t.oldest_pending_at)
		    / 1000) : json_null()));
	}
	return o;
}

static json_t *
gather(struct store *st)
{
	int64_t			 pairs[64][2], ok_at, err_at, now = now_ms();
	struct worst_row	 w[WORST];
	char			 err[512], key[32];
	json_t			*dist = json_object(), *worst = json_array();
	int			 i, n;

	n = store_retry_distribution(st, pairs, 64);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%lld", (long long)pairs[i][0]);
		json_object_set_new(dist, key, json_integer(pairs[i][1]));
	}
	n = store_worst(st, w, WORST);
	for (i = 0; i < n; i++)
		json_array_append_new(worst, json_pack("{s:s,s:s,s:I,s:s}",
		    "table", event_defs[w[i].kind].table, "trace_id",
		    w[i].trace_id, "attempts", (json_int_t)w[i].attempts,
		    "last_error", w[i].last_error));
	store_push_state(st, &ok_at, err, sizeof(err), &err_at);
	return json_pack("{s:o,s:o,s:o,s:o,s:o}", "tables", tables(st, now),
	    "retry_distribution", dist, "worst", worst, "last_success_at",
	    ok_at ? json_integer(ok_at) : json_null(), "last_error",
	    *err ? json_string(err) : json_null());
}

static void
when(json_t *ms, char *out, size_t len)
{
	struct tm	tm;
	time_t		t;

	if (!json_is_integer(ms)) {
		snprintf(out, len, "never");
		return;
	}
	t = (time_t)(json_integer_value(ms) / 1000);
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
print_text(json_t *o)
{
	json_t		*t, *x;
	const char	*name;
	char		 at[64];
	json_int_t	 most = 1;
	size_t		 i;

	printf("%-15s %9s %9s %9s %9s %9s %s\n", "TABLE", "TOTAL", "SYNCED",
	    "PENDING", "RETRYING", "DEAD", "OLDEST PENDING");
	json_object_foreach(json_object_get(o, "tables"), name, t) {
		x = json_object_get(t, "oldest_pending_age_s");
		printf("%-15s %9lld %9lld %9lld %9lld %9lld ", name,
		    json_integer_value(json_object_get(t, "total")),
		    json_integer_value(json_object_get(t, "synced")),
		    json_integer_value(json_object_get(t, "pending")),
		    json_integer_value(json_object_get(t, "retrying")),
		    json_integer_value(json_object_get(t, "dead")));
		if (json_is_integer(x))
			printf("%llds ago\n", json_integer_value(x));
		else
			printf("-\n");
	}
	printf("\nunsynced rows by push attempts:\n");
	json_object_foreach(json_object_get(o, "retry_distribution"), name, x)
		if (json_integer_value(x) > most)
			most = json_integer_value(x);
	json_object_foreach(json_object_get(o, "retry_distribution"), name, x) {
		int bar = (int)(json_integer_value(x) * BAR / most);

		printf("  %4s  %-*.*s %lld\n", name, BAR, bar > 0 ? bar : 1,
		    "########################################",
		    json_integer_value(x));
	}
	if (json_array_size(json_object_get(o, "worst")) > 0)
		printf("\nworst rows:\n");
	json_array_foreach(json_object_get(o, "worst"), i, x)
		printf("  %-14s %s  %lld attempts  %s\n", json_string_value(
		    json_object_get(x, "table")), json_string_value(
		    json_object_get(x, "trace_id")), json_integer_value(
		    json_object_get(x, "attempts")), json_string_value(
		    json_object_get(x, "last_error")));
	when(json_object_get(o, "last_success_at"), at, sizeof(at));
	printf("\nlast successful push: %s\nlast collector error: %s\n", at,
	    json_is_string(json_object_get(o, "last_error")) ?
	    json_string_value(json_object_get(o, "last_error")) : "none");
}

int
cmd_push_status(struct ctl *c, int argc, char **argv)
{
	struct store	*st;
	char		 path[4096], err[1024], *text;
	json_t		*o;
	int		 json;

	if (ctl_json_flag(argc, argv, &json) == -1)
		ctl_usage();
	snprintf(path, sizeof(path), "%s/oct.db", c->conf.data_dir);
	if ((st = store_open(path, STORE_RO, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "octctl: %s (has octd run with this "
		    "configuration?)\n", err);
		return 1;
	}
	o = gather(st);
	store_close(st);
	if (json) {
		text = json_dumps(o, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
	} else
		print_text(o);
	json_decref(o);
	return 0;
}
