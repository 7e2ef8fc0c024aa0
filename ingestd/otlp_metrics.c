/*
 * otlp_metrics.c: OTLP gauge, sum and histogram points to system_metrics
 * rows (SPEC section 4.5); with otlp_metrics = genai only gen_ai.* and
 * llm.* metrics, the others counted as ignored.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "otlp.h"

/* A point's attributes as labels: an object of strings. */
static void
set_labels(struct otlp_req *r, struct event_value *ev, Otlp__KeyValue **kv,
    size_t n)
{
	json_t	*o = json_object(), *v;
	char	*text;
	size_t	 i;

	for (i = 0; o != NULL && i < n; i++) {
		if (kv[i]->key == NULL)
			continue;
		v = otlp_any_json(r, kv[i]->value);
		if (json_is_string(v)) {
			json_object_set_new(o, kv[i]->key, v);
			continue;
		}
		text = v != NULL ? json_dumps(v, JSON_COMPACT |
		    JSON_ENCODE_ANY) : NULL;
		json_decref(v);
		json_object_set_new(o, kv[i]->key,
		    json_string(text != NULL ? text : ""));
		free(text);
	}
	if (o == NULL || json_object_size(o) == 0) {
		json_decref(o);
		return;
	}
	ev->tag = V_JSON;
	ev->i = 1;		/* an object of strings */
	ev->s = otlp_dump(r, o);
	ev->len = ev->s != NULL ? strlen(ev->s) : 0;
}

/* The columns every point of metric m shares. */
static struct event *
new_point(struct otlp_req *r, const Otlp__Metric *m, const char *kind,
    uint64_t time_ns)
{
	struct event *e = otlp_new_event(r, EV_METRIC, -1);

	if (e == NULL)
		return NULL;
	otlp_set_text(otlp_val(e, "name"), m->name);
	if (m->unit != NULL && *m->unit != '\0')
		otlp_set_text(otlp_val(e, "unit"), m->unit);
	otlp_set_text(otlp_val(e, "kind"), kind);
	if (time_ns > 0)
		otlp_set_int(otlp_val(e, "ts"), otlp_ns_ms(time_ns));
	return e;
}

/*
 * One system_metrics event per gauge or sum point of m (n points p), of
 * kind ("gauge" or "counter"). Returns 0, or -1 out of memory.
 */
static int
map_numbers(struct otlp_req *r, const struct res_ctx *rc,
    const Otlp__Metric *m, Otlp__NumberDataPoint **p, size_t n,
    const char *kind)
{
	struct event	*e;
	json_t		*attrs;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if ((e = new_point(r, m, kind, p[i]->time_unix_nano)) == NULL)
			return -1;
		if (p[i]->value_case == OTLP__NUMBER_DATA_POINT__VALUE_AS_INT)
			otlp_set_real(otlp_val(e, "value"),
			    (double)p[i]->as_int);
		else if (p[i]->value_case ==
		    OTLP__NUMBER_DATA_POINT__VALUE_AS_DOUBLE)
			otlp_set_real(otlp_val(e, "value"),
			    p[i]->as_double);
		set_labels(r, otlp_val(e, "labels"),
		    p[i]->attributes, p[i]->n_attributes);
		if ((attrs = json_pack("{s:O}", "resource", rc->attrs)) == NULL)
			return -1;
		e->attributes = otlp_dump(r, attrs);
	}
	return 0;
}

/* count, min, max, bounds and bucket_counts of a histogram point. */
static json_t *
hist_json(const Otlp__HistogramDataPoint *p, const json_t *res)
{
	json_t	*o, *b, *c;
	size_t	 i;

	if ((o = json_pack("{s:I,s:O}", "count", (json_int_t)p->count,
	    "resource", res)) == NULL)
		return NULL;
	if (p->has_min)
		json_object_set_new(o, "min", json_real(p->min));
	if (p->has_max)
		json_object_set_new(o, "max", json_real(p->max));
	b = json_array();
	c = json_array();
	for (i = 0; b != NULL && i < p->n_explicit_bounds; i++)
		json_array_append_new(b, json_real(p->explicit_bounds[i]));
	for (i = 0; c != NULL && i < p->n_bucket_counts; i++)
		json_array_append_new(c, json_integer(
		    (json_int_t)p->bucket_counts[i]));
	json_object_set_new(o, "bounds", b);
	json_object_set_new(o, "bucket_counts", c);
	return o;
}

