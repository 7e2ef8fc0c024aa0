/*
 * fmt.c: the table of ingest formats, one row per path and media type
 * (see ingestd.h). route() in http.c looks a request up here; to take a
 * new wire format, write its decoder in a file of its own (fmt_json.c is
 * the model) and add its rows.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "ingestd.h"

const struct ingest_fmt ingest_fmts[] = {
	{ LS_API, "/v1/traces", "application/json", EV_TRACE, &fmt_json },
	{ LS_API, "/v1/errors", "application/json", EV_ERROR, &fmt_json },
	{ LS_API, "/v1/metrics", "application/json", EV_METRIC, &fmt_json },
	{ LS_OTLP, "/v1/traces", "application/x-protobuf", EV_TRACE,
	    &fmt_otlp_pb },
	{ LS_OTLP, "/v1/traces", "application/json", EV_TRACE, &fmt_otlp_json },
	{ LS_OTLP, "/v1/metrics", "application/x-protobuf", EV_METRIC,
	    &fmt_otlp_pb },
	{ LS_OTLP, "/v1/metrics", "application/json", EV_METRIC,
	    &fmt_otlp_json },
	{ LS_OTLP, "/v1/logs", "application/x-protobuf", EV_ERROR,
	    &fmt_otlp_pb },
	{ LS_OTLP, "/v1/logs", "application/json", EV_ERROR, &fmt_otlp_json },
};
const size_t ingest_nfmts = sizeof(ingest_fmts) / sizeof(ingest_fmts[0]);

int
fmt_media_is(const char *ct, const char *media)
{
	size_t n = strlen(media);

	if (ct == NULL || strncasecmp(ct, media, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}
