/*
 * otlp_spans.c: OTLP spans to llm_traces rows, and exception span events
 * to error_events rows (SPEC section 4.5).
 *
 * Which span attribute fills which llm_traces column is one table
 * (span_cols): a new alias family is one line there. Everything no
 * mapping names goes into attributes, values keeping their types.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "otlp.h"

/* Gathered messages (gen_ai.prompt.N.*) beyond this index are left. */
#define MAX_INDEXED	256

/*
 * Span attribute -> llm_traces column, in the order of preference for
 * each column: the first present wins. weak: a gathered form of the
 * messages (span events, indexed attributes) wins over it.
 */
static const struct span_col {
	const char	*attr;
	const char	*col;
	int		 weak;
} span_cols[] = {
	{ "gen_ai.request.model", "model", 0 },		/* GenAI */
	{ "gen_ai.response.model", "model", 0 },
	{ "llm.model_name", "model", 0 },		/* OpenInference */
	{ "embedding.model_name", "model", 0 },
	{ "gen_ai.provider.name", "provider", 0 },	/* GenAI */
	{ "gen_ai.system", "provider", 0 },		/* GenAI, deprecated */
	{ "llm.provider", "provider", 0 },		/* OpenInference */
	{ "llm.system", "provider", 0 },
	{ "gen_ai.operation.name", "operation", 0 },	/* GenAI */
	{ "llm.request.type", "operation", 0 },		/* OpenLLMetry */
	{ "gen_ai.usage.input_tokens", "prompt_tokens", 0 },
	{ "gen_ai.usage.prompt_tokens", "prompt_tokens", 0 },
	{ "llm.token_count.prompt", "prompt_tokens", 0 },
	{ "gen_ai.usage.output_tokens", "completion_tokens", 0 },
	{ "gen_ai.usage.completion_tokens", "completion_tokens", 0 },
	{ "llm.token_count.completion", "completion_tokens", 0 },
	{ "llm.token_count.total", "total_tokens", 0 },
	{ "llm.usage.total_tokens", "total_tokens", 0 },	/* OpenLLMetry */
	{ "gen_ai.usage.cache_read.input_tokens", "cached_tokens", 0 },
	{ "llm.token_count.prompt_details.cache_read", "cached_tokens", 0 },
	{ "gen_ai.input.messages", "input", 0 },
	{ "input.value", "input", 1 },			/* OpenInference */
	{ "gen_ai.output.messages", "output", 0 },
	{ "output.value", "output", 1 },
	{ "session.id", "session_id", 0 },
	{ "gen_ai.conversation.id", "session_id", 0 },
	{ "user.id", "user_id", 0 },
	{ "enduser.id", "user_id", 0 },
};
#define NCOLS	(sizeof(span_cols) / sizeof(span_cols[0]))

/* Indexed messages: PREFIX N . ROLE / CONTENT, gathered in index order. */
static const struct indexed {
	const char	*prefix;
	const char	*role, *content;
	int		 output;
} indexed[] = {
	{ "gen_ai.prompt.", "role", "content", 0 },		/* OpenLLMetry */
	{ "gen_ai.completion.", "role", "content", 1 },
	{ "llm.input_messages.", "message.role", "message.content", 0 },
	{ "llm.output_messages.", "message.role", "message.content", 1 },
};
#define NINDEXED	(sizeof(indexed) / sizeof(indexed[0]))

/*
 * OpenInference's span kinds that are LLM calls, and the operation (as the
 * GenAI conventions name it) each stands for: it names none itself.
 */
static const struct oi_kind {
	const char	*kind;
	const char	*operation;
} oi_kinds[] = {
	{ "LLM", "chat" },
	{ "EMBEDDING", "embeddings" },
};
#define NOI_KINDS	(sizeof(oi_kinds) / sizeof(oi_kinds[0]))

/* Span events of the older per-message form: name -> role. */
static const struct msg_event {
	const char	*name;
	const char	*role;
	int		 output;
} msg_events[] = {
	{ "gen_ai.system.message", "system", 0 },
	{ "gen_ai.user.message", "user", 0 },
	{ "gen_ai.assistant.message", "assistant", 0 },
	{ "gen_ai.tool.message", "tool", 0 },
	{ "gen_ai.choice", "assistant", 1 },
};
#define NMSG_EVENTS	(sizeof(msg_events) / sizeof(msg_events[0]))

/* The {"role","content"} message of role and content (may be NULL). */
static json_t *
message(struct otlp_req *r, const char *role, const Otlp__AnyValue *content)
{
	json_t *m = json_object();

	if (m == NULL)
		return NULL;
	if (role != NULL)
		json_object_set_new(m, "role", json_string(role));
	if (content != NULL)
		json_object_set_new(m, "content", otlp_any_json(r, content));
	return m;
}

