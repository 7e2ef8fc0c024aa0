/*
 * test_storage.c: fault row 7, storage that fails under oct. With octd
 * stopped, oct.db is damaged three ways (cut in half, random bytes
 * flipped in its pages, its WAL deleted after a kill -9); octd is started
 * again and must not crash-loop: a file SQLite calls damaged is moved
 * aside byte for byte to oct.db.damaged-<UTC time> and a fresh database
 * started, said once; a file it can still read is kept. Under load:
 * another process holding BEGIN IMMEDIATE for 10 s (nothing lost, writerd
 * not restarted, 503s carry Retry-After); max_db_bytes reached with only
 * unsynced rows (503 "storage full", nothing deleted); and, as root, a
 * full disk (a small tmpfs): nothing lost once there is room again.
 * And a damage found while octd runs (writerd restarted onto a file that
 * is no database any more): the readers that opened the old file, pushd and ingestd's
 * /metrics, follow writerd to the fresh one without a restart; and sync
 * marks pushd made for the old file, still waiting for writerd then, are
 * never applied to the fresh one. And a damage only a commit finds (the
 * file cut while writerd runs): moved aside the same, without a restart,
 * and what that commit held committed in the fresh file.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "../harness.h"

static struct octd_run	run;
static char		mounted[300];
static pid_t		receiver;

static void
teardown(void)
{
	if (receiver > 0) {
		kill(receiver, SIGKILL);
		waitpid(receiver, NULL, 0);
		receiver = 0;
	}
	if (mounted[0] != '\0') {
		/* octd first: the tmpfs is busy while it runs */
		if (run.pid > 0) {
			kill(-run.pid, SIGKILL);
			waitpid(run.pid, NULL, 0);
			run.pid = 0;
		}
		umount2(mounted, MNT_DETACH);
	}
	mounted[0] = '\0';
	harness_teardown(&run);
}

TestSuite(faults_storage, .fini = teardown, .timeout = 180);

static const char *
db_path(void)
{
	static char	path[600];

	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	return path;
}

/* Whole file into a malloc'd buffer, its size in *len. */
static unsigned char *
slurp_bin(const char *path, size_t *len)
{
	struct stat	 sb;
	unsigned char	*b;
	FILE		*f = fopen(path, "rb");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fileno(f), &sb), 0);
	b = malloc(sb.st_size + 1);
	*len = fread(b, 1, sb.st_size, f);
	fclose(f);
	return b;
}

static int
commit_ok(void *arg)
{
	struct http_res	r;

	(void)arg;
	return http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"probe\"}", &r) == 0 && r.status == 200;
}

/* Like harness_wait, but bounded in wall time (cond may block a while). */
static int
wait_s(int (*cond)(void *), double secs)
{
	struct timespec	t0, t, pause = { 0, 50 * 1000000 };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (cond(NULL))
			return 1;
		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	return 0;
}

static int
octd_gone(void *arg)
{
	(void)arg;
	return harness_reaped(&run);
}

static void
stop_octd(int sig)
{
	if (sig == SIGKILL)
		kill(-run.pid, SIGKILL);
	else
		kill(run.pid, sig);
	cr_assert(harness_wait(octd_gone, NULL, 20000), "octd did not stop");
}

/* The name of the first data/oct.db.damaged-* file (no suffix), or "". */
static const char *
damaged_name(void)
{
	static char	 name[900];
	char		 dir[600];
	DIR		*d;
	struct dirent	*de;

	name[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/data", run.dir);
	if ((d = opendir(dir)) == NULL)
		return name;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "oct.db.damaged-", 15) == 0 &&
		    strchr(de->d_name + 15, '-') == NULL)
			snprintf(name, sizeof(name), "%s/%s", dir, de->d_name);
	closedir(d);
	return name;
}

enum damage { CUT, FLIP, WAL_GONE };

