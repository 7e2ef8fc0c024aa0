/*
 * conn_int.h: a connection as ingestd follows it, shared by conn.c (the
 * count, the deadline, evhttp's own error pages) and conn_frame.c (the
 * framing checks before evhttp parses a request), and by no other file.
 */
#ifndef OCT_INGESTD_CONN_INT_H
#define OCT_INGESTD_CONN_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

/* Where a connection's input is, as conn.c follows it. */
enum phase {
	PH_HEAD,	/* a request's head: collected into hbuf */
	PH_CHUNKS,	/* a chunked body: its size lines checked */
	PH_PASS,	/* the rest: evhttp's */
	PH_REFUSED	/* answered here: input is dropped */
};

struct conn {
	struct bufferevent	*bev;
	struct evbuffer_cb_entry *watch;	/* on the output buffer */
	struct evbuffer_cb_entry *iwatch;	/* on the input buffer */
	int64_t			 since;		/* accepted, or last request done */
	int			 held;		/* a request waits on ingestd */
	int			 routed;	/* route() has the request */
	int			 rewriting;
	int			 interim;	/* output is a 1xx answer */
	enum phase		 phase;
	char			*hbuf;		/* PH_HEAD: the head so far */
	size_t			 hlen, hcap;
	int64_t			 tot;		/* input bytes ever, as evhttp
						   sees them */
	int			 editing;	/* conn.c changes the input */
	int64_t			 cline;		/* PH_CHUNKS: where the size
						   line starts (-1: data) */
	int64_t			 cend;		/* the end of its hex digits
						   if more follows, or -1 */
	int64_t			 cext;		/* its ';', or -1 */
	uint64_t		 cval;		/* its size */
	uint64_t		 cdata;		/* data bytes still to come */
	int			 chex, cdigits;	/* hex digits, significant */
	int			 cbad;		/* the line is not hex */
	int			 ccr;		/* the last byte was a CR */
	TAILQ_ENTRY(conn)	 entry;
};

/* conn_frame.c */
/*
 * Follow the bytes of in from offset off, as phase says: collect and
 * check a request's head, follow a chunked body; a request refused here
 * is answered on the socket and c->phase is PH_REFUSED.
 */
void	 conn_follow(struct conn *, struct evbuffer *in, size_t off);

#endif
