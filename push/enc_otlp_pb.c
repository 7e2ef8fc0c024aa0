/*
 * enc_otlp_pb.c: the pieces of the OTLP push encoder's messages
 * (enc_otlp.h): the arena a row's messages live in, KeyValue lists (from
 * JSON attributes or from a row's typed fields), the readers of a row's
 * fields, and the trace and span ids of a row.
 *
 * Called once per row per size or body (enc_otlp.c), a few dozen
 * allocations each, carved from an arena's blocks; nothing here keeps
 * state between rows.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "enc_otlp.h"

/* A block of an arena: its size, then the bytes carved from it. */
struct arena_block {
	struct arena_block	*prev;
	size_t			 size;
	max_align_t		 data[];
};

#define ARENA_BLOCK	8192	/* a row's messages, its short texts */
#define ARENA_LONG	(ARENA_BLOCK / 4)	/* longer: a block of its own */

/*
 * len zeroed bytes, aligned for any type. A long one gets a block of its
 * own, put behind the one carved from, which keeps its room.
 */
void *
oe_alloc(struct arena *a, size_t len)
{
	struct arena_block	*nb;
	size_t			 al = sizeof(max_align_t);

	len = len == 0 ? al : (len + al - 1) / al * al;
	if (len > ARENA_LONG || a->b == NULL || a->b->size - a->off < len) {
		if ((nb = malloc(sizeof(*nb) + (len > ARENA_LONG ? len :
		    ARENA_BLOCK))) == NULL)
			return NULL;
		nb->size = len > ARENA_LONG ? len : ARENA_BLOCK;
		if (len > ARENA_LONG && a->b != NULL) {
			nb->prev = a->b->prev;
			a->b->prev = nb;
			return memset(nb->data, 0, len);
		}
		nb->prev = a->b;
		a->b = nb;
		a->off = 0;
	}
	a->off += len;
	return memset((char *)a->b->data + a->off - len, 0, len);
}

char *
oe_strdup(struct arena *a, const char *s, size_t len)
{
	char *d = oe_alloc(a, len + 1);

	if (d != NULL)
		memcpy(d, s, len);
	return d;
}

void
oe_free(struct arena *a)
{
	struct arena_block *b, *prev;

	for (b = a->b; b != NULL; b = prev) {
		prev = b->prev;
		free(b);
	}
	memset(a, 0, sizeof(*a));
}

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
		if ((nv = oe_alloc(a, l->cap * sizeof(*nv))) == NULL)
			return NULL;
		if (l->n > 0)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
	}
	if ((kv = oe_alloc(a, sizeof(*kv))) == NULL ||
	    (v = oe_alloc(a, sizeof(*v))) == NULL)
		return NULL;
	otlp__key_value__init(kv);
	if ((kv->key = oe_strdup(a, key, strlen(key))) == NULL)
		return NULL;
	otlp__any_value__init(v);
	kv->value = v;
	l->v[l->n++] = kv;
	return v;
}

void
oe_kv_str(struct arena *a, struct kvs *l, const char *key, const char *s,
    size_t len)
{
	Otlp__AnyValue *v;

	if (s == NULL || (v = kv_add(a, l, key)) == NULL)
		return;
	v->value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
	if ((v->string_value = oe_strdup(a, s, len)) == NULL)
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

void
oe_kv_double(struct arena *a, struct kvs *l, const char *key, double d)
{
	Otlp__AnyValue *v;

	if ((v = kv_add(a, l, key)) == NULL)
		return;
	v->value_case = OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE;
	v->double_value = d;
}

static void any_json(struct arena *, Otlp__AnyValue *, json_t *);

/* The members of object o as KeyValues in l (nulls left out). */
void
oe_kv_object(struct arena *a, struct kvs *l, json_t *o)
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
		v->string_value = oe_strdup(a, json_string_value(x),
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
		if ((arr = oe_alloc(a, sizeof(*arr))) == NULL)
			return;
		otlp__array_value__init(arr);
		n = json_array_size(x);
		arr->values = oe_alloc(a, (n + 1) * sizeof(*arr->values));
		if (arr->values == NULL)
			return;
		for (i = 0; i < n; i++) {
			arr->values[i] = oe_alloc(a, sizeof(Otlp__AnyValue));
			if (arr->values[i] == NULL)
				return;
			otlp__any_value__init(arr->values[i]);
			any_json(a, arr->values[i], json_array_get(x, i));
			arr->n_values++;
		}
		v->value_case = OTLP__ANY_VALUE__VALUE_ARRAY_VALUE;
		v->array_value = arr;
		break;
	case JSON_OBJECT:
		if ((kl = oe_alloc(a, sizeof(*kl))) == NULL)
			return;
		otlp__key_value_list__init(kl);
		oe_kv_object(a, &l, x);
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
void
oe_kv_row_attrs(struct arena *a, struct kvs *l, json_t *attrs,
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

const struct event_value *
oe_val(const struct push_row *r, const char *field)
{
	const struct event_def	*d = &event_defs[r->kind];
	size_t			 i;

	for (i = 0; i < d->nfields; i++)
		if (d->fields[i].name[0] == field[0] &&
		    strcmp(d->fields[i].name, field) == 0)
			return &r->v[i];
	return NULL;
}

/* A text field, or NULL. */
const char *
oe_txt(const struct push_row *r, const char *field, size_t *len)
{
	const struct event_value *v = oe_val(r, field);

	if (v == NULL || v->s == NULL || v->tag == V_NULL || v->tag == V_INT ||
	    v->tag == V_REAL)
		return NULL;
	if (len != NULL)
		*len = v->len;
	return v->s;
}

void
oe_kv_field(struct arena *a, struct kvs *l, const char *key,
    const struct push_row *r, const char *field)
{
	const struct event_value	*v = oe_val(r, field);
	const char			*s;
	size_t				 len;

	if (v == NULL || v->tag == V_NULL)
		return;
	if (v->tag == V_INT)
		kv_int(a, l, key, v->i);
	else if (v->tag == V_REAL)
		oe_kv_double(a, l, key, v->r);
	else if ((s = oe_txt(r, field, &len)) != NULL)
		oe_kv_str(a, l, key, s, len);
}

/* An integer or real field as a number; 0 if NULL. */
int64_t
oe_int_field(const struct push_row *r, const char *field, int *set)
{
	const struct event_value *v = oe_val(r, field);

	*set = v != NULL && (v->tag == V_INT || v->tag == V_REAL);
	if (v == NULL || !*set)
		return 0;
	return v->tag == V_INT ? v->i : (int64_t)v->r;
}

double
oe_real_field(const struct push_row *r, const char *field)
{
	const struct event_value *v = oe_val(r, field);

	if (v != NULL && v->tag == V_INT)
		return (double)v->i;
	return v != NULL && v->tag == V_REAL ? v->r : 0;
}

/* hex (2 * len digits) into out; 0, or -1 if it is not. */
static int
unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t n;

	if (hex == NULL || strlen(hex) != len * 2 ||
	    sodium_hex2bin(out, len, hex, len * 2, NULL, &n, NULL) != 0 ||
	    n != len)
		return -1;
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

	if ((d.data = oe_alloc(a, len)) != NULL) {
		memcpy(d.data, b, len);
		d.len = len;
	}
	return d;
}

/*
 * The trace and span ids of a row: those of attributes.otel when it came
 * in over OTLP (parent too), else its trace_id's 16 bytes and their last 8.
 */
void
oe_row_ids(struct arena *a, json_t *otel, const char *uuid,
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