static void
damage_db(enum damage how)
{
	struct stat	sb;
	char		wal[700];
	int		fd, i;
	off_t		at;
	unsigned char	byte;

	cr_assert_eq(stat(db_path(), &sb), 0);
	switch (how) {
	case CUT:
		cr_assert_eq(truncate(db_path(), sb.st_size / 2), 0);
		break;
	case FLIP:
		/* 64 random bytes past the 100-byte file header, fixed seed */
		srand(7);
		cr_assert((fd = open(db_path(), O_RDWR)) != -1);
		for (i = 0; i < 64; i++) {
			at = 100 + rand() % (sb.st_size - 100);
			byte = (unsigned char)rand();
			cr_assert_eq(pwrite(fd, &byte, 1, at), 1);
		}
		close(fd);
		break;
	case WAL_GONE:
		snprintf(wal, sizeof(wal), "%s-wal", db_path());
		unlink(wal);
		break;
	}
}

/*
 * One damage: 300 events stored, octd stopped (SIGTERM; SIGKILL for
 * the WAL case), the damage done, octd started again. Counts what the
 * row promises; returns 1 if the file was moved aside.
 */
static int
damaged_start(enum damage how, const char *what)
{
	struct http_res	 r;
	unsigned char	*before, *after;
	size_t		 blen, alen;
	int		 i, up, starts, said, same = 0, octd_up;
	long long	 rows = -1;
	const char	*moved;

	harness_setup(&run, NULL);
	harness_start(&run);
	for (i = 0; i < 300; i++) {
		http_post(run.port, "/v1/traces",
		    "{\"model\":\"before\",\"input\":\"xxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", &r);
		cr_assert_eq(r.status, 202, "%s", r.body);
	}
	cr_assert(wait_s(commit_ok, 10));
	stop_octd(how == WAL_GONE ? SIGKILL : SIGTERM);
	damage_db(how);
	before = slurp_bin(db_path(), &blen);
	harness_launch(&run, NULL);
	up = wait_s(commit_ok, 30);
	octd_up = run.pid != 0 && !harness_reaped(&run);
	starts = harness_count(harness_log(&run, "writerd"), "started: ");
	said = harness_count(harness_log(&run, "writerd"), "moved aside to");
	moved = damaged_name();
	if (moved[0] != '\0') {
		after = slurp_bin(moved, &alen);
		same = alen == blen && memcmp(before, after, blen) == 0;
		free(after);
	}
	if (up)
		rows = db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
		    "model = 'before'");
	fprintf(stderr, "row 7: %s: %s; ingest %s; writerd started %d "
	    "time(s) after the damage, %d line(s) saying so; %s; %lld of 300 "
	    "old rows in oct.db\n", what, moved[0] != '\0' ? "moved aside" :
	    "kept", up ? "commits again" : "NOT committing", starts - 1, said,
	    moved[0] == '\0' ? "no copy" : same ? "copy byte for byte" :
	    "copy DIFFERS", rows);
	cr_expect(up, "%s: ingest does not commit after the restart", what);
	cr_expect(octd_up, "%s: octd exited", what);
	cr_expect_leq(starts - 1, 2, "%s: writerd started %d times: a crash "
	    "loop", what, starts - 1);
	if (moved[0] != '\0') {
		cr_expect(same, "%s: the damaged file was not kept byte for "
		    "byte", what);
		cr_expect_eq(said, 1, "%s: the move was said %d times", what,
		    said);
	}
	free(before);
	return moved[0] != '\0';
}

Test(faults_storage, a_cut_database_is_moved_aside_not_crash_looped)
{
	cr_expect(damaged_start(CUT, "oct.db cut in half"),
	    "a cut database was not moved aside");
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces"), 1,
	    "the fresh database holds the probe");
}

Test(faults_storage, flipped_bytes_never_crash_loop)
{
	/* moved aside if SQLite sees the damage at open, else kept */
	damaged_start(FLIP, "64 bytes flipped");
}

