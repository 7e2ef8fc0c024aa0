/*
 * json_int.h: what the parts of the JSON parser share (json.c, the tree
 * built on the parser under it; json_check.c, json.h's rules); nothing
 * outside them includes it, and it names no parsing library: a parser put
 * under json.c in place of today's keeps json_check.c as it is.
 *
 * Each check returns 0, or -1 with the reason (json.h's words) in why,
 * at most size bytes, NUL-terminated.
 */
#ifndef OCT_JSON_INT_H
#define OCT_JSON_INT_H

#include <stddef.h>

#include "json.h"

/*
 * Before any parsing: the body is strict UTF-8 and not empty. -1 with
 * err's reason and the offset of what was refused.
 */
int	 jv_check_body(const char *, size_t, struct jv_err *err);
/*
 * A number's text t (NUL-terminated, len bytes, its grammar checked) into
 * v: an exact int64 if it has no fraction or exponent, else a double;
 * either out of range is refused.
 */
int	 jv_check_number(const char *t, size_t len, struct jv_val *v,
	    char *why, size_t size);
/* A string's (or, with key set, a key's) bytes hold no NUL. */
int	 jv_check_text(const unsigned char *, size_t, int key, char *why,
	    size_t size);
/* Another container may open with depth of them open (maxdepth at most). */
int	 jv_check_depth(int depth, int maxdepth, char *why, size_t size);
/*
 * An object's members m[0..n) with every member whose key comes again
 * later dropped (the last one wins, in its place); returns how many are
 * left. Out of memory (over 32 members), all are kept: jv_get() finds
 * the last.
 */
size_t	 jv_dedup(struct jv_member *m, size_t n);

#endif
