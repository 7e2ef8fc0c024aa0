/*
 * fmt_otlp.c: OTLP/HTTP (SPEC section 4.5) as an ingest format, in both of
 * its encodings: application/x-protobuf (protobuf-c, from proto/otlp.proto)
 * and OTLP JSON (otlp_json.c reads it into the same structs). otlp_map.c
 * turns the request into events. Answers are in the request's encoding:
 * an Export*ServiceResponse whose partial_success counts what was refused,
 * or a google.rpc.Status. Refused items do not refuse the request.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "ingestd.h"
#include "otlp.h"

/* The three signals, by the kind of their path's row. */
static const struct otlp_sig {
	enum event_kind			 kind;
	enum otlp_signal		 signal;
	const char			*name;
	const char			*rejected;	/* its JSON name */
	const ProtobufCMessageDescriptor *req;
} sigs[] = {
	{ EV_TRACE, OTLP_TRACES, "traces", "rejectedSpans",
	    &otlp__export_trace_service_request__descriptor },
	{ EV_METRIC, OTLP_METRICS, "metrics", "rejectedDataPoints",
	    &otlp__export_metrics_service_request__descriptor },
	{ EV_ERROR, OTLP_LOGS, "logs", "rejectedLogRecords",
	    &otlp__export_logs_service_request__descriptor },
};

static const struct otlp_sig *
sig_of(enum otlp_signal s)
{
	return &sigs[s == OTLP_TRACES ? 0 : s == OTLP_METRICS ? 1 : 2];
}

static const struct otlp_sig *
sig_for(enum event_kind k)
{
	return &sigs[k == EV_TRACE ? 0 : k == EV_METRIC ? 1 : 2];
}

/* A varint at p (at most len bytes); its length, or 0 when cut short. */
static size_t
varint(const uint8_t *p, size_t len, uint64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < len && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0)
			return i + 1;
	}
	return 0;
}

/* See otlp.h: a walk of the framing only, descending into messages. */
static int
pb_walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
    int depth)
{
	const ProtobufCFieldDescriptor	*f;
	uint64_t			 key, v;
	size_t				 n;

	if (depth > OTLP_MAX_DEPTH)
		return 0;
	while (len > 0) {
		if ((n = varint(p, len, &key)) == 0)
			return 0;
		p += n;
		len -= n;
		switch (key & 7) {
		case 0:
			n = varint(p, len, &v);
			break;
		case 1:
			n = 8;
			break;
		case 5:
			n = 4;
			break;
		case 2:
			if ((n = varint(p, len, &v)) == 0 || v > len - n)
				return 0;
			f = protobuf_c_message_descriptor_get_field(d,
			    (unsigned)(key >> 3));
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    !pb_walk(f->descriptor, p + n, (size_t)v,
			    depth + 1))
				return 0;
			n += (size_t)v;
			break;
		default:
			return 0;
		}
		if (n == 0 || n > len)
			return 0;
		p += n;
		len -= n;
	}
	return 1;
}

int
otlp_pb_depth_ok(const ProtobufCMessageDescriptor *d, const uint8_t *data,
    size_t len)
{
	return pb_walk(d, data, len, 1);
}

/* Whether the NUL-terminated s is well-formed UTF-8 (RFC 3629). */
static int
utf8_ok(const unsigned char *s)
{
	unsigned	c, min;
	int		n;

	while ((c = *s++) != 0) {
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			min = 0x80;
			c &= 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			min = 0x800;
			c &= 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			min = 0x10000;
			c &= 0x07;
		} else
			return 0;
		for (; n > 0; n--, s++) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (*s & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
	}
	return 1;
}

/*
 * Whether every string of the unpacked m is UTF-8, as protobuf requires
 * of string fields (protobuf-c does not check): the rows and their JSON
 * hold text only, as with the JSON API. m's nesting is bounded by
 * otlp_pb_depth_ok().
 */
