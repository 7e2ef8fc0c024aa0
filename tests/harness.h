/*
 * harness.h: what the integration tests share: a temp directory with a
 * config in it, a free loopback port, octd started for real in its own
 * process group, and waiting on a condition (never a bare sleep).
 */
#ifndef OCT_TESTS_HARNESS_H
#define OCT_TESTS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct octd_run {
	char	dir[256];	/* temp dir holding everything */
	char	conf[300];	/* dir/oct.conf */
	int	port;		/* ingest port */
	pid_t	pid;		/* octd, 0 when not running */
	int	status;		/* octd's wait status once reaped */
};

/* A fresh temp dir with oct.conf: port, dirs under it, plus extra lines. */
void	 harness_setup(struct octd_run *, const char *extra);
/* Rewrite oct.conf with the same base lines and new extra lines. */
void	 harness_write_conf(struct octd_run *, const char *extra);
/* Start "octd -f -c conf"; waits until the three workers are ready. */
void	 harness_start(struct octd_run *);
/* Kill octd's whole process group and remove the temp dir. */
void	 harness_teardown(struct octd_run *);
/* Reap octd if it exited; returns 1 once it has. */
int	 harness_reaped(struct octd_run *);

/* pid of run's worker ("ingestd", ...), or 0. */
pid_t	 harness_worker(struct octd_run *, const char *name);
/* run's log of a process ("octd", "ingestd", ...); a rotating static buffer. */
const char *harness_log(struct octd_run *, const char *name);
/* Poll cond(arg) every 10 ms for up to ms; returns 1 if it became true. */
int	 harness_wait(int (*cond)(void *), void *arg, int ms);
/* pid of the child of ppid whose comm is name, or 0. */
pid_t	 harness_child(pid_t ppid, const char *name);
/* How many lines of path contain needle. */
int	 harness_count(const char *path, const char *needle);
/* Whole file into a malloc'd string (NULL if unreadable). */
char	*harness_slurp(const char *path);
/* Path of a built program: $OCT_BUILDDIR/name. */
const char *harness_bin(const char *name);
/* Run argv, capture stdout+stderr into out; returns the exit status. */
int	 harness_run(char *const argv[], char *out, size_t outlen);
int	 harness_free_port(void);

/* HTTP through libcurl: a real client against a real port. */
struct http_res {
	long	 status;
	char	 body[8192];
	char	 headers[4096];
};

/*
 * Send method to 127.0.0.1:port path with body (NULL: none) and extra
 * header lines (NULL-terminated, may be NULL). Content-Type is
 * application/json unless a header sets it. Returns 0, or -1 on a
 * transport error (res->status 0).
 */
int	 http_req(int port, const char *method, const char *path,
	    const char *body, size_t len, const char *const *headers,
	    struct http_res *res);
int	 http_post(int port, const char *path, const char *json,
	    struct http_res *res);

/* SELECT returning one integer from run->dir/data/oct.db; -1 on error. */
long long db_int(struct octd_run *, const char *sql);

/* The run's public key (base64), from its data/signing.key. */
void	 harness_pubkey(struct octd_run *, char *out, size_t len);
/* Start oct-receiver on a free port with db path and key; returns its pid. */
pid_t	 harness_receiver(const char *db, const char *pubkey, int *port);
/* SELECT returning one integer from any SQLite file; -1 on error. */
long long file_int(const char *path, const char *sql);

/*
 * Lower the soft limit on resource (RLIMIT_NOFILE, RLIMIT_NPROC) of run's
 * octd to 0 and kill its pushd: octd must log want (the spawn that failed)
 * at least twice and go on; then give the limit back and see pushd again.
 */
void	 harness_spawn_blocked(struct octd_run *, int resource,
	    const char *want);

/*
 * A fresh temp dir /tmp/oct-WHAT-XXXXXX (0700) into dir (len bytes), for
 * a suite that needs files but no octd; harness_rmdir() removes it (kept
 * with OCT_KEEP_TEST_DIRS, as harness_teardown() keeps a run's).
 */
void	 harness_tmpdir(char *dir, size_t len, const char *what);
void	 harness_rmdir(const char *dir);

/*
 * Fork "octd -f -c conf" for r in its own process group, dying with the
 * test; in the child prepare (may be NULL) runs first and must return 0
 * for the exec to happen. Sets r->pid; waits for nothing.
 */
void	 harness_launch(struct octd_run *, int (*prepare)(void));
/* As harness_run(), but stderr to /dev/null unless with_stderr. */
int	 harness_run_out(char *const argv[], int with_stderr, char *out,
	    size_t outlen);

