/*
 * test_clock.c: fault row 8, a wrong clock. pushd runs under libfaketime
 * (only oct-pushd: FAKETIME_ONLY_CMDS; its monotonic clock left real),
 * its wall clock read from a file the test rewrites: ten minutes ahead of
 * oct-receiver, every push is refused 401 (timestamp outside the window),
 * the rows stay unsynced and not dead, and pushd's log and push-status's
 * last collector error say "clock skew?". Then a jump of a day forward
 * while pushd waits out its pause: no burst of requests (the pause is on
 * CLOCK_MONOTONIC; one request per pause). Back to the real clock: all
 * delivered within 2 minutes. And a clock that goes back: rows that failed
 * while pushd's clock was a day ahead (stored next_push_at a day ahead)
 * are pushed within push_backoff_cap_ms once the clock is corrected and
 * the collector heals (a reload, so a new pushd), not a day later.
 * Skipped without libfaketime.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../harness.h"

#define FAKETIME_LIB	"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
#define EVENTS		40

static struct octd_run	run;
static pid_t		receiver;
static char		recv_db[600], clockfile[600];

static void
teardown(void)
{
	if (receiver > 0) {
		kill(receiver, SIGKILL);
		waitpid(receiver, NULL, 0);
	}
	harness_teardown(&run);
}

TestSuite(faults_clock, .fini = teardown, .timeout = 240);

static double
now_s(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * Under the sanitizers (--enable-sanitizers) ASan insists on being the
 * first library loaded; with libfaketime preloaded it must be told not to.
 */
static void
asan_after_preload(void)
{
	const char	*old = getenv("ASAN_OPTIONS");
	char		 opts[512];

	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
	    old != NULL ? old : "", old != NULL && *old != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

static void
set_clock(const char *offset)
{
	FILE	*f = fopen(clockfile, "w");

	cr_assert_not_null(f);
	fprintf(f, "%s\n", offset);
	fclose(f);
}

static int
refusals(void)
{
	return harness_count(harness_log(&run, "pushd"),
	    "collector refused the request");
}

static int
skew_said(void)
{
	return harness_count(harness_log(&run, "pushd"), "clock skew?");
}

static int
refused_thrice(void *arg)
{
	(void)arg;
	return refusals() >= 3;
}

static int
all_delivered(void *arg)
{
	(void)arg;
	return harness_received(recv_db) == EVENTS &&
	    harness_rows(&run, &(struct row_match){ .synced = ROW_YES }) ==
	    EVENTS;
}

/* octd started with pushd's wall clock at offset (libfaketime's syntax). */
static void
start_faked(const char *offset)
{
	if (access(FAKETIME_LIB, R_OK) != 0)
		cr_skip_test("no libfaketime (Debian libfaketime)");
	harness_setup(&run, NULL);
	snprintf(clockfile, sizeof(clockfile), "%s/faketime", run.dir);
	set_clock(offset);
	setenv("LD_PRELOAD", FAKETIME_LIB, 1);
	setenv("FAKETIME_ONLY_CMDS", "oct-pushd", 1);
	setenv("FAKETIME_TIMESTAMP_FILE", clockfile, 1);
	setenv("FAKETIME_NO_CACHE", "1", 1);
	setenv("DONT_FAKE_MONOTONIC", "1", 1);
	asan_after_preload();
	harness_start(&run);
	unsetenv("LD_PRELOAD");
}

/*
 * Reload with pushing to port, small batches, a 1 s backoff cap (a new
 * pushd).
 */
static void
push_to(int port)
{
	char conf[600];

	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d/in\n"
	    "push_interval_ms = 100\npush_batch_size = 4\n"
	    "push_backoff_base_ms = 100\npush_backoff_cap_ms = 1000\n", port);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
}

/* EVENTS traces of model, each answered 202. */
static void
post_events(const char *model)
{
	struct http_res	r;
	char		body[100];
	int		i;

	snprintf(body, sizeof(body), "{\"model\":\"%s\"}", model);
	for (i = 0; i < EVENTS; i++) {
		http_post(run.port, "/v1/traces", body, &r);
		cr_assert_eq(r.status, 202);
	}
}

