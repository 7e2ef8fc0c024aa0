/*
 * ingestd.h: oct-ingestd, the HTTP front door.
 *
 * http.c answers clients (evhttp) and knows no wire format: fmt.c's table
 * names, for each path and media type, the decoder (fmt_json.c, ...) that
 * turns a body into struct events; window.c holds every event accepted but
 * not yet committed and writes it to writerd, again to a new writerd after
 * a crash; hostmetrics.c samples the host into the same stream; stats.c
 * keeps the counters /metrics shows.
 */
#ifndef OCT_INGESTD_H
#define OCT_INGESTD_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct conf;
struct event_base;
struct msgb;

struct ingestd {
	struct event_base	*base;
	const struct conf	*conf;
	const unsigned char	*idkey;		/* NULL: none, random ids */
};
extern struct ingestd ing;

/* Why a request was refused (stats.c counts each). */
enum reject_reason { RJ_BAD_REQUEST, RJ_UNAUTHORIZED, RJ_FORBIDDEN,
	RJ_NOT_FOUND, RJ_METHOD, RJ_TOO_LARGE, RJ_MEDIA_TYPE, RJ_QUEUE_FULL,
	RJ_STORAGE_FULL, RJ_SHUTTING_DOWN, RJ_COMMIT_TIMEOUT, RJ_NREASONS };

/*
 * fmt.c: the ingest formats. A format is a decoder and the answers in its
 * encoding; each row of ingest_fmts[] serves one path with one media type
 * through one format. http.c's route() picks the row, then: h = open(body)
 * (the whole body, parsed and checked as a whole, *n events to come), for
 * each i < n item(h, i, e) (the i-th event, its strings the handle's until
 * the next call), close(h). Validation, cutting, trace_ids, framing and
 * the all-or-nothing rule are shared, after item(). A new format is one
 * file with a struct fmt_ops and one row per path in fmt.c.
 */
struct ingest_fmt;
/* What open() found in a body. */
struct fmt_info {
	size_t		 n;		/* events to read with item() */
	size_t		 ignored;	/* items neither stored nor refused */
	const char	*signal;	/* what ignored counts ("traces") */
};
struct fmt_ops {
	const char	*answer_type;	/* Content-Type of its answers */
	int		 queued_status;	/* 202; OTLP answers 200 */
	int		 partial;	/* refused events are dropped and
					   counted, not the whole request */
	int		 gzip;		/* takes Content-Encoding: gzip */
	/* Parse a body; NULL with err (a 400) when it does not decode. c
	   may be NULL (tests): the defaults. */
	void	*(*open)(const struct ingest_fmt *, const struct conf *c,
		    const char *body, size_t len, struct fmt_info *,
		    struct event_error *err);
	/* Fill e with event i; -1 with err when it is not an event. ids
	   holds the trace_ids of events 0 to i-1 ("": refused). */
	int	 (*item)(void *h, size_t i, char (*ids)[UUID_STR_LEN],
		    struct event *e, struct event_error *err);
	void	 (*close)(void *h);
	/* The body of a success answer (malloc'd; *len): ids of the n
	   events ("": refused), refused of them, the first refusal's why. */
	char	*(*accepted)(void *h, char (*ids)[UUID_STR_LEN], size_t n,
		    size_t refused, const char *why, size_t *len);
	/*
	 * The body of an error answer with HTTP status (malloc'd or NULL;
	 * *len): msg, the index of the event at fault (-1: none) and its
	 * field (NULL: none). h is NULL before open() succeeded.
	 */
	char	*(*error)(void *h, int status, const char *msg, long index,
		    const char *field, size_t *len);
};

enum fmt_listener { LS_API, LS_OTLP, LS_N };	/* listen, otlp_listen */

struct ingest_fmt {
	enum fmt_listener	 listener;	/* which socket serves it */
	const char		*path;		/* "/v1/traces" */
	const char		*media;		/* "application/json" */
	enum event_kind		 kind;		/* what the path takes */
	const struct fmt_ops	*ops;
};
extern const struct ingest_fmt ingest_fmts[];
extern const size_t ingest_nfmts;
/* Whether Content-Type ct is media, parameters (";...") allowed. */
int	 fmt_media_is(const char *ct, const char *media);

/* fmt_json.c: SPEC section 4's JSON API. */
extern const struct fmt_ops fmt_json;
/* fmt_otlp.c: OTLP/HTTP (SPEC section 4.5), protobuf and JSON. */
extern const struct fmt_ops fmt_otlp_pb, fmt_otlp_json;

