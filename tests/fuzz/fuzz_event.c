/*
 * fuzz_event.c: libFuzzer target for the JSON event validator, the path a
 * body posted to the JSON API takes in ingestd (http.c's post_events()):
 * fmt_json's open() (common/json.c's parser, then the body's shape),
 * item() for each event, event_encode() (validation, cutting, the
 * trace_id), then the answer, accepted() or error().
 *
 * The input is one byte, then the body. The byte's low two bits choose
 * the path's kind (trace, error, metric); 0x04 an idkey, as with a
 * data_dir (ids derived from event_id); 0x08 a max_text_bytes of 16, so
 * that cutting is reached. Beyond no crash, leak or undefined behaviour:
 * every event event_encode() takes decodes back from its frame
 * (event_decode) with its kind and trace_id; an answer is one line of
 * JSON that jansson reads, the error's index that of the event at fault.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event.h"
#include "fuzz.h"
#include "ingestd.h"

static const enum event_kind kinds[] = { EV_TRACE, EV_ERROR, EV_METRIC,
	EV_TRACE };
static const unsigned char idkey[EVENT_IDKEY_BYTES] = { 0x5a };

/* The answer body: one JSON object, then a newline. */
static void
check_answer(const char *s, size_t len, const char *what)
{
	json_error_t	 jerr;
	json_t		*o;

	if (s == NULL)
		fuzz_fail(what, "no answer");
	if (len == 0 || s[len - 1] != '\n')
		fuzz_fail(what, "answer does not end in a newline");
	if ((o = json_loadb(s, len, 0, &jerr)) == NULL ||
	    !json_is_object(o))
		fuzz_fail(what, jerr.text);
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_fmt	 f = { LS_API, "/v1/traces", "application/json",
				    EV_TRACE, &fmt_json };
	struct event_error	 err;
	struct fmt_info		 info = { 0, 0, NULL };
	char			 (*ids)[UUID_STR_LEN], *body, *ans;
	size_t			 i, len, alen;
	void			*h;
	unsigned		 flags;

	if (size < 1)
		return 0;
	flags = data[0];
	f.kind = kinds[flags & 3];
	len = size - 1;
	/* exactly the body's bytes: ingestd's buffer has no NUL after it */
	if ((body = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(body, data + 1, len);
	err.field[0] = '\0';
	if ((h = fmt_json.open(&f, NULL, body, len, &info, &err)) == NULL) {
		ans = fmt_json.error(NULL, 400, err.msg, -1, NULL, &alen);
		check_answer(ans, alen, "open's error");
		free(ans);
		free(body);
		return 0;
	}
	if ((ids = calloc(info.n + 1, sizeof(*ids))) == NULL)
		goto out;
	for (i = 0; i < info.n; i++) {
		if (fuzz_encode(&fmt_json, h, i, ids, flags & 4 ? idkey : NULL,
		    flags & 8 ? 16 : 65536, &err) == 0)
			continue;
		/* all or nothing: the first refusal is the answer */
		ans = fmt_json.error(h, 400, err.msg, (long)i,
		    err.field[0] != '\0' ? err.field : NULL, &alen);
		check_answer(ans, alen, "item's error");
		free(ans);
		goto out;
	}
	ans = fmt_json.accepted(h, ids, info.n, 0, NULL, &alen);
	check_answer(ans, alen, "accepted");
	free(ans);
out:
	free(ids);
	fmt_json.close(h);
	free(body);
	return 0;
}
