/*
 * test_collector.c: fault row 6, a collector that misbehaves. pushd
 * pushes to a collector in this test (a thread on a loopback port) that,
 * phase by phase: accepts and never answers; sends headers then stalls;
 * trickles its answer at 1 byte/s; answers 200 with a 50 MiB body; answers
 * bytes that are not HTTP; resets the connection after the request. In
 * each phase, over at least two requests: pushd gives up near
 * push_timeout_ms (2 s here) where it has to wait, at once where the
 * collector hangs up; no row is marked synced and none goes dead; pushd's
 * RSS stays bounded; a client posting 10 events/s beside it is served as
 * fast as ever (p99 printed). Then the collector heals (oct-receiver on
 * the same port): every event is delivered, once. Then TLS: a collector
 * with a self-signed certificate is refused the same way; so are, from a
 * test CA pushd trusts (push_ca_file), an expired certificate and one for
 * another name, and once the certificate is mended everything is
 * delivered once.
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "../harness.h"

#define TIMEOUT_MS	2000
#define HUGE_BYTES	(50 * 1024 * 1024)
/*
 * How much pushd's RSS may grow: less than the 50 MiB answer, so a pushd
 * that kept it whole fails (it keeps 16 MiB). Under ASan, whose quarantine
 * holds every freed buffer of the growing answer, only a runaway shows.
 */
#ifdef __SANITIZE_ADDRESS__
#define RSS_GROWTH_KB	(128 * 1024)
#else
#define RSS_GROWTH_KB	(40 * 1024)
#endif

enum mode { SILENT, STALL, TRICKLE, HUGE, GARBAGE, RESET, NMODES };
static const char *const mode_name[] = {
	"accepts, never answers", "headers, then a stall",
	"an answer at 1 byte/s", "200 with a 50 MiB body",
	"bytes that are not HTTP", "a reset after the request",
};

static struct octd_run	run;
static struct octd_run	sink;		/* the healed OTLP collector: an octd */
static int		lfd = -1, cport;
static pid_t		receiver, front;

static struct {
	pthread_t	 th;
	volatile int	 stop;
	volatile int	 mode;
	volatile int	 requests;	/* in this mode */
	long		 gave_up[8];	/* ms, accept to pushd's close */
	volatile int	 ngave;
} col;

static struct {
	pthread_t	 th;
	volatile int	 stop;
	long		 lat[2000];
	int		 n, ok;
} cl;

static void
teardown(void)
{
	col.stop = cl.stop = 1;
	harness_teardown(&run);
	harness_teardown(&sink);
	if (receiver > 0)
		kill(receiver, SIGKILL);
	if (front > 0)
		kill(front, SIGKILL);
}

TestSuite(faults_collector, .fini = teardown, .timeout = 180);

static long
ms_since(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Wait up to ms for fd to be readable; -1 stop, 0 not yet, 1 readable. */
static int
readable(int fd, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };

	if (col.stop)
		return -1;
	return poll(&pfd, 1, ms) == 1;
}

/* Read one request (headers and Content-Length bytes); 0, or -1 closed. */
static int
read_request(int fd)
{
	char	buf[65536], *end, *len_at;
	size_t	have = 0;
	ssize_t	n;
	long	want = -1;

	for (;;) {
		if (readable(fd, 100) != 1) {
			if (col.stop)
				return -1;
			continue;
		}
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if (want < 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			len_at = strcasestr(buf, "\r\nContent-Length:");
			want = (long)(end + 4 - buf) + (len_at != NULL ?
			    atol(len_at + 17) : 0);
		}
		if (want >= 0 && (long)have >= want)
			return 0;
		if (have > sizeof(buf) / 2) {	/* count on, drop bytes */
			if (want >= 0) {
				want -= (long)have;
				have = 0;
			}
		}
	}
}

