/*
 * price.h: the price table behind cost_usd (SPEC section 4.1).
 *
 * price_file holds one model a line, "MODEL INPUT OUTPUT [CACHED]", prices
 * in USD per million tokens; MODEL matches a model exactly, or as a prefix
 * when it ends in '*', and the longest match wins. The table is read once
 * (at start and on SIGHUP) and then only looked up: a sorted array and a
 * binary search, a few hundred nanoseconds per event at the sizes shipped.
 */
#ifndef OCT_PRICE_H
#define OCT_PRICE_H

#include <stddef.h>
#include <stdint.h>

struct price {
	char	*model;		/* without the '*' of a prefix */
	int	 prefix;	/* matched as a prefix */
	double	 input;		/* USD per million tokens */
	double	 output;
	double	 cached;	/* the input price when the line gives none */
	int	 line;
};

struct price_table;

/*
 * Read path. Returns the table, or NULL with err set to
 * "FILE:LINE: FIELD: why" (or "FILE: why" when it cannot be read). An
 * empty path gives an empty table: cost is then never computed.
 */
struct price_table	*price_load(const char *path, char *err, size_t errlen);
void			 price_free(struct price_table *);
size_t			 price_count(const struct price_table *);

/* The entry for model (exact first, then the longest prefix), or NULL. */
const struct price	*price_find(const struct price_table *,
			    const char *model);

/*
 * The cost of a call: (prompt - cached) x input + cached x cached price +
 * completion x output, per million. A count < 0 is absent and counts as 0;
 * cached is held to prompt. Returns 0 and *usd, or -1 when the call has
 * no token count at all (no cost can be said).
 */
int	 price_cost(const struct price *, int64_t prompt, int64_t completion,
	    int64_t cached, double *usd);

#endif
