/*
 * test_cost.c: cost_usd from the price table (SPEC 4.1), through a real
 * octd: events posted over HTTP, the rows read back from oct.db, the
 * unknown models counted in /metrics, the table changed and reloaded with
 * SIGHUP, and a bad table refused naming its file, line and field.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"

static struct octd_run	run;
static char		prices[400];

static void
setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(cost, .init = setup, .fini = teardown, .timeout = 60);

static void
write_prices(const char *text)
{
	FILE	*f = fopen(prices, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void
start(const char *table)
{
	char	extra[600];

	harness_setup(&run, NULL);
	snprintf(prices, sizeof(prices), "%s/prices.conf", run.dir);
	write_prices(table);
	snprintf(extra, sizeof(extra), "price_file = %s\n", prices);
	harness_write_conf(&run, extra);
	harness_start(&run);
}

/* POST one trace with ?wait=commit; 200 expected. */
static void
post(const char *json)
{
	struct http_res	r;

	cr_assert_eq(http_post(run.port, "/v1/traces?wait=commit", json, &r),
	    0);
	cr_assert_eq(r.status, 200, "%s: %ld %s", json, r.status, r.body);
}

/* cost_usd (x 1e9, rounded) and cost_source of the trace whose model is m. */
static void
row(const char *model, long long *nano, char *source, size_t len)
{
	char	 sql[400];
	long long s;

	snprintf(sql, sizeof(sql), "SELECT coalesce(round(cost_usd * 1e9), -1) "
	    "FROM llm_traces WHERE model = '%s'", model);
	*nano = db_int(&run, sql);
	snprintf(sql, sizeof(sql), "SELECT CASE cost_source WHEN 'client' THEN "
	    "1 WHEN 'table' THEN 2 WHEN NULL THEN 0 ELSE 0 END FROM llm_traces "
	    "WHERE model = '%s'", model);
	s = db_int(&run, sql);
	snprintf(source, len, "%s", s == 1 ? "client" : s == 2 ? "table" :
	    "NULL");
}

static long
metric(const char *line)
{
	struct http_res	 r;
	char		*p, want[200];

	http_req(run.port, "GET", "/metrics", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	snprintf(want, sizeof(want), "\n%s ", line);
	p = strstr(r.body, want);
	cr_assert_not_null(p, "no %s in /metrics", line);
	return atol(p + strlen(want));
}

static const char table[] =
    "# a test table\n"
    "gpt-4o 2.5 10 1.25\n"
    "claude* 3 15\n";

Test(cost, the_table_prices_what_the_client_did_not)
{
	long long	nano;
	char		src[16];

	start(table);
	/* 600 fresh x 2.5 + 400 cached x 1.25 + 500 x 10, per million */
	post("{\"model\":\"gpt-4o\",\"prompt_tokens\":1000,"
	    "\"completion_tokens\":500,\"cached_tokens\":400}");
	row("gpt-4o", &nano, src, sizeof(src));
	cr_assert_eq(nano, 7000000);
	cr_assert_str_eq(src, "table");

	post("{\"model\":\"claude-haiku-4-5\",\"gen_ai.usage.input_tokens\":"
	    "1000000,\"gen_ai.usage.cache_read.input_tokens\":1000000}");
	row("claude-haiku-4-5", &nano, src, sizeof(src));
	cr_assert_eq(nano, 3000000000LL, "a prefix; cached at the input price");
	cr_assert_str_eq(src, "table");

	post("{\"model\":\"claude-own\",\"prompt_tokens\":10,\"cost_usd\":0.5}");
	row("claude-own", &nano, src, sizeof(src));
	cr_assert_eq(nano, 500000000, "a client's cost is kept");
	cr_assert_str_eq(src, "client");

	post("{\"model\":\"mystery-1\",\"prompt_tokens\":10}");
	post("{\"model\":\"mystery-2\",\"completion_tokens\":10}");
	row("mystery-1", &nano, src, sizeof(src));
	cr_assert_eq(nano, -1, "never guessed");
	cr_assert_str_eq(src, "NULL");
	cr_assert_eq(metric("oct_cost_unknown_model_total"), 2);

	post("{\"model\":\"gpt-4o-notokens\"}");
	post("{\"model\":\"claude-notokens\"}");
	row("claude-notokens", &nano, src, sizeof(src));
	cr_assert_eq(nano, -1, "no tokens, nothing to price");
	cr_assert_eq(metric("oct_cost_unknown_model_total"), 3,
	    "an unknown model counts with or without tokens; a known one not");

	post("{\"model\":\"claude-says\",\"completion_tokens\":2,"
	    "\"cost_source\":\"client\"}");
	row("claude-says", &nano, src, sizeof(src));
	cr_assert_eq(nano, 30000);
	cr_assert_str_eq(src, "table", "cost_source is oct's to say");
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "json_extract(attributes, '$.cost_source') = 'client'"), 1,
	    "a client's cost_source is kept as an attribute");
}

/* The new ingestd runs and answers. */
static int
ingestd_replaced(void *arg)
{
	struct http_res	r;

	return harness_replaced(arg) && http_req(run.port, "GET", "/healthz",
	    NULL, 0, NULL, &r) == 0 && r.status == 200;
}

static int
refused(void *want)
{
	return harness_count(harness_log(&run, "octd"), want) > 0;
}

Test(cost, sighup_reloads_a_changed_table_and_refuses_a_bad_one)
{
	struct harness_replace	w = { &run, "ingestd", 0 };
	long long		nano;
	char			src[16], want[600], out[4096];
	char			*check[] = { (char *)harness_bin("octd"), "-t",
				    "-c", run.conf, NULL };

	start(table);
	post("{\"model\":\"gpt-4o\",\"prompt_tokens\":1000000}");
	row("gpt-4o", &nano, src, sizeof(src));
	cr_assert_eq(nano, 2500000000LL);

	w.old = harness_worker(&run, "ingestd");
	write_prices("gpt-4o-2 5 20\n");	/* same key, new table */
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(ingestd_replaced, &w, 10000),
	    "ingestd restarted for the new table");
	post("{\"model\":\"gpt-4o-2\",\"prompt_tokens\":1000000}");
	row("gpt-4o-2", &nano, src, sizeof(src));
	cr_assert_eq(nano, 5000000000LL);

	w.old = harness_worker(&run, "ingestd");
	write_prices("gpt-4o-3 5 20\nbad 1 x\n");
	snprintf(want, sizeof(want), "%s:2: output price: not a price", prices);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(refused, want, 10000), "octd.log: %s",
	    harness_log(&run, "octd"));
	cr_assert_eq(harness_worker(&run, "ingestd"), w.old,
	    "a refused table restarts nothing");
	post("{\"model\":\"gpt-4o-2\",\"prompt_tokens\":2000000}");
	cr_assert_eq(db_int(&run, "SELECT round(sum(cost_usd)) FROM llm_traces "
	    "WHERE model = 'gpt-4o-2'"), 15, "the old table runs on");

	cr_assert_eq(harness_run(check, out, sizeof(out)), 1, "%s", out);
	cr_assert(strstr(out, want) != NULL, "octd -t: %s", out);
}
