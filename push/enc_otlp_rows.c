/*
 * enc_otlp_rows.c: a row as its OTLP message (SPEC section 6.1): an
 * llm_traces row as a span, an error_events row as a log record, a
 * system_metrics row as a metric of one point, each in a Resource and a
 * scope of its own (enc_otlp.h; enc_otlp.c packs them).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "enc_otlp.h"

/* This host's name, decoded once from agent_info.host's JSON string. */
static const char *
host_name(const struct agent_info *ag)
{
	static char	 host[256];
	json_t		*h;

	if (*host == '\0') {
		h = json_loads(ag->host, JSON_DECODE_ANY, NULL);
		snprintf(host, sizeof(host), "%s", json_is_string(h) ?
		    json_string_value(h) : "unknown");
		json_decref(h);
	}
	return host;
}

/*
 * The Resource of a row (SPEC section 6.1): its own resource's attributes
 * if it has one; service.name from it, else the row's service, else oct;
 * host.name, oct.agent.id; service.version of oct for rows without one.
 */
static Otlp__Resource *
resource(struct arena *a, const struct agent_info *ag,
    const struct push_row *r, json_t *attrs)
{
	Otlp__Resource	*res;
	json_t		*own = json_object_get(attrs, "resource");
	struct kvs	 l = { 0 };
	const char	*svc;
	size_t		 len;
	size_t		 i;
	int		 has_name = 0, has_host = 0;

	if ((res = oe_alloc(a, sizeof(*res))) == NULL)
		return NULL;
	otlp__resource__init(res);
	if (json_is_object(own))
		oe_kv_object(a, &l, own);
	for (i = 0; i < l.n; i++) {
		has_name |= strcmp(l.v[i]->key, "service.name") == 0;
		has_host |= strcmp(l.v[i]->key, "host.name") == 0;
	}
	if (!has_name) {
		if ((svc = oe_txt(r, "service", &len)) != NULL)
			oe_kv_str(a, &l, "service.name", svc, len);
		else
			oe_kv_str(a, &l, "service.name", "oct", 3);
	}
	if (!has_host)
		oe_kv_str(a, &l, "host.name", host_name(ag),
		    strlen(host_name(ag)));
	oe_kv_str(a, &l, "oct.agent.id", ag->id, strlen(ag->id));
	if (!json_is_object(own))
		oe_kv_str(a, &l, "service.version", ag->version,
		    strlen(ag->version));
	res->attributes = l.v;
	res->n_attributes = l.n;
	return res;
}

/* The scope: the app's instrumentation when it came over OTLP, else oct. */
static Otlp__InstrumentationScope *
scope(struct arena *a, const struct agent_info *ag, json_t *otel)
{
	Otlp__InstrumentationScope	*s;
	json_t				*js = json_object_get(otel, "scope");
	const char			*name, *ver;

	if ((s = oe_alloc(a, sizeof(*s))) == NULL)
		return NULL;
	otlp__instrumentation_scope__init(s);
	name = json_string_value(json_object_get(js, "name"));
	ver = json_string_value(json_object_get(js, "version"));
	if (name == NULL) {
		name = "oct";
		ver = ag->version;
	}
	s->name = oe_strdup(a, name, strlen(name));
	if (ver != NULL)
		s->version = oe_strdup(a, ver, strlen(ver));
	return s;
}

static const char *const skip_plain[] = { "otel", "resource", NULL };

