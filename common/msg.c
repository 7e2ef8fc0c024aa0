/*
 * msg.c: frames, their builders and readers, and the two transports (see
 * msg.h). Built for tens of thousands of small frames a second on the
 * ingest path: a builder reuses its buffer, and a reader points into the
 * input buffer instead of copying.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "msg.h"

#define STR_ABSENT	0xffffffffu

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | *p++;
	return v;
}

/*
 * n more bytes at the end of b, grown by doubling. Returns where to
 * write them, or NULL with b->err set (out of memory, or the frame would
 * pass MSG_MAX_PAYLOAD): the adds that follow do nothing and
 * msg_close() refuses the frame.
 */
static uint8_t *
reserve(struct msgb *b, size_t n)
{
	uint8_t	*nb;
	size_t	 cap;

	if (b->err)
		return NULL;
	if (b->len + n > MSG_HDR_LEN + MSG_MAX_PAYLOAD) {
		b->err = 1;
		return NULL;
	}
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		if ((nb = realloc(b->buf, cap)) == NULL) {
			b->err = 1;
			return NULL;
		}
		b->buf = nb;
		b->cap = cap;
	}
	b->len += n;
	return b->buf + b->len - n;
}

void
msg_init_size(struct msgb *b, uint16_t type, uint64_t seq, size_t size)
{
	uint8_t	*nb;

	if (size > b->cap && size <= MSG_HDR_LEN + MSG_MAX_PAYLOAD &&
	    (nb = realloc(b->buf, size)) != NULL) {
		b->buf = nb;
		b->cap = size;
	}
	msg_init(b, type, seq);
}

void
msg_init(struct msgb *b, uint16_t type, uint64_t seq)
{
	uint8_t *h;

	b->len = 0;
	b->err = 0;
	if ((h = reserve(b, MSG_HDR_LEN)) == NULL)
		return;
	h[0] = MSG_VERSION;
	h[1] = 0;
	put_be(h + 2, type, 2);
	put_be(h + 4, 0, 4);
	put_be(h + 8, seq, 8);
}

#define ADD_INT(fn, type, n)					\
void								\
fn(struct msgb *b, type v)					\
{								\
	uint8_t *p = reserve(b, n);				\
								\
	if (p != NULL)						\
		put_be(p, (uint64_t)v, n);			\
}
ADD_INT(msg_add_u8, uint8_t, 1)
ADD_INT(msg_add_u32, uint32_t, 4)
ADD_INT(msg_add_u64, uint64_t, 8)
ADD_INT(msg_add_i64, int64_t, 8)

void
msg_add_f64(struct msgb *b, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	msg_add_u64(b, bits);
}

void
msg_add_strn(struct msgb *b, const char *s, size_t len)
{
	uint8_t *p;

	if (s == NULL) {
		msg_add_u32(b, STR_ABSENT);
		return;
	}
	if (len >= STR_ABSENT) {
		b->err = 1;
		return;
	}
	msg_add_u32(b, (uint32_t)len);
	if ((p = reserve(b, len + 1)) == NULL)
		return;
	memcpy(p, s, len);
	p[len] = '\0';
}

void
msg_add_str(struct msgb *b, const char *s)
{
	msg_add_strn(b, s, s != NULL ? strlen(s) : 0);
}

int
msg_close(struct msgb *b)
{
	if (b->err || b->len < MSG_HDR_LEN)
		return -1;
	put_be(b->buf + 4, b->len - MSG_HDR_LEN, 4);
	return 0;
}

