/*
 * test_octd.c: the supervisor, for real: octd started on a temp config,
 * workers killed, stopped and reloaded, checked from outside through
 * /proc, the pid file and the logs, as an operator would.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define logpath(name)	harness_log(&run, name)
#define worker(name)	harness_worker(&run, name)

static struct octd_run run;

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(octd, .fini = teardown, .timeout = 60);

static int
is_gone(void *arg)
{
	pid_t	 pid = *(pid_t *)arg;
	char	 path[64], buf[256], *p;
	FILE	*f;
	int	 zombie = 0;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')))
		zombie = p[2] == 'Z';
	fclose(f);
	return zombie;
}

static int
octd_exited(void *arg)
{
	return harness_reaped(arg);
}

Test(octd, starts_four_processes_and_makes_its_files)
{
	struct stat	 st;
	char		 path[512], *pidtext;

	harness_setup(&run, NULL);
	harness_start(&run);
	cr_assert_neq(worker("ingestd"), 0);
	cr_assert_neq(worker("writerd"), 0);
	cr_assert_neq(worker("pushd"), 0);
	snprintf(path, sizeof(path), "%s/run/octd.pid", run.dir);
	pidtext = harness_slurp(path);
	cr_assert_not_null(pidtext);
	cr_assert_eq(atol(pidtext), (long)run.pid);
	free(pidtext);
	snprintf(path, sizeof(path), "%s/data", run.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/log", run.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0750);
	snprintf(path, sizeof(path), "%s/run", run.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0755);
	snprintf(path, sizeof(path), "%s/data/signing.key", run.dir);
	cr_assert_eq(stat(path, &st), 0, "signing key made on first start");
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(harness_count(logpath("octd"), "created signing key"), 1);
	cr_assert_eq(harness_count(logpath("writerd"), "info: started: "), 1,
	    "each worker writes its own log");
}

static void
kill9_restarts(const char *name)
{
	struct harness_replace	r = { &run, name, 0 };

	harness_setup(&run, NULL);
	harness_start(&run);
	r.old = worker(name);
	cr_assert_neq(r.old, 0);
	cr_assert_eq(kill(r.old, SIGKILL), 0);
	cr_assert(harness_wait(harness_replaced, &r, 1000),
	    "%s was not replaced within 1 s", name);
	cr_assert_eq(harness_count_facts(logpath("octd"), "warn:",
	    harness_who(name, r.old), "signal 9", "KILL", "100 ms", NULL), 1,
	    "no warning that %s was killed by signal 9 and comes back in "
	    "100 ms", harness_who(name, r.old));
}

Test(octd, kill9_ingestd_is_restarted) { kill9_restarts("ingestd"); }
Test(octd, kill9_writerd_is_restarted) { kill9_restarts("writerd"); }
Test(octd, kill9_pushd_is_restarted) { kill9_restarts("pushd"); }

Test(octd, restarts_back_off_when_a_worker_keeps_dying)
{
	struct harness_replace	r = { &run, "pushd", 0 };
	int			i;

	harness_setup(&run, NULL);
	harness_start(&run);
	for (i = 0; i < 3; i++) {
		r.old = worker("pushd");
		cr_assert_eq(kill(r.old, SIGKILL), 0);
		cr_assert(harness_wait(harness_replaced, &r, 2000));
	}
	cr_assert_eq(harness_count(logpath("octd"), "restarting in 100 ms"), 1);
	cr_assert_eq(harness_count(logpath("octd"), "restarting in 200 ms"), 1);
	cr_assert_eq(harness_count(logpath("octd"), "restarting in 400 ms"), 1);
}

Test(octd, a_stopped_worker_is_replaced, .timeout = 40)
{
	struct harness_replace	r = { &run, "writerd", 0 };

	harness_setup(&run, NULL);
	harness_start(&run);
	r.old = worker("writerd");
	cr_assert_eq(kill(r.old, SIGSTOP), 0);
	cr_assert(harness_wait(harness_replaced, &r, 20000),
	    "a stopped writerd was not replaced within 20 s");
	cr_assert_eq(harness_count(logpath("octd"), "has not answered for"), 1);
	cr_assert_eq(harness_count(logpath("octd"), "(no heartbeat for 15 s)"),
	    1);
}

static int
log_has_refusal(void *arg)
{
	(void)arg;
	return harness_count(logpath("octd"), "reload refused") > 0;
}

Test(octd, hup_with_a_broken_config_keeps_the_old_one)
{
	pid_t	ing, wri, pus;
	char	at[600];

	harness_setup(&run, NULL);
	harness_start(&run);
	ing = worker("ingestd");
	wri = worker("writerd");
	pus = worker("pushd");
	harness_write_conf(&run, "batch_max = 10\nmax_body_bytes = lots\n");
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(log_has_refusal, NULL, 5000));
	snprintf(at, sizeof(at), "%s:7:", run.conf);
	cr_assert_eq(harness_count_facts(logpath("octd"), "error:",
	    "reload refused", at, "max_body_bytes", "bad size", NULL), 1,
	    "no refusal naming %s max_body_bytes", at);
	cr_assert_eq(worker("ingestd"), ing, "no worker restarted");
	cr_assert_eq(worker("writerd"), wri);
	cr_assert_eq(worker("pushd"), pus);
	cr_assert(!harness_reaped(&run), "octd still runs");
}

static int
writerd_reloaded(void *arg)
{
	(void)arg;
	return harness_count_facts(logpath("octd"), "writerd[",
	    "stopped for reload", NULL) == 1 &&
	    harness_count(logpath("octd"), "] ready") >= 4;
}

Test(octd, hup_with_a_good_config_restarts_only_whom_it_concerns)
{
	pid_t	ing, wri, pus, now;

	harness_setup(&run, NULL);
	harness_start(&run);
	ing = worker("ingestd");
	wri = worker("writerd");
	pus = worker("pushd");
	harness_write_conf(&run, "batch_max = 10\n");
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(writerd_reloaded, NULL, 5000));
	now = worker("writerd");
	cr_assert(now != 0 && now != wri, "writerd restarted with batch_max");
	cr_assert_eq(worker("ingestd"), ing, "ingestd kept");
	cr_assert_eq(worker("pushd"), pus, "pushd kept");
	cr_assert_eq(harness_count(logpath("octd"), "restarting writerd"), 1);
	cr_assert_eq(harness_count(logpath("octd"), "killed by"), 0,
	    "a reload is no crash");
}

Test(octd, term_stops_everything_and_exits_0)
{
	pid_t	pids[3];
	char	path[512];
	int	i;

	harness_setup(&run, NULL);
	harness_start(&run);
	pids[0] = worker("ingestd");
	pids[1] = worker("writerd");
	pids[2] = worker("pushd");
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(octd_exited, &run, 10000));
	cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0,
	    "octd exit status 0x%x", run.status);
	for (i = 0; i < 3; i++)
		cr_assert(harness_wait(is_gone, &pids[i], 2000),
		    "worker %ld outlived octd", (long)pids[i]);
	snprintf(path, sizeof(path), "%s/run/octd.pid", run.dir);
	cr_assert_eq(access(path, F_OK), -1, "pid file removed");
	/* In order: ingestd first, then pushd, writerd last. */
	{
		char	*text = harness_slurp(logpath("octd"));
		char	 want[3][64];
		char	*at[3];

		cr_assert_not_null(text);
		snprintf(want[0], sizeof(want[0]), "ingestd[%ld] stopped",
		    (long)pids[0]);
		snprintf(want[1], sizeof(want[1]), "pushd[%ld] stopped",
		    (long)pids[2]);
		snprintf(want[2], sizeof(want[2]), "writerd[%ld] stopped",
		    (long)pids[1]);
		for (i = 0; i < 3; i++) {
			at[i] = strstr(text, want[i]);
			cr_assert_not_null(at[i], "no \"%s\"", want[i]);
		}
		cr_assert(at[0] < at[1] && at[1] < at[2], "stop order");
		free(text);
	}
}

