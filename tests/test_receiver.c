/*
 * test_receiver.c: oct-receiver as a collector sees it: batches signed
 * here with libsodium, sent with libcurl, checked in its SQLite file.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <sodium.h>
#include <zlib.h>

#include "harness.h"

static char		dir[] = "/tmp/oct-recv-XXXXXX";
static char		db[128];
static unsigned char	pk[32], sk[64], pk2[32], sk2[64];
static pid_t		pid;
static int		port;

static void
b64(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, in, len, sodium_base64_VARIANT_ORIGINAL);
}

static void
start(const char *keyarg, const char *keyarg2)
{
	char listen[64];

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (keyarg2 != NULL)
			execl(harness_bin("oct-receiver"), "oct-receiver",
			    "--listen", listen, "--db", db, "--pubkey", keyarg,
			    "--pubkey", keyarg2, (char *)NULL);
		else
			execl(harness_bin("oct-receiver"), "oct-receiver",
			    "--listen", listen, "--db", db, "--pubkey", keyarg,
			    (char *)NULL);
		_exit(127);
	}
}

static int
serving(void *arg)
{
	struct http_res r;

	(void)arg;
	return http_req(port, "GET", "/", NULL, 0, NULL, &r) == 0;
}

static void
setup(void)
{
	cr_assert(sodium_init() >= 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cr_assert(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/recv.db", dir);
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	port = harness_free_port();
}

static void
teardown(void)
{
	char cmd[200];

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

TestSuite(receiver, .init = setup, .fini = teardown, .timeout = 30);

static void
up(void)
{
	char key[64];

	b64(pk, 32, key, sizeof(key));
	start(key, NULL);
	cr_assert(harness_wait(serving, NULL, 5000));
}

static void	send_signed(const char *, long long, const char *, size_t, int,
		    const unsigned char *, int, int, struct http_res *);

/*
 * POST body (gzipped when gz) as batch id, signed with key at ts over the
 * body before compression; flip changes one byte of what is sent.
 */
static void
send_batch(const char *id, long long ts, const char *body, size_t len,
    int gz, const unsigned char *key, int flip, struct http_res *r)
{
	send_signed(id, ts, body, len, gz, key, flip, 0, r);
}

/* The same; with sign_sent, signed over the bytes sent instead. */
static void
send_signed(const char *id, long long ts, const char *body, size_t len,
    int gz, const unsigned char *key, int flip, int sign_sent,
    struct http_res *r)
{
	char		 hid[100], hts[64], hsig[200], v1a[120];
	const char	*headers[6];
	unsigned char	*payload = (unsigned char *)body;
	uLongf		 zlen = compressBound(len) + 64;
	unsigned char	*zbuf = NULL, *signed_body;
	size_t		 plen = len, slen;
	z_stream	 z;

	if (gz) {
		zbuf = malloc(zlen);
		memset(&z, 0, sizeof(z));
		deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (Bytef *)body;
		z.avail_in = (uInt)len;
		z.next_out = zbuf;
		z.avail_out = (uInt)zlen;
		cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
		plen = z.total_out;
		deflateEnd(&z);
		payload = zbuf;
	}
	/* signed: the payload before compression (SPEC 6), or with
	 * sign_sent the bytes sent, as oct signed before */
	signed_body = sign_sent ? payload : (unsigned char *)body;
	slen = sign_sent ? plen : len;
	harness_sw_sign(key, id, ts, signed_body, slen, v1a, sizeof(v1a));
	snprintf(hid, sizeof(hid), "webhook-id: %s", id);
	snprintf(hts, sizeof(hts), "webhook-timestamp: %lld", ts);
	snprintf(hsig, sizeof(hsig), "webhook-signature: v1,aGVsbG8= %s",
	    v1a);
	headers[0] = hid;
	headers[1] = hts;
	headers[2] = hsig;
	headers[3] = gz ? "Content-Encoding: gzip" : "X-None: 1";
	headers[4] = NULL;
	if (flip)
		payload[plen / 2] ^= 1;
	http_req(port, "POST", "/any/path", (const char *)payload, plen,
	    headers, r);
	free(zbuf);
}

static char *
envelope(const char *id, const char *events)
{
	char *b;

	cr_assert(asprintf(&b, "{\"agent\":{\"id\":\"agent-1\",\"host\":\"h\","
	    "\"version\":\"0.1.0\"},\"batch_id\":\"%s\",\"sent_at\":1,"
	    "\"events\":[%s]}", id, events) != -1);
	return b;
}

