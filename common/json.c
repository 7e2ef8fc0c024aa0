/*
 * json.c: the data plane's JSON parser (json.h states the rules), on yajl's
 * callback API: yajl tokenises and checks the grammar, this file builds a
 * compact tree in one arena and applies oct's rules (strict UTF-8, depth
 * counting containers, exact int64, last duplicate key wins, no \u0000),
 * which json_check.c holds apart from the parser (json_int.h). The only
 * file that knows the parser is yajl.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json_int.h"

#define CHUNK	(64 * 1024)

struct chunk {
	struct chunk	*next;
	size_t		 used, cap;
	char		 mem[];
};

struct frame {
	size_t		 start;		/* first member on the value stack */
	const char	*key;		/* this container's own key, if any */
	size_t		 klen;
	int		 obj;
};

struct jv_doc {
	struct chunk		*arena;
	struct jv_member	 root;
	/* While parsing. */
	struct jv_member	*st;		/* the value stack */
	size_t			 nst, cst;
	struct frame		*fr;		/* open containers */
	int			 depth, maxdepth;
	const char		*key;		/* the pending key */
	size_t			 klen;
	int			 oom;
	struct jv_err		*err;
	int			 failed;
};

static void *
arena_alloc(struct jv_doc *d, size_t n)
{
	struct chunk	*c = d->arena;
	size_t		 cap;
	void		*p;

	n = (n + 7) & ~(size_t)7;
	if (c == NULL || c->cap - c->used < n) {
		cap = n > CHUNK ? n : CHUNK;
		if ((c = malloc(sizeof(*c) + cap)) == NULL) {
			d->oom = 1;
			return NULL;
		}
		c->next = d->arena;
		c->used = 0;
		c->cap = cap;
		d->arena = c;
	}
	p = c->mem + c->used;
	c->used += n;
	return p;
}