/* window.c */
void	 window_init(size_t capacity);
void	 window_free(void);
/* Free places for client events (host metrics take none). */
size_t	 window_room(void);
size_t	 window_depth(void);
int	 window_empty(void);
int	 window_storage_full(void);
int	 window_connected(void);
/* Queue b's frame (taken over; b is emptied) under the next seq, which is returned. */
uint64_t window_next_seq(void);
int	 window_push(struct msgb *b, int counted);
/* True once seq is in writerd's channel (or, with commit, in SQLite). */
int	 window_done(uint64_t seq, int commit);
/* A new channel to writerd: say hello and send every uncommitted event. */
void	 window_attach(int fd);
/* Called whenever events were written or committed. */
void	 window_on_progress(void (*)(void));

/* http.c */
/* Listen on listen (and otlp_listen). Returns 0, or -1 with err. */
int	 http_start(char *err, size_t errlen);
void	 http_stop(void);
/* Stop taking connections and events; what is in flight goes on. */
void	 http_drain(void);

/* answer.c */
struct evhttp_request;
void	 answer_start(void);
void	 answer_stop(void);
/* Answer the requests that can be answered now. */
void	 answer_progress(void);
/* Requests accepted and not yet answered. */
size_t	 answer_pending(void);
/* Answer req with body (len bytes, taken over) once last_seq is written or,
   with commit, committed; in f's encoding. */
void	 answer_hold(struct evhttp_request *, const struct ingest_fmt *f,
	    uint64_t last_seq, int commit, char *body, size_t len);
int	 answer_wants_commit(struct evhttp_request *);
void	 reply(struct evhttp_request *, int code, const char *reason,
	    const char *type, const char *body, size_t len);
/* A JSON body of our own, body a short object without its newline. */
void	 reply_json(struct evhttp_request *, int code, const char *reason,
	    const char *body);
/* An error in f's encoding (f NULL: the JSON API's), counted as why. */
void	 reply_fmt(struct evhttp_request *, const struct ingest_fmt *f,
	    void *h, int code, const char *reason, enum reject_reason why,
	    const char *msg, long index, const char *field);
void	 reply_error(struct evhttp_request *, int code, const char *reason,
	    enum reject_reason why, const char *msg);
/* 503 with Retry-After; events counted as dropped. */
void	 reply_503(struct evhttp_request *, const struct ingest_fmt *f,
	    void *h, enum reject_reason why, size_t events);

/* conn.c */
#define CONN_MAX		4096
#define CONN_DEADLINE_MS	30000
struct bufferevent;
struct evconnlistener;
struct evhttp_request;
/* evhttp's bufferevent factory (evhttp_set_bevcb). */
struct bufferevent *conn_bev(struct event_base *, void *);
void	 conn_start(int64_t deadline_ms);
/* One more listener to pause at CONN_MAX (at most LS_N). */
void	 conn_listener(struct evconnlistener *);
void	 conn_drain(void);
void	 conn_stop(void);
void	 conn_free(void);
/* A request arrived on its connection: its clock starts again. */
void	 conn_request(struct evhttp_request *);
/* ingestd holds (or no longer holds) the connection's answer. */
void	 conn_hold(struct evhttp_request *, int held);
size_t	 conn_count(void);
/*
 * Connections whose answer is not all written yet: a stopping ingestd
 * waits for them, or a client would see its answered request cut and
 * send it again (libcurl does, on a reused connection).
 */
size_t	 conn_unflushed(void);

/* gunzip.c */
/*
 * Inflate the gzip data in (inlen bytes) into *out (malloc'd, NUL after
 * the *outlen bytes). Returns 0, -1 when it is not whole, valid gzip, or
 * -2 when it inflates to more than max bytes (*out is then NULL).
 */
int	 gunzip(const void *in, size_t inlen, size_t max, char **out,
	    size_t *outlen);

/* idkey.c */
/* The key for trace_ids of events with an event_id, or NULL (see idkey.c). */
const unsigned char *idkey_load(const char *data_dir);

/* cost.c: SPEC 4.1's cost; the table of conf's price_file. */
struct conf;
void	 cost_init(const struct conf *);
void	 cost_free(void);
/*
 * Fill e's cost_usd and cost_source when it is a trace (before encoding).
 * Returns 1 when its model is not in the table (to be counted once the
 * event is accepted), else 0.
 */
int	 cost_fill(struct event *);

/* hostmetrics.c */
void	 hostmetrics_start(void);
void	 hostmetrics_stop(void);

/* stats.c */
void	 stats_accepted(enum event_kind, size_t n);
void	 stats_rejected(enum reject_reason);
void	 stats_dropped(size_t n);
/* OTLP items neither stored nor refused (an app's HTTP spans). */
void	 stats_ignored(const char *signal, size_t n);
/* Traces whose model the price table does not know. */
void	 stats_unknown_cost(size_t n);
uint64_t stats_dropped_total(void);
/* A counter octd forwards (restarts, push totals). */
void	 stats_set_external(const char *name, uint64_t value);
/* Append the Prometheus text of every counter to buf. */
struct evbuffer;
void	 stats_render(struct evbuffer *);
void	 stats_free(void);

#endif
