/*
 * fuzz_otlp.c: libFuzzer target for the OTLP decoder (ingestd/fmt_otlp.c
 * and otlp_*.c), the path a body posted to otlp_listen takes in ingestd:
 * the format's open() (protobuf-c or otlp_json.c, then the mapping to
 * events), item() for each event, event_encode(), then the answer,
 * accepted() (partial success) or error().
 *
 * The input is one byte, then the body. The byte's low two bits choose
 * the signal (traces, metrics, logs); 0x04 OTLP JSON instead of protobuf;
 * 0x08 otlp_metrics = all. Beyond no crash, leak or undefined behaviour:
 * every event event_encode() takes decodes back from its frame with its
 * kind and trace_id; a JSON answer is a JSON object jansson reads, a
 * protobuf one unpacks as the signal's Export*ServiceResponse (a success)
 * or is not empty (an error, a google.rpc.Status).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "event.h"
#include "fuzz.h"
#include "ingestd.h"
#include "otlp.h"

static struct conf	all;		/* otlp_metrics = all */
static int		loaded;

/* The row of ingest_fmts[] for otlp_listen, kind k and the encoding. */
static const struct ingest_fmt *
row(enum event_kind k, int json)
{
	size_t i;

	for (i = 0; i < ingest_nfmts; i++)
		if (ingest_fmts[i].listener == LS_OTLP &&
		    ingest_fmts[i].kind == k &&
		    strcmp(ingest_fmts[i].media, json ? "application/json" :
		    "application/x-protobuf") == 0)
			return &ingest_fmts[i];
	fuzz_fail("ingest_fmts", "no OTLP row");
	return NULL;
}

static void
check_answer(const struct ingest_fmt *f, const char *s, size_t len,
    int success)
{
	static const ProtobufCMessageDescriptor *const resp[] = {
		&otlp__export_trace_service_response__descriptor,
		&otlp__export_metrics_service_response__descriptor,
		&otlp__export_logs_service_response__descriptor,
	};
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage	*m;
	json_error_t		 jerr;
	json_t			*o;

	if (s == NULL)
		fuzz_fail("answer", "none");
	if (f->ops == &fmt_otlp_json) {
		if ((o = json_loadb(s, len, 0, &jerr)) == NULL ||
		    !json_is_object(o))
			fuzz_fail("JSON answer", jerr.text);
		json_decref(o);
		return;
	}
	if (!success) {
		if (len == 0)
			fuzz_fail("protobuf answer", "an empty Status");
		return;
	}
	d = resp[f->kind == EV_TRACE ? 0 : f->kind == EV_METRIC ? 1 : 2];
	if ((m = protobuf_c_message_unpack(d, NULL, len,
	    (const uint8_t *)s)) == NULL)
		fuzz_fail("protobuf answer", "does not unpack");
	protobuf_c_message_free_unpacked(m, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum event_kind kinds[] = { EV_TRACE, EV_METRIC, EV_ERROR,
		EV_TRACE };
	const struct ingest_fmt	*f;
	struct event_error	 err;
	struct fmt_info		 info = { 0, 0, NULL };
	char			 (*ids)[UUID_STR_LEN], *body, *ans, cerr[256];
	char			 why[160];
	size_t			 i, len, alen, refused = 0;
	void			*h;

	if (!loaded) {
		if (conf_load_text(&all, "otlp_metrics = all\n", cerr,
		    sizeof(cerr)) == -1)
			fuzz_fail("conf", cerr);
		loaded = 1;
	}
	if (size < 1)
		return 0;
	f = row(kinds[data[0] & 3], data[0] & 4);
	len = size - 1;
	if ((body = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(body, data + 1, len);
	err.field[0] = '\0';
	h = f->ops->open(f, data[0] & 8 ? &all : NULL, body, len, &info, &err);
	if (h == NULL) {
		ans = f->ops->error(NULL, 400, err.msg, -1, NULL, &alen);
		check_answer(f, ans, alen, 0);
		free(ans);
		free(body);
		return 0;
	}
	if ((ids = calloc(info.n + 1, sizeof(*ids))) == NULL)
		goto out;
	for (i = 0; i < info.n; i++) {
		if (fuzz_encode(f->ops, h, i, ids, NULL, 65536, &err) == 0)
			continue;
		ids[i][0] = '\0';	/* refused: the others go on */
		if (refused++ == 0)
			snprintf(why, sizeof(why), "%s", err.msg);
	}
	ans = f->ops->accepted(h, ids, info.n, refused, refused ? why : NULL,
	    &alen);
	check_answer(f, ans, alen, 1);
	free(ans);
	ans = f->ops->error(h, 400, "bad", -1, NULL, &alen);
	check_answer(f, ans, alen, 0);
	free(ans);
out:
	free(ids);
	f->ops->close(h);
	free(body);
	return 0;
}
