/*
 * answer.c: what the cycle does with a collector's answer. push_classify
 * turns the answer into SPEC section 6's action; act() does it: synced
 * and rejected rows, a 413 halving, a 400/422 bisection, a pause for a
 * collector that is unwell or refuses our configuration.
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
#include "msg.h"
#include "oct.h"
#include "engine.h"

/*
 * A 400/422 bisection (SPEC section 6): how many events it covers, how
 * many of them are not answered yet, and those refused alone, held until
 * every part is answered. They go dead only if the collector took another
 * event of the batch; refused one and all, the collector is at fault.
 * Its requests go first (at the queue's head), so one runs at a time.
 */
static struct {
	int		 n, pending, nheld;
	struct push_row	*held;		/* row ids only, no text */
	char		**why;
} bis;

void
bis_abandon(void)
{
	int i;

	for (i = 0; i < bis.nheld; i++)
		free(bis.why[i]);
	free(bis.held);
	free(bis.why);
	memset(&bis, 0, sizeof(bis));
}

/* Rows that reached the dead rule leave the retry; the rest stay together. */
static struct req *
keep_for_retry(struct req *r)
{
	int64_t	before = now_ms() - pd.conf->push_give_up_after_ms;
	int	i, n = 0;

	for (i = 0; i < r->n; i++) {
		if (r->rows[i].attempts + 1 >= pd.conf->push_max_attempts &&
		    r->rows[i].received_at < before) {
			store_row_clear(&r->rows[i]);
			continue;
		}
		r->rows[i].attempts++;
		r->rows[n++] = r->rows[i];
	}
	if (n < r->n)
		uuid_v4(r->batch_id);	/* another set: another id */
	r->n = n;
	if (n == 0) {
		req_free(r);
		return NULL;
	}
	return r;
}

/*
 * The collector is unwell: charge r's rows, pause by a backoff (or the
 * answer's Retry-After, when longer), and keep r to go again after it.
 */
static void
unwell(struct req *r, int64_t retry_after, const char *what)
{
	int64_t	wait, attempts = 0;
	int	i;

	for (i = 0; i < r->n; i++)
		if (r->rows[i].attempts > attempts)
			attempts = r->rows[i].attempts;
	wait = retry_backoff(pd.conf->push_backoff_base_ms,
	    pd.conf->push_backoff_cap_ms, attempts);
	if (retry_after > wait)
		wait = retry_after;
	log_warnx("push of %d events (batch %s) failed: %s; retrying in %lld "
	    "ms", r->n, r->batch_id, what, (long long)wait);
	mark_rows(MSG_MARK_FAILED, r, NULL, 0, now_ms() + wait, what);
	mark_state(0, what);
	if (session_counting() != NULL)
		session_counting()->failed++;
	pd.paused_until = mono_ms() + wait;
	r->bisecting = 0;
	pd.retry = keep_for_retry(r);
	cycle_drop_queue();
}

/*
 * The collector refuses our configuration (3xx, 401, 403, 404), or, with
 * an encoder whose retryable set is narrower (OTLP's), failed in a way it
 * says not to retry (a 500): pause at the cap, charge nothing, keep r.
 */
static void
refused_config(struct req *r, long status, const char *what)
{
	if (status >= 500)
		log_errorx("collector failed the request: %s; %s says not to "
		    "retry it, so nothing is charged; pausing %lld ms", what,
		    pd.enc->name, (long long)pd.conf->push_backoff_cap_ms);
	else
		log_errorx("collector refused the request: %s; check push_url "
		    "and push_auth_token; pausing %lld ms", what,
		    (long long)pd.conf->push_backoff_cap_ms);
	mark_state(0, what);
	if (session_counting() != NULL)
		session_counting()->failed++;
	pd.paused_until = mono_ms() + pd.conf->push_backoff_cap_ms;
	r->bisecting = 0;
	pd.retry = r;
	cycle_drop_queue();
}

/*
 * Every event of a bisected batch was refused alone: the collector is at
 * fault (it refuses everything: a failed verification, say), not the
 * events. Nothing goes dead and nothing is charged; the loop pauses at the
 * cap and the rows are fetched again after it.
 */
static void
collector_at_fault(int n, const char *what)
{
	log_errorx("collector refused each of the %d events of a batch alone: "
	    "%s; it is at fault, not the events: none is dead; pausing %lld ms",
	    n, what, (long long)pd.conf->push_backoff_cap_ms);
	mark_state(0, what);
	if (session_counting() != NULL)
		session_counting()->failed++;
	pd.paused_until = mono_ms() + pd.conf->push_backoff_cap_ms;
	cycle_drop_queue();
}

