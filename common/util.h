/*
 * util.h: small helpers with no better home: UUID v4 from libsodium's
 * random, UTF-8-safe cutting, and directory/descriptor chores.
 */
#ifndef OCT_UTIL_H
#define OCT_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#define UUID_STR_LEN	37	/* 36 characters and the NUL */

/* Write a fresh random UUID v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"). */
void	uuid_v4(char out[UUID_STR_LEN]);

/*
 * The length of the longest prefix of s (len bytes of valid UTF-8) that is
 * at most max bytes and does not end inside a multi-byte sequence.
 */
size_t	utf8_cut(const char *s, size_t len, size_t max);

/* mkdir -p with mode for the last component. Returns 0 or -1 (errno). */
int	mkdir_p(const char *path, mode_t mode);
/* Put O_NONBLOCK on fd. Returns 0 or -1. */
int	fd_nonblock(int fd);

#endif
