/*
 * json_span.c: the byte span of a value in a text that jv_parse() has
 * accepted (json.h). A plain scanner: since the grammar, the UTF-8 and
 * the escapes were checked by the parse, it only has to find where
 * strings, arrays and objects end. Strings are skipped with memchr: a
 * quote ends the string unless an odd run of backslashes stands before it.
 * Every read stays below len, whatever the text.
 */
#include "config.h"

#include <string.h>

#include "json.h"

static size_t
skip_ws(const char *t, size_t len, size_t i)
{
	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' ||
	    t[i] == '\r'))
		i++;
	return i;
}

/* i is just past a string's opening quote: just past its closing one. */
static size_t
skip_string(const char *t, size_t len, size_t i)
{
	const char	*q;
	size_t		 j, start = i, stop = i + 16 < len ? i + 16 : len;

	/* most keys and short strings end here, before memchr pays */
	for (; i < stop && t[i] != '\\'; i++)
		if (t[i] == '"')
			return i + 1;
	while (i < len && (q = memchr(t + i, '"', len - i)) != NULL) {
		j = (size_t)(q - t);
		i = j + 1;
		while (j > start && t[j - 1] == '\\')
			j--;
		if ((i - 1 - j) % 2 == 0)
			return i;
	}
	return len;
}

/* The value at i (no whitespace before it): just past its end. */
static size_t
skip_value(const char *t, size_t len, size_t i)
{
	size_t depth = 0;

	do {
		if (i >= len)
			return len;
		switch (t[i]) {
		case '"':
			i = skip_string(t, len, i + 1);
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			depth--;
			break;
		default:
			if (depth == 0) {
				/* a number or a literal: up to a delimiter */
				while (i < len && strchr(",}] \t\n\r",
				    t[i]) == NULL)
					i++;
				return i;
			}
		}
		i++;
	} while (depth > 0);
	return i;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The raw key t[b, e) (between its quotes) is key, after its escapes; key
 * is ASCII (oct's keys are).
 */
static int
key_is(const char *t, size_t b, size_t e, const char *key)
{
	static const char	 from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char		*p;
	int			 c, k;

	if (e < b)	/* an unterminated key, in a text never accepted */
		return 0;
	if (memchr(t + b, '\\', e - b) == NULL)
		return e - b == strlen(key) && memcmp(t + b, key, e - b) == 0;
	for (; b < e; key++) {
		c = (unsigned char)t[b++];
		if (c == '\\' && b < e) {
			c = t[b++];
			if (c == 'u') {
				/* only an ASCII code point can equal an ASCII
				 * key's byte; anything else differs */
				if (e - b < 4)
					return 0;
				for (c = 0, k = 0; k < 4; k++)
					c = c * 16 + hexval(t[b + k]);
				b += 4;
				if (c >= 0x80)
					return 0;
			} else if ((p = strchr(from, c)) != NULL)
				c = to[p - from];
		}
		if (*key == '\0' || c != (unsigned char)*key)
			return 0;
	}
	return *key == '\0';
}

/*
 * Walk the members of the object at i (whitespace before it skipped): for
 * each one named key, fn(t, len, value's start, arg) returns its value's
 * end; the other values are skipped. Returns just past the object, or len.
 */
static size_t
members(const char *t, size_t len, size_t i, const char *key,
    size_t (*fn)(const char *, size_t, size_t, void *), void *arg)
{
	size_t kb, ke;

	i = skip_ws(t, len, i);
	if (i >= len || t[i] != '{')
		return len;
	i = skip_ws(t, len, i + 1);
	while (i < len && t[i] == '"') {
		kb = i + 1;
		i = skip_string(t, len, kb);
		ke = i - 1;
		i = skip_ws(t, len, i);
		if (i >= len || t[i] != ':')
			return len;
		i = skip_ws(t, len, i + 1);
		if (i >= len)
			return len;
		if (key_is(t, kb, ke, key))
			i = fn(t, len, i, arg);
		else
			i = skip_value(t, len, i);
		i = skip_ws(t, len, i);
		if (i < len && t[i] == ',')
			i = skip_ws(t, len, i + 1);
	}
	return i < len ? i + 1 : len;	/* past the '}' */
}

/* A member's value: its span, into arg (the last one wins). */
static size_t
take(const char *t, size_t len, size_t i, void *arg)
{
	struct jv_span *v = arg;

	v->b = i;
	return v->e = skip_value(t, len, i);
}

struct each {
	const char	*key;
	struct jv_span	*out;
	size_t		 n, items;
};

/* fn of jv_span_each: the array at i, each item's member. */
static size_t
each_item(const char *t, size_t len, size_t i, void *arg)
{
	struct each	*e = arg;
	struct jv_span	 none = { 0, 0 }, *v;

	if (t[i] != '[')
		return skip_value(t, len, i);
	e->items = 0;
	for (i = skip_ws(t, len, i + 1); i < len && t[i] != ']';) {
		v = e->items < e->n ? &e->out[e->items] : &none;
		*v = none;
		if (t[i] == '{')
			i = members(t, len, i, e->key, take, v);
		else
			i = skip_value(t, len, i);
		e->items++;
		i = skip_ws(t, len, i);
		if (i < len && t[i] == ',')
			i = skip_ws(t, len, i + 1);
	}
	return i < len ? i + 1 : len;	/* past the ']' */
}

int
jv_span_each(const char *t, size_t len, size_t off, const char *akey,
    const char *key, struct jv_span *out, size_t n)
{
	struct each e = { key, out, n, (size_t)-1 };

	members(t, len, off, akey, each_item, &e);
	return e.items == n ? 0 : -1;
}