Test(faults_storage, a_deleted_wal_after_kill_keeps_the_database)
{
	char	ok[64] = "";
	sqlite3	*db;
	sqlite3_stmt *s;

	cr_expect(!damaged_start(WAL_GONE, "WAL deleted after kill -9"),
	    "an intact database was moved aside");
	cr_assert_eq(sqlite3_open_v2(db_path(), &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		snprintf(ok, sizeof(ok), "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	fprintf(stderr, "row 7: WAL deleted after kill -9: integrity_check "
	    "%s\n", ok);
	cr_expect_str_eq(ok, "ok");
}

/* A client posting one event every 10 ms for secs; statuses counted. */
struct load {
	int	sent, ok, n503, no_retry_after, other;
	char	ids[4000][40];
	int	nids;
};

static void
load_for(struct load *l, double secs, const char *model)
{
	struct timespec	 t0, t, pause = { 0, 10 * 1000000 };
	struct http_res	*r = malloc(sizeof(*r));
	char		 body[128];
	const char	*p;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		snprintf(body, sizeof(body), "{\"model\":\"%s\"}", model);
		http_post(run.port, "/v1/traces", body, r);
		l->sent++;
		if (r->status == 202) {
			l->ok++;
			p = strstr(r->body, "\"trace_ids\":[\"");
			if (p != NULL && l->nids < 4000)
				snprintf(l->ids[l->nids++], 37, "%s", p + 14);
		} else if (r->status == 503) {
			l->n503++;
			l->no_retry_after += strstr(r->headers,
			    "Retry-After: ") == NULL;
		} else
			l->other++;
		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	free(r);
}

/* How many of l's 202 trace_ids are stored, and how many twice. */
static int
stored_of(struct load *l, int *twice)
{
	char		 sql[200];
	long long	 n;
	int		 i, in = 0;

	*twice = 0;
	for (i = 0; i < l->nids; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM llm_traces "
		    "WHERE trace_id = '%.36s'", l->ids[i]);
		n = db_int(&run, sql);
		in += n > 0;
		*twice += n > 1;
	}
	return in;
}

Test(faults_storage, a_foreign_write_lock_loses_nothing)
{
	static struct load	 l;
	sqlite3			*db;
	pid_t			 w;
	int			 in, twice, up;

	harness_setup(&run, NULL);
	harness_start(&run);
	w = harness_worker(&run, "writerd");
	cr_assert_eq(sqlite3_open_v2(db_path(), &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	load_for(&l, 10.0, "locked");
	cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	up = wait_s(commit_ok, 30);
	in = stored_of(&l, &twice);
	fprintf(stderr, "row 7: BEGIN IMMEDIATE held 10 s: %d sent, %d "
	    "answered 202, %d 503 (%d without Retry-After), %d other; %d of "
	    "the 202s stored, %d twice; writerd %s\n", l.sent, l.ok, l.n503,
	    l.no_retry_after, l.other, in, twice,
	    harness_worker(&run, "writerd") == w ? "not restarted" :
	    "RESTARTED");
	cr_expect(up, "commits do not resume after the lock");
	cr_expect_eq(in, l.nids, "%d events answered 202 lost", l.nids - in);
	cr_expect_eq(twice, 0);
	cr_expect_eq(l.no_retry_after, 0);
	cr_expect_eq(l.other, 0);
	cr_expect_eq(harness_worker(&run, "writerd"), w,
	    "writerd was restarted while the lock was held");
	cr_expect_gt(l.ok, 100);
}

Test(faults_storage, max_db_bytes_with_only_unsynced_rows)
{
	struct http_res	 r;
	char		*body = malloc(70000);
	int		 i, stored = 0, full = 0, bad = 0;
	long long	 rows;

	harness_setup(&run, "max_db_bytes = 1m\n");
	harness_start(&run);
	snprintf(body, 70000, "{\"model\":\"big\",\"input\":\"");
	memset(body + strlen(body), 'x', 60000);
	strcpy(body + 24 + 60000, "\"}");
	for (i = 0; i < 100 && full < 5; i++) {
		http_post(run.port, "/v1/traces?wait=commit", body, &r);
		if (r.status == 200)
			stored++;
		else if (r.status == 503 && strstr(r.body, "storage full") &&
		    strstr(r.headers, "Retry-After: "))
			full++;
		else
			bad++;
	}
	rows = db_int(&run, "SELECT count(*) FROM llm_traces");
	fprintf(stderr, "row 7: max_db_bytes 1 MiB, nothing synced: %d "
	    "stored, %d answered 503 storage full, %d other answers; %lld "
	    "rows in oct.db (none deleted)\n", stored, full, bad, rows);
	cr_expect_eq(full, 5, "storage never became full");
	cr_expect_geq(stored, 5);
	cr_expect_eq(bad, 0);
	cr_expect_eq(rows, stored, "unsynced rows deleted or refused ones "
	    "stored");
	free(body);
}

/* Fill the file system of dir, with file path, but for about keep bytes. */
static void
fill(const char *dir, const char *path, long long keep)
{
	static char	zeros[65536];
	struct statvfs	vfs;
	long long	left;
	ssize_t		n;
	int		fd;

	cr_assert_eq(statvfs(dir, &vfs), 0);
	left = (long long)vfs.f_bavail * (long long)vfs.f_frsize - keep;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd != -1);
	while (left > 0 && (n = write(fd, zeros, left < (long long)sizeof(zeros) ?
	    (size_t)left : sizeof(zeros))) > 0)
		left -= n;
	close(fd);
}

static int
writerd_says_full(void *arg)
{
	(void)arg;
	return harness_count(harness_log(&run, "writerd"),
	    "database or disk is full") > 0;
}

Test(faults_storage, a_full_disk_under_load_loses_nothing)
{
	static struct load	 l;
	char			 data[300], filler[320];
	int			 in, twice, full, up;

	if (geteuid() != 0)
		cr_skip_test("mounting a small tmpfs needs root");
	harness_setup(&run, NULL);
	snprintf(data, sizeof(data), "%s/data", run.dir);
	cr_assert_eq(mkdir(data, 0700), 0);
	cr_assert_eq(mount("tmpfs", data, "tmpfs", 0, "size=4m,mode=0700"), 0,
	    "mount: %s", strerror(errno));
	snprintf(mounted, sizeof(mounted), "%s", data);
	harness_start(&run);
	snprintf(filler, sizeof(filler), "%s/filler", data);
	fill(data, filler, 40 * 1024);
	load_for(&l, 5.0, "full");
	full = harness_wait(writerd_says_full, NULL, 10000);
	cr_assert_eq(unlink(filler), 0);
	up = wait_s(commit_ok, 30);
	in = stored_of(&l, &twice);
	fprintf(stderr, "row 7: disk full (4 MiB tmpfs) for 5 s of load: %d "
	    "sent, %d answered 202, %d 503 (%d without Retry-After), %d "
	    "other; writerd %s; after room again: %d of the 202s stored, %d "
	    "twice\n", l.sent, l.ok, l.n503, l.no_retry_after, l.other,
	    full ? "logged the full disk" : "said nothing", in, twice);
	cr_expect(full, "the disk never became full");
	cr_expect(up, "commits do not resume once there is room");
	cr_expect_eq(in, l.nids, "%d events answered 202 lost", l.nids - in);
	cr_expect_eq(twice, 0);
	cr_expect_eq(l.no_retry_after, 0);
	cr_expect_eq(l.other, 0);
}

/* The value on the line of /metrics that starts with name; -1: none. */
static long long
metric(const char *name)
{
	return (long long)harness_metric(run.port, name);
}

static char	recv_db[600];
static int	want_before, want_after;

static long long
received_model(const char *model)
{
	char	sql[200];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE "
	    "json_extract(data, '$.model') = '%s'", model);
	return file_int(recv_db, sql);
}

static int
before_delivered(void *arg)
{
	(void)arg;
	return received_model("before") == want_before && db_int(&run,
	    "SELECT count(*) FROM llm_traces WHERE synced_at IS NULL") == 0;
}

static int
after_delivered(void *arg)
{
	(void)arg;
	return received_model("after") == want_after;
}

static int
moved_said(void *arg)
{
	(void)arg;
	return harness_count(harness_log(&run, "writerd"), "moved aside to") >
	    0;
}

/* /metrics' push total is the fresh database's, all delivered. */
static int
metrics_fresh(void *arg)
{
	long long want = db_int(&run, "SELECT sent_total FROM push_state");

	(void)arg;
	return want >= want_after && metric("oct_push_sent_total") == want;
}

static int
pushd_configured(void *arg)
{
	(void)arg;
	return harness_count(harness_log(&run, "pushd"), "pushing to http") >
	    0;
}

/*
 * octd started, pushing every 100 ms to an oct-receiver storing in
 * recv_db (started here, once octd has made the signing key).
 */
static void
start_pushing(void)
{
	char	key[128], conf[600];
	int	port;

	harness_setup(&run, NULL);
	harness_start(&run);
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	receiver = harness_receiver(recv_db, key, &port);
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d/in\n"
	    "push_interval_ms = 100\n", port);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(pushd_configured, NULL, 10000));
}