/* An llm_traces row as a span (SPEC section 6.1). */
static Otlp__Span *
span(struct arena *a, const struct push_row *r, json_t *attrs)
{
	Otlp__Span	*sp;
	Otlp__SpanStatus *st;
	struct kvs	 l = { 0 };
	const char	*op, *model, *s;
	char		*name;
	size_t		 oplen = 0, mlen = 0, len;
	int64_t		 start, lat;
	int		 has_start, has_lat;

	if ((sp = oe_alloc(a, sizeof(*sp))) == NULL)
		return NULL;
	otlp__span__init(sp);
	op = oe_txt(r, "operation", &oplen);
	model = oe_txt(r, "model", &mlen);
	if ((name = oe_alloc(a, oplen + mlen + 2)) == NULL)
		return NULL;
	snprintf(name, oplen + mlen + 2, "%.*s%s%.*s", (int)oplen,
	    op ? op : "", op && model ? " " : "", (int)mlen,
	    model ? model : "");
	sp->name = name;
	sp->has_kind = 1;
	sp->kind = 3;				/* SPAN_KIND_CLIENT */
	oe_row_ids(a, json_object_get(attrs, "otel"), r->trace_id,
	    &sp->trace_id, &sp->span_id, &sp->parent_span_id);
	sp->has_trace_id = sp->has_span_id = 1;
	sp->has_parent_span_id = sp->parent_span_id.len > 0;
	start = oe_int_field(r, "started_at", &has_start);
	lat = oe_int_field(r, "latency_ms", &has_lat);
	if (!has_start)
		start = r->received_at - lat;
	sp->has_start_time_unix_nano = sp->has_end_time_unix_nano = 1;
	sp->start_time_unix_nano = (uint64_t)start * NS;
	sp->end_time_unix_nano = has_lat ? (uint64_t)start * NS +
	    (uint64_t)(oe_real_field(r, "latency_ms") * NS) :
	    (uint64_t)(has_start ? start : r->received_at) * NS;
	oe_kv_field(a, &l, "gen_ai.operation.name", r, "operation");
	oe_kv_field(a, &l, "gen_ai.request.model", r, "model");
	oe_kv_field(a, &l, "gen_ai.provider.name", r, "provider");
	oe_kv_field(a, &l, "gen_ai.usage.input_tokens", r, "prompt_tokens");
	oe_kv_field(a, &l, "gen_ai.usage.output_tokens", r,
	    "completion_tokens");
	oe_kv_field(a, &l, "gen_ai.input.messages", r, "input");
	oe_kv_field(a, &l, "gen_ai.output.messages", r, "output");
	oe_kv_str(a, &l, "oct.trace_id", r->trace_id, strlen(r->trace_id));
	if (oe_val(r, "cost_usd")->tag != V_NULL)
		oe_kv_double(a, &l, "oct.cost_usd",
		    oe_real_field(r, "cost_usd"));
	oe_kv_field(a, &l, "session.id", r, "session_id");
	oe_kv_field(a, &l, "user.id", r, "user_id");
	oe_kv_row_attrs(a, &l, attrs, skip_plain);
	sp->attributes = l.v;
	sp->n_attributes = l.n;
	if ((s = oe_txt(r, "status", &len)) != NULL && len == 5 &&
	    memcmp(s, "error", 5) == 0 &&
	    (st = oe_alloc(a, sizeof(*st))) != NULL) {
		otlp__span_status__init(st);
		st->has_code = 1;
		st->code = 2;			/* STATUS_CODE_ERROR */
		if ((s = oe_txt(r, "error_message", &len)) != NULL)
			st->message = oe_strdup(a, s, len);
		sp->status = st;
	}
	return sp;
}

/* SeverityNumber of a level: DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21. */
static int32_t
severity(const char *level)
{
	static const char *const names[] = { "debug", "info", "warning",
	    "error", "fatal" };
	size_t i;

	for (i = 0; level != NULL && i < 5; i++)
		if (strcmp(level, names[i]) == 0)
			return (int32_t)(5 + 4 * i);
	return 17;
}

/* An error_events row as a log record (SPEC section 6.1). */
static Otlp__LogRecord *
log_record(struct arena *a, const struct push_row *r, json_t *attrs)
{
	Otlp__LogRecord	*lr;
	Otlp__AnyValue	*body;
	struct kvs	 l = { 0 };
	const char	*s, *level;
	size_t		 len;
	int64_t		 t;
	int		 has_t;

	if ((lr = oe_alloc(a, sizeof(*lr))) == NULL ||
	    (body = oe_alloc(a, sizeof(*body))) == NULL)
		return NULL;
	otlp__log_record__init(lr);
	otlp__any_value__init(body);
	t = oe_int_field(r, "occurred_at", &has_t);
	lr->has_time_unix_nano = lr->has_observed_time_unix_nano = 1;
	lr->time_unix_nano = (uint64_t)(has_t ? t : r->received_at) * NS;
	lr->observed_time_unix_nano = (uint64_t)r->received_at * NS;
	level = oe_txt(r, "level", &len);
	level = level != NULL ? oe_strdup(a, level, len) : "error";
	lr->has_severity_number = 1;
	lr->severity_number = severity(level);
	lr->severity_text = (char *)level;
	if ((s = oe_txt(r, "message", &len)) != NULL) {
		body->value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		body->string_value = oe_strdup(a, s, len);
		lr->body = body;
	}
	oe_kv_field(a, &l, "exception.type", r, "type");
	oe_kv_field(a, &l, "exception.message", r, "message");
	oe_kv_field(a, &l, "exception.stacktrace", r, "stack");
	oe_kv_str(a, &l, "oct.trace_id", r->trace_id, strlen(r->trace_id));
	oe_kv_field(a, &l, "oct.fingerprint", r, "fingerprint");
	oe_kv_row_attrs(a, &l, attrs, skip_plain);
	lr->attributes = l.v;
	lr->n_attributes = l.n;
	/* linked to the trace of trace_ref (its ids as a span of oct's) */
	s = oe_txt(r, "trace_ref", &len);
	oe_row_ids(a, json_object_get(attrs, "otel"), s != NULL ?
	    oe_strdup(a, s, len) : NULL, &lr->trace_id, &lr->span_id, NULL);
	lr->has_trace_id = lr->trace_id.len > 0;
	lr->has_span_id = lr->span_id.len > 0;
	return lr;
}

