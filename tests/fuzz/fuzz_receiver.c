/*
 * fuzz_receiver.c: libFuzzer target for oct-receiver's request check
 * (receiver/check.c): the headers and body of a push, to the status it
 * is answered. The input's shape is in fuzz.h.
 *
 * Beyond no crash, leak or undefined behaviour (a gzip body is inflated
 * up to 64 MiB): every request gets one of the statuses oct-receiver
 * documents, with a reason and a why; one that passes has a signature
 * by the fuzz key; every event of an envelope that passes is checked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "fuzz.h"
#include "json.h"
#include "receiver.h"

int	 LLVMFuzzerInitialize(int *, char ***);

static struct pubkeys	keys;
static unsigned char	sk[crypto_sign_SECRETKEYBYTES];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char seed[crypto_sign_SEEDBYTES];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(seed, FUZZ_KEY_SEED, sizeof(seed));
	crypto_sign_seed_keypair(keys.k[0], sk, seed);
	keys.n = 1;
	return 0;
}

/* The next line of *p (up to end) as a malloc'd string; "" at the end. */
static char *
line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t	*nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t		 len = (size_t)((nl != NULL ? nl : end) - *p);
	char		*s = strndup((const char *)*p, len);

	if (s == NULL)
		abort();
	*p += nl != NULL ? len + 1 : len;
	return s;
}

/*
 * sig, then a space and "v1a," with the fuzz key's signature of
 * id.ts.body (body inflated first when rq says gzip and it inflates).
 */
static char *
sign(const struct recv_req *rq, const char *sig)
{
	unsigned char	 s[crypto_sign_BYTES];
	char		 b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
			    sodium_base64_VARIANT_ORIGINAL)], *out;
	uint8_t		*msg, *plain = NULL;
	const uint8_t	*body = rq->body;
	size_t		 len = rq->len, plen, hlen;

	if (rq->encoding != NULL && strcasecmp(rq->encoding, "gzip") == 0 &&
	    verify_gunzip(rq->body, rq->len, RECV_INFLATE_MAX, &plain,
	    &len) == 0)
		body = plain;
	hlen = strlen(rq->id) + strlen(rq->ts) + 2;
	plen = hlen + len;
	if ((msg = malloc(plen + 1)) == NULL)
		abort();
	snprintf((char *)msg, hlen + 1, "%s.%s.", rq->id, rq->ts);
	if (len > 0)
		memcpy(msg + hlen, body, len);
	crypto_sign_detached(s, NULL, msg, plen, sk);
	sodium_bin2base64(b64, sizeof(b64), s, sizeof(s),
	    sodium_base64_VARIANT_ORIGINAL);
	if (asprintf(&out, "%s v1a,%s", sig, b64) == -1)
		abort();
	free(msg);
	free(plain);
	return out;
}

static void
check_verdict(const struct recv_verdict *v)
{
	static const int codes[] = { 400, 401, 405, 413, 415 };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (v->code == codes[i] && v->reason != NULL &&
		    v->why != NULL && *v->why != '\0')
			return;
	fprintf(stderr, "fuzz_receiver: answered %d\n", v->code);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t		*p = data + 1, *end = data + size;
	struct recv_req		 rq;
	struct recv_body	 plain;
	struct recv_verdict	 v;
	struct jv_doc		*doc;
	const struct jv_val	*events;
	char			*id, *ts, *sig, *enc, *signed_sig = NULL;
	size_t			 i;
	unsigned		 flags;

	if (size < 1)
		return 0;
	flags = data[0];
	id = line(&p, end);
	ts = line(&p, end);
	sig = line(&p, end);
	enc = line(&p, end);
	memset(&rq, 0, sizeof(rq));
	rq.post = (flags & FR_POST) != 0;
	rq.id = flags & FR_ID ? id : NULL;
	rq.ts = flags & FR_TS ? ts : NULL;
	rq.encoding = flags & FR_ENC ? enc : NULL;
	rq.body = p;
	rq.len = (size_t)(end - p);
	rq.sig = flags & FR_SIG ? sig : NULL;
	if ((flags & FR_SIGN) && rq.id != NULL && rq.ts != NULL)
		rq.sig = signed_sig = sign(&rq, sig);

	memset(&v, 0, sizeof(v));
	if (recv_check_request(&rq, &keys, FUZZ_NOW, FUZZ_SKEW, &plain,
	    &v) == -1)
		check_verdict(&v);
	else {
		if (signed_sig == NULL) {
			fprintf(stderr, "fuzz_receiver: a forged signature "
			    "passed\n");
			abort();
		}
		if ((doc = recv_check_envelope(plain.body, plain.len, rq.id,
		    &v)) == NULL)
			check_verdict(&v);
		else {
			events = jv_get(jv_root(doc), "events");
			for (i = 0; i < events->n; i++)
				(void)recv_check_event(&events->u.m[i].v);
			jv_free(doc);
		}
		free(plain.inflated);
	}
	free(signed_sig);
	free(id);
	free(ts);
	free(sig);
	free(enc);
	return 0;
}
