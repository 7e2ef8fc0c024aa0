/*
 * supervisor.h: octd's modules. octd.c owns the configuration, the signals
 * and the order of life (start, reload, stop), and is the only file that
 * wires the others together: control.c and notify.c get what they ask of
 * the process table as callbacks, and proc.c hands pushd's reports to a
 * callback, so no module calls back into the one that calls it.
 *
 * proc.c owns the one table of worker processes and decides when each
 * starts and stops; worker.c does it for one worker (fork, exec, its log,
 * its channel's messages); control.c run_dir/control.sock;
 * pidfile.c the run_dir/octd.pid lock; priv.c the user the workers run
 * as; notify.c what systemd is told; urlcheck.c push_url's check.
 *
 * Calls go one way: octd.c -> control.c, notify.c, proc.c -> worker.c ->
 * priv.c; pidfile.c, priv.c and urlcheck.c call no module.
 */
#ifndef OCT_SUPERVISOR_H
#define OCT_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oct.h"

struct conf;
struct event;
struct event_base;

#define HEARTBEAT_MS		1000
#define HEARTBEAT_LIMIT_MS	15000
#define ANSWER_LIMIT_MS		(3 * HEARTBEAT_MS)	/* for the watchdog */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		30000
#define BACKOFF_RESET_MS	60000
#define PEER_SNDBUF		(8 * 1024 * 1024)

/* proc.c: the table's rows (worker.c reads and fills them too). */
enum proc_state {
	PS_IDLE,	/* not running, nothing scheduled */
	PS_STARTING,	/* running, not yet ready */
	PS_RUNNING,	/* ready */
	PS_STOPPING,	/* asked to drain and exit */
	PS_WAITING,	/* dead, restart timer armed */
};

struct proc {
	/* what the worker is: set in proc.c's table, never changed */
	enum proc_id	 id;
	const char	*binary;
	unsigned	 peers;		/* PROC_BIT()s it has channels with */
	unsigned	 needed_by;	/* stopping: runs while these do */
	int		 counts;	/* takes MSG_CTL_STATS (/metrics) */
	int		 pushes;	/* takes MSG_CTL_PUSH, reports */
	int		 queue;		/* its gauge is the queue depth */

	/* its life */
	pid_t		 pid;
	int		 fd;		/* our end of its supervisor channel */
	struct event	*ev_read;
	struct event	*ev_restart;
	enum proc_state	 state;
	uint32_t	 generation;
	int64_t		 started_at;	/* mono ms */
	int64_t		 last_pong;	/* mono ms */
	int64_t		 backoff_ms;
	unsigned	 restarts;
	int		 again;		/* we stopped it: start it again now */
	uint64_t	 gauge;		/* what its last pong said */
	int		 hung;		/* we killed it for missed heartbeats */
};



/*
 * Set up the table's timers. report(line, done) gets each line pushd
 * sends for an octctl push (done: the last); proc.c also calls it with a
 * last line of its own when pushd dies during a push.
 */
void	 proc_init(struct event_base *, void (*report)(const char *, int));
/*
 * Whether every worker binary can be run (after worker_init()): 0, or -1
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

/* worker.c */
/* The folder of the worker binaries; the caller keeps it alive. */
void	 worker_init(const char *libexec_dir);
/* What worker.c tells proc.c. */
struct worker_hooks {
	/* a worker's first READY (it is PS_RUNNING now) */
	void	(*ready)(void);
	/* a line of pushd's for the octctl push in progress */
	void	(*report)(const char *line, int done);
};
/* The loop to watch channels in, and whom to tell; both outlive it. */
void	 worker_attach(struct event_base *, const struct worker_hooks *);
/* Whether libexec_dir/binary can be run; 0, or -1 with err. */
int	 worker_check(const char *binary, char *err, size_t errlen);
/*
 * Fork and exec p (its binary, with conf's log for it) as priv.c's user,
 * its channel on fd 3. Returns 0 with p->pid, p->fd, p->ev_read set and
 * p PS_STARTING; or -1 with errno and *what naming the step that failed
 * ("socketpair", "fork"), p unchanged.
 */
int	 worker_spawn(struct proc *, const struct conf *, const char **what);
/* After p's death: free its channel and event; p->pid becomes 0. */
void	 worker_forget(struct proc *);
/*
 * A fresh peer channel between p and q (a socketpair with large
 * buffers), one end handed to each over MSG_CTL_PEER; octd keeps no
 * copy. 0, or -1 (errno) if the pair could not be made.
 */
int	 worker_connect(struct proc *p, struct proc *q);
/* Ping p; one that has not answered for HEARTBEAT_LIMIT_MS is killed (hung). */
void	 worker_heartbeat(struct proc *, uint64_t seq);
/* At the stop's deadline: SIGKILL p, reap it, forget it (logged). */
void	 worker_kill(struct proc *);
/*
 * Leave p PS_WAITING: its ev_restart fires after the backoff, from
 * 100 ms doubling to 30 s, back to 100 ms once p had stayed up 60 s.
 * Returns the delay in ms.
 */
int64_t	 worker_wait_restart(struct proc *);
/*
 * One message to p; each returns 0, or -1 (logged) if the channel did
 * not take it. worker_send is for those with no payload (PING,
 * SHUTDOWN, REOPEN).
 */
int	 worker_send(struct proc *, uint16_t type, uint64_t seq);
int	 worker_send_config(struct proc *, const struct conf *);
int	 worker_send_stats(struct proc *, unsigned n, const char *const names[],
	    const uint64_t values[]);
int	 worker_send_push(struct proc *, int force, int64_t batch, int verbose);
/* waitpid()'s status in words: "exited with status 1", "killed by ...". */
void	 worker_describe(int status, char *buf, size_t len);
void	 worker_free(void);

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

/*
 * urlcheck.c: url_check (conf.h) in a child that loads libcurl, so that
 * octd does not map it. The answer stays valid until the next call.
 */
const char *url_check_apart(const char *url, int allow_insecure);

/* pidfile.c */
/* Lock and fill path; returns the open fd, or -1 with err. */
int	 pidfile_open(const char *path, char *err, size_t errlen);
int	 pidfile_write(int fd, pid_t pid);
void	 pidfile_remove(const char *path, int fd);

#endif
