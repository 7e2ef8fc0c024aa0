/*
 * receiver.h: oct-receiver, the reference collector (SPEC section 6).
 * receiver.c is the HTTP side, verify.c the Standard Webhooks checks,
 * db.c its own SQLite file (not oct.db: it never sees that).
 */
#ifndef OCT_RECEIVER_H
#define OCT_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define RECV_MAX_KEYS		16
#define RECV_INFLATE_MAX	(64u * 1024 * 1024)

struct pubkeys {
	unsigned char	k[RECV_MAX_KEYS][crypto_sign_PUBLICKEYBYTES];
	int		n;
};

/* verify.c */
/* Parse a key given as base64, whpk_<base64>, or a file holding one. */
int	 verify_parse_key(const char *arg, unsigned char *pk, char *err,
	    size_t errlen);
/*
 * 1 if any v1a signature in header signs id.ts.body with any key; body is
 * the payload before compression.
 */
int	 verify_signature(const struct pubkeys *, const char *id,
	    const char *ts, const uint8_t *body, size_t len,
	    const char *header);
/* Inflate gzip into *out (malloc'd). 0, -1 bad data, -2 over max. */
int	 verify_gunzip(const uint8_t *in, size_t len, size_t max,
	    uint8_t **out, size_t *outlen);

/* db.c */
int	 db_open(const char *path, char *err, size_t errlen);
void	 db_close(void);
int	 db_seen_batch(const char *batch_id);
/* One transaction: the events (each once by trace_id) and the batch id. */
int	 db_begin(void);
int	 db_add_event(const char *trace_id, const char *type,
	    const char *agent_id, const char *batch_id, const char *data);
int	 db_commit(const char *batch_id, int events);
void	 db_rollback(void);
const char *db_error(void);

#endif