/*
 * Attribute key of an indexed message family: which family, its index
 * and the rest of the key (role, content, ...). Returns the family or -1.
 */
static int
indexed_key(const char *key, long *n, const char **rest)
{
	size_t	 i, plen;
	char	*end;

	for (i = 0; i < NINDEXED; i++) {
		plen = strlen(indexed[i].prefix);
		if (strncmp(key, indexed[i].prefix, plen) != 0 ||
		    key[plen] < '0' || key[plen] > '9')
			continue;
		*n = strtol(key + plen, &end, 10);
		if (*end != '.' || *n >= MAX_INDEXED)
			return -1;
		*rest = end + 1;
		return (int)i;
	}
	return -1;
}

/* The messages of one direction gathered from indexed attributes. */
static json_t *
gather_indexed(struct otlp_req *r, const Otlp__Span *sp, int output)
{
	json_t		*slots[MAX_INDEXED] = { 0 }, *arr = NULL;
	const char	*rest;
	long		 n, max = -1, i;
	size_t		 k;
	int		 fam;

	for (k = 0; k < sp->n_attributes; k++) {
		if (sp->attributes[k]->key == NULL || (fam = indexed_key(
		    sp->attributes[k]->key, &n, &rest)) < 0 ||
		    indexed[fam].output != output)
			continue;
		if (strcmp(rest, indexed[fam].role) != 0 &&
		    strcmp(rest, indexed[fam].content) != 0)
			continue;
		if (slots[n] == NULL && (slots[n] = json_object()) == NULL)
			break;
		json_object_set_new(slots[n], strcmp(rest, indexed[fam].role) ==
		    0 ? "role" : "content", otlp_any_json(r,
		    sp->attributes[k]->value));
		if (n > max)
			max = n;
	}
	if (max >= 0)
		arr = json_array();
	for (i = 0; i <= max; i++)
		if (slots[i] != NULL && arr != NULL)
			json_array_append_new(arr, slots[i]);
		else
			json_decref(slots[i]);
	return arr;
}

/* The messages of one direction in a details event, or NULL. */
static const Otlp__AnyValue *
details(const Otlp__SpanEvent *e, int output)
{
	if (e->name == NULL || strcmp(e->name,
	    "gen_ai.client.inference.operation.details") != 0)
		return NULL;
	return otlp_kv_get(e->attributes, e->n_attributes, output ?
	    "gen_ai.output.messages" : "gen_ai.input.messages");
}

/* The messages of one direction from span events (either form). */
static json_t *
gather_events(struct otlp_req *r, const Otlp__Span *sp, int output)
{
	const Otlp__SpanEvent	*e;
	const Otlp__AnyValue	*v;
	json_t			*arr = NULL;
	size_t			 i, j;

	for (i = 0; i < sp->n_events; i++) {
		e = sp->events[i];
		if ((v = details(e, output)) != NULL) {
			json_decref(arr);
			return otlp_any_json(r, v);
		}
		for (j = 0; e->name != NULL && j < NMSG_EVENTS; j++)
			if (msg_events[j].output == output &&
			    strcmp(e->name, msg_events[j].name) == 0)
				break;
		if (e->name == NULL || j == NMSG_EVENTS ||
		    (arr == NULL && (arr = json_array()) == NULL))
			continue;
		v = otlp_kv_get(e->attributes, e->n_attributes, "content");
		if (v == NULL)
			v = otlp_kv_get(e->attributes, e->n_attributes,
			    "message");
		json_array_append_new(arr, message(r, msg_events[j].role, v));
	}
	return arr;
}

/* Whether span attribute key is taken by the mapping (not attributes). */
static int
mapped(const char *key, int *ci)
{
	const char	*rest;
	long		 n;
	size_t		 i;
	int		 fam;

	for (i = 0; i < NCOLS; i++)
		if (strcmp(key, span_cols[i].attr) == 0) {
			*ci = (int)i;
			return 1;
		}
	*ci = -1;
	if ((fam = indexed_key(key, &n, &rest)) >= 0)
		return strcmp(rest, indexed[fam].role) == 0 ||
		    strcmp(rest, indexed[fam].content) == 0;
	return 0;
}

/* The OpenInference kind of sp when it is an LLM call, or NULL. */
static const struct oi_kind *
oi_kind(const Otlp__Span *sp)
{
	const char	*kind = otlp_kv_str(sp->attributes, sp->n_attributes,
			    "openinference.span.kind");
	size_t		 i;

	for (i = 0; kind != NULL && i < NOI_KINDS; i++)
		if (strcmp(kind, oi_kinds[i].kind) == 0)
			return &oi_kinds[i];
	return NULL;
}

