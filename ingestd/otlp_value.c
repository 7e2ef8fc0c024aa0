/*
 * otlp_value.c: what the OTLP mappings (otlp_spans.c, otlp_logs.c,
 * otlp_metrics.c) share: attribute values as JSON or as the model's
 * values, the texts a request keeps, new events, and the entry point.
 *
 * Strings are not copied: events point into the unpacked request, or
 * into texts the request keeps (strs) until it is freed.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "otlp.h"

/* The index of column col of kind k (a name of event.c's table). */
int
otlp_col(enum event_kind k, const char *name)
{
	int alias, i = event_field(k, name, &alias);

	if (i < 0)
		abort();	/* the tables above name no such column */
	return i;
}

struct event_value *
otlp_val(struct event *e, const char *name)
{
	return &e->v[otlp_col(e->kind, name)];
}

/* Keep s (malloc'd) until the request is freed. NULL: out of memory. */
const char *
otlp_keep(struct otlp_req *r, char *s)
{
	char	**n;
	size_t	  cap;

	if (s == NULL)
		return NULL;
	if (r->nstrs == r->capstrs) {
		cap = r->capstrs ? r->capstrs * 2 : 64;
		if ((n = realloc(r->strs, cap * sizeof(*n))) == NULL) {
			free(s);
			return NULL;
		}
		r->strs = n;
		r->capstrs = cap;
	}
	r->strs[r->nstrs++] = s;
	return s;
}

/* v as compact JSON text the request keeps; v is released. */
const char *
otlp_dump(struct otlp_req *r, json_t *v)
{
	const char *s = v != NULL ? otlp_keep(r, json_dumps(v,
	    JSON_COMPACT | JSON_ENCODE_ANY)) : NULL;

	json_decref(v);
	return s;
}

const char *
otlp_hex(struct otlp_req *r, const ProtobufCBinaryData *b)
{
	char *s;

	if (b->len == 0 || (s = malloc(b->len * 2 + 1)) == NULL)
		return NULL;
	return otlp_keep(r, sodium_bin2hex(s, b->len * 2 + 1, b->data, b->len));
}

/* A new event of kind k; ref: the event whose trace_id is its trace_ref. */
struct event *
otlp_new_event(struct otlp_req *r, enum event_kind k, long ref)
{
	struct event	*ev;
	long		*rf;
	size_t		 cap;

	if (r->nev == r->cap) {
		cap = r->cap ? r->cap * 2 : 16;
		if ((ev = realloc(r->ev, cap * sizeof(*ev))) == NULL)
			return NULL;
		r->ev = ev;
		if ((rf = realloc(r->ref, cap * sizeof(*rf))) == NULL)
			return NULL;
		r->ref = rf;
		r->cap = cap;
	}
	r->ref[r->nev] = ref;
	ev = &r->ev[r->nev++];
	event_init(ev, k, 0);
	return ev;
}

/* Key-value pairs as a JSON object; NULL out of memory. */
json_t *
otlp_kv_json(struct otlp_req *r, Otlp__KeyValue **kv, size_t n)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; o != NULL && i < n; i++)
		if (kv[i]->key != NULL)
			json_object_set_new(o, kv[i]->key,
			    otlp_any_json(r, kv[i]->value));
	return o;
}

/* An attribute value as JSON, keeping its type (bytes as base64). */
json_t *
otlp_any_json(struct otlp_req *r, const Otlp__AnyValue *v)
{
	json_t	*a;
	char	*b64;
	size_t	 i, n;

	if (v == NULL)
		return json_null();
	switch (v->value_case) {
	case OTLP__ANY_VALUE__VALUE_STRING_VALUE:
		return json_string(v->string_value);	/* NULL: bad UTF-8 */
	case OTLP__ANY_VALUE__VALUE_BOOL_VALUE:
		return json_boolean(v->bool_value);
	case OTLP__ANY_VALUE__VALUE_INT_VALUE:
		return json_integer(v->int_value);
	case OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE:
		return json_real(v->double_value);	/* NULL: not finite */
	case OTLP__ANY_VALUE__VALUE_ARRAY_VALUE:
		if ((a = json_array()) == NULL || v->array_value == NULL)
			return a;
		for (i = 0; i < v->array_value->n_values; i++)
			json_array_append_new(a, otlp_any_json(r,
			    v->array_value->values[i]));
		return a;
	case OTLP__ANY_VALUE__VALUE_KVLIST_VALUE:
		return v->kvlist_value == NULL ? json_object() : otlp_kv_json(r,
		    v->kvlist_value->values, v->kvlist_value->n_values);
	case OTLP__ANY_VALUE__VALUE_BYTES_VALUE:
		n = sodium_base64_ENCODED_LEN(v->bytes_value.len,
		    sodium_base64_VARIANT_ORIGINAL);
		if ((b64 = malloc(n)) == NULL)
			return NULL;
		sodium_bin2base64(b64, n, v->bytes_value.data,
		    v->bytes_value.len, sodium_base64_VARIANT_ORIGINAL);
		a = json_string(b64);
		free(b64);
		return a;
	default:
		return json_null();
	}
}

