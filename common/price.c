/*
 * price.c: the price table (price.h). Read by ingestd at start and by octd
 * on a reload (to refuse a bad file before anything changes); looked up
 * once per LLM trace that has token counts and no cost of its own.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "price.h"

#define PRICE_MAX_LINE	1024
#define PRICE_MAX	100000	/* entries: a table, not a data set */

struct price_table {
	struct price	*v;	/* sorted by model, prefixes and exact alike */
	size_t		 n;
	size_t		 cap;
};

static int
by_model(const void *a, const void *b)
{
	const struct price *x = a, *y = b;
	int c = strcmp(x->model, y->model);

	return c != 0 ? c : x->prefix - y->prefix;
}

/* A price field: a plain non-negative decimal. Returns 0, or -1. */
static int
parse_price(const char *s, double *out)
{
	char	*end;

	if (*s == '\0' || !(isdigit((unsigned char)*s) || *s == '.'))
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return *end != '\0' || errno != 0 || !isfinite(*out) ? -1 : 0;
}

/*
 * One line, comments and blanks already gone, split into fields. Returns 0
 * with *p filled (p->model malloc'd), or -1 with err naming the field.
 */
static int
parse_line(char *line, struct price *p, const char *file, int lineno,
    char *err, size_t errlen)
{
	static const char *const names[] = { "model", "input price",
	    "output price", "cached price" };
	char	*f[5], *save = NULL;
	double	 v[3];
	size_t	 n = 0, i, len;

	for (char *t = strtok_r(line, " \t", &save); t != NULL;
	    t = strtok_r(NULL, " \t", &save))
		if (n < 5)
			f[n++] = t;
		else
			break;
	if (n < 3 || n > 4) {
		snprintf(err, errlen, "%s:%d: %s: want MODEL INPUT OUTPUT "
		    "[CACHED], got %zu field%s", file, lineno,
		    names[n < 3 ? n : 3], n, n == 1 ? "" : "s");
		return -1;
	}
	for (i = 1; i < n; i++)
		if (parse_price(f[i], &v[i - 1]) == -1) {
			snprintf(err, errlen, "%s:%d: %s: not a price in USD "
			    "per million tokens: %.40s", file, lineno,
			    names[i], f[i]);
			return -1;
		}
	len = strlen(f[0]);
	memset(p, 0, sizeof(*p));
	p->prefix = f[0][len - 1] == '*';
	if (p->prefix)
		f[0][--len] = '\0';
	if (strchr(f[0], '*') != NULL) {
		snprintf(err, errlen, "%s:%d: model: '*' only at the end",
		    file, lineno);
		return -1;
	}
	if ((p->model = strdup(f[0])) == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	p->input = v[0];
	p->output = v[1];
	p->cached = n == 4 ? v[2] : v[0];
	p->line = lineno;
	return 0;
}

static int
add(struct price_table *t, const struct price *p)
{
	struct price	*nv;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		if ((nv = realloc(t->v, t->cap * sizeof(*nv))) == NULL)
			return -1;
		t->v = nv;
	}
	t->v[t->n++] = *p;
	return 0;
}

/* Two lines for the same model (and kind) are an error, as in oct.conf. */
static int
check_repeats(struct price_table *t, const char *file, char *err,
    size_t errlen)
{
	size_t	i;

	qsort(t->v, t->n, sizeof(*t->v), by_model);
	for (i = 1; i < t->n; i++)
		if (by_model(&t->v[i - 1], &t->v[i]) == 0) {
			snprintf(err, errlen, "%s:%d: model: %s%s repeated "
			    "(first on line %d)", file, t->v[i].line >
			    t->v[i - 1].line ? t->v[i].line : t->v[i - 1].line,
			    t->v[i].model, t->v[i].prefix ? "*" : "",
			    t->v[i].line > t->v[i - 1].line ? t->v[i - 1].line :
			    t->v[i].line);
			return -1;
		}
	return 0;
}

/* Read f line by line into t. Returns 0, or -1 with err set. */
static int
read_lines(FILE *f, struct price_table *t, const char *path, char *err,
    size_t errlen)
{
	char		 buf[PRICE_MAX_LINE + 2], *s;
	struct price	 p;
	int		 lineno = 0;

	while (fgets(buf, sizeof(buf), f) != NULL) {
		lineno++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: model: line longer than "
			    "%d bytes", path, lineno, PRICE_MAX_LINE);
			return -1;
		}
		if ((s = strchr(buf, '#')) != NULL)
			*s = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		for (s = buf; isspace((unsigned char)*s); s++)
			;
		if (*s == '\0')
			continue;
		if (t->n == PRICE_MAX) {
			snprintf(err, errlen, "%s:%d: model: more than %d "
			    "entries", path, lineno, PRICE_MAX);
			return -1;
		}
		if (parse_line(s, &p, path, lineno, err, errlen) == -1)
			return -1;
		if (add(t, &p) == -1) {
			free(p.model);
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
		return -1;
	}
	return check_repeats(t, path, err, errlen);
}

struct price_table *
price_load(const char *path, char *err, size_t errlen)
{
	struct price_table	*t = calloc(1, sizeof(*t));
	FILE			*f;
	int			 r;

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (path == NULL || *path == '\0')
		return t;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(t);
		return NULL;
	}
	r = read_lines(f, t, path, err, errlen);
	fclose(f);
	if (r == -1) {
		price_free(t);
		return NULL;
	}
	return t;
}

void
price_free(struct price_table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->v[i].model);
	free(t->v);
	free(t);
}

size_t
price_count(const struct price_table *t)
{
	return t != NULL ? t->n : 0;
}

/* Index of the first entry whose model is >= key (with prefix >= pfx). */
static size_t
lower_bound(const struct price_table *t, const char *key, size_t len)
{
	size_t	lo = 0, hi = t->n, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strncmp(t->v[mid].model, key, len);
		if (c == 0 && t->v[mid].model[len] != '\0')
			c = 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entry whose model is exactly key[0..len) and whose kind is prefix. */
static const struct price *
lookup(const struct price_table *t, const char *key, size_t len, int prefix)
{
	size_t	i = lower_bound(t, key, len);

	for (; i < t->n && strncmp(t->v[i].model, key, len) == 0 &&
	    t->v[i].model[len] == '\0'; i++)
		if (t->v[i].prefix == prefix)
			return &t->v[i];
	return NULL;
}

const struct price *
price_find(const struct price_table *t, const char *model)
{
	const struct price	*p;
	size_t			 len;

	if (t == NULL || t->n == 0 || model == NULL)
		return NULL;
	len = strlen(model);
	if ((p = lookup(t, model, len, 0)) != NULL)
		return p;
	for (;; len--) {	/* longest prefix first; "*" alone is len 0 */
		if ((p = lookup(t, model, len, 1)) != NULL)
			return p;
		if (len == 0)
			return NULL;
	}
}

int
price_cost(const struct price *p, int64_t prompt, int64_t completion,
    int64_t cached, double *usd)
{
	double	fresh;

	if (prompt < 0 && completion < 0)
		return -1;
	if (prompt < 0)
		prompt = 0;
	if (completion < 0)
		completion = 0;
	if (cached < 0)
		cached = 0;
	if (cached > prompt)
		cached = prompt;
	fresh = (double)(prompt - cached);
	*usd = (fresh * p->input + (double)cached * p->cached +
	    (double)completion * p->output) / 1e6;
	return 0;
}
