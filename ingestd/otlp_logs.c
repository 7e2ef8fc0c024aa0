/*
 * otlp_logs.c: OTLP log records of severity ERROR and above, or with
 * exception.* attributes, to error_events rows (SPEC section 4.5).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "otlp.h"

/* A log record with an exception or severity ERROR and above. */
static int
map_log(struct otlp_req *r, const struct res_ctx *rc, const Otlp__LogRecord *l)
{
	Otlp__KeyValue	**kv = l->attributes;
	struct event	 *e;
	const char	 *msg = NULL;
	json_t		 *attrs, *otel;
	size_t		  i, nkv = l->n_attributes;
	int		  exc = 0;

	for (i = 0; i < l->n_attributes; i++)
		if (l->attributes[i]->key != NULL &&
		    strncmp(l->attributes[i]->key, "exception.", 10) == 0)
			exc = 1;
	if (l->severity_number < 17 && !exc) {
		r->ignored++;
		return 0;
	}
	if ((e = otlp_new_event(r, EV_ERROR, -1)) == NULL ||
	    (attrs = json_object()) == NULL)
		return -1;
	if (l->body != NULL)
		otlp_set_any(r, otlp_val(e, "message"), "body", l->body);
	if (otlp_val(e, "message")->tag == V_NULL)
		msg = otlp_kv_str(kv, nkv, "exception.message");
	otlp_set_text(otlp_val(e, "message"), msg);
	otlp_set_text(otlp_val(e, "level"), l->severity_number >= 21 ?
	    "fatal" : "error");
	otlp_set_text(otlp_val(e, "type"), otlp_kv_str(kv, nkv,
	    "exception.type"));
	otlp_set_text(otlp_val(e, "stack"), otlp_kv_str(kv, nkv,
	    "exception.stacktrace"));
	otlp_set_text(otlp_val(e, "service"), rc->service);
	if (l->time_unix_nano > 0 || l->observed_time_unix_nano > 0)
		otlp_set_int(otlp_val(e, "occurred_at"), otlp_ns_ms(
		    l->time_unix_nano ? l->time_unix_nano :
		    l->observed_time_unix_nano));
	for (i = 0; i < l->n_attributes; i++)
		if (l->attributes[i]->key != NULL && strncmp(
		    l->attributes[i]->key, "exception.", 10) != 0)
			json_object_set_new(attrs, l->attributes[i]->key,
			    otlp_any_json(r, l->attributes[i]->value));
	json_object_set(attrs, "resource", rc->attrs);
	otel = json_pack("{s:s*,s:s*,s:i,s:s*}", "trace_id",
	    otlp_hex(r, &l->trace_id), "span_id", otlp_hex(r, &l->span_id),
	    "severity_number", (int)l->severity_number, "severity_text",
	    l->severity_text != NULL && *l->severity_text ?
	    l->severity_text : NULL);
	json_object_set_new(attrs, "otel", otel);
	e->attributes = otlp_dump(r, attrs);
	return 0;
}

int
otlp_map_logs(struct otlp_req *r)
{
	const Otlp__ExportLogsServiceRequest	*q = (void *)r->msg;
	const Otlp__ResourceLogs		*rl;
	struct res_ctx				 rc;
	size_t					 i, j, k;
	int					 ret = 0;

	for (i = 0; ret == 0 && i < q->n_resource_logs; i++) {
		rl = q->resource_logs[i];
		if (otlp_res_ctx(r, &rc, rl->resource) == -1)
			return -1;
		for (j = 0; ret == 0 && j < rl->n_scope_logs; j++)
			for (k = 0; ret == 0 &&
			    k < rl->scope_logs[j]->n_log_records; k++)
				ret = map_log(r, &rc,
				    rl->scope_logs[j]->log_records[k]);
		json_decref(rc.attrs);
	}
	return ret;
}

