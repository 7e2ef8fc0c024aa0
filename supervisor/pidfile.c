/*
 * pidfile.c: run_dir/octd.pid, held under an flock(2) for octd's life so a
 * second octd on the same run_dir is refused, while a stale file left by a
 * crash (no lock holder) is simply taken over.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "supervisor.h"

/*
 * Open and lock path (flock, so the lock dies with octd). Returns the
 * fd, which holds the lock until it is closed; or -1 with err, naming
 * the running octd's pid when another holds the lock.
 */
int
pidfile_open(const char *path, char *err, size_t errlen)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			snprintf(err, errlen, "lock %s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen, "another octd is running (pid %s): %s is "
		    "locked", *buf != '\0' ? buf : "?", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
pidfile_write(int fd, pid_t pid)
{
	char	buf[32];
	int	len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);

	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len)
		return -1;
	return 0;
}

void
pidfile_remove(const char *path, int fd)
{
	unlink(path);
	close(fd);
}
