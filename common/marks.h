/*
 * marks.h: pushd's sync marks (MSG_MARK_SYNCED, _FAILED, _DEAD, _STATE,
 * and _FLUSH, which changes nothing), read from their frames and applied
 * to oct.db.
 */
#ifndef OCT_MARKS_H
#define OCT_MARKS_H

struct msg;
struct store;

/* Is m a well-formed mark? 0 or -1; m is not consumed. */
int	 marks_check(struct msg *m);
/* Apply m to st (read-write, in the caller's transaction). 0 or -1. */
int	 marks_apply(struct store *st, struct msg *m);

#endif
