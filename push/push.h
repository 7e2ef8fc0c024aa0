/*
 * push.h: the push engine (SPEC section 6), libpush.a, linked by oct-pushd
 * and by octctl (push with octd stopped, push --dry-run).
 *
 * cycle.c runs the cycle (fetch due rows, send requests, act on answers,
 * hand marks on, wait); its marks and reports go to a push_sink: pushd's
 * carries them to writerd (pushd/link.c), octctl's applies them at once.
 * answer.c classifies an answer into SPEC section 6's action and acts on
 * it; session.c is an octctl push's pass over the rows; split.c cuts rows
 * into requests; sign.c compresses and signs; send.c sends with libcurl on
 * the event loop; retry.c is the backoff arithmetic.
 *
 * What goes on the wire is a push_encoder's: enc_oct.c is the JSON
 * envelope of section 6, enc_otlp.c OTLP/HTTP protobuf (section 6.1). A
 * new push format is one more encoder file.
 */
#ifndef OCT_PUSH_H
#define OCT_PUSH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "store.h"
#include "util.h"

struct conf;
struct event_base;
struct key;
struct msgb;

/* cycle.c */
/* Where the cycle's marks and reports go. */
struct push_sink {
	/* Take over a MSG_MARK_* frame numbered next_seq(). */
	void	 (*mark)(struct msgb *);
	uint64_t (*next_seq)(void);
	/* Every mark handed over is committed. */
	int	 (*idle)(void);
	/*
	 * Have what ingestd already accepted committed, so that a push
	 * asked now sends it; done once idle() is true. NULL: nothing can
	 * be on its way (octd is stopped).
	 */
	void	 (*flush)(void);
	/*
	 * A progress line of an octctl push (JSON); done on the last. Its
	 * fields: total, sent, dead, failures, batches, bytes (as sent),
	 * payload_bytes (of the events delivered, before compression),
	 * total_payload_bytes (of the total, once known), elapsed_ms; on the
	 * last also remaining and, when the push stopped on one, error.
	 */
	void	 (*report)(int done, const char *json_line);
	/* Stopping, nothing in flight, every mark committed: leave. */
	void	 (*exit)(void);
};
/*
 * Set up on base; rows are read through rw if given (octctl holding the
 * writer lock), else through a read-only connection opened when needed.
 */
void	 push_init(struct event_base *, const struct conf *,
	    const struct push_sink *, struct store *rw);
/* Push every push_interval_ms from now on (oct-pushd). */
void	 push_start(void);
/* One pass over the rows for octctl push; reports through the sink. */
void	 push_session(int force, int verbose, int64_t batch);
/*
 * Whether a session first reads its rows once to add up
 * total_payload_bytes (the default); off where nothing shows it (octctl
 * push with neither a terminal nor --json): one read of the rows less.
 */
void	 push_sizing(int on);
/* The sink's marks waiting earlier are committed now. */
void	 push_marks_committed(void);
/* Finish the request in flight, then exit through the sink. */
void	 push_stop(void);
void	 push_free(void);

/* The agent as the envelope names it. */
struct agent_info {
	const char	*id;
	const char	*host;		/* JSON string, quotes and all */
	const char	*version;
};
/* This host's name as a JSON string (malloc'd), for agent_info.host. */
char	*push_host_json(void);

/* A request: rows that go together under one batch id. */
struct req {
	char		 batch_id[UUID_STR_LEN];
	struct push_row	*rows;		/* owned */
	int		 n;
	uint8_t		*body;		/* what was sent last, until answered */
	int		 bisecting;	/* part of a 400/422 bisection */
	/*
	 * Built ahead (cycle.c) while the request before it was answered:
	 * the body to send, compressed or not, its signature and timestamp.
	 */
	uint8_t		*ahead;
	size_t		 ahead_len;
	char		*ahead_sig;
	int64_t		 ahead_ts;
	TAILQ_ENTRY(req) entry;
};
TAILQ_HEAD(reqq, req);

/*
 * A wire format. The engine (fetch, split, sign, send, retry, marks) is
 * the same for every format; an encoder says how big an event is, builds
 * a body, and reads a collector's answer.
 */
typedef void (*push_reject_cb)(const char *trace_id, const char *reason,
    void *arg);
