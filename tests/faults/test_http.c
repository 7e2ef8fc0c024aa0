/*
 * test_http.c: fault row 5, HTTP abuse, on raw sockets. Header blocks of
 * 64 KiB and 1 MiB and 10,000 headers, a Content-Length longer than the
 * bytes sent then a stall, chunked bodies over the limit in small chunks
 * and with odd and bad chunk sizes and chunk extensions,
 * Transfer-Encoding: gzip, chunked, Expect: 100-continue within and over
 * the limit, a 20-digit Content-Length, two Content-Lengths, a TLS
 * ClientHello, an absolute-form target naming another host, HTTP/1.0
 * without Host, pipelining, other methods (the answers made before any
 * format also on otlp_listen):
 * each gets its documented answer (docs/RELIABILITY.md), as JSON, never a
 * CORS header, never a 2xx for what is not a good event, and nothing of it
 * is stored. Then 1,000 slowloris connections while a good client posts
 * 10 events/s: the client is always served (p50 and p99 printed),
 * ingestd's descriptors stay bounded and come back to normal after. The
 * request deadline is shortened to 2 s (OCT_TEST_CONN_DEADLINE_MS).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zlib.h>

#include "../harness.h"

#define DEADLINE_MS	2000
#define SLOW_CONNS	1000

static struct octd_run	run;
static pid_t		ingestd;
static int		otlp_port;
static int		port;		/* where dial() connects */

static void
setup(void)
{
	char addr[64];

	setenv("OCT_TEST_CONN_DEADLINE_MS", "2000", 1);
	otlp_port = harness_free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", otlp_port);
	setenv("OCT_OTLP_LISTEN", addr, 1);
	harness_setup(&run, NULL);
	harness_start(&run);
	port = run.port;
	ingestd = harness_worker(&run, "ingestd");
}

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(faults_http, .init = setup, .fini = teardown, .timeout = 120);

static long
ms_since(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int
dial(void)
{
	struct sockaddr_in	sin;
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd != -1, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "connect: %s", strerror(errno));
	return fd;
}

struct answer {
	char	text[16384];	/* all that came back, NUL-terminated */
	size_t	len;
	int	closed;		/* the server closed the connection */
	long	ms;		/* until closed, or the wait ran out */
};

/*
 * Send len bytes of req on a new connection (as far as the server takes
 * them) and read until it closes or wait_ms pass.
 */
