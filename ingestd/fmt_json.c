/*
 * fmt_json.c: the JSON API of SPEC section 4 as an ingest format.
 *
 * A body is one object or a non-empty array of objects (common/json.c:
 * UTF-8 checked, at most 64 levels deep). Each object becomes one struct event
 * of the path's kind: fields by name or alias (the canonical name wins),
 * event_id, and every other key gathered into attributes (an explicit
 * "attributes" object wins on a clash). Values are handed over as the
 * parse tree holds them; only input/output given as other JSON values,
 * labels and attributes are serialised again (in the tree's arena).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>	/* the error answer only */

#include "json.h"
#include "ingestd.h"

#define MAX_DEPTH	64

struct jbody {
	struct jv_doc		*doc;
	const struct jv_val	*body;
	enum event_kind		 kind;
	int			 arr;
	struct jv_member	*extra;		/* the current item's extras */
};

static void
json_close(void *h)
{
	struct jbody *j = h;

	if (j == NULL)
		return;
	free(j->extra);
	jv_free(j->doc);
	free(j);
}

/*
 * Parse body (len bytes) as one object or a non-empty array of objects,
 * checked as a whole (json.h's rules: UTF-8, depth, numbers, \u0000); the
 * items are checked by json_item(). Returns the handle (json_close() frees
 * it) with info->n items, or NULL with err. f gives the kind; c is not
 * used.
 */
static void *
json_open(const struct ingest_fmt *f, const struct conf *c, const char *body,
    size_t len, struct fmt_info *info, struct event_error *err)
{
	struct jbody		*j;
	struct jv_err		 jerr;
	struct jv_doc		*d;
	const struct jv_val	*v;

	(void)c;
	if ((d = jv_parse(body, len, MAX_DEPTH, &jerr)) == NULL) {
		event_fail(err, NULL, "%s", jerr.msg);
		return NULL;
	}
	v = jv_root(d);
	if (v->type != JV_OBJECT && v->type != JV_ARRAY)
		event_fail(err, NULL, "body must be an object or an array of "
		    "objects");
	else if (v->type == JV_ARRAY && v->n == 0)
		event_fail(err, NULL, "empty array");
	else if ((j = calloc(1, sizeof(*j))) == NULL)
		event_fail(err, NULL, "out of memory");
	else {
		j->doc = d;
		j->body = v;
		j->kind = f->kind;
		j->arr = v->type == JV_ARRAY;
		info->n = j->arr ? v->n : 1;
		return j;
	}
	jv_free(d);
	return NULL;
}

static int
labels_ok(const struct jv_val *v)
{
	size_t i;

	if (v->type != JV_OBJECT)
		return 0;
	for (i = 0; i < v->n; i++)
		if (v->u.m[i].v.type != JV_STRING)
			return 0;
	return 1;
}

/* Hand field fi's value v over as the model's value. */
static void
put(struct jbody *j, struct event_value *ev, int fi, const char *key,
    const struct jv_val *v)
{
	enum field_type t = event_defs[j->kind].fields[fi].type;

	memset(ev, 0, sizeof(*ev));
	ev->key = key;
	if (v->type == JV_STRING) {
		ev->tag = V_TEXT;
		ev->s = v->u.s;
		ev->len = v->n;
	} else if (v->type == JV_NULL)
		ev->tag = V_NULL;
	else if (t == F_ANYTEXT || t == F_LABELS) {
		ev->tag = V_JSON;
		ev->i = t == F_LABELS && labels_ok(v);
		ev->s = jv_dump(j->doc, v, &ev->len);
		if (ev->s == NULL)
			ev->len = 0;
	} else if (v->type == JV_INT) {
		ev->tag = V_INT;
		ev->i = v->u.i;
	} else if (v->type == JV_REAL) {
		ev->tag = V_REAL;
		ev->r = v->u.r;
	} else if (v->type == JV_TRUE || v->type == JV_FALSE) {
		ev->tag = V_BOOL;
		ev->i = v->type == JV_TRUE;
	} else
		ev->tag = V_JSON;	/* refused by every other field type */
}