/* Wait for pushd to close fd; returns 1 once it has. */
static int
peer_closed(int fd, int ms)
{
	char	c[4096];
	int	r = readable(fd, ms);

	return r == 1 && read(fd, c, sizeof(c)) <= 0;
}

static void
serve(int fd, enum mode m, const struct timespec *t0)
{
	static const char	 head[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
	struct linger		 lg = { 1, 0 };
	char			*junk;
	size_t			 i, off;
	ssize_t			 n;
	int			 closed = 0;

	switch (m) {
	case SILENT:
		break;
	case STALL:
		(void)!write(fd, head, sizeof(head) - 3);  /* no body */
		break;
	case TRICKLE:
		for (i = 0; i < sizeof(head) - 1 && !closed && !col.stop; i++)
			if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1 ||
			    peer_closed(fd, 1000))
				closed = 1;
		break;
	case HUGE:
		junk = malloc(1 << 20);
		cr_assert_not_null(junk);
		memset(junk, 'x', 1 << 20);
		n = dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
		    "Connection: close\r\n\r\n", HUGE_BYTES);
		for (off = 0; n > 0 && off < HUGE_BYTES && !col.stop;
		    off += (size_t)n)
			n = send(fd, junk, 1 << 20, MSG_NOSIGNAL);
		free(junk);
		closed = 1;	/* sent, or pushd hung up */
		break;
	case GARBAGE:
		(void)!write(fd, "SSH-2.0-OpenSSH_9.6\r\n\x00\xff\xfe\x01",
		    25);
		closed = 1;
		break;
	case RESET:
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		closed = 1;
		break;
	default:
		break;
	}
	while (!closed && !col.stop)
		closed = peer_closed(fd, 100);
	if (closed && (m == SILENT || m == STALL || m == TRICKLE) &&
	    col.ngave < 8)
		col.gave_up[col.ngave++] = ms_since(t0);
}

static void *
collector(void *arg)
{
	struct timespec	t0;
	int		fd;

	(void)arg;
	while (!col.stop) {
		if (readable(lfd, 100) != 1)
			continue;
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (!col.stop && read_request(fd) == 0) {
			enum mode m = (enum mode)col.mode;

			col.requests++;
			serve(fd, m, &t0);
			break;
		}
		close(fd);
	}
	return NULL;
}

static void *
client(void *arg)
{
	struct http_res	*r = malloc(sizeof(*r));
	struct timespec	 t0;

	(void)arg;
	while (!cl.stop && cl.n < 2000) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		http_post(run.port, "/v1/traces", "{\"model\":\"col\"}", r);
		cl.lat[cl.n++] = ms_since(&t0);
		cl.ok += r->status == 202;
		usleep(100000);
	}
	free(r);
	return NULL;
}

static int
listen_on(int *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, one = 1;

	/* not inherited by octd, which starts later: the port must free up */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd != -1);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static long