static void
raw(const char *req, size_t len, int wait_ms, struct answer *a)
{
	struct timespec	t0;
	struct pollfd	pfd;
	size_t		off = 0;
	ssize_t		n;
	int		fd = dial();

	memset(a, 0, sizeof(*a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = fd;
	while (ms_since(&t0) < wait_ms) {
		pfd.events = POLLIN | (off < len ? POLLOUT : 0);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (pfd.revents & POLLIN) {
			n = read(fd, a->text + a->len, sizeof(a->text) - 1 -
			    a->len);
			if (n <= 0) {
				a->closed = 1;
				break;
			}
			a->len += (size_t)n;
		} else if (pfd.revents & POLLOUT) {
			n = send(fd, req + off, len - off, MSG_NOSIGNAL);
			if (n <= 0)
				off = len;	/* it stopped reading */
			else
				off += (size_t)n;
		} else if (pfd.revents & (POLLHUP | POLLERR)) {
			a->closed = 1;
			break;
		}
	}
	a->text[a->len] = '\0';
	a->ms = ms_since(&t0);
	close(fd);
}

static int
status_of(const char *text)
{
	int	st = 0;

	if (sscanf(text, "HTTP/1.%*d %d", &st) != 1)
		return 0;
	return st;
}

/* Every answer in text: JSON bodies, and no CORS header anywhere. */
static int
clean(const char *text)
{
	const char	*p;

	for (p = text; *p != '\0'; p++)
		if (strncasecmp(p, "Access-Control-", 15) == 0)
			return 0;
	for (p = text; (p = strstr(p, "\r\n\r\n")) != NULL; p += 4)
		if (p[4] != '{' && p[4] != '\0' && strncmp(p + 4, "HTTP/", 5))
			return 0;
	return 1;
}

struct buf {
	char	*s;
	size_t	 len, cap;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		cr_assert_not_null(b->s);
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

#define HEAD	"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
		"Content-Type: application/json\r\n"
#define GOOD	"{\"model\":\"abuse-ok\"}"
#define BAD	"{\"model\":\"abuse-bad\"}"

/* A request with extra header lines and body; Content-Length added. */
static void
request(struct buf *b, const char *extra, const char *body)
{
	char	cl[64];

	memset(b, 0, sizeof(*b));
	puts_(b, HEAD);
	puts_(b, extra);
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\nConnection: close"
	    "\r\n\r\n", strlen(body));
	puts_(b, cl);
	puts_(b, body);
}

/* A header block of n bytes in one header. */
static void
big_header(struct buf *b, size_t n)
{
	struct buf	h = { 0 };
	char		*x = malloc(n + 1);

	cr_assert_not_null(x);
	memset(x, 'a', n);
	x[n] = '\0';
	puts_(&h, "X-Big: ");
	puts_(&h, x);
	puts_(&h, "\r\n");
	request(b, h.s, BAD);
	free(x);
	free(h.s);
}

static void
chunked(struct buf *b, const char *te, const char *chunks)
{
	memset(b, 0, sizeof(*b));
	puts_(b, HEAD);
	puts_(b, "Transfer-Encoding: ");
	puts_(b, te);
	puts_(b, "\r\nConnection: close\r\n\r\n");
	puts_(b, chunks);
}

struct outcome {
	int	done, ok;
};

/*
 * Send b; the answer must be want (0: none, the connection closed by the
 * request deadline), arrive within limit_ms, and be clean.
 */
static void
check(struct outcome *o, const char *what, struct buf *b, int want,
    int limit_ms)
{
	struct answer	*a = malloc(sizeof(*a));
	int		 st;

	cr_assert_not_null(a);
	raw(b->s, b->len, limit_ms + 1000, a);
	st = status_of(a->text);
	o->done++;
	if (st == want && (want != 0 || a->closed) && a->ms <= limit_ms &&
	    clean(a->text)) {
		o->ok++;
		fprintf(stderr, "row 5: %s: %d in %ld ms\n", what, st, a->ms);
	} else
		fprintf(stderr, "row 5: %s: FAILED: answered %d in %ld ms "
		    "(documented %d within %d ms)%s: %.300s\n", what, st,
		    a->ms, want, limit_ms, clean(a->text) ? "" :
		    " (not clean)", a->text);
	free(a);
	free(b->s);
}

static char *
gzipped(const char *s, size_t *len)
{
	uLongf	 n = compressBound(strlen(s)) + 32;
	char	*out = malloc(n);
	z_stream z;

	cr_assert_not_null(out);
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)s;
	z.avail_in = (uInt)strlen(s);
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)n;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	*len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* The 10 good events this row sends, all committed. */
static int
good_stored(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT count(*) FROM llm_traces WHERE model = "
	    "'abuse-ok'") == 10;
}

/* oct_ingest_rejected_total{reason="why"} from /metrics. */
static long
rejected(const char *why)
{
	struct http_res	 r;
	char		 want[100], *p;

	http_req(run.port, "GET", "/metrics", NULL, 0, NULL, &r);
	cr_assert_eq(r.status, 200);
	snprintf(want, sizeof(want), "oct_ingest_rejected_total{reason="
	    "\"%s\"} ", why);
	cr_assert_not_null(p = strstr(r.body, want), "no %s", want);
	return atol(p + strlen(want));
}

