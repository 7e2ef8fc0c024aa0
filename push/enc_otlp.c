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
 * from the pieces of enc_otlp_pb.c (enc_otlp.h). Building is most of the
 * encoder's cost, so a body builds each row once, and the sizes the
 * engine asks for are kept for the next time it asks.
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

/* *b grown (doubling *cap) to hold need bytes. Returns 0 or -1. */
static int
grow(uint8_t **b, size_t *cap, size_t need)
{
	uint8_t	*nb;
	size_t	 c;

	for (c = *cap; c < need; c *= 2)
		;
	if (c == *cap)
		return 0;
	if ((nb = realloc(*b, c)) == NULL)
		return -1;
	*b = nb;
	*cap = c;
	return 0;
}

/*
 * The row's message, packed as field 1 of its Export*ServiceRequest (tag,
 * length, message) at *out + *off, *out grown (to *cap bytes) to hold
 * it; out NULL: only its length. Returns that length, 0 if the row
 * cannot be built or *out grown.
 */
static size_t
put_row(const struct agent_info *ag, const struct push_row *r,
    uint8_t **out, size_t *off, size_t *cap)
{
	struct arena		 a = { 0 };
	const ProtobufCMessage	*m = oe_row_message(&a, ag, r);
	size_t			 len = 0, n;
	uint8_t			*p;
	uint64_t		 v;

	if (m != NULL) {
		n = protobuf_c_message_get_packed_size(m);
		len = 1 + varint_len(n) + n;
		if (out != NULL && grow(out, cap, *off + len) == -1)
			len = 0;
		else if (out != NULL) {
			p = *out + *off;
			*p++ = 0x0a;		/* field 1, length-delimited */
			for (v = n; v >= 0x80; v >>= 7)
				*p++ = (uint8_t)(v | 0x80);
			*p++ = (uint8_t)v;
			protobuf_c_message_pack(m, p);
			*off += len;
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

/*
 * The sizes of the rows asked for lately: the engine asks for a row's
 * more than once (an octctl push's sizing pass, split.c, the payload it
 * delivered), and each answer is a row built and measured. A slot is
 * the row's (kind, id), and holds its size only for that row: its
 * trace_id (a row's text never changes once stored, and an id used again
 * comes with a new trace_id) under the agent whose id it was sized with.
 */
#define LEN_SLOTS	8192
static struct len_slot {
	int64_t		 id;
	int		 kind;
	char		 trace_id[UUID_STR_LEN];
	size_t		 len;
}			 len_slots[LEN_SLOTS];
static char		 len_agent[UUID_STR_LEN];

/* event_len() is not given the agent: the engine's (engine.h). */
static size_t
otlp_event_len(const struct push_row *r)
{
	struct len_slot	*s;
	size_t		 len;

	if (strcmp(len_agent, pd.agent.id) != 0) {
		memset(len_slots, 0, sizeof(len_slots));
		snprintf(len_agent, sizeof(len_agent), "%s", pd.agent.id);
	}
	s = &len_slots[((uint64_t)r->id * EV_NKINDS + (uint64_t)r->kind) %
	    LEN_SLOTS];
	if (s->len > 0 && s->id == r->id && s->kind == (int)r->kind &&
	    strcmp(s->trace_id, r->trace_id) == 0)
		return s->len;
	if ((len = put_row(&pd.agent, r, NULL, NULL, NULL)) > 0) {
		s->id = r->id;
		s->kind = (int)r->kind;
		memcpy(s->trace_id, r->trace_id, sizeof(s->trace_id));
		s->len = len;
	}
	return len;
}

/* Each row built once: measured, then packed into the body it grows. */
static char *
otlp_body(const struct agent_info *ag, const char *batch_id,
    const struct push_row *rows, int n, int64_t sent_at, size_t *len)
{
	uint8_t	*b;
	size_t	 cap = 4096, off = 0;
	int	 i;

	(void)batch_id;
	(void)sent_at;
	if ((b = malloc(cap)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		/* 0: out of memory; a row left out would be marked synced */
		if (put_row(ag, &rows[i], &b, &off, &cap) == 0) {
			free(b);
			return NULL;
		}
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
