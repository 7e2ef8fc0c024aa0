/*
 * proc.c: the one table of worker processes, and everything that loops over
 * it: spawn, peer channels, heartbeat, reap, restart, reload and stop.
 *
 * Each worker gets a SOCK_SEQPACKET supervisor channel on fd 3. Peer
 * channels (ingestd-writerd, pushd-writerd) are SOCK_STREAM socketpairs made
 * here and handed to both ends over fd 3 (MSG_CTL_PEER) whenever one of the
 * two starts; octd keeps no copy, so the survivor of a crash sees EOF on the
 * old channel and gets a fresh one when its peer is back, and a new worker
 * never reads half a frame its predecessor left behind.
 *
 * How one worker is forked, spoken to and heard is worker.c's; when, and
 * what follows, is decided here.
 *
 * Restart policy, after Postfix's master: reap in a loop, log the exit
 * status or signal, delay an unexpected restart from 100 ms doubling to
 * 30 s, reset once a worker has stayed up 60 s. Stops octd asked for are not
 * errors and restart at once (reload) or not at all (shutdown).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "log.h"
#include "msg.h"
#include "supervisor.h"

/*
 * writerd is needed while a peer holds data it has not committed:
 * ingestd's window, pushd's marks.
 */
static struct proc procs[PROC_MAX] = {
	[PROC_INGESTD] = { .id = PROC_INGESTD, .binary = "oct-ingestd",
	    .peers = PROC_BIT(PROC_WRITERD), .counts = 1, .queue = 1 },
	[PROC_WRITERD] = { .id = PROC_WRITERD, .binary = "oct-writerd",
	    .peers = PROC_BIT(PROC_INGESTD) | PROC_BIT(PROC_PUSHD),
	    .needed_by = PROC_BIT(PROC_INGESTD) | PROC_BIT(PROC_PUSHD) },
	[PROC_PUSHD] = { .id = PROC_PUSHD, .binary = "oct-pushd",
	    .peers = PROC_BIT(PROC_WRITERD), .pushes = 1 },
};

/* Stop order; start order is its reverse (writerd first, ingestd last). */
static const enum proc_id order[] = { PROC_INGESTD, PROC_PUSHD, PROC_WRITERD };
#define NORDER	(sizeof(order) / sizeof(order[0]))

static struct {
	const struct conf	*conf;
	struct event		*ev_heartbeat;
	uint64_t		 ping_seq;
	unsigned		 reload_mask;	/* still to restart, in order */
	int			 stopping;
	void			(*stopped)(void);
	void			(*waiter)(const char *);	/* proc_when_ready */
} sup;

static void	check_ready(void);

/* What worker.c tells the table; report is proc_init()'s. */
static struct worker_hooks hooks = { .ready = check_ready };

static void	proc_start(struct proc *);
static void	spawn_failed(struct proc *, const char *);
static void	send_restarts(void);
static void	stop_next(void);
static void	reload_next(void);

static int
alive(const struct proc *p)
{
	return p->pid > 0;
}

/*
 * Give p and each running peer a fresh channel to each other. p is
 * killed (and so restarted) if a channel cannot be made.
 */
static void
connect_peers(struct proc *p)
{
	unsigned i;

	for (i = 0; i < PROC_MAX; i++) {
		/* a draining peer needs the new channel most of all */
		if (!(p->peers & PROC_BIT(i)) || !alive(&procs[i]))
			continue;
		if (worker_connect(p, &procs[i]) == -1) {
			/* useless without it: its death restarts it later */
			log_warn("socketpair for %s-%s; killing %s[%ld]",
			    proc_name(p->id), proc_name(procs[i].id),
			    proc_name(p->id), (long)p->pid);
			kill(p->pid, SIGKILL);
			return;
		}
	}
}

/*
 * Start p; one that cannot be forked waits for its restart
 * (spawn_failed()). A started one gets its configuration and channels.
 */
static void
proc_start(struct proc *p)
{
	const char *what;

	p->again = p->hung = 0;
	if (worker_spawn(p, sup.conf, &what) == -1) {
		spawn_failed(p, what);
		return;
	}
	p->generation++;
	p->started_at = p->last_pong = mono_ms();
	log_info("started %s (pid %ld)", proc_name(p->id), (long)p->pid);
	worker_send_config(p, sup.conf);
	connect_peers(p);
	if (p->counts)
		send_restarts();
	if (sup.stopping)
		stop_next();
}

