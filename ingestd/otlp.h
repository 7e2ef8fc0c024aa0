/*
 * otlp.h: inside the OTLP ingest format (fmt_otlp.c). A request, in
 * protobuf or OTLP JSON, becomes one protobuf-c message (otlp_json.c reads
 * the JSON form into the same structs), and otlp_map.c maps that message
 * to struct events as SPEC section 4.5 says. Nothing outside these files
 * knows OTLP.
 */
#ifndef OCT_OTLP_H
#define OCT_OTLP_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "event.h"
#include "otlp.pb-c.h"

enum otlp_signal { OTLP_TRACES, OTLP_METRICS, OTLP_LOGS };

/* Nesting of messages or JSON values a request may have (stack bound). */
#define OTLP_MAX_DEPTH	100

/* A request being decoded; the events point into msg and strs. */
struct otlp_req {
	enum otlp_signal	 signal;
	int			 metrics_all;	/* otlp_metrics = all */
	ProtobufCMessage	*msg;
	struct event		*ev;
	long			*ref;		/* per event: the event whose
						   trace_id is its trace_ref */
	size_t			 nev, cap;
	char			**strs;		/* owned texts */
	size_t			 nstrs, capstrs;
	size_t			 ignored;	/* not stored, not refused */
	size_t			 refused;	/* refused by the mapping */
	char			 why[160];	/* the first such refusal */
};

/* otlp_json.c */
/*
 * Read OTLP JSON text as a message of d (malloc'd as protobuf-c unpacks,
 * so protobuf_c_message_free_unpacked(m, NULL) frees it). NULL with err.
 */
ProtobufCMessage *otlp_json_read(const ProtobufCMessageDescriptor *d,
	    const char *text, size_t len, struct event_error *err);
/* Whether protobuf data of d nests messages at most OTLP_MAX_DEPTH deep
   and is framed well enough to walk (protobuf-c's parser recurses). */
int	 otlp_pb_depth_ok(const ProtobufCMessageDescriptor *d,
	    const uint8_t *data, size_t len);

/* otlp_value.c: the mappings' shared helpers. */
/* Map r->msg (of r->signal) to r->ev. Returns 0, or -1 out of memory. */
int	 otlp_map(struct otlp_req *r);
void	 otlp_req_free(struct otlp_req *r);

/* What a resource gives every row made under it. */
struct res_ctx {
	json_t		*attrs;		/* the resource's attributes */
	const char	*service;	/* service.name, or NULL */
	const Otlp__InstrumentationScope *scope;
};
/* rc for resource res (may be NULL); rc->attrs is the caller's to drop. */
int	 otlp_res_ctx(struct otlp_req *, struct res_ctx *rc,
	    const Otlp__Resource *);
/* The index of column name of kind k in event.c's table. */
int	 otlp_col(enum event_kind k, const char *name);
/* e's value of column name. */
struct event_value *otlp_val(struct event *e, const char *name);
/* Keep s (malloc'd) until the request is freed. NULL: out of memory. */
const char *otlp_keep(struct otlp_req *, char *s);
/* v as compact JSON text the request keeps; v is released. */
const char *otlp_dump(struct otlp_req *, json_t *v);
/* Bytes as hex the request keeps; NULL when empty. */
const char *otlp_hex(struct otlp_req *, const ProtobufCBinaryData *);
/* A new event of kind k; ref: the event whose trace_id is its trace_ref. */
struct event *otlp_new_event(struct otlp_req *, enum event_kind k, long ref);
/* Key-value pairs as a JSON object, values as otlp_any_json(). */
json_t	*otlp_kv_json(struct otlp_req *, Otlp__KeyValue **, size_t n);
/* An attribute value as JSON, keeping its type (bytes as base64). */
json_t	*otlp_any_json(struct otlp_req *, const Otlp__AnyValue *);
/* The value (or string value) of attribute key among kv, or NULL. */
const Otlp__AnyValue *otlp_kv_get(Otlp__KeyValue **kv, size_t n,
	    const char *key);
const char *otlp_kv_str(Otlp__KeyValue **kv, size_t n, const char *key);
void	 otlp_set_text(struct event_value *, const char *s);	/* NULL: none */
void	 otlp_set_int(struct event_value *, int64_t);
void	 otlp_set_real(struct event_value *, double);
/* An attribute value as the model's value, named key in errors. */
void	 otlp_set_any(struct otlp_req *, struct event_value *,
	    const char *key, const Otlp__AnyValue *);
/* Unix ms of a time in ns. */
int64_t	 otlp_ns_ms(uint64_t ns);

/* otlp_spans.c, otlp_logs.c, otlp_metrics.c: one signal each. */
int	 otlp_map_traces(struct otlp_req *);
int	 otlp_map_logs(struct otlp_req *);
int	 otlp_map_metrics(struct otlp_req *);

#endif
