/*
 * push.c: octctl push.
 *
 * Through the running daemon: octd passes the request to pushd, which
 * makes one pass over the rows and reports each answer. With octd
 * stopped, octctl takes the writer lock on oct.db and runs the same pass
 * itself (pushd/cycle.c), applying each mark at once. Either way octctl
 * draws a progress bar on a terminal, or prints one summary line
 * otherwise, and exits 0 only when nothing is left to deliver. --dry-run
 * reads the rows a push would send (read-only), cuts them into requests
 * with pushd's own code, and prints their number and sizes; it sends
 * nothing and changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "ctl.h"
#include "event.h"
#include "log.h"
#include "marks.h"
#include "msg.h"
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
	n = store_fetch_due(st, now_ms(), DRY_MAX_ROWS, force, NULL, &rows);
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

static void
bar(json_t *o)
{
	json_int_t	total = json_integer_value(json_object_get(o, "total"));
	json_int_t	sent = json_integer_value(json_object_get(o, "sent"));
	json_int_t	ms = json_integer_value(json_object_get(o, "elapsed_ms"));
	int		width = 30, fill = total > 0 ? (int)(sent * width /
			    total) : width;

	if (fill > width)
		fill = width;
	fprintf(stderr, "\r[%.*s%*s] %lld/%lld events  %.1f MB  %lld batches  "
	    "%lld failures  %lld events/s ", fill,
	    "##############################", width - fill, "", sent, total,
	    json_integer_value(json_object_get(o, "bytes")) / 1048576.0,
	    json_integer_value(json_object_get(o, "batches")),
	    json_integer_value(json_object_get(o, "failures")),
	    ms > 0 ? sent * 1000 / ms : 0);
}

static void
verbose_line(json_t *req)
{
	const char *err = json_string_value(json_object_get(req, "error"));

	printf("batch %s: %lld events, %lld bytes -> ", json_string_value(
	    json_object_get(req, "batch_id")), json_integer_value(
	    json_object_get(req, "events")), json_integer_value(
	    json_object_get(req, "bytes")));
	if (err != NULL)
		printf("%s", err);
	else
		printf("HTTP %lld", json_integer_value(json_object_get(req,
		    "status")));
	printf(" in %lld ms\n", json_integer_value(json_object_get(req, "ms")));
}

/* What the lines of a push have said so far. */
struct follow {
	int	 verbose, tty;
	json_t	*last;
};

/* One progress line; returns 1 once it is the last. */
static int
follow_line(struct follow *f, json_t *o)
{
	if (f->verbose && json_is_object(json_object_get(o, "request"))) {
		if (f->tty)
			fprintf(stderr, "\r\033[K");
		verbose_line(json_object_get(o, "request"));
		fflush(stdout);
	}
	if (f->tty && json_object_get(o, "total") != NULL)
		bar(o);
	json_decref(f->last);
	f->last = o;
	return json_is_true(json_object_get(o, "done")) ||
	    json_object_get(o, "total") == NULL;
}

/* The summary after the last line; returns the exit status. */
static int
follow_end(struct follow *f)
{
	json_t	*last = f->last;
	int	 r = 1;

	if (f->tty)
		fprintf(stderr, "\n");
	if (last == NULL)
		fprintf(stderr, "octctl: the push ended without a word\n");
	else if (json_object_get(last, "total") == NULL ||
	    (json_is_string(json_object_get(last, "error")) &&
	    json_integer_value(json_object_get(last, "batches")) == 0))
		/* nothing was tried: the reason alone says it */
		fprintf(stderr, "octctl: %s\n", json_string_value(
		    json_object_get(last, "error")));
	else {
		printf("pushed %lld of %lld events in %lld batches (%lld bytes), "
		    "%lld failures, %lld dead, %lld left\n",
		    json_integer_value(json_object_get(last, "sent")),
		    json_integer_value(json_object_get(last, "total")),
		    json_integer_value(json_object_get(last, "batches")),
		    json_integer_value(json_object_get(last, "bytes")),
		    json_integer_value(json_object_get(last, "failures")),
		    json_integer_value(json_object_get(last, "dead")),
		    json_integer_value(json_object_get(last, "remaining")));
		if (json_is_string(json_object_get(last, "error")))
			fprintf(stderr, "octctl: %s\n", json_string_value(
			    json_object_get(last, "error")));
		r = json_integer_value(json_object_get(last, "remaining")) == 0 &&
		    !json_is_string(json_object_get(last, "error")) ? 0 : 1;
	}
	json_decref(last);
	f->last = NULL;
	return r;
}