Test(octd, workers_leave_when_octd_is_killed)
{
	pid_t	pids[3];
	int	i;

	harness_setup(&run, NULL);
	harness_start(&run);
	pids[0] = worker("ingestd");
	pids[1] = worker("writerd");
	pids[2] = worker("pushd");
	cr_assert_eq(kill(run.pid, SIGKILL), 0);
	cr_assert(harness_wait(octd_exited, &run, 5000));
	for (i = 0; i < 3; i++)
		cr_assert(harness_wait(is_gone, &pids[i], 5000),
		    "worker %ld outlived a killed octd", (long)pids[i]);
}

Test(octd, a_second_octd_on_the_same_run_dir_is_refused)
{
	char	out[2048], pid[32], path[600];
	char	*argv[] = { (char *)harness_bin("octd"), "-f", "-c", run.conf,
		    NULL };

	harness_setup(&run, NULL);
	harness_start(&run);
	argv[3] = run.conf;
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 1);
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)run.pid);
	snprintf(path, sizeof(path), "%s/run/octd.pid", run.dir);
	cr_assert(strncmp(out, "octd: ", 6) == 0 &&
	    harness_has_facts(out, "another octd", pid, path, NULL),
	    "names the running octd and its pid file: %s", out);
	cr_assert_eq(harness_count(logpath("octd"), "starting with"), 1);
}

