/*
 * engine.h: the push cycle's state, shared by the files of push/ that run
 * it (cycle.c, mark.c, answer.c, session.c); nothing outside push/
 * includes it.
 */
#ifndef OCT_PUSH_ENGINE_H
#define OCT_PUSH_ENGINE_H

#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "key.h"
#include "push.h"

/*
 * octctl push: one pass over the rows, in order, from a cursor, so a row
 * that goes dead on the way is not fetched again (even with force); the
 * pass ends when a fetch comes back short or a request fails.
 */
struct session {
	int			 active, force, verbose, failed;
	int			 fetched;	/* its first fetch is done */
	int			 flushing;	/* waits for writerd's commit */
	int			 sizing;	/* adds up total_payload */
	int64_t			 batch, total, sent, bytes, batches, dead;
	int64_t			 payload, total_payload;	/* -1: unknown */
	int64_t			 started;
	struct fetch_cursor	 cur, size_cur;
};

struct engine {
	struct event_base		*base;
	const struct conf		*conf;
	const struct push_sink		*sink;
	const struct push_encoder	*enc;
	struct store			*ro;
	int				 own_ro;	/* opened here */
	struct key			 key;
	int				 key_ok;
	char				 key_err[512];
	uint8_t				 hmac[256];
	size_t				 hmac_len;
	struct agent_info		 agent;
	char				*host_json;
	char				 agent_id[UUID_STR_LEN];
	/* ro's store_db_id(): the file every row in hand was read from */
	char				 db_id[UUID_STR_LEN];
	struct reqq			 queue;
	struct req			*inflight;
	struct req			*retry;	/* to send first after a pause */
	struct event			*timer;
	struct event			*flush_timer;	/* writerd is late */
	struct event			*size_timer;	/* a sizing step */
	int64_t				 paused_until;
	int				 more;	/* the last fetch was full */
	int				 waiting;	/* for writerd's commit */
	int				 stopping;
	int				 no_sizing;	/* push_sizing(0) */
	char				 last_error[512];
	struct session			 ses;
};
extern struct engine pd;

/* cycle.c */
/* Run cycle_run() in ms. */
void	 cycle_schedule(int64_t ms);
/*
 * A cycle, unless one is under way or waits: the pause, the key and the
 * read-only connection checked, then the held retry or a fetch queued and
 * the first request sent.
 */
void	 cycle_run(void);
/* The cycle is over once writerd has what it needs. */
void	 cycle_done(void);
void	 cycle_send_next(void);
/* Drop the requests not sent yet, and with them any bisection. */
void	 cycle_drop_queue(void);
/* Stopping, nothing in flight, every mark committed: exit. 1 if so. */
int	 cycle_maybe_exit(void);
/* The signing key is loaded (else the error is recorded once). */
int	 cycle_key_usable(void);
/* The read-only connection is open. 0 or -1. */
int	 cycle_open_store(void);

/* mark.c: marks handed to the sink. */
/*
 * Mark the rows of r, but those whose trace_id is in skip, as synced or
 * (with type MSG_MARK_FAILED) as failed until next_at.
 */
void	 mark_rows(uint16_t type, const struct req *r,
	    const char *const *skip, size_t nskip, int64_t next_at,
	    const char *error);
void	 mark_dead(const struct push_row *rows, int n,
	    const char *const *reasons);
void	 mark_dead_one(const struct push_row *, const char *reason);
/* Record the last success or error for push-status. */
void	 mark_state(int success, const char *error);
/* Is id one of skip's? */
int	 mark_skipped(const char *id, const char *const *skip, size_t nskip);

/* answer.c */
/* send_post's callback: act on the answer to the request arg. */
void	 answer_done(const struct send_result *, void *arg);
/* Forget a bisection: its held events stay as they are, to go again. */
void	 bis_abandon(void);

/* session.c */
/* The session the answers now count for, or NULL. */
struct session *session_counting(void);
/* Unsynced rows a push would take now: live ones, or with force all. */
int64_t	 session_pending(int force);
/* Send a progress line of o's fields and the session's counts (o freed). */
void	 session_report(int done, json_t *o);
void	 session_end(const char *error);
/* Count an answer; the start of its progress line, or NULL. */
json_t	*session_answer(const struct req *, const struct send_result *);
void	 session_begin(void);
void	 session_flush_late(evutil_socket_t, short, void *);
void	 session_size_step(evutil_socket_t, short, void *);

#endif
