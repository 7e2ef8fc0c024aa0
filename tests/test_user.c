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
	return harness_count(logpath("octd"), "user nobody ignored: octd is "
	    "not running as root") == 1 &&
	    harness_count(logpath("octd"), "all workers ready") == 1;
}

Test(user, ignored_when_octd_is_not_root)
{
	char	 path[600];
	pid_t	 pid;
	int	 null;

	need_root_and_nobody();
	harness_setup(&run, "user = nobody\n");
	cr_assert_eq(chown(run.dir, nobody_uid, nobody_gid), 0);
	cr_assert_eq(chown(run.conf, nobody_uid, nobody_gid), 0);
	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((null = open("/dev/null", O_RDWR)) != -1) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		if (become_nobody() == 0)
			execl(harness_bin("octd"), "octd", "-f", "-c", run.conf,
			    (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	run.pid = pid;
	cr_assert(harness_wait(ignored_logged, NULL, 10000), "%s",
	    harness_slurp(logpath("octd")));
	snprintf(path, sizeof(path), "%s/data", run.dir);
	assert_owned(path);
}