static int
logs_reopened(void *arg)
{
	(void)arg;
	return harness_count(logpath("octd"), "log reopened") == 1 &&
	    harness_count(logpath("ingestd"), "log reopened") == 1 &&
	    harness_count(logpath("writerd"), "log reopened") == 1 &&
	    harness_count(logpath("pushd"), "log reopened") == 1;
}

Test(octd, usr1_reopens_every_log)
{
	const char	*names[] = { "octd", "ingestd", "writerd", "pushd" };
	char		 rotated[600];
	int		 i;

	harness_setup(&run, NULL);
	harness_start(&run);
	for (i = 0; i < 4; i++) {
		snprintf(rotated, sizeof(rotated), "%s.1", logpath(names[i]));
		cr_assert_eq(rename(logpath(names[i]), rotated), 0);
	}
	cr_assert_eq(kill(run.pid, SIGUSR1), 0);
	cr_assert(harness_wait(logs_reopened, NULL, 5000),
	    "every process writes to a new file");
	snprintf(rotated, sizeof(rotated), "%s.1", logpath("octd"));
	cr_assert_eq(harness_count(rotated, "log reopened"), 0);
}

/* The background octd of run, by its pid file (why: that it has one). */
static void
stop_background(const char *why)
{
	char	 path[512], *pidtext;
	pid_t	 pid;

	snprintf(path, sizeof(path), "%s/run/octd.pid", run.dir);
	pidtext = harness_slurp(path);
	cr_assert_not_null(pidtext, "%s", why);
	pid = (pid_t)atol(pidtext);
	free(pidtext);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert(harness_wait(is_gone, &pid, 10000));
}

Test(octd, background_start_returns_once_up)
{
	char		 out[2048];
	char		*argv[] = { (char *)harness_bin("octd"), "-c", NULL, NULL };
	struct http_res	 res;

	harness_setup(&run, NULL);
	argv[2] = run.conf;
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &res),
	    0, "the port is bound before octd returns");
	cr_assert_eq(res.status, 200);
	stop_background("pid file written before octd returned");
}

/* ingestd cannot bind: octd says so and exits 1, and goes on trying. */
Test(octd, background_start_reports_a_worker_that_fails)
{
	struct sockaddr_in	 sin;
	char			 out[2048];
	char			*argv[] = { (char *)harness_bin("octd"), "-c", NULL,
				    NULL };
	int			 fd;

	harness_setup(&run, NULL);
	argv[2] = run.conf;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)run.port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd != -1 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    listen(fd, 1) == 0, "hold the port");
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 1, "%s", out);
	close(fd);
	cr_assert(strncmp(out, "octd: ingestd[", 14) == 0 &&
	    harness_has_facts(out, "status 1", "while starting", "octd (pid ",
	    NULL), "%s", out);
	stop_background("the daemon goes on");
}

