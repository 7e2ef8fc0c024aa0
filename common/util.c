/* util.c: see util.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "util.h"

/*
 * Random bytes for UUIDs, fetched from libsodium 4 KiB at a time: one
 * getrandom(2) per 256 ids instead of one each. A forked child starts
 * with an empty pool so it never repeats its parent's ids.
 */
static struct {
	unsigned char	 buf[4096];
	size_t		 left;
	int		 hooked;
} pool;

static void
pool_forget(void)
{
	sodium_memzero(&pool, sizeof(pool));
	pool.hooked = 1;
}

static void
pool_take(unsigned char *b, size_t n)
{
	if (!pool.hooked) {
		pthread_atfork(NULL, NULL, pool_forget);
		pool.hooked = 1;
	}
	if (pool.left < n) {
		randombytes_buf(pool.buf, sizeof(pool.buf));
		pool.left = sizeof(pool.buf);
	}
	pool.left -= n;
	memcpy(b, pool.buf + pool.left, n);
	sodium_memzero(pool.buf + pool.left, n);
}

void
uuid_v4(char out[UUID_STR_LEN])
{
	unsigned char	 b[16];
	static const char hex[] = "0123456789abcdef";
	int		 i, o = 0;

	pool_take(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0xf];
	}
	out[o] = '\0';
}

size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	/* s[max] is the first byte left out: back up while it continues. */
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX], *p;
	size_t	 len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
fd_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}
