/*
 * json.h: the data plane's JSON parser (SPEC section 4's rules), one module
 * so that no other file knows which library parses. Built on yajl's
 * callback API (bench/json_parsers.c, docs/BENCHMARKS.md: why).
 *
 * The rules, for every body this parses:
 *   - the body is UTF-8, checked strictly (no overlong forms, surrogates or
 *     code points above U+10FFFF): else "invalid UTF-8";
 *   - at most maxdepth nested arrays and objects, the top-level one being
 *     level 1; scalars are not levels: else "nesting deeper than N levels";
 *   - an integer (no fraction, no exponent) is an exact int64; one that
 *     does not fit is refused, never wrapped or rounded; a number whose
 *     magnitude overflows a double is refused;
 *   - a key given twice in an object: the last one wins (in its place; the
 *     earlier ones are dropped), as in JavaScript's JSON.parse;
 *   - \u0000 in a string or key is refused ("\u0000 ..."): text is handed
 *     on as C strings, and a NUL would cut it silently;
 *   - anything but whitespace after the value, comments, and an empty
 *     body are refused.
 * Strings are copied, NUL-terminated, with their length. The tree lives
 * in the document's arena until jv_free().
 */
#ifndef OCT_JSON_H
#define OCT_JSON_H

#include <stddef.h>
#include <stdint.h>

enum jv_type {
	JV_NULL, JV_FALSE, JV_TRUE, JV_INT, JV_REAL, JV_STRING,
	JV_ARRAY, JV_OBJECT
};

struct jv_member;

struct jv_val {
	enum jv_type	 type;
	size_t		 n;	/* string: bytes; array, object: members */
	union {
		int64_t			 i;
		double			 r;
		const char		*s;
		struct jv_member	*m;	/* array items have no key */
	} u;
};

struct jv_member {
	const char	*key;		/* NULL in an array */
	size_t		 klen;
	struct jv_val	 v;
};

struct jv_err {
	char	 msg[160];	/* "invalid UTF-8", "malformed JSON: ...", ... */
	size_t	 off;		/* byte offset where it was found */
};

struct jv_doc;

/* Parse len bytes; NULL with err (and its reason) if refused. */
struct jv_doc		*jv_parse(const char *, size_t, int maxdepth,
			    struct jv_err *);
const struct jv_val	*jv_root(const struct jv_doc *);
void			 jv_free(struct jv_doc *);

/* The value of key in object o (the only one: duplicates are gone). */
const struct jv_val	*jv_get(const struct jv_val *, const char *);

/*
 * Compact JSON text of v, as jansson's JSON_COMPACT writes it; allocated in
 * the document's arena, lives until jv_free(). NULL: out of memory.
 */
char	*jv_dump(struct jv_doc *, const struct jv_val *, size_t *);

/* The same for an object made of a's members (those whose key is not in
 * b) then b's: attributes with an explicit object that wins on a clash. */
char	*jv_dump_merged(struct jv_doc *, const struct jv_val *a,
	    const struct jv_val *b, size_t *);

/*
 * json_span.c: where a value lies in a text that jv_parse() accepted, so
 * that a caller can hand on a value's bytes as they came instead of
 * writing them again (oct-receiver stores each event's data so). Nothing
 * is checked again: on a text jv_parse() refused the answers are
 * meaningless, though they never read outside [0, len).
 */
struct jv_span {
	size_t	b, e;	/* the value is text[b, e) */
};

/*
 * In one pass: in the object at off, the array that is member akey (the
 * last one, as jv_parse() keeps it), and in each of its items the value
 * of member key (the last one too; keys compared after their escapes, key
 * and akey being ASCII), into out[0 .. n - 1] ({0, 0}: the item is not an
 * object or has no such member). 0, or -1 if there is no array akey or it
 * does not hold n items.
 */
int	jv_span_each(const char *, size_t len, size_t off, const char *akey,
	    const char *key, struct jv_span *out, size_t n);

#endif