/* Attributes that make a span an LLM call (section 4.5), or its kind. */
static const char *const llm_marks[] = { "gen_ai.operation.name",
	"gen_ai.request.model", "gen_ai.response.model", "llm.request.type",
	NULL };

static int
is_llm(const Otlp__Span *sp)
{
	size_t i;

	for (i = 0; llm_marks[i] != NULL; i++)
		if (otlp_kv_get(sp->attributes, sp->n_attributes,
		    llm_marks[i]) != NULL)
			return 1;
	return oi_kind(sp) != NULL;
}

/* Input or output: a gathered form unless a strong attribute gave it. */
static void
messages(struct otlp_req *r, struct event *e, const Otlp__Span *sp,
    const int *best, int output)
{
	int	 fi = otlp_col(EV_TRACE, output ? "output" : "input");
	json_t	*m;

	if (best[fi] < (int)NCOLS && !span_cols[best[fi]].weak)
		return;
	if ((m = gather_events(r, sp, output)) == NULL)
		m = gather_indexed(r, sp, output);
	if (m == NULL)
		return;
	memset(&e->v[fi], 0, sizeof(e->v[fi]));
	e->v[fi].tag = V_JSON;
	e->v[fi].s = otlp_dump(r, m);
	e->v[fi].len = e->v[fi].s != NULL ? strlen(e->v[fi].s) : 0;
}

/* otel: where the row came from in the app's trace. */
static json_t *
otel_json(struct otlp_req *r, const struct res_ctx *rc, const Otlp__Span *sp)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "trace_id",
	    json_string(otlp_hex(r, &sp->trace_id)));
	json_object_set_new(o, "span_id", json_string(otlp_hex(r,
	    &sp->span_id)));
	if (sp->parent_span_id.len > 0)
		json_object_set_new(o, "parent_span_id",
		    json_string(otlp_hex(r, &sp->parent_span_id)));
	json_object_set_new(o, "name", json_string(sp->name));
	json_object_set_new(o, "kind", json_integer(sp->kind));
	if (rc->scope != NULL && rc->scope->name != NULL)
		json_object_set_new(o, "scope", json_pack("{s:s,s:s?}", "name",
		    rc->scope->name, "version", rc->scope->version));
	return o;
}

/* The event_id of a span: <trace id hex>-<span id hex>, or NULL. */
static const char *
span_event_id(struct otlp_req *r, const Otlp__Span *sp)
{
	char *s;

	if (sp->trace_id.len == 0 || sp->span_id.len == 0 ||
	    sp->trace_id.len + sp->span_id.len > 60)
		return NULL;
	if ((s = malloc(sp->trace_id.len * 2 + sp->span_id.len * 2 + 2)) ==
	    NULL)
		return NULL;
	sodium_bin2hex(s, sp->trace_id.len * 2 + 1, sp->trace_id.data,
	    sp->trace_id.len);
	s[sp->trace_id.len * 2] = '-';
	sodium_bin2hex(s + sp->trace_id.len * 2 + 1, sp->span_id.len * 2 + 1,
	    sp->span_id.data, sp->span_id.len);
	return otlp_keep(r, s);
}

/* Times and status of a span into an llm_traces event. */
static void
span_times(struct event *e, const Otlp__Span *sp)
{
	if (sp->start_time_unix_nano > 0)
		otlp_set_int(otlp_val(e, "started_at"),
		    otlp_ns_ms(sp->start_time_unix_nano));
	if (sp->start_time_unix_nano > 0 &&
	    sp->end_time_unix_nano >= sp->start_time_unix_nano)
		otlp_set_real(otlp_val(e, "latency_ms"),
		    (double)(sp->end_time_unix_nano -
		    sp->start_time_unix_nano) / 1e6);
	if (sp->status != NULL && sp->status->code == 2) {
		otlp_set_text(otlp_val(e, "status"), "error");
		if (sp->status->message != NULL && *sp->status->message)
			otlp_set_text(otlp_val(e, "error_message"),
			    sp->status->message);
	}
}

