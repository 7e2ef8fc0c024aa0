/*
 * child.h: the life of a worker process, shared by ingestd, writerd, pushd.
 *
 * A worker is started by octd with its supervisor channel on fd 3. It waits
 * for its configuration (MSG_CTL_CONFIG), answers heartbeats, takes new peer
 * channels (MSG_CTL_PEER), reopens its log on MSG_CTL_REOPEN or SIGUSR1, and
 * drains and exits on MSG_CTL_SHUTDOWN, on SIGTERM or when fd 3 reaches EOF
 * (octd is gone: no worker outlives its supervisor). SIGINT and SIGHUP are
 * the supervisor's; a worker ignores them.
 */
#ifndef OCT_CHILD_H
#define OCT_CHILD_H

#include "oct.h"

struct event_base;
struct conf;
struct msg;

struct child_ops {
	/* The configuration arrived; set up, then call child_ready(). */
	void	(*configure)(struct event_base *, const struct conf *);
	/* A new channel to peer; the worker owns fd from now on. */
	void	(*peer)(enum proc_id peer, int fd);
	/* Drain what is in flight, then call child_exit(). Called once. */
	void	(*shutdown)(void);
	/* A number for the heartbeat's answer (ingestd: queue depth). */
	uint64_t (*gauge)(void);
	/*
	 * A supervisor message for the worker itself: MSG_CTL_STATS
	 * (ingestd: the restart counts) or MSG_CTL_PUSH (pushd: octctl
	 * push). Only once configured; before that they are dropped. May
	 * be NULL: both are then dropped. The worker checks the payload.
	 */
	void	(*ctl)(struct msg *);
	/* After the loop ends: free what configure() made. May be NULL. */
	void	(*cleanup)(void);
};

/* Run the worker until child_exit(); returns the exit status for main. */
int	 child_run(enum proc_id, const struct child_ops *);
/*
 * A worker's main: -h and -V for a person who runs it by hand (SPEC
 * section 1; octd passes no arguments), then child_run().
 */
int	 child_main(int argc, char *argv[], enum proc_id,
	    const struct child_ops *);
/*
 * The gauge changed: send it to octd now (an unasked pong) rather than
 * at the next heartbeat. The caller limits how often.
 */
void	 child_gauge_changed(void);
/* Tell octd this worker is serving. */
void	 child_ready(void);
/* One line of an octctl push report for octd to pass on (pushd). */
void	 child_report(int done, const char *json_line);
/* Leave the event loop and exit with status. */
void	 child_exit(int status);
/* True once a shutdown has begun. */
int	 child_stopping(void);
/*
 * Whether octd is gone (killed, so that nobody orders the shutdown): the
 * workers then stop on their own, ingestd first draining into writerd.
 */
int	 child_orphaned(void);

#endif