/* r's events are part of a bisection from now on. */
static void
bis_join(struct req *r)
{
	if (r->bisecting)
		return;
	bis.held = reallocarray(bis.held, (size_t)(bis.n + r->n),
	    sizeof(*bis.held));
	bis.why = reallocarray(bis.why, (size_t)(bis.n + r->n),
	    sizeof(*bis.why));
	if (bis.held == NULL || bis.why == NULL)
		fatal("bisection");
	bis.n += r->n;
	bis.pending += r->n;
	r->bisecting = 1;
}

/* r's events have their answer: those of a bisection are no longer due. */
static void
bis_answered(const struct req *r)
{
	if (r->bisecting)
		bis.pending -= r->n;
}

/* The one event of r was refused alone: held until the bisection ends. */
static void
bis_hold(const struct req *r, const char *what)
{
	struct push_row *h = &bis.held[bis.nheld];

	memset(h, 0, sizeof(*h));		/* the ids only, no text */
	h->kind = r->rows[0].kind;
	h->id = r->rows[0].id;
	memcpy(h->trace_id, r->rows[0].trace_id, sizeof(h->trace_id));
	if ((bis.why[bis.nheld++] = strdup(what)) == NULL)
		fatal("bisection");
}

/*
 * Once every part of the bisection is answered: the held events go dead,
 * unless every event was refused alone. Returns -1 then (nothing marked),
 * else 0.
 */
static int
bis_settle(void)
{
	int i;

	if (bis.n == 0 || bis.pending > 0)
		return 0;
	if (bis.nheld == bis.n)
		return -1;
	for (i = 0; i < bis.nheld; i++)
		log_warnx("event %s is dead: %s", bis.held[i].trace_id,
		    bis.why[i]);
	mark_dead(bis.held, bis.nheld, (const char *const *)bis.why);
	bis_abandon();
	return 0;
}

/*
 * 413 (too_big) and 400/422: halve and send the halves now; a single event
 * too big is dead, one refused is held by the bisection.
 */
static void
bisect(struct req *r, int too_big, const char *what)
{
	struct req	*a, *b;
	int		 bisecting;

	if (!too_big)
		bis_join(r);
	if (r->n == 1) {
		bis_answered(r);
		if (too_big) {
			log_warnx("event %s is dead: %s", r->rows[0].trace_id,
			    what);
			mark_dead_one(&r->rows[0], what);
		} else
			bis_hold(r, what);
		req_free(r);
		return;
	}
	bisecting = r->bisecting;
	req_halve(r, &a, &b);
	if (a == NULL || b == NULL)
		fatal("halve");
	a->bisecting = b->bisecting = bisecting;
	TAILQ_INSERT_HEAD(&pd.queue, b, entry);
	TAILQ_INSERT_HEAD(&pd.queue, a, entry);
}

/* The events of a request that the collector rejected in a 2xx answer. */
struct rejects {
	const struct req	 *r;
	const char		**ids;		/* r's own trace_ids */
	char			**reasons;	/* malloc'd */
	struct push_row		 *dead;
	size_t			  n;
	char			  unnamed[300];	/* some, not said which */
};

static void
on_reject(const char *id, const char *reason, void *arg)
{
	struct rejects	*j = arg;
	int		 k;

	if (id == NULL) {
		snprintf(j->unnamed, sizeof(j->unnamed), "%s", reason);
		return;
	}
	for (k = 0; k < j->r->n && j->n < (size_t)j->r->n; k++) {
		if (strcmp(j->r->rows[k].trace_id, id) != 0)
			continue;
		j->ids[j->n] = j->r->rows[k].trace_id;
		if ((j->reasons[j->n] = strdup(reason)) == NULL)
			fatal("delivered");
		j->dead[j->n++] = j->r->rows[k];
	}
}

/* 2xx: synced, but for the events the collector rejected itself. */
static void
delivered(struct req *r, const struct send_result *res)
{
	struct rejects	j = { .r = r };
	size_t		i;
	int		k;

	j.ids = calloc((size_t)r->n + 1, sizeof(*j.ids));
	j.reasons = calloc((size_t)r->n + 1, sizeof(*j.reasons));
	j.dead = calloc((size_t)r->n + 1, sizeof(*j.dead));
	if (j.ids == NULL || j.reasons == NULL || j.dead == NULL)
		fatal("delivered");
	pd.enc->answer(res->body, res->body_len, on_reject, &j);
	mark_rows(MSG_MARK_SYNCED, r, j.ids, j.n, 0, NULL);
	mark_dead(j.dead, (int)j.n, (const char *const *)j.reasons);
	if (session_counting() != NULL) {
		session_counting()->sent += r->n - (int64_t)j.n;
		for (k = 0; k < r->n; k++)
			if (!mark_skipped(r->rows[k].trace_id, j.ids, j.n))
				session_counting()->payload += (int64_t)
				    pd.enc->event_len(&r->rows[k]);
	}
	if (j.n > 0)
		log_warnx("collector rejected %zu of %d events in batch %s",
		    j.n, r->n, r->batch_id);
	if (*j.unnamed != '\0')
		log_warnx("collector rejected events of batch %s: %s",
		    r->batch_id, j.unnamed);
	for (i = 0; i < j.n; i++)
		free(j.reasons[i]);
	free(j.ids);
	free(j.reasons);
	free(j.dead);
	mark_state(1, *j.unnamed != '\0' ? j.unnamed : NULL);
	req_free(r);
}

