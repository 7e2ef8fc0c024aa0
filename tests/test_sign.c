/*
 * test_sign.c: pushd's pure parts: the signature (checked with a
 * Standard Webhooks verification written here), gzip, backoff and
 * Retry-After, and cutting rows into requests.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <zlib.h>

#include "harness.h"
#include "key.h"
#include "push.h"

static struct key k;

static void
setup(void)
{
	unsigned char seed[32];

	cr_assert(sodium_init() >= 0);
	memset(seed, 7, sizeof(seed));
	crypto_sign_seed_keypair(k.pk, k.sk, seed);
}

TestSuite(sign, .init = setup);

Test(sign, v1a_verifies_and_one_changed_byte_breaks_it)
{
	unsigned char	 body[] = "{\"batch_id\":\"batch-1\",\"events\":[]}";
	char		*h = sign_header(&k, "batch-1", 1732270000, body,
			    sizeof(body), NULL, 0);

	cr_assert_not_null(h);
	cr_assert(strchr(h, ' ') == NULL, "no v1 without a secret: %s", h);
	cr_assert(harness_sw_verify(k.pk, "batch-1", 1732270000, body,
	    sizeof(body), h));
	body[3] ^= 1;
	cr_assert(!harness_sw_verify(k.pk, "batch-1", 1732270000, body,
	    sizeof(body), h));
	body[3] ^= 1;
	cr_assert(!harness_sw_verify(k.pk, "batch-2", 1732270000, body,
	    sizeof(body), h));
	cr_assert(!harness_sw_verify(k.pk, "batch-1", 1732270001, body,
	    sizeof(body), h));
	free(h);
}

/* v1 is HMAC-SHA256 over the same bytes, keyed by the decoded secret. */
Test(sign, v1_hmac_matches_a_standard_webhooks_computation)
{
	const char	*secret_b64 = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	unsigned char	 secret[64];
	char		*h, *v1;
	size_t		 slen;

	cr_assert_eq(sodium_base642bin(secret, sizeof(secret), secret_b64,
	    strlen(secret_b64), NULL, &slen, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	h = sign_header(&k, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
	    (const uint8_t *)"{\"test\": 2432232314}", 20, secret, slen);
	cr_assert_not_null(h);
	v1 = strstr(h, " v1,");
	cr_assert_not_null(v1, "%s", h);
	/*
	 * The test vector of the Standard Webhooks specification (secret
	 * whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, a 24-byte key).
	 */
	cr_assert_str_eq(v1 + 4, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	free(h);
}

Test(sign, gzip_round_trip)
{
	char		 in[10000], out[10000];
	uint8_t		*gz;
	size_t		 gzlen;
	uLongf		 outlen = sizeof(out);
	z_stream	 z;
	int		 i;

	for (i = 0; i < (int)sizeof(in); i++)
		in[i] = (char)('a' + i % 7);
	cr_assert_eq(sign_gzip(in, sizeof(in), &gz, &gzlen), 0);
	cr_assert_lt(gzlen, sizeof(in) / 4);
	cr_assert_eq(gz[0], 0x1f, "gzip magic");
	cr_assert_eq(gz[1], 0x8b);
	memset(&z, 0, sizeof(z));
	cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)outlen;
	cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
	cr_assert_eq(z.total_out, sizeof(in));
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	inflateEnd(&z);
	free(gz);
}

Test(sign, backoff_stays_within_full_jitter_bounds_and_reaches_the_cap)
{
	int64_t	v, top;
	int	a, i;

	for (a = 0; a < 12; a++) {
		int64_t ceiling = 500LL << a;

		if (ceiling > 60000)
			ceiling = 60000;
		top = 0;
		for (i = 0; i < 2000; i++) {
			v = retry_backoff(500, 60000, a);
			cr_assert(v >= 0 && v <= ceiling, "attempts %d: %lld", a,
			    (long long)v);
			if (v > top)
				top = v;
		}
		cr_assert_gt(top, ceiling * 9 / 10,
		    "attempts %d: never near %lld", a, (long long)ceiling);
	}
	cr_assert_leq(retry_backoff(500, 60000, 1000), 60000);
}

Test(sign, retry_after_seconds_and_dates)
{
	cr_assert_eq(retry_after_ms("2", 0), 2000);
	cr_assert_eq(retry_after_ms("0", 0), 0);
	cr_assert_eq(retry_after_ms("999999", 0), 3600 * 1000, "capped at 1 h");
	cr_assert_eq(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT",
	    1445412470000LL), 10000);
	cr_assert_eq(retry_after_ms("junk", 0), -1);
	cr_assert_eq(retry_after_ms("", 0), -1);
	cr_assert_eq(retry_after_ms(NULL, 0), -1);
}

/* Set row r's model (its first field) to a string of len bytes. */
static void
set_model(struct push_row *r, size_t len)
{
	free(r->buf);
	r->buf = malloc(len + 1);
	memset(r->buf, 'x', len);
	r->buf[len] = '\0';
	r->v[0].tag = V_TEXT;
	r->v[0].s = r->buf;
	r->v[0].len = len;
}

static struct push_row *
rows(int n, size_t data_len)
{
	struct push_row	*r = calloc((size_t)n, sizeof(*r));
	int		 i;

	for (i = 0; i < n; i++) {
		r[i].kind = EV_TRACE;
		r[i].id = i + 1;
		snprintf(r[i].trace_id, sizeof(r[i].trace_id),
		    "%08d-0000-4000-8000-000000000000", i);
		r[i].received_at = 1700000000000LL + i;
		set_model(&r[i], data_len);
	}
	return r;
}

Test(sign, split_fits_the_limit_and_keeps_every_row_once)
{
	struct agent_info	 a = { "11111111-1111-4111-8111-111111111111",
				     "\"host\"", "0.1.0" };
	struct reqq		 q = TAILQ_HEAD_INITIALIZER(q);
	struct push_row		*big, *in = rows(50, 300);
	struct req		*r;
	char			*body;
	size_t			 len;
	int			 nbig, seen = 0, last = 0, i;
	json_t			*o;

	set_model(&in[10], 5000);
	cr_assert_eq(push_split(&enc_oct, &a, in, 50, 2048, &q, &big, &nbig),
	    0);
	cr_assert_eq(nbig, 1);
	cr_assert_eq(big[0].id, 11);
	store_row_clear(&big[0]);
	free(big);
	while ((r = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, r, entry);
		body = enc_oct.body(&a, r->batch_id, r->rows, r->n,
		    1700000000000LL, &len);
		cr_assert_leq(len, 2048);
		cr_assert_eq(strlen(body), len);
		o = json_loads(body, 0, NULL);
		cr_assert_not_null(o, "body is JSON: %s", body);
		cr_assert_str_eq(json_string_value(json_object_get(o,
		    "batch_id")), r->batch_id);
		cr_assert_eq(json_array_size(json_object_get(o, "events")),
		    (size_t)r->n);
		for (i = 0; i < r->n; i++) {
			cr_assert_gt(r->rows[i].id, last, "in order, once");
			last = (int)r->rows[i].id;
			seen++;
		}
		json_decref(o);
		free(body);
		req_free(r);
	}
	cr_assert_eq(seen, 49);
}

/* SPEC section 6's table: one function turns an answer into the action. */
Test(sign, answers_are_classified_as_the_push_table_says)
{
	static const struct {
		long			status;
		enum push_action	action;
	} table[] = {
		{ 200, PUSH_DELIVERED }, { 204, PUSH_DELIVERED },
		{ 413, PUSH_TOO_BIG }, { 400, PUSH_REFUSED },
		{ 422, PUSH_REFUSED }, { 408, PUSH_UNWELL },
		{ 429, PUSH_UNWELL }, { 500, PUSH_UNWELL },
		{ 503, PUSH_UNWELL }, { 101, PUSH_UNWELL },
		{ 301, PUSH_CONFIG }, { 401, PUSH_CONFIG },
		{ 403, PUSH_CONFIG }, { 404, PUSH_CONFIG },
	};
	struct send_result	res = { .body = "", .retry_after = -1 };
	struct push_verdict	v;
	size_t			i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		res.status = table[i].status;
		push_classify(&enc_oct, &res, &v);
		cr_assert_eq(v.action, table[i].action, "HTTP %ld",
		    table[i].status);
	}
	res.status = 0;
	res.error = "Connection refused";
	push_classify(&enc_oct, &res, &v);
	cr_assert_eq(v.action, PUSH_UNWELL, "no answer at all");
	cr_assert_str_eq(v.why, "Connection refused");
	res.error = NULL;
	res.status = 503;
	res.body = "down\r\nfor a while";
	res.retry_after = 2000;
	push_classify(&enc_oct, &res, &v);
	cr_assert_str_eq(v.what, "HTTP 503: down", "one line of the answer");
	cr_assert_eq(v.retry_after, 2000);
	res.status = 200;
	res.truncated = 1;
	push_classify(&enc_oct, &res, &v);
	cr_assert_eq(v.action, PUSH_UNWELL, "which were rejected is unknown");
	cr_assert(strstr(v.why, "with an answer over") != NULL, "%s", v.why);
}