static char *
arena_str(struct jv_doc *d, const unsigned char *s, size_t len)
{
	char *p = arena_alloc(d, len + 1);

	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* Refuse, with the reason; a callback returns this to stop yajl. */
static int	fail(struct jv_doc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
fail(struct jv_doc *d, const char *fmt, ...)
{
	va_list ap;

	if (!d->failed) {
		va_start(ap, fmt);
		vsnprintf(d->err->msg, sizeof(d->err->msg), fmt, ap);
		va_end(ap);
		d->failed = 1;
	}
	return 0;
}

/* Push v with the pending key (in an object) onto the value stack. */
static int
push(struct jv_doc *d, const struct jv_val *v)
{
	struct jv_member *m;

	if (d->depth == 0) {
		d->root.v = *v;
		return 1;
	}
	if (d->nst == d->cst) {
		size_t n = d->cst ? d->cst * 2 : 256;

		if ((m = realloc(d->st, n * sizeof(*m))) == NULL)
			return fail(d, "out of memory");
		d->st = m;
		d->cst = n;
	}
	m = &d->st[d->nst++];
	m->key = d->fr[d->depth - 1].obj ? d->key : NULL;
	m->klen = d->fr[d->depth - 1].obj ? d->klen : 0;
	m->v = *v;
	d->key = NULL;
	return 1;
}

static int
cb_null(void *ctx)
{
	struct jv_val v = { .type = JV_NULL };

	return push(ctx, &v);
}

static int
cb_bool(void *ctx, int b)
{
	struct jv_val v = { .type = b ? JV_TRUE : JV_FALSE };

	return push(ctx, &v);
}

/* yajl checked the grammar; the range is ours to check. */
static int
cb_number(void *ctx, const char *s, size_t len)
{
	struct jv_doc	*d = ctx;
	struct jv_val	 v = { .type = JV_INT };
	char		 small[64], *t = small, why[sizeof(d->err->msg)];

	if (len >= sizeof(small) &&
	    (t = arena_str(d, (const unsigned char *)s, len)) == NULL)
		return fail(d, "out of memory");
	if (t == small) {
		memcpy(small, s, len);
		small[len] = '\0';
	}
	if (jv_check_number(t, len, &v, why, sizeof(why)) == -1)
		return fail(d, "%s", why);
	return push(d, &v);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct jv_doc	*d = ctx;
	struct jv_val	 v = { .type = JV_STRING, .n = len };
	char		 why[sizeof(d->err->msg)];

	if (jv_check_text(s, len, 0, why, sizeof(why)) == -1)
		return fail(d, "%s", why);
	if ((v.u.s = arena_str(d, s, len)) == NULL)
		return fail(d, "out of memory");
	return push(d, &v);
}

static int
cb_key(void *ctx, const unsigned char *s, size_t len)
{
	struct jv_doc	*d = ctx;
	char		 why[sizeof(d->err->msg)];

	if (jv_check_text(s, len, 1, why, sizeof(why)) == -1)
		return fail(d, "%s", why);
	if ((d->key = arena_str(d, s, len)) == NULL)
		return fail(d, "out of memory");
	d->klen = len;
	return 1;
}

static int
open_(struct jv_doc *d, int obj)
{
	struct frame	*f;
	char		 why[sizeof(d->err->msg)];

	if (jv_check_depth(d->depth, d->maxdepth, why, sizeof(why)) == -1)
		return fail(d, "%s", why);
	f = &d->fr[d->depth++];
	f->start = d->nst;
	f->key = d->key;
	f->klen = d->klen;
	f->obj = obj;
	d->key = NULL;
	return 1;
}

static int
cb_start_map(void *ctx)
{
	return open_(ctx, 1);
}

static int
cb_start_array(void *ctx)
{
	return open_(ctx, 0);
}

static int
close_(struct jv_doc *d)
{
	struct frame	*f = &d->fr[--d->depth];
	struct jv_val	 v;
	size_t		 n = d->nst - f->start;

	v.type = f->obj ? JV_OBJECT : JV_ARRAY;
	v.u.m = NULL;
	if (n > 0) {
		if ((v.u.m = arena_alloc(d, n * sizeof(*v.u.m))) == NULL)
			return fail(d, "out of memory");
		memcpy(v.u.m, d->st + f->start, n * sizeof(*v.u.m));
	}
	v.n = f->obj ? jv_dedup(v.u.m, n) : n;
	d->nst = f->start;
	d->key = f->key;
	d->klen = f->klen;
	return push(d, &v);
}

static int
cb_end(void *ctx)
{
	return close_(ctx);
}

static const yajl_callbacks callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_key, cb_end, cb_start_array, cb_end
};

/* yajl's reason, one line, without its trailing newline. */
static void
yajl_reason(yajl_handle h, const char *body, size_t len, struct jv_err *err)
{
	unsigned char	*m = yajl_get_error(h, 0, (const unsigned char *)body,
			    len);
	size_t		 n;

	err->off = yajl_get_bytes_consumed(h);
	snprintf(err->msg, sizeof(err->msg), "malformed JSON: %s at byte %zu",
	    m != NULL ? (char *)m : "parse error", err->off);
	if (m != NULL)
		yajl_free_error(h, m);
	while ((n = strcspn(err->msg, "\n")) < strlen(err->msg))
		memmove(err->msg + n, err->msg + n + 1, strlen(err->msg + n));
}

struct jv_doc *
jv_parse(const char *body, size_t len, int maxdepth, struct jv_err *err)
{
	struct jv_doc	*d;
	yajl_handle	 h = NULL;
	yajl_status	 st;

	memset(err, 0, sizeof(*err));
	if (jv_check_body(body, len, err) == -1)
		return NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->fr = reallocarray(NULL, (size_t)maxdepth + 1,
	    sizeof(*d->fr))) == NULL ||
	    (h = yajl_alloc(&callbacks, NULL, d)) == NULL) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		jv_free(d);
		return NULL;
	}
	/* the body was checked as UTF-8 above, more strictly than yajl does */
	yajl_config(h, yajl_dont_validate_strings, 1);
	d->maxdepth = maxdepth;
	d->err = err;
	st = yajl_parse(h, (const unsigned char *)body, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok) {
		if (d->failed)
			err->off = yajl_get_bytes_consumed(h);
		else
			yajl_reason(h, body, len, err);
		yajl_free(h);
		jv_free(d);
		return NULL;
	}
	yajl_free(h);
	free(d->st);
	free(d->fr);
	d->st = NULL;
	d->fr = NULL;
	return d;
}

const struct jv_val *
jv_root(const struct jv_doc *d)
{
	return &d->root.v;
}