#define EV(t)	"{\"type\":\"llm_trace\",\"trace_id\":\"" t "\"," \
		"\"received_at\":1,\"data\":{\"trace_id\":\"" t "\"," \
		"\"model\":\"m\"}}"

static long long
now_s(void)
{
	return (long long)time(NULL);
}

Test(receiver, stores_a_verified_batch_once)
{
	struct http_res	 r;
	char		*b = envelope("b1", EV("t1") "," EV("t2"));

	up();
	send_batch("b1", now_s(), b, strlen(b), 1, sk, 0, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events WHERE agent_id "
	    "= 'agent-1' AND batch_id = 'b1' AND type = 'llm_trace' AND "
	    "json_extract(data, '$.model') = 'm'"), 2);
	send_batch("b1", now_s(), b, strlen(b), 1, sk, 0, &r);
	cr_assert_eq(r.status, 200, "a repeated webhook-id is fine");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events"), 2);
	free(b);
	b = envelope("b2", EV("t2") "," EV("t3"));
	send_batch("b2", now_s(), b, strlen(b), 0, sk, 0, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events"), 3,
	    "t2 once, whatever batch carries it");
	free(b);
}

Test(receiver, refuses_what_it_cannot_trust)
{
	struct http_res	 r;
	char		*b = envelope("b1", EV("t1"));
	char		*other = envelope("b9", EV("t1"));

	up();
	send_batch("b1", now_s(), b, strlen(b), 0, sk, 1, &r);
	cr_assert_eq(r.status, 401, "one byte changed");
	cr_assert_str_eq(r.body, "{\"error\":\"bad signature\"}");
	send_batch("b1", now_s(), b, strlen(b), 1, sk, 1, &r);
	cr_assert_eq(r.status, 400, "one byte of the gzip changed");
	cr_assert_str_eq(r.body, "{\"error\":\"bad gzip data\"}");
	send_batch("b1", now_s(), b, strlen(b), 1, sk2, 0, &r);
	cr_assert_eq(r.status, 401, "an unknown key");
	send_batch("b1", now_s() - 400, b, strlen(b), 1, sk, 0, &r);
	cr_assert_eq(r.status, 401, "too old");
	cr_assert_str_eq(r.body, "{\"error\":\"timestamp outside the window\"}");
	send_batch("b1", now_s(), other, strlen(other), 1, sk, 0, &r);
	cr_assert_eq(r.status, 401, "batch_id is not webhook-id");
	cr_assert_str_eq(r.body, "{\"error\":\"batch_id differs from "
	    "webhook-id\"}");
	http_req(port, "POST", "/", b, strlen(b), NULL, &r);
	cr_assert_eq(r.status, 401, "unsigned");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events"), 0);
	free(b);
	free(other);
}

/*
 * Standard Webhooks libraries verify the payload they are handed, which a
 * framework has inflated: the signature covers the JSON, not the gzip.
 */
Test(receiver, the_signature_covers_the_payload_before_compression)
{
	struct http_res	 r;
	char		*b = envelope("b1", EV("t1"));

	up();
	send_signed("b1", now_s(), b, strlen(b), 1, sk, 0, 1, &r);
	cr_assert_eq(r.status, 401, "signed over the gzip bytes: %s", r.body);
	cr_assert_str_eq(r.body, "{\"error\":\"bad signature\"}");
	send_batch("b1", now_s(), b, strlen(b), 1, sk, 0, &r);
	cr_assert_eq(r.status, 200, "signed over the JSON, sent gzipped: %s",
	    r.body);
	free(b);
	b = envelope("b3", EV("t3"));
	send_batch("b3", now_s(), b, strlen(b), 0, sk, 0, &r);
	cr_assert_eq(r.status, 200, "no compression: the same bytes");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events"), 2);
	free(b);
}

/*
 * An empty body, signed or not (found by tests/fuzz/fuzz_receiver: the
 * signed text "id.ts." was written one byte past its buffer).
 */
Test(receiver, an_empty_body_gets_400_or_401)
{
	struct http_res	 r;

	up();
	send_batch("e1", now_s(), "", 0, 0, sk, 0, &r);
	cr_assert_eq(r.status, 400);
	cr_assert_str_eq(r.body, "{\"error\":\"body is not a JSON object\"}");
	send_batch("e2", now_s(), "", 0, 0, sk2, 0, &r);
	cr_assert_eq(r.status, 401);
	cr_assert_str_eq(r.body, "{\"error\":\"bad signature\"}");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events"), 0);
}

