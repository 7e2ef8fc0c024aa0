/*
 * test_crashloop.c: fault row 3, a worker that dies at once, for two
 * minutes. octd is started on a libexec directory of its own where
 * oct-writerd is a script that exits 1; ingestd and pushd are the real
 * ones. The row counts spawns from octd's log: no more than 12 in the
 * first minute, the delay grows to the 30 s cap, every death is logged,
 * the other workers are never restarted, and once the real writerd is put
 * back it is running and committing within 30 s.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../harness.h"

static struct octd_run	run;
static char		libexec[300];

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(faults_crashloop, .fini = teardown, .timeout = 240);

static void
link_real(const char *name)
{
	char	path[400], tmp[420];

	snprintf(path, sizeof(path), "%s/%s", libexec, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	cr_assert_eq(symlink(harness_bin(name), tmp), 0, "%s", strerror(errno));
	cr_assert_eq(rename(tmp, path), 0);	/* one step, as an upgrade */
}

static void
start_octd(void)
{
	pid_t	pid;

	if ((pid = fork()) == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("OCT_LIBEXEC_DIR", libexec, 1);
		freopen("/dev/null", "w", stdout);
		execl(harness_bin("octd"), "octd", "-f", "-c", run.conf,
		    (char *)NULL);
		_exit(127);
	}
	cr_assert(pid > 0);
	setpgid(pid, pid);
	run.pid = pid;
}

static int
count(const char *needle)
{
	return harness_count(harness_log(&run, "octd"), needle);
}

static int
others_ready(void *arg)
{
	(void)arg;
	return count("] ready") >= 2;
}

static int
writerd_back(void *arg)
{
	struct http_res	r;

	(void)arg;
	return http_post(run.port,
	    "/v1/traces?wait=commit", "{\"model\":\"back\"}", &r) == 0 &&
	    r.status == 200;
}

static int
octd_gone(void *arg)
{
	(void)arg;
	return harness_reaped(&run);
}

static double
since(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

Test(faults_crashloop, a_worker_dying_at_once_is_throttled_and_recovers)
{
	struct timespec	 t0;
	char		 path[400];
	FILE		*f;
	pid_t		 ingestd, pushd;
	int		 spawns_60, spawns, deaths, capped;
	double		 fixed_at;

	harness_setup(&run, NULL);
	snprintf(libexec, sizeof(libexec), "%s/libexec", run.dir);
	cr_assert_eq(mkdir(libexec, 0755), 0);
	link_real("oct-ingestd");
	link_real("oct-pushd");
	snprintf(path, sizeof(path), "%s/oct-writerd", libexec);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\nexit 1\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	start_octd();
	cr_assert(harness_wait(others_ready, NULL, 10000),
	    "ingestd and pushd ready while writerd cannot start");
	ingestd = harness_worker(&run, "ingestd");
	pushd = harness_worker(&run, "pushd");
	cr_assert(ingestd != 0 && pushd != 0);

	while (since(&t0) < 60)
		cr_assert(!harness_wait(octd_gone, NULL, 1000), "octd exited");
	spawns_60 = count("started writerd");
	while (since(&t0) < 120)
		cr_assert(!harness_wait(octd_gone, NULL, 1000), "octd exited");
	spawns = count("started writerd");
	deaths = count("exited with status 1; restarting");
	capped = count("restarting in 30000 ms");

	link_real("oct-writerd");
	fixed_at = since(&t0);
	cr_assert(harness_wait(writerd_back, NULL, 35000),
	    "writerd not committing within 35 s of the fix");
	fprintf(stderr, "row 3: %d spawns in the first 60 s, %d in 120 s, %d "
	    "deaths logged, %d at the 30 s cap; recovered %.1f s after the "
	    "fix\n", spawns_60, spawns, deaths, capped,
	    since(&t0) - fixed_at);
	cr_expect_leq(spawns_60, 12, "%d spawns in the first minute",
	    spawns_60);
	cr_expect_geq(capped, 1, "the delay never reached the 30 s cap");
	cr_expect_geq(deaths, spawns, "%d spawns, %d deaths logged", spawns,
	    deaths);
	cr_expect_eq(harness_worker(&run, "ingestd"), ingestd,
	    "ingestd was restarted");
	cr_expect_eq(harness_worker(&run, "pushd"), pushd,
	    "pushd was restarted");
}