void
jv_free(struct jv_doc *d)
{
	struct chunk *c, *next;

	if (d == NULL)
		return;
	for (c = d->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(d->st);
	free(d->fr);
	free(d);
}

const struct jv_val *
jv_get(const struct jv_val *o, const char *key)
{
	size_t i;

	if (o == NULL || o->type != JV_OBJECT)
		return NULL;
	for (i = o->n; i-- > 0; )
		if (strcmp(o->u.m[i].key, key) == 0)
			return &o->u.m[i].v;
	return NULL;
}

/* A growing text, in malloc'd memory until copied to the arena. */
struct out {
	char	*s;
	size_t	 len, cap;
	int	 oom;
};

static void
put(struct out *o, const char *s, size_t n)
{
	char	*p;
	size_t	 cap;

	if (o->oom)
		return;
	if (o->cap - o->len < n + 1) {
		cap = o->cap ? o->cap : 256;
		while (cap - o->len < n + 1)
			cap *= 2;
		if ((p = realloc(o->s, cap)) == NULL) {
			o->oom = 1;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
}

static void
put_str(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t		  i, run = 0;
	char		  e[7];
	unsigned char	  c;

	put(o, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(o, s + run, i - run);
		run = i + 1;
		e[0] = '\\';
		switch (c) {
		case '"': case '\\': e[1] = (char)c; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			put(o, e, 6);
			continue;
		}
		put(o, e, 2);
	}
	put(o, s + run, n - run);
	put(o, "\"", 1);
}

/* As jansson: %.17g, ".0" if it reads as an integer, exponent bare. */
static void
put_real(struct out *o, double r)
{
	char	 b[64], *e;
	size_t	 n;

	n = (size_t)snprintf(b, sizeof(b), "%.17g", r);
	if (strpbrk(b, ".eE") == NULL && n + 2 < sizeof(b)) {
		memcpy(b + n, ".0", 3);
		n += 2;
	}
	if ((e = strchr(b, 'e')) != NULL) {
		char *p = e + 1, *q;

		if (*p == '-')
			p++;
		for (q = p; *q == '+' || *q == '0'; q++)
			;
		if (*q == '\0')
			q--;
		memmove(p, q, strlen(q) + 1);
		n = strlen(b);
	}
	put(o, b, n);
}

static void
put_val(struct out *o, const struct jv_val *v)
{
	char	b[32];
	size_t	i;

	switch (v->type) {
	case JV_NULL: put(o, "null", 4); break;
	case JV_FALSE: put(o, "false", 5); break;
	case JV_TRUE: put(o, "true", 4); break;
	case JV_INT:
		put(o, b, (size_t)snprintf(b, sizeof(b), "%lld",
		    (long long)v->u.i));
		break;
	case JV_REAL: put_real(o, v->u.r); break;
	case JV_STRING: put_str(o, v->u.s, v->n); break;
	case JV_ARRAY:
	case JV_OBJECT:
		put(o, v->type == JV_ARRAY ? "[" : "{", 1);
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				put(o, ",", 1);
			if (v->type == JV_OBJECT) {
				put_str(o, v->u.m[i].key, v->u.m[i].klen);
				put(o, ":", 1);
			}
			put_val(o, &v->u.m[i].v);
		}
		put(o, v->type == JV_ARRAY ? "]" : "}", 1);
		break;
	}
}

/* o's text into the arena; frees o. */
static char *
finish(struct jv_doc *d, struct out *o, size_t *len)
{
	char *s = NULL;

	if (!o->oom && (s = arena_str(d, (unsigned char *)o->s, o->len)))
		*len = o->len;
	free(o->s);
	return s;
}

char *
jv_dump(struct jv_doc *d, const struct jv_val *v, size_t *len)
{
	struct out o = { 0 };

	put_val(&o, v);
	return finish(d, &o, len);
}

char *
jv_dump_merged(struct jv_doc *d, const struct jv_val *a,
    const struct jv_val *b, size_t *len)
{
	struct out	o = { 0 };
	size_t		i, n = 0;
	int		k;

	put(&o, "{", 1);
	for (k = 0; k < 2; k++) {
		const struct jv_val *v = k ? b : a;

		for (i = 0; v != NULL && i < v->n; i++) {
			if (k == 0 && jv_get(b, v->u.m[i].key) != NULL)
				continue;
			if (n++ > 0)
				put(&o, ",", 1);
			put_str(&o, v->u.m[i].key, v->u.m[i].klen);
			put(&o, ":", 1);
			put_val(&o, &v->u.m[i].v);
		}
	}
	put(&o, "}", 1);
	return finish(d, &o, len);
}