rss_kb(pid_t pid)
{
	char	path[64], line[256];
	FILE	*f;
	long	kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
two_requests(void *arg)
{
	pid_t	 pushd = harness_worker(&run, "pushd");
	long	*rss_max = arg, kb = rss_kb(pushd);

	if (kb > *rss_max)
		*rss_max = kb;
	return col.requests >= 2 && (col.mode > TRICKLE || col.ngave >= 2);
}

/* One text from a SELECT on oct.db (read-only). */
static void
db_text(const char *sql, char *out, size_t len)
{
	char		 path[600];
	sqlite3		*db;
	sqlite3_stmt	*s;

	snprintf(out, len, "(none)");
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &s, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW &&
		    sqlite3_column_text(s, 0) != NULL)
			snprintf(out, len, "%s", sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
}

static pid_t
receiver_on(const char *db, const char *key, int port)
{
	char	listen[64], log[600];
	pid_t	pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/receiver.log", run.dir);
	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen(log, "a", stderr) == NULL)
			_exit(126);
		execl(harness_bin("oct-receiver"), "oct-receiver", "--listen",
		    listen, "--db", db, "--pubkey", key, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static char	recv_db[600];

static int
healed(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT count(*) FROM llm_traces WHERE synced_at "
	    "IS NULL") == 0 && file_int(recv_db, "SELECT count(*) FROM "
	    "events") == db_int(&run, "SELECT count(*) FROM llm_traces");
}

/*
 * Once the collector has healed (oct-receiver at recv_db): every row
 * delivered, once, none dead; what says which heal. Returns the rows.
 */
static long long
expect_delivered_once(const char *what)
{
	long long	stored, got, distinct, dead;

	cr_expect(harness_wait(healed, NULL, 30000), "%s: not delivered: %lld "
	    "unsynced", what, db_int(&run, "SELECT count(*) FROM llm_traces "
	    "WHERE synced_at IS NULL"));
	stored = db_int(&run, "SELECT count(*) FROM llm_traces");
	got = file_int(recv_db, "SELECT count(*) FROM events");
	distinct = file_int(recv_db, "SELECT count(DISTINCT trace_id) FROM "
	    "events");
	dead = db_int(&run, "SELECT count(*) FROM llm_traces WHERE dead = 1");
	fprintf(stderr, "row 6: %s: %lld stored, %lld delivered (%lld "
	    "distinct), %lld dead\n", what, stored, got, distinct, dead);
	cr_expect_eq(got, stored, "%s: %lld stored, %lld delivered", what,
	    stored, got);
	cr_expect_eq(distinct, got, "%s: an event delivered twice", what);
	cr_expect_eq(dead, 0, "%s: rows dead", what);
	return stored;
}

static int
cmp_long(const void *a, const void *b)
{
	long	x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/*
 * The collector of this test misbehaves in each of the n modes in turn,
 * over at least two requests each, while the client posts beside it;
 * fmt names the push_format in what is printed. *rss_max: pushd's
 * largest RSS seen.
 */
static void
fault_phases(const char *fmt, const int *modes, int n, long *rss_max)
{
	char	 err[256], wait[128];
	int	 k, m, i, synced, dead, gave;

	for (k = 0; k < n; k++) {
		m = modes[k];
		col.ngave = 0;
		col.requests = 0;
		col.mode = m;
		cr_assert(harness_wait(two_requests, rss_max, 30000),
		    "%s, %s: pushd sent %d requests in 30 s", fmt,
		    mode_name[m], col.requests);
		synced = (int)db_int(&run, "SELECT count(*) FROM llm_traces "
		    "WHERE synced_at IS NOT NULL");
		dead = (int)db_int(&run, "SELECT count(*) FROM llm_traces "
		    "WHERE dead = 1");
		gave = 0;
		for (i = 0; i < col.ngave; i++)
			if (col.gave_up[i] < TIMEOUT_MS - 100 ||
			    col.gave_up[i] > TIMEOUT_MS + 1000)
				gave++;
		db_text("SELECT last_push_error FROM llm_traces WHERE "
		    "last_push_error IS NOT NULL ORDER BY id LIMIT 1", err,
		    sizeof(err));
		if (m <= TRICKLE)
			snprintf(wait, sizeof(wait), "pushd gave up after %ld "
			    "and %ld ms (push_timeout_ms %d)", col.gave_up[0],
			    col.gave_up[1], TIMEOUT_MS);
		else
			snprintf(wait, sizeof(wait), "the collector hung up");
		fprintf(stderr, "row 6: %s, %s: %d requests; %s; %d synced, "
		    "%d dead; pushd RSS %ld KiB at most; last error: %s\n",
		    fmt, mode_name[m], col.requests, wait, synced, dead,
		    *rss_max, err);
		cr_expect_eq(synced, 0, "%s, %s: rows marked synced", fmt,
		    mode_name[m]);
		cr_expect_eq(dead, 0, "%s, %s: rows dead", fmt, mode_name[m]);
		if (m <= TRICKLE)
			cr_expect(col.ngave >= 2 && gave == 0, "%s, %s: gave up "
			    "after %ld ms", fmt, mode_name[m], col.gave_up[1]);
	}
}

/* octd with push_url at the test's collector (push_format = fmt). */
static void
start_pushing(const char *fmt, const char *path)
{
	char	conf[600];

	lfd = listen_on(&cport);
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d%s\n"
	    "push_format = %s\npush_timeout_ms = %d\n"
	    "push_interval_ms = 200\npush_backoff_base_ms = 100\n"
	    "push_backoff_cap_ms = 500\n", cport, path, fmt, TIMEOUT_MS);
	harness_setup(&run, conf);
	col.mode = SILENT;
	cr_assert_eq(pthread_create(&col.th, NULL, collector, NULL), 0);
	harness_start(&run);
}

/* The collector's thread is stopped and its port freed; so is the client. */
static void
stop_faults(void)
{
	col.stop = 1;
	pthread_join(col.th, NULL);
	close(lfd);
	cl.stop = 1;
	pthread_join(cl.th, NULL);
}

static void
print_client(const char *fmt)
{
	qsort(cl.lat, (size_t)cl.n, sizeof(cl.lat[0]), cmp_long);
	fprintf(stderr, "row 6: %s: ingest beside it: %d of %d answered 202, "
	    "p50 %ld ms, p99 %ld ms\n", fmt, cl.ok, cl.n, cl.n ?
	    cl.lat[cl.n / 2] : -1L, cl.n ? cl.lat[cl.n * 99 / 100] : -1L);
	cr_expect_eq(cl.ok, cl.n, "ingest refused the client");
	cr_expect_lt(cl.n ? cl.lat[cl.n * 99 / 100] : 0, 500);
}

Test(faults_collector, a_bad_collector_loses_nothing)
{
	static const int modes[] = { SILENT, STALL, TRICKLE, HUGE, GARBAGE,
		RESET };
	char	 key[128];
	long	 rss_max = 0, rss_base;

	start_pushing("oct", "/in");
	rss_base = rss_kb(harness_worker(&run, "pushd"));
	cr_assert_eq(pthread_create(&cl.th, NULL, client, NULL), 0);
	fault_phases("oct", modes, NMODES, &rss_max);

	/* heal: the real collector on the same port */
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	stop_faults();
	receiver = receiver_on(recv_db, key, cport);
	cr_expect_gt(expect_delivered_once("healed"), 50);
	fprintf(stderr, "row 6: pushd RSS %ld KiB before, %ld at most\n",
	    rss_base, rss_max);
	print_client("oct");
	cr_expect_lt(rss_max - rss_base, RSS_GROWTH_KB, "pushd RSS grew from "
	    "%ld to %ld KiB", rss_base, rss_max);
}

/* The spans the sink accepted (its /metrics), or -1. */
static long long
sink_accepted(void)
{
	static const char name[] = "oct_ingest_accepted_total{type=\"llm_trace\"} ";
	struct http_res	 *r = malloc(sizeof(*r));
	const char	 *p;
	long long	  n = -1;

	if (r != NULL && http_req(sink.port, "GET", "/metrics", NULL, 0, NULL,
	    r) == 0 && r->status == 200 && (p = strstr(r->body, name)) != NULL)
		n = atoll(p + sizeof(name) - 1);
	free(r);
	return n;
}

static int
sink_healed(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT count(*) FROM llm_traces WHERE synced_at "
	    "IS NULL") == 0 && db_int(&sink, "SELECT count(*) FROM llm_traces") ==
	    db_int(&run, "SELECT count(*) FROM llm_traces");
}