/*
 * Make oct.db no database, writerd stopped (by the caller): its WAL
 * checkpointed into it, then its header overwritten, so that any open
 * sees it, whatever it reads.
 */
static void
unmake_db(void)
{
	sqlite3	*db;
	int	 fd;

	cr_assert_eq(sqlite3_open_v2(db_path(), &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cr_assert((fd = open(db_path(), O_WRONLY)) != -1);
	cr_assert_eq(pwrite(fd, "not a database!", 16, 0), 16);
	close(fd);
}

/*
 * oct.db damaged while octd runs: everything delivered and /metrics read
 * (so pushd and ingestd hold the file open), writerd stopped, the WAL
 * checkpointed into oct.db, its header overwritten, writerd killed: octd's
 * new writerd finds it damaged and moves it aside. The readers notice the
 * path is another file and open it again: events posted after are pushed,
 * and /metrics counts the fresh database's, with no worker restarted by
 * hand.
 */
Test(faults_storage, readers_follow_a_database_moved_aside)
{
	struct http_res	 r;
	pid_t		 wd, pd, ing;
	long long	 old_sent, sent, fresh, pushed;
	int		 i, moved, up, delivered, metrics_ok;
	int		 said_pd, said_ing;

	start_pushing();
	want_before = 300;
	for (i = 0; i < want_before; i++) {
		http_post(run.port, "/v1/traces", "{\"model\":\"before\"}",
		    &r);
		cr_assert_eq(r.status, 202, "%s", r.body);
	}
	cr_assert(harness_wait(before_delivered, NULL, 30000),
	    "the first events were not delivered");
	old_sent = metric("oct_push_sent_total");
	cr_assert_eq(old_sent, want_before);
	pd = harness_worker(&run, "pushd");
	ing = harness_worker(&run, "ingestd");

	/* the damage, with writerd stopped and its WAL in oct.db */
	wd = harness_worker(&run, "writerd");
	cr_assert_eq(kill(wd, SIGSTOP), 0);
	unmake_db();
	cr_assert_eq(kill(wd, SIGKILL), 0);
	moved = harness_wait(moved_said, NULL, 20000);
	up = wait_s(commit_ok, 30);
	cr_assert(moved && up, "writerd did not start a fresh database "
	    "(moved %d, committing %d)", moved, up);

	want_after = 20;
	for (i = 0; i < want_after; i++) {
		http_post(run.port, "/v1/traces", "{\"model\":\"after\"}",
		    &r);
		cr_expect_eq(r.status, 202, "%s", r.body);
	}
	delivered = harness_wait(after_delivered, NULL, 20000);
	metrics_ok = harness_wait(metrics_fresh, NULL, 10000);
	pushed = received_model("after");
	sent = metric("oct_push_sent_total");
	fresh = db_int(&run, "SELECT sent_total FROM push_state");
	said_pd = harness_count(harness_log(&run, "pushd"),
	    "is another file than the one opened");
	said_ing = harness_count(harness_log(&run, "ingestd"),
	    "is another file than the one opened");
	fprintf(stderr, "row 7: oct.db's header overwritten while octd runs, "
	    "writerd restarted onto it: moved aside; %lld of %d events posted "
	    "after pushed; /metrics oct_push_sent_total %lld (fresh oct.db "
	    "%lld, moved one %lld); pushd %s, said so %d time(s); ingestd %s, "
	    "said so %d time(s)\n", pushed, want_after, sent, fresh, old_sent,
	    harness_worker(&run, "pushd") == pd ? "not restarted" :
	    "RESTARTED", said_pd, harness_worker(&run, "ingestd") == ing ?
	    "not restarted" : "RESTARTED", said_ing);
	cr_expect(delivered, "pushd still reads the moved file: %lld of %d "
	    "new events pushed", pushed, want_after);
	cr_expect(metrics_ok, "/metrics reads the moved file: "
	    "oct_push_sent_total %lld, the fresh oct.db says %lld", sent, fresh);
	cr_expect_eq(harness_worker(&run, "pushd"), pd, "pushd restarted");
	cr_expect_eq(harness_worker(&run, "ingestd"), ing,
	    "ingestd restarted");
	cr_expect_eq(said_pd, 1, "pushd said it %d times", said_pd);
	cr_expect_eq(said_ing, 1, "ingestd said it %d times", said_ing);
}

static int	want_old;

static int
old_received(void *arg)
{
	(void)arg;
	return received_model("old") == want_old;
}

static int
old_committed(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT count(*) FROM llm_traces WHERE model = "
	    "'old'") == want_old;
}

static int
mid_committed(void *arg)
{
	(void)arg;
	return db_int(&run, "SELECT count(*) FROM llm_traces WHERE model = "
	    "'mid'") == *(int *)arg;
}

static int
mid_after_delivered(void *arg)
{
	(void)arg;
	return received_model("mid") == *(int *)arg &&
	    received_model("after") == want_after;
}

/*
 * Rows of the fresh oct.db marked synced that oct-receiver does not
 * hold (*synced: how many are marked synced in all).
 */
static int
synced_not_received(long long *synced)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	char		 sql[200];
	int		 lost = 0;

	*synced = 0;
	cr_assert_eq(sqlite3_open_v2(db_path(), &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT trace_id FROM llm_traces "
	    "WHERE synced_at IS NOT NULL", -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		(*synced)++;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE "
		    "trace_id = '%.36s'", sqlite3_column_text(s, 0));
		lost += file_int(recv_db, sql) != 1;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return lost;
}

/*
 * Marks outstanding when oct.db is moved aside: pushd has delivered rows
 * of the old file and handed writerd their sync marks (writerd stopped,
 * so they wait unacknowledged), the file is damaged and writerd killed;
 * octd's new writerd moves it aside and commits, in the fresh file, the
 * events ingestd answered 202 meanwhile (ids from 1 again, like the old
 * rows'). Only then does pushd (stopped meanwhile) get its channel to
 * the new writerd and send the waiting marks again. None may be applied
 * to the fresh file: every row synced there is one oct-receiver holds,
 * and every event posted during and after is delivered.
 */
Test(faults_storage, marks_of_a_file_moved_aside_touch_no_fresh_row)
{
	struct http_res	 r;
	pid_t		 wd, pd;
	long long	 synced;
	int		 i, want_mid, delivered, lost, said;

	start_pushing();

	/* rows 1..want_old of the old file, committed, not pushed yet */
	pd = harness_worker(&run, "pushd");
	cr_assert_eq(kill(pd, SIGSTOP), 0);
	want_old = 20;
	for (i = 0; i < want_old; i++) {
		http_post(run.port, "/v1/traces", "{\"model\":\"old\"}", &r);
		cr_assert_eq(r.status, 202, "%s", r.body);
	}
	cr_assert(harness_wait(old_committed, NULL, 10000));
	/* pushd delivers them; their marks wait for a stopped writerd */
	wd = harness_worker(&run, "writerd");
	cr_assert_eq(kill(wd, SIGSTOP), 0);
	cr_assert_eq(kill(pd, SIGCONT), 0);
	cr_assert(harness_wait(old_received, NULL, 10000),
	    "the old rows were not pushed");

	/* the damage, as in readers_follow_a_database_moved_aside */
	unmake_db();

	/* events accepted meanwhile; the fresh file has them before pushd */
	cr_assert_eq(kill(pd, SIGSTOP), 0);
	want_mid = want_old;
	for (i = 0; i < want_mid; i++) {
		http_post(run.port, "/v1/traces", "{\"model\":\"mid\"}", &r);
		cr_expect_eq(r.status, 202, "%s", r.body);
	}
	cr_assert_eq(kill(wd, SIGKILL), 0);
	cr_assert(harness_wait(moved_said, NULL, 10000), "not moved aside");
	cr_assert(harness_wait(mid_committed, &want_mid, 10000),
	    "the events accepted meanwhile are not in the fresh file");
	cr_assert_eq(kill(pd, SIGCONT), 0);

	want_after = 20;
	for (i = 0; i < want_after; i++) {
		http_post(run.port, "/v1/traces", "{\"model\":\"after\"}",
		    &r);
		cr_expect_eq(r.status, 202, "%s", r.body);
	}
	delivered = harness_wait(mid_after_delivered, &want_mid, 20000);
	lost = synced_not_received(&synced);
	said = harness_count(harness_log(&run, "writerd"), "another database");
	fprintf(stderr, "row 7: sync marks of %d rows outstanding when oct.db "
	    "was moved aside: %lld of %d events accepted meanwhile and %lld "
	    "of %d posted after delivered; fresh oct.db: %lld rows synced, "
	    "%d of them not delivered; writerd said it dropped marks %d "
	    "time(s)\n", want_old, received_model("mid"), want_mid,
	    received_model("after"), want_after, synced, lost, said);
	cr_expect_eq(lost, 0, "%d rows of the fresh oct.db marked synced by "
	    "the old file's marks, never delivered", lost);
	cr_expect(delivered, "%lld of %d events accepted meanwhile, %lld of "
	    "%d posted after delivered", received_model("mid"), want_mid,
	    received_model("after"), want_after);
	cr_expect_eq(said, 1, "writerd said it dropped marks %d times", said);
	cr_expect_eq(harness_worker(&run, "pushd"), pd, "pushd restarted");
}

static int	after_ok;	/* "after" events answered 200 or 202 */

/* One "after" event with wait=commit: 1 if answered 200. */
static int
after_committed(void *arg)
{
	struct http_res	r;

	(void)arg;
	if (http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"after\"}", &r) == 0 && (r.status == 200 ||
	    r.status == 202))
		after_ok++;
	return r.status == 200;
}