static int
pb_utf8_ok(const ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor	*f;
	const char			*p;
	size_t				 n, i;
	unsigned			 k;

	for (k = 0; k < m->descriptor->n_fields; k++) {
		f = &m->descriptor->fields[k];
		p = (const char *)m + f->offset;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)
		    ((const char *)m + f->quantifier_offset) != f->id)
			continue;
		if (f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		n = 1;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)((const char *)m +
			    f->quantifier_offset);
			p = *(const char *const *)p;
		}
		for (i = 0; i < n; i++) {
			const void *v = ((const void *const *)p)[i];

			if (v != NULL && (f->type == PROTOBUF_C_TYPE_STRING ?
			    !utf8_ok(v) : !pb_utf8_ok(v)))
				return 0;
		}
	}
	return 1;
}

/* Decode body (protobuf or JSON) and map it; NULL with err. */
static void *
otlp_open(const struct ingest_fmt *f, const struct conf *c, const char *body,
    size_t len, struct fmt_info *info, struct event_error *err, int json)
{
	const struct otlp_sig	*sig = sig_for(f->kind);
	struct otlp_req		*r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		event_fail(err, NULL, "out of memory");
		return NULL;
	}
	r->signal = sig->signal;
	r->metrics_all = c != NULL && c->otlp_metrics == CONF_OTLP_METRICS_ALL;
	if (json)
		r->msg = otlp_json_read(sig->req, body, len, err);
	else if (!otlp_pb_depth_ok(sig->req, (const uint8_t *)body, len))
		event_fail(err, NULL, "malformed protobuf: not an %s",
		    sig->req->short_name);
	else if ((r->msg = protobuf_c_message_unpack(sig->req, NULL, len,
	    (const uint8_t *)body)) == NULL)
		event_fail(err, NULL, "malformed protobuf: not an %s",
		    sig->req->short_name);
	else if (!pb_utf8_ok(r->msg)) {
		event_fail(err, NULL, "invalid UTF-8");
		protobuf_c_message_free_unpacked(r->msg, NULL);
		r->msg = NULL;
	}
	if (r->msg != NULL && otlp_map(r) == -1)
		event_fail(err, NULL, "out of memory");
	else if (r->msg != NULL) {
		info->n = r->nev;
		info->ignored = r->ignored;
		info->signal = sig->name;
		return r;
	}
	otlp_req_free(r);
	return NULL;
}

static void *
pb_open(const struct ingest_fmt *f, const struct conf *c, const char *body,
    size_t len, struct fmt_info *info, struct event_error *err)
{
	return otlp_open(f, c, body, len, info, err, 0);
}

static void *
json_open(const struct ingest_fmt *f, const struct conf *c, const char *body,
    size_t len, struct fmt_info *info, struct event_error *err)
{
	return otlp_open(f, c, body, len, info, err, 1);
}

/* Event i; an exception's trace_ref is its LLM row's trace_id, if stored. */
static int
otlp_item(void *h, size_t i, char (*ids)[UUID_STR_LEN], struct event *e,
    struct event_error *err)
{
	struct otlp_req		*r = h;
	struct event_value	*v;
	int			 alias;

	(void)err;
	*e = r->ev[i];
	if (r->ref[i] >= 0 && ids[r->ref[i]][0] != '\0') {
		v = &e->v[event_field(EV_ERROR, "trace_ref", &alias)];
		v->tag = V_TEXT;
		v->s = ids[r->ref[i]];
		v->len = strlen(v->s);
	}
	return 0;
}

static void
otlp_close(void *h)
{
	otlp_req_free(h);
}

/* What was refused, ours and the shared validation's together. */
static size_t
refusals(struct otlp_req *r, size_t refused, const char *why,
    const char **msg)
{
	*msg = r->refused > 0 ? r->why : why;
	return r->refused + refused;
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	if ((buf = malloc(*len + 1)) == NULL)
		return NULL;
	protobuf_c_message_pack(m, buf);
	return buf;
}