Test(sign, a_per_kind_encoder_never_mixes_kinds_in_a_request)
{
	struct agent_info	 a = { "11111111-1111-4111-8111-111111111111",
				     "\"host\"", "0.1.0" };
	struct reqq		 q = TAILQ_HEAD_INITIALIZER(q);
	struct push_row		*big, *in = rows(12, 20);
	struct push_encoder	 enc_per_kind = enc_oct;
	struct req		*r;
	int			 nbig, i, nreq = 0, seen = 0;

	/* one kind per request, as OTLP's encoder (SPEC section 6.1) */
	enc_per_kind.per_kind = 1;
	for (i = 0; i < 12; i++)
		in[i].kind = i < 5 ? EV_TRACE : i < 7 ? EV_ERROR : EV_TRACE;
	cr_assert_eq(push_split(&enc_per_kind, &a, in, 12, 1 << 20, &q, &big,
	    &nbig), 0);
	cr_assert_eq(nbig, 0);
	free(big);
	while ((r = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, r, entry);
		for (i = 1; i < r->n; i++)
			cr_assert_eq(r->rows[i].kind, r->rows[0].kind);
		seen += r->n;
		nreq++;
		req_free(r);
	}
	cr_assert_eq(nreq, 3, "traces, errors, traces again: in order");
	cr_assert_eq(seen, 12);
}