/*
 * A damage the open does not see: octd running, its WAL checkpointed into
 * oct.db and the file cut in half while writerd is stopped; then writerd
 * is let go on (sig SIGCONT) or killed (SIGKILL: the next writerd opens
 * the cut file, and reads a stream's cursor from it when ingestd says
 * hello). Either way only a later read or commit finds the damage
 * ("database disk image is malformed"). writerd must do what it does at
 * open: move the file aside byte for byte, say so once, start a fresh one
 * and commit there what it was answered for, within seconds, without a
 * crash loop.
 */
static void
damage_found_later(int sig)
{
	struct http_res	 r;
	struct timespec	 t0, t1;
	unsigned char	*before, *after;
	size_t		 blen, alen;
	pid_t		 wd;
	sqlite3		*db;
	struct stat	 sb;
	int		 i, up, starts, said, same = 0;
	long long	 stored = -1;
	const char	*moved;
	double		 secs;

	harness_setup(&run, NULL);
	harness_start(&run);
	for (i = 0; i < 300; i++) {
		http_post(run.port, "/v1/traces",
		    "{\"model\":\"before\",\"input\":\"xxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", &r);
		cr_assert_eq(r.status, 202, "%s", r.body);
	}
	cr_assert(wait_s(commit_ok, 10));

	/* the damage: writerd stopped, its WAL in oct.db, the file cut */
	wd = harness_worker(&run, "writerd");
	cr_assert_eq(kill(wd, SIGSTOP), 0);
	cr_assert_eq(sqlite3_open_v2(db_path(), &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cr_assert_eq(stat(db_path(), &sb), 0);
	cr_assert_eq(truncate(db_path(), sb.st_size / 2), 0);
	before = slurp_bin(db_path(), &blen);
	if (sig == SIGKILL)
		cr_assert_eq(kill(wd, SIGCONT), 0);
	cr_assert_eq(kill(wd, sig), 0);

	/* events after it: 202 at once, then a wait=commit within 10 s */
	after_ok = 0;
	for (i = 0; i < 20; i++) {
		http_post(run.port, "/v1/traces", "{\"model\":\"after\"}", &r);
		if (r.status == 200 || r.status == 202)
			after_ok++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	up = wait_s(after_committed, 10);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	starts = harness_count(harness_log(&run, "writerd"), "started: ");
	said = harness_count(harness_log(&run, "writerd"), "moved aside to");
	moved = damaged_name();
	if (moved[0] != '\0') {
		after = slurp_bin(moved, &alen);
		same = alen == blen && memcmp(before, after, blen) == 0;
		free(after);
	}
	if (up)
		stored = db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
		    "model = 'after'");
	fprintf(stderr, "row 7: oct.db cut in half while octd runs, writerd "
	    "%s: %s; a wait=commit answered 200 %s %.1f s; writerd started %d time(s) "
	    "after the damage, %d line(s) saying so; %s; %lld of %d events "
	    "answered 200/202 after the damage in the fresh oct.db\n",
	    sig == SIGKILL ? "killed" : "let go on", moved[0] != '\0' ? "moved aside" : "NOT moved aside",
	    up ? "after" : "NOT within", secs, starts - 1, said,
	    moved[0] == '\0' ? "no copy" : same ? "copy byte for byte" :
	    "copy DIFFERS", stored, after_ok);
	cr_expect(up, "no wait=commit answered 200 in 10 s after the damage");
	cr_expect_neq(moved[0], '\0', "the damaged file was not moved aside");
	cr_expect(same, "the damaged file was not kept byte for byte");
	cr_expect_eq(said, 1, "the move was said %d times", said);
	cr_expect_leq(starts - 1, 1, "writerd started %d times: a crash loop",
	    starts - 1);
	cr_expect(run.pid != 0 && !harness_reaped(&run), "octd exited");
	cr_expect_eq(stored, after_ok, "%lld of %d events answered after the "
	    "damage in the fresh oct.db", stored, after_ok);
	free(before);
}

Test(faults_storage, damage_found_by_a_commit_is_moved_aside)
{
	damage_found_later(SIGCONT);
}

Test(faults_storage, damage_found_by_the_next_writerd_is_moved_aside)
{
	damage_found_later(SIGKILL);
}
