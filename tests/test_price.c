/*
 * test_price.c: the price table (common/price.c): what a line means, which
 * entry a model gets, the cost of a call to the cent, and the errors an
 * operator sees for a bad file (file, line, field).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "price.h"

static char dir[64];
static char path[128];		/* the price file a test loads, in dir */
static char err[512];

/* The price table of text, written to path (over the last one). */
static struct price_table *
load(const char *text)
{
	FILE *f;

	cr_assert_not_null(f = fopen(path, "w"), "%s", path);
	cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	cr_assert_eq(fclose(f), 0);
	err[0] = '\0';
	return price_load(path, err, sizeof(err));
}

static void
setup(void)
{
	harness_tmpdir(dir, sizeof(dir), "price");
	snprintf(path, sizeof(path), "%s/prices", dir);
}

static void
cleanup(void)
{
	harness_rmdir(dir);
}

TestSuite(price, .init = setup, .fini = cleanup);

static const char table[] =
    "# source: a test, 2026-12-06\n"
    "gpt-4o 2.5 10 1.25\n"
    "gpt-4o* 5 15\n"
    "gpt-4o-mini* 0.15 0.6 0.075   # trailing comment\n"
    "\n"
    "   claude-sonnet-4-5*\t3\t15\t0.3\n"
    "*  1 1\n";

Test(price, exact_beats_prefix_and_the_longest_prefix_wins)
{
	struct price_table	*t = load(table);
	const struct price	*p;

	cr_assert_not_null(t, "%s", err);
	cr_assert_eq(price_count(t), 5);
	p = price_find(t, "gpt-4o");
	cr_assert(p != NULL && !p->prefix && p->input == 2.5 &&
	    p->output == 10 && p->cached == 1.25);
	p = price_find(t, "gpt-4o-2024-08-06");
	cr_assert(p != NULL && p->prefix && p->input == 5, "gpt-4o*");
	p = price_find(t, "gpt-4o-mini-2024-07-18");
	cr_assert(p != NULL && strcmp(p->model, "gpt-4o-mini") == 0);
	p = price_find(t, "claude-sonnet-4-5-20250929");
	cr_assert(p != NULL && p->cached == 0.3);
	p = price_find(t, "llama3");
	cr_assert(p != NULL && strcmp(p->model, "") == 0, "'*' takes the rest");
	cr_assert_eq(p->cached, 1, "no cached price: the input price");
	price_free(t);
}

Test(price, no_match_without_a_catch_all)
{
	struct price_table	*t = load("gpt-4o 2.5 10\nclaude* 3 15\n");

	cr_assert_not_null(t, "%s", err);
	cr_assert_null(price_find(t, "gpt-4"));
	cr_assert_null(price_find(t, "gpt-4o-mini"), "exact entries are exact");
	cr_assert_null(price_find(t, "claud"));
	cr_assert_null(price_find(t, ""));
	price_free(t);
}

Test(price, cost_prices_cached_tokens_apart)
{
	struct price	p = { "m", 0, 2.5, 10, 1.25, 1 };
	double		usd;

	cr_assert_eq(price_cost(&p, 1000, 500, -1, &usd), 0);
	cr_assert_float_eq(usd, (1000 * 2.5 + 500 * 10) / 1e6, 1e-12);
	/* 1000 prompt of which 400 cached: 600 x 2.5 + 400 x 1.25 + 500 x 10 */
	cr_assert_eq(price_cost(&p, 1000, 500, 400, &usd), 0);
	cr_assert_float_eq(usd, 0.0015 + 0.0005 + 0.005, 1e-12);
	cr_assert_eq(price_cost(&p, 100, -1, 500, &usd), 0);
	cr_assert_float_eq(usd, 100 * 1.25 / 1e6, 1e-12,
	    "cached is held to prompt");
	cr_assert_eq(price_cost(&p, -1, 2000000, -1, &usd), 0);
	cr_assert_float_eq(usd, 20.0, 1e-9);
	cr_assert_eq(price_cost(&p, -1, -1, 10, &usd), -1,
	    "no token count: no cost");
}

Test(price, an_empty_path_is_an_empty_table)
{
	struct price_table *t = price_load("", err, sizeof(err));

	cr_assert_not_null(t);
	cr_assert_eq(price_count(t), 0);
	cr_assert_null(price_find(t, "gpt-4o"));
	price_free(t);
}

static void
refused(const char *text, const char *want)
{
	struct price_table	*t = load(text);
	char			 full[600];

	cr_assert_null(t, "accepted: %s", text);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	cr_assert_str_eq(err, full);
}

Test(price, bad_lines_name_file_line_and_field)
{
	refused("gpt-4o 2.5\n", "1: output price: want MODEL INPUT OUTPUT "
	    "[CACHED], got 2 fields");
	refused("# c\n\ngpt-4o 2.5 ten\n", "3: output price: not a price in "
	    "USD per million tokens: ten");
	refused("a 1 2 -3\n", "1: cached price: not a price in USD per "
	    "million tokens: -3");
	refused("a 1 2 3 4\n", "1: cached price: want MODEL INPUT OUTPUT "
	    "[CACHED], got 5 fields");
	refused("a 1 2 nan\n", "1: cached price: not a price in USD per "
	    "million tokens: nan");
	refused("a*b 1 2\n", "1: model: '*' only at the end");
	refused("x 1 2\ny 1 2\nx 3 4\n", "3: model: x repeated (first on line "
	    "1)");
}

Test(price, a_missing_file_says_why)
{
	struct price_table *t = price_load("/nonexistent/prices.conf", err,
	    sizeof(err));

	cr_assert_null(t);
	cr_assert_str_eq(err, "/nonexistent/prices.conf: No such file or "
	    "directory");
}