/*
 * The same with push_format = otlp, each fault: the rows stay unsynced
 * and alive, pushd's RSS bounded (an OTLP answer is decoded, so a 50 MiB
 * one must not be kept either); healed, an octd's otlp_listen on the same
 * port stores every span once and accepted each once (its /metrics: a
 * span sent twice would be counted twice, though stored once by its id).
 */
Test(faults_collector, a_bad_collector_loses_nothing_over_otlp)
{
	static const int modes[] = { SILENT, STALL, TRICKLE, HUGE, GARBAGE,
		RESET };
	char		 addr[64];
	long		 rss_max = 0, rss_base;
	long long	 stored, got, accepted;

	setenv("OCT_OTLP_LISTEN", "", 1);
	start_pushing("otlp", "");
	rss_base = rss_kb(harness_worker(&run, "pushd"));
	cr_assert_eq(pthread_create(&cl.th, NULL, client, NULL), 0);
	fault_phases("otlp", modes, NMODES, &rss_max);

	/* heal: an octd whose otlp_listen takes the collector's port */
	stop_faults();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", cport);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	harness_setup(&sink, NULL);
	harness_start(&sink);
	setenv("OCT_OTLP_LISTEN", "", 1);
	cr_expect(harness_wait(sink_healed, NULL, 30000), "not delivered after "
	    "the collector healed: %lld unsynced, %lld in the sink",
	    db_int(&run, "SELECT count(*) FROM llm_traces WHERE synced_at IS "
	    "NULL"), db_int(&sink, "SELECT count(*) FROM llm_traces"));
	stored = db_int(&run, "SELECT count(*) FROM llm_traces");
	got = db_int(&sink, "SELECT count(*) FROM llm_traces");
	accepted = sink_accepted();
	fprintf(stderr, "row 6: otlp healed: %lld stored, %lld delivered, "
	    "%lld spans accepted by the sink, %lld dead; pushd RSS %ld KiB "
	    "before, %ld at most\n", stored, got, accepted, db_int(&run,
	    "SELECT count(*) FROM llm_traces WHERE dead = 1"), rss_base,
	    rss_max);
	print_client("otlp");
	cr_expect_lt(rss_max - rss_base, RSS_GROWTH_KB, "pushd RSS grew from "
	    "%ld to %ld KiB", rss_base, rss_max);
	cr_expect_eq(got, stored, "%lld stored, %lld delivered", stored, got);
	cr_expect_eq(accepted, stored, "%lld stored, %lld spans accepted: "
	    "some sent twice", stored, accepted);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "dead = 1"), 0);
	cr_expect_gt(stored, 20);
}

