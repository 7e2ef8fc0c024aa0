/*
 * event.c: the event table and the model -> frame -> row path (see event.h).
 *
 * Built for the ingest hot path: a decoder's values are checked and
 * appended straight into the frame, with no copy of their text. Nothing
 * here knows a wire format: the decoders of ingestd/fmt_*.c do.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "event.h"
#include "msg.h"

static const char *const status_choices[] = { "ok", "error", NULL };
static const char *const level_choices[] = { "debug", "info", "warning",
	"error", "fatal", NULL };
static const char *const kind_choices[] = { "gauge", "counter", NULL };
static const char *const model_aliases[] = { "gen_ai.request.model", NULL };
static const char *const provider_aliases[] = { "gen_ai.system",
	"gen_ai.provider.name", NULL };
static const char *const operation_aliases[] = { "gen_ai.operation.name",
	NULL };
static const char *const prompt_aliases[] = { "gen_ai.usage.input_tokens",
	NULL };
static const char *const completion_aliases[] = {
	"gen_ai.usage.output_tokens", NULL };
static const char *const cached_aliases[] = {
	"gen_ai.usage.cache_read.input_tokens", NULL };

static const struct field trace_fields[] = {
	{ "model", F_STR, 1, NULL, NULL, model_aliases, 0 },
	{ "provider", F_STR, 0, NULL, NULL, provider_aliases, 0 },
	{ "operation", F_STR, 0, NULL, NULL, operation_aliases, 0 },
	{ "input", F_ANYTEXT, 0, NULL, NULL, NULL, 0 },
	{ "output", F_ANYTEXT, 0, NULL, NULL, NULL, 0 },
	{ "prompt_tokens", F_UINT, 0, NULL, NULL, prompt_aliases, 0 },
	{ "completion_tokens", F_UINT, 0, NULL, NULL, completion_aliases, 0 },
	{ "total_tokens", F_UINT, 0, NULL, NULL, NULL, 0 },
	{ "cached_tokens", F_UINT, 0, NULL, NULL, cached_aliases, 0 },
	{ "latency_ms", F_NUM, 0, NULL, NULL, NULL, 0 },
	{ "cost_usd", F_NUM, 0, NULL, NULL, NULL, 0 },
	{ "status", F_ENUM, 0, status_choices, "ok", NULL, 0 },
	{ "error_message", F_TEXT, 0, NULL, NULL, NULL, 0 },
	{ "started_at", F_TIME, 0, NULL, NULL, NULL, 0 },
	{ "service", F_STR, 0, NULL, NULL, NULL, 0 },
	{ "session_id", F_STR, 0, NULL, NULL, NULL, 0 },
	{ "user_id", F_STR, 0, NULL, NULL, NULL, 0 },
	/* section 4.1: client, table or NULL; set by ingestd's cost.c */
	{ "cost_source", F_STR, 0, NULL, NULL, NULL, 1 },
};

static const struct field error_fields[] = {
	{ "message", F_TEXT, 1, NULL, NULL, NULL, 0 },
	{ "type", F_STR, 0, NULL, NULL, NULL, 0 },
	{ "stack", F_TEXT, 0, NULL, NULL, NULL, 0 },
	{ "level", F_ENUM, 0, level_choices, "error", NULL, 0 },
	{ "service", F_STR, 0, NULL, NULL, NULL, 0 },
	{ "fingerprint", F_STR, 0, NULL, NULL, NULL, 0 },
	{ "trace_ref", F_STR, 0, NULL, NULL, NULL, 0 },
	{ "occurred_at", F_TIME, 0, NULL, NULL, NULL, 0 },
};

static const struct field metric_fields[] = {
	{ "name", F_STR, 1, NULL, NULL, NULL, 0 },
	{ "value", F_REAL, 1, NULL, NULL, NULL, 0 },
	{ "unit", F_STR, 0, NULL, NULL, NULL, 0 },
	{ "kind", F_ENUM, 0, kind_choices, "gauge", NULL, 0 },
	{ "labels", F_LABELS, 0, NULL, NULL, NULL, 0 },
	{ "ts", F_TIME, 0, NULL, NULL, NULL, 0 },
};

#define NF(a)	(sizeof(a) / sizeof(a[0]))
const struct event_def event_defs[EV_NKINDS] = {
	[EV_TRACE] = { "llm_trace", "llm_traces", trace_fields,
	    NF(trace_fields) },
	[EV_ERROR] = { "error_event", "error_events", error_fields,
	    NF(error_fields) },
	[EV_METRIC] = { "system_metric", "system_metrics", metric_fields,
	    NF(metric_fields) },
};


