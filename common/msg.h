/*
 * msg.h: the one message format oct processes speak to each other.
 *
 * A frame is a 16-byte header (version, flags, type, payload length,
 * sequence number; big-endian) and a payload built field by field with
 * msg_add_*() and read back with msg_get_*(). Readers fail on a short or
 * over-long payload: a malformed frame from a sibling is a bug, and the
 * receiver treats it as fatal. No raw structs are ever sent.
 *
 * Two transports carry frames:
 *  - the supervisor channel (fd 3 in a worker) is SOCK_SEQPACKET: one frame
 *    per record, at most MSG_CTL_MAX bytes, optionally with one descriptor
 *    attached (msg_send / msg_recv);
 *  - worker-to-worker channels are SOCK_STREAM bufferevents; msg_pull()
 *    takes whole frames out of the input buffer, never half of one.
 */
#ifndef OCT_MSG_H
#define OCT_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Bump MSG_VERSION whenever a frame changes shape: a field added, removed
 * or retyped, a type renumbered or its meaning changed. octd and its
 * workers are always one build, so the check catches a mixed install (a
 * worker left from an older package) rather than negotiating: a frame of
 * another version is refused as malformed. New types appended at the end
 * of their group still change what an older reader accepts: bump too.
 */
#define MSG_VERSION	2
#define MSG_HDR_LEN	16
#define MSG_MAX_PAYLOAD	(80u * 1024 * 1024)
#define MSG_CTL_MAX	(64u * 1024)

enum msg_type {
	/* supervisor <-> worker, fd 3 */
	MSG_CTL_CONFIG = 1,	/* s->w  str: conf_dump() text */
	MSG_CTL_READY,		/* w->s  configured and serving */
	MSG_CTL_PING,		/* s->w  heartbeat; seq echoed in the pong */
	MSG_CTL_PONG,		/* w->s  u64 gauge (ingestd: queue depth) */
	MSG_CTL_SHUTDOWN,	/* s->w  drain and exit */
	MSG_CTL_REOPEN,		/* s->w  reopen the log file */
	MSG_CTL_PEER,		/* s->w  u32 peer proc id; carries the fd */
	MSG_CTL_STATS,		/* s->w  u32 n, n x (str name, u64 value) */
	MSG_CTL_PUSH,		/* s->w  u8 force, i64 batch_size, u8 verbose:
				   octctl push, through octd, to pushd */
	MSG_CTL_PUSH_REPORT,	/* w->s  u8 done, str one JSON line for octctl */
	MSG_CTL_MAX_TYPE,

	/* ingestd <-> writerd; seq is the channel's event sequence number */
	MSG_EVENT_BASE = 100,
	MSG_EVENT_HELLO,	/* i->w  str stream id; then the window again */
	MSG_EVENT_ADD,		/* i->w  one event (event_encode) */
	MSG_EVENT_COMMITTED,	/* w->i  every event up to seq is in SQLite */
	MSG_EVENT_STORAGE,	/* w->i  u8 full: max_db_bytes reached or not */
	MSG_EVENT_MAX_TYPE,

	/*
	 * pushd <-> writerd: after EVENT_HELLO{stream}, marks with increasing
	 * seq, acknowledged by EVENT_COMMITTED like events, so a mark resent
	 * to a new writerd is applied once. A mark of rows names first the
	 * file they were read from (db, store_db_id()): it is applied to
	 * that file only, and acknowledged without effect by a writerd on
	 * another (a fresh oct.db started after a damaged one was moved
	 * aside numbers its rows from 1 again).
	 */
	MSG_MARK_BASE = 200,
	MSG_MARK_SYNCED,	/* str db, str batch_id, i64 at,
				   u32 n, n x (u8 kind, i64 id) */
	MSG_MARK_FAILED,	/* str db, str batch_id, i64 next_at, str error,
				   u8 charge, i64 max_attempts,
				   i64 giveup_before,
				   u32 n, n x (u8 kind, i64 id) */
	MSG_MARK_DEAD,		/* str db, u32 n,
				   n x (u8 kind, i64 id, str reason) */
	MSG_MARK_STATE,		/* i64 last_success_at, str last_error */
	MSG_MARK_FLUSH,		/* (empty) commit what ingestd has already
				   written, then acknowledge this mark */
	MSG_MARK_MAX_TYPE,
};

/* A frame being built. */
struct msgb {
	uint8_t	*buf;
	size_t	 len, cap;
	int	 err;		/* an add failed: msg_close() will refuse */
};

/* A frame being read; p points into the caller's buffer. */
struct msg {
	uint16_t	 type;
	uint64_t	 seq;
	const uint8_t	*p;
	size_t		 len, off;
	int		 err;	/* a get ran past the end or met a bad field */
};

/* Start a frame in b (reusing its buffer). */
void	 msg_init(struct msgb *b, uint16_t type, uint64_t seq);
/*
 * The same, with room for about size bytes in all at once, so that a frame
 * whose size the caller can tell is not grown by doubling (each growth a
 * copy). A hint: a frame may still grow past it.
 */
void	 msg_init_size(struct msgb *b, uint16_t type, uint64_t seq,
	    size_t size);
void	 msg_add_u8(struct msgb *, uint8_t);
void	 msg_add_u32(struct msgb *, uint32_t);
void	 msg_add_u64(struct msgb *, uint64_t);
void	 msg_add_i64(struct msgb *, int64_t);
void	 msg_add_f64(struct msgb *, double);
/* A length-prefixed string; NULL is sent as absent, not as "". */
void	 msg_add_str(struct msgb *, const char *);
void	 msg_add_strn(struct msgb *, const char *, size_t);
/* Finish the header. Returns 0, or -1 if an add failed or it is too big. */
int	 msg_close(struct msgb *);
void	 msg_free(struct msgb *);

/*
 * Parse the frame at the start of buf (avail bytes). Returns 1 with *m set
 * and *framelen its size, 0 if more bytes are needed, -1 on a bad header
 * (version or length): the stream can no longer be trusted.
 */
int	 msg_parse(const uint8_t *buf, size_t avail, struct msg *m,
	    size_t *framelen);
uint8_t	 msg_get_u8(struct msg *);
uint32_t msg_get_u32(struct msg *);
uint64_t msg_get_u64(struct msg *);
int64_t	 msg_get_i64(struct msg *);
double	 msg_get_f64(struct msg *);
/* A string (NUL-terminated in place) or NULL if absent; len may be NULL. */
const char *msg_get_str(struct msg *, size_t *len);
/* 0 if every field was read and none failed; else -1. */
int	 msg_done(const struct msg *);
const char *msg_type_str(unsigned type);

struct evbuffer;
/* Take one frame out of a stream buffer: as msg_parse(); drain framelen after use. */
int	 msg_pull(struct evbuffer *, struct msg *m, size_t *framelen);

/* Send b on a SOCK_SEQPACKET fd, with passfd attached unless -1. */
int	 msg_send(int fd, const struct msgb *b, int passfd);
/*
 * Receive one record into buf. Returns its length, 0 on EOF, -1 on error
 * (errno; EMSGSIZE when the record did not fit). *passfd is -1 or the
 * descriptor that came with it (close-on-exec).
 */
ssize_t	 msg_recv(int fd, uint8_t *buf, size_t cap, int *passfd);

#endif
