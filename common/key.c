/* key.c: load and make Ed25519 signing keys (see key.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"

static void
key_from_seed(struct key *k, const unsigned char *seed)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	for (i = 0; i < 8; i++) {
		k->id[2 * i] = hex[k->pk[i] >> 4];
		k->id[2 * i + 1] = hex[k->pk[i] & 0xf];
	}
	k->id[16] = '\0';
}

int
key_load(const char *path, struct key *k, char *err, size_t errlen)
{
	char		 buf[256];
	unsigned char	 seed[crypto_sign_SEEDBYTES];
	struct stat	 st;
	ssize_t		 n;
	size_t		 len;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "signing key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "signing key %s: readable by group or "
		    "others (mode %04o); run chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "signing key %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (sodium_base642bin(seed, sizeof(seed), buf, strlen(buf), NULL, &len,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || len != sizeof(seed)) {
		snprintf(err, errlen, "signing key %s: not one line of base64 "
		    "of a 32-byte seed; make one with octctl keygen", path);
		return -1;
	}
	key_from_seed(k, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int
key_create(const char *path, int force, struct key *k, char *err,
    size_t errlen)
{
	unsigned char	 seed[crypto_sign_SEEDBYTES];
	char		 b64[sodium_base64_ENCODED_LEN(crypto_sign_SEEDBYTES,
			     sodium_base64_VARIANT_ORIGINAL) + 1];
	char		 tmp[4096];
	int		 fd, ok;
	size_t		 len;

	if (!force && access(path, F_OK) == 0) {
		snprintf(err, errlen, "%s exists; use --force to replace it", path);
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	randombytes_buf(seed, sizeof(seed));
	sodium_bin2base64(b64, sizeof(b64) - 1, seed, sizeof(seed),
	    sodium_base64_VARIANT_ORIGINAL);
	len = strlen(b64);
	b64[len++] = '\n';
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ok = fd != -1 && write(fd, b64, len) == (ssize_t)len &&
	    fsync(fd) == 0;
	if (fd != -1 && close(fd) == -1)
		ok = 0;
	if (ok && rename(tmp, path) == -1)
		ok = 0;
	if (!ok) {
		snprintf(err, errlen, "write %s: %s", path, strerror(errno));
		unlink(tmp);
	} else
		key_from_seed(k, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(b64, sizeof(b64));
	return ok ? 0 : -1;
}

void
key_pub_b64(const struct key *k, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, k->pk, sizeof(k->pk),
	    sodium_base64_VARIANT_ORIGINAL);
}
