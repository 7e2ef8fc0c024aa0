/*
 * receiver.c: oct-receiver's main and its one HTTP handler.
 *
 *   oct-receiver --listen ADDR --db FILE --pubkey KEY [--pubkey KEY ...]
 *                [--max-skew-s 300]
 *
 * Accepts POST on any path (else 405). In order (check.c, then the
 * database): the Standard Webhooks headers (401), the timestamp window
 * (401), gzip (413 past 64 MiB inflated, 400 when not gzip; 415 for
 * another Content-Encoding), the signature over the inflated body (401),
 * a batch id already stored (200, nothing stored again), the JSON envelope
 * (400; 401 when batch_id is not webhook-id), then each event: stored once
 * by trace_id, its data as the very bytes it came as (the signed text,
 * not written again), or listed in "rejected" with a reason; one
 * transaction a request. Inflating comes before the signature because the
 * payload before compression is what is signed; the cap bounds what an
 * unsigned request can cost.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>	/* the answers; the parse is common/json.c */

#include "conf.h"
#include "log.h"
#include "oct.h"
#include "json.h"
#include "receiver.h"

static struct {
	struct pubkeys	keys;
	long		skew_s;
} rc = { .skew_s = 300 };

static void
answer(struct evhttp_request *req, int code, const char *reason,
    const char *body)
{
	struct evbuffer *b = evbuffer_new();

	if (body != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "application/json");
		evbuffer_add_printf(b, "%s", body);
	}
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
refuse(struct evhttp_request *req, int code, const char *reason,
    const char *why)
{
	json_t	*o = json_pack("{s:s}", "error", why);
	char	*t = json_dumps(o, JSON_COMPACT);

	log_info("%d: %s", code, why);
	answer(req, code, reason, t);
	free(t);
	json_decref(o);
}

/* v (NULL: absent) as a jansson value for an answer; NULL when absent. */
static json_t *
to_jansson(struct jv_doc *doc, const struct jv_val *v)
{
	char	*text;
	size_t	 len;

	if (v == NULL)
		return NULL;
	if (v->type == JV_STRING)
		return json_stringn(v->u.s, v->n);
	if ((text = jv_dump(doc, v, &len)) == NULL)
		return NULL;
	return json_loadb(text, len, JSON_DECODE_ANY, NULL);
}

/* A string member of o, or NULL. */
static const char *
str_of(const struct jv_val *o, const char *key)
{
	const struct jv_val *v = jv_get(o, key);

	return v != NULL && v->type == JV_STRING ? v->u.s : NULL;
}

/*
 * Store the events of a verified envelope (parsed from body) in one
 * transaction, each event's data as its bytes in body (found in one pass
 * beside the tree; written again from the tree only if they could not
 * be, which a body jv_parse() accepted never gives); answer with what was
 * rejected.
 */
static void
store(struct evhttp_request *req, const uint8_t *body, size_t blen,
    struct jv_doc *doc, const struct jv_val *env, const char *batch_id)
{
	const struct jv_val	*events = jv_get(env, "events"), *ev;
	const char		*t = (const char *)body;
	struct jv_span		*spans;
	json_t			*rej;
	const char		*agent, *why, *data;
	char			*text;
	size_t			 i, len;
	int			 stored = 0;

	if ((spans = calloc(events->n + 1, sizeof(*spans))) != NULL &&
	    jv_span_each(t, blen, 0, "events", "data", spans, events->n) == -1)
		memset(spans, 0, (events->n + 1) * sizeof(*spans));
	agent = str_of(jv_get(env, "agent"), "id");
	rej = json_array();
	if (db_begin() == -1)
		goto fail;
	for (i = 0; i < events->n; i++) {
		ev = &events->u.m[i].v;
		if ((why = recv_check_event(ev)) != NULL) {
			json_array_append_new(rej, json_pack("{s:o?,s:s}",
			    "trace_id", to_jansson(doc, jv_get(ev,
			    "trace_id")), "reason", why));
			continue;
		}
		if (spans != NULL && spans[i].e > spans[i].b) {
			data = t + spans[i].b;
			len = spans[i].e - spans[i].b;
		} else
			data = jv_dump(doc, jv_get(ev, "data"), &len);
		if (data == NULL || db_add_event(str_of(ev, "trace_id"),
		    str_of(ev, "type"), agent, batch_id, data, len) == -1)
			goto fail;
		stored++;
	}
	free(spans);
	spans = NULL;
	if (db_commit(batch_id, stored) == -1)
		goto fail;
	log_info("batch %s: %d events stored, %zu rejected", batch_id, stored,
	    json_array_size(rej));
	if (json_array_size(rej) > 0) {
		text = json_dumps(json_pack("{s:o}", "rejected", json_incref(rej)),
		    JSON_COMPACT);
		answer(req, 200, "OK", text);
		free(text);
	} else
		answer(req, 200, "OK", NULL);
	json_decref(rej);
	return;
fail:
	free(spans);
	log_warnx("store batch %s: %s", batch_id, db_error());
	db_rollback();
	json_decref(rej);
	refuse(req, 503, "Service Unavailable", "cannot store the batch");
}

