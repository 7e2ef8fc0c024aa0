/*
 * json_check.c: the rules json.h states for every body the data plane
 * parses (SPEC section 4), apart from the parser that tokenises it: strict
 * UTF-8 and a non-empty body before parsing, then, as json.c builds the
 * tree, exact int64 and finite doubles, no \u0000 in text, the depth of
 * nested containers, and the last duplicate key winning (json_int.h).
 *
 * Built for the ingest path: the UTF-8 check runs over every byte of
 * every body, eight ASCII bytes at a time; the others run once per value.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_int.h"

/* Offset of the first byte that is not strict UTF-8, or len. */
static size_t
utf8_bad(const unsigned char *s, size_t len)
{
	size_t	i = 0, n, k;
	unsigned c, cp, min;

	while (i < len) {
		uint64_t w;

		if (len - i >= 8) {		/* eight ASCII bytes at a time */
			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1; cp = c & 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2; cp = c & 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3; cp = c & 0x07; min = 0x10000;
		} else
			return i;
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

int
jv_check_body(const char *body, size_t len, struct jv_err *err)
{
	size_t i;

	if ((err->off = utf8_bad((const unsigned char *)body, len)) < len) {
		snprintf(err->msg, sizeof(err->msg), "invalid UTF-8");
		return -1;
	}
	for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL; i++)
		;
	if (i == len) {
		err->off = 0;
		snprintf(err->msg, sizeof(err->msg), "malformed JSON: the "
		    "body is empty");
		return -1;
	}
	return 0;
}

int
jv_check_number(const char *t, size_t len, struct jv_val *v, char *why,
    size_t size)
{
	char *end;

	errno = 0;
	if (strpbrk(t, ".eE") == NULL) {
		v->type = JV_INT;
		v->u.i = strtoll(t, &end, 10);
		if (errno == ERANGE) {
			snprintf(why, size, "integer %.40s%s does not fit in "
			    "64 bits", t, len > 40 ? "..." : "");
			return -1;
		}
	} else {
		v->type = JV_REAL;
		v->u.r = strtod(t, &end);
		if (isinf(v->u.r)) {
			snprintf(why, size, "number %.40s%s is out of range",
			    t, len > 40 ? "..." : "");
			return -1;
		}
	}
	return 0;
}

int
jv_check_text(const unsigned char *s, size_t len, int key, char *why,
    size_t size)
{
	if (memchr(s, '\0', len) == NULL)
		return 0;
	snprintf(why, size, "\\u0000 in a %s is not accepted",
	    key ? "key" : "string");
	return -1;
}

int
jv_check_depth(int depth, int maxdepth, char *why, size_t size)
{
	if (depth < maxdepth)
		return 0;
	snprintf(why, size, "nesting deeper than %d levels", maxdepth);
	return -1;
}

static int
by_key(const void *a, const void *b)
{
	const struct jv_member *const *x = a, *const *y = b;
	int c = strcmp((*x)->key, (*y)->key);

	if (c != 0)
		return c;
	return *x < *y ? -1 : *x > *y;
}

size_t
jv_dedup(struct jv_member *m, size_t n)
{
	struct jv_member	**ix;
	size_t			  i, j, k;

	if (n < 2)
		return n;
	if (n <= 32) {
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n && m[i].key != NULL; j++)
				if (m[i].klen == m[j].klen &&
				    memcmp(m[i].key, m[j].key, m[i].klen) == 0)
					m[i].key = NULL;
	} else {
		if ((ix = malloc(n * sizeof(*ix))) == NULL)
			return n;	/* kept: jv_get finds the last */
		for (i = 0; i < n; i++)
			ix[i] = &m[i];
		qsort(ix, n, sizeof(*ix), by_key);
		for (i = 0; i + 1 < n; i++)
			if (strcmp(ix[i]->key, ix[i + 1]->key) == 0)
				ix[i]->key = NULL;
		free(ix);
	}
	for (i = k = 0; i < n; i++)
		if (m[i].key != NULL)
			m[k++] = m[i];
	return k;
}
