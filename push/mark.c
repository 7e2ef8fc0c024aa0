/*
 * mark.c: the marks the cycle hands to its sink (push_sink.mark): rows
 * synced, failed, dead, and the last success or error for push-status.
 * pushd's link.c carries them to writerd; octctl applies them at once.
 * A mark of rows names the file they were read from (pd.db_id), so that
 * it is never applied to another (common/marks.c).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "engine.h"

int
mark_skipped(const char *id, const char *const *skip, size_t nskip)
{
	size_t j;

	for (j = 0; j < nskip; j++)
		if (strcmp(skip[j], id) == 0)
			return 1;
	return 0;
}

void
mark_rows(uint16_t type, const struct req *r, const char *const *skip,
    size_t nskip, int64_t next_at, const char *error)
{
	struct msgb	b = { 0 };
	uint32_t	n = 0;
	int		i;

	for (i = 0; i < r->n; i++)
		n += !mark_skipped(r->rows[i].trace_id, skip, nskip);
	if (n == 0)
		return;
	msg_init(&b, type, pd.sink->next_seq());
	msg_add_str(&b, pd.db_id);
	msg_add_str(&b, r->batch_id);
	if (type == MSG_MARK_SYNCED)
		msg_add_i64(&b, now_ms());
	else {
		msg_add_i64(&b, next_at);
		msg_add_str(&b, error);
		msg_add_u8(&b, 1);
		msg_add_i64(&b, pd.conf->push_max_attempts);
		msg_add_i64(&b, now_ms() - pd.conf->push_give_up_after_ms);
	}
	msg_add_u32(&b, n);
	for (i = 0; i < r->n; i++) {
		if (mark_skipped(r->rows[i].trace_id, skip, nskip))
			continue;
		msg_add_u8(&b, (uint8_t)r->rows[i].kind);
		msg_add_i64(&b, r->rows[i].id);
	}
	if (msg_close(&b) == -1)
		fatalx("mark frame too large");
	pd.sink->mark(&b);
	msg_free(&b);
}

void
mark_dead(const struct push_row *rows, int n, const char *const *reasons)
{
	struct msgb	b = { 0 };
	int		i;

	if (n == 0)
		return;
	if (session_counting() != NULL)
		session_counting()->dead += n;
	msg_init(&b, MSG_MARK_DEAD, pd.sink->next_seq());
	msg_add_str(&b, pd.db_id);
	msg_add_u32(&b, (uint32_t)n);
	for (i = 0; i < n; i++) {
		msg_add_u8(&b, (uint8_t)rows[i].kind);
		msg_add_i64(&b, rows[i].id);
		msg_add_str(&b, reasons[i]);
	}
	if (msg_close(&b) == -1)
		fatalx("mark frame too large");
	pd.sink->mark(&b);
	msg_free(&b);
}

void
mark_dead_one(const struct push_row *row, const char *reason)
{
	mark_dead(row, 1, &reason);
}

void
mark_state(int success, const char *error)
{
	struct msgb b = { 0 };

	if (!success && error != NULL && strcmp(error, pd.last_error) == 0)
		return;		/* said already */
	snprintf(pd.last_error, sizeof(pd.last_error), "%s",
	    error != NULL ? error : "");
	msg_init(&b, MSG_MARK_STATE, pd.sink->next_seq());
	msg_add_i64(&b, success ? now_ms() : 0);
	msg_add_str(&b, error);
	if (msg_close(&b) == -1)
		fatalx("state frame");
	pd.sink->mark(&b);
	msg_free(&b);
}
