/*
 * enc_otlp.c: OTLP/HTTP protobuf, the push encoder of push_format = otlp
 * (SPEC section 6.1; push.h): its operations and the reading of the
 * collector's answers.
 *
 * Each request holds rows of one table, POSTed to push_url + /v1/traces,
 * /v1/logs or /v1/metrics as an Export*ServiceRequest. Every row is one
 * Resource{Spans,Logs,Metrics} of its own (its resource, one scope, one
 * span, record or metric): a request's body is then the concatenation of
 * its rows' field-1 entries, so a body is exactly the sum of its rows'
 * sizes, as split.c wants, and a row's resource is its own.
 *
 * The messages are built with protobuf-c (proto/otlp.proto) in an arena
 * freed once the row is packed: enc_otlp_rows.c builds a row's message,
 * from the pieces of enc_otlp_pb.c (enc_otlp.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "enc_otlp.h"

/* Bytes of a varint. */
static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/*
 * The row as field 1 of its Export*ServiceRequest (tag, length, message)
 * into out if not NULL; returns its length, 0 if it cannot be built.
 */
static size_t
put_row(const struct agent_info *ag, const struct push_row *r, uint8_t *out)
{
	struct arena		 a = { 0 };
	const ProtobufCMessage	*m = oe_row_message(&a, ag, r);
	size_t			 len = 0, n, hd;
	uint64_t		 v;

	if (m != NULL) {
		n = protobuf_c_message_get_packed_size(m);
		hd = 1 + varint_len(n);
		len = hd + n;
		if (out != NULL) {
			*out++ = 0x0a;		/* field 1, length-delimited */
			for (v = n; v >= 0x80; v >>= 7)
				*out++ = (uint8_t)(v | 0x80);
			*out++ = (uint8_t)v;
			protobuf_c_message_pack(m, out);
		}
	}
	oe_free(&a);
	return len;
}

static size_t
otlp_overhead(const struct agent_info *ag)
{
	(void)ag;
	return 0;
}

/* event_len() is not given the agent: the engine's (engine.h). */
static size_t
otlp_event_len(const struct push_row *r)
{
	return put_row(&pd.agent, r, NULL);
}

static char *
otlp_body(const struct agent_info *ag, const char *batch_id,
    const struct push_row *rows, int n, int64_t sent_at, size_t *len)
{
	uint8_t	*b;
	size_t	 cap = 1, off = 0, add;
	int	 i;

	(void)batch_id;
	(void)sent_at;
	for (i = 0; i < n; i++)
		cap += put_row(ag, &rows[i], NULL);
	if ((b = malloc(cap)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		/* 0: out of memory; a row left out would be marked synced */
		if ((add = put_row(ag, &rows[i], b + off)) == 0) {
			free(b);
			return NULL;
		}
		off += add;
	}
	*len = off;
	return (char *)b;
}

/*
 * Export*ServiceResponse: a partial_success that rejected some (OTLP does
 * not say which) or says why is reported unnamed: the rows stay synced.
 * The three responses are the same message on the wire.
 */
static void
otlp_answer(const char *body, size_t len, push_reject_cb rejected,
    void *arg)
{
	Otlp__ExportTraceServiceResponse	*res;
	Otlp__ExportTracePartialSuccess		*ps;
	char					 why[300];

	res = otlp__export_trace_service_response__unpack(NULL, len,
	    (const uint8_t *)body);
	if (res == NULL)
		return;
	ps = res->partial_success;
	if (ps != NULL && ((ps->has_rejected_spans && ps->rejected_spans > 0) ||
	    (ps->error_message != NULL && *ps->error_message != '\0'))) {
		snprintf(why, sizeof(why), "partial_success: %lld rejected%s%s",
		    (long long)ps->rejected_spans, ps->error_message != NULL &&
		    *ps->error_message != '\0' ? ": " : "",
		    ps->error_message != NULL ? ps->error_message : "");
		why[strcspn(why, "\r\n")] = '\0';
		rejected(NULL, why, arg);
	}
	otlp__export_trace_service_response__free_unpacked(res, NULL);
}

/*
 * The message of a google.rpc.Status error answer; any other body (a
 * proxy's page, say) as text, its bytes outside printable ASCII as '?'.
 */
static void
otlp_error_text(const char *body, size_t len, char *buf, size_t size)
{
	Otlp__RpcStatus	*st;
	size_t		 i;

	*buf = '\0';
	st = otlp__rpc_status__unpack(NULL, len, (const uint8_t *)body);
	if (st != NULL) {
		if (st->message != NULL)
			snprintf(buf, size, "%s", st->message);
		buf[strcspn(buf, "\r\n")] = '\0';
		otlp__rpc_status__free_unpacked(st, NULL);
		return;
	}
	for (i = 0; i < len && i + 1 < size; i++)
		buf[i] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '?';
	buf[i] = '\0';
}

/* OTLP/HTTP's retryable set: 429, 502, 503, 504. */
static int
otlp_unwell(long status)
{
	return status == 429 || status == 502 || status == 503 ||
	    status == 504;
}

static const char *const otlp_paths[] = {
	[EV_TRACE] = "/v1/traces",
	[EV_ERROR] = "/v1/logs",
	[EV_METRIC] = "/v1/metrics",
};

const struct push_encoder enc_otlp = {
	.name = "otlp",
	.content_type = "application/x-protobuf",
	.per_kind = 1,
	.paths = otlp_paths,
	.overhead = otlp_overhead,
	.event_len = otlp_event_len,
	.body = otlp_body,
	.answer = otlp_answer,
	.error_text = otlp_error_text,
	.unwell = otlp_unwell,
};