/* The answers conn.c gives before any format, on otlp_listen too. */
static void
pre_format_on_otlp(struct outcome *o)
{
	struct buf b;

	port = otlp_port;
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 2000000\r\nExpect: 100-continue"
	    "\r\n\r\n");
	check(o, "OTLP: Expect: 100-continue over the limit", &b, 413, 1000);
	chunked(&b, "gzip, chunked", "15\r\n" BAD "\r\n0\r\n\r\n");
	check(o, "OTLP: Transfer-Encoding: gzip, chunked", &b, 501, 1000);
	chunked(&b, "chunked", "zz\r\n" BAD "\r\n0\r\n\r\n");
	check(o, "OTLP: a chunk size that is not hex", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 21\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\n" BAD);
	check(o, "OTLP: two Content-Lengths", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	put(&b, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
	check(o, "OTLP: a TLS ClientHello", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, "POST http://evil.example/v1/traces HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "Content-Length: 21\r\nConnection: close\r\n\r\n" BAD);
	check(o, "OTLP: an absolute-form target of another host", &b, 403,
	    1000);
	port = run.port;
}

Test(faults_http, abuse_gets_its_documented_answer)
{
	static const char *const refused[] = { "PUT", "DELETE", "PATCH",
	    "OPTIONS", "TRACE", "PROPFIND", NULL };
	struct outcome	 o = { 0, 0 };
	struct buf	 b, h;
	struct answer	*a = malloc(sizeof(*a));
	char		 line[1100], *gz;
	size_t		 gzlen;
	long		 too_large;
	int		 i, n;

	cr_assert_not_null(a);
	big_header(&b, 64 * 1024);
	check(&o, "a 64 KiB header block", &b, 400, 1000);
	big_header(&b, 1024 * 1024);
	check(&o, "a 1 MiB header block", &b, 400, 1000);

	memset(&h, 0, sizeof(h));
	for (i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line), "X-H%d: v\r\n", i);
		puts_(&h, line);
	}
	request(&b, h.s, BAD);
	free(h.s);
	check(&o, "10,000 headers (over 64 KiB)", &b, 400, 1000);
	memset(&h, 0, sizeof(h));
	for (i = 0; i < 10000; i++)
		puts_(&h, "a:b\r\n");
	request(&b, h.s, GOOD);
	free(h.s);
	check(&o, "10,000 headers (under 64 KiB)", &b, 202, 1000);

	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 21\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n15\r\n" BAD "\r\n0\r\n\r\n");
	check(&o, "both Content-Length and Transfer-Encoding", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: -1\r\nConnection: close\r\n\r\n" BAD);
	check(&o, "Content-Length: -1", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 21x\r\nConnection: close\r\n\r\n" BAD);
	check(&o, "Content-Length: 21x", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, "POST /v1/traces?");
	for (i = 0; i < 100; i++) {
		memset(line, 'a', 1000);
		line[1000] = '\0';
		puts_(&b, line);
	}
	puts_(&b, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
	    "application/json\r\nContent-Length: 21\r\nConnection: close"
	    "\r\n\r\n" BAD);
	check(&o, "a request line of 100 KB", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	check(&o, "the HTTP/2 preface", &b, 400, 1000);

	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 100\r\n\r\n{\"model\":\"abu");
	check(&o, "Content-Length 100, 13 bytes sent, then a stall", &b, 0,
	    DEADLINE_MS + 1000);

	memset(&h, 0, sizeof(h));
	memset(line, ' ', 1024);
	line[1024] = '\0';
	for (i = 0; i < 1100; i++) {
		puts_(&h, "400\r\n");
		puts_(&h, line);
		puts_(&h, "\r\n");
	}
	puts_(&h, "0\r\n\r\n");
	chunked(&b, "chunked", h.s);
	free(h.s);
	check(&o, "a chunked body over 1 MiB in 1 KiB chunks", &b, 413, 2000);

	chunked(&b, "chunked", "1\r\n{\r\nC\r\n\"model\":\"abu\r\n"
	    "0007\r\nse-ok\"}\r\n0\r\n\r\n");
	check(&o, "chunk sizes in upper case and with leading zeros", &b,
	    202, 1000);
	memset(&h, 0, sizeof(h));
	for (i = 0; GOOD[i] != '\0'; i++) {
		snprintf(line, sizeof(line), "1\r\n%c\r\n", GOOD[i]);
		puts_(&h, line);
	}
	puts_(&h, "0\r\nX-Trailer: 1\r\n\r\n");
	chunked(&b, "chunked", h.s);
	free(h.s);
	check(&o, "one-byte chunks and a trailer", &b, 202, 1000);
	chunked(&b, "chunked", "-5\r\n" BAD "\r\n0\r\n\r\n");
	check(&o, "a negative chunk size", &b, 400, 1000);
	chunked(&b, "chunked", "zz\r\n" BAD "\r\n0\r\n\r\n");
	check(&o, "a chunk size that is not hex", &b, 400, 1000);
	chunked(&b, "chunked", "1;a=b\r\n{\r\n13 ; x\r\n\"model\":"
	    "\"abuse-ok\"}\r\n0;last\r\n\r\n");
	check(&o, "chunk extensions", &b, 202, 1000);
	chunked(&b, "chunked", "FFFFFFFFFFFFFFFF\r\n" BAD);
	check(&o, "a chunk size of 2^64 - 1", &b, 413, 1000);

	gz = gzipped(BAD, &gzlen);
	snprintf(line, sizeof(line), "%zx\r\n", gzlen);
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Transfer-Encoding: gzip, chunked\r\n"
	    "Connection: close\r\n\r\n");
	puts_(&b, line);
	put(&b, gz, gzlen);
	puts_(&b, "\r\n0\r\n\r\n");
	free(gz);
	check(&o, "Transfer-Encoding: gzip, chunked", &b, 501, 1000);
	chunked(&b, "gzip, chunked", "15\r\n" BAD "\r\n0\r\n\r\n");
	check(&o, "Transfer-Encoding: gzip, chunked, plain bytes", &b, 501,
	    1000);

	too_large = rejected("too_large");
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 2000000\r\nExpect: 100-continue"
	    "\r\n\r\n");
	check(&o, "Expect: 100-continue over the limit", &b, 413, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 99999999999999999999\r\n\r\n");
	check(&o, "a 20-digit Content-Length", &b, 413, 1000);
	o.done++;
	if (rejected("too_large") == too_large + 2)
		o.ok++;
	fprintf(stderr, "row 5: those two counted as too_large: %ld more\n",
	    rejected("too_large") - too_large);
	memset(&b, 0, sizeof(b));
	puts_(&b, HEAD "Content-Length: 21\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\n" BAD);
	check(&o, "two Content-Lengths", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	put(&b, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
	check(&o, "a TLS ClientHello", &b, 400, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, "POST http://evil.example/v1/traces HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "Content-Length: 21\r\nConnection: close\r\n\r\n" BAD);
	check(&o, "an absolute-form target of another host", &b, 403, 1000);
	memset(&b, 0, sizeof(b));
	puts_(&b, "POST http://127.0.0.1/v1/traces HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "Content-Length: 20\r\nConnection: close\r\n\r\n" GOOD);
	check(&o, "an absolute-form target of loopback", &b, 202, 1000);
	pre_format_on_otlp(&o);

	memset(&b, 0, sizeof(b));
	n = snprintf(line, sizeof(line), "POST /v1/traces HTTP/1.0\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(GOOD), GOOD);
	put(&b, line, (size_t)n);
	check(&o, "HTTP/1.0 without Host (loopback only)", &b, 202, 1000);

	memset(&b, 0, sizeof(b));
	for (i = 0; i < 3; i++) {
		n = snprintf(line, sizeof(line), HEAD "Content-Length: %zu\r\n"
		    "%s\r\n%s", strlen(GOOD), i == 2 ? "Connection: close\r\n" :
		    "", GOOD);
		put(&b, line, (size_t)n);
	}
	raw(b.s, b.len, 3000, a);
	free(b.s);
	n = 0;
	for (char *p = a->text; (p = strstr(p, "HTTP/1.1 202 ")) != NULL; p++)
		n++;
	o.done++;
	if (n == 3 && a->closed && clean(a->text))
		o.ok++;
	fprintf(stderr, "row 5: three pipelined requests: %d answered 202 in "
	    "%ld ms\n", n, a->ms);

	memset(&b, 0, sizeof(b));
	n = snprintf(line, sizeof(line), HEAD "Content-Length: %zu\r\n"
	    "Expect: 100-continue\r\nConnection: close\r\n\r\n", strlen(GOOD));
	put(&b, line, (size_t)n);
	raw(b.s, b.len, 1000, a);
	o.done++;
	if (status_of(a->text) == 100) {
		/* the same connection is gone; send it whole, as curl does */
		put(&b, GOOD, strlen(GOOD));
		raw(b.s, b.len, 2000, a);
		if (strstr(a->text, "HTTP/1.1 202 ") != NULL && clean(a->text))
			o.ok++;
	}
	fprintf(stderr, "row 5: Expect: 100-continue within the limit: 100, "
	    "then %d\n", status_of(a->text));
	free(b.s);

	for (i = 0; refused[i] != NULL; i++) {
		memset(&b, 0, sizeof(b));
		n = snprintf(line, sizeof(line), "%s /v1/traces HTTP/1.1\r\n"
		    "Host: 127.0.0.1\r\nOrigin: http://example.com\r\n"
		    "Access-Control-Request-Method: POST\r\n"
		    "Connection: close\r\n\r\n", refused[i]);
		put(&b, line, (size_t)n);
		raw(b.s, b.len, 2000, a);
		free(b.s);
		o.done++;
		if ((status_of(a->text) == 405 || status_of(a->text) == 501) &&
		    clean(a->text))
			o.ok++;
		else
			fprintf(stderr, "row 5: %s: FAILED: %.300s\n",
			    refused[i], a->text);
	}
	fprintf(stderr, "row 5: methods %s..%s: 405 or 501, no CORS header\n",
	    refused[0], refused[i - 1]);
	free(a);

	harness_wait(good_stored, NULL, 5000);
	fprintf(stderr, "row 5: %d of %d sub-cases as documented; stored: "
	    "%lld good (10 sent), %lld bad; ingestd replaced: %s\n", o.ok,
	    o.done, db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model = 'abuse-ok'"), db_int(&run, "SELECT count(*) FROM "
	    "llm_traces WHERE model = 'abuse-bad' OR model LIKE 'abu%' AND "
	    "model != 'abuse-ok'"), harness_worker(&run, "ingestd") ==
	    ingestd ? "no" : "yes");
	cr_expect_eq(o.ok, o.done, "%d sub-cases answered otherwise",
	    o.done - o.ok);
	cr_expect(good_stored(NULL), "not every good event was stored");
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model != 'abuse-ok'"), 0, "something bad was stored");
	cr_expect_eq(harness_worker(&run, "ingestd"), ingestd,
	    "ingestd was restarted");
}

static int
fds_of(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int	fd_base;

static int
fds_back(void *arg)
{
	(void)arg;
	return fds_of(ingestd) <= fd_base + 2;
}

static int
cmp_long(const void *a, const void *b)
{
	long	x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static void
slow_open(int *fd)
{
	*fd = dial();
	(void)!send(*fd, "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n", 43,
	    MSG_NOSIGNAL);
}

Test(faults_http, slowloris_does_not_starve_a_good_client)
{
	static int	 fds[SLOW_CONNS];
	struct rlimit	 rl;
	struct http_res	*r = malloc(sizeof(*r));
	struct timespec	 t0, t;
	struct pollfd	 pfd;
	long		 lat[100];
	int		 i, j, served = 0, cut = 0, fd_max = 0, now;
	int		 turn = 0;
	char		 c;

	cr_assert_not_null(r);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	fd_base = fds_of(ingestd);
	for (i = 0; i < SLOW_CONNS; i++)
		slow_open(&fds[i]);
	for (i = 0; i < 100; i++) {
		/* each slow connection sends a byte every second */
		for (j = 0; j < SLOW_CONNS / 10; j++, turn++) {
			int	*fd = &fds[turn % SLOW_CONNS];

			pfd.fd = *fd;
			pfd.events = POLLIN;
			if ((poll(&pfd, 1, 0) == 1 && read(*fd, &c, 1) <= 0) ||
			    send(*fd, "x", 1, MSG_NOSIGNAL) != 1) {
				close(*fd);
				cut++;
				slow_open(fd);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		http_post(run.port, "/v1/traces", GOOD, r);
		lat[i] = ms_since(&t0);
		served += r->status == 202;
		if ((now = fds_of(ingestd)) > fd_max)
			fd_max = now;
		t = t0;
		t.tv_nsec += 100 * 1000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
	for (i = 0; i < SLOW_CONNS; i++)
		close(fds[i]);
	free(r);
	qsort(lat, 100, sizeof(lat[0]), cmp_long);
	cr_expect(harness_wait(fds_back, NULL, 10000), "ingestd holds %d "
	    "descriptors, %d before", fds_of(ingestd), fd_base);
	fprintf(stderr, "row 5: slowloris: %d connections (%d cut at the "
	    "deadline and reopened); good client served %d of 100, p50 %ld "
	    "ms, p99 %ld ms, max %ld ms; ingestd descriptors %d before, %d at "
	    "most, %d after\n", SLOW_CONNS, cut, served, lat[49], lat[98],
	    lat[99], fd_base, fd_max, fds_of(ingestd));
	cr_expect_eq(served, 100, "the good client was refused");
	cr_expect_lt(lat[98], 1000, "p99 %ld ms", lat[98]);
	/* connections cut but not yet closed by evhttp count too */
	cr_expect_leq(fd_max, fd_base + 2 * SLOW_CONNS, "descriptors "
	    "unbounded");
	cr_expect_gt(cut, SLOW_CONNS / 2, "slow connections were not cut");
	cr_expect_eq(harness_worker(&run, "ingestd"), ingestd,
	    "ingestd was restarted");
}