struct push_encoder {
	const char	*name;			/* its push_format */
	const char	*content_type;		/* "application/json" */
	/*
	 * Each request holds rows of one kind only, POSTed to push_url and
	 * paths[kind]; 0 (paths NULL): every kind together, to push_url.
	 */
	int		 per_kind;
	const char	*const *paths;
	/* Bytes of a body with no events. */
	size_t	 (*overhead)(const struct agent_info *);
	/* Bytes one row adds to a body, its separator included. */
	size_t	 (*event_len)(const struct push_row *);
	/*
	 * The body of rows (malloc'd, *len set), under batch_id: exactly
	 * overhead() plus each row's event_len() bytes, so that split.c
	 * can cut requests to a size before building them. NULL: no memory.
	 */
	char	*(*body)(const struct agent_info *, const char *batch_id,
		    const struct push_row *rows, int n, int64_t sent_at,
		    size_t *len);
	/*
	 * Read a 2xx answer's body (len bytes, NUL-terminated after them):
	 * call rejected() for each event the collector refused, with its
	 * trace_id (NULL: some, unnamed) and reason (never NULL).
	 */
	void	 (*answer)(const char *body, size_t len,
		    push_reject_cb rejected, void *arg);
	/*
	 * What an error answer's body says, as one line of text into buf
	 * ("" if nothing). NULL: the body is text, shown as it is.
	 */
	void	 (*error_text)(const char *body, size_t len, char *buf,
		    size_t size);
	/*
	 * Does a status say the collector is unwell (charge, back off,
	 * retry)? NULL: SPEC section 6's set, 408, 429 and 5xx.
	 */
	int	 (*unwell)(long status);
};
/* enc_oct.c: the JSON envelope of SPEC section 6 ("oct"). */
extern const struct push_encoder enc_oct;
/* enc_otlp.c: OTLP/HTTP protobuf, SPEC section 6.1 ("otlp"). */
extern const struct push_encoder enc_otlp;
/* encoders.c: the encoder of a push_format name, or NULL. */
const struct push_encoder *push_encoder(const char *name);
/* The encoder c's push_format names (never NULL). */
const struct push_encoder *push_conf_encoder(const struct conf *c);

/* split.c */
/*
 * Cut rows (taken over) into requests whose body fits max bytes, appended
 * to q; a row too big alone goes to *toobig (taken over). Returns 0 or -1.
 */
int	 push_split(const struct push_encoder *, const struct agent_info *,
	    struct push_row *rows, int n, size_t max, struct reqq *q,
	    struct push_row **toobig, int *ntoobig);
/* A request of n rows (copied; their text taken over), a new batch id. */
struct req *req_new(struct push_row *rows, int n);
/* Split r in two new requests (new batch ids); r is freed. */
void	 req_halve(struct req *r, struct req **a, struct req **b);
void	 req_free(struct req *);

/* answer.c */
/* SPEC section 6's actions on an answer. */
enum push_action {
	PUSH_DELIVERED,		/* 2xx: synced, but the events it rejected */
	PUSH_TOO_BIG,		/* 413: halve; one event alone is dead */
	PUSH_REFUSED,		/* 400, 422: bisect for the bad events */
	PUSH_UNWELL,		/* 408, 429, 5xx, no answer: charge, back off */
	PUSH_CONFIG,		/* 3xx, 401, 403, 404...: pause at the cap */
};
struct send_result;
struct push_verdict {
	enum push_action action;
	int64_t		 retry_after;	/* ms, -1: the answer says none */
	char		 what[300];	/* the answer, for logs and reports */
	char		 why[300];	/* the reason recorded for the action */
};
/* Classify an answer (status, Retry-After, body) for encoder enc. */
void	 push_classify(const struct push_encoder *enc,
	    const struct send_result *, struct push_verdict *);

/* sign.c */
/* gzip in into *out (malloc'd). Returns 0 or -1. */
int	 sign_gzip(const void *in, size_t len, uint8_t **out, size_t *outlen);
/*
 * The webhook-signature value for id, ts and body (the payload before
 * compression): "v1a,<ed25519>" and, with an HMAC key, " v1,<hmac-sha256>"
 * (malloc'd).
 */
char	*sign_header(const struct key *, const char *id, int64_t ts,
	    const uint8_t *body, size_t len, const uint8_t *hmac_key,
	    size_t hmac_len);

/* retry.c */
/* Full jitter: random(0, min(cap, base * 2^attempts)) ms. */
int64_t	 retry_backoff(int64_t base, int64_t cap, int64_t attempts);
/* Retry-After (seconds or HTTP date) in ms from now, capped at 1 h; -1 if none. */
int64_t	 retry_after_ms(const char *value, int64_t now_ms);

/* send.c */
struct send_result {
	long		 status;	/* 0: no HTTP answer */
	const char	*error;		/* transport error, or NULL */
	const char	*body;		/* answer body (NUL-terminated) */
	size_t		 body_len;	/* its bytes, without the NUL */
	int64_t		 retry_after;	/* ms, -1 if none */
	int64_t		 elapsed_ms;
	size_t		 sent_bytes;	/* the body as sent */
	int		 truncated;	/* answer over SEND_ANSWER_MAX, cut */
};
#define SEND_ANSWER_MAX	(16 * 1024 * 1024)
#define SEND_HEADERS_MAX	64	/* ours and push_headers' */
typedef void (*send_done_cb)(const struct send_result *, void *);
void	 send_init(struct event_base *);
void	 send_free(void);
/*
 * POST body with headers to url; done() is called once, from the loop.
 * ca_file: the CAs a TLS collector's certificate must chain to ("": the
 * system's store).
 */
int	 send_post(const char *url, const char *ca_file, const uint8_t *body,
	    size_t len, const char *const *headers, int64_t timeout_ms,
	    send_done_cb done, void *arg);
/*
 * Call sent() from the loop once a request's body is all written, while
 * its answer is awaited (NULL: nothing to call).
 */
void	 send_on_sent(void (*sent)(void));

#endif