static int
two_digits(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

/* YYYY-MM-DD[Tt ]hh:mm:ss[.frac](Z|z|+hh:mm|-hh:mm) */
int
event_parse_time(const char *s, int64_t *ms)
{
	struct tm	tm;
	int		y1, y2, mo, d, h, mi, sec, oh, om, frac = 0, scale = 100;
	int64_t		t;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 20 || two_digits(s, &y1) || two_digits(s + 2, &y2) ||
	    s[4] != '-' || two_digits(s + 5, &mo) || s[7] != '-' ||
	    two_digits(s + 8, &d) || (s[10] != 'T' && s[10] != 't' &&
	    s[10] != ' ') || two_digits(s + 11, &h) || s[13] != ':' ||
	    two_digits(s + 14, &mi) || s[16] != ':' || two_digits(s + 17, &sec))
		return -1;
	s += 19;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	tm.tm_year = y1 * 100 + y2 - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		oh = om = 0;
	else if ((*s == '+' || *s == '-') && two_digits(s + 1, &oh) == 0 &&
	    s[3] == ':' && two_digits(s + 4, &om) == 0 && s[6] == '\0' &&
	    oh < 24 && om < 60) {
		if (*s == '-') {
			oh = -oh;
			om = -om;
		}
	} else
		return -1;
	t -= (int64_t)oh * 3600 + (int64_t)om * 60;
	*ms = t * 1000 + frac;
	return 0;
}

/*
 * event_field()'s table: every name and alias of each kind's fields (not
 * the derived ones: a client's is an attribute) in open addressing, built
 * on first use; the first field to claim a name keeps it, as a walk of the
 * table in order would find it. Names are looked up for every key of
 * every event: a walk with strcmp cost 8,000 instructions an event.
 */
#define FIELD_SLOTS	128	/* a power of two, over twice the names */

struct field_slot {
	const char	*name;
	signed char	 fi;
	char		 alias;
};

static struct field_slot field_slots[EV_NKINDS][FIELD_SLOTS];
static int		 field_slots_built;

static size_t
name_hash(const char *name, size_t len)
{
	size_t h = len;

	/* the names differ in their length, first and last bytes */
	if (len > 0)
		h = h * 31 + (unsigned char)name[0] * 7 +
		    (unsigned char)name[len - 1] + (unsigned char)name[len / 2];
	return h & (FIELD_SLOTS - 1);
}

static void
field_slot_add(enum event_kind kind, const char *name, int fi, int alias)
{
	struct field_slot	*t = field_slots[kind];
	size_t			 h = name_hash(name, strlen(name));

	for (; t[h].name != NULL; h = (h + 1) & (FIELD_SLOTS - 1))
		if (strcmp(t[h].name, name) == 0)
			return;
	t[h].name = name;
	t[h].fi = (signed char)fi;
	t[h].alias = (char)alias;
}

static void
field_slots_build(void)
{
	const struct event_def	*d;
	size_t			 k, i, j;

	for (k = 0; k < EV_NKINDS; k++) {
		d = &event_defs[k];
		for (i = 0; i < d->nfields; i++) {
			if (d->fields[i].derived)
				continue;
			field_slot_add(k, d->fields[i].name, (int)i, 0);
			for (j = 0; d->fields[i].aliases &&
			    d->fields[i].aliases[j]; j++)
				field_slot_add(k, d->fields[i].aliases[j],
				    (int)i, 1);
		}
	}
	field_slots_built = 1;
}

int
event_field(enum event_kind kind, const char *key, int *alias)
{
	const struct field_slot	*t = field_slots[kind];
	size_t			 h;

	if (!field_slots_built)
		field_slots_build();
	for (h = name_hash(key, strlen(key)); t[h].name != NULL;
	    h = (h + 1) & (FIELD_SLOTS - 1))
		if (strcmp(t[h].name, key) == 0) {
			*alias = t[h].alias;
			return t[h].fi;
		}
	return -1;
}

