/*
 * otlp_body.c: the OTLP bodies of bench/run's OTLP case: an
 * ExportTraceServiceRequest (protobuf) of N GenAI chat spans, each the
 * OpenTelemetry form of bench/event.json (same model, texts, tokens).
 * The spans carry no trace or span ids, so that a body sent again is
 * stored again (with ids, oct would store each span once).
 *
 *	otlp_body N OUT_FILE
 */
#include <stdio.h>
#include <stdlib.h>

#include "otlp.pb-c.h"

#define NATTR	10

static const char *input = "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\","
    "\"content\":\"You are a helpful assistant for a travel company. The "
    "customer writes: I booked a flight from Lisbon to Oslo for the 14th of "
    "March and I need to change the return date to the 21st because my "
    "conference was extended by two days. Can you tell me what the change "
    "fee is, whether my seat selection carries over, and if I can add a "
    "checked bag at the same time? My booking reference is QX7T2L and I am "
    "travelling with my colleague on the same booking.\"}]}]";
static const char *output = "[{\"role\":\"assistant\",\"parts\":[{\"type\":"
    "\"text\",\"content\":\"Thanks for the details. For booking QX7T2L the "
    "change to a return on 21 March costs 45 EUR per passenger plus any fare "
    "difference, which is currently 0 EUR for that date. Your seat "
    "selections carry over when the aircraft type is the same, and it is on "
    "this route. A checked bag of 23 kg can be added to both passengers for "
    "30 EUR each during the same change. Shall I go ahead?\"}]}]";

static Otlp__KeyValue kv[NATTR], *kvp[NATTR];
static Otlp__AnyValue av[NATTR];

static void
put(int i, const char *key, const char *s, long n)
{
	otlp__key_value__init(&kv[i]);
	otlp__any_value__init(&av[i]);
	kv[i].key = (char *)key;
	kv[i].value = &av[i];
	if (s != NULL) {
		av[i].value_case = OTLP__ANY_VALUE__VALUE_STRING_VALUE;
		av[i].string_value = (char *)s;
	} else {
		av[i].value_case = OTLP__ANY_VALUE__VALUE_INT_VALUE;
		av[i].int_value = n;
	}
	kvp[i] = &kv[i];
}

int
main(int argc, char *argv[])
{
	Otlp__ExportTraceServiceRequest	 req;
	Otlp__ResourceSpans		 rs, *rsp = &rs;
	Otlp__ScopeSpans		 ss, *ssp = &ss;
	Otlp__Span			 span, **spans;
	uint8_t				*buf;
	size_t				 len;
	FILE				*f;
	int				 n, i;

	if (argc != 3 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: otlp_body N OUT_FILE\n");
		return 2;
	}
	otlp__export_trace_service_request__init(&req);
	otlp__resource_spans__init(&rs);
	otlp__scope_spans__init(&ss);
	otlp__span__init(&span);
	put(0, "gen_ai.operation.name", "chat", 0);
	put(1, "gen_ai.provider.name", "openai", 0);
	put(2, "gen_ai.request.model", "gpt-4o-mini", 0);
	put(3, "gen_ai.usage.input_tokens", NULL, 412);
	put(4, "gen_ai.usage.output_tokens", NULL, 138);
	put(5, "gen_ai.input.messages", input, 0);
	put(6, "gen_ai.output.messages", output, 0);
	put(7, "session.id", "sess-7f3a9c21", 0);
	put(8, "user.id", "u-10293", 0);
	put(9, "feature", "support-chat", 0);
	span.name = "chat gpt-4o-mini";
	span.has_kind = 1;
	span.kind = 3;
	span.has_start_time_unix_nano = span.has_end_time_unix_nano = 1;
	span.start_time_unix_nano = 1796500000000000000ULL;
	span.end_time_unix_nano = 1796500001834500000ULL;
	span.n_attributes = NATTR;
	span.attributes = kvp;
	if ((spans = calloc((size_t)n, sizeof(*spans))) == NULL)
		return 1;
	for (i = 0; i < n; i++)
		spans[i] = &span;
	ss.n_spans = (size_t)n;
	ss.spans = spans;
	rs.n_scope_spans = 1;
	rs.scope_spans = &ssp;
	req.n_resource_spans = 1;
	req.resource_spans = &rsp;
	len = otlp__export_trace_service_request__get_packed_size(&req);
	if ((buf = malloc(len)) == NULL)
		return 1;
	otlp__export_trace_service_request__pack(&req, buf);
	if ((f = fopen(argv[2], "wb")) == NULL ||
	    fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