/* Export*ServiceResponse, with partial_success when n were refused. */
static char *
pb_response(enum otlp_signal s, size_t n, const char *why, size_t *len)
{
	Otlp__ExportTraceServiceResponse	 tr;
	Otlp__ExportTracePartialSuccess		 tp;
	Otlp__ExportMetricsServiceResponse	 mr;
	Otlp__ExportMetricsPartialSuccess	 mp;
	Otlp__ExportLogsServiceResponse		 lr;
	Otlp__ExportLogsPartialSuccess		 lp;

	otlp__export_trace_service_response__init(&tr);
	otlp__export_trace_partial_success__init(&tp);
	otlp__export_metrics_service_response__init(&mr);
	otlp__export_metrics_partial_success__init(&mp);
	otlp__export_logs_service_response__init(&lr);
	otlp__export_logs_partial_success__init(&lp);

	tp.has_rejected_spans = mp.has_rejected_data_points =
	    lp.has_rejected_log_records = 1;
	tp.rejected_spans = mp.rejected_data_points =
	    lp.rejected_log_records = (int64_t)n;
	tp.error_message = mp.error_message = lp.error_message = (char *)why;
	if (n > 0) {
		tr.partial_success = &tp;
		mr.partial_success = &mp;
		lr.partial_success = &lp;
	}
	if (s == OTLP_TRACES)
		return (char *)pack(&tr.base, len);
	if (s == OTLP_METRICS)
		return (char *)pack(&mr.base, len);
	return (char *)pack(&lr.base, len);
}

static char *
pb_accepted(void *h, char (*ids)[UUID_STR_LEN], size_t n, size_t refused,
    const char *why, size_t *len)
{
	struct otlp_req	*r = h;
	const char	*msg;
	size_t		 k = refusals(r, refused, why, &msg);

	(void)ids;
	(void)n;
	return pb_response(r->signal, k, msg, len);
}

static char *
dump_body(json_t *o, size_t *len)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (s != NULL)
		*len = strlen(s);
	return s;
}

static char *
json_accepted(void *h, char (*ids)[UUID_STR_LEN], size_t n, size_t refused,
    const char *why, size_t *len)
{
	struct otlp_req	*r = h;
	const char	*msg;
	char		 num[24];
	size_t		 k = refusals(r, refused, why, &msg);

	(void)ids;
	(void)n;
	if (k == 0)
		return dump_body(json_object(), len);
	snprintf(num, sizeof(num), "%zu", k);	/* int64: a string */
	return dump_body(json_pack("{s:{s:s,s:s}}", "partialSuccess",
	    sig_of(r->signal)->rejected, num, "errorMessage", msg), len);
}

/* The google.rpc.Code nearest to an HTTP status. */
static int
rpc_code(int status)
{
	switch (status) {
	case 401:
		return 16;	/* UNAUTHENTICATED */
	case 403:
		return 7;	/* PERMISSION_DENIED */
	case 404:
		return 5;	/* NOT_FOUND */
	case 413:
		return 8;	/* RESOURCE_EXHAUSTED */
	case 503:
		return 14;	/* UNAVAILABLE */
	default:
		return 3;	/* INVALID_ARGUMENT */
	}
}

static char *
pb_error(void *h, int status, const char *msg, long index, const char *field,
    size_t *len)
{
	Otlp__RpcStatus st = OTLP__RPC_STATUS__INIT;

	(void)h;
	(void)index;
	(void)field;
	st.has_code = 1;
	st.code = rpc_code(status);
	st.message = (char *)msg;
	return (char *)pack(&st.base, len);
}

static char *
json_error(void *h, int status, const char *msg, long index,
    const char *field, size_t *len)
{
	(void)h;
	(void)index;
	(void)field;
	return dump_body(json_pack("{s:i,s:s}", "code", rpc_code(status),
	    "message", msg), len);
}

const struct fmt_ops fmt_otlp_pb = {
	.answer_type = "application/x-protobuf",
	.queued_status = 200,
	.partial = 1,
	.gzip = 1,
	.open = pb_open,
	.item = otlp_item,
	.close = otlp_close,
	.accepted = pb_accepted,
	.error = pb_error,
};

const struct fmt_ops fmt_otlp_json = {
	.answer_type = "application/json",
	.queued_status = 200,
	.partial = 1,
	.gzip = 1,
	.open = json_open,
	.item = otlp_item,
	.close = otlp_close,
	.accepted = json_accepted,
	.error = json_error,
};
