/*
 * cost.c: cost_usd and cost_source of LLM traces (SPEC section 4.1).
 *
 * A trace that gives cost_usd keeps it (cost_source "client"). One without
 * it, whose model the price table knows and which has token counts, gets
 * the cost the table gives (cost_source "table"); any other keeps both
 * NULL, and a model the table does not know is counted. Done in ingestd,
 * after a format's decoder and before event_encode(): ingestd already
 * holds each event's typed values, and /metrics, where the unknown models
 * are counted, is ingestd's. The table is read once at start; octd
 * restarts ingestd when a reload finds it changed (conf.c's price_sig).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "event.h"
#include "ingestd.h"
#include "log.h"
#include "price.h"

static struct {
	struct price_table	*table;
	int			 model, prompt, completion, cached;
	int			 cost, source;
} cost;

void
cost_init(const struct conf *c)
{
	char		err[512];
	struct stat	sb;

	cost.model = event_column(EV_TRACE, "model");
	cost.prompt = event_column(EV_TRACE, "prompt_tokens");
	cost.completion = event_column(EV_TRACE, "completion_tokens");
	cost.cached = event_column(EV_TRACE, "cached_tokens");
	cost.cost = event_column(EV_TRACE, "cost_usd");
	cost.source = event_column(EV_TRACE, "cost_source");
	if (*c->price_file == '\0') {
		log_info("price_file is empty: cost_usd is not computed");
		return;
	}
	if (stat(c->price_file, &sb) == -1 && errno == ENOENT) {
		log_info("no price table at %s: cost_usd is not computed",
		    c->price_file);
		return;
	}
	/* octd checked it; a file changed since then is said, not fatal */
	if ((cost.table = price_load(c->price_file, err, sizeof(err))) == NULL)
		log_warnx("price table: %s; cost_usd is not computed", err);
	else
		log_info("price table %s: %zu models", c->price_file,
		    price_count(cost.table));
}

void
cost_free(void)
{
	price_free(cost.table);
	cost.table = NULL;
}

/* A token count: -1 when absent (or not a count, which encode refuses). */
static int64_t
count(const struct event_value *v)
{
	if (v->tag == V_INT)
		return v->i;
	if (v->tag == V_REAL && v->r >= 0 && v->r < 9e15 && v->r == floor(v->r))
		return (int64_t)v->r;
	return -1;
}

static void
set_source(struct event *e, const char *s)
{
	e->v[cost.source].tag = V_TEXT;
	e->v[cost.source].s = s;
	e->v[cost.source].len = strlen(s);
}

int
cost_fill(struct event *e)
{
	const struct price	*p;
	struct event_value	*m;
	double			 usd;

	if (e->kind != EV_TRACE)
		return 0;
	if (e->v[cost.cost].tag != V_NULL) {
		set_source(e, "client");
		return 0;
	}
	m = &e->v[cost.model];
	if (m->tag != V_TEXT)
		return 0;			/* encode refuses it */
	if ((p = price_find(cost.table, m->s)) == NULL)
		return cost.table != NULL ? 1 : 0;
	if (price_cost(p, count(&e->v[cost.prompt]),
	    count(&e->v[cost.completion]), count(&e->v[cost.cached]),
	    &usd) == -1)
		return 0;			/* no tokens: nothing to price */
	e->v[cost.cost].tag = V_REAL;
	e->v[cost.cost].r = usd;
	set_source(e, "table");
	return 0;
}
