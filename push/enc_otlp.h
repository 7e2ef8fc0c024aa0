/*
 * enc_otlp.h: the pieces of the OTLP push encoder (enc_otlp*.c), shared by
 * its three files and by no other: enc_otlp.c (the encoder's operations
 * and the collector's answer), enc_otlp_pb.c (the arena, attributes,
 * ids, resource and scope), enc_otlp_rows.c (a row as a span, a log
 * record or a metric).
 *
 * Every message of a row lives in one arena, freed once the row is
 * packed; a function that returns NULL is out of memory, and its caller
 * gives up the row (the arena is freed anyway).
 */
#ifndef OCT_PUSH_ENC_OTLP_H
#define OCT_PUSH_ENC_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "event.h"
#include "push.h"
#include "otlp.pb-c.h"

#define NS	1000000ULL		/* ns in a ms */

/*
 * Allocations of one row's messages, freed together: carved in order out
 * of zeroed blocks (a row's messages fit one; a long text gets a block of
 * its own), so a row costs a few mallocs, not one per message.
 */
struct arena_block;
struct arena {
	struct arena_block	*b;	/* the block carved from, then older */
	size_t			 off;	/* its bytes given out */
};

/* A growing list of KeyValues (in the arena). */
struct kvs {
	Otlp__KeyValue	**v;
	size_t		  n, cap;
};

/* enc_otlp_pb.c (the prefix oe_: the OTLP encoder's, not ingestd's otlp_) */
/* len zeroed bytes owned by a; NULL: no memory. */
void	*oe_alloc(struct arena *, size_t);
/* s[0..len) NUL-terminated, in a; NULL: no memory. */
char	*oe_strdup(struct arena *, const char *, size_t);
/* Every allocation of a freed; a is empty again. */
void	 oe_free(struct arena *);
/* KeyValues added to l (a later key replaces an earlier one). */
void	 oe_kv_str(struct arena *, struct kvs *, const char *, const char *,
	    size_t);
void	 oe_kv_double(struct arena *, struct kvs *, const char *, double);
/* The members of object o (nulls left out). */
void	 oe_kv_object(struct arena *, struct kvs *, json_t *);
/* attrs's members but those named in skip (NULL-terminated). */
void	 oe_kv_row_attrs(struct arena *, struct kvs *, json_t *,
	    const char *const *);
/* The row's field as key, its type kept; nothing if it is NULL. */
void	 oe_kv_field(struct arena *, struct kvs *, const char *,
	    const struct push_row *, const char *);
/* The value of a field of the row's kind; NULL if it has none. */
const struct event_value *
	 oe_val(const struct push_row *, const char *);
/* A text field (its length in len if not NULL), or NULL. */
const char *
	 oe_txt(const struct push_row *, const char *, size_t *);
/* An integer or real field as an integer (*set 0 and 0 if neither). */
int64_t	 oe_int_field(const struct push_row *, const char *, int *);
/* An integer or real field as a real; 0 if neither. */
double	 oe_real_field(const struct push_row *, const char *);
/*
 * The trace and span ids of a row: those of attributes.otel when it came
 * in over OTLP (parent too, if parent is not NULL), else its uuid's 16
 * bytes and their last 8; left empty if neither.
 */
void	 oe_row_ids(struct arena *, json_t *otel, const char *uuid,
	    ProtobufCBinaryData *, ProtobufCBinaryData *,
	    ProtobufCBinaryData *);

/* enc_otlp_rows.c */
/*
 * A row's Resource{Spans,Logs,Metrics}, its messages in a; NULL if it
 * cannot be built (no memory, or a kind OTLP has no signal for).
 */
const ProtobufCMessage *
	 oe_row_message(struct arena *, const struct agent_info *,
	    const struct push_row *);

#endif