Test(faults_clock, a_skewed_pusher_is_told_and_drains_once_fixed)
{
	char		 key[128], err[600];
	long long	 at, synced, dead, got;
	int		 port, before, jump, drained;
	double		 t0;

	start_faked("+10m");
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	receiver = harness_receiver(recv_db, key, &port);
	push_to(port);
	post_events("skew");

	/* ten minutes ahead: refused, told */
	/* a few refusals: each followed by a push_backoff_cap_ms pause */
	cr_assert(harness_wait(refused_thrice, NULL, 15000),
	    "pushd was not refused three times");
	harness_push_state(&run, &at, err, sizeof(err));
	got = harness_received(recv_db);
	synced = harness_rows(&run, &(struct row_match){ .synced = ROW_YES });
	dead = harness_rows(&run, &(struct row_match){ .dead = ROW_YES });
	fprintf(stderr, "row 8: pushd 10 min ahead: %d refusals logged, %d "
	    "with \"clock skew?\"; receiver has %lld, %lld synced, %lld dead; "
	    "push-status last error: %s\n", refusals(), skew_said(), got,
	    synced, dead, err);
	cr_expect_eq(skew_said(), refusals(), "a refusal without the hint");
	cr_expect_eq(got, 0);
	cr_expect_eq(synced, 0);
	cr_expect_eq(dead, 0);
	cr_expect(strstr(err, "clock skew?") != NULL, "last error: %s", err);
	cr_expect(strstr(err, "timestamp") != NULL, "last error: %s", err);

	/* a day forward during the pause: still one request per pause */
	before = refusals();
	set_clock("+1d");
	sleep(5);	/* the window requests are counted in, not a wait */
	jump = refusals() - before;
	fprintf(stderr, "row 8: clock jumped a day forward: %d requests in "
	    "the next 5 s (pause 1 s)\n", jump);
	cr_expect_leq(jump, 7, "a burst of %d requests after the jump", jump);

	/* the real clock again */
	set_clock("+0");
	t0 = now_s();
	drained = harness_wait(all_delivered, NULL, 120000);
	dead = harness_rows(&run, &(struct row_match){ .dead = ROW_YES });
	fprintf(stderr, "row 8: back to the real clock: %s in %.1f s; "
	    "receiver has %lld of %d, %lld dead\n", drained ? "drained" :
	    "NOT drained", now_s() - t0, harness_received(recv_db), EVENTS,
	    dead);
	cr_expect(drained, "not drained within 2 minutes");
	cr_expect_eq(dead, 0);
}

static int
failed_rows(void *arg)
{
	(void)arg;
	return harness_rows(&run, &(struct row_match){ .scheduled = ROW_YES,
	    .synced = ROW_NO }) >= 4;
}

/*
 * Backward: pushd's clock a day ahead while the collector is down (nothing
 * listens at push_url), so the rows that fail are stored with next_push_at
 * a day ahead of the real time. The clock is put right (a jump back of a
 * day), the collector comes up and the config is reloaded to point at it,
 * which starts a new pushd (as a crash or a reboot would): it has no
 * retry held in memory, only what oct.db says. Every row is delivered
 * within a few push_backoff_cap_ms, none waits out the day.
 */
Test(faults_clock, a_clock_gone_back_delays_no_failed_row)
{
	char		 key[128];
	long long	 failed, dead;
	int		 port, drained;
	double		 t0, took;

	start_faked("+1d");
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	push_to(harness_free_port());
	post_events("back");
	cr_assert(harness_wait(failed_rows, NULL, 15000),
	    "no push failed while the collector was down");
	failed = harness_rows(&run, &(struct row_match){ .scheduled = ROW_YES,
	    .synced = ROW_NO });

	/* the clock put right, the collector up, a new pushd */
	set_clock("+0");
	receiver = harness_receiver(recv_db, key, &port);
	t0 = now_s();
	push_to(port);
	drained = harness_wait(all_delivered, NULL, 20000);
	took = now_s() - t0;
	dead = harness_rows(&run, &(struct row_match){ .dead = ROW_YES });
	fprintf(stderr, "row 8: clock back a day after %lld rows failed with "
	    "pushd a day ahead: %s in %.1f s after the collector healed (cap "
	    "1 s); receiver has %lld of %d, %lld dead\n", failed, drained ?
	    "drained" : "NOT drained", took, harness_received(recv_db),
	    EVENTS, dead);
	cr_expect(drained, "%lld events still wait out the day the clock went "
	    "back", EVENTS - harness_received(recv_db));
	cr_expect_eq(dead, 0);
}
