/*
 * session.c: an octctl push, a pass over the rows asked for now: its
 * counts, its progress lines through the sink, and the steps before it
 * sends (writerd's flush, adding up the payload it will send).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "event.h"
#include "conf.h"
#include "log.h"
#include "oct.h"
#include "engine.h"

/* The session the answers now count for, or NULL. */
struct session *
session_counting(void)
{
	return pd.ses.active && pd.ses.fetched ? &pd.ses : NULL;
}

/* Unsynced rows a push would take now: live ones, or with force all. */
int64_t
session_pending(int force)
{
	struct table_stats	t;
	int64_t			n = 0;
	int			k;

	for (k = 0; k < EV_NKINDS && pd.ro != NULL; k++)
		if (store_table_stats(pd.ro, (enum event_kind)k, &t) == 0)
			n += t.pending + (force ? t.dead : 0);
	return n;
}

void
session_report(int done, json_t *o)
{
	struct session	*s = &pd.ses;
	char		*line;

	json_object_set_new(o, "done", json_boolean(done));
	json_object_set_new(o, "total", json_integer(s->total));
	json_object_set_new(o, "sent", json_integer(s->sent));
	json_object_set_new(o, "bytes", json_integer(s->bytes));
	json_object_set_new(o, "payload_bytes", json_integer(s->payload));
	if (s->total_payload >= 0 && !s->sizing)
		json_object_set_new(o, "total_payload_bytes",
		    json_integer(s->total_payload));
	json_object_set_new(o, "batches", json_integer(s->batches));
	json_object_set_new(o, "failures", json_integer(s->failed));
	json_object_set_new(o, "dead", json_integer(s->dead));
	json_object_set_new(o, "elapsed_ms", json_integer(mono_ms() -
	    s->started));
	if ((line = json_dumps(o, JSON_COMPACT)) != NULL)
		pd.sink->report(done, line);
	free(line);
	json_decref(o);
}

void
session_end(const char *error)
{
	json_t *o = json_object();

	if (error != NULL)
		json_object_set_new(o, "error", json_string(error));
	pd.ses.active = 0;
	json_object_set_new(o, "remaining", json_integer(session_pending(
	    pd.ses.force)));
	session_report(1, o);
	log_info("push asked by octctl: %lld of %lld events sent in %lld "
	    "batches", (long long)pd.ses.sent, (long long)pd.ses.total,
	    (long long)pd.ses.batches);
}

/*
 * An answer to a request of a session: counted, and the start of its
 * progress line (with verbose, the request), to report once acted on.
 * NULL when no session counts it.
 */
json_t *
session_answer(const struct req *r, const struct send_result *res)
{
	json_t *o;

	if (session_counting() == NULL)
		return NULL;
	pd.ses.batches++;
	pd.ses.bytes += (int64_t)res->sent_bytes;
	o = json_object();
	if (pd.ses.verbose)
		json_object_set_new(o, "request", json_pack("{s:s,s:i,s:I,s:I,"
		    "s:I,s:s?}", "batch_id", r->batch_id, "events", r->n,
		    "bytes", (json_int_t)res->sent_bytes, "status",
		    (json_int_t)res->status, "ms", (json_int_t)res->elapsed_ms,
		    "error", res->error));
	return o;
}

/*
 * A push waits this long for writerd to commit what ingestd holds (and the
 * marks before it); writerd down or its commits failing, the push ends
 * with that reason rather than leave octctl waiting. The flush itself
 * stays queued and is committed whenever writerd can.
 */
#define FLUSH_WAIT_S	10
static const struct timeval flush_wait = { FLUSH_WAIT_S, 0 };

void
session_flush_late(evutil_socket_t fd, short ev, void *arg)
{
	char why[160];

	(void)fd;
	(void)ev;
	(void)arg;
	if (!pd.ses.active || !pd.ses.flushing)
		return;
	pd.ses.flushing = 0;
	snprintf(why, sizeof(why), "writerd has not committed the events it "
	    "holds for %d s; nothing was pushed (see writerd's log)",
	    FLUSH_WAIT_S);
	session_end(why);
	cycle_schedule(pd.conf->push_interval_ms);
}

void
push_session(int force, int verbose, int64_t batch)
{
	struct session *s = &pd.ses;

	if (s->active) {
		pd.sink->report(1, "{\"done\":true,\"error\":\"a push is "
		    "already running\"}");
		return;
	}
	memset(s, 0, sizeof(*s));
	s->force = force;
	s->verbose = verbose;
	s->batch = batch > 0 ? batch : pd.conf->push_batch_size;
	s->cur.received_at = -1;
	s->started = mono_ms();
	if (*pd.conf->push_url == '\0') {
		session_report(1, json_pack("{s:s}", "error", "push_url is empty: "
		    "there is no collector to push to"));
		return;
	}
	if (!cycle_key_usable() || cycle_open_store() == -1) {
		session_report(1, json_pack("{s:s}", "error", pd.key_err[0] ?
		    pd.key_err : "oct.db cannot be read yet"));
		return;
	}
	s->active = 1;
	if (pd.sink->flush == NULL) {
		session_begin();
		return;
	}
	s->flushing = 1;	/* no fetch until writerd has committed */
	pd.sink->flush();
	evtimer_add(pd.flush_timer, &flush_wait);
}

/*
 * Rows a sizing step reads: a few ms of SQLite's time, so that a large
 * backlog never keeps pushd from its heartbeats.
 */
#define SIZE_STEP	2000

/*
 * One step of adding up the payload a session will send (its rows, as
 * session_pending() counts them); the last step starts the sending.
 */
void
session_size_step(evutil_socket_t fd, short ev, void *arg)
{
	static const struct timeval	 now = { 0, 0 };
	struct session			*s = &pd.ses;
	struct push_row			*rows;
	int				 n, i;

	(void)fd;
	(void)ev;
	(void)arg;
	if (!s->active || !s->sizing)
		return;
	if (pd.no_sizing) {
		rows = NULL;
		n = -1;
	} else
		n = store_fetch_due(pd.ro, INT64_MAX, -1, SIZE_STEP, s->force,
		    &s->size_cur, &rows);
	if (n < 0)
		s->total_payload = -1;
	for (i = 0; i < n; i++)
		s->total_payload += (int64_t)pd.enc->event_len(&rows[i]);
	if (n > 0) {
		s->size_cur.received_at = rows[n - 1].received_at;
		s->size_cur.kind = rows[n - 1].kind;
		s->size_cur.id = rows[n - 1].id;
	}
	store_rows_free(rows, n > 0 ? n : 0);
	if (n == SIZE_STEP) {
		evtimer_add(pd.size_timer, &now);
		return;
	}
	s->sizing = 0;
	session_report(0, json_object());
	pd.paused_until = 0;
	if (pd.inflight == NULL && !pd.waiting) {
		evtimer_del(pd.timer);
		cycle_run();
	}
}

void
push_sizing(int on)
{
	pd.no_sizing = !on;
}

/* The session's rows are all in oct.db: count them, size them, send. */
void
session_begin(void)
{
	static const struct timeval	 now = { 0, 0 };
	struct session			*s = &pd.ses;

	s->total = session_pending(s->force);
	s->sizing = 1;
	s->size_cur.received_at = -1;
	evtimer_add(pd.size_timer, &now);
}
