/*
 * supervisor.h: octd's modules. octd.c owns the configuration, the signals
 * and the order of life (start, reload, stop), and is the only file that
 * wires the others together: control.c and notify.c get what they ask of
 * the process table as callbacks, and proc.c hands pushd's reports to a
 * callback, so no module calls back into the one that calls it.
 *
 * proc.c owns the one table of worker processes; spawn.c the steps of
 * starting one (fork, exec, its log); control.c run_dir/control.sock;
 * pidfile.c the run_dir/octd.pid lock; priv.c the user the workers run
 * as; notify.c what systemd is told.
 *
 * Calls go one way: octd.c -> control.c, notify.c, proc.c -> spawn.c ->
 * priv.c; pidfile.c and priv.c call no module.
 */
#ifndef OCT_SUPERVISOR_H
#define OCT_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oct.h"

struct conf;
struct event_base;

#define HEARTBEAT_MS		1000
#define HEARTBEAT_LIMIT_MS	15000
#define ANSWER_LIMIT_MS		(3 * HEARTBEAT_MS)	/* for the watchdog */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		30000
#define BACKOFF_RESET_MS	60000
#define PEER_SNDBUF		(8 * 1024 * 1024)

/* proc.c */
/*
 * Set up the table's timers. report(line, done) gets each line pushd
 * sends for an octctl push (done: the last); proc.c also calls it with a
 * last line of its own when pushd dies during a push.
 */
void	 proc_init(struct event_base *, void (*report)(const char *, int));
/*
 * Whether every worker binary can be run (after spawn_init()): 0, or -1
 * with err.
 */
int	 proc_check_binaries(char *err, size_t errlen);
void	 proc_start_all(const struct conf *);
/* Restart the workers in mask (PROC_BIT()s) in order, with conf. */
void	 proc_reload(const struct conf *, unsigned mask);
void	 proc_reopen_logs(void);
void	 proc_reap(void);
/* Stop every worker in order (ingestd, pushd, writerd); then call done. */
void	 proc_stop_all(void (*done)(void));
void	 proc_kill_all(void);
void	 proc_free(void);

struct proc_info {
	pid_t		 pid;
	const char	*state;		/* "running", "starting", ... */
	int64_t		 uptime_s;
	unsigned	 restarts;
};
void	 proc_info(enum proc_id, struct proc_info *);
/*
 * Call cb(NULL) once every worker is ready (ingestd: port bound) and no
 * reload restart is pending, at once if that is so now; or cb(why) if a
 * worker dies on its own first. One-shot; forgotten when octd stops.
 */
void	 proc_when_ready(void (*cb)(const char *failure));
/* 1 if every worker is running and answered a heartbeat lately. */
int	 proc_answering(void);
/* ingestd's last reported queue depth. */
uint64_t proc_queue_depth(void);

/* Ask pushd to push now for octctl; -1 if it is not running. */
int	 proc_push(int force, int64_t batch, int verbose);

/* spawn.c */
/* The folder of the worker binaries; the caller keeps it alive. */
void	 spawn_init(const char *libexec_dir);
/* Whether libexec_dir/binary can be run; 0, or -1 with err. */
int	 spawn_check(const char *binary, char *err, size_t errlen);
/* A peer channel (SOCK_STREAM, CLOEXEC, large buffers); 0 or -1 (errno). */
int	 spawn_peer_pair(int sv[2]);
int	 spawn_log(const struct conf *, enum proc_id);
/*
 * Fork; the child runs binary with chan on fd 3 and logfd (-1: octd's) on
 * fd 2 as priv.c's user. Returns the pid, or -1 (errno) if fork failed.
 * The caller closes chan and logfd in the parent.
 */
pid_t	 spawn_worker(const char *binary, int chan, int logfd);
/* waitpid()'s status in words: "exited with status 1", "killed by ...". */
void	 spawn_describe(int status, char *buf, size_t len);

/* control.c */
/* What octctl's commands need from the rest of octd (octd.c wires it). */
struct control_ops {
	void	 (*info)(enum proc_id, struct proc_info *);
	uint64_t (*queue_depth)(void);
	/* start a push; 0, or -1 if pushd is not running */
	int	 (*push)(int force, int64_t batch, int verbose);
	/* reload the config file; 0, or -1 with why in err */
	int	 (*reload)(char *err, size_t errlen);
};
/* Listen on run_dir/control.sock; ops must outlive it. 0, or -1 with err. */
int	 control_open(struct event_base *, const char *run_dir,
	    const struct control_ops *, char *err, size_t errlen);
/* A line from pushd for the octctl push in progress (if any). */
void	 control_push_report(const char *line, int done);
void	 control_close(void);

/* priv.c */
/*
 * Take conf's `user` for the workers started from now on: 0, or -1 with
 * err if the user is unknown. Not root: the user is ignored (logged).
 */
int	 priv_setup(const struct conf *, char *err, size_t errlen);
/* chown data_dir, its files, the key and log_dir to the user, if any. */
void	 priv_own(const struct conf *);
/* chown an open file (a worker's log) to the user; 0 or -1 (errno). */
int	 priv_own_fd(int fd);
/* In a worker before exec: drop to the user for good, or _exit(1). */
void	 priv_drop(const char *title);

/*
 * notify.c: sd_notify; no-ops when built without systemd. answering()
 * says whether the workers answer (the watchdog pings only then).
 */
void	 notify_init(struct event_base *, int (*answering)(void));
void	 notify_ready(const char *status);
void	 notify_reloading(void);
void	 notify_stopping(void);
void	 notify_free(void);

/* pidfile.c */
/* Lock and fill path; returns the open fd, or -1 with err. */
int	 pidfile_open(const char *path, char *err, size_t errlen);
int	 pidfile_write(int fd, pid_t pid);
void	 pidfile_remove(const char *path, int fd);

#endif
