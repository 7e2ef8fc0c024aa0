/*
 * enc_oct.c: the JSON envelope of SPEC section 6, the first push encoder
 * (push.h).
 *
 * A row's data object holds trace_id, event_id, received_at, its fields
 * in event_defs order, attributes and truncated; a NULL column is left
 * out, and so is a null member of an object in attributes or labels.
 * Those are the bytes SQLite's json_patch('{}', json_object(...)) made
 * when the store built them: strings escaped as SQLite escapes them, reals
 * as its "%!.15g". One writer serves both size and body (with no buffer it
 * only counts), so a body is exactly as long as split.c was told.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event.h"
#include "push.h"

#define PREFIX_FMT	"{\"agent\":{\"id\":\"%s\",\"host\":%s,\"version\":\"%s\"}," \
			"\"batch_id\":\"%s\",\"sent_at\":%lld,\"events\":["

_Static_assert(sizeof(((struct push_row *)0)->v) ==
    sizeof(((struct event *)0)->v), "a push_row has an event's fields");

/*
 * Bytes written so far; with p NULL only counted. A body's buffer grows
 * as it is written (cap), rather than be sized by a pass of its own over
 * the rows; on no memory p goes NULL and oom is set.
 */
struct out {
	char	*p;
	size_t	 n, cap;
	int	 oom;
};

/* Room for len more bytes at p, or p freed and oom set. */
static void __attribute__((noinline))
grow(struct out *o, size_t len)
{
	size_t	 cap = o->cap * 2 > o->n + len ? o->cap * 2 : o->n + len;
	char	*np = realloc(o->p, cap);

	if (np == NULL) {
		free(o->p);
		o->p = NULL;
		o->oom = 1;
		return;
	}
	o->p = np;
	o->cap = cap;
}

static inline void
put(struct out *o, const char *s, size_t len)
{
	if (o->p != NULL) {
		if (o->n + len > o->cap)
			grow(o, len);
		if (o->p != NULL)
			memcpy(o->p + o->n, s, len);
	}
	o->n += len;
}

