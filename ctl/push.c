/*
 * push.c: octctl push.
 *
 * Through the running daemon: octd passes the request to pushd, which
 * makes one pass over the rows and reports each answer. With octd
 * stopped, octctl takes the writer lock on oct.db and runs the same pass
 * itself (push/, libpush.a), applying each mark at once. Either way octctl
 * draws a progress bar on a terminal (one line, as wide as the terminal),
 * or prints one summary line otherwise, or with --json one object; it
 * exits 0 only when every event was delivered and none is left.
 * --dry-run is push_dry.c.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "ctl.h"
#include "event.h"
#include "log.h"
#include "marks.h"
#include "msg.h"
#include "oct.h"
#include "push.h"
#include "store.h"

/* Bytes as "12.3 kB", or "12.3/45.6 kB" of a total (< 0: none known). */
static void
human(char *out, size_t len, int64_t done, int64_t total)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double	 d = (double)done, t = (double)total;
	double	 top = total > done ? t : d;
	int	 u = 0;

	for (; top >= 1000 && u < 4; u++) {
		top /= 1000;
		d /= 1000;
		t /= 1000;
	}
	if (total < 0)
		snprintf(out, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
	else
		snprintf(out, len, u ? "%.1f/%.1f %s" : "%.0f/%.0f %s", d, t,
		    unit[u]);
}

#define I(o, k)	json_integer_value(json_object_get((o), (k)))
#define PLURAL(n, one, many)	((n) == 1 ? (one) : (many))

/* Columns of the terminal on stderr; 80 when it does not say. */
static int
columns(void)
{
	struct winsize w;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0)
		return w.ws_col;
	return 80;
}

/*
 * The progress bar, drawn over the same line: the bar itself as wide as
 * what is left of the terminal's width (at most 30, left out under 5),
 * then events, bytes of the payload sent of the total pending, batches,
 * failures and the rate; cut to one column less than the width, so the
 * cursor never wraps to a second line.
 */
static void
bar(json_t *o)
{
	json_int_t	 total = I(o, "total"), sent = I(o, "sent");
	json_int_t	 ms = I(o, "elapsed_ms");
	json_int_t	 batches = I(o, "batches"), failures = I(o, "failures");
	json_t		*tp = json_object_get(o, "total_payload_bytes");
	char		 bytes[64], stats[256], line[512];
	int		 cols = columns(), width, fill, n;

	human(bytes, sizeof(bytes), I(o, "payload_bytes"),
	    json_is_integer(tp) ? json_integer_value(tp) : -1);
	snprintf(stats, sizeof(stats), "%lld/%lld %s  %s  %lld %s  %lld %s  "
	    "%lld/s", sent, total, PLURAL(total, "event", "events"), bytes,
	    batches, PLURAL(batches, "batch", "batches"), failures,
	    PLURAL(failures, "failure", "failures"), ms > 0 ? sent * 1000 / ms :
	    0);
	width = cols - 1 - (int)strlen(stats) - 3;
	if (width > 30)
		width = 30;
	n = 0;
	if (width >= 5) {
		fill = total > 0 ? (int)(sent * width / total) : width;
		if (fill > width)
			fill = width;
		n = snprintf(line, sizeof(line), "[%.*s%*s] ", fill,
		    "##############################", width - fill, "");
	}
	snprintf(line + n, sizeof(line) - (size_t)n, "%s", stats);
	if (cols - 1 < (int)sizeof(line) && cols > 1)
		line[cols - 1] = '\0';
	fprintf(stderr, "\r%s\033[K", line);
}

static void
verbose_line(json_t *req)
{
	const char *err = json_string_value(json_object_get(req, "error"));

	printf("batch %s: %lld events, %lld bytes -> ", json_string_value(
	    json_object_get(req, "batch_id")), I(req, "events"),
	    I(req, "bytes"));
	if (err != NULL)
		printf("%s", err);
	else
		printf("HTTP %lld", I(req, "status"));
	printf(" in %lld ms\n", I(req, "ms"));
}