/* An LLM span as an llm_traces event. Returns its index, or -1. */
static long
map_llm(struct otlp_req *r, const struct res_ctx *rc, const Otlp__Span *sp)
{
	struct event	*e;
	json_t		*attrs;
	int		 best[EVENT_MAX_FIELDS], ci, fi;
	size_t		 i;

	if ((e = otlp_new_event(r, EV_TRACE, -1)) == NULL ||
	    (attrs = json_object()) == NULL)
		return -1;
	for (i = 0; i < EVENT_MAX_FIELDS; i++)
		best[i] = INT_MAX;
	for (i = 0; i < sp->n_attributes; i++) {
		const Otlp__KeyValue *kv = sp->attributes[i];

		if (kv->key == NULL)
			continue;
		if (!mapped(kv->key, &ci))
			json_object_set_new(attrs, kv->key,
			    otlp_any_json(r, kv->value));
		if (ci < 0)
			continue;
		fi = otlp_col(EV_TRACE, span_cols[ci].col);
		if (best[fi] <= ci)
			continue;
		best[fi] = ci;
		otlp_set_any(r, &e->v[fi], kv->key, kv->value);
	}
	fi = otlp_col(EV_TRACE, "operation");
	if (e->v[fi].tag == V_NULL && oi_kind(sp) != NULL)
		otlp_set_text(&e->v[fi], oi_kind(sp)->operation);
	messages(r, e, sp, best, 0);
	messages(r, e, sp, best, 1);
	otlp_set_text(otlp_val(e, "service"), rc->service);
	span_times(e, sp);
	e->event_id = span_event_id(r, sp);
	json_object_set(attrs, "resource", rc->attrs);
	json_object_set_new(attrs, "otel", otel_json(r, rc, sp));
	e->attributes = otlp_dump(r, attrs);
	return (long)(e - r->ev);
}

/* A span event named exception as an error_events event. */
static int
map_exception(struct otlp_req *r, const struct res_ctx *rc,
    const Otlp__Span *sp, size_t n, long llm, const char *span_eid)
{
	const Otlp__SpanEvent	*se = sp->events[n];
	Otlp__KeyValue		**kv;
	struct event		*e;
	const char		*msg;
	char			*eid;
	json_t			*attrs, *otel;
	size_t			 i, nkv;

	if ((e = otlp_new_event(r, EV_ERROR, llm)) == NULL)
		return -1;
	kv = se->attributes;
	nkv = se->n_attributes;
	if ((msg = otlp_kv_str(kv, nkv, "exception.message")) == NULL)
		msg = otlp_kv_str(kv, nkv, "exception.type");
	otlp_set_text(otlp_val(e, "message"), msg);
	otlp_set_text(otlp_val(e, "type"), otlp_kv_str(kv, nkv,
	    "exception.type"));
	otlp_set_text(otlp_val(e, "stack"), otlp_kv_str(kv, nkv,
	    "exception.stacktrace"));
	otlp_set_text(otlp_val(e, "service"), rc->service);
	if (se->time_unix_nano > 0)
		otlp_set_int(otlp_val(e, "occurred_at"),
		    otlp_ns_ms(se->time_unix_nano));
	if (span_eid != NULL && asprintf(&eid, "%s-e%zu", span_eid, n) != -1)
		e->event_id = otlp_keep(r, eid);
	if ((attrs = json_object()) == NULL)
		return -1;
	for (i = 0; i < se->n_attributes; i++)
		if (se->attributes[i]->key != NULL && strncmp(
		    se->attributes[i]->key, "exception.", 10) != 0)
			json_object_set_new(attrs, se->attributes[i]->key,
			    otlp_any_json(r, se->attributes[i]->value));
	json_object_set(attrs, "resource", rc->attrs);
	if ((otel = otel_json(r, rc, sp)) != NULL)
		json_object_set_new(attrs, "otel", otel);
	e->attributes = otlp_dump(r, attrs);
	return 0;
}

static int
map_span(struct otlp_req *r, const struct res_ctx *rc, const Otlp__Span *sp)
{
	const char	*eid = NULL;
	long		 llm = -1;
	size_t		 i;

	if (is_llm(sp)) {
		if ((llm = map_llm(r, rc, sp)) == -1)
			return -1;
		eid = r->ev[llm].event_id;
	} else {
		r->ignored++;
		eid = span_event_id(r, sp);
	}
	for (i = 0; i < sp->n_events; i++)
		if (sp->events[i]->name != NULL &&
		    strcmp(sp->events[i]->name, "exception") == 0 &&
		    map_exception(r, rc, sp, i, llm, eid) == -1)
			return -1;
	return 0;
}

int
otlp_map_traces(struct otlp_req *r)
{
	const Otlp__ExportTraceServiceRequest	*q = (void *)r->msg;
	const Otlp__ResourceSpans		*rs;
	struct res_ctx				 rc;
	size_t					 i, j, k;
	int					 ret = 0;

	for (i = 0; ret == 0 && i < q->n_resource_spans; i++) {
		rs = q->resource_spans[i];
		if (otlp_res_ctx(r, &rc, rs->resource) == -1)
			return -1;
		for (j = 0; ret == 0 && j < rs->n_scope_spans; j++) {
			rc.scope = rs->scope_spans[j]->scope;
			for (k = 0; ret == 0 &&
			    k < rs->scope_spans[j]->n_spans; k++)
				ret = map_span(r, &rc,
				    rs->scope_spans[j]->spans[k]);
		}
		json_decref(rc.attrs);
	}
	return ret;
}

