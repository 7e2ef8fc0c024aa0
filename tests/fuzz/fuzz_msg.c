/*
 * fuzz_msg.c: libFuzzer target for the message decoder (common/msg.c's
 * readers, and event_decode() of common/event.c for MSG_EVENT_ADD).
 *
 * The input is a byte stream of frames, as a worker reads from a sibling.
 * Each frame msg_parse() takes is read the way its type is read in oct
 * (the layouts of msg.h). Beyond no crash, leak or undefined behaviour:
 * msg_pull() on a libevent buffer cuts the stream into the same frames
 * as msg_parse(); a frame read whole with no error is built again, field
 * by field with the msg_add_*() writers, to the same bytes; every string
 * event_decode() returns lies inside its frame and ends there in a NUL.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "event.h"
#include "fuzz.h"
#include "msg.h"

/*
 * The payload of each type as msg.h gives it: 1 u8, 4 u32, 8 u64,
 * i i64, s str; "n(...)" a u32 count and that many of what is inside.
 * Types not listed carry nothing.
 */
static const char *
layout(unsigned type)
{
	switch (type) {
	case MSG_CTL_CONFIG:		return "s";
	case MSG_CTL_PONG:		return "8";
	case MSG_CTL_PEER:		return "4";
	case MSG_CTL_STATS:		return "n(s8)";
	case MSG_CTL_PUSH:		return "1i1";
	case MSG_CTL_PUSH_REPORT:	return "1s";
	case MSG_EVENT_HELLO:		return "s";
	case MSG_EVENT_STORAGE:		return "1";
	case MSG_MARK_SYNCED:		return "ssin(1i)";
	case MSG_MARK_FAILED:		return "ssis1iin(1i)";
	case MSG_MARK_DEAD:		return "sn(1is)";
	case MSG_MARK_STATE:		return "is";
	default:			return "";
	}
}

/*
 * Read the fields of l from m and write each to b, up to the end of l or
 * the ')' that closes a group (groups do not nest). Returns where it
 * stopped in l.
 */
static const char *
copy_fields(const char *l, struct msg *m, struct msgb *b)
{
	const char	*s;
	size_t		 len = 0;
	uint32_t	 n, i;

	for (; *l != '\0' && *l != ')' && !m->err; l++) {
		switch (*l) {
		case '1': msg_add_u8(b, msg_get_u8(m)); break;
		case '4': msg_add_u32(b, msg_get_u32(m)); break;
		case '8': msg_add_u64(b, msg_get_u64(m)); break;
		case 'i': msg_add_i64(b, msg_get_i64(m)); break;
		case 's':
			/* a string may hold a NUL: the length is what counts */
			s = msg_get_str(m, &len);
			msg_add_strn(b, s, s != NULL ? len : 0);
			break;
		case 'n':
			n = msg_get_u32(m);
			msg_add_u32(b, n);
			for (i = 0; i < n && !m->err; i++)
				copy_fields(l + 2, m, b);
			l = strchr(l, ')');
			break;
		}
	}
	return l;
}

/* A string of the event lies inside the frame and ends there in a NUL. */
static void
check_str(const struct msg *m, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	if (s == NULL)
		return;
	if (p < m->p || p >= m->p + m->len ||
	    memchr(p, '\0', (size_t)(m->p + m->len - p)) == NULL) {
		fprintf(stderr, "fuzz_msg: a string outside its frame\n");
		abort();
	}
}

static void
read_event(struct msg *m)
{
	struct event	ev;
	size_t		i;

	memset(&ev, 0, sizeof(ev));
	if (event_decode(m, &ev) == -1)
		return;
	check_str(m, ev.trace_id);
	check_str(m, ev.event_id);
	check_str(m, ev.attributes);
	for (i = 0; i < event_defs[ev.kind].nfields; i++)
		if (ev.v[i].tag == V_TEXT)
			check_str(m, ev.v[i].s);
	(void)msg_type_str(m->type);
}

static void
read_frame(struct msg *m)
{
	struct msgb	b;

	if (m->type == MSG_EVENT_ADD) {
		read_event(m);
		return;
	}
	memset(&b, 0, sizeof(b));
	msg_init(&b, m->type, m->seq);
	copy_fields(layout(m->type), m, &b);
	if (msg_done(m) == 0) {
		if (msg_close(&b) == -1 || b.len != MSG_HDR_LEN + m->len ||
		    memcmp(b.buf + MSG_HDR_LEN, m->p, m->len) != 0) {
			fprintf(stderr, "fuzz_msg: %s read whole but built "
			    "again differs\n", msg_type_str(m->type));
			abort();
		}
	}
	msg_free(&b);
	(void)msg_type_str(m->type);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer	*in;
	struct msg	 m, pm;
	size_t		 off = 0, framelen, pulled;
	int		 r, pr;

	if ((in = evbuffer_new()) == NULL)
		return 0;
	evbuffer_add(in, data, size);
	for (;;) {
		r = msg_parse(data + off, size - off, &m, &framelen);
		pr = msg_pull(in, &pm, &pulled);
		if (r != pr || (r == 1 && (pulled != framelen ||
		    pm.type != m.type || pm.seq != m.seq || pm.len != m.len))) {
			fprintf(stderr, "fuzz_msg: msg_pull %d, msg_parse %d\n",
			    pr, r);
			abort();
		}
		if (r != 1)
			break;
		read_frame(&m);
		off += framelen;
		evbuffer_drain(in, pulled);
	}
	evbuffer_free(in);
	return 0;
}
