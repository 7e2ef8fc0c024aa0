/*
 * sign.c: compressing and signing a request body (SPEC section 6), the way
 * Standard Webhooks 1.0 signs: over "id.timestamp.body", body being the
 * JSON payload before compression, which is what a Standard Webhooks
 * library's verify(payload, headers) is given once the collector (or its
 * framework) has inflated Content-Encoding: gzip. v1a is Ed25519
 * (libsodium); v1 is HMAC-SHA256 with the decoded whsec_ secret.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "key.h"
#include "push.h"

int
sign_gzip(const void *in, size_t len, uint8_t **out, size_t *outlen)
{
	z_stream	z;
	uLong		cap;
	int		rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -1;
	cap = deflateBound(&z, (uLong)len) + 32;
	if ((*out = malloc(cap)) == NULL) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* The signed content: id "." ts "." body (malloc'd). */
static uint8_t *
content(const char *id, int64_t ts, const uint8_t *body, size_t len,
    size_t *clen)
{
	char	 prefix[128];
	uint8_t	*c;
	int	 n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id,
		    (long long)ts);

	if (n < 0 || (size_t)n >= sizeof(prefix) ||
	    (c = malloc((size_t)n + len)) == NULL)
		return NULL;
	memcpy(c, prefix, (size_t)n);
	memcpy(c + n, body, len);
	*clen = (size_t)n + len;
	return c;
}

char *
sign_header(const struct key *k, const char *id, int64_t ts,
    const uint8_t *body, size_t len, const uint8_t *hmac_key, size_t hmac_len)
{
	unsigned char	 sig[crypto_sign_BYTES];
	unsigned char	 mac[crypto_auth_hmacsha256_BYTES];
	char		 b64sig[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
			     sodium_base64_VARIANT_ORIGINAL)];
	char		 b64mac[sodium_base64_ENCODED_LEN(
			     crypto_auth_hmacsha256_BYTES,
			     sodium_base64_VARIANT_ORIGINAL)];
	crypto_auth_hmacsha256_state st;
	uint8_t		*c;
	size_t		 clen;
	char		*out;
	int		 r;

	if ((c = content(id, ts, body, len, &clen)) == NULL)
		return NULL;
	crypto_sign_detached(sig, NULL, c, clen, k->sk);
	sodium_bin2base64(b64sig, sizeof(b64sig), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	if (hmac_key != NULL && hmac_len > 0) {
		crypto_auth_hmacsha256_init(&st, hmac_key, hmac_len);
		crypto_auth_hmacsha256_update(&st, c, clen);
		crypto_auth_hmacsha256_final(&st, mac);
		sodium_bin2base64(b64mac, sizeof(b64mac), mac, sizeof(mac),
		    sodium_base64_VARIANT_ORIGINAL);
		r = asprintf(&out, "v1a,%s v1,%s", b64sig, b64mac);
	} else
		r = asprintf(&out, "v1a,%s", b64sig);
	free(c);
	return r == -1 ? NULL : out;
}