/* The value of attribute key among kv, or NULL. */
const Otlp__AnyValue *
otlp_kv_get(Otlp__KeyValue **kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kv[i]->key != NULL && strcmp(kv[i]->key, key) == 0)
			return kv[i]->value;
	return NULL;
}

/* The string value of attribute key among kv, or NULL. */
const char *
otlp_kv_str(Otlp__KeyValue **kv, size_t n, const char *key)
{
	const Otlp__AnyValue *v = otlp_kv_get(kv, n, key);

	return v != NULL && v->value_case ==
	    OTLP__ANY_VALUE__VALUE_STRING_VALUE ? v->string_value : NULL;
}

void
otlp_set_text(struct event_value *ev, const char *s)
{
	if (s == NULL)
		return;
	ev->tag = V_TEXT;
	ev->s = s;
	ev->len = strlen(s);
}

void
otlp_set_int(struct event_value *ev, int64_t i)
{
	ev->tag = V_INT;
	ev->i = i;
}

void
otlp_set_real(struct event_value *ev, double d)
{
	ev->tag = V_REAL;
	ev->r = d;
}

/* Attribute value v as the model's value, named key in errors. */
void
otlp_set_any(struct otlp_req *r, struct event_value *ev, const char *key,
    const Otlp__AnyValue *v)
{
	memset(ev, 0, sizeof(*ev));
	ev->key = key;
	if (v == NULL)
		return;
	switch (v->value_case) {
	case OTLP__ANY_VALUE__VALUE_STRING_VALUE:
		otlp_set_text(ev, v->string_value);
		break;
	case OTLP__ANY_VALUE__VALUE_INT_VALUE:
		otlp_set_int(ev, v->int_value);
		break;
	case OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE:
		otlp_set_real(ev, v->double_value);
		break;
	case OTLP__ANY_VALUE__VALUE_BOOL_VALUE:
		ev->tag = V_BOOL;
		ev->i = v->bool_value;
		break;
	default:
		ev->tag = V_JSON;
		ev->s = otlp_dump(r, otlp_any_json(r, v));
		ev->len = ev->s != NULL ? strlen(ev->s) : 0;
		break;
	}
}

/* Unix ms of a time in ns; 0 stays 0 (not sent). */
int64_t
otlp_ns_ms(uint64_t ns)
{
	return (int64_t)(ns / 1000000);
}

/* The context rows under resource res (and scope) share. */
int
otlp_res_ctx(struct otlp_req *r, struct res_ctx *rc, const Otlp__Resource *res)
{
	memset(rc, 0, sizeof(*rc));
	rc->attrs = res != NULL ? otlp_kv_json(r, res->attributes,
	    res->n_attributes) : json_object();
	if (res != NULL)
		rc->service = otlp_kv_str(res->attributes, res->n_attributes,
		    "service.name");
	return rc->attrs != NULL ? 0 : -1;
}

int
otlp_map(struct otlp_req *r)
{
	switch (r->signal) {
	case OTLP_TRACES:
		return otlp_map_traces(r);
	case OTLP_LOGS:
		return otlp_map_logs(r);
	default:
		return otlp_map_metrics(r);
	}
}

void
otlp_req_free(struct otlp_req *r)
{
	size_t i;

	if (r->msg != NULL)
		protobuf_c_message_free_unpacked(r->msg, NULL);
	for (i = 0; i < r->nstrs; i++)
		free(r->strs[i]);
	free(r->strs);
	free(r->ev);
	free(r->ref);
	free(r);
}