/* The labels of a metric row as point attributes. */
static void
labels(struct arena *a, const struct push_row *r, Otlp__KeyValue ***v,
    size_t *n)
{
	struct kvs	 l = { 0 };
	const char	*s;
	json_t		*j;

	if ((s = oe_txt(r, "labels", NULL)) != NULL &&
	    (j = json_loads(s, 0, NULL)) != NULL) {
		oe_kv_object(a, &l, j);
		json_decref(j);
	}
	*v = l.v;
	*n = l.n;
}

/* A histogram point from a row that came in as one (its attributes). */
static Otlp__Histogram *
histogram(struct arena *a, const struct push_row *r, json_t *attrs,
    uint64_t t)
{
	Otlp__Histogram		*h;
	Otlp__HistogramDataPoint *p;
	json_t			*b = json_object_get(attrs, "bounds");
	json_t			*c = json_object_get(attrs, "bucket_counts");
	size_t			 i;

	if ((h = oe_alloc(a, sizeof(*h))) == NULL ||
	    (p = oe_alloc(a, sizeof(*p))) == NULL)
		return NULL;
	/* init first: it sets the arrays below to NULL */
	otlp__histogram__init(h);
	otlp__histogram_data_point__init(p);
	if ((h->data_points = oe_alloc(a, sizeof(*h->data_points))) == NULL ||
	    (p->explicit_bounds = oe_alloc(a, (json_array_size(b) + 1) *
	    sizeof(double))) == NULL ||
	    (p->bucket_counts = oe_alloc(a, (json_array_size(c) + 1) *
	    sizeof(uint64_t))) == NULL)
		return NULL;
	h->data_points[0] = p;
	h->n_data_points = 1;
	h->has_aggregation_temporality = 1;
	h->aggregation_temporality = 2;		/* CUMULATIVE */
	p->has_time_unix_nano = 1;
	p->time_unix_nano = t;
	p->has_count = 1;
	p->count = (uint64_t)json_integer_value(json_object_get(attrs,
	    "count"));
	p->has_sum = oe_val(r, "value")->tag != V_NULL;
	p->sum = oe_real_field(r, "value");
	if (json_is_number(json_object_get(attrs, "min"))) {
		p->has_min = 1;
		p->min = json_number_value(json_object_get(attrs, "min"));
	}
	if (json_is_number(json_object_get(attrs, "max"))) {
		p->has_max = 1;
		p->max = json_number_value(json_object_get(attrs, "max"));
	}
	for (i = 0; i < json_array_size(b); i++)
		p->explicit_bounds[p->n_explicit_bounds++] =
		    json_number_value(json_array_get(b, i));
	for (i = 0; i < json_array_size(c); i++)
		p->bucket_counts[p->n_bucket_counts++] =
		    (uint64_t)json_integer_value(json_array_get(c, i));
	labels(a, r, &p->attributes, &p->n_attributes);
	return h;
}

/*
 * A system_metrics row as a metric of one point: a histogram for a row
 * that came in as one, a monotonic cumulative sum for a counter, else a
 * gauge (SPEC section 6.1).
 */