/*
 * Tell the workers that count (ingestd) the restart counts, for
 * oct_worker_restarts_total.
 */
static void
send_restarts(void)
{
	char		 name[NORDER][32];
	const char	*names[NORDER];
	uint64_t	 counts[NORDER];
	unsigned	 i;

	for (i = 0; i < NORDER; i++) {
		snprintf(name[i], sizeof(name[i]), "restarts_%s",
		    proc_name(order[i]));
		names[i] = name[i];
		counts[i] = procs[order[i]].restarts;
	}
	for (i = 0; i < PROC_MAX; i++)
		if (procs[i].counts && alive(&procs[i]))
			worker_send_stats(&procs[i], NORDER, names, counts);
}

/* Ask p to drain and exit; fall back to SIGTERM, which means the same. */
static void
proc_stop(struct proc *p)
{
	if (!alive(p) || p->state == PS_STOPPING)
		return;
	p->state = PS_STOPPING;
	if (worker_send(p, MSG_CTL_SHUTDOWN, 0) == -1)
		kill(p->pid, SIGTERM);
}

/* The worker that runs pushes, or NULL (there is one: pushd). */
static struct proc *
pusher(void)
{
	unsigned i;

	for (i = 0; i < PROC_MAX; i++)
		if (procs[i].pushes)
			return &procs[i];
	return NULL;
}

int
proc_push(int force, int64_t batch, int verbose)
{
	struct proc *p = pusher();

	/* a starting pushd reads its config first: the request can wait */
	if (p == NULL || !alive(p) ||
	    (p->state != PS_RUNNING && p->state != PS_STARTING))
		return -1;
	return worker_send_push(p, force, batch, verbose);
}

/* While stopping, whether p must run on for a peer (its needed_by). */
static int
still_needed(const struct proc *p)
{
	unsigned i;

	for (i = 0; i < PROC_MAX; i++)
		if ((p->needed_by & PROC_BIT(i)) && alive(&procs[i]))
			return 1;
	return 0;
}

static void
restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct proc *p = arg;

	(void)fd;
	(void)ev;
	if (p->state != PS_WAITING)
		return;
	if (!sup.stopping || still_needed(p))
		proc_start(p);
	else {
		/* needed no more: the stop goes on */
		p->state = PS_IDLE;
		stop_next();
	}
}

/*
 * The one waiting on proc_when_ready() learns that a worker died on its
 * own before they were all up; it is told once, and may wait again.
 */
static void
fail_waiter(const char *why)
{
	void	(*cb)(const char *) = sup.waiter;

	if (cb == NULL)
		return;
	sup.waiter = NULL;
	cb(why);
}

/* Schedule the restart of a worker that died on its own. */
static void
schedule_restart(struct proc *p, const char *how, pid_t pid)
{
	char	why[256];
	int64_t	delay = worker_wait_restart(p);

	p->restarts++;
	send_restarts();
	log_warnx("%s[%ld] %s%s; restarting in %lld ms", proc_name(p->id),
	    (long)pid, how, p->hung ? " (no heartbeat for 15 s)" : "",
	    (long long)delay);
	snprintf(why, sizeof(why), "%s[%ld] %s", proc_name(p->id), (long)pid,
	    how);
	fail_waiter(why);
}

/*
 * p could not be started: socketpair or fork failed (EMFILE, EAGAIN
 * under RLIMIT_NPROC, ENOMEM), errno says why. Not fatal, as in
 * Postfix's master: say so and try again after the backoff, which keeps
 * growing while it fails (started_at is now, so it is not reset).
 */
static void
spawn_failed(struct proc *p, const char *what)
{
	char	why[256];
	int	err = errno;
	int64_t	delay = worker_wait_restart(p);

	p->started_at = mono_ms();
	log_warnx("%s for %s: %s; trying again in %lld ms", what,
	    proc_name(p->id), strerror(err), (long long)delay);
	snprintf(why, sizeof(why), "%s for %s failed (%s)", what,
	    proc_name(p->id), strerror(err));
	fail_waiter(why);
}