/* What the lines of a push have said so far. */
struct follow {
	int	 verbose, tty, json;
	json_t	*last;
	json_t	*requests;	/* --json --verbose: each request */
};

/* One progress line; returns 1 once it is the last. */
static int
follow_line(struct follow *f, json_t *o)
{
	json_t *req = json_object_get(o, "request");

	if (f->verbose && json_is_object(req) && f->json) {
		if (f->requests == NULL)
			f->requests = json_array();
		json_array_append(f->requests, req);
	} else if (f->verbose && json_is_object(req)) {
		if (f->tty)
			fprintf(stderr, "\r\033[K");
		verbose_line(req);
		fflush(stdout);
	}
	if (f->tty && !f->json && json_object_get(o, "total") != NULL)
		bar(o);
	json_decref(f->last);
	f->last = o;
	return json_is_true(json_object_get(o, "done")) ||
	    json_object_get(o, "total") == NULL;
}

/*
 * Exit status of a push (SPEC section 7): 0 when it ran, stopped on no
 * error, and left no event undelivered: none dead (refused by the
 * collector, too large) and none left pending.
 */
static int
push_exit(json_t *last)
{
	if (last == NULL || json_object_get(last, "total") == NULL ||
	    json_is_string(json_object_get(last, "error")))
		return 1;
	return I(last, "remaining") == 0 && I(last, "dead") == 0 &&
	    I(last, "failures") == 0 ? 0 : 1;
}

/* The one line that says how a push went. */
static void
summary(json_t *last)
{
	json_int_t	total = I(last, "total"), batches = I(last, "batches");
	json_int_t	failures = I(last, "failures");

	printf("pushed %lld of %lld %s in %lld %s (%lld bytes), %lld %s, "
	    "%lld dead, %lld left\n", I(last, "sent"), total,
	    PLURAL(total, "event", "events"), batches,
	    PLURAL(batches, "batch", "batches"), I(last, "bytes"), failures,
	    PLURAL(failures, "failure", "failures"), I(last, "dead"),
	    I(last, "remaining"));
	if (json_is_string(json_object_get(last, "error")))
		fprintf(stderr, "octctl: %s\n", json_string_value(
		    json_object_get(last, "error")));
	else if (I(last, "dead") > 0)
		fprintf(stderr, "octctl: %lld %s not delivered: refused by the "
		    "collector or too large (octctl push-status lists them)\n",
		    I(last, "dead"), PLURAL(I(last, "dead"), "event was",
		    "events were"));
	else if (I(last, "remaining") > 0)
		fprintf(stderr, "octctl: %lld %s still to push\n",
		    I(last, "remaining"), PLURAL(I(last, "remaining"), "event is",
		    "events are"));
}