static void
put_s(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/*
 * Does any of the 8 bytes of w need escaping: '"', '\\' or below 0x20?
 * (The "has a zero byte" and "has a byte below n" word tricks; exact.)
 */
static int
word_special(uint64_t w)
{
	const uint64_t	ones = 0x0101010101010101ULL;
	const uint64_t	high = 0x8080808080808080ULL;
	uint64_t	q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return (((q - ones) & ~q) | ((b - ones) & ~b) |
	    ((w - ones * 0x20) & ~w)) & high ? 1 : 0;
}

/*
 * A JSON string, escaped as SQLite's json_object does. Eight bytes at a
 * time while none needs escaping (most text), as this runs for every
 * string of every event in sizing, cutting and building a body.
 */
static void
put_str(struct out *o, const char *s, size_t len)
{
	static const char	 special[32] = { ['\b'] = 'b', ['\t'] = 't',
				    ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r' };
	static const char	 hex[] = "0123456789abcdef";
	char			 esc[6] = { '\\', 'u', '0', '0' };
	size_t			 i = 0, start = 0;
	uint64_t		 w;
	unsigned char		 c;

	put(o, "\"", 1);
	while (i < len) {
		if (len - i >= 8) {
			memcpy(&w, s + i, 8);
			if (!word_special(w)) {
				i += 8;
				continue;
			}
		}
		c = (unsigned char)s[i++];
		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		put(o, s + start, i - 1 - start);
		start = i;
		if (c >= 0x20 || special[c]) {
			esc[1] = c >= 0x20 ? (char)c : special[c];
			put(o, esc, 2);
		} else {
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			put(o, esc, 6);
		}
	}
	put(o, s + start, len - start);
	put(o, "\"", 1);
}

/* Decimal digits of v into the end of b[24]; returns where they start. */
static char *
digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

static void
put_int(struct out *o, int64_t v)
{
	char	 b[24], *p;

	p = digits(b + sizeof(b), v < 0 ? -(uint64_t)v : (uint64_t)v);
	if (v < 0)
		*--p = '-';
	put(o, p, (size_t)(b + sizeof(b) - p));
}

/*
 * "%.15g" of r without printf, when that is plainly exact: 1e-4 <= |r|
 * < 1e15 (no exponent form) and r scaled to 15 significant digits is not
 * near a rounding tie (the scaling's error is under 0.07 of a unit).
 * Writes b and returns its length, or 0: let snprintf do it.
 */
static int
fast_g15(double r, char *b)
{
	static const double	 p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
				    1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
				    1e14, 1e15, 1e16, 1e17, 1e18 };
	static const double	 up[] = { 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2,
				    1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
				    1e11, 1e12, 1e13, 1e14 };
	char			 d[24], *p, *q = b;
	double			 a = r < 0 ? -r : r, x, f;
	uint64_t		 m;
	int			 e, n, point;

	if (!(a >= 1e-4 && a < 1e15))
		return 0;
	for (e = -4; e < 14 && a >= up[e + 4]; e++)
		;
	/*
	 * Now 10^e <= a < 10^(e+1) (else m is not 15 digits below): its
	 * 15 digits are a * 10^(14-e), a power of ten that is exact.
	 */
	x = a * p10[14 - e];
	f = x - (double)(uint64_t)x;
	if (f > 0.43 && f < 0.57)
		return 0;
	m = (uint64_t)x + (f >= 0.5);
	if (m < 100000000000000ULL || m >= 1000000000000000ULL)
		return 0;
	p = digits(d + sizeof(d), m);		/* 15 digits */
	n = 15;
	while (n > 1 && p[n - 1] == '0')
		n--;
	if (r < 0)
		*q++ = '-';
	if (e < 0) {
		memcpy(q, "0.", 2);
		q += 2;
		for (point = e + 1; point < 0; point++)
			*q++ = '0';
		memcpy(q, p, (size_t)n);
		q += n;
	} else {
		point = e + 1;
		memcpy(q, p, (size_t)point);
		q += point;
		*q++ = '.';
		if (n > point) {
			memcpy(q, p + point, (size_t)(n - point));
			q += n - point;
		} else
			*q++ = '0';
	}
	return (int)(q - b);
}

/*
 * A real as SQLite's "%!.15g": always a decimal point ("12.0",
 * "1.0e+20"), no sign on zero. Values are finite (ingestd checks).
 */
static void
put_real(struct out *o, double r)
{
	char	 b[48], *e;
	int	 n;

	if ((n = fast_g15(r, b)) > 0) {
		put(o, b, (size_t)n);
		return;
	}
	n = snprintf(b, sizeof(b) - 2, "%.15g", r == 0 ? 0.0 : r);
	if (strchr(b, '.') == NULL) {
		e = strchr(b, 'e');
		if (e == NULL)
			e = b + n;
		memmove(e + 2, e, strlen(e) + 1);
		memcpy(e, ".0", 2);
		n += 2;
	}
	put(o, b, (size_t)n);
}

/* Drop the null members of o, and of the objects in it (not in arrays). */
static void
drop_nulls(json_t *o)
{
	const char	*k;
	json_t		*v;
	void		*next;

	json_object_foreach_safe(o, next, k, v) {
		if (json_is_null(v))
			json_object_del(o, k);
		else if (json_is_object(v))
			drop_nulls(v);
	}
}

/*
 * A JSON object that ingestd stored (jansson's compact text): as it is,
 * but that json_patch dropped the null members of objects. Only text
 * with a null in it is parsed again, so the common case is a copy.
 */
static void
put_json(struct out *o, const char *text)
{
	json_t	*j;
	char	*s = NULL;

	if (strstr(text, "null") != NULL &&
	    (j = json_loads(text, 0, NULL)) != NULL) {
		drop_nulls(j);
		s = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	put_s(o, s != NULL ? s : text);
	free(s);
}

static void
put_key(struct out *o, const char *name)
{
	put(o, ",\"", 2);
	put_s(o, name);
	put(o, "\":", 2);
}

/* The data object of r. */
static void
put_data(struct out *o, const struct push_row *r)
{
	const struct event_def		*d = &event_defs[r->kind];
	const struct event_value	*v;
	size_t				 i;

	put_s(o, "{\"trace_id\":");
	put_str(o, r->trace_id, strlen(r->trace_id));
	if (r->event_id != NULL) {
		put_key(o, "event_id");
		put_str(o, r->event_id, strlen(r->event_id));
	}
	put_key(o, "received_at");
	put_int(o, r->received_at);
	for (i = 0; i < d->nfields; i++) {
		v = &r->v[i];
		if (v->tag == V_NULL)
			continue;
		put_key(o, d->fields[i].name);
		if (v->tag == V_INT)
			put_int(o, v->i);
		else if (v->tag == V_REAL)
			put_real(o, v->r);
		else if (d->fields[i].type == F_LABELS)
			put_json(o, v->s);
		else
			put_str(o, v->s, v->len);
	}
	if (r->attributes != NULL) {
		put_key(o, "attributes");
		put_json(o, r->attributes);
	}
	put_key(o, "truncated");
	put_int(o, r->truncated);
	put(o, "}", 1);
}

/* One event of the events array, without its separator. */
static void
put_event(struct out *o, const struct push_row *r)
{
	put_s(o, "{\"type\":\"");
	put_s(o, event_defs[r->kind].type);
	put_s(o, "\",\"trace_id\":\"");
	put_s(o, r->trace_id);
	put_s(o, "\",\"received_at\":");
	put_int(o, r->received_at);
	put_s(o, ",\"data\":");
	put_data(o, r);
	put(o, "}", 1);
}

static size_t
oct_event_len(const struct push_row *r)
{
	struct out o = { NULL, 0, 0, 0 };

	put_event(&o, r);
	return o.n + 1;				/* "," */
}

static size_t
oct_overhead(const struct agent_info *a)
{
	int n = snprintf(NULL, 0, PREFIX_FMT, a->id, a->host, a->version,
	    "00000000-0000-0000-0000-000000000000", 99999999999999LL);

	return (size_t)n + 2;			/* "]}" */
}

static char *
oct_body(const struct agent_info *a, const char *batch_id,
    const struct push_row *rows, int n, int64_t sent_at, size_t *len)
{
	struct out	 o = { NULL, 0, 0, 0 };
	int		 i;

	/* the prefix fits: overhead() counts it at its widest */
	o.cap = oct_overhead(a) + 16 + (size_t)n * 1536;
	if ((o.p = malloc(o.cap)) == NULL)
		return NULL;
	o.n = (size_t)snprintf(o.p, o.cap, PREFIX_FMT, a->id, a->host,
	    a->version, batch_id, (long long)sent_at);
	for (i = 0; i < n; i++) {
		if (i > 0)
			put(&o, ",", 1);
		put_event(&o, &rows[i]);
	}
	put(&o, "]}", 3);
	if (o.oom)
		return NULL;
	*len = o.n - 1;
	return o.p;
}

/* {"rejected":[{"trace_id":...,"reason":...}, ...]}, or anything else. */
static void
oct_answer(const char *body, size_t len, push_reject_cb rejected, void *arg)
{
	json_t		*o = json_loads(body, 0, NULL), *x;
	const char	*id, *why;
	size_t		 i;

	(void)len;
	json_array_foreach(json_object_get(o, "rejected"), i, x) {
		id = json_string_value(json_object_get(x, "trace_id"));
		why = json_string_value(json_object_get(x, "reason"));
		if (id != NULL)
			rejected(id, why != NULL ? why :
			    "rejected by the collector", arg);
	}
	json_decref(o);
}

const struct push_encoder enc_oct = {
	.name = "oct",
	.content_type = "application/json",
	.overhead = oct_overhead,
	.event_len = oct_event_len,
	.body = oct_body,
	.answer = oct_answer,
	.error_text = NULL,
	.unwell = NULL,
};