Test(octd, check_flag_refuses_a_key_others_can_read)
{
	char	 out[2048], path[512];
	char	*argv[] = { (char *)harness_bin("octd"), "-t", "-c", NULL, NULL };
	FILE	*f;

	harness_setup(&run, NULL);
	argv[3] = run.conf;
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 0, "%s", out);
	snprintf(path, sizeof(path), "%s/data", run.dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/data/signing.key", run.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 1);
	cr_assert(strncmp(out, "octd: ", 6) == 0 &&
	    harness_has_facts(out, run.conf, path, "0644", "chmod 600", NULL),
	    "names the file, the key, its mode and the fix: %s", out);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 0, "%s", out);
}

/* Whether pid maps a library whose file name has name in it. */
static int
maps_library(pid_t pid, const char *name)
{
	char	 path[64], *maps;
	int	 found;

	snprintf(path, sizeof(path), "/proc/%ld/maps", (long)pid);
	maps = harness_slurp(path);
	cr_assert_not_null(maps);
	cr_assert(strstr(maps, "libc.so") != NULL, "maps read");
	found = strstr(maps, name) != NULL;
	free(maps);
	return found;
}

/* Whether pid's environment holds the entry var=value. */
static int
environ_has(pid_t pid, const char *entry)
{
	char	 path[64], buf[65536];
	size_t	 len, i;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (i = 0; i < len; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, entry) == 0)
			return 1;
	return 0;
}

/*
 * octd judges push_url with libcurl's parser at start, on reload and
 * with -t, but never maps libcurl (issue 17: 1.2 MiB of its memory).
 */
Test(octd, push_url_is_checked_without_libcurl_in_octd)
{
	char	 out[2048], at[600];
	char	*argv[] = { (char *)harness_bin("octd"), "-t", "-c", NULL, NULL };
	pid_t	 pus;

	harness_setup(&run, "push_url = http://127.0.0.1:9/in\n");
	harness_start(&run);
	cr_assert(!maps_library(run.pid, "libcurl"), "octd maps libcurl");
	cr_assert(maps_library(worker("pushd"), "libcurl"),
	    "the check looks where pushd's libcurl shows");
	cr_assert(environ_has(worker("pushd"), "GNUTLS_NO_IMPLICIT_INIT=1"),
	    "pushd's libcurl does not set up GnuTLS it never uses");
	pus = worker("pushd");
	harness_write_conf(&run, "push_url = http://192.0.2.1/x\n");
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(log_has_refusal, NULL, 5000));
	snprintf(at, sizeof(at), "%s:6:", run.conf);
	cr_assert_eq(harness_count_facts(logpath("octd"), "error:",
	    "reload refused", at, "push_url", "plain http", NULL), 1,
	    "no refusal naming %s push_url", at);
	cr_assert_eq(worker("pushd"), pus, "pushd kept");
	cr_assert(!harness_reaped(&run), "octd still runs");
	cr_assert(!maps_library(run.pid, "libcurl"), "octd maps libcurl");

	harness_write_conf(&run, "push_url = not a url\n");
	argv[3] = run.conf;
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 1, "%s", out);
	cr_assert(harness_has_facts(out, at, "push_url: not a valid URL",
	    NULL), "%s", out);
	harness_write_conf(&run, "push_url = https://example.com/v1\n");
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 0, "%s", out);
}

#ifdef HAVE_SYSTEMD
/*
 * systemd's notify protocol, as a unit of Type=notify with WatchdogSec=
 * sees it: READY=1 with a STATUS once the workers are up, WATCHDOG=1
 * pings at half of WATCHDOG_USEC, STOPPING=1 on TERM (libsystemd's
 * sd_notify, when built with it).
 */
