/*
 * test_user.c: the `user` key for real. octd started as root with
 * user = nobody: each worker's ids read back from /proc, the files it
 * needs handed over to nobody, an event stored, logs reopened on SIGUSR1,
 * octctl (root) still served by the control socket. And octd started as
 * nobody: user is ignored, and says so. Skipped unless the test runs as
 * root, nobody exists, and nobody can run the built workers.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define logpath(name)	harness_log(&run, name)

static struct octd_run	run;
static uid_t		nobody_uid;
static gid_t		nobody_gid;

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(user, .fini = teardown, .timeout = 60);

/* In a child: become nobody for good (the way octd's workers do). */
static int
become_nobody(void)
{
	return setgroups(1, &nobody_gid) == 0 && setgid(nobody_gid) == 0 &&
	    setuid(nobody_uid) == 0 ? 0 : -1;
}

/* Can nobody run the workers where they were built? (0700 homes, ...) */
static int
nobody_can_exec(void)
{
	const char	*dir = getenv("OCT_LIBEXEC_DIR");
	char		 path[1024];
	pid_t		 pid;
	int		 status;

	snprintf(path, sizeof(path), "%s/oct-writerd", dir != NULL ? dir : ".");
	if ((pid = fork()) == 0)
		_exit(become_nobody() == 0 && access(path, X_OK) == 0 ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Skip the test unless we can drop to nobody and nobody can run oct. */
static void
need_root_and_nobody(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		cr_skip_test("not root: cannot test dropping privileges");
	if ((pw = getpwnam("nobody")) == NULL)
		cr_skip_test("no user nobody here");
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	if (!nobody_can_exec())
		cr_skip_test("nobody cannot run the workers in %s",
		    getenv("OCT_LIBEXEC_DIR"));
}

/* The value of a /proc/PID/status line ("Uid:"), tabs and all. */
static void
status_line(pid_t pid, const char *key, char *out, size_t len)
{
	char	 path[64], line[512];
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, strlen(key)) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(out, len, "%s", line + strlen(key));
		break;
	}
	fclose(f);
}

static void
assert_owned(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_assert(st.st_uid == nobody_uid && st.st_gid == nobody_gid,
	    "%s is owned by %ld:%ld, not nobody", path, (long)st.st_uid,
	    (long)st.st_gid);
}

static int
key_read(void *arg)
{
	(void)arg;
	return harness_count(logpath("pushd"), "signing with key") == 1;
}

static int
logs_reopened(void *arg)
{
	(void)arg;
	return harness_count(logpath("ingestd"), "log reopened") == 1 &&
	    harness_count(logpath("writerd"), "log reopened") == 1 &&
	    harness_count(logpath("pushd"), "log reopened") == 1;
}

