/*
 * check.c: checks the ingest targets (fuzz_event, fuzz_otlp) share; see
 * fuzz.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "fuzz.h"
#include "ingestd.h"
#include "msg.h"

void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, detail);
	abort();
}

static void
check_frame(const struct msgb *b, int kind, const char *id)
{
	struct msg	m;
	struct event	e;
	size_t		framelen;

	if (msg_parse(b->buf, b->len, &m, &framelen) != 1 ||
	    framelen != b->len)
		fuzz_fail("frame", "msg_parse does not take it whole");
	memset(&e, 0, sizeof(e));
	if (event_decode(&m, &e) == -1)
		fuzz_fail("frame", "event_decode refuses it");
	if ((int)e.kind != kind || e.trace_id == NULL ||
	    strcmp(e.trace_id, id) != 0)
		fuzz_fail("frame", "kind or trace_id differ");
}

int
fuzz_encode(const struct fmt_ops *ops, void *h, size_t i,
    char (*ids)[UUID_STR_LEN], const unsigned char *idkey, size_t max_text,
    struct event_error *err)
{
	struct event	e;
	struct msgb	b;
	int		r = -1;

	memset(&b, 0, sizeof(b));
	err->field[0] = '\0';
	if (ops->item(h, i, ids, &e, err) == 0) {
		e.received_at = 1700000000000LL;
		if ((r = event_encode(&e, idkey, ids[i], max_text, i + 1, &b,
		    err)) == 0)
			check_frame(&b, (int)e.kind, ids[i]);
	}
	msg_free(&b);
	return r;
}