void
msg_free(struct msgb *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

int
msg_parse(const uint8_t *buf, size_t avail, struct msg *m, size_t *framelen)
{
	uint32_t len;

	if (avail < MSG_HDR_LEN)
		return 0;
	len = (uint32_t)get_be(buf + 4, 4);
	if (buf[0] != MSG_VERSION || len > MSG_MAX_PAYLOAD)
		return -1;
	if (avail < MSG_HDR_LEN + (size_t)len)
		return 0;
	m->type = (uint16_t)get_be(buf + 2, 2);
	m->seq = get_be(buf + 8, 8);
	m->p = buf + MSG_HDR_LEN;
	m->len = len;
	m->off = 0;
	m->err = 0;
	*framelen = MSG_HDR_LEN + (size_t)len;
	return 1;
}

static const uint8_t *
take(struct msg *m, size_t n)
{
	const uint8_t *p;

	if (m->err || m->len - m->off < n) {
		m->err = 1;
		return NULL;
	}
	p = m->p + m->off;
	m->off += n;
	return p;
}

#define GET_INT(fn, type, n)					\
type								\
fn(struct msg *m)						\
{								\
	const uint8_t *p = take(m, n);				\
								\
	return p != NULL ? (type)get_be(p, n) : 0;		\
}
GET_INT(msg_get_u8, uint8_t, 1)
GET_INT(msg_get_u32, uint32_t, 4)
GET_INT(msg_get_u64, uint64_t, 8)
GET_INT(msg_get_i64, int64_t, 8)

double
msg_get_f64(struct msg *m)
{
	uint64_t bits = msg_get_u64(m);
	double	 v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

const char *
msg_get_str(struct msg *m, size_t *lenp)
{
	const uint8_t	*p;
	uint32_t	 len = msg_get_u32(m);

	if (m->err || len == STR_ABSENT)
		return NULL;
	if ((p = take(m, (size_t)len + 1)) == NULL || p[len] != '\0') {
		m->err = 1;
		return NULL;
	}
	if (lenp != NULL)
		*lenp = len;
	return (const char *)p;
}

int
msg_done(const struct msg *m)
{
	return m->err || m->off != m->len ? -1 : 0;
}

/*
 * The name of type for logs ("CTL_PING"), or "UNKNOWN" for one this
 * build does not know; a static string, never NULL.
 */
const char *
msg_type_str(unsigned type)
{
	static const char *const ctl[] = {
		[MSG_CTL_CONFIG] = "CTL_CONFIG", [MSG_CTL_READY] = "CTL_READY",
		[MSG_CTL_PING] = "CTL_PING", [MSG_CTL_PONG] = "CTL_PONG",
		[MSG_CTL_SHUTDOWN] = "CTL_SHUTDOWN",
		[MSG_CTL_REOPEN] = "CTL_REOPEN", [MSG_CTL_PEER] = "CTL_PEER",
		[MSG_CTL_STATS] = "CTL_STATS", [MSG_CTL_PUSH] = "CTL_PUSH",
		[MSG_CTL_PUSH_REPORT] = "CTL_PUSH_REPORT",
	};
	static const char *const event[] = {
		[MSG_EVENT_HELLO - MSG_EVENT_BASE] = "EVENT_HELLO",
		[MSG_EVENT_ADD - MSG_EVENT_BASE] = "EVENT_ADD",
		[MSG_EVENT_COMMITTED - MSG_EVENT_BASE] = "EVENT_COMMITTED",
		[MSG_EVENT_STORAGE - MSG_EVENT_BASE] = "EVENT_STORAGE",
	};

	if (type < MSG_CTL_MAX_TYPE && ctl[type] != NULL)
		return ctl[type];
	static const char *const mark[] = {
		[MSG_MARK_SYNCED - MSG_MARK_BASE] = "MARK_SYNCED",
		[MSG_MARK_FAILED - MSG_MARK_BASE] = "MARK_FAILED",
		[MSG_MARK_DEAD - MSG_MARK_BASE] = "MARK_DEAD",
		[MSG_MARK_STATE - MSG_MARK_BASE] = "MARK_STATE",
		[MSG_MARK_FLUSH - MSG_MARK_BASE] = "MARK_FLUSH",
	};

	if (type > MSG_EVENT_BASE && type < MSG_EVENT_MAX_TYPE)
		return event[type - MSG_EVENT_BASE];
	if (type > MSG_MARK_BASE && type < MSG_MARK_MAX_TYPE)
		return mark[type - MSG_MARK_BASE];
	return "UNKNOWN";
}

int
msg_pull(struct evbuffer *in, struct msg *m, size_t *framelen)
{
	uint8_t		 hdr[MSG_HDR_LEN];
	const uint8_t	*p;
	size_t		 avail = evbuffer_get_length(in), need;
	int		 r;

	if (avail < MSG_HDR_LEN)
		return 0;
	evbuffer_copyout(in, hdr, sizeof(hdr));
	if ((r = msg_parse(hdr, sizeof(hdr), m, &need)) == -1)
		return -1;
	need = MSG_HDR_LEN + (size_t)get_be(hdr + 4, 4);
	if (avail < need)
		return 0;
	if ((p = evbuffer_pullup(in, (ssize_t)need)) == NULL)
		return -1;
	return msg_parse(p, need, m, framelen);
}

/* Room for the one descriptor a message may carry. */
union fdbuf {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(sizeof(int))];
};

/* mh, cleared, over the one buffer buf of len bytes (through iov). */
static void
one_iov(struct msghdr *mh, struct iovec *iov, void *buf, size_t len)
{
	memset(mh, 0, sizeof(*mh));
	iov->iov_base = buf;
	iov->iov_len = len;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
}

/*
 * One record on a SOCK_SEQPACKET fd, without blocking (EAGAIN when the
 * peer's queue is full) and without SIGPIPE. passfd stays the caller's.
 * Returns 0, or -1 with errno (EMSGSIZE: b failed or is over
 * MSG_CTL_MAX).
 */
int
msg_send(int fd, const struct msgb *b, int passfd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union fdbuf	 cmsg;
	ssize_t		 n;

	if (b->err || b->len > MSG_CTL_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	one_iov(&mh, &iov, b->buf, b->len);
	if (passfd != -1) {
		memset(&cmsg, 0, sizeof(cmsg));
		mh.msg_control = cmsg.buf;
		mh.msg_controllen = sizeof(cmsg.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)b->len ? 0 : -1;
}

/*
 * One record into buf (cap bytes), without blocking. A record or a
 * control message that did not fit fails with EMSGSIZE and its
 * descriptor, if any, closed. Returns as msg.h says.
 */
ssize_t
msg_recv(int fd, uint8_t *buf, size_t cap, int *passfd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union fdbuf	 cmsg;
	ssize_t		 n;

	*passfd = -1;
	one_iov(&mh, &iov, buf, cap);
	mh.msg_control = cmsg.buf;
	mh.msg_controllen = sizeof(cmsg.buf);
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(passfd, CMSG_DATA(cm), sizeof(int));
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (*passfd != -1)
			close(*passfd);
		*passfd = -1;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}