Test(user, workers_drop_to_nobody_and_still_work)
{
	const char	*names[] = { "ingestd", "writerd", "pushd" };
	char		 want[128], got[256], path[600], out[4096], extra[128];
	char		*ctl[] = { (char *)harness_bin("octctl"), "-c", NULL,
			    "status", NULL };
	struct http_res	 res;
	struct dirent	*de;
	DIR		*d;
	pid_t		 pid;
	int		 i;

	need_root_and_nobody();
	/* a push_url (nobody listens there) makes pushd read the key */
	snprintf(extra, sizeof(extra), "user = nobody\npush_url = "
	    "http://127.0.0.1:%d/\n", harness_free_port());
	harness_setup(&run, extra);
	/* mkdtemp made it 0700: nobody must reach data/ and log/ in it */
	cr_assert_eq(chmod(run.dir, 0755), 0);
	harness_start(&run);

	for (i = 0; i < 3; i++) {
		pid = harness_worker(&run, names[i]);
		cr_assert_neq(pid, 0, "%s runs", names[i]);
		snprintf(want, sizeof(want), "\t%ld\t%ld\t%ld\t%ld",
		    (long)nobody_uid, (long)nobody_uid, (long)nobody_uid,
		    (long)nobody_uid);
		status_line(pid, "Uid:", got, sizeof(got));
		cr_assert_str_eq(got, want, "%s Uid", names[i]);
		snprintf(want, sizeof(want), "\t%ld\t%ld\t%ld\t%ld",
		    (long)nobody_gid, (long)nobody_gid, (long)nobody_gid,
		    (long)nobody_gid);
		status_line(pid, "Gid:", got, sizeof(got));
		cr_assert_str_eq(got, want, "%s Gid", names[i]);
		snprintf(want, sizeof(want), "\t%ld ", (long)nobody_gid);
		status_line(pid, "Groups:", got, sizeof(got));
		cr_assert_str_eq(got, want, "%s Groups", names[i]);
	}
	status_line(run.pid, "Uid:", got, sizeof(got));
	cr_assert_str_eq(got, "\t0\t0\t0\t0", "octd itself stays root");

	cr_assert_eq(http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"as-nobody\"}", &res), 0);
	cr_assert_eq(res.status, 200, "%s", res.body);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "model = 'as-nobody'"), 1);
	cr_assert(harness_wait(key_read, NULL, 5000), "pushd reads signing.key");

	snprintf(path, sizeof(path), "%s/data", run.dir);
	assert_owned(path);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/data/%s", run.dir, de->d_name);
		assert_owned(path);	/* oct.db and company, signing.key */
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/log", run.dir);
	assert_owned(path);
	for (i = 0; i < 3; i++)
		assert_owned(logpath(names[i]));

	/* SIGUSR1: each worker, as nobody, makes its new log itself */
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s.1", logpath(names[i]));
		cr_assert_eq(rename(logpath(names[i]), path), 0);
	}
	cr_assert_eq(kill(run.pid, SIGUSR1), 0);
	cr_assert(harness_wait(logs_reopened, NULL, 5000),
	    "every worker writes to a new file");
	for (i = 0; i < 3; i++)
		assert_owned(logpath(names[i]));

	ctl[2] = run.conf;
	cr_assert_eq(harness_run(ctl, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "running") != NULL, "%s", out);
}

static int
ignored_logged(void *arg)
{
	(void)arg;
	return harness_count_facts(logpath("octd"), "user nobody ignored",
	    "not running as root", NULL) == 1 &&
	    harness_count(logpath("octd"), "all workers ready") == 1;
}

/* Start octd -f as nobody on run (set up, owned by nobody). */
static void
start_as_nobody(void)
{
	cr_assert_eq(chown(run.dir, nobody_uid, nobody_gid), 0);
	cr_assert_eq(chown(run.conf, nobody_uid, nobody_gid), 0);
	harness_launch(&run, become_nobody);
}

Test(user, ignored_when_octd_is_not_root)
{
	char path[600];

	need_root_and_nobody();
	harness_setup(&run, "user = nobody\n");
	start_as_nobody();
	cr_assert(harness_wait(ignored_logged, NULL, 10000), "%s",
	    harness_slurp(logpath("octd")));
	snprintf(path, sizeof(path), "%s/data", run.dir);
	assert_owned(path);
}

static int
all_ready(void *arg)
{
	(void)arg;
	return harness_count(logpath("octd"), "all workers ready") == 1;
}

/*
 * fork fails (RLIMIT_NPROC, which root is exempt from: octd runs as
 * nobody here): octd says so, tries again later and goes on.
 */
Test(user, a_failed_fork_is_retried_later)
{
	need_root_and_nobody();
	harness_setup(&run, NULL);
	start_as_nobody();
	cr_assert(harness_wait(all_ready, NULL, 10000), "%s",
	    harness_slurp(logpath("octd")));
	harness_spawn_blocked(&run, RLIMIT_NPROC, "warn: fork for pushd: "
	    "Resource temporarily unavailable; trying again in ");
}

struct planted {
	const char	*path;	/* which log */
	const char	*fact[3];	/* what a line of it must hold */
};

static int
has_line(void *arg)
{
	struct planted *p = arg;

	return harness_count_facts(p->path, "error:", p->fact[0], p->fact[1],
	    p->fact[2], NULL) >= 1;
}

