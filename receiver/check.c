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

#include <jansson.h>

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

json_t *
recv_check_envelope(const uint8_t *body, size_t len, const char *id,
    struct recv_verdict *v)
{
	json_t		*env = json_loadb((const char *)body, len, 0, NULL);
	const char	*bid;

	if (!json_is_object(env)) {
		json_decref(env);
		verdict(v, 400, "Bad Request", "body is not a JSON object");
		return NULL;
	}
	bid = json_string_value(json_object_get(env, "batch_id"));
	if (bid == NULL || strcmp(bid, id) != 0)
		verdict(v, 401, "Unauthorized", "batch_id differs from "
		    "webhook-id");
	else if (!json_is_array(json_object_get(env, "events")))
		verdict(v, 400, "Bad Request", "events must be an array");
	else
		return env;
	json_decref(env);
	return NULL;
}

const char *
recv_check_event(json_t *ev)
{
	static const char *const types[] = { "llm_trace", "error_event",
		"system_metric", NULL };
	const char	*type = json_string_value(json_object_get(ev, "type"));
	int		 i;

	if (!json_is_object(ev))
		return "event is not an object";
	if (!json_is_string(json_object_get(ev, "trace_id")))
		return "missing trace_id";
	if (!json_is_object(json_object_get(ev, "data")))
		return "missing data";
	for (i = 0; type != NULL && types[i] != NULL; i++)
		if (strcmp(type, types[i]) == 0)
			return NULL;
	return "unknown type";
}