int
event_column(enum event_kind kind, const char *name)
{
	const struct event_def	*d = &event_defs[kind];
	size_t			 i;

	for (i = 0; i < d->nfields; i++)
		if (strcmp(d->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
event_fail(struct event_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	return -1;
}

int
event_id_ok(size_t len)
{
	return len > 0 && len <= EVENT_ID_MAX;
}

void
event_init(struct event *e, enum event_kind kind, int64_t received_at)
{
	memset(e, 0, sizeof(*e));	/* V_NULL is 0 */
	e->kind = kind;
	e->received_at = received_at;
}

static void
add_text(struct msgb *b, const char *s, size_t len, size_t max, int cut,
    int *truncated)
{
	size_t n = cut ? utf8_cut(s, len, max) : len;

	if (n < len)
		*truncated = 1;
	msg_add_u8(b, V_TEXT);
	msg_add_strn(b, s, n);
}

/*
 * A timestamp given as a number (SPEC section 4): below 10^11 it is Unix
 * seconds, fractions allowed (time.time()), rounded to the nearest
 * millisecond; at or above, Unix milliseconds. 10^11 s is the year 5138,
 * 10^11 ms is March 1973: no date anyone sends is ambiguous. Returns 0,
 * or -1 for a number out of range (|ms| up to 9e15, as doubles stay exact).
 */
static int
number_time(double v, int64_t *ms)
{
	if (!isfinite(v))
		return -1;
	if (v < 1e11)
		v *= 1000;
	if (fabs(v) >= 9e15)
		return -1;
	*ms = (int64_t)llround(v);
	return 0;
}

/* "KEY must be one of A, B, C": the error names the allowed values. */
static int
fail_choices(struct event_error *err, const char *key,
    const char *const *choices)
{
	char	list[100];
	size_t	i, off = 0;

	list[0] = '\0';
	for (i = 0; choices[i] != NULL && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    i > 0 ? ", " : "", choices[i]);
	return event_fail(err, key, "%s must be one of %s", key, list);
}

static int
is_number(const struct event_value *v)
{
	return v->tag == V_INT || v->tag == V_REAL;
}

static double
number(const struct event_value *v)
{
	return v->tag == V_INT ? (double)v->i : v->r;
}

/* F_ANYTEXT: a string as it is, any other value as its JSON text. */
static int
add_anytext(struct msgb *b, const struct event_value *v, const char *key,
    size_t max, int *truncated, struct event_error *err)
{
	char	num[40];
	int	n;

	switch (v->tag) {
	case V_TEXT:
	case V_JSON:
		if (v->s == NULL)
			break;
		add_text(b, v->s, v->len, max, 1, truncated);
		return 0;
	case V_BOOL:
		add_text(b, v->i ? "true" : "false", v->i ? 4 : 5, max, 1,
		    truncated);
		return 0;
	case V_INT:
		n = snprintf(num, sizeof(num), "%lld", (long long)v->i);
		add_text(b, num, (size_t)n, max, 1, truncated);
		return 0;
	case V_REAL:
		if (!isfinite(v->r))
			break;
		n = snprintf(num, sizeof(num), "%.17g", v->r);
		add_text(b, num, (size_t)n, max, 1, truncated);
		return 0;
	default:
		break;
	}
	return event_fail(err, key, "%s cannot be stored", key);
}

/* Append an absent value of field f. Returns 0, or -1 if f is required. */
static int
add_absent(struct msgb *b, const struct field *f, struct event_error *err)
{
	if (f->required)
		return event_fail(err, f->name, "missing required field %s",
		    f->name);
	if (f->type == F_ENUM) {
		msg_add_u8(b, V_TEXT);
		msg_add_str(b, f->def);
	} else
		msg_add_u8(b, V_NULL);
	return 0;
}

/* Append field f's value v to b. Returns 0 or -1 with err. */
static int
add_value(struct msgb *b, const struct field *f, const struct event_value *v,
    size_t max, int *truncated, struct event_error *err)
{
	const char	*key = v->key != NULL ? v->key : f->name;
	int64_t		 t;
	size_t		 i;

	if (v->tag == V_NULL)
		return add_absent(b, f, err);
	switch (f->type) {
	case F_STR:
	case F_TEXT:
		if (v->tag != V_TEXT)
			return event_fail(err, key, "%s must be a string", key);
		add_text(b, v->s, v->len, max, f->type == F_TEXT, truncated);
		return 0;
	case F_ANYTEXT:
		return add_anytext(b, v, key, max, truncated, err);
	case F_UINT:
		if (v->tag != V_INT || v->i < 0)
			return event_fail(err, key,
			    "%s must be an integer >= 0", key);
		msg_add_u8(b, V_INT);
		msg_add_i64(b, v->i);
		return 0;
	case F_NUM:
	case F_REAL:
		if (!is_number(v) || !isfinite(number(v)) ||
		    (f->type == F_NUM && number(v) < 0))
			return event_fail(err, key, f->type == F_NUM ?
			    "%s must be a number >= 0" : "%s must be a number",
			    key);
		msg_add_u8(b, V_REAL);
		msg_add_f64(b, number(v));
		return 0;
	case F_ENUM:
		for (i = 0; v->tag == V_TEXT && f->choices[i] != NULL; i++)
			if (strcmp(v->s, f->choices[i]) == 0)
				break;
		if (v->tag != V_TEXT || f->choices[i] == NULL)
			return fail_choices(err, key, f->choices);
		msg_add_u8(b, V_TEXT);
		msg_add_str(b, f->choices[i]);
		return 0;
	case F_TIME:
		if (is_number(v) ? number_time(number(v), &t) :
		    v->tag != V_TEXT || event_parse_time(v->s, &t) == -1)
			return event_fail(err, key, "%s must be an RFC 3339 "
			    "time or a Unix time in seconds or milliseconds",
			    key);
		msg_add_u8(b, V_INT);
		msg_add_i64(b, t);
		return 0;
	case F_LABELS:
		if (v->tag != V_JSON || v->i != 1 || v->s == NULL)
			return event_fail(err, key, "%s must be an object of "
			    "strings", key);
		msg_add_u8(b, V_TEXT);
		msg_add_strn(b, v->s, v->len);
		return 0;
	}
	return event_fail(err, key, "%s: unknown field type", key);
}

void
event_trace_id(enum event_kind kind, const char *event_id,
    const unsigned char *key, char out[UUID_STR_LEN])
{
	static const char	 hex[] = "0123456789abcdef";
	crypto_generichash_state st;
	unsigned char		 h[16];
	int			 i, o = 0;

	crypto_generichash_init(&st, key, EVENT_IDKEY_BYTES, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)
	    event_defs[kind].type, strlen(event_defs[kind].type) + 1);
	crypto_generichash_update(&st, (const unsigned char *)event_id,
	    strlen(event_id));
	crypto_generichash_final(&st, h, sizeof(h));
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);	/* version 4 */
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[h[i] >> 4];
		out[o++] = hex[h[i] & 0xf];
	}
	out[o] = '\0';
}