static int
tls_refused_twice(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "push_attempts >= 2 AND last_push_error LIKE '%certificate%'") > 0;
}

/*
 * TLS with a self-signed certificate (openssl s_server on loopback): the
 * certificate is refused, the rows charged an attempt, none synced, none
 * dead.
 */
Test(faults_collector, a_self_signed_certificate_is_refused)
{
	struct http_res	r;
	char		conf[600], cmd[2000], err[256], accept[64];
	int		port = harness_free_port(), i;
	pid_t		tls;

	harness_setup(&run, NULL);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 "
	    "-nodes -subj /CN=127.0.0.1 -days 1 -keyout '%s/k.pem' -out "
	    "'%s/c.pem' >/dev/null 2>&1", run.dir, run.dir);
	cr_assert_eq(system(cmd), 0, "openssl req failed");
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	tls = fork();
	cr_assert(tls != -1);
	if (tls == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (chdir(run.dir) == -1 ||
		    freopen("/dev/null", "w", stdout) == NULL ||
		    freopen("/dev/null", "w", stderr) == NULL)
			_exit(126);
		execlp("openssl", "openssl", "s_server", "-quiet", "-accept",
		    accept, "-cert", "c.pem", "-key", "k.pem", (char *)NULL);
		_exit(127);
	}
	receiver = tls;		/* teardown kills it */
	snprintf(conf, sizeof(conf), "push_url = https://127.0.0.1:%d/in\n"
	    "push_timeout_ms = %d\npush_interval_ms = 200\n"
	    "push_backoff_base_ms = 100\npush_backoff_cap_ms = 500\n", port,
	    TIMEOUT_MS);
	harness_write_conf(&run, conf);
	harness_start(&run);
	for (i = 0; i < 5; i++)
		http_post(run.port, "/v1/traces?wait=commit",
		    "{\"model\":\"tls\"}", &r);
	cr_expect(harness_wait(tls_refused_twice, NULL, 20000), "no "
	    "certificate error recorded twice");
	db_text("SELECT last_push_error FROM llm_traces WHERE last_push_error "
	    "IS NOT NULL ORDER BY id LIMIT 1", err, sizeof(err));
	fprintf(stderr, "row 6: TLS, self-signed: %lld synced, %lld dead, "
	    "attempts of the first row %lld; last error: %s\n",
	    db_int(&run, "SELECT count(*) FROM llm_traces WHERE synced_at IS "
	    "NOT NULL"), db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "dead = 1"), db_int(&run, "SELECT push_attempts FROM llm_traces "
	    "ORDER BY id LIMIT 1"), err);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "synced_at IS NOT NULL"), 0);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "dead = 1"), 0);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces"), 5);
}