static Otlp__Metric *
metric(struct arena *a, const struct push_row *r, json_t *attrs)
{
	Otlp__Metric		*m;
	Otlp__NumberDataPoint	*p;
	Otlp__NumberDataPoint	**pp;
	const char		*s;
	size_t			 len;
	int64_t			 ts;
	uint64_t		 t;
	int			 has_ts;

	if ((m = oe_alloc(a, sizeof(*m))) == NULL)
		return NULL;
	otlp__metric__init(m);
	if ((s = oe_txt(r, "name", &len)) != NULL)
		m->name = oe_strdup(a, s, len);
	if ((s = oe_txt(r, "unit", &len)) != NULL)
		m->unit = oe_strdup(a, s, len);
	ts = oe_int_field(r, "ts", &has_ts);
	t = (uint64_t)(has_ts ? ts : r->received_at) * NS;
	if (json_is_array(json_object_get(attrs, "bucket_counts"))) {
		m->data_case = OTLP__METRIC__DATA_HISTOGRAM;
		m->histogram = histogram(a, r, attrs, t);
		return m->histogram != NULL ? m : NULL;
	}
	if ((p = oe_alloc(a, sizeof(*p))) == NULL ||
	    (pp = oe_alloc(a, sizeof(*pp))) == NULL)
		return NULL;
	otlp__number_data_point__init(p);
	*pp = p;
	p->has_time_unix_nano = 1;
	p->time_unix_nano = t;
	p->value_case = OTLP__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
	p->as_double = oe_real_field(r, "value");
	labels(a, r, &p->attributes, &p->n_attributes);
	s = oe_txt(r, "kind", &len);
	if (s != NULL && len == 7 && memcmp(s, "counter", 7) == 0) {
		if ((m->sum = oe_alloc(a, sizeof(*m->sum))) == NULL)
			return NULL;
		otlp__sum__init(m->sum);
		m->data_case = OTLP__METRIC__DATA_SUM;
		m->sum->data_points = pp;
		m->sum->n_data_points = 1;
		m->sum->has_aggregation_temporality = 1;
		m->sum->aggregation_temporality = 2;	/* CUMULATIVE */
		m->sum->has_is_monotonic = 1;
		m->sum->is_monotonic = 1;
	} else {
		if ((m->gauge = oe_alloc(a, sizeof(*m->gauge))) == NULL)
			return NULL;
		otlp__gauge__init(m->gauge);
		m->data_case = OTLP__METRIC__DATA_GAUGE;
		m->gauge->data_points = pp;
		m->gauge->n_data_points = 1;
	}
	return m;
}

/* A row's Resource{Spans,Logs,Metrics}, its messages in a. */
const ProtobufCMessage *
oe_row_message(struct arena *a, const struct agent_info *ag,
    const struct push_row *r)
{
	json_t			*attrs = NULL, *otel;
	const ProtobufCMessage	*msg = NULL;
	Otlp__ResourceSpans	*rs;
	Otlp__ScopeSpans	*ss;
	Otlp__ResourceLogs	*rl;
	Otlp__ScopeLogs		*sl;
	Otlp__ResourceMetrics	*rm;
	Otlp__ScopeMetrics	*sm;
	void			*one;

	if (r->attributes != NULL)
		attrs = json_loads(r->attributes, 0, NULL);
	otel = json_object_get(attrs, "otel");
	switch (r->kind) {
	case EV_TRACE:
		if ((rs = oe_alloc(a, sizeof(*rs))) == NULL ||
		    (ss = oe_alloc(a, sizeof(*ss))) == NULL ||
		    (one = span(a, r, attrs)) == NULL)
			break;
		otlp__resource_spans__init(rs);
		otlp__scope_spans__init(ss);
		rs->scope_spans = oe_alloc(a, sizeof(ss));
		ss->spans = oe_alloc(a, sizeof(void *));
		if (rs->scope_spans == NULL || ss->spans == NULL)
			break;
		rs->resource = resource(a, ag, r, attrs);
		rs->scope_spans[0] = ss;
		rs->n_scope_spans = 1;
		ss->scope = scope(a, ag, otel);
		ss->spans[0] = one;
		ss->n_spans = 1;
		msg = &rs->base;
		break;
	case EV_ERROR:
		if ((rl = oe_alloc(a, sizeof(*rl))) == NULL ||
		    (sl = oe_alloc(a, sizeof(*sl))) == NULL ||
		    (one = log_record(a, r, attrs)) == NULL)
			break;
		otlp__resource_logs__init(rl);
		otlp__scope_logs__init(sl);
		rl->scope_logs = oe_alloc(a, sizeof(sl));
		sl->log_records = oe_alloc(a, sizeof(void *));
		if (rl->scope_logs == NULL || sl->log_records == NULL)
			break;
		rl->resource = resource(a, ag, r, attrs);
		rl->scope_logs[0] = sl;
		rl->n_scope_logs = 1;
		sl->scope = scope(a, ag, otel);
		sl->log_records[0] = one;
		sl->n_log_records = 1;
		msg = &rl->base;
		break;
	case EV_METRIC:
		if ((rm = oe_alloc(a, sizeof(*rm))) == NULL ||
		    (sm = oe_alloc(a, sizeof(*sm))) == NULL ||
		    (one = metric(a, r, attrs)) == NULL)
			break;
		otlp__resource_metrics__init(rm);
		otlp__scope_metrics__init(sm);
		rm->scope_metrics = oe_alloc(a, sizeof(sm));
		sm->metrics = oe_alloc(a, sizeof(void *));
		if (rm->scope_metrics == NULL || sm->metrics == NULL)
			break;
		rm->resource = resource(a, ag, r, attrs);
		rm->scope_metrics[0] = sm;
		rm->n_scope_metrics = 1;
		sm->scope = scope(a, ag, otel);
		sm->metrics[0] = one;
		sm->n_metrics = 1;
		msg = &rm->base;
		break;
	default:
		break;
	}
	json_decref(attrs);
	return msg;
}