Test(receiver, a_gzip_bomb_gets_413)
{
	struct http_res	 r;
	size_t		 len = 65 * 1024 * 1024;
	char		*b = calloc(1, len + 1);

	up();
	memset(b, ' ', len);
	send_batch("bomb", now_s(), b, len, 1, sk, 0, &r);
	cr_assert_eq(r.status, 413);
	free(b);
}

Test(receiver, rejects_bad_events_and_keeps_the_good)
{
	struct http_res	 r;
	char		*b = envelope("b1", EV("good") ","
	    "{\"type\":\"nonsense\",\"trace_id\":\"x1\",\"data\":{}},"
	    "{\"type\":\"llm_trace\",\"data\":{}},"
	    "{\"type\":\"error_event\",\"trace_id\":\"x3\"}");

	up();
	send_batch("b1", now_s(), b, strlen(b), 1, sk, 0, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"rejected\":[{\"trace_id\":\"x1\","
	    "\"reason\":\"unknown type\"},{\"trace_id\":null,\"reason\":"
	    "\"missing trace_id\"},"
	    "{\"trace_id\":\"x3\",\"reason\":\"missing data\"}]}");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events"), 1);
	free(b);
}

/*
 * data is stored as the bytes it was sent as (they are what was signed),
 * not written again: spaces, 2.50 and \u00e9 stay as sent; a key spelt
 * with an escape is found; of two data members the last is the one.
 */
Test(receiver, stores_data_as_the_bytes_sent)
{
	struct http_res	 r;
	char		*b = envelope("b1",
	    "{\"type\":\"llm_trace\",\"trace_id\":\"s1\",\"data\": "
	    "{ \"model\" : \"m\",\n \"n\": 2.50, \"s\": \"\\u00e9\" } },"
	    "{\"type\":\"llm_trace\",\"trace_id\":\"s2\","
	    "\"d\\u0061ta\":{\"x\":1e2}},"
	    "{\"type\":\"llm_trace\",\"trace_id\":\"s3\","
	    "\"data\":{\"a\":1},\"data\":{\"b\": [2, {}]}}");

	up();
	send_batch("b1", now_s(), b, strlen(b), 1, sk, 0, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events WHERE "
	    "trace_id = 's1' AND data = "
	    "'{ \"model\" : \"m\",' || char(10) || ' \"n\": 2.50, "
	    "\"s\": \"\\u00e9\" }'"), 1, "s1's data as sent");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events WHERE "
	    "trace_id = 's2' AND data = '{\"x\":1e2}'"), 1,
	    "s2's data as sent");
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events WHERE "
	    "trace_id = 's3' AND data = '{\"b\": [2, {}]}'"), 1,
	    "s3's last data as sent");
	free(b);
}

Test(receiver, keys_as_whpk_or_in_a_file_and_two_for_rotation)
{
	struct http_res	 r;
	char		 key[64], arg[80], path[200], *b;
	FILE		*f;

	b64(pk, 32, key, sizeof(key));
	snprintf(arg, sizeof(arg), "whpk_%s", key);
	snprintf(path, sizeof(path), "%s/new.pub", dir);
	f = fopen(path, "w");
	b64(pk2, 32, key, sizeof(key));
	fprintf(f, "public key: %s\n", key);
	fclose(f);
	start(arg, path);
	cr_assert(harness_wait(serving, NULL, 5000));
	b = envelope("b1", EV("t1"));
	send_batch("b1", now_s(), b, strlen(b), 1, sk, 0, &r);
	cr_assert_eq(r.status, 200, "old key");
	free(b);
	b = envelope("b2", EV("t2"));
	send_batch("b2", now_s(), b, strlen(b), 1, sk2, 0, &r);
	cr_assert_eq(r.status, 200, "new key");
	free(b);
}

Test(receiver, bad_command_lines)
{
	char	 out[1024];
	char	*nokey[] = { (char *)harness_bin("oct-receiver"), "--listen",
		    "127.0.0.1:1", "--db", db, NULL };
	char	*badkey[] = { (char *)harness_bin("oct-receiver"), "--listen",
		    "127.0.0.1:1", "--db", db, "--pubkey", "nonsense", NULL };

	cr_assert_eq(harness_run(nokey, out, sizeof(out)), 2);
	cr_assert(strstr(out, "usage: oct-receiver"), "%s", out);
	cr_assert_eq(harness_run(badkey, out, sizeof(out)), 2);
	cr_assert(strstr(out, "--pubkey nonsense: neither a public key"), "%s",
	    out);
}
