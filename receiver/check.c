/*
 * check.c: oct-receiver's checks of a request, apart from the socket and
 * the database (receiver.c answers what they decide), so that the suites
 * and the fuzzer (tests/fuzz/fuzz_receiver.c) can call them alone. Built
 * for one batch at a time: the cost is the inflate and the JSON parse.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "receiver.h"

static int
verdict(struct recv_verdict *v, int code, const char *reason,
    const char *why)
{
	v->code = code;
	v->reason = reason;
	v->why = why;
	return -1;
}

/* ts is whole seconds, nothing else, within skew_s of now_s. */
static int
timestamp_ok(const char *ts, long long now_s, long skew_s)
{
	char		*end;
	long long	 t = strtoll(ts, &end, 10);

	return *ts != '\0' && *end == '\0' && t >= now_s - skew_s &&
	    t <= now_s + skew_s;
}

int
recv_check_request(const struct recv_req *rq, const struct pubkeys *keys,
    long long now_s, long skew_s, struct recv_body *out,
    struct recv_verdict *v)
{
	int r;

	out->body = rq->body;
	out->len = rq->len;
	out->inflated = NULL;
	if (!rq->post)
		return verdict(v, 405, "Method Not Allowed", "POST only");
	if (rq->id == NULL || rq->ts == NULL || rq->sig == NULL)
		return verdict(v, 401, "Unauthorized",
		    "missing webhook headers");
	if (!timestamp_ok(rq->ts, now_s, skew_s))
		return verdict(v, 401, "Unauthorized",
		    "timestamp outside the window");
	if (rq->encoding != NULL && strcasecmp(rq->encoding, "identity") != 0) {
		if (strcasecmp(rq->encoding, "gzip") != 0)
			return verdict(v, 415, "Unsupported Media Type",
			    "unknown Content-Encoding");
		r = verify_gunzip(rq->body, rq->len, RECV_INFLATE_MAX,
		    &out->inflated, &out->len);
		if (r == -2)
			return verdict(v, 413, "Payload Too Large",
			    "body inflates past 64 MiB");
		if (r == -1)
			return verdict(v, 400, "Bad Request", "bad gzip data");
		out->body = out->inflated;
	}
	/* the payload before compression is what is signed (SPEC 6) */
	if (!verify_signature(keys, rq->id, rq->ts, out->body, out->len,
	    rq->sig)) {
		free(out->inflated);
		out->inflated = NULL;
		return verdict(v, 401, "Unauthorized", "bad signature");
	}
	return 0;
}

/* A string member of o, or NULL. */
static const char *
str_of(const struct jv_val *o, const char *key)
{
	const struct jv_val *v = jv_get(o, key);

	return v != NULL && v->type == JV_STRING ? v->u.s : NULL;
}

struct jv_doc *
recv_check_envelope(const uint8_t *body, size_t len, const char *id,
    struct recv_verdict *v)
{
	struct jv_err		 jerr;
	struct jv_doc		*doc;
	const struct jv_val	*env = NULL, *events;
	const char		*bid;

	/* jansson's own depth limit, which the receiver had */
	if ((doc = jv_parse((const char *)body, len, 2048, &jerr)) != NULL)
		env = jv_root(doc);
	if (env == NULL || env->type != JV_OBJECT) {
		jv_free(doc);
		verdict(v, 400, "Bad Request", "body is not a JSON object");
		return NULL;
	}
	bid = str_of(env, "batch_id");
	events = jv_get(env, "events");
	if (bid == NULL || strcmp(bid, id) != 0)
		verdict(v, 401, "Unauthorized", "batch_id differs from "
		    "webhook-id");
	else if (events == NULL || events->type != JV_ARRAY)
		verdict(v, 400, "Bad Request", "events must be an array");
	else
		return doc;
	jv_free(doc);
	return NULL;
}

const char *
recv_check_event(const struct jv_val *ev)
{
	static const char *const types[] = { "llm_trace", "error_event",
		"system_metric", NULL };
	const struct jv_val	*x;
	const char		*type;
	int			 i;

	if (ev->type != JV_OBJECT)
		return "event is not an object";
	if ((x = jv_get(ev, "trace_id")) == NULL || x->type != JV_STRING)
		return "missing trace_id";
	if ((x = jv_get(ev, "data")) == NULL || x->type != JV_OBJECT)
		return "missing data";
	type = str_of(ev, "type");
	for (i = 0; type != NULL && types[i] != NULL; i++)
		if (strcmp(type, types[i]) == 0)
			return NULL;
	return "unknown type";
}
