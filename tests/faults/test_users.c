/*
 * test_users.c: fault row 9, local users. octd runs as root with
 * user = nobody and an auth_token; another local user (a uid that is
 * neither root nor nobody) then tries every file oct keeps and its
 * control socket and ingest port, and counts what it could reach. The
 * directories are opened up (0755) first so that each file's own mode is
 * what is tested, not only the data directory's. Skipped unless root.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../harness.h"

#define STRANGER	54321	/* a uid and gid nobody on the host uses */

static struct octd_run run;

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(faults_users, .fini = teardown, .timeout = 60);

/* In a child, as STRANGER: can path be opened for reading? */
static int
stranger_reads(const char *path)
{
	pid_t	pid;
	int	status;
	gid_t	g = STRANGER;

	if ((pid = fork()) == 0) {
		if (setgroups(1, &g) == -1 || setgid(STRANGER) == -1 ||
		    setuid(STRANGER) == -1)
			_exit(2);
		_exit(open(path, O_RDONLY) == -1 ? 0 : 1);
	}
	cr_assert(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status);
}

/* In a child, as STRANGER: does octd answer a status request? */
static int
stranger_controls(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	const char		*req = "{\"cmd\":\"status\"}\n";
	char			 buf[64];
	pid_t			 pid;
	int			 fd, status;
	gid_t			 g = STRANGER;

	cr_assert_lt(snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/run/control.sock", run.dir), (int)sizeof(sun.sun_path));
	if ((pid = fork()) == 0) {
		if (setgroups(1, &g) == -1 || setgid(STRANGER) == -1 ||
		    setuid(STRANGER) == -1)
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(0);
		if (write(fd, req, strlen(req)) == -1)
			_exit(0);
		_exit(read(fd, buf, sizeof(buf)) > 0 ? 1 : 0);
	}
	cr_assert(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status);
}

static int
wal_there(void *arg)
{
	char	path[600];

	(void)arg;
	snprintf(path, sizeof(path), "%s/data/oct.db-shm", run.dir);
	return access(path, F_OK) == 0;
}

Test(faults_users, another_local_user_reads_and_controls_nothing)
{
	static const char *files[] = {
	    "data/oct.db", "data/oct.db-wal", "data/oct.db-shm",
	    "data/signing.key", "log/octd.log", "log/ingestd.log",
	    "log/writerd.log", "log/pushd.log",
	};
	const char	*token[] = { "Authorization: Bearer s3cret-t0ken-0123",
			    NULL };
	char		 path[600];
	struct stat	 st;
	struct http_res	 r;
	size_t		 i;
	int		 readable = 0, loose = 0;

	if (geteuid() != 0)
		cr_skip_test("not root: cannot test another local user");
	if (getpwnam("nobody") == NULL)
		cr_skip_test("no user nobody here");
	harness_setup(&run, "user = nobody\n"
	    "auth_token = s3cret-t0ken-0123\n");
	cr_assert_eq(chmod(run.dir, 0755), 0);
	harness_start(&run);
	cr_assert_eq(http_req(run.port, "POST", "/v1/traces?wait=commit",
	    "{\"model\":\"m\"}", 13, token, &r), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert(harness_wait(wal_there, NULL, 5000));

	/* open the directories: each file must guard itself */
	snprintf(path, sizeof(path), "%s/data", run.dir);
	cr_assert_eq(chmod(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/log", run.dir);
	cr_assert_eq(chmod(path, 0755), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", run.dir, files[i]);
		cr_assert_eq(stat(path, &st), 0, "%s: %s", path,
		    strerror(errno));
		if (stranger_reads(path)) {
			cr_log_error("another user reads %s", files[i]);
			readable++;
		}
		if (st.st_mode & 007) {
			cr_log_error("%s has mode %o", files[i],
			    st.st_mode & 0777);
			loose++;
		}
	}
	fprintf(stderr, "row 9: %zu files tried by uid %d: %d readable, %d "
	    "with bits for others\n", i, STRANGER, readable, loose);
	cr_expect_eq(readable, 0);
	cr_expect_eq(loose, 0);

	cr_expect_eq(stranger_controls(), 0,
	    "another user got an answer on control.sock");
	cr_assert_eq(http_post(run.port, "/v1/traces", "{\"model\":\"m\"}",
	    &r), 0);
	cr_expect_eq(r.status, 401, "%ld %s", r.status, r.body);
	cr_expect_eq(db_int(&run, "SELECT count(*) FROM llm_traces"), 1);
}
