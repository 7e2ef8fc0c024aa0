/*
 * ctl.h: octctl's commands, one file each, all listed in octctl.c's table.
 * Exit status (SPEC section 7): 0 done, 1 the operation failed (daemon not
 * running, reload refused, ...), 2 usage or config error.
 */
#ifndef OCT_CTL_H
#define OCT_CTL_H

#include <stdint.h>

#include "conf.h"

struct ctl {
	struct conf	 conf;
	const char	*conf_path;
};

int	 cmd_keygen(struct ctl *, int, char **);
int	 cmd_pubkey(struct ctl *, int, char **);
int	 cmd_status(struct ctl *, int, char **);
int	 cmd_reload(struct ctl *, int, char **);
int	 cmd_push(struct ctl *, int, char **);
int	 cmd_push_status(struct ctl *, int, char **);
int	 cmd_logs(struct ctl *, int, char **);
int	 cmd_send(struct ctl *, int, char **);
int	 cmd_stats(struct ctl *, int, char **);

/* daemon.c: one request to octd's control socket; NULL after a message. */
struct json_t;
struct json_t *ctl_request(struct ctl *, const char *cmd);
/* Connect to octd's control socket; -1 after saying why. */
int	 ctl_connect(struct ctl *);
/* The same, silent: -1 with errno (ENOENT, ECONNREFUSED: not running). */
int	 ctl_dial(struct ctl *);
/* Parse "--json" as a command's only option; -1 on anything else. */
int	 ctl_json_flag(int argc, char **argv, int *json);
void	 ctl_usage(void) __attribute__((noreturn));

/* push.c: an error before any push began, as text or JSON; returns 1. */
int	 push_fail(int json, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* push_dry.c: --dry-run (force, batch size, verbose, json); exit status. */
int	 push_dry_run(struct ctl *, int, int64_t, int, int);

#endif
