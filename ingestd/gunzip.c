/*
 * gunzip.c: inflating a gzip request body (OTLP's Content-Encoding), held
 * to a limit so that a small body cannot become a large one (a gzip bomb
 * is refused once it passes max bytes, having cost at most that much).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "ingestd.h"

#define GUNZIP_STEP	(64 * 1024)

/* Grow *out to hold at least want bytes, never past max + 1. */
static int
grow(char **out, size_t *cap, size_t want, size_t max)
{
	size_t	 n = *cap;
	char	*p;

	while (n < want)
		n = n > 0 ? n * 2 : GUNZIP_STEP;
	if (n > max + 1)
		n = max + 1;
	if ((p = realloc(*out, n + 1)) == NULL)
		return -1;
	*out = p;
	*cap = n;
	return 0;
}

int
gunzip(const void *in, size_t inlen, size_t max, char **out, size_t *outlen)
{
	z_stream	 z;
	size_t		 cap = 0;
	int		 r = Z_BUF_ERROR;

	*out = NULL;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)inlen;
	do {
		if (z.total_out >= cap && (cap >= max + 1 ||
		    grow(out, &cap, cap + 1, max) == -1))
			break;
		z.next_out = (Bytef *)*out + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		r = inflate(&z, Z_NO_FLUSH);
	} while (r == Z_OK);
	*outlen = z.total_out;
	inflateEnd(&z);
	if (r == Z_STREAM_END && z.avail_in == 0 && *outlen <= max) {
		(*out)[*outlen] = '\0';
		return 0;
	}
	free(*out);
	*out = NULL;
	return *outlen > max ? -2 : -1;
}
