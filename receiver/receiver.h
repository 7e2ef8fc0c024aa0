/*
 * receiver.h: oct-receiver, the reference collector (SPEC section 6).
 * receiver.c is the HTTP side, check.c what it answers a request,
 * verify.c the Standard Webhooks checks, db.c its own SQLite file (not
 * oct.db: it never sees that).
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

/* A request as check.c sees it: no socket, no database. */
struct recv_req {
	int		 post;		/* the method is POST */
	const char	*id, *ts, *sig;	/* webhook-*; NULL: absent */
	const char	*encoding;	/* Content-Encoding; NULL: absent */
	const uint8_t	*body;
	size_t		 len;
};

/* The body as signed: body, or inflated (malloc'd, the caller frees). */
struct recv_body {
	const uint8_t	*body;
	size_t		 len;
	uint8_t		*inflated;
};

/* A refusal: the status, its reason phrase, and why (the "error"). */
struct recv_verdict {
	int		 code;
	const char	*reason;
	const char	*why;
};

struct json_t;

/* check.c */
/*
 * The checks before the database, in this order: POST (405), the three
 * webhook headers (401), the timestamp within skew_s of now_s (401), the
 * Content-Encoding (415 unless identity or gzip; gzip: 413 past
 * RECV_INFLATE_MAX inflated, 400 if not gzip), the signature over the
 * inflated body (401). Returns 0 with out the body as signed (free
 * out->inflated), or -1 with v set and nothing to free.
 */
int	 recv_check_request(const struct recv_req *, const struct pubkeys *,
	    long long now_s, long skew_s, struct recv_body *out,
	    struct recv_verdict *v);
/*
 * The envelope of a new batch id: a JSON object (400) whose batch_id is
 * id (401) and whose events are an array (400), parsed by common/json.c.
 * Returns the document (the caller jv_free()s it; its root is the
 * envelope), or NULL with v set.
 */
struct jv_doc;
struct jv_val;
struct jv_doc	*recv_check_envelope(const uint8_t *body, size_t len,
		    const char *id, struct recv_verdict *v);
/* Why one event of an envelope is rejected, or NULL: it is stored. */
const char	*recv_check_event(const struct jv_val *ev);

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
/*
 * One transaction: the events (each once by trace_id) and the batch id.
 * data is len bytes of JSON text, stored as they are.
 */
int	 db_begin(void);
int	 db_add_event(const char *trace_id, const char *type,
	    const char *agent_id, const char *batch_id, const char *data,
	    size_t len);
int	 db_commit(const char *batch_id, int events);
void	 db_rollback(void);
const char *db_error(void);

#endif