/* octd.log says it refused name's log, for why. */
static void
assert_refused(const char *name, const char *why)
{
	struct planted	p = { logpath("octd"), { logpath(name), why,
			    "without a log" } };

	cr_assert(harness_wait(has_line, &p, 5000), "octd.log does not say "
	    "it refused %s: %s", logpath(name), why);
}

/* Replaced, and the new one ready. */
static int
is_replaced(void *arg)
{
	return harness_replaced(arg) && harness_count(logpath("octd"),
	    "] ready") >= 4;
}

/*
 * log_dir is nobody's: a worker that plants a link to a file of root's
 * there and crashes must not get that file, nor any line written into it.
 */
Test(user, a_link_planted_in_log_dir_hands_nothing_over)
{
	const char	*secret = "root:secret:1:0:99999:7:::\n";
	struct harness_replace r = { &run, "writerd", 0 };
	struct planted	 p;
	struct http_res	 res;
	struct stat	 st;
	char		 target[600], path[600], rotated[600], *text;
	FILE		*f;

	need_root_and_nobody();
	harness_setup(&run, "user = nobody\n");
	cr_assert_eq(chmod(run.dir, 0755), 0);
	snprintf(target, sizeof(target), "%s/shadow", run.dir);
	f = fopen(target, "w");
	cr_assert_not_null(f);
	fputs(secret, f);
	fclose(f);
	cr_assert_eq(chmod(target, 0600), 0);
	snprintf(path, sizeof(path), "%s/log", run.dir);
	cr_assert_eq(mkdir(path, 0750), 0);
	/* planted before octd starts: the first open refuses it */
	cr_assert_eq(symlink(target, logpath("ingestd")), 0);
	harness_start(&run);
	assert_refused("ingestd", "a symbolic link: refused");
	cr_assert_eq(http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"no-log\"}", &res), 0);
	cr_assert_eq(res.status, 200, "ingestd works without its log: %s",
	    res.body);

	/* planted by a worker that then crashes: the restart refuses it */
	cr_assert_eq(unlink(logpath("writerd")), 0);
	cr_assert_eq(symlink(target, logpath("writerd")), 0);
	r.old = harness_worker(&run, "writerd");
	cr_assert_eq(kill(r.old, SIGKILL), 0);
	cr_assert(harness_wait(is_replaced, &r, 5000), "writerd restarted");
	assert_refused("writerd", "a symbolic link: refused");

	/* a hard link is no better */
	cr_assert_eq(unlink(logpath("pushd")), 0);
	cr_assert_eq(link(target, logpath("pushd")), 0);
	r.name = "pushd";
	r.old = harness_worker(&run, "pushd");
	cr_assert_eq(kill(r.old, SIGKILL), 0);
	cr_assert(harness_wait(is_replaced, &r, 5000), "pushd restarted");
	assert_refused("pushd", "a file with other hard links: refused");

	/* octd's own log, reopened on SIGUSR1 */
	snprintf(rotated, sizeof(rotated), "%s.1", logpath("octd"));
	cr_assert_eq(rename(logpath("octd"), rotated), 0);
	cr_assert_eq(symlink(target, logpath("octd")), 0);
	cr_assert_eq(kill(run.pid, SIGUSR1), 0);
	p.path = rotated;
	p.fact[0] = "reopen";
	p.fact[1] = logpath("octd");
	p.fact[2] = "a symbolic link: refused";
	cr_assert(harness_wait(has_line, &p, 5000), "%s does not say it "
	    "refused the link", rotated);
	cr_assert(!harness_reaped(&run), "octd still runs");

	text = harness_slurp(target);
	cr_assert_not_null(text);
	cr_assert_str_eq(text, secret, "nothing written to the target");
	free(text);
	cr_assert_eq(stat(target, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode 0%o", st.st_mode & 07777);
	cr_assert(st.st_uid == 0 && st.st_gid == 0, "owned by %ld:%ld",
	    (long)st.st_uid, (long)st.st_gid);
}
