/*
 * otlp_json.c: OTLP JSON (the OTLP/HTTP JSON encoding) into the protobuf-c
 * structs of otlp.proto, so that one mapping serves both encodings.
 *
 * Driven by the message descriptors protoc-c made: each JSON key is looked
 * up among the message's fields by its lowerCamelCase name (or the proto
 * name), as protobuf's JSON mapping says, and unknown keys are skipped.
 * OTLP's own rules: trace and span ids are hex, not base64; enums are
 * integers; 64-bit integers come as decimal strings or numbers. jansson
 * parses the text, as for the native API (UTF-8 checked).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

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
json_int(json_t *v, int sign, int64_t *out)
{
	const char	*s;
	char		*end;
	double		 d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	d = json_is_real(v) ? json_real_value(v) : 0.5;
	if (d == floor(d) && fabs(d) < 9.2e18) {
		*out = (int64_t)d;	/* 1e3: an integer written as a real */
		return 0;
	}
	if (!json_is_string(v) || *(s = json_string_value(v)) == '\0')
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
json_bytes(const ProtobufCFieldDescriptor *f, json_t *v,
    ProtobufCBinaryData *b)
{
	const char	*s;
	size_t		 n, len;
	int		 hex;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
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

static ProtobufCMessage *read_msg(const ProtobufCMessageDescriptor *, json_t *,
    int depth, struct event_error *);

/* Store JSON value v as one value of field f at p. Returns 0 or -1. */
static int
set_one(const ProtobufCFieldDescriptor *f, void *p, json_t *v, int depth,
    struct event_error *err)
{
	int64_t	 i;
	double	 d;

	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		*(ProtobufCMessage **)p = read_msg(f->descriptor, v, depth + 1,
		    err);
		return *(ProtobufCMessage **)p == NULL ? -1 : 0;
	case PROTOBUF_C_TYPE_STRING:
		if (!json_is_string(v) ||
		    (*(char **)p = strdup(json_string_value(v))) == NULL)
			return -1;
		return 0;
	case PROTOBUF_C_TYPE_BYTES:
		return json_bytes(f, v, p);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return -1;
		*(protobuf_c_boolean *)p = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_FLOAT:
		if (json_is_number(v))
			d = json_number_value(v);
		else if (json_is_string(v) &&
		    strcmp(json_string_value(v), "NaN") == 0)
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
    json_t *v, int depth, struct event_error *err)
{
	size_t	 n, i, sz = elem_size(f);
	char	*arr;
	json_t	*x;

	if (!json_is_array(v))
		return -1;
	n = json_array_size(v);
	if (n == 0)
		return 0;
	if ((arr = calloc(n, sz)) == NULL)
		return -1;
	*(void **)((char *)m + f->offset) = arr;
	*(size_t *)((char *)m + f->quantifier_offset) = n;
	json_array_foreach(v, i, x)
		if (set_one(f, arr + i * sz, x, depth, err) == -1) {
			*(size_t *)((char *)m + f->quantifier_offset) = i + 1;
			return -1;	/* the partial array is freed with m */
		}
	return 0;
}

/* Field f of m from v, marking it present (has_* or the oneof case). */
static int
set_field(const ProtobufCFieldDescriptor *f, ProtobufCMessage *m, json_t *v,
    int depth, struct event_error *err)
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
read_msg(const ProtobufCMessageDescriptor *d, json_t *obj, int depth,
    struct event_error *err)
{
	const ProtobufCFieldDescriptor	*f;
	ProtobufCMessage		*m;
	const char			*k;
	json_t				*v;

	if (depth > OTLP_MAX_DEPTH) {
		event_fail(err, NULL, "nesting deeper than %d levels",
		    OTLP_MAX_DEPTH);
		return NULL;
	}
	if (!json_is_object(obj)) {
		event_fail(err, NULL, "%s must be a JSON object",
		    d->short_name);
		return NULL;
	}
	if ((m = calloc(1, d->sizeof_message)) == NULL) {
		event_fail(err, NULL, "out of memory");
		return NULL;
	}
	protobuf_c_message_init(d, m);
	json_object_foreach(obj, k, v) {
		if ((f = field_of(d, k)) == NULL || json_is_null(v))
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
	json_error_t		 jerr;
	json_t			*v;

	err->msg[0] = '\0';
	if ((v = json_loadb(text, len, 0, &jerr)) == NULL) {
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			event_fail(err, NULL, "invalid UTF-8");
		else
			event_fail(err, NULL, "malformed JSON: %s at line %d "
			    "column %d", jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	m = read_msg(d, v, 1, err);
	json_decref(v);
	return m;
}
