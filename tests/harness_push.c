/*
 * harness_push.c: what the push tests share beyond harness.c: Standard
 * Webhooks signatures (the one signer and verifier of the tests) and the
 * push columns of a run's oct.db, so that tests need not speak SQL.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>
#include <sqlite3.h>

#include "harness.h"

/* "id.ts.body", the bytes a Standard Webhooks signature covers (malloc'd). */
static unsigned char *
sw_message(const char *id, long long ts, const void *body, size_t len,
    size_t *mlen)
{
	unsigned char	*msg;
	int		 n = snprintf(NULL, 0, "%s.%lld.", id, ts);

	*mlen = (size_t)n + len;
	if ((msg = malloc(*mlen + 1)) == NULL)
		return NULL;
	snprintf((char *)msg, (size_t)n + 1, "%s.%lld.", id, ts);
	memcpy(msg + n, body, len);
	return msg;
}

int
harness_sw_verify(const unsigned char pk[32], const char *id, long long ts,
    const void *body, size_t len, const char *header)
{
	unsigned char	 sig[crypto_sign_BYTES], *msg;
	const char	*p = strstr(header, "v1a,");
	char		 b64[200];
	size_t		 slen, mlen;
	int		 ok;

	if (p == NULL)
		return 0;
	snprintf(b64, sizeof(b64), "%.*s", (int)strcspn(p + 4, " "), p + 4);
	if (sodium_base642bin(sig, sizeof(sig), b64, strlen(b64), NULL, &slen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || slen != sizeof(sig))
		return 0;
	if ((msg = sw_message(id, ts, body, len, &mlen)) == NULL)
		return 0;
	ok = crypto_sign_verify_detached(sig, msg, mlen, pk) == 0;
	free(msg);
	return ok;
}

void
harness_sw_sign(const unsigned char sk[64], const char *id, long long ts,
    const void *body, size_t len, char *out, size_t outlen)
{
	unsigned char	 sig[crypto_sign_BYTES], *msg;
	size_t		 mlen;

	msg = sw_message(id, ts, body, len, &mlen);
	cr_assert_not_null(msg);
	crypto_sign_detached(sig, NULL, msg, mlen, sk);
	free(msg);
	snprintf(out, outlen, "v1a,");
	sodium_bin2base64(out + 4, outlen - 4, sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
}

/* " AND col IS [NOT] NULL" for ROW_YES / ROW_NO, "" for 0. */
static const char *
row_set(int want, const char *yes, const char *no)
{
	return want == ROW_YES ? yes : want == ROW_NO ? no : "";
}

/* The WHERE clause of m into w. */
static void
row_where(const struct row_match *m, char *w, int len)
{
	snprintf(w, (size_t)len, "1%s%s%s%s",
	    row_set(m->synced, " AND synced_at IS NOT NULL",
	    " AND synced_at IS NULL"),
	    row_set(m->dead, " AND dead = 1", " AND dead = 0"),
	    row_set(m->batched, " AND batch_id IS NOT NULL",
	    " AND batch_id IS NULL"),
	    row_set(m->scheduled, " AND next_push_at > 0",
	    " AND next_push_at = 0"));
	if (m->attempts)
		sqlite3_snprintf(len - (int)strlen(w), w + strlen(w),
		    " AND push_attempts = %d", m->attempts - 1);
	if (m->model)
		sqlite3_snprintf(len - (int)strlen(w), w + strlen(w),
		    " AND model = %Q", m->model);
	if (m->error)
		sqlite3_snprintf(len - (int)strlen(w), w + strlen(w),
		    " AND last_push_error LIKE %Q", m->error);
}

long long
harness_rows(struct octd_run *r, const struct row_match *m)
{
	static const char *const all[] = { "llm_traces", "error_events",
	    "system_metrics", NULL };
	const char		*one[] = { "llm_traces", NULL };
	const char *const	*t;
	char			 where[1024], sql[1200];
	long long		 n = 0, v;

	row_where(m, where, sizeof(where));
	if (m->table != NULL && strcmp(m->table, ROW_ALL_TABLES) == 0)
		t = all;
	else {
		one[0] = m->table != NULL ? m->table : "llm_traces";
		t = one;
	}
	for (; *t != NULL && n >= 0; t++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s",
		    *t, where);
		v = db_int(r, sql);
		n = v < 0 ? -1 : n + v;
	}
	return n;
}

void
harness_push_state(struct octd_run *r, long long *last_success_at,
    char *last_error, size_t len)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	const char	*e;
	char		 path[512];

	*last_success_at = 0;
	*last_error = '\0';
	snprintf(path, sizeof(path), "%s/data/oct.db", r->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		if (sqlite3_prepare_v2(db, "SELECT coalesce(last_success_at, 0), "
		    "coalesce(last_error, '') FROM push_state", -1, &s,
		    NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW) {
				*last_success_at = sqlite3_column_int64(s, 0);
				e = (const char *)sqlite3_column_text(s, 1);
				snprintf(last_error, len, "%s", e ? e : "");
			}
			sqlite3_finalize(s);
		}
	}
	sqlite3_close(db);
}

long long
harness_received(const char *db)
{
	return file_int(db, "SELECT count(*) FROM events");
}
