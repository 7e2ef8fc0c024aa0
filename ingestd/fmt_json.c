/*
 * fmt_json.c: the JSON API of SPEC section 4 as an ingest format.
 *
 * A body is one object or a non-empty array of objects (jansson, UTF-8
 * checked, at most 64 levels deep). Each object becomes one struct event
 * of the path's kind: fields by name or alias (the canonical name wins),
 * event_id, and every other key gathered into attributes (an explicit
 * "attributes" object wins on a clash). Values are handed over as jansson
 * holds them, strings unshared; only input/output given as other JSON
 * values, labels and attributes are serialised again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingestd.h"

#define MAX_DEPTH	64
#define MAX_SCRATCH	(16 + 1)	/* a dump per field, and attributes */

struct jbody {
	json_t		*body;
	enum event_kind	 kind;
	int		 arr;
	char		*scratch[MAX_SCRATCH];	/* the current item's dumps */
	size_t		 nscratch;
};

static int
too_deep(json_t *v, int depth)
{
	const char	*k;
	json_t		*x;
	size_t		 i;

	if (depth > MAX_DEPTH)
		return 1;
	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			if (too_deep(x, depth + 1))
				return 1;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (too_deep(x, depth + 1))
				return 1;
	}
	return 0;
}

static void
scratch_free(struct jbody *j)
{
	while (j->nscratch > 0)
		free(j->scratch[--j->nscratch]);
}

/* Serialise v; the text lives until the next item. NULL: out of memory. */
static char *
dump(struct jbody *j, json_t *v, size_t flags)
{
	char *s;

	if (j->nscratch == MAX_SCRATCH ||
	    (s = json_dumps(v, flags)) == NULL)
		return NULL;
	j->scratch[j->nscratch++] = s;
	return s;
}

static void
json_close(void *h)
{
	struct jbody *j = h;

	if (j == NULL)
		return;
	scratch_free(j);
	json_decref(j->body);
	free(j);
}

/*
 * Parse body (len bytes) as one object or a non-empty array of objects,
 * checked as a whole (UTF-8, depth); the items are checked by json_item().
 * Returns the handle (json_close() frees it) with info->n items, or NULL
 * with err. f gives the kind; c is not used.
 */
