/*
 * ingestd.h: oct-ingestd, the HTTP front door.
 *
 * http.c answers clients (evhttp); window.c holds every event accepted but
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
int	 http_start(void);
void	 http_stop(void);
/* Stop taking connections and events; what is in flight goes on. */
void	 http_drain(void);
/* Answer the requests that can be answered now. */
void	 http_progress(void);
size_t	 http_pending(void);

/* conn.c */
#define CONN_MAX		4096
#define CONN_DEADLINE_MS	30000
struct bufferevent;
struct evconnlistener;
struct evhttp_request;
/* evhttp's bufferevent factory (evhttp_set_bevcb). */
struct bufferevent *conn_bev(struct event_base *, void *);
void	 conn_start(struct evconnlistener *, int64_t deadline_ms);
void	 conn_drain(void);
void	 conn_stop(void);
void	 conn_free(void);
/* A request arrived on its connection: its clock starts again. */
void	 conn_request(struct evhttp_request *);
/* ingestd holds (or no longer holds) the connection's answer. */
void	 conn_hold(struct evhttp_request *, int held);
size_t	 conn_count(void);

/* idkey.c */
/* The key for trace_ids of events with an event_id, or NULL (see idkey.c). */
const unsigned char *idkey_load(const char *data_dir);

/* hostmetrics.c */
void	 hostmetrics_start(void);
void	 hostmetrics_stop(void);

/* stats.c */
enum reject_reason { RJ_BAD_REQUEST, RJ_UNAUTHORIZED, RJ_FORBIDDEN,
	RJ_NOT_FOUND, RJ_METHOD, RJ_TOO_LARGE, RJ_MEDIA_TYPE, RJ_QUEUE_FULL,
	RJ_STORAGE_FULL, RJ_SHUTTING_DOWN, RJ_COMMIT_TIMEOUT, RJ_NREASONS };
void	 stats_accepted(enum event_kind, size_t n);
void	 stats_rejected(enum reject_reason);
void	 stats_dropped(size_t n);
uint64_t stats_dropped_total(void);
/* A counter octd forwards (restarts, push totals). */
void	 stats_set_external(const char *name, uint64_t value);
/* Append the Prometheus text of every counter to buf. */
struct evbuffer;
void	 stats_render(struct evbuffer *);
void	 stats_free(void);

#endif