/* --json: the last line, with each request when verbose, on stdout. */
static void
json_end(struct follow *f)
{
	json_t	*o = f->last;
	char	*text;

	if (o == NULL)
		o = json_pack("{s:s}", "error", "the push ended without a word");
	else
		json_incref(o);
	json_object_del(o, "done");
	if (f->requests != NULL)
		json_object_set(o, "requests", f->requests);
	if ((text = json_dumps(o, JSON_COMPACT)) != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(o);
}

/* The summary after the last line; returns the exit status. */
static int
follow_end(struct follow *f)
{
	json_t	*last = f->last;
	int	 r = push_exit(last);

	if (f->tty && !f->json)
		fprintf(stderr, "\n");
	if (f->json)
		json_end(f);
	else if (last == NULL)
		fprintf(stderr, "octctl: the push ended without a word\n");
	else if (json_object_get(last, "total") == NULL ||
	    (json_is_string(json_object_get(last, "error")) &&
	    I(last, "batches") == 0))
		/* nothing was tried: the reason alone says it */
		fprintf(stderr, "octctl: %s\n", json_string_value(
		    json_object_get(last, "error")));
	else
		summary(last);
	json_decref(last);
	json_decref(f->requests);
	f->last = f->requests = NULL;
	return r;
}

/* An error before any push began: said as text or as JSON. */
int
push_fail(int json, const char *fmt, ...)
{
	char	 msg[2048];
	va_list	 ap;
	json_t	*o;
	char	*text;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!json) {
		fprintf(stderr, "octctl: %s\n", msg);
		return 1;
	}
	o = json_pack("{s:s}", "error", msg);
	if ((text = json_dumps(o, JSON_COMPACT)) != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(o);
	return 1;
}

/* Read octd's lines until the last; returns the exit status. */
static int
follow_push(int fd, int verbose, int json)
{
	struct follow	 fw = { verbose, isatty(STDERR_FILENO), json, NULL,
			     NULL };
	FILE		*f = fdopen(fd, "r");
	char		*line = NULL;
	size_t		 cap = 0;
	json_t		*o;

	while (f != NULL && getline(&line, &cap, f) != -1) {
		if ((o = json_loads(line, 0, NULL)) == NULL ||
		    follow_line(&fw, o))
			break;
	}
	free(line);
	if (f != NULL)
		fclose(f);
	else
		close(fd);
	if (fw.last == NULL) {
		json_decref(fw.requests);
		return push_fail(json, "octd closed the connection");
	}
	return follow_end(&fw);
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

/*
 * octd is stopped: take the writer lock and run the session here, marks
 * applied at once (off_sink). Returns the exit status.
 */
static int
push_offline(struct ctl *c, int force, int64_t batch, int verbose, int json)
{
	char	path[4096], err[1024];
	int	r;

	snprintf(path, sizeof(path), "%s/oct.db", c->conf.data_dir);
	if (access(path, F_OK) == -1)
		return push_fail(json, "octd is not running and there is no %s "
		    "yet: nothing to push", path);
	store_single_threaded();	/* octctl has one thread */
	if ((off.st = store_open(path, STORE_RW, c->conf.sqlite_synchronous ==
	    CONF_SYNC_FULL, err, sizeof(err))) == NULL)
		return push_fail(json, "octd is not running; pushing without "
		    "it needs the writer lock: %s", err);
	/* the cycle's own log lines: warnings with --verbose, else none */
	log_init("octctl", verbose && !json ? LOG_WARN : LOG_FATAL);
	if ((off.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	off.fw.verbose = verbose;
	off.fw.tty = isatty(STDERR_FILENO);
	off.fw.json = json;
	push_init(off.base, &c->conf, &off_sink, off.st);
	/* total_payload_bytes shows in the bar and --json only */
	push_sizing(off.fw.tty || json);
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
push_now(struct ctl *c, int force, int64_t batch, int verbose, int json)
{
	char	req[256];
	int	fd, n;

	if ((fd = ctl_dial(c)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return push_offline(c, force, batch, verbose, json);
		return push_fail(json, "%s/control.sock: %s", c->conf.run_dir,
		    strerror(errno));
	}
	n = snprintf(req, sizeof(req), "{\"cmd\":\"push\",\"force\":%s,"
	    "\"batch_size\":%lld,\"verbose\":%s}\n", force ? "true" : "false",
	    (long long)batch, verbose ? "true" : "false");
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return push_fail(json, "write to octd failed");
	}
	return follow_push(fd, verbose, json);
}

/* octctl push [options]: parse them, then dry run, or push. Exit status. */
int
cmd_push(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t	batch = c->conf.push_batch_size;
	int	ch, dry = 0, force = 0, verbose = 0, json = 0;
	char	*end;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dry = 1; break;
		case 'f': force = 1; break;
		case 'v': verbose = 1; break;
		case 'j': json = 1; break;
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
		return push_dry_run(c, force, batch, verbose && !json, json);
	return push_now(c, force, batch, verbose, json);
}
