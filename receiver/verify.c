/*
 * verify.c: the collector's checks of a pushed batch: Standard Webhooks
 * v1a (Ed25519) signatures over "id.timestamp.body" (body: the payload
 * before compression), and gzip with a cap so a small body cannot inflate
 * without bound.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "receiver.h"

static int
decode_key(const char *s, unsigned char *pk)
{
	size_t len;

	if (strncmp(s, "whpk_", 5) == 0)
		s += 5;
	return sodium_base642bin(pk, crypto_sign_PUBLICKEYBYTES, s, strlen(s),
	    " \r\n\t", &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    len == crypto_sign_PUBLICKEYBYTES ? 0 : -1;
}

int
verify_parse_key(const char *arg, unsigned char *pk, char *err, size_t errlen)
{
	char	 line[512];
	FILE	*f;

	if (decode_key(arg, pk) == 0)
		return 0;
	if ((f = fopen(arg, "r")) == NULL) {
		snprintf(err, errlen, "--pubkey %s: neither a public key "
		    "(base64 or whpk_<base64>) nor a readable file", arg);
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	/* octctl keygen's output may be saved whole: take a key from a line. */
	if (strncmp(line, "public key: ", 12) == 0)
		memmove(line, line + 12, strlen(line + 12) + 1);
	if (decode_key(line, pk) == 0)
		return 0;
	snprintf(err, errlen, "--pubkey %s: the file holds no public key", arg);
	return -1;
}

int
verify_signature(const struct pubkeys *keys, const char *id, const char *ts,
    const uint8_t *body, size_t len, const char *header)
{
	unsigned char	 sig[crypto_sign_BYTES];
	char		*copy, *tok, *save = NULL;
	uint8_t		*msg;
	size_t		 mlen, plen, siglen;
	int		 i, ok = 0;

	plen = strlen(id) + strlen(ts) + 2;
	/* + 1: snprintf ends "id.ts." in a NUL, over body's first byte */
	if ((msg = malloc(plen + len + 1)) == NULL ||
	    (copy = strdup(header)) == NULL) {
		free(msg);
		return 0;
	}
	snprintf((char *)msg, plen + 1, "%s.%s.", id, ts);
	if (len > 0)
		memcpy(msg + plen, body, len);
	mlen = plen + len;
	for (tok = strtok_r(copy, " ", &save); tok != NULL && !ok;
	    tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "v1a,", 4) != 0 ||
		    sodium_base642bin(sig, sizeof(sig), tok + 4, strlen(tok + 4),
		    NULL, &siglen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    siglen != sizeof(sig))
			continue;
		for (i = 0; i < keys->n && !ok; i++)
			ok = crypto_sign_verify_detached(sig, msg, mlen,
			    keys->k[i]) == 0;
	}
	free(copy);
	free(msg);
	return ok;
}

int
verify_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out,
    size_t *outlen)
{
	z_stream	 z;
	uint8_t		*buf = NULL, *nb;
	size_t		 cap = len * 4 + 4096;
	int		 rc = Z_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	while (rc != Z_STREAM_END) {
		if (z.total_out >= cap || buf == NULL) {
			if (buf != NULL)
				cap *= 2;
			if (cap > max + 1)
				cap = max + 1;
			if (z.total_out >= cap) {
				rc = -2;
				break;
			}
			if ((nb = realloc(buf, cap)) == NULL) {
				rc = -1;
				break;
			}
			buf = nb;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			rc = -1;
			break;
		}
		if (z.total_out > max) {
			rc = -2;
			break;
		}
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return rc == -2 ? -2 : -1;
	}
	*out = buf;
	*outlen = z.total_out;
	return 0;
}
