/*
 * log.c: the per-process log (see log.h).
 *
 * Built for a few records a second and bursts of warnings; every record is
 * one write(2) on an O_APPEND descriptor, so records from the supervisor and
 * a worker sharing standard error (log_dir "-") never interleave mid-line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	8192

static char		 log_proc[32] = "oct";
static char		*log_path;
static enum log_level	 log_min = LOG_INFO;

static const char *const level_names[] = {
	"debug", "info", "warn", "error", "fatal"
};

void
log_init(const char *name, enum log_level min)
{
	snprintf(log_proc, sizeof(log_proc), "%s", name);
	log_min = min;
}

void
log_set_level(enum log_level min)
{
	log_min = min;
}

const char *
log_name(void)
{
	return log_proc;
}

/*
 * Open path to append log records to it, refusing anything but a regular
 * file of one link: log_dir may belong to the user the workers run as, so
 * a worker could plant a symbolic link (or a hard link) there to make
 * root append to, or chown, a file of its choosing (Postfix's safe_open()
 * refuses the same). O_NONBLOCK keeps a planted FIFO from blocking the
 * open; it is cleared once the file is known to be regular.
 *
 * Returns the close-on-exec descriptor, or -1 with errno: ELOOP for a
 * symbolic link, EMLINK for a file with other hard links, ENXIO for
 * anything that is not a regular file; log_strerror() says it in words.
 */
int
log_file(const char *path)
{
	struct stat	st;
	int		fd, saved;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK, 0640);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		saved = errno;
	else if (!S_ISREG(st.st_mode))
		saved = ENXIO;
	else if (st.st_nlink != 1)
		saved = EMLINK;
	else if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) == -1)
		saved = errno;
	else
		return fd;
	close(fd);
	errno = saved;
	return -1;
}

const char *
log_strerror(int err)
{
	switch (err) {
	case ELOOP:
		return "a symbolic link: refused";
	case EMLINK:
		return "a file with other hard links: refused";
	case ENXIO:
	case EISDIR:
		return "not a regular file: refused";
	default:
		return strerror(err);
	}
}

/*
 * Open path with log_file() and make it standard error. Returns 0, or -1
 * with errno set, in which case the old standard error stays; path is
 * remembered either way, so log_reopen() tries again once it is fixed.
 */
int
log_open(const char *path)
{
	int fd, saved;

	if (path == NULL) {
		free(log_path);
		log_path = NULL;
		return 0;
	}
	if (log_path == NULL || strcmp(log_path, path) != 0) {
		free(log_path);
		log_path = strdup(path);
	}
	if ((fd = log_file(path)) == -1)
		return -1;
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		close(fd);
	}
	return 0;
}

int
log_reopen(void)
{
	char	*path;
	int	 r;

	if (log_path == NULL)
		return 0;
	path = strdup(log_path);
	if (path == NULL)
		return -1;
	r = log_open(path);
	free(path);
	return r;
}

/* Append src to dst at *off, escaping control characters; always NUL-terminates. */
static void
escape_into(char *dst, size_t cap, size_t *off, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;

	for (; *s != '\0' && *off + 5 < cap; s++) {
		if (*s < 0x20 || *s == 0x7f) {
			dst[(*off)++] = '\\';
			dst[(*off)++] = 'x';
			dst[(*off)++] = hex[*s >> 4];
			dst[(*off)++] = hex[*s & 0xf];
		} else
			dst[(*off)++] = (char)*s;
	}
	dst[*off] = '\0';
}

/*
 * Write one line in SPEC section 3's format to standard error (the
 * log file once log_open() ran) with a single write(), so lines of
 * several processes sharing a file never interleave; control bytes are
 * escaped. Below the minimum level it does nothing. errno is kept.
 */
void
log_vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char		 msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 128];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 off;
	int		 saved = errno, n;

	if (level < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_proc,
	    (long)getpid(), level_names[level]);
	off = (size_t)n;
	escape_into(line, sizeof(line) - 1, &off, msg);
	if (with_errno) {
		escape_into(line, sizeof(line) - 1, &off, ": ");
		escape_into(line, sizeof(line) - 1, &off, strerror(saved));
	}
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
	errno = saved;
}

/* One function of the API per level: log, and for LOG_FATAL exit(1). */
#define LOG_FN(fn, level, with_errno)				\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	log_vlog(level, with_errno, fmt, ap);			\
	va_end(ap);						\
	if (level == LOG_FATAL)					\
		exit(1);					\
}

LOG_FN(log_debug, LOG_DEBUG, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_warn, LOG_WARN, 1)
LOG_FN(log_warnx, LOG_WARN, 0)
LOG_FN(log_error, LOG_ERROR, 1)
LOG_FN(log_errorx, LOG_ERROR, 0)
LOG_FN(fatal, LOG_FATAL, 1)
LOG_FN(fatalx, LOG_FATAL, 0)