/* About the size of e's frame: its texts (cut) and 9 bytes a field. */
static size_t
frame_size(const struct event *e, const struct event_def *d,
    size_t max_text)
{
	size_t i, n = MSG_HDR_LEN + 64 + UUID_STR_LEN + 9 * d->nfields;

	if (e->event_id != NULL)
		n += strlen(e->event_id);
	if (e->attributes != NULL)
		n += strlen(e->attributes);
	for (i = 0; i < d->nfields; i++)
		if (e->v[i].tag == V_TEXT || e->v[i].tag == V_JSON)
			n += e->v[i].len < max_text ? e->v[i].len : max_text;
	return n;
}

int
event_encode(const struct event *e, const unsigned char *idkey,
    char trace_id[UUID_STR_LEN], size_t max_text, uint64_t seq,
    struct msgb *b, struct event_error *err)
{
	const struct event_def	*d = &event_defs[e->kind];
	int			 truncated = 0;
	size_t			 i, off;

	err->field[0] = '\0';
	trace_id[0] = '\0';
	if (e->event_id != NULL && !event_id_ok(strlen(e->event_id)))
		return event_fail(err, "event_id", "%s must be a string of 1 "
		    "to 128 bytes", "event_id");
	if (e->event_id != NULL && idkey != NULL)
		event_trace_id(e->kind, e->event_id, idkey, trace_id);
	else
		uuid_v4(trace_id);
	msg_init_size(b, MSG_EVENT_ADD, seq, frame_size(e, d, max_text));
	msg_add_u8(b, (uint8_t)e->kind);
	msg_add_str(b, trace_id);
	msg_add_str(b, e->event_id);
	msg_add_i64(b, e->received_at);
	off = b->len;
	msg_add_u8(b, 0);		/* truncated, patched below */
	msg_add_str(b, e->attributes);
	msg_add_u8(b, (uint8_t)d->nfields);
	for (i = 0; i < d->nfields; i++)
		if (add_value(b, &d->fields[i], &e->v[i], max_text, &truncated,
		    err) == -1)
			return -1;
	if (msg_close(b) == -1)
		return event_fail(err, NULL, "%s", "event too large");
	b->buf[off] = (uint8_t)truncated;
	return 0;
}

int
event_decode(struct msg *m, struct event *e)
{
	const struct event_def	*d;
	size_t			 i, n;
	uint8_t			 kind;

	kind = msg_get_u8(m);
	if (kind >= EV_NKINDS)
		return -1;
	d = &event_defs[kind];
	e->kind = (enum event_kind)kind;
	e->trace_id = msg_get_str(m, NULL);
	e->event_id = msg_get_str(m, NULL);
	e->received_at = msg_get_i64(m);
	e->truncated = msg_get_u8(m);
	e->attributes = msg_get_str(m, NULL);
	n = msg_get_u8(m);
	if (m->err || e->trace_id == NULL || n != d->nfields)
		return -1;
	for (i = 0; i < n; i++) {
		struct event_value *v = &e->v[i];

		v->tag = (enum val_tag)msg_get_u8(m);
		switch (v->tag) {
		case V_NULL:
			break;
		case V_INT:
			v->i = msg_get_i64(m);
			break;
		case V_REAL:
			v->r = msg_get_f64(m);
			break;
		case V_TEXT:
			v->s = msg_get_str(m, &v->len);
			if (v->s == NULL)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return msg_done(m);
}