/*
 * A 401 whose body speaks of the timestamp (oct-receiver's "timestamp
 * outside the window"; Standard Webhooks receivers say the same) is most
 * often this host's clock, not the token: say so in the reason, which
 * goes to the log and to push-status's last collector error.
 */
static void
clock_hint(long st, const char *body, struct push_verdict *v)
{
	static const char	hint[] = " (clock skew? the collector refuses "
	    "this host's timestamps: check its clock)";
	size_t			len;

	if (st != 401 || body == NULL || strstr(body, "timestamp") == NULL)
		return;
	len = strlen(v->why);
	if (len + sizeof(hint) > sizeof(v->why))
		len = sizeof(v->why) - sizeof(hint);
	memcpy(v->why + len, hint, sizeof(hint));
}

void
push_classify(const struct push_encoder *enc, const struct send_result *res,
    struct push_verdict *v)
{
	long		 st = res->status;
	char		 text[201];
	const char	*said = res->body;

	if (enc->error_text != NULL && (st < 200 || st >= 300)) {
		enc->error_text(res->body, res->body_len, text, sizeof(text));
		said = text;
	}
	if (res->error != NULL)
		snprintf(v->what, sizeof(v->what), "%s", res->error);
	else
		snprintf(v->what, sizeof(v->what), "HTTP %ld%s%.200s", st,
		    *said ? ": " : "", said);
	v->what[strcspn(v->what, "\r\n")] = '\0';
	memcpy(v->why, v->what, sizeof(v->why));
	v->retry_after = res->retry_after;
	if (st >= 200 && st < 300 && res->truncated) {
		/* which events it rejected cannot be known: try again */
		snprintf(v->why, sizeof(v->why), "HTTP %ld with an answer "
		    "over %d bytes", st, SEND_ANSWER_MAX);
		v->action = PUSH_UNWELL;
	} else if (st >= 200 && st < 300)
		v->action = PUSH_DELIVERED;
	else if (st == 413)
		v->action = PUSH_TOO_BIG;
	else if (st == 400 || st == 422)
		v->action = PUSH_REFUSED;
	else if (st < 200 || (enc->unwell != NULL ? enc->unwell(st) :
	    st == 408 || st == 429 || st >= 500))
		v->action = PUSH_UNWELL;	/* st 0: no answer at all */
	else
		v->action = PUSH_CONFIG;
	clock_hint(st, res->body, v);
}

/*
 * Act on the answer to r (taken over), as SPEC section 6's table says.
 * Returns 1 to send the next request, 0 when the cycle stops here.
 */
static int
act(struct req *r, const struct push_verdict *v, const struct send_result *res)
{
	int n = bis.n;

	switch (v->action) {
	case PUSH_DELIVERED:
		bis_answered(r);
		delivered(r, res);
		break;
	case PUSH_TOO_BIG:
	case PUSH_REFUSED:
		mark_state(0, v->why);
		bisect(r, v->action == PUSH_TOO_BIG, v->why);
		n = bis.n;
		break;
	case PUSH_UNWELL:
		unwell(r, v->retry_after, v->why);
		return 0;
	case PUSH_CONFIG:
		refused_config(r, res->status, v->why);
		return 0;
	}
	if (bis_settle() == -1) {
		collector_at_fault(n, v->why);
		return 0;
	}
	return 1;
}

void
answer_done(const struct send_result *res, void *arg)
{
	struct req		*r = arg;
	struct push_verdict	 v;
	json_t			*progress;
	int			 go_on;

	pd.inflight = NULL;
	push_classify(pd.enc, res, &v);
	log_debug("batch %s: %d events, %s in %lld ms", r->batch_id, r->n,
	    v.what, (long long)res->elapsed_ms);
	progress = session_answer(r, res);
	go_on = act(r, &v, res);
	if (progress != NULL)
		session_report(0, progress);
	if (go_on)
		cycle_send_next();
	else
		cycle_done();
}