Test(octd, tells_systemd_ready_watchdog_and_stopping)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	char			 msg[600], seen[4096] = "", path[512];
	ssize_t			 n;
	int			 fd, i;

	harness_setup(&run, NULL);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(path, sizeof(path), "%s/notify", run.dir);
	cr_assert(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd != -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	setenv("WATCHDOG_USEC", "400000", 1);	/* a ping every 200 ms */
	harness_start(&run);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	pfd.fd = fd;
	pfd.events = POLLIN;
	/* bounded: 50 datagrams or 5 s without one */
	for (i = 0; i < 50 && strstr(seen, "WATCHDOG=1") == NULL; i++) {
		cr_assert_eq(poll(&pfd, 1, 5000), 1, "no datagram (%s)", seen);
		n = recv(fd, msg, sizeof(msg) - 1, 0);
		cr_assert(n > 0);
		msg[n] = '\0';
		strncat(seen, msg, sizeof(seen) - strlen(seen) - 2);
		strcat(seen, "|");
	}
	cr_assert(strstr(seen, "READY=1\nSTATUS=") != NULL, "%s", seen);
	cr_assert(strstr(seen, "WATCHDOG=1") != NULL, "%s", seen);
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	for (i = 0; i < 50 && strstr(seen, "STOPPING=1") == NULL; i++) {
		cr_assert_eq(poll(&pfd, 1, 5000), 1, "no STOPPING (%s)", seen);
		n = recv(fd, msg, sizeof(msg) - 1, 0);
		cr_assert(n > 0);
		msg[n] = '\0';
		strncat(seen, msg, sizeof(seen) - strlen(seen) - 2);
	}
	cr_assert(strstr(seen, "STOPPING=1\nSTATUS=stopping") != NULL, "%s",
	    seen);
	close(fd);
}
#endif

Test(octd, version_and_usage)
{
	char	 out[256], want[64];
	char	*v[] = { (char *)harness_bin("octd"), "-V", NULL };
	char	*bad[] = { (char *)harness_bin("octd"), "-x", NULL };

	snprintf(want, sizeof(want), "octd %s\n", PACKAGE_VERSION);
	cr_assert_eq(harness_run(v, out, sizeof(out)), 0);
	cr_assert_str_eq(out, want);
	cr_assert_eq(harness_run(bad, out, sizeof(out)), 1);
	cr_assert(strstr(out, "usage: octd [-fhtV] [-c file]"), "%s", out);
}

/* octd.log is a link (log_dir may be the workers' user's): not followed. */
Test(octd, refuses_to_start_on_a_linked_log)
{
	char	 out[2048], target[600], path[600], *text;
	char	*argv[] = { (char *)harness_bin("octd"), "-c", NULL, NULL };
	int	 r;

	harness_setup(&run, NULL);
	argv[2] = run.conf;
	snprintf(target, sizeof(target), "%s/target", run.dir);
	cr_assert_eq(close(creat(target, 0600)), 0);
	snprintf(path, sizeof(path), "%s/log", run.dir);
	cr_assert_eq(mkdir(path, 0750), 0);
	cr_assert_eq(symlink(target, logpath("octd")), 0);
	r = harness_run(argv, out, sizeof(out));
	snprintf(path, sizeof(path), "%s/run/octd.pid", run.dir);
	if (r == 0 && (text = harness_slurp(path)) != NULL) {
		kill((pid_t)atol(text), SIGTERM);	/* it started: stop it */
		free(text);
	}
	cr_assert_eq(r, 1, "%s", out);
	cr_assert(harness_has_facts(out, logpath("octd"), "symbolic link",
	    NULL), "%s", out);
	text = harness_slurp(target);
	cr_assert_str_eq(text, "", "nothing written through the link");
	free(text);
}

/* Whether octd closed its end of each of the clients (POLLHUP). */
static int
all_hung_up(void *arg)
{
	struct pollfd	*pfd = arg;
	int		 i;

	for (i = 0; i < 5; i++)
		if (poll(&pfd[i], 1, 0) != 1 || !(pfd[i].revents & POLLHUP))
			return 0;
	return 1;
}

/*
 * Clients that send an over-long request to control.sock and will not
 * take the answer (they shut down their reading side, as a reset does):
 * octd closes and frees each of them, and exits 0 (ASan's leak check).
 */
