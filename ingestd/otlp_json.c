/*
 * otlp_json.c: OTLP JSON (the OTLP/HTTP JSON encoding) into the protobuf-c
 * structs of otlp.proto, so that one mapping serves both encodings.
 *
 * Driven by the message descriptors protoc-c made: each JSON key is looked
 * up among the message's fields by its lowerCamelCase name (or the proto
 * name), as protobuf's JSON mapping says, and unknown keys are skipped.
 * OTLP's own rules: trace and span ids are hex, not base64; enums are
 * integers; 64-bit integers come as decimal strings or numbers.
 * common/json.c parses the text, as for the native API (its rules: UTF-8
 * checked, exact integers, the last duplicate key wins, no \u0000).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "json.h"
#include "otlp.h"

/* Whether JSON key k names field f: its lowerCamelCase or proto name. */
static int
key_is(const char *k, const char *name)
{
	if (strcmp(k, name) == 0)
		return 1;
	for (; *name != '\0'; name++, k++) {
		if (*name == '_' && name[1] != '\0') {
			name++;
			if (*k != toupper((unsigned char)*name))
				return 0;
		} else if (*k != *name)
			return 0;
	}
	return *k == '\0';
}

static const ProtobufCFieldDescriptor *
field_of(const ProtobufCMessageDescriptor *d, const char *k)
{
	unsigned i;

	for (i = 0; i < d->n_fields; i++)
		if (key_is(k, d->fields[i].name))
			return &d->fields[i];
	return NULL;
}

static size_t
elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_FLOAT:
		return 4;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	default:
		return 8;
	}
}

/* An integer given as a number or a decimal string. Returns 0 or -1. */
static int
json_int(const struct jv_val *v, int sign, int64_t *out)
{
	const char	*s;
	char		*end;
	double		 d;

	if (v->type == JV_INT) {
		*out = v->u.i;
		return 0;
	}
	d = v->type == JV_REAL ? v->u.r : 0.5;
	if (d == floor(d) && fabs(d) < 9.2e18) {
		*out = (int64_t)d;	/* 1e3: an integer written as a real */
		return 0;
	}
	if (v->type != JV_STRING || *(s = v->u.s) == '\0')
		return -1;
	errno = 0;
	if (sign)
		*out = strtoll(s, &end, 10);
	else if (*s == '-')
		return -1;
	else
		*out = (int64_t)strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* Bytes: hex for the trace and span ids (OTLP JSON), else base64. */
static int
json_bytes(const ProtobufCFieldDescriptor *f, const struct jv_val *v,
    ProtobufCBinaryData *b)
{
	const char	*s;
	size_t		 n, len;
	int		 hex;

	if (v->type != JV_STRING)
		return -1;
	s = v->u.s;
	n = v->n;
	len = strlen(f->name);
	hex = len >= 3 && strcmp(f->name + len - 3, "_id") == 0;
	if ((b->data = malloc(n + 1)) == NULL)
		return -1;
	if (hex ? sodium_hex2bin(b->data, n, s, n, NULL, &b->len, NULL) :
	    sodium_base642bin(b->data, n, s, n, NULL, &b->len, NULL,
	    sodium_base64_VARIANT_ORIGINAL))
		return -1;
	return 0;
}

static ProtobufCMessage *read_msg(const ProtobufCMessageDescriptor *,
    const struct jv_val *, int depth, struct event_error *);

/* Store JSON value v as one value of field f at p. Returns 0 or -1. */
static int
set_one(const ProtobufCFieldDescriptor *f, void *p, const struct jv_val *v,
    int depth, struct event_error *err)
{
	int64_t	 i;
	double	 d;

	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		*(ProtobufCMessage **)p = read_msg(f->descriptor, v, depth + 1,
		    err);
		return *(ProtobufCMessage **)p == NULL ? -1 : 0;
	case PROTOBUF_C_TYPE_STRING:
		if (v->type != JV_STRING ||
		    (*(char **)p = strdup(v->u.s)) == NULL)
			return -1;
		return 0;
	case PROTOBUF_C_TYPE_BYTES:
		return json_bytes(f, v, p);
	case PROTOBUF_C_TYPE_BOOL:
		if (v->type != JV_TRUE && v->type != JV_FALSE)
			return -1;
		*(protobuf_c_boolean *)p = v->type == JV_TRUE;
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_FLOAT:
		if (v->type == JV_INT)
			d = (double)v->u.i;
		else if (v->type == JV_REAL)
			d = v->u.r;
		else if (v->type == JV_STRING && strcmp(v->u.s, "NaN") == 0)
			d = NAN;
		else
			return -1;
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)p = (float)d;
		else
			*(double *)p = d;
		return 0;
	default:
		break;
	}
	if (elem_size(f) == 8) {
		if (json_int(v, f->type == PROTOBUF_C_TYPE_INT64 ||
		    f->type == PROTOBUF_C_TYPE_SINT64 ||
		    f->type == PROTOBUF_C_TYPE_SFIXED64, &i) == -1)
			return -1;
		*(int64_t *)p = i;
		return 0;
	}
	if (json_int(v, 1, &i) == -1 || i < INT32_MIN || i > UINT32_MAX)
		return -1;
	*(int32_t *)p = (int32_t)i;
	return 0;
}