/* Answer what recv_check_*() refused. */
static void
refuse_verdict(struct evhttp_request *req, const struct recv_verdict *v)
{
	refuse(req, v->code, v->reason, v->why);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct recv_req		 rq;
	struct recv_body	 plain;
	struct recv_verdict	 v;
	struct jv_doc		*doc;

	(void)arg;
	rq.post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
	rq.id = evhttp_find_header(h, "webhook-id");
	rq.ts = evhttp_find_header(h, "webhook-timestamp");
	rq.sig = evhttp_find_header(h, "webhook-signature");
	rq.encoding = evhttp_find_header(h, "Content-Encoding");
	rq.len = evbuffer_get_length(in);
	rq.body = evbuffer_pullup(in, -1);
	if (recv_check_request(&rq, &rc.keys, now_ms() / 1000, rc.skew_s,
	    &plain, &v) == -1) {
		refuse_verdict(req, &v);
		return;
	}
	if (db_seen_batch(rq.id)) {
		log_info("batch %s: a repeat; nothing stored again", rq.id);
		answer(req, 200, "OK", NULL);
	} else if ((doc = recv_check_envelope(plain.body, plain.len, rq.id,
	    &v)) == NULL)
		refuse_verdict(req, &v);
	else {
		store(req, plain.body, plain.len, doc, jv_root(doc), rq.id);
		jv_free(doc);
	}
	free(plain.inflated);
}

/* -h: on stdout, exit 0; a mistake: on stderr, exit 2. */
static void __attribute__((noreturn))
usage(FILE *f, int status)
{
	fprintf(f, "usage: oct-receiver --listen ADDR --db FILE --pubkey "
	    "KEY [--pubkey KEY ...] [--max-skew-s N]\n"
	    "       oct-receiver -h | -V\n");
	exit(status);
}

static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "db", required_argument, NULL, 'd' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "max-skew-s", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char		*listen = NULL, *db = NULL;
	char			 host[64], err[512];
	int			 port, ch;
	struct event_base	*base;
	struct evhttp		*http;
	struct event		*evs[2];

	log_init("receiver", LOG_INFO);
	if (sodium_init() < 0)
		fatalx("sodium_init");
	while ((ch = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V':
			printf("oct-receiver %s\n", OCT_VERSION);
			return 0;
		case 'l': listen = optarg; break;
		case 'd': db = optarg; break;
		case 's': rc.skew_s = atol(optarg); break;
		case 'k':
			if (rc.keys.n == RECV_MAX_KEYS)
				fatalx("at most %d --pubkey", RECV_MAX_KEYS);
			if (verify_parse_key(optarg, rc.keys.k[rc.keys.n], err,
			    sizeof(err)) == -1) {
				fprintf(stderr, "oct-receiver: %s\n", err);
				return 2;
			}
			rc.keys.n++;
			break;
		default: usage(stderr, 2);
		}
	}
	if (listen == NULL || db == NULL || rc.keys.n == 0 || optind != argc ||
	    rc.skew_s <= 0)
		usage(stderr, 2);
	if (conf_parse_addr(listen, host, sizeof(host), &port) == -1) {
		fprintf(stderr, "oct-receiver: --listen %s: expected IPv4:port "
		    "or [IPv6]:port\n", listen);
		return 2;
	}
	if (db_open(db, err, sizeof(err)) == -1) {
		fprintf(stderr, "oct-receiver: %s\n", err);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	evhttp_set_max_body_size(http, RECV_INFLATE_MAX);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(http, handle, NULL);
	if (evhttp_bind_socket(http, host, (ev_uint16_t)port) == -1) {
		fprintf(stderr, "oct-receiver: cannot listen on %s\n", listen);
		return 1;
	}
	evs[0] = evsignal_new(base, SIGTERM, on_signal, base);
	evs[1] = evsignal_new(base, SIGINT, on_signal, base);
	event_add(evs[0], NULL);
	event_add(evs[1], NULL);
	log_info("listening on %s, storing in %s, %d key(s)", listen, db,
	    rc.keys.n);
	event_base_dispatch(base);
	event_free(evs[0]);
	event_free(evs[1]);
	evhttp_free(http);
	event_base_free(base);
	db_close();
	return 0;
}