/* Read octd's lines until the last; returns the exit status. */
static int
follow_push(int fd, int verbose)
{
	struct follow	 fw = { verbose, isatty(STDERR_FILENO), NULL };
	FILE		*f = fdopen(fd, "r");
	char		*line = NULL;
	size_t		 cap = 0;
	json_t		*o;

	while (f != NULL && getline(&line, &cap, f) != -1) {
		if ((o = json_loads(line, 0, NULL)) == NULL ||
		    follow_line(&fw, o))
			break;
	}
	if (fw.last == NULL)
		fprintf(stderr, "octctl: octd closed the connection\n");
	free(line);
	if (f != NULL)
		fclose(f);
	else
		close(fd);
	return fw.last == NULL ? 1 : follow_end(&fw);
}

/*
 * With octd stopped: octctl is the writer. Each mark is applied in a
 * transaction of its own as soon as the cycle hands it over, so the
 * cycle never waits for a commit.
 */
static struct {
	struct store		*st;
	struct event_base	*base;
	struct follow		 fw;
	uint64_t		 seq;
	int			 failed;
} off = { .seq = 1 };

static void
off_mark(struct msgb *b)
{
	struct msg	m;
	size_t		len;

	off.seq++;
	if (msg_parse(b->buf, b->len, &m, &len) != 1 ||
	    store_begin(off.st) == -1 || marks_apply(off.st, &m) == -1 ||
	    store_commit(off.st) == -1) {
		if (!off.failed)
			fprintf(stderr, "\noctctl: cannot record what the "
			    "collector answered: %s\n", store_error(off.st));
		store_rollback(off.st);
		off.failed = 1;
		event_base_loopbreak(off.base);
	}
	msg_free(b);
}

static uint64_t
off_next_seq(void)
{
	return off.seq;
}

static int
off_idle(void)
{
	return 1;
}

static void
off_report(int done, const char *line)
{
	json_t *o = json_loads(line, 0, NULL);

	if (o != NULL && follow_line(&off.fw, o))
		done = 1;
	if (done)
		event_base_loopbreak(off.base);
}

static void
off_exit(void)
{
	event_base_loopbreak(off.base);
}

static const struct push_sink off_sink = {
	.mark = off_mark,
	.next_seq = off_next_seq,
	.idle = off_idle,
	.report = off_report,
	.exit = off_exit,
};

static int
push_offline(struct ctl *c, int force, int64_t batch, int verbose)
{
	char	path[4096], err[1024];
	int	r;

	snprintf(path, sizeof(path), "%s/oct.db", c->conf.data_dir);
	if (access(path, F_OK) == -1) {
		fprintf(stderr, "octctl: octd is not running and there is no %s "
		    "yet: nothing to push\n", path);
		return 1;
	}
	if ((off.st = store_open(path, STORE_RW, c->conf.sqlite_synchronous == CONF_SYNC_FULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "octctl: octd is not running; pushing without "
		    "it needs the writer lock: %s\n", err);
		return 1;
	}
	/* the cycle's own log lines: warnings with --verbose, else none */
	log_init("octctl", verbose ? LOG_WARN : LOG_FATAL);
	if ((off.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	off.fw.verbose = verbose;
	off.fw.tty = isatty(STDERR_FILENO);
	push_init(off.base, &c->conf, &off_sink, off.st);
	push_session(force, verbose, batch);
	if (off.fw.last == NULL || !json_is_true(json_object_get(off.fw.last,
	    "done")))
		event_base_dispatch(off.base);
	r = follow_end(&off.fw);
	push_free();
	event_base_free(off.base);
	store_close(off.st);
	return off.failed ? 1 : r;
}

static int
push_now(struct ctl *c, int force, int64_t batch, int verbose)
{
	char	req[256];
	int	fd, n;

	if ((fd = ctl_dial(c)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return push_offline(c, force, batch, verbose);
		fprintf(stderr, "octctl: %s/control.sock: %s\n",
		    c->conf.run_dir, strerror(errno));
		return 1;
	}
	n = snprintf(req, sizeof(req), "{\"cmd\":\"push\",\"force\":%s,"
	    "\"batch_size\":%lld,\"verbose\":%s}\n", force ? "true" : "false",
	    (long long)batch, verbose ? "true" : "false");
	if (write(fd, req, (size_t)n) != n) {
		fprintf(stderr, "octctl: write to octd failed\n");
		close(fd);
		return 1;
	}
	return follow_push(fd, verbose);
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
	return push_now(c, force, batch, verbose);
}
