/*
 * marks.c: applying pushd's sync marks (MSG_MARK_*) to oct.db.
 *
 * Called by batch.c inside the batch transaction, so a mark and the
 * stream cursor that records it commit together. Frames were checked
 * when they arrived (marks_check); here they are trusted.
 */
#include "config.h"

#include "event.h"
#include "log.h"
#include "msg.h"
#include "store.h"
#include "writerd.h"

static int
rows_synced(struct msg *m, int apply)
{
	const char	*batch = msg_get_str(m, NULL);
	int64_t		 at = msg_get_i64(m);
	uint32_t	 n = msg_get_u32(m);
	uint8_t		 kind;
	int64_t		 id;

	while (n-- > 0 && !m->err) {
		kind = msg_get_u8(m);
		id = msg_get_i64(m);
		if (kind >= EV_NKINDS)
			return -1;
		if (apply && store_mark_synced(wd.store, kind, id, batch, at))
			return -1;
	}
	return msg_done(m);
}

static int
rows_failed(struct msg *m, int apply)
{
	const char	*batch = msg_get_str(m, NULL), *error;
	int64_t		 next_at = msg_get_i64(m), max, before, id;
	uint8_t		 charge, kind;
	uint32_t	 n;

	error = msg_get_str(m, NULL);
	charge = msg_get_u8(m);
	max = msg_get_i64(m);
	before = msg_get_i64(m);
	n = msg_get_u32(m);
	while (n-- > 0 && !m->err) {
		kind = msg_get_u8(m);
		id = msg_get_i64(m);
		if (kind >= EV_NKINDS)
			return -1;
		if (apply && store_mark_failed(wd.store, kind, id, batch,
		    next_at, error, charge, max, before))
			return -1;
	}
	return msg_done(m);
}

static int
rows_dead(struct msg *m, int apply)
{
	const char	*reason;
	uint32_t	 n = msg_get_u32(m);
	uint8_t		 kind;
	int64_t		 id;

	while (n-- > 0 && !m->err) {
		kind = msg_get_u8(m);
		id = msg_get_i64(m);
		reason = msg_get_str(m, NULL);
		if (kind >= EV_NKINDS)
			return -1;
		if (apply && store_mark_dead(wd.store, kind, id, reason))
			return -1;
	}
	return msg_done(m);
}

static int
push_state(struct msg *m, int apply)
{
	int64_t		 at = msg_get_i64(m);
	const char	*error = msg_get_str(m, NULL);

	if (msg_done(m) == -1)
		return -1;
	return apply ? store_set_push_state(wd.store, at, error) : 0;
}

/* Read (and with apply, store) one mark. Returns 0, or -1. */
static int
marks_do(struct msg *m, int apply)
{
	switch (m->type) {
	case MSG_MARK_SYNCED:
		return rows_synced(m, apply);
	case MSG_MARK_FAILED:
		return rows_failed(m, apply);
	case MSG_MARK_DEAD:
		return rows_dead(m, apply);
	case MSG_MARK_STATE:
		return push_state(m, apply);
	}
	return -1;
}

int
marks_check(struct msg *m)
{
	struct msg copy = *m;

	return marks_do(&copy, 0);
}

int
marks_apply(struct msg *m)
{
	return marks_do(m, 1);
}