/*
 * A TLS front for the certificate faults, node's https on port: key and
 * cert from dir, each request passed on to 127.0.0.1:back (502 while
 * nothing listens there).
 */
static const char tls_front_js[] =
    "const fs = require('fs'), https = require('https'),"
    " http = require('http');"
    "const [dir, name, port, back] = process.argv.slice(1);"
    "https.createServer({ key: fs.readFileSync(`${dir}/${name}.key`),"
    " cert: fs.readFileSync(`${dir}/${name}.pem`) }, (q, s) => {"
    " const r = http.request({ host: '127.0.0.1', port: +back,"
    " method: q.method, path: q.url, headers: q.headers }, (x) => {"
    " s.writeHead(x.statusCode, x.headers); x.pipe(s); });"
    " r.on('error', () => { s.writeHead(502); s.end(); });"
    " q.pipe(r); }).listen(+port, '127.0.0.1');";

static int	front_port, back_port;

static int
port_open(void *arg)
{
	struct sockaddr_in	sin;
	int			fd, ok;

	(void)arg;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)front_port);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

/* (Re)start the front with certificate name (name.pem, name.key). */
static void
front_start(const char *name)
{
	char	port[16], back[16];

	if (front > 0) {
		kill(front, SIGKILL);
		waitpid(front, NULL, 0);
	}
	snprintf(port, sizeof(port), "%d", front_port);
	snprintf(back, sizeof(back), "%d", back_port);
	front = fork();
	cr_assert(front != -1);
	if (front == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execlp("node", "node", "-e", tls_front_js, run.dir, name, port,
		    back, (char *)NULL);
		_exit(127);
	}
	cr_assert(harness_wait(port_open, NULL, 15000), "the TLS front with "
	    "%s.pem is not up", name);
}

/*
 * A test CA (ca.pem) and three leaves it signed: expired (for
 * 127.0.0.1, its end a day before its start), misnamed (valid, for
 * other.example only), good (valid, for 127.0.0.1 and localhost).
 */
static void
make_certs(void)
{
	char	cmd[2048];

	snprintf(cmd, sizeof(cmd), "{ cd '%s' && "
	    "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
	    "openssl req -x509 $ec -subj /CN=oct-test-ca -days 2 "
	    "-keyout ca.key -out ca.pem && "
	    "leaf() { openssl req $ec -subj /CN=$2 -keyout $1.key "
	    "-out $1.csr && echo subjectAltName=$3 >$1.ext && "
	    "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key "
	    "-set_serial $4 -days $5 -extfile $1.ext -out $1.pem; } && "
	    "leaf expired 127.0.0.1 IP:127.0.0.1,DNS:localhost 2 -1 && "
	    "leaf misnamed other.example DNS:other.example 3 1 && "
	    "leaf good 127.0.0.1 IP:127.0.0.1,DNS:localhost 4 1; "
	    "} >/dev/null 2>&1", run.dir);
	cr_assert_eq(system(cmd), 0, "openssl: the test CA failed");
}

