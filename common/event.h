/*
 * event.h: the three kinds of event (SPEC sections 4 and 5) as one table,
 * so that validation in ingestd, the columns writerd stores and the data
 * pushd sends can never disagree.
 *
 * struct event is the model every wire format meets at: an ingest decoder
 * (ingestd/fmt_*.c) fills one from its bytes, event_encode() validates it
 * against this table, cuts its text, gives it a trace_id and frames it as
 * MSG_EVENT_ADD; writerd reads the frame back into a struct event with
 * event_decode() and binds the values in table order.
 */
#ifndef OCT_EVENT_H
#define OCT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct msgb;
struct msg;

enum event_kind { EV_TRACE, EV_ERROR, EV_METRIC, EV_NKINDS };

/* The most fields a kind has (llm_traces: 17). */
#define EVENT_MAX_FIELDS	24

enum field_type {
	F_STR,		/* string */
	F_TEXT,		/* string, cut to max_text_bytes */
	F_ANYTEXT,	/* string or any JSON value as its text; cut */
	F_UINT,		/* integer >= 0 */
	F_NUM,		/* number >= 0 */
	F_REAL,		/* any number */
	F_ENUM,		/* one of choices; default choices[0] */
	F_TIME,		/* RFC 3339 string, or Unix s (< 1e11) or ms; as ms */
	F_LABELS,	/* object of strings, stored as JSON text */
};

struct field {
	const char		*name;
	enum field_type		 type;
	int			 required;
	const char *const	*choices;	/* F_ENUM */
	const char		*def;		/* F_ENUM default */
	const char *const	*aliases;	/* other names accepted */
	int			 derived;	/* set by oct (cost_source), never
						   taken from a client */
};

struct event_def {
	const char		*type;		/* "llm_trace" */
	const char		*table;		/* "llm_traces" */
	const struct field	*fields;
	size_t			 nfields;
};

extern const struct event_def event_defs[EV_NKINDS];

/*
 * What a stored value is, on the wire and in SQLite (V_NULL to V_TEXT).
 * A decoder may also hand event_encode() a V_BOOL (i is 0 or 1) or a
 * V_JSON: an array or object as its compact JSON text in s (i = 1 when it
 * is an object whose members are all strings, as F_LABELS wants; s may be
 * NULL for a value no field of type F_ANYTEXT or F_LABELS takes). Neither
 * ever reaches a frame.
 */
enum val_tag { V_NULL, V_INT, V_REAL, V_TEXT, V_BOOL, V_JSON };

struct event_value {
	enum val_tag	 tag;
	int64_t		 i;
	double		 r;
	const char	*s;		/* V_TEXT: NUL-terminated at len */
	size_t		 len;
	const char	*key;		/* decoders: the name it came under, for
					   errors; NULL: the field's own name */
};

/*
 * One event. From a decoder (event_init, then filled): strings belong to
 * the decoder until event_encode() returns; trace_id and truncated are
 * event_encode()'s to set. Read back from a frame (event_decode): strings
 * point into the frame.
 */
struct event {
	enum event_kind		 kind;
	const char		*trace_id;
	const char		*event_id;	/* NULL: none */
	int64_t			 received_at;
	int			 truncated;
	const char		*attributes;	/* JSON object text, or NULL */
	struct event_value	 v[EVENT_MAX_FIELDS];	/* event_defs[kind].fields */
};

/* Why an object was refused: a message and the field at fault ("": none). */
struct event_error {
	char	msg[160];
	char	field[130];
};

/* Bytes of the key event_trace_id() derives trace_ids with. */
#define EVENT_IDKEY_BYTES	32
/* An event_id is 1 to this many bytes. */
#define EVENT_ID_MAX		128

/* An empty event of kind: every value V_NULL, no event_id, no attributes. */
void	 event_init(struct event *, enum event_kind, int64_t received_at);
/*
 * The index in event_defs[kind].fields of the field called name, or -1.
 * *alias is set to 1 when name is one of the field's aliases, else 0.
 */
int	 event_field(enum event_kind, const char *name, int *alias);
/* The index of field name of kind, derived ones included; -1: none. */
int	 event_column(enum event_kind, const char *name);
/* Whether an event_id of len bytes is allowed (1 to EVENT_ID_MAX). */
int	 event_id_ok(size_t len);
/* Fill err with a message (and the field at fault, or NULL). Returns -1. */
int	 event_fail(struct event_error *, const char *field, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/*
 * Validate e against its kind's fields and append one MSG_EVENT_ADD frame
 * with sequence seq to b, text fields cut to max_text bytes. trace_id
 * receives the event's id: for an event with an event_id and a non-NULL
 * idkey (EVENT_IDKEY_BYTES), the one event_trace_id() derives, so that a
 * repeat is answered with the id of the stored event; otherwise a fresh
 * random UUID v4. e is only read. Returns 0, or -1 with err filled (b is
 * then unusable for this frame).
 */
int	 event_encode(const struct event *e, const unsigned char *idkey,
	    char trace_id[UUID_STR_LEN], size_t max_text, uint64_t seq,
	    struct msgb *b, struct event_error *err);
/*
 * The trace_id of an event of kind with event_id: BLAKE2b-128 keyed with
 * key (EVENT_IDKEY_BYTES) over the type name, a NUL and event_id, with
 * the UUID v4 version and variant bits set. The same inputs always give
 * the same id; without the key, nobody can tell it from a random one.
 */
void	 event_trace_id(enum event_kind, const char *event_id,
	    const unsigned char *key, char out[UUID_STR_LEN]);
/* Read a MSG_EVENT_ADD frame. Returns 0, or -1 if it is malformed. */
int	 event_decode(struct msg *, struct event *);
/* Parse an RFC 3339 date-time into Unix ms. Returns 0 or -1. */
int	 event_parse_time(const char *, int64_t *ms);

#endif
