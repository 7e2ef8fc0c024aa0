/*
 * key.h: the Ed25519 signing key (SPEC section 2, signing_key).
 *
 * The file is one line: base64 of the 32-byte seed. It must not be readable
 * by group or others; key_load refuses it otherwise, so a daemon never signs
 * with a key that may have leaked.
 */
#ifndef OCT_KEY_H
#define OCT_KEY_H

#include <stddef.h>

#include <sodium.h>

struct key {
	unsigned char	pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char	sk[crypto_sign_SECRETKEYBYTES];
	char		id[17];		/* hex of pk[0..8): Oct-Key-Id */
};

/* Load path into k. Returns 0, or -1 with why in err (naming the file). */
int	key_load(const char *path, struct key *k, char *err, size_t errlen);
/*
 * Make a new key at path (0600). Refuses an existing file unless force.
 * Returns 0, or -1 with why in err.
 */
int	key_create(const char *path, int force, struct key *k, char *err,
	    size_t errlen);
/* base64 of the public key into out (at least 64 bytes). */
void	key_pub_b64(const struct key *k, char *out, size_t outlen);

#endif