static int
map_histogram(struct otlp_req *r, const struct res_ctx *rc,
    const Otlp__Metric *m)
{
	const Otlp__HistogramDataPoint	*p;
	struct event			*e;
	size_t				 i;

	for (i = 0; m->histogram != NULL && i < m->histogram->n_data_points;
	    i++) {
		p = m->histogram->data_points[i];
		if ((e = new_point(r, m, "gauge", p->time_unix_nano)) == NULL)
			return -1;
		if (p->has_sum)
			otlp_set_real(otlp_val(e, "value"), p->sum);
		set_labels(r, otlp_val(e, "labels"), p->attributes,
		    p->n_attributes);
		e->attributes = otlp_dump(r, hist_json(p, rc->attrs));
	}
	return 0;
}

/* The points of m (none of a kind section 4.5 refuses). */
static size_t
points(const Otlp__Metric *m)
{
	switch (m->data_case) {
	case OTLP__METRIC__DATA_GAUGE:
		return m->gauge ? m->gauge->n_data_points : 0;
	case OTLP__METRIC__DATA_SUM:
		return m->sum ? m->sum->n_data_points : 0;
	case OTLP__METRIC__DATA_HISTOGRAM:
		return m->histogram ? m->histogram->n_data_points : 0;
	case OTLP__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
		return m->exponential_histogram ?
		    m->exponential_histogram->n_data_points : 0;
	case OTLP__METRIC__DATA_SUMMARY:
		return m->summary ? m->summary->n_data_points : 0;
	default:
		return 0;
	}
}

/*
 * The points of metric m, or none when otlp_metrics = genai does not take
 * its name (counted as ignored); exponential histograms and summaries are
 * refused (counted, with why). Returns 0, or -1 out of memory.
 */
static int
map_metric(struct otlp_req *r, const struct res_ctx *rc, const Otlp__Metric *m)
{
	const char *name = m->name != NULL ? m->name : "";

	if (!r->metrics_all && strncmp(name, "gen_ai.", 7) != 0 &&
	    strncmp(name, "llm.", 4) != 0) {
		r->ignored += points(m);
		return 0;
	}
	switch (m->data_case) {
	case OTLP__METRIC__DATA_GAUGE:
		return m->gauge == NULL ? 0 : map_numbers(r, rc, m,
		    m->gauge->data_points, m->gauge->n_data_points, "gauge");
	case OTLP__METRIC__DATA_SUM:
		return m->sum == NULL ? 0 : map_numbers(r, rc, m,
		    m->sum->data_points, m->sum->n_data_points,
		    m->sum->is_monotonic ? "counter" : "gauge");
	case OTLP__METRIC__DATA_HISTOGRAM:
		return map_histogram(r, rc, m);
	default:
		if (points(m) > 0 && r->refused == 0)
			snprintf(r->why, sizeof(r->why), "%s: exponential "
			    "histograms and summaries are not stored", name);
		r->refused += points(m);
		return 0;
	}
}

int
otlp_map_metrics(struct otlp_req *r)
{
	const Otlp__ExportMetricsServiceRequest	*q = (void *)r->msg;
	const Otlp__ResourceMetrics		*rm;
	struct res_ctx				 rc;
	size_t					 i, j, k;
	int					 ret = 0;

	for (i = 0; ret == 0 && i < q->n_resource_metrics; i++) {
		rm = q->resource_metrics[i];
		if (otlp_res_ctx(r, &rc, rm->resource) == -1)
			return -1;
		for (j = 0; ret == 0 && j < rm->n_scope_metrics; j++)
			for (k = 0; ret == 0 &&
			    k < rm->scope_metrics[j]->n_metrics; k++)
				ret = map_metric(r, &rc,
				    rm->scope_metrics[j]->metrics[k]);
		json_decref(rc.attrs);
	}
	return ret;
}

