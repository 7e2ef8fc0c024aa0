/*
 * push.c: octctl push. --dry-run is built: it reads the rows a push would
 * send (read-only), cuts them into requests with pushd's own code, and
 * prints their number and raw and compressed sizes; it sends nothing and
 * changes nothing. Pushing for real through the running daemon (progress
 * bar, --verbose answers) is not built yet: pushd pushes every
 * push_interval_ms on its own meanwhile.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "event.h"
#include "oct.h"
#include "pushd.h"
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

	if (envelope_split(a, rows, n, (size_t)c->conf.push_max_payload_bytes,
	    &q, &big, &nbig) == -1)
		return -1;
	for (i = 0; i < nbig; i++) {
		if (verbose)
			printf("event %s: %zu bytes, over push_max_payload_bytes: "
			    "would go dead\n", big[i].trace_id,
			    envelope_event_len(&big[i]));
		free(big[i].data);
	}
	t->dead += nbig;
	free(big);
	while ((r = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, r, entry);
		if ((body = envelope_body(a, r, now_ms(), &len)) == NULL)
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

static int
dry_run(struct ctl *c, int force, int64_t batch, int verbose)
{
	struct store		*st;
	struct push_row		*rows;
	struct agent_info	 a;
	struct totals		 t = { 0 };
	char			 path[4096], err[1024], host[256], *hj;
	json_t			*h;
	int			 n, i, off;

	snprintf(path, sizeof(path), "%s/oct.db", c->conf.data_dir);
	if ((st = store_open(path, STORE_RO, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "octctl: %s (has octd run with this "
		    "configuration?)\n", err);
		return 1;
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	h = json_string(host);
	hj = json_dumps(h, JSON_ENCODE_ANY);
	json_decref(h);
	a.id = store_agent_id(st);
	a.host = hj;
	a.version = OCT_VERSION;
	n = store_fetch_due(st, now_ms(), DRY_MAX_ROWS, force, &rows);
	if (n < 0) {
		fprintf(stderr, "octctl: read %s: %s\n", path, store_error(st));
		store_close(st);
		free(hj);
		return 1;
	}
	/* as pushd does: batch rows per cycle, each cycle cut by size */
	for (off = 0; off < n; off += (int)batch) {
		int k = n - off < batch ? n - off : (int)batch;
		struct push_row *part = calloc((size_t)k, sizeof(*part));

		memcpy(part, rows + off, (size_t)k * sizeof(*part));
		if (measure(c, &a, part, k, verbose, &t) == -1) {
			fprintf(stderr, "octctl: cannot build batches\n");
			for (i = off + k; i < n; i++)
				free(rows[i].data);
			free(rows);
			store_close(st);
			free(hj);
			return 1;
		}
	}
	free(rows);
	printf("dry run: %lld events in %lld batches, %lld bytes raw, %lld bytes "
	    "%s; %lld too large (would go dead); nothing sent\n",
	    (long long)t.events, (long long)t.batches, (long long)t.raw,
	    (long long)t.sent, c->conf.push_compression == CONF_COMPRESS_GZIP ?
	    "gzip" : "to send", (long long)t.dead);
	store_close(st);
	free(hj);
	return 0;
}

int
cmd_push(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t	batch = c->conf.push_batch_size;
	int	ch, dry = 0, force = 0, verbose = 0;
	char	*end;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dry = 1; break;
		case 'f': force = 1; break;
		case 'v': verbose = 1; break;
		case 'b':
			batch = strtoll(optarg, &end, 10);
			if (*end != '\0' || batch < 1 || batch > 100000) {
				fprintf(stderr, "octctl: --batch-size takes 1 to "
				    "100000\n");
				return 2;
			}
			break;
		default: ctl_usage();
		}
	}
	if (optind != argc)
		ctl_usage();
	if (dry)
		return dry_run(c, force, batch, verbose);
	fprintf(stderr, "octctl: push without --dry-run is not built yet; "
	    "pushd pushes every push_interval_ms on its own (see octctl "
	    "push-status)\n");
	return 1;
}
