/*
 * spawn.c: the steps of starting one worker that need no process table:
 * its channels, its log, the fork and exec with fixed descriptors, and the
 * words for how it ended. proc.c calls these and keeps all the state; this
 * file keeps none but the folder of the worker binaries.
 *
 * Called a few times per worker life, never on the data path.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "supervisor.h"

static const char *libexec;

void
spawn_init(const char *libexec_dir)
{
	libexec = libexec_dir;
}

/*
 * Let a peer channel hold a whole window of small events while its reader
 * is busy: ingestd answers 202 only once an event is in the socket, and
 * each write costs ~1 KiB of socket memory. FORCE works as root; otherwise
 * the kernel caps SO_SNDBUF at net.core.wmem_max.
 */
static void
grow_buffer(int fd)
{
	int size = PEER_SNDBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int
spawn_peer_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	grow_buffer(sv[0]);
	grow_buffer(sv[1]);
	return 0;
}

/*
 * The worker's log, opened here as root and handed to the user: only a
 * regular file, never through a link (log_file()), since log_dir is the
 * user's. One that is refused is not repaired: the worker then starts
 * with standard error on /dev/null and its own open, as the user, is
 * refused the same way, so it logs nowhere until the file is fixed and
 * it restarts or gets SIGUSR1; octd.log says so. Returns the fd (the
 * caller closes it), or -1 when log_dir is "-" (the worker shares octd's
 * standard error).
 */
int
spawn_log(const struct conf *c, enum proc_id id)
{
	char	*path;
	int	 fd;

	if ((path = conf_log_path(c, proc_name(id))) == NULL)
		return -1;
	if ((fd = log_file(path)) == -1) {
		log_errorx("open %s: %s; %s runs without a log until it is "
		    "fixed", path, log_strerror(errno), proc_name(id));
		/* not octd's own standard error: that is octd.log */
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	} else if (priv_own_fd(fd) == -1)
		log_warn("chown %s", path);
	free(path);
	return fd;
}

/* In the child: put chan on fd 3, the log on fd 2, close the rest, exec. */
static void __attribute__((noreturn))
exec_worker(const char *binary, int chan, int logfd)
{
	char		 path[4096], *argv[2];
	sigset_t	 all;
	int		 null;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	if (logfd != -1)
		dup2(logfd, STDERR_FILENO);
	if (chan == 3)
		fcntl(chan, F_SETFD, 0);
	else
		dup2(chan, 3);
	closefrom(4);
	priv_drop(binary);
	snprintf(path, sizeof(path), "%s/%s", libexec, binary);
	argv[0] = (char *)binary;
	argv[1] = NULL;
	execv(path, argv);
	dprintf(STDERR_FILENO, "octd: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

pid_t
spawn_worker(const char *binary, int chan, int logfd)
{
	pid_t pid;

	if ((pid = fork()) == 0)
		exec_worker(binary, chan, logfd);
	return pid;
}

int
spawn_check(const char *binary, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", libexec, binary);
	if (access(path, X_OK) == -1) {
		snprintf(err, errlen, "cannot run %s: %s (set OCT_LIBEXEC_DIR "
		    "to the folder holding the workers)", path, strerror(errno));
		return -1;
	}
	return 0;
}

void
spawn_describe(int status, char *buf, size_t len)
{
	const char *abbrev;

	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
		return;
	}
	abbrev = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s",
		    WTERMSIG(status), abbrev != NULL ? abbrev : "?",
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "stopped with status 0x%x", status);
}
