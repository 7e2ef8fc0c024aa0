/*
 * json_parsers.c: the Debian-packaged JSON parsers on bench/event.json, and
 * what each does about SPEC section 4's rules (docs/BENCHMARKS.md).
 *
 *	json_parsers FILE N [K]
 *
 * Prints, per parser, the microseconds per parse of FILE and of an array of
 * 50 copies (each parse builds the parser's tree and frees it), then a
 * table of edge inputs: "ok" parsed, "refused" refused. With K, only
 * parser K (0, 1, ... in the order printed) parses FILE N times, and
 * nothing is printed: for counting instructions under callgrind. oct's own module
 * (common/json.c) is measured beside them; json-c is in json_jsonc.c. bench/run builds it (with
 * -DWITH_SIMDJSON and bench/json_simdjson.cpp when libsimdjson-dev is
 * there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <jansson.h>
#include <yajl/yajl_tree.h>

#include "json.h"

static int
p_jansson(const char *b, size_t n)
{
	json_error_t	 e;
	json_t		*v = json_loadb(b, n, JSON_DECODE_ANY, &e);

	json_decref(v);
	return v != NULL ? 0 : -1;
}

int	p_jsonc(const char *, size_t);	/* json_jsonc.c: its headers clash with jansson's */

/* yajl's tree wants a C string. */
static int
p_yajl_tree(const char *b, size_t n)
{
	char		 err[128], *s = malloc(n + 1);
	yajl_val	 v;

	memcpy(s, b, n);
	s[n] = '\0';
	v = yajl_tree_parse(s, err, sizeof(err));
	free(s);
	yajl_tree_free(v);
	return v != NULL ? 0 : -1;
}

static int
p_cjson(const char *b, size_t n)
{
	const char	*end;
	cJSON		*v = cJSON_ParseWithLengthOpts(b, n, &end, 0);
	int		 ok = v != NULL;

	/* trailing whitespace is fine; anything else is garbage */
	while (ok && end < b + n && strchr(" \t\r\n", *end) != NULL)
		end++;
	ok = ok && end == b + n;
	cJSON_Delete(v);
	return ok ? 0 : -1;
}

static int
p_oct(const char *b, size_t n)
{
	struct jv_err	 e;
	struct jv_doc	*d = jv_parse(b, n, 64, &e);

	jv_free(d);
	return d != NULL ? 0 : -1;
}

#ifdef WITH_SIMDJSON
int	sj_parse(const char *, size_t);
#endif

static const struct {
	const char	*name;
	int		(*parse)(const char *, size_t);
} parsers[] = {
	{ "jansson", p_jansson },
	{ "json-c (strict, UTF-8, depth 65)", p_jsonc },
	{ "yajl tree", p_yajl_tree },
	{ "cJSON", p_cjson },
#ifdef WITH_SIMDJSON
	{ "simdjson DOM", sj_parse },
#endif
	{ "oct common/json.c (yajl callbacks)", p_oct },
};
#define NPARSERS (sizeof(parsers) / sizeof(parsers[0]))

static double
usec(int (*parse)(const char *, size_t), const char *b, size_t len, long n)
{
	struct timespec	a, z;
	long		i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		if (parse(b, len) != 0) {
			fprintf(stderr, "json_parsers: refused the bench input\n");
			exit(1);
		}
	clock_gettime(CLOCK_MONOTONIC, &z);
	return ((z.tv_sec - a.tv_sec) * 1e9 + (z.tv_nsec - a.tv_nsec)) / 1e3 /
	    (double)n;
}

/* depth nested objects, innermost {"a":1} or {} */
static char *
nested(int depth, int leaf)
{
	char	*s = malloc((size_t)depth * 6 + 16), *p = s;
	int	 i;

	for (i = 1; i < depth; i++)
		p += sprintf(p, "{\"a\":");
	p += sprintf(p, leaf ? "{\"a\":1}" : "{}");
	for (i = 1; i < depth; i++)
		*p++ = '}';
	*p = '\0';
	return s;
}

int
main(int argc, char *argv[])
{
	static char	 buf[1 << 16], arr[1 << 17];
	static const char *edges[][2] = {
		{ "overlong UTF-8 (C0 AF)", "{\"a\":\"\xc0\xaf\"}" },
		{ "surrogate (ED A0 80)", "{\"a\":\"\xed\xa0\x80\"}" },
		{ "above U+10FFFF (F4 90 80 80)", "{\"a\":\"\xf4\x90\x80\x80\"}" },
		{ "2^63", "{\"a\":9223372036854775808}" },
		{ "1e400", "{\"a\":1e400}" },
		{ "trailing garbage", "{\"a\":1} x" },
		{ "\\u0000", "{\"a\":\"\\u0000\"}" },
		{ "empty body", "" },
		{ "a comment", "{\"a\":1 /* c */}" },
	};
	FILE		*f;
	size_t		 len, alen = 0, i, k;
	long		 n;
	char		*d64, *d64s, *d65;

	if (argc < 3 || argc > 4 || (f = fopen(argv[1], "rb")) == NULL ||
	    (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: json_parsers FILE N [K]\n");
		return 2;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (len > 0 && strchr(" \r\n", buf[len - 1]) != NULL)
		len--;
	if (argc == 4) {
		k = (size_t)atoi(argv[3]);
		if (k < NPARSERS)
			usec(parsers[k].parse, buf, len, n);
		return k < NPARSERS ? 0 : 2;
	}
	arr[alen++] = '[';
	for (i = 0; i < 50; i++) {
		if (i > 0)
			arr[alen++] = ',';
		memcpy(arr + alen, buf, len);
		alen += len;
	}
	arr[alen++] = ']';
	printf("| parser | µs per event (%zu B) | µs per array of 50 |\n|---|---|---|\n",
	    len);
	for (k = 0; k < NPARSERS; k++)
		printf("| %s | %.2f | %.1f |\n", parsers[k].name,
		    usec(parsers[k].parse, buf, len, n),
		    usec(parsers[k].parse, arr, alen, n / 50 + 1));
	d64 = nested(64, 0);
	d64s = nested(64, 1);
	d65 = nested(65, 0);
	printf("\n| input |");
	for (k = 0; k < NPARSERS; k++)
		printf(" %s |", parsers[k].name);
	printf("\n|---|");
	for (k = 0; k < NPARSERS; k++)
		printf("---|");
	printf("\n");
	for (i = 0; i < sizeof(edges) / sizeof(edges[0]) + 3; i++) {
		const char *what, *s;

		if (i < sizeof(edges) / sizeof(edges[0])) {
			what = edges[i][0];
			s = edges[i][1];
		} else {
			k = i - sizeof(edges) / sizeof(edges[0]);
			what = k == 0 ? "depth 64" : k == 1 ?
			    "depth 64, {\"a\":1} innermost" : "depth 65";
			s = k == 0 ? d64 : k == 1 ? d64s : d65;
		}
		printf("| %s |", what);
		for (k = 0; k < NPARSERS; k++)
			printf(" %s |", parsers[k].parse(s, strlen(s)) == 0 ?
			    "ok" : "refused");
		printf("\n");
	}
	free(d64);
	free(d64s);
	free(d65);
	return 0;
}
