/*
 * pushd.h: oct-pushd, the push loop.
 *
 * cycle.c runs the cycle (fetch due rows, send requests, act on answers,
 * hand marks on, wait), for oct-pushd (pushd.c: marks go to writerd) and
 * for octctl push with octd stopped (marks applied at once); envelope.c builds request bodies and splits
 * them by push_max_payload_bytes; sign.c compresses and signs; send.c sends
 * with libcurl on the event loop; link.c carries marks to writerd and
 * sends them again to a new writerd until they are committed; retry.c is
 * the backoff arithmetic.
 */
#ifndef OCT_PUSHD_H
#define OCT_PUSHD_H

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
/* The sink's marks waiting earlier are committed now. */
void	 push_marks_committed(void);
/* Finish the request in flight, then exit through the sink. */
void	 push_stop(void);
void	 push_free(void);

/* A request: rows that go together under one batch id. */
struct req {
	char		 batch_id[UUID_STR_LEN];
	struct push_row	*rows;		/* owned */
	int		 n;
	uint8_t		*body;		/* what was sent last, until answered */
	int		 bisecting;	/* part of a 400/422 bisection */
	TAILQ_ENTRY(req) entry;
};
TAILQ_HEAD(reqq, req);

/* envelope.c */
struct agent_info {
	const char	*id;
	const char	*host;
	const char	*version;
};
/* Bytes a row takes in a body, with its separator. */
size_t	 envelope_event_len(const struct push_row *);
/* Bytes of a body with no events. */
size_t	 envelope_overhead(const struct agent_info *);
/* The JSON body of r (malloc'd, *len set). */
char	*envelope_body(const struct agent_info *, const struct req *,
	    int64_t sent_at, size_t *len);
/*
 * Cut rows (taken over) into requests whose body fits max bytes, appended
 * to q; a row too big alone goes to *toobig (taken over). Returns 0 or -1.
 */
int	 envelope_split(const struct agent_info *, struct push_row *rows,
	    int n, size_t max, struct reqq *q, struct push_row **toobig,
	    int *ntoobig);
struct req *req_new(struct push_row *rows, int n);
/* Split r in two new requests (new batch ids); r is freed. */
void	 req_halve(struct req *r, struct req **a, struct req **b);
void	 req_free(struct req *);

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
	int64_t		 retry_after;	/* ms, -1 if none */
	int64_t		 elapsed_ms;
	size_t		 sent_bytes;	/* the body as sent */
	int		 truncated;	/* answer over SEND_ANSWER_MAX, cut */
};
#define SEND_ANSWER_MAX	(16 * 1024 * 1024)
typedef void (*send_done_cb)(const struct send_result *, void *);
void	 send_init(struct event_base *);
void	 send_free(void);
/* POST body with headers to url; done() is called once, from the loop. */
int	 send_post(const char *url, const uint8_t *body, size_t len,
	    const char *const *headers, int64_t timeout_ms, send_done_cb done,
	    void *arg);

/* link.c */
void	 link_init(struct event_base *);
void	 link_free(void);
void	 link_attach(int fd);
/* Queue a mark frame built in b (taken over). */
void	 link_send(struct msgb *b);
uint64_t link_next_seq(void);
/* No mark waits for writerd's commit. */
int	 link_idle(void);
/* Called when the last waiting mark is committed. */
void	 link_on_idle(void (*)(void));
/* Queue a MARK_FLUSH: writerd commits what ingestd has written so far. */
void	 link_flush(void);

#endif