static void *
json_open(const struct ingest_fmt *f, const struct conf *c, const char *body,
    size_t len, struct fmt_info *info, struct event_error *err)
{
	struct jbody	*j;
	json_error_t	 jerr;
	json_t		*v;

	(void)c;
	if ((v = json_loadb(body, len, JSON_DECODE_ANY, &jerr)) == NULL) {
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			event_fail(err, NULL, "invalid UTF-8");
		else
			event_fail(err, NULL, "malformed JSON: %s at line %d "
			    "column %d", jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(v) && !json_is_array(v))
		event_fail(err, NULL, "body must be an object or an array of "
		    "objects");
	else if (too_deep(v, 1))
		event_fail(err, NULL, "nesting deeper than 64 levels");
	else if (json_is_array(v) && json_array_size(v) == 0)
		event_fail(err, NULL, "empty array");
	else if ((j = calloc(1, sizeof(*j))) == NULL)
		event_fail(err, NULL, "out of memory");
	else {
		j->body = v;
		j->kind = f->kind;
		j->arr = json_is_array(v);
		info->n = j->arr ? json_array_size(v) : 1;
		return j;
	}
	json_decref(v);
	return NULL;
}

static int
labels_ok(json_t *v)
{
	const char	*k;
	json_t		*x;

	if (!json_is_object(v))
		return 0;
	json_object_foreach(v, k, x)
		if (!json_is_string(x))
			return 0;
	return 1;
}

/* Hand field fi's value v over as the model's value. */
static void
put(struct jbody *j, struct event_value *ev, int fi, const char *key,
    json_t *v)
{
	enum field_type t = event_defs[j->kind].fields[fi].type;

	memset(ev, 0, sizeof(*ev));
	ev->key = key;
	if (json_is_string(v)) {
		ev->tag = V_TEXT;
		ev->s = json_string_value(v);
		ev->len = json_string_length(v);
	} else if (json_is_null(v))
		ev->tag = V_NULL;
	else if (t == F_ANYTEXT || t == F_LABELS) {
		ev->tag = V_JSON;
		ev->i = t == F_LABELS && labels_ok(v);
		ev->s = dump(j, v, JSON_COMPACT | JSON_ENCODE_ANY);
		ev->len = ev->s != NULL ? strlen(ev->s) : 0;
	} else if (json_is_integer(v)) {
		ev->tag = V_INT;
		ev->i = json_integer_value(v);
	} else if (json_is_real(v)) {
		ev->tag = V_REAL;
		ev->r = json_real_value(v);
	} else if (json_is_boolean(v)) {
		ev->tag = V_BOOL;
		ev->i = json_is_true(v);
	} else
		ev->tag = V_JSON;	/* refused by every other field type */
}

/* The event's attributes: the unknown keys, then the explicit object. */
static int
attributes(struct jbody *j, struct event *e, json_t *extra, json_t *explicit,
    struct event_error *err)
{
	if (explicit != NULL) {
		if (extra == NULL)
			extra = explicit;
		else
			json_object_update(extra, explicit);
	}
	if (extra == NULL || json_object_size(extra) == 0)
		return 0;
	if ((e->attributes = dump(j, extra, JSON_COMPACT)) == NULL)
		return event_fail(err, "attributes", "%s",
		    "attributes cannot be stored");
	return 0;
}

/* One key that is not a field: event_id, attributes or an extra. */
static int
other_key(struct event *e, const char *key, json_t *v, json_t **extra,
    json_t **explicit, struct event_error *err)
{
	if (strcmp(key, "event_id") == 0) {
		if (!json_is_null(v) && (!json_is_string(v) ||
		    !event_id_ok(json_string_length(v))))
			return event_fail(err, "event_id", "%s must be a "
			    "string of 1 to 128 bytes", "event_id");
		e->event_id = json_string_value(v);
	} else if (strcmp(key, "attributes") == 0) {
		if (!json_is_null(v) && !json_is_object(v))
			return event_fail(err, "attributes", "%s must be an "
			    "object", "attributes");
		*explicit = json_is_object(v) ? v : NULL;
	} else {
		if (*extra == NULL && (*extra = json_object()) == NULL)
			return event_fail(err, NULL, "%s", "out of memory");
		json_object_set(*extra, key, v);
	}
	return 0;
}

/*
 * Item i as an event of the path's kind: one pass over its keys in their
 * order, so that an error is the first one a reader of the object meets.
 * Returns 0, or -1 with err.
 */
static int
json_item(void *h, size_t i, char (*ids)[UUID_STR_LEN], struct event *e,
    struct event_error *err)
{
	struct jbody	*j = h;
	json_t		*obj, *v, *extra = NULL, *explicit = NULL;
	const char	*key;
	char		 seen[EVENT_MAX_FIELDS] = { 0 };
	char		 from_alias[EVENT_MAX_FIELDS] = { 0 };
	int		 fi, alias, r = -1;

	(void)ids;
	scratch_free(j);
	event_init(e, j->kind, 0);
	obj = j->arr ? json_array_get(j->body, i) : j->body;
	if (!json_is_object(obj))
		return event_fail(err, NULL, "%s",
		    "an event must be a JSON object");
	json_object_foreach(obj, key, v) {
		if ((fi = event_field(j->kind, key, &alias)) < 0) {
			if (other_key(e, key, v, &extra, &explicit, err) == -1)
				goto done;
			continue;
		}
		if (alias && seen[fi] && !from_alias[fi])
			continue;	/* the canonical name wins */
		seen[fi] = 1;
		from_alias[fi] = (char)alias;
		put(j, &e->v[fi], fi, key, v);
	}
	r = attributes(j, e, extra, explicit, err);
done:
	json_decref(extra);
	return r;
}

/* {"accepted":N,"trace_ids":[...]} */
static char *
json_accepted(void *h, char (*ids)[UUID_STR_LEN], size_t n, size_t refused,
    const char *why, size_t *len)
{
	char	*s = malloc(40 + n * (UUID_STR_LEN + 3));
	size_t	 i, off;

	(void)h;
	(void)refused;		/* never: all or nothing */
	(void)why;
	if (s == NULL)
		return NULL;
	off = (size_t)sprintf(s, "{\"accepted\":%zu,\"trace_ids\":[", n);
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(s + off, "%s\"%s\"", i ? "," : "", ids[i]);
	off += (size_t)sprintf(s + off, "]}\n");
	*len = off;
	return s;
}

/* {"error":msg[,"index":i][,"field":f]}: index only for an array. */
static char *
json_error(void *h, int status, const char *msg, long index,
    const char *field, size_t *len)
{
	struct jbody	*j = h;
	json_t		*o = json_pack("{s:s}", "error", msg);
	char		*text, *s = NULL;
	size_t		 n;

	(void)status;
	if (o != NULL && index >= 0 && j != NULL && j->arr)
		json_object_set_new(o, "index", json_integer(index));
	if (o != NULL && field != NULL)
		json_object_set_new(o, "field", json_string(field));
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text != NULL && (s = malloc((n = strlen(text)) + 2)) != NULL) {
		memcpy(s, text, n);
		memcpy(s + n, "\n", 2);
		*len = n + 1;
	}
	free(text);
	return s;
}

const struct fmt_ops fmt_json = {
	.answer_type = "application/json",
	.queued_status = 202,
	.open = json_open,
	.item = json_item,
	.close = json_close,
	.accepted = json_accepted,
	.error = json_error,
};
