/*
 * json_parse.c: what oct's JSON parser (common/json.c) alone costs to parse
 * one event, for bench/run.
 *
 *	json_parse FILE N
 *
 * Parses FILE (bench/event.json) N times with jv_parse, as ingestd does
 * each request body, and prints the microseconds per parse: the floor under
 * oct's CPU per event that no change inside oct can lower.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "json.h"

int
main(int argc, char *argv[])
{
	static char	 buf[1 << 20];
	struct timespec	 a, b;
	struct jv_err	 err;
	struct jv_doc	*o;
	FILE		*f;
	size_t		 len;
	long		 i, n;

	if (argc != 3 || (f = fopen(argv[1], "rb")) == NULL ||
	    (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: json_parse FILE N\n");
		return 2;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		if ((o = jv_parse(buf, len, 64, &err)) == NULL) {
			fprintf(stderr, "json_parse: %s: %s\n", argv[1], err.msg);
			return 1;
		}
		jv_free(o);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.2f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec -
	    a.tv_nsec)) / 1e3 / (double)n);
	return 0;
}
