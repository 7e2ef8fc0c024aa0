/*
 * marks.c: applying pushd's sync marks (MSG_MARK_*) to oct.db.
 *
 * writerd calls marks_apply inside its batch transaction, so a mark and
 * the stream cursor that records it commit together; octctl push with
 * octd stopped applies each mark in a transaction of its own. Frames
 * from a socket are checked when they arrive (marks_check).
 *
 * Applying a mark also counts it in push_state for /metrics: the rows of
 * a MARK_SYNCED are events delivered (oct_push_sent_total), and each
 * MARK_FAILED is one request that failed (oct_push_failed_total).
 *
 * A mark of rows (synced, failed, dead) names the file they were read
 * from (store_db_id()). One of another file changes nothing and counts
 * nothing: rows are matched by table and id, and a fresh oct.db, started
 * after writerd moved a damaged one aside, numbers its rows from 1 again,
 * so a mark pushd made for the old file would land on unrelated rows
 * (marked synced, never pushed). It still succeeds, so that writerd
 * commits and acknowledges it like any other and pushd moves on.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "msg.h"
#include "store.h"
#include "marks.h"

/*
 * Read a mark's db (the file its rows were read from). Returns 1 if the
 * mark is to be applied to st (with apply, st is that file), 0 if not,
 * -1 if it names none. A mark of another file is said once per file.
 */
static int
our_file(struct store *st, struct msg *m, int apply)
{
	static char	 said[UUID_STR_LEN];
	const char	*db = msg_get_str(m, NULL);

	if (db == NULL)
		return -1;
	if (!apply)
		return 0;
	if (strcmp(db, store_db_id(st)) == 0)
		return 1;
	if (strcmp(db, said) != 0) {
		log_warnx("sync marks of rows read from another database "
		    "(db_id %s; this oct.db is %s, started since the other "
		    "was moved aside?): acknowledged, none applied", db,
		    store_db_id(st));
		snprintf(said, sizeof(said), "%s", db);
	}
	return 0;
}

static int
rows_synced(struct store *st, struct msg *m, int apply)
{
	int		 ours = our_file(st, m, apply);
	const char	*batch = msg_get_str(m, NULL);
	int64_t		 at = msg_get_i64(m);
	uint32_t	 n = msg_get_u32(m), rows = n;
	uint8_t		 kind;
	int64_t		 id;

	if (ours == -1)
		return -1;
	apply = ours;
	while (n-- > 0 && !m->err) {
		kind = msg_get_u8(m);
		id = msg_get_i64(m);
		if (kind >= EV_NKINDS)
			return -1;
		if (apply && store_mark_synced(st, kind, id, batch, at))
			return -1;
	}
	if (msg_done(m) == -1)
		return -1;
	return apply ? store_count_push(st, rows, 0) : 0;
}

static int
rows_failed(struct store *st, struct msg *m, int apply)
{
	int		 ours = our_file(st, m, apply);
	const char	*batch = msg_get_str(m, NULL), *error;
	int64_t		 next_at = msg_get_i64(m), max, before, id;
	uint8_t		 charge, kind;
	uint32_t	 n;

	if (ours == -1)
		return -1;
	apply = ours;
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
		if (apply && store_mark_failed(st, kind, id, batch,
		    next_at, error, charge, max, before))
			return -1;
	}
	if (msg_done(m) == -1)
		return -1;
	return apply ? store_count_push(st, 0, 1) : 0;	/* one request */
}

static int
rows_dead(struct store *st, struct msg *m, int apply)
{
	int		 ours = our_file(st, m, apply);
	const char	*reason;
	uint32_t	 n = msg_get_u32(m);
	uint8_t		 kind;
	int64_t		 id;

	if (ours == -1)
		return -1;
	apply = ours;
	while (n-- > 0 && !m->err) {
		kind = msg_get_u8(m);
		id = msg_get_i64(m);
		reason = msg_get_str(m, NULL);
		if (kind >= EV_NKINDS)
			return -1;
		if (apply && store_mark_dead(st, kind, id, reason))
			return -1;
	}
	return msg_done(m);
}

static int
push_state(struct store *st, struct msg *m, int apply)
{
	int64_t		 at = msg_get_i64(m);
	const char	*error = msg_get_str(m, NULL);

	if (msg_done(m) == -1)
		return -1;
	return apply ? store_set_push_state(st, at, error) : 0;
}

/* Read (and with apply, store) one mark. Returns 0, or -1. */
static int
marks_do(struct store *st, struct msg *m, int apply)
{
	switch (m->type) {
	case MSG_MARK_SYNCED:
		return rows_synced(st, m, apply);
	case MSG_MARK_FAILED:
		return rows_failed(st, m, apply);
	case MSG_MARK_DEAD:
		return rows_dead(st, m, apply);
	case MSG_MARK_STATE:
		return push_state(st, m, apply);
	case MSG_MARK_FLUSH:
		return msg_done(m);	/* its commit is all it asks */
	}
	return -1;
}

int
marks_check(struct msg *m)
{
	struct msg copy = *m;

	return marks_do(NULL, &copy, 0);
}

int
marks_apply(struct store *st, struct msg *m)
{
	return marks_do(st, m, 1);
}