Test(octd, control_frees_a_client_gone_after_a_request_too_long)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd[5];
	static char		 junk[70000];
	int			 i;

	harness_setup(&run, NULL);
	harness_start(&run);
	memset(junk, 'x', sizeof(junk));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	cr_assert_lt(strlen(run.dir) + 18, sizeof(sun.sun_path));
	memcpy(sun.sun_path, run.dir, strlen(run.dir));
	strcat(sun.sun_path, "/run/control.sock");
	/* stopped, octd finds each whole request and the shutdown at once */
	cr_assert_eq(kill(run.pid, SIGSTOP), 0);
	for (i = 0; i < 5; i++) {
		pfd[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		pfd[i].events = POLLIN;
		cr_assert(pfd[i].fd != -1);
		cr_assert_eq(connect(pfd[i].fd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0, "%s", strerror(errno));
		cr_assert_eq(write(pfd[i].fd, junk, sizeof(junk)),
		    (ssize_t)sizeof(junk));
		cr_assert_eq(shutdown(pfd[i].fd, SHUT_RD), 0);
	}
	cr_assert_eq(kill(run.pid, SIGCONT), 0);
	cr_assert(harness_wait(all_hung_up, pfd, 5000), "octd keeps clients "
	    "it cannot answer");
	for (i = 0; i < 5; i++)
		close(pfd[i].fd);
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(octd_exited, &run, 10000));
	cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0,
	    "octd exit status 0x%x", run.status);
}

/* Write oct.conf by hand: run's lines, but data_dir as given. */
static void
write_conf_data_dir(const char *data_dir)
{
	FILE *f = fopen(run.conf, "w");

	cr_assert_not_null(f);
	fprintf(f, "listen = 127.0.0.1:%d\ndata_dir = %s\nlog_dir = %s/log\n"
	    "run_dir = %s/run\nmetrics_interval_ms = 0\n", run.port, data_dir,
	    run.dir, run.dir);
	fclose(f);
}

/* A data_dir octd cannot make: the reload is refused, octd runs on. */
Test(octd, hup_with_a_data_dir_that_cannot_be_made_keeps_the_old_one)
{
	struct http_res	 res;
	char		 bad[600];
	pid_t		 wri;

	harness_setup(&run, NULL);
	harness_start(&run);
	wri = worker("writerd");
	snprintf(bad, sizeof(bad), "%s/afile", run.dir);
	cr_assert_eq(close(creat(bad, 0600)), 0);
	strcat(bad, "/data");
	write_conf_data_dir(bad);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(log_has_refusal, NULL, 5000));
	cr_assert_eq(harness_count_facts(logpath("octd"), "error:",
	    "reload refused", run.conf, "data_dir", bad, "Not a directory",
	    NULL), 1, "no refusal naming data_dir %s", bad);
	cr_assert(!harness_reaped(&run), "octd still runs");
	cr_assert_eq(worker("writerd"), wri, "no worker restarted");
	cr_assert_eq(http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"after\"}", &res), 0);
	cr_assert_eq(res.status, 200, "%s", res.body);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces"), 1,
	    "stored in the old data_dir");
}

/* No descriptor for a worker's channel: octd retries, later, and goes on. */
Test(octd, a_failed_socketpair_is_retried_later)
{
	harness_setup(&run, NULL);
	harness_start(&run);
	harness_spawn_blocked(&run, RLIMIT_NOFILE, "warn: socketpair for "
	    "pushd: Too many open files; trying again in ");
	cr_assert_eq(harness_count(logpath("octd"), "trying again in 200 ms"),
	    1, "the retries back off");
}

/* No process for a worker: the same (root is exempt: see test_user.c). */
Test(octd, a_failed_fork_is_retried_later)
{
	if (geteuid() == 0)
		cr_skip_test("root ignores RLIMIT_NPROC; test_user runs this "
		    "as nobody");
	harness_setup(&run, NULL);
	harness_start(&run);
	harness_spawn_blocked(&run, RLIMIT_NPROC, "warn: fork for pushd: "
	    "Resource temporarily unavailable; trying again in ");
}