/*
 * p's process was reaped with status: close its channel, end a push in
 * progress with a last report, and decide what follows: a restart after
 * the backoff (an unasked death), at once (a reload), or the next step
 * of the stop.
 */
static void
proc_exited(struct proc *p, int status)
{
	char	how[128];
	pid_t	pid = p->pid;
	int	clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	worker_describe(status, how, sizeof(how));
	if (p->pushes)
		hooks.report("{\"done\":true,\"error\":\"pushd stopped "
		    "during the push\"}", 1);
	worker_forget(p);
	p->gauge = 0;		/* a dead ingestd holds no queue */
	if (sup.stopping && still_needed(p) && !clean) {
		schedule_restart(p, how, pid);
		return;
	}
	if (sup.stopping) {
		p->state = PS_IDLE;
		if (clean)
			log_info("%s[%ld] stopped", proc_name(p->id), (long)pid);
		else
			log_warnx("%s[%ld] %s while stopping", proc_name(p->id),
			    (long)pid, how);
		stop_next();
	} else if (p->again && p->state == PS_STOPPING) {
		log_info("%s[%ld] stopped for reload; starting it again",
		    proc_name(p->id), (long)pid);
		proc_start(p);
		reload_next();
	} else
		schedule_restart(p, how, pid);
}

void
proc_reap(void)
{
	pid_t		pid;
	int		status;
	unsigned	i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < PROC_MAX; i++)
			if (procs[i].pid == pid)
				break;
		if (i == PROC_MAX) {
			log_warnx("reaped unknown child %ld", (long)pid);
			continue;
		}
		proc_exited(&procs[i], status);
	}
}

/*
 * Every HEARTBEAT_MS: ping each live worker; one that has not answered
 * for HEARTBEAT_LIMIT_MS is killed (hung), and reaped and restarted as
 * any other death.
 */
static void
heartbeat_cb(evutil_socket_t fd, short ev, void *arg)
{
	unsigned i;

	(void)fd;
	(void)ev;
	(void)arg;
	sup.ping_seq++;
	for (i = 0; i < PROC_MAX; i++)
		if (alive(&procs[i]) && !procs[i].hung)
			worker_heartbeat(&procs[i], sup.ping_seq);
}

int
proc_check_binaries(char *err, size_t errlen)
{
	unsigned i;

	for (i = 0; i < NORDER; i++)
		if (worker_check(procs[order[i]].binary, err, errlen) == -1)
			return -1;
	return 0;
}

void
proc_init(struct event_base *base, void (*report)(const char *, int))
{
	struct timeval	tv = { HEARTBEAT_MS / 1000, (HEARTBEAT_MS % 1000) * 1000 };
	unsigned	i;

	hooks.report = report;
	worker_attach(base, &hooks);
	for (i = 0; i < PROC_MAX; i++) {
		procs[i].fd = -1;
		if (procs[i].binary == NULL)
			continue;	/* octd's own row */
		procs[i].ev_restart = evtimer_new(base, restart_cb, &procs[i]);
		if (procs[i].ev_restart == NULL)
			fatalx("evtimer_new");
	}
	sup.ev_heartbeat = event_new(base, -1, EV_PERSIST, heartbeat_cb, NULL);
	if (sup.ev_heartbeat == NULL || event_add(sup.ev_heartbeat, &tv) == -1)
		fatalx("heartbeat timer");
}

void
proc_start_all(const struct conf *conf)
{
	unsigned i;

	sup.conf = conf;
	for (i = NORDER; i-- > 0;)
		proc_start(&procs[order[i]]);
}

/* Call the waiter once every worker is running and no reload is pending. */
static void
check_ready(void)
{
	void		(*cb)(const char *) = sup.waiter;
	unsigned	  i;

	if (cb == NULL || sup.stopping || sup.reload_mask != 0)
		return;
	for (i = 0; i < NORDER; i++)
		if (procs[order[i]].state != PS_RUNNING)
			return;
	sup.waiter = NULL;
	cb(NULL);
}

void
proc_when_ready(void (*cb)(const char *failure))
{
	sup.waiter = cb;
	check_ready();
}