/* The event's attributes: the unknown keys, then the explicit object. */
static int
attributes(struct jbody *j, struct event *e, const struct jv_val *extra,
    const struct jv_val *explicit, struct event_error *err)
{
	size_t len;

	if (extra->n == 0 && (explicit == NULL || explicit->n == 0))
		return 0;
	if ((e->attributes = jv_dump_merged(j->doc, extra, explicit,
	    &len)) == NULL)
		return event_fail(err, "attributes", "%s",
		    "attributes cannot be stored");
	return 0;
}

/* One key that is not a field: event_id, attributes or an extra. */
static int
other_key(struct event *e, const struct jv_member *m,
    struct jv_val *extra, const struct jv_val **explicit,
    struct event_error *err)
{
	const struct jv_val *v = &m->v;

	if (strcmp(m->key, "event_id") == 0) {
		if (v->type != JV_NULL && (v->type != JV_STRING ||
		    !event_id_ok(v->n)))
			return event_fail(err, "event_id", "%s must be a "
			    "string of 1 to 128 bytes", "event_id");
		e->event_id = v->type == JV_STRING ? v->u.s : NULL;
	} else if (strcmp(m->key, "attributes") == 0) {
		if (v->type != JV_NULL && v->type != JV_OBJECT)
			return event_fail(err, "attributes", "%s must be an "
			    "object", "attributes");
		*explicit = v->type == JV_OBJECT ? v : NULL;
	} else
		extra->u.m[extra->n++] = *m;
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
	struct jbody		*j = h;
	const struct jv_val	*obj, *explicit = NULL;
	struct jv_val		 extra = { .type = JV_OBJECT };
	const struct jv_member *m;
	char			 seen[EVENT_MAX_FIELDS] = { 0 };
	char			 from_alias[EVENT_MAX_FIELDS] = { 0 };
	size_t			 k;
	int			 fi, alias;

	(void)ids;
	event_init(e, j->kind, 0);
	obj = j->arr ? &j->body->u.m[i].v : j->body;
	if (obj->type != JV_OBJECT)
		return event_fail(err, NULL, "%s",
		    "an event must be a JSON object");
	free(j->extra);
	if ((j->extra = malloc((obj->n + 1) * sizeof(*j->extra))) == NULL)
		return event_fail(err, NULL, "%s", "out of memory");
	extra.u.m = j->extra;
	for (k = 0; k < obj->n; k++) {
		m = &obj->u.m[k];
		if ((fi = event_field(j->kind, m->key, &alias)) < 0) {
			if (other_key(e, m, &extra, &explicit, err) == -1)
				return -1;
			continue;
		}
		if (alias && seen[fi] && !from_alias[fi])
			continue;	/* the canonical name wins */
		seen[fi] = 1;
		from_alias[fi] = (char)alias;
		put(j, &e->v[fi], fi, m->key, &obj->u.m[k].v);
	}
	return attributes(j, e, &extra, explicit, err);
}

/* {"accepted":N,"trace_ids":[...]}: in one pass, no printf per id. */
static char *
json_accepted(void *h, char (*ids)[UUID_STR_LEN], size_t n, size_t refused,
    const char *why, size_t *len)
{
	static const char	 ids_key[] = ",\"trace_ids\":[";
	char			*s = malloc(40 + n * (UUID_STR_LEN + 3)), *p;
	size_t			 i, k;

	(void)h;
	(void)refused;		/* never: all or nothing */
	(void)why;
	if (s == NULL)
		return NULL;
	p = s + sprintf(s, "{\"accepted\":%zu", n);
	memcpy(p, ids_key, sizeof(ids_key) - 1);
	p += sizeof(ids_key) - 1;
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		k = strlen(ids[i]);
		memcpy(p, ids[i], k);
		p += k;
		*p++ = '"';
	}
	memcpy(p, "]}\n", 4);
	*len = (size_t)(p + 3 - s);
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
