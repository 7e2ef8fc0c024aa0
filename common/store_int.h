/*
 * store_int.h: what the parts of the store share (store.c, store_write.c,
 * store_push.c, store_report.c); nothing outside them includes it.
 *
 * store.c opens and closes (lock, schema, migrations, transactions);
 * store_write.c holds writerd's writes (insert, cursors, trim,
 * checkpoint); store_push.c the push queue (fetch, marks); store_report.c
 * the reports (status, push-status, /metrics). Every statement used per
 * event or per mark is prepared at open by the part that runs it.
 */
#ifndef OCT_STORE_INT_H
#define OCT_STORE_INT_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3		*db;
	enum store_mode	 mode;
	int		 lock_fd;
	char		*path;
	dev_t		 dev;	/* STORE_RO: the file path named just */
	ino_t		 ino;	/* before the open (store_replaced) */
	char		 agent_id[UUID_STR_LEN];
	char		 db_id[UUID_STR_LEN];	/* this file's (store.h) */
	sqlite3_stmt	*insert[EV_NKINDS];
	sqlite3_stmt	*begin, *commit, *rollback;
	sqlite3_stmt	*cursor_get, *cursor_set, *commits_get;
	sqlite3_stmt	*fetch[2][EV_NKINDS];	/* due, forced; per table */
	sqlite3_stmt	*synced[EV_NKINDS], *failed[EV_NKINDS], *dead[EV_NKINDS];
	sqlite3_stmt	*push_state, *push_count;
};

/*
 * Append printf output to a malloc'd string s (freed on failure);
 * NULL: no memory, or s was NULL.
 */
char	*st_cat(char *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Run sql (several statements); -1 with why in err. */
int	 st_exec(struct store *, const char *sql, char *err, size_t errlen);
/* Prepare sql (NULL: no memory) to last as long as st; -1: why in err. */
int	 st_prepare(struct store *, const char *sql, sqlite3_stmt **,
	    char *err, size_t errlen);
/* Step a statement that returns no row, then reset it. 0 or -1. */
int	 st_run(sqlite3_stmt *);
/* Bind v, or NULL, at i; v must outlive the step. */
void	 st_bind_text(sqlite3_stmt *, int i, const char *v);
/* Run a one-integer query built from fmt (table names only). */
int	 st_query_int(struct store *, int64_t *out, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* store_write.c: the insert and cursor statements (read-write only). */
int	 st_prepare_writes(struct store *, char *err, size_t errlen);
/* store_push.c: the fetch (every mode) and the marks (read-write). */
int	 st_prepare_fetch(struct store *, char *err, size_t errlen);
int	 st_prepare_marks(struct store *, char *err, size_t errlen);

#endif