/*
 * Facts, not sentences: a log line or an answer is asserted by what a
 * reader looks for in it (the process and its pid, a signal, FILE:LINE,
 * a key, a path), so that its wording may change. The lists of facts end
 * with NULL.
 */
/* How many lines of path hold every fact. */
int	 harness_count_facts(const char *path, ...)
	    __attribute__((sentinel));
/* Whether text holds every fact. */
int	 harness_has_facts(const char *text, ...) __attribute__((sentinel));
/* "name[pid]", as log lines name a process; a rotating static buffer. */
const char *harness_who(const char *name, long pid);

/* A worker expected to be replaced, for harness_wait(harness_replaced). */
struct harness_replace {
	struct octd_run	*run;
	const char	*name;		/* "ingestd", ... */
	pid_t		 old;		/* its pid before */
};
/* 1 once the worker runs again under a pid other than old. */
int	 harness_replaced(void *harness_replace);

/*
 * Standard Webhooks (SPEC section 6), the one implementation the tests
 * check pushd's signatures with and sign their own requests with: v1a is
 * Ed25519 over the bytes "id.ts.body".
 */
/* Does header (a webhook-signature value) hold a v1a by pk over them? */
int	 harness_sw_verify(const unsigned char pk[32], const char *id,
	    long long ts, const void *body, size_t len, const char *header);
/* "v1a,<base64>": sk's signature over them, into out. */
void	 harness_sw_sign(const unsigned char sk[64], const char *id,
	    long long ts, const void *body, size_t len, char *out,
	    size_t outlen);

/*
 * The rows of run's oct.db in a push state (SPEC section 5's columns),
 * for the tests that need not speak SQL. A field left 0 matches any row;
 * ROW_YES / ROW_NO ask for the state or its absence.
 */
#define ROW_YES			1
#define ROW_NO			2
#define ROW_ATTEMPTS(n)		((n) + 1)
#define ROW_ALL_TABLES		"*"
struct row_match {
	const char	*table;		/* NULL: llm_traces; ROW_ALL_TABLES */
	int		 synced;	/* synced_at set */
	int		 dead;
	int		 batched;	/* batch_id set */
	int		 scheduled;	/* next_push_at > 0 */
	int		 attempts;	/* ROW_ATTEMPTS(push_attempts) */
	const char	*model;		/* llm_traces' model is this */
	const char	*error;		/* last_push_error LIKE this */
};
/* How many rows match m; -1 on error. */
long long harness_rows(struct octd_run *, const struct row_match *m);
/* push_state: last_success_at (0: never) and last_error ("": none). */
void	 harness_push_state(struct octd_run *, long long *last_success_at,
	    char *last_error, size_t len);
/* Events oct-receiver stored in its db (path); -1 on error. */
long long harness_received(const char *db);

/*
 * Where the tests' npm packages are ($OCT_NODE_MODULES, else
 * $OCT_SRCDIR/build/npm/node_modules), into out; fails the test, saying
 * how to install them, unless need (a path below it) is there. what names
 * the packages in that message.
 */
void	 harness_node_modules(const char *need, const char *what, char *out,
	    size_t len);

/* The value of the GET /metrics line that starts with name; -1: none. */
double	 harness_metric(int port, const char *name);

/*
 * Rows of run's oct.db, for the tests that need not speak SQL. After the
 * table (and column) come conditions, pairs of a column and a value, then
 * NULL: the column may end in " >" or " <" ("=" otherwise); the value is
 * text, compared as the column's type ("3" matches the integer 3), or
 * NULL for a column that IS NULL. With no condition every row matches.
 */
/* How many rows of table match; -1 on error. */
long long harness_db_count(struct octd_run *, const char *table, ...)
	    __attribute__((sentinel));
/* How many distinct values of column the rows that match hold. */
long long harness_db_distinct(struct octd_run *, const char *table,
	    const char *column, ...) __attribute__((sentinel));
/* column of the first row that matches as an integer; -1 if none. */
long long harness_db_value(struct octd_run *, const char *table,
	    const char *column, ...) __attribute__((sentinel));
/* Wait up to ms for harness_db_count() to be want; 1 if it became so. */
int	 harness_db_wait(struct octd_run *, int ms, long long want,
	    const char *table, ...) __attribute__((sentinel));
/* The transactions writerd has committed, over every stream. */
long long harness_db_commits(struct octd_run *);

#endif
