/*
 * log.h: one logging API for every oct process.
 *
 * Records go to standard error, one line each, in the SPEC section 3 format:
 *   2026-11-22T10:00:00.123Z ingestd[1234] warn: message key=value
 * log_open() points standard error at the process's own file, so whatever a
 * library or a sanitizer prints lands there too; log_reopen() does it again
 * after logrotate moved the file. Neither follows a symbolic link or opens
 * anything but a regular file (log_file()). Control characters in a message are
 * escaped as \xNN: messages quote what clients send. errno is preserved.
 */
#ifndef OCT_LOG_H
#define OCT_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

void	log_init(const char *name, enum log_level min);
int	log_open(const char *path);	/* NULL: keep standard error */
/* A log file opened for appending, never through a link; see log.c. */
int	log_file(const char *path);
/* errno after log_file() or log_open(), in words. */
const char *log_strerror(int err);
int	log_reopen(void);
void	log_set_level(enum log_level min);
const char *log_name(void);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	log_vlog(enum log_level, int with_errno, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));

#endif