struct cert_fault {
	const char	*name;		/* the front's certificate */
	const char	*why;		/* in libcurl's error, as logged */
};

static int
refused_twice(void *arg)
{
	const struct cert_fault *f = arg;

	return harness_count(harness_log(&run, "pushd"), f->why) >= 2;
}

static void
push_status(char *out, size_t len)
{
	char *argv[] = { (char *)harness_bin("octctl"), "-c", run.conf,
	    "push-status", NULL };

	harness_run(argv, out, len);
}

/*
 * TLS with a certificate from a CA pushd trusts (push_ca_file) that has
 * expired, then one for another name: each is refused over at least two
 * attempts, logged and shown by push-status with libcurl's reason, no
 * row synced, none dead. Then the front gets a good certificate (and
 * oct-receiver behind it): every event delivered once.
 */
Test(faults_collector, an_expired_or_misnamed_certificate_is_refused)
{
	static const struct cert_fault faults[] = {
		{ "expired", "certificate has expired" },
		{ "misnamed", "no alternative certificate subject name "
		    "matches target host name '127.0.0.1'" },
	};
	struct http_res	 r;
	char		 conf[1024], key[128], out[4096], *line;
	size_t		 i;
	int		 k;

	harness_setup(&run, NULL);
	make_certs();
	front_port = harness_free_port();
	back_port = harness_free_port();
	snprintf(conf, sizeof(conf), "push_url = https://127.0.0.1:%d/in\n"
	    "push_ca_file = %s/ca.pem\npush_timeout_ms = %d\n"
	    "push_interval_ms = 200\npush_backoff_base_ms = 100\n"
	    "push_backoff_cap_ms = 500\n", front_port, run.dir, TIMEOUT_MS);
	harness_write_conf(&run, conf);
	harness_start(&run);
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		front_start(faults[i].name);
		for (k = 0; k < 5; k++)
			http_post(run.port, "/v1/traces?wait=commit",
			    "{\"model\":\"tls\"}", &r);
		cr_assert(harness_wait(refused_twice, (void *)&faults[i],
		    20000), "%s: \"%s\" not logged twice: %s", faults[i].name,
		    faults[i].why, harness_slurp(harness_log(&run, "pushd")));
		push_status(out, sizeof(out));
		line = strstr(out, "last collector error:");
		fprintf(stderr, "row 6: TLS, %s certificate: %lld synced, %lld "
		    "dead, %lld stored; push-status: %.*s\n", faults[i].name,
		    db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
		    "synced_at IS NOT NULL"), db_int(&run, "SELECT count(*) "
		    "FROM llm_traces WHERE dead = 1"), db_int(&run, "SELECT "
		    "count(*) FROM llm_traces"), line != NULL ?
		    (int)strcspn(line, "\n") : 6, line != NULL ? line :
		    "(none)");
		cr_expect(line != NULL && strstr(line, faults[i].why) != NULL,
		    "%s: push-status does not say why: %s", faults[i].name,
		    out);
		cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces "
		    "WHERE synced_at IS NOT NULL"), 0, "%s", faults[i].name);
		cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces "
		    "WHERE dead = 1"), 0, "%s", faults[i].name);
	}

	/* heal: a good certificate, and oct-receiver behind the front */
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	receiver = receiver_on(recv_db, key, back_port);
	front_start("good");
	cr_expect_eq(expect_delivered_once("TLS healed"), 10);
	kill(front, SIGKILL);
	waitpid(front, NULL, 0);
	front = 0;
}