int
proc_answering(void)
{
	const struct proc	*p;
	int64_t			 now = mono_ms();
	unsigned		 i;

	for (i = 0; i < NORDER; i++) {
		p = &procs[order[i]];
		if (p->state != PS_RUNNING ||
		    now - p->last_pong > ANSWER_LIMIT_MS)
			return 0;
	}
	return 1;
}

/*
 * Restart the next worker still in the reload mask, in stop order: one
 * at a time, since proc_exited() calls this again once the one stopping
 * is gone; a worker waiting for its restart starts at once.
 */
static void
reload_next(void)
{
	struct proc	*p;
	unsigned	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (procs[i].again && procs[i].state == PS_STOPPING)
			return;		/* one at a time: its exit calls us */
	for (i = 0; i < NORDER && !sup.stopping; i++) {
		p = &procs[order[i]];
		if (!(sup.reload_mask & PROC_BIT(p->id)))
			continue;
		sup.reload_mask &= ~PROC_BIT(p->id);
		if (alive(p) && p->state != PS_STOPPING) {
			p->again = 1;
			proc_stop(p);
			return;		/* proc_exited() calls us again */
		}
		if (p->state == PS_WAITING) {
			evtimer_del(p->ev_restart);
			proc_start(p);
		}
	}
}

void
proc_reload(const struct conf *conf, unsigned mask)
{
	sup.conf = conf;
	sup.reload_mask |= mask & PROC_WORKERS;
	reload_next();
}

void
proc_reopen_logs(void)
{
	unsigned i;

	for (i = 0; i < PROC_MAX; i++)
		if (alive(&procs[i]))
			worker_send(&procs[i], MSG_CTL_REOPEN, 0);
}

/* While stopping: p's restart is dropped unless a peer still needs p. */
static void
cancel_restart(struct proc *p)
{
	if (p->state == PS_WAITING && !still_needed(p)) {
		evtimer_del(p->ev_restart);
		p->state = PS_IDLE;
	}
}

/* Stop the first worker in stop order that still runs; or say we are done. */
static void
stop_next(void)
{
	struct proc	*p;
	unsigned	 i;

	for (i = 0; i < NORDER; i++) {
		p = &procs[order[i]];
		cancel_restart(p);
		if (p->state == PS_WAITING)
			return;		/* restarting for a peer that drains */
		if (!alive(p))
			continue;
		proc_stop(p);
		return;
	}
	if (sup.stopped != NULL)
		sup.stopped();
}

void
proc_stop_all(void (*done)(void))
{
	unsigned i;

	if (sup.stopping)
		return;
	sup.stopping = 1;
	sup.stopped = done;
	sup.reload_mask = 0;
	sup.waiter = NULL;
	for (i = 0; i < PROC_MAX; i++)
		cancel_restart(&procs[i]);
	stop_next();
}

void
proc_kill_all(void)
{
	unsigned i;

	for (i = 0; i < PROC_MAX; i++)
		if (alive(&procs[i]))
			worker_kill(&procs[i]);
}

void
proc_info(enum proc_id id, struct proc_info *pi)
{
	static const char *const names[] = {
		[PS_IDLE] = "stopped", [PS_STARTING] = "starting",
		[PS_RUNNING] = "running", [PS_STOPPING] = "stopping",
		[PS_WAITING] = "restarting",
	};
	struct proc *p = &procs[id];

	pi->pid = p->pid;
	pi->state = names[p->state];
	pi->uptime_s = alive(p) ? (mono_ms() - p->started_at) / 1000 : 0;
	pi->restarts = p->restarts;
}

uint64_t
proc_queue_depth(void)
{
	uint64_t	depth = 0;
	unsigned	i;

	for (i = 0; i < PROC_MAX; i++)
		if (procs[i].queue)
			depth += procs[i].gauge;
	return depth;
}

void
proc_free(void)
{
	unsigned i;

	for (i = 0; i < PROC_MAX; i++) {
		if (procs[i].ev_restart != NULL)
			event_free(procs[i].ev_restart);
		if (procs[i].ev_read != NULL)
			event_free(procs[i].ev_read);
		if (procs[i].fd != -1)
			close(procs[i].fd);
	}
	event_free(sup.ev_heartbeat);
	worker_free();
}
