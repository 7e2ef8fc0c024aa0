/*
 * enc_otlp.c: OTLP/HTTP protobuf, the push encoder of push_format = otlp
 * (SPEC section 6.1; push.h).
 *
 * Each request holds rows of one table, POSTed to push_url + /v1/traces,
 * /v1/logs or /v1/metrics as an Export*ServiceRequest. Every row is one
 * Resource{Spans,Logs,Metrics} of its own (its resource, one scope, one
 * span, record or metric): a request's body is then the concatenation of
 * its rows' field-1 entries, so a body is exactly the sum of its rows'
 * sizes, as split.c wants, and a row's resource is its own.
 *
 * The messages are built with protobuf-c (proto/otlp.proto) in an arena
 * freed once the row is packed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event.h"
#include "engine.h"
#include "otlp.pb-c.h"

#define NS	1000000ULL		/* ns in a ms */

/* Allocations of one row's messages, freed together. */
struct arena {
	void	**p;
	size_t	  n, cap;
};

static void *
a_alloc(struct arena *a, size_t len)
{
	void	**np, *m;

	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		if ((np = reallocarray(a->p, a->cap, sizeof(*np))) == NULL)
			return NULL;
		a->p = np;
	}
	if ((m = calloc(1, len)) == NULL)
		return NULL;
	return a->p[a->n++] = m;
}

static char *
a_strdup(struct arena *a, const char *s, size_t len)
{
	char *d = a_alloc(a, len + 1);

	if (d != NULL)
		memcpy(d, s, len);
	return d;
}

static void
a_free(struct arena *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
	memset(a, 0, sizeof(*a));
}

/* A growing list of KeyValues. */
struct kvs {
	Otlp__KeyValue	**v;
	size_t		  n, cap;
};

