/*
 * push_dry.c: octctl push --dry-run. Reads the rows a push would send
 * (read-only), cuts them into requests with the push engine's own code,
 * compresses them as it would, and prints their number and sizes; it
 * sends nothing and changes nothing.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "event.h"
#include "log.h"
#include "oct.h"
#include "push.h"
#include "store.h"

#define DRY_MAX_ROWS	10000000

struct totals {
	int64_t	events, batches, raw, sent, dead;
};

/* Cut one fetch's rows into requests as pushd would, and measure them. */
static int
measure(const struct ctl *c, const struct agent_info *a, struct push_row *rows,
    int n, int verbose, struct totals *t)
{
	struct reqq	 q = TAILQ_HEAD_INITIALIZER(q);
	struct push_row	*big;
	struct req	*r;
	uint8_t		*gz;
	size_t		 len, gzlen;
	char		*body;
	int		 nbig, i;
	const struct push_encoder *enc = push_conf_encoder(&c->conf);

	if (push_split(enc, a, rows, n,
	    (size_t)c->conf.push_max_payload_bytes, &q, &big, &nbig) == -1)
		return -1;
	for (i = 0; i < nbig; i++) {
		if (verbose)
			printf("event %s: %zu bytes, over push_max_payload_bytes: "
			    "would go dead\n", big[i].trace_id,
			    enc->event_len(&big[i]));
		store_row_clear(&big[i]);
	}
	t->dead += nbig;
	free(big);
	while ((r = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, r, entry);
		body = enc->body(a, r->batch_id, r->rows, r->n, now_ms(), &len);
		if (body == NULL)
			return -1;
		gzlen = len;
		if (c->conf.push_compression == CONF_COMPRESS_GZIP) {
			if (sign_gzip(body, len, &gz, &gzlen) == -1)
				return -1;
			free(gz);
		}
		if (verbose)
			printf("batch %s: %d events, %zu bytes, %zu to send\n",
			    r->batch_id, r->n, len, gzlen);
		t->batches++;
		t->events += r->n;
		t->raw += (int64_t)len;
		t->sent += (int64_t)gzlen;
		free(body);
		req_free(r);
	}
	return 0;
}

static void
dry_print(const struct ctl *c, const struct totals *t, int json)
{
	json_t	*o;
	char	*text;

	if (!json) {
		printf("dry run: %lld events in %lld %s, %lld bytes raw, %lld "
		    "bytes %s; %lld too large (would go dead); nothing sent\n",
		    (long long)t->events, (long long)t->batches,
		    t->batches == 1 ? "batch" : "batches", (long long)t->raw,
		    (long long)t->sent, c->conf.push_compression ==
		    CONF_COMPRESS_GZIP ? "gzip" : "to send", (long long)t->dead);
		return;
	}
	o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I}", "dry_run", 1, "events",
	    (json_int_t)t->events, "batches", (json_int_t)t->batches,
	    "raw_bytes", (json_int_t)t->raw, "bytes", (json_int_t)t->sent,
	    "too_large", (json_int_t)t->dead);
	if ((text = json_dumps(o, JSON_COMPACT)) != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(o);
}

/*
 * --dry-run: the rows a push would send now, read-only, cut and compressed
 * as the engine would, and their totals printed. Returns the exit status.
 */
int
push_dry_run(struct ctl *c, int force, int64_t batch, int verbose, int json)
{
	struct store		*st;
	struct push_row		*rows;
	struct agent_info	 a;
	struct totals		 t = { 0 };
	char			 path[4096], err[1024], *hj;
	int			 n, i, off, rc = 0;

	snprintf(path, sizeof(path), "%s/oct.db", c->conf.data_dir);
	if ((st = store_open(path, STORE_RO, 0, err, sizeof(err))) == NULL)
		return push_fail(json, "%s (has octd run with this "
		    "configuration?)", err);
	if ((hj = push_host_json()) == NULL)
		fatalx("out of memory");
	a.id = store_agent_id(st);
	a.host = hj;
	a.version = OCT_VERSION;
	n = store_fetch_due(st, now_ms(), c->conf.push_backoff_cap_ms,
	    DRY_MAX_ROWS, force, NULL, &rows);
	if (n < 0)
		rc = push_fail(json, "read %s: %s", path, store_error(st));
	/* as pushd does: batch rows per cycle, each cycle cut by size */
	for (off = 0; off < n && rc == 0; off += (int)batch) {
		int k = n - off < batch ? n - off : (int)batch;
		struct push_row *part = calloc((size_t)k, sizeof(*part));

		memcpy(part, rows + off, (size_t)k * sizeof(*part));
		if (measure(c, &a, part, k, verbose, &t) == -1) {
			rc = push_fail(json, "cannot build batches");
			for (i = off + k; i < n; i++)
				store_row_clear(&rows[i]);
		}
	}
	if (rc == 0)
		dry_print(c, &t, json);
	free(rows);
	store_close(st);
	free(hj);
	return rc;
}
