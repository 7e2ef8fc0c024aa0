/*
 * stats.h: octctl stats' figures, gathered by stats.c and shown by
 * stats_print.c (text with an hourly chart, or one JSON object).
 */
#ifndef OCT_CTL_STATS_H
#define OCT_CTL_STATS_H

#include <stddef.h>
#include <stdint.h>

struct stats_group {
	char	*key;			/* NULL: rows without one */
	int64_t	 calls, errors;
	int64_t	 prompt_tokens, completion_tokens;
	double	 cost_usd, cost_from_table_usd;
	double	*lat;			/* non-NULL latencies, sorted */
	size_t	 nlat, latcap;
	size_t	 next;			/* hash chain: index + 1, 0 ends */
};

#define STATS_TOP_ERRORS	5

struct stats_message {
	char	*message;
	int64_t	 count;
};

struct stats_hour {
	int64_t	 calls;
	double	 cost_usd;
};

struct stats {
	const char		*by;		/* as the user named it */
	int64_t			 now, since_ms;	/* the window, Unix ms */
	int64_t			 hour0;		/* start of the first hour */
	size_t			 nhours;
	struct stats_hour	*hours;
	struct stats_group	*groups;	/* by calls, most first */
	size_t			 ngroups, gcap;
	struct stats_message	*messages;	/* the most frequent first */
	size_t			 nmessages, mcap;
	size_t			*gbucket;
};

double	 stats_percentile(const double *sorted, size_t n, int p);
void	 stats_print_text(const struct stats *);
void	 stats_print_json(const struct stats *);

#endif