/* A new KeyValue key in l; NULL: no memory (the arena is freed anyway). */
static Otlp__AnyValue *
kv_add(struct arena *a, struct kvs *l, const char *key)
{
	Otlp__KeyValue	 *kv, **nv;
	Otlp__AnyValue	 *v;
	size_t		  i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->key, key) == 0)
			return l->v[i]->value;	/* a later one wins */
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((nv = a_alloc(a, l->cap * sizeof(*nv))) == NULL)
			return NULL;
		if (l->n > 0)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
	}
	if ((kv = a_alloc(a, sizeof(*kv))) == NULL ||
	    (v = a_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	otlp__key_value__init(kv);
	if ((kv->key = a_strdup(a, key, strlen(key))) == NULL)
		return NULL;
	otlp__any_value__init(v);
	kv->value = v;
	l->v[l->n++] = kv;
	return v;
}

static void
kv_str(struct arena *a, struct kvs *l, const char *key, const char *s,
    size_t len)
{
	Otlp__AnyValue *v;

	if (s == NULL || (v = kv_add(a, l, key)) == NULL)
		return;
	v->value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	if ((v->string_value = a_strdup(a, s, len)) == NULL)
		v->value_case = OTLP__ANY_VALUE__VALUE__NOT_SET;
}

static void
kv_int(struct arena *a, struct kvs *l, const char *key, int64_t i)
{
	Otlp__AnyValue *v;

	if ((v = kv_add(a, l, key)) == NULL)
		return;
	v->value_case = OTLP__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = i;
}

static void
kv_double(struct arena *a, struct kvs *l, const char *key, double d)
{
	Otlp__AnyValue *v;

	if ((v = kv_add(a, l, key)) == NULL)
		return;
	v->value_case = OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE;
	v->double_value = d;
}

static void any_json(struct arena *, Otlp__AnyValue *, json_t *);

/* The members of object o as KeyValues in l (nulls left out). */
static void
kv_object(struct arena *a, struct kvs *l, json_t *o)
{
	const char	*k;
	json_t		*x;
	Otlp__AnyValue	*v;

	json_object_foreach(o, k, x) {
		if (json_is_null(x) || (v = kv_add(a, l, k)) == NULL)
			continue;
		any_json(a, v, x);
	}
}

/* A JSON value as an AnyValue. */
static void
any_json(struct arena *a, Otlp__AnyValue *v, json_t *x)
{
	Otlp__ArrayValue	*arr;
	Otlp__KeyValueList	*kl;
	struct kvs		 l = { 0 };
	size_t			 i, n;

	switch (json_typeof(x)) {
	case JSON_STRING:
		v->value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = a_strdup(a, json_string_value(x),
		    json_string_length(x));
		break;
	case JSON_INTEGER:
		v->value_case = OTLP__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = json_integer_value(x);
		break;
	case JSON_REAL:
		v->value_case = OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE;
		v->double_value = json_real_value(x);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v->value_case = OTLP__ANY_VALUE__VALUE_BOOL_VALUE;
		v->bool_value = json_is_true(x);
		break;
	case JSON_ARRAY:
		if ((arr = a_alloc(a, sizeof(*arr))) == NULL)
			return;
		otlp__array_value__init(arr);
		n = json_array_size(x);
		if ((arr->values = a_alloc(a, (n + 1) * sizeof(*arr->values))) ==
		    NULL)
			return;
		for (i = 0; i < n; i++) {
			if ((arr->values[i] = a_alloc(a, sizeof(Otlp__AnyValue)))
			    == NULL)
				return;
			otlp__any_value__init(arr->values[i]);
			any_json(a, arr->values[i], json_array_get(x, i));
			arr->n_values++;
		}
		v->value_case = OTLP__ANY_VALUE__VALUE_ARRAY_VALUE;
		v->array_value = arr;
		break;
	case JSON_OBJECT:
		if ((kl = a_alloc(a, sizeof(*kl))) == NULL)
			return;
		otlp__key_value_list__init(kl);
		kv_object(a, &l, x);
		kl->values = l.v;
		kl->n_values = l.n;
		v->value_case = OTLP__ANY_VALUE__VALUE_KVLIST_VALUE;
		v->kvlist_value = kl;
		break;
	default:
		break;
	}
}

/* The row's attributes but otel and resource (and, for metrics, more). */
static void
kv_row_attrs(struct arena *a, struct kvs *l, json_t *attrs,
    const char *const *skip)
{
	const char	*k;
	json_t		*x;
	Otlp__AnyValue	*v;
	size_t		 i;

	json_object_foreach(attrs, k, x) {
		for (i = 0; skip[i] != NULL; i++)
			if (strcmp(k, skip[i]) == 0)
				break;
		if (skip[i] != NULL || json_is_null(x) ||
		    (v = kv_add(a, l, k)) == NULL)
			continue;
		any_json(a, v, x);
	}
}

static const struct event_value *
val(const struct push_row *r, const char *field)
{
	const struct event_def	*d = &event_defs[r->kind];
	size_t			 i;

	for (i = 0; i < d->nfields; i++)
		if (strcmp(d->fields[i].name, field) == 0)
			return &r->v[i];
	return NULL;
}

/* A text field, or NULL. */
static const char *
txt(const struct push_row *r, const char *field, size_t *len)
{
	const struct event_value *v = val(r, field);

	if (v == NULL || v->s == NULL || v->tag == V_NULL || v->tag == V_INT ||
	    v->tag == V_REAL)
		return NULL;
	if (len != NULL)
		*len = v->len;
	return v->s;
}

static void
kv_field(struct arena *a, struct kvs *l, const char *key,
    const struct push_row *r, const char *field)
{
	const struct event_value	*v = val(r, field);
	const char			*s;
	size_t				 len;

	if (v == NULL || v->tag == V_NULL)
		return;
	if (v->tag == V_INT)
		kv_int(a, l, key, v->i);
	else if (v->tag == V_REAL)
		kv_double(a, l, key, v->r);
	else if ((s = txt(r, field, &len)) != NULL)
		kv_str(a, l, key, s, len);
}

/* An integer or real field as a number; 0 if NULL. */
static int64_t
int_field(const struct push_row *r, const char *field, int *set)
{
	const struct event_value *v = val(r, field);

	*set = v != NULL && (v->tag == V_INT || v->tag == V_REAL);
	if (v == NULL || !*set)
		return 0;
	return v->tag == V_INT ? v->i : (int64_t)v->r;
}

static double
real_field(const struct push_row *r, const char *field)
{
	const struct event_value *v = val(r, field);

	if (v != NULL && v->tag == V_INT)
		return (double)v->i;
	return v != NULL && v->tag == V_REAL ? v->r : 0;
}

/* hex (2 * len digits) into out; 0, or -1 if it is not. */
static int
unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t		i;
	unsigned	b;

	if (hex == NULL || strlen(hex) != len * 2)
		return -1;
	for (i = 0; i < len; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	return 0;
}

/* A UUID's 16 bytes; 0, or -1 if it is not one. */
static int
uuid_bytes(const char *uuid, uint8_t out[16])
{
	char	hex[33];
	size_t	n = 0;

	for (; *uuid != '\0' && n < sizeof(hex) - 1; uuid++)
		if (*uuid != '-')
			hex[n++] = *uuid;
	if (*uuid != '\0')
		return -1;
	hex[n] = '\0';
	return unhex(hex, out, 16);
}

/* A bytes field of len from the arena. */
static ProtobufCBinaryData
a_bytes(struct arena *a, const uint8_t *b, size_t len)
{
	ProtobufCBinaryData d = { 0, NULL };

	if ((d.data = a_alloc(a, len)) != NULL) {
		memcpy(d.data, b, len);
		d.len = len;
	}
	return d;
}

/*
 * The trace and span ids of a row: those of attributes.otel when it came
 * in over OTLP (parent too), else its trace_id's 16 bytes and their last 8.
 */
static void
row_ids(struct arena *a, json_t *otel, const char *uuid,
    ProtobufCBinaryData *trace, ProtobufCBinaryData *span,
    ProtobufCBinaryData *parent)
{
	uint8_t t[16], s[8], p[8];

	if (unhex(json_string_value(json_object_get(otel, "trace_id")), t,
	    16) == 0 && unhex(json_string_value(json_object_get(otel,
	    "span_id")), s, 8) == 0) {
		*trace = a_bytes(a, t, 16);
		*span = a_bytes(a, s, 8);
		if (parent != NULL && unhex(json_string_value(json_object_get(
		    otel, "parent_span_id")), p, 8) == 0)
			*parent = a_bytes(a, p, 8);
		return;
	}
	if (uuid != NULL && uuid_bytes(uuid, t) == 0) {
		*trace = a_bytes(a, t, 16);
		*span = a_bytes(a, t + 8, 8);
	}
}

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

	if ((res = a_alloc(a, sizeof(*res))) == NULL)
		return NULL;
	otlp__resource__init(res);
	if (json_is_object(own))
		kv_object(a, &l, own);
	for (i = 0; i < l.n; i++) {
		has_name |= strcmp(l.v[i]->key, "service.name") == 0;
		has_host |= strcmp(l.v[i]->key, "host.name") == 0;
	}
	if (!has_name) {
		if ((svc = txt(r, "service", &len)) != NULL)
			kv_str(a, &l, "service.name", svc, len);
		else
			kv_str(a, &l, "service.name", "oct", 3);
	}
	if (!has_host)
		kv_str(a, &l, "host.name", host_name(ag),
		    strlen(host_name(ag)));
	kv_str(a, &l, "oct.agent.id", ag->id, strlen(ag->id));
	if (!json_is_object(own))
		kv_str(a, &l, "service.version", ag->version,
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

	if ((s = a_alloc(a, sizeof(*s))) == NULL)
		return NULL;
	otlp__instrumentation_scope__init(s);
	name = json_string_value(json_object_get(js, "name"));
	ver = json_string_value(json_object_get(js, "version"));
	if (name == NULL) {
		name = "oct";
		ver = ag->version;
	}
	s->name = a_strdup(a, name, strlen(name));
	if (ver != NULL)
		s->version = a_strdup(a, ver, strlen(ver));
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

	if ((sp = a_alloc(a, sizeof(*sp))) == NULL)
		return NULL;
	otlp__span__init(sp);
	op = txt(r, "operation", &oplen);
	model = txt(r, "model", &mlen);
	if ((name = a_alloc(a, oplen + mlen + 2)) == NULL)
		return NULL;
	snprintf(name, oplen + mlen + 2, "%.*s%s%.*s", (int)oplen,
	    op ? op : "", op && model ? " " : "", (int)mlen,
	    model ? model : "");
	sp->name = name;
	sp->has_kind = 1;
	sp->kind = 3;				/* SPAN_KIND_CLIENT */
	row_ids(a, json_object_get(attrs, "otel"), r->trace_id,
	    &sp->trace_id, &sp->span_id, &sp->parent_span_id);
	sp->has_trace_id = sp->has_span_id = 1;
	sp->has_parent_span_id = sp->parent_span_id.len > 0;
	start = int_field(r, "started_at", &has_start);
	lat = int_field(r, "latency_ms", &has_lat);
	if (!has_start)
		start = r->received_at - lat;
	sp->has_start_time_unix_nano = sp->has_end_time_unix_nano = 1;
	sp->start_time_unix_nano = (uint64_t)start * NS;
	sp->end_time_unix_nano = has_lat ?
	    (uint64_t)start * NS + (uint64_t)(real_field(r, "latency_ms") * NS) :
	    (uint64_t)(has_start ? start : r->received_at) * NS;
	kv_field(a, &l, "gen_ai.operation.name", r, "operation");
	kv_field(a, &l, "gen_ai.request.model", r, "model");
	kv_field(a, &l, "gen_ai.provider.name", r, "provider");
	kv_field(a, &l, "gen_ai.usage.input_tokens", r, "prompt_tokens");
	kv_field(a, &l, "gen_ai.usage.output_tokens", r, "completion_tokens");
	kv_field(a, &l, "gen_ai.input.messages", r, "input");
	kv_field(a, &l, "gen_ai.output.messages", r, "output");
	kv_str(a, &l, "oct.trace_id", r->trace_id, strlen(r->trace_id));
	if (val(r, "cost_usd")->tag != V_NULL)
		kv_double(a, &l, "oct.cost_usd", real_field(r, "cost_usd"));
	kv_field(a, &l, "session.id", r, "session_id");
	kv_field(a, &l, "user.id", r, "user_id");
	kv_row_attrs(a, &l, attrs, skip_plain);
	sp->attributes = l.v;
	sp->n_attributes = l.n;
	if ((s = txt(r, "status", &len)) != NULL && len == 5 &&
	    memcmp(s, "error", 5) == 0 &&
	    (st = a_alloc(a, sizeof(*st))) != NULL) {
		otlp__span_status__init(st);
		st->has_code = 1;
		st->code = 2;			/* STATUS_CODE_ERROR */
		if ((s = txt(r, "error_message", &len)) != NULL)
			st->message = a_strdup(a, s, len);
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

	if ((lr = a_alloc(a, sizeof(*lr))) == NULL ||
	    (body = a_alloc(a, sizeof(*body))) == NULL)
		return NULL;
	otlp__log_record__init(lr);
	otlp__any_value__init(body);
	t = int_field(r, "occurred_at", &has_t);
	lr->has_time_unix_nano = lr->has_observed_time_unix_nano = 1;
	lr->time_unix_nano = (uint64_t)(has_t ? t : r->received_at) * NS;
	lr->observed_time_unix_nano = (uint64_t)r->received_at * NS;
	level = txt(r, "level", &len);
	level = level != NULL ? a_strdup(a, level, len) : "error";
	lr->has_severity_number = 1;
	lr->severity_number = severity(level);
	lr->severity_text = (char *)level;
	if ((s = txt(r, "message", &len)) != NULL) {
		body->value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		body->string_value = a_strdup(a, s, len);
		lr->body = body;
	}
	kv_field(a, &l, "exception.type", r, "type");
	kv_field(a, &l, "exception.message", r, "message");
	kv_field(a, &l, "exception.stacktrace", r, "stack");
	kv_str(a, &l, "oct.trace_id", r->trace_id, strlen(r->trace_id));
	kv_field(a, &l, "oct.fingerprint", r, "fingerprint");
	kv_row_attrs(a, &l, attrs, skip_plain);
	lr->attributes = l.v;
	lr->n_attributes = l.n;
	/* linked to the trace of trace_ref (its ids as a span of oct's) */
	s = txt(r, "trace_ref", &len);
	row_ids(a, json_object_get(attrs, "otel"), s != NULL ?
	    a_strdup(a, s, len) : NULL, &lr->trace_id, &lr->span_id, NULL);
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

	if ((s = txt(r, "labels", NULL)) != NULL &&
	    (j = json_loads(s, 0, NULL)) != NULL) {
		kv_object(a, &l, j);
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

	if ((h = a_alloc(a, sizeof(*h))) == NULL ||
	    (p = a_alloc(a, sizeof(*p))) == NULL ||
	    (h->data_points = a_alloc(a, sizeof(*h->data_points))) == NULL ||
	    (p->explicit_bounds = a_alloc(a, (json_array_size(b) + 1) *
	    sizeof(double))) == NULL ||
	    (p->bucket_counts = a_alloc(a, (json_array_size(c) + 1) *
	    sizeof(uint64_t))) == NULL)
		return NULL;
	otlp__histogram__init(h);
	otlp__histogram_data_point__init(p);
	h->data_points[0] = p;
	h->n_data_points = 1;
	h->has_aggregation_temporality = 1;
	h->aggregation_temporality = 2;		/* CUMULATIVE */
	p->has_time_unix_nano = 1;
	p->time_unix_nano = t;
	p->has_count = 1;
	p->count = (uint64_t)json_integer_value(json_object_get(attrs,
	    "count"));
	p->has_sum = val(r, "value")->tag != V_NULL;
	p->sum = real_field(r, "value");
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

	if ((m = a_alloc(a, sizeof(*m))) == NULL)
		return NULL;
	otlp__metric__init(m);
	if ((s = txt(r, "name", &len)) != NULL)
		m->name = a_strdup(a, s, len);
	if ((s = txt(r, "unit", &len)) != NULL)
		m->unit = a_strdup(a, s, len);
	ts = int_field(r, "ts", &has_ts);
	t = (uint64_t)(has_ts ? ts : r->received_at) * NS;
	if (json_is_array(json_object_get(attrs, "bucket_counts"))) {
		m->data_case = OTLP__METRIC__DATA_HISTOGRAM;
		m->histogram = histogram(a, r, attrs, t);
		return m->histogram != NULL ? m : NULL;
	}
	if ((p = a_alloc(a, sizeof(*p))) == NULL ||
	    (pp = a_alloc(a, sizeof(*pp))) == NULL)
		return NULL;
	otlp__number_data_point__init(p);
	*pp = p;
	p->has_time_unix_nano = 1;
	p->time_unix_nano = t;
	p->value_case = OTLP__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
	p->as_double = real_field(r, "value");
	labels(a, r, &p->attributes, &p->n_attributes);
	s = txt(r, "kind", &len);
	if (s != NULL && len == 7 && memcmp(s, "counter", 7) == 0) {
		if ((m->sum = a_alloc(a, sizeof(*m->sum))) == NULL)
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
		if ((m->gauge = a_alloc(a, sizeof(*m->gauge))) == NULL)
			return NULL;
		otlp__gauge__init(m->gauge);
		m->data_case = OTLP__METRIC__DATA_GAUGE;
		m->gauge->data_points = pp;
		m->gauge->n_data_points = 1;
	}
	return m;
}

/* A row's Resource{Spans,Logs,Metrics}, its messages in a. */
static const ProtobufCMessage *
row_message(struct arena *a, const struct agent_info *ag,
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
		if ((rs = a_alloc(a, sizeof(*rs))) == NULL ||
		    (ss = a_alloc(a, sizeof(*ss))) == NULL ||
		    (one = span(a, r, attrs)) == NULL)
			break;
		otlp__resource_spans__init(rs);
		otlp__scope_spans__init(ss);
		rs->scope_spans = a_alloc(a, sizeof(ss));
		ss->spans = a_alloc(a, sizeof(void *));
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
		if ((rl = a_alloc(a, sizeof(*rl))) == NULL ||
		    (sl = a_alloc(a, sizeof(*sl))) == NULL ||
		    (one = log_record(a, r, attrs)) == NULL)
			break;
		otlp__resource_logs__init(rl);
		otlp__scope_logs__init(sl);
		rl->scope_logs = a_alloc(a, sizeof(sl));
		sl->log_records = a_alloc(a, sizeof(void *));
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
		if ((rm = a_alloc(a, sizeof(*rm))) == NULL ||
		    (sm = a_alloc(a, sizeof(*sm))) == NULL ||
		    (one = metric(a, r, attrs)) == NULL)
			break;
		otlp__resource_metrics__init(rm);
		otlp__scope_metrics__init(sm);
		rm->scope_metrics = a_alloc(a, sizeof(sm));
		sm->metrics = a_alloc(a, sizeof(void *));
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

/* Bytes of a varint. */
static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/*
 * The row as field 1 of its Export*ServiceRequest (tag, length, message)
 * into out if not NULL; returns its length, 0 if it cannot be built.
 */
static size_t
put_row(const struct agent_info *ag, const struct push_row *r, uint8_t *out)
{
	struct arena		 a = { 0 };
	const ProtobufCMessage	*m = row_message(&a, ag, r);
	size_t			 len = 0, n, hd;
	uint64_t		 v;

	if (m != NULL) {
		n = protobuf_c_message_get_packed_size(m);
		hd = 1 + varint_len(n);
		len = hd + n;
		if (out != NULL) {
			*out++ = 0x0a;		/* field 1, length-delimited */
			for (v = n; v >= 0x80; v >>= 7)
				*out++ = (uint8_t)(v | 0x80);
			*out++ = (uint8_t)v;
			protobuf_c_message_pack(m, out);
		}
	}
	a_free(&a);
	return len;
}

static size_t
otlp_overhead(const struct agent_info *ag)
{
	(void)ag;
	return 0;
}

/* event_len() is not given the agent: the engine's (engine.h). */
static size_t
otlp_event_len(const struct push_row *r)
{
	return put_row(&pd.agent, r, NULL);
}

static char *
otlp_body(const struct agent_info *ag, const char *batch_id,
    const struct push_row *rows, int n, int64_t sent_at, size_t *len)
{
	uint8_t	*b;
	size_t	 cap = 1, off = 0, add;
	int	 i;

	(void)batch_id;
	(void)sent_at;
	for (i = 0; i < n; i++)
		cap += put_row(ag, &rows[i], NULL);
	if ((b = malloc(cap)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		/* 0: out of memory; a row left out would be marked synced */
		if ((add = put_row(ag, &rows[i], b + off)) == 0) {
			free(b);
			return NULL;
		}
		off += add;
	}
	*len = off;
	return (char *)b;
}

/*
 * Export*ServiceResponse: a partial_success that rejected some (OTLP does
 * not say which) or says why is reported unnamed: the rows stay synced.
 * The three responses are the same message on the wire.
 */
static void
otlp_answer(const char *body, size_t len, push_reject_cb rejected,
    void *arg)
{
	Otlp__ExportTraceServiceResponse	*res;
	Otlp__ExportTracePartialSuccess		*ps;
	char					 why[300];

	res = otlp__export_trace_service_response__unpack(NULL, len,
	    (const uint8_t *)body);
	if (res == NULL)
		return;
	ps = res->partial_success;
	if (ps != NULL && ((ps->has_rejected_spans && ps->rejected_spans > 0) ||
	    (ps->error_message != NULL && *ps->error_message != '\0'))) {
		snprintf(why, sizeof(why), "partial_success: %lld rejected%s%s",
		    (long long)ps->rejected_spans, ps->error_message != NULL &&
		    *ps->error_message != '\0' ? ": " : "",
		    ps->error_message != NULL ? ps->error_message : "");
		why[strcspn(why, "\r\n")] = '\0';
		rejected(NULL, why, arg);
	}
	otlp__export_trace_service_response__free_unpacked(res, NULL);
}

/*
 * The message of a google.rpc.Status error answer; any other body (a
 * proxy's page, say) as text, its bytes outside printable ASCII as '?'.
 */
static void
otlp_error_text(const char *body, size_t len, char *buf, size_t size)
{
	Otlp__RpcStatus	*st;
	size_t		 i;

	*buf = '\0';
	st = otlp__rpc_status__unpack(NULL, len, (const uint8_t *)body);
	if (st != NULL) {
		if (st->message != NULL)
			snprintf(buf, size, "%s", st->message);
		buf[strcspn(buf, "\r\n")] = '\0';
		otlp__rpc_status__free_unpacked(st, NULL);
		return;
	}
	for (i = 0; i < len && i + 1 < size; i++)
		buf[i] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '?';
	buf[i] = '\0';
}

/* OTLP/HTTP's retryable set: 429, 502, 503, 504. */
static int
otlp_unwell(long status)
{
	return status == 429 || status == 502 || status == 503 ||
	    status == 504;
}

static const char *const otlp_paths[] = {
	[EV_TRACE] = "/v1/traces",
	[EV_ERROR] = "/v1/logs",
	[EV_METRIC] = "/v1/metrics",
};

const struct push_encoder enc_otlp = {
	.name = "otlp",
	.content_type = "application/x-protobuf",
	.per_kind = 1,
	.paths = otlp_paths,
	.overhead = otlp_overhead,
	.event_len = otlp_event_len,
	.body = otlp_body,
	.answer = otlp_answer,
	.error_text = otlp_error_text,
	.unwell = otlp_unwell,
};