/* A repeated field: an array of values into a new array of the field. */
static int
set_repeated(const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
    const struct jv_val *v, int depth, struct event_error *err)
{
	size_t	 n, i, sz = elem_size(f);
	char	*arr;

	if (v->type != JV_ARRAY)
		return -1;
	n = v->n;
	if (n == 0)
		return 0;
	if ((arr = calloc(n, sz)) == NULL)
		return -1;
	*(void **)((char *)m + f->offset) = arr;
	*(size_t *)((char *)m + f->quantifier_offset) = n;
	for (i = 0; i < n; i++)
		if (set_one(f, arr + i * sz, &v->u.m[i].v, depth, err) == -1) {
			*(size_t *)((char *)m + f->quantifier_offset) = i + 1;
			return -1;	/* the partial array is freed with m */
		}
	return 0;
}

/* Field f of m from v, marking it present (has_* or the oneof case). */
static int
set_field(const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
    const struct jv_val *v, int depth, struct event_error *err)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return set_repeated(f, m, v, depth, err);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(uint32_t *)((char *)m + f->quantifier_offset) != 0)
			return -1;	/* two members of one oneof */
		*(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
	} else if (f->quantifier_offset != 0)
		*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
	return set_one(f, (char *)m + f->offset, v, depth, err);
}

/*
 * A new message of d from the JSON object obj, depth levels down. Returns
 * it (the caller frees it with protobuf_c_message_free_unpacked), or NULL
 * with err when obj or a value in it does not fit the field it names.
 */
static ProtobufCMessage *
read_msg(const ProtobufCMessageDescriptor *d, const struct jv_val *obj,
    int depth, struct event_error *err)
{
	const ProtobufCFieldDescriptor	*f;
	ProtobufCMessage		*m;
	const char			*k;
	const struct jv_val		*v;
	size_t				 i;

	if (depth > OTLP_MAX_DEPTH) {
		event_fail(err, NULL, "nesting deeper than %d levels",
		    OTLP_MAX_DEPTH);
		return NULL;
	}
	if (obj->type != JV_OBJECT) {
		event_fail(err, NULL, "%s must be a JSON object",
		    d->short_name);
		return NULL;
	}
	if ((m = calloc(1, d->sizeof_message)) == NULL) {
		event_fail(err, NULL, "out of memory");
		return NULL;
	}
	protobuf_c_message_init(d, m);
	for (i = 0; i < obj->n; i++) {
		k = obj->u.m[i].key;
		v = &obj->u.m[i].v;
		if ((f = field_of(d, k)) == NULL || v->type == JV_NULL)
			continue;	/* unknown fields are skipped */
		if (set_field(f, m, v, depth, err) == -1) {
			if (err->msg[0] == '\0')
				event_fail(err, k, "%s.%s: bad value",
				    d->short_name, k);
			protobuf_c_message_free_unpacked(m, NULL);
			return NULL;
		}
	}
	return m;
}

ProtobufCMessage *
otlp_json_read(const ProtobufCMessageDescriptor *d, const char *text,
    size_t len, struct event_error *err)
{
	ProtobufCMessage	*m;
	struct jv_err		 jerr;
	struct jv_doc		*doc;

	err->msg[0] = '\0';
	/* a message level is at most an object and an array */
	if ((doc = jv_parse(text, len, 2 * OTLP_MAX_DEPTH + 1, &jerr)) ==
	    NULL) {
		event_fail(err, NULL, "%s", jerr.msg);
		return NULL;
	}
	m = read_msg(d, jv_root(doc), 1, err);
	jv_free(doc);
	return m;
}
