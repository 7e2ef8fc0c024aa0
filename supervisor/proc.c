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
 * Restart policy, after Postfix's master: reap in a loop, log the exit
 * status or signal, delay an unexpected restart from 100 ms doubling to
 * 30 s, reset once a worker has stayed up 60 s. Stops octd asked for are not
 * errors and restart at once (reload) or not at all (shutdown).
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

#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "msg.h"
#include "supervisor.h"
#include "util.h"

enum proc_state {
	PS_IDLE,	/* not running, nothing scheduled */
	PS_STARTING,	/* running, not yet ready */
	PS_RUNNING,	/* ready */
	PS_STOPPING,	/* asked to drain and exit */
	PS_WAITING,	/* dead, restart timer armed */
};

struct proc {
	/* what the worker is: set in the table below, never changed */
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
	struct event_base	*base;
	const struct conf	*conf;
	struct event		*ev_heartbeat;
	struct msgb		 out;
	uint64_t		 ping_seq;
	unsigned		 reload_mask;	/* still to restart, in order */
	int			 stopping;
	void			(*stopped)(void);
	void			(*waiter)(const char *);	/* proc_when_ready */
	void			(*report)(const char *, int);	/* proc_init */
} sup;

static void	proc_start(struct proc *);
static void	spawn_failed(struct proc *, const char *);
static void	send_restarts(void);
static void	stop_next(void);
static void	reload_next(void);
static void	check_ready(void);

/* Send sup.out, a type message, to p (with passfd or -1); 0, -1 logged. */
static int
send_out(struct proc *p, uint16_t type, int passfd)
{
	if (msg_close(&sup.out) == -1 ||
	    msg_send(p->fd, &sup.out, passfd) == -1) {
		log_warn("send %s to %s[%ld]", msg_type_str(type),
		    proc_name(p->id), (long)p->pid);
		return -1;
	}
	return 0;
}

/* A message of type with no payload (PING, SHUTDOWN, REOPEN). */
static int
send_empty(struct proc *p, uint16_t type, uint64_t seq)
{
	msg_init(&sup.out, type, seq);
	return send_out(p, type, -1);
}

/* The configuration, as conf_dump() writes it. */
static int
send_config(struct proc *p)
{
	char	*text;
	int	 r;

	if ((text = conf_dump(sup.conf)) == NULL)
		fatalx("out of memory");
	msg_init(&sup.out, MSG_CTL_CONFIG, 0);
	msg_add_str(&sup.out, text);
	r = send_out(p, MSG_CTL_CONFIG, -1);
	free(text);
	return r;
}

/* fd, p's end of a new channel to peer; the caller closes its copy. */
static int
send_peer(struct proc *p, enum proc_id peer, int fd)
{
	msg_init(&sup.out, MSG_CTL_PEER, 0);
	msg_add_u32(&sup.out, peer);
	return send_out(p, MSG_CTL_PEER, fd);
}

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
	struct proc	*q;
	int		 sv[2];
	unsigned	 i;

	for (i = 0; i < PROC_MAX; i++) {
		q = &procs[i];
		/* a draining peer needs the new channel most of all */
		if (!(p->peers & PROC_BIT(i)) || !alive(q))
			continue;
		if (spawn_peer_pair(sv) == -1) {
			/* useless without it: its death restarts it later */
			log_warn("socketpair for %s-%s; killing %s[%ld]",
			    proc_name(p->id), proc_name(q->id),
			    proc_name(p->id), (long)p->pid);
			kill(p->pid, SIGKILL);
			return;
		}
		send_peer(p, q->id, sv[0]);
		send_peer(q, p->id, sv[1]);
		close(sv[0]);
		close(sv[1]);
	}
}

static void proc_read(evutil_socket_t, short, void *);

/* p was forked as pid with chan its channel: watch it, configure it. */
static void
proc_started(struct proc *p, pid_t pid, int chan)
{
	p->pid = pid;
	p->fd = chan;
	if (fd_nonblock(p->fd) == -1)
		fatal("channel of %s", proc_name(p->id));
	p->ev_read = event_new(sup.base, p->fd, EV_READ | EV_PERSIST,
	    proc_read, p);
	if (p->ev_read == NULL || event_add(p->ev_read, NULL) == -1)
		fatalx("event for %s", proc_name(p->id));
	p->state = PS_STARTING;
	p->generation++;
	p->started_at = p->last_pong = mono_ms();
	log_info("started %s (pid %ld)", proc_name(p->id), (long)pid);
	send_config(p);
	connect_peers(p);
	if (p->counts)
		send_restarts();
	if (sup.stopping)
		stop_next();
}

/*
 * Fork and exec p. A socketpair or fork that fails is not fatal: p waits
 * for its restart (spawn_failed()).
 */
static void
proc_start(struct proc *p)
{
	int	 sv[2], logfd;
	pid_t	 pid;

	p->again = p->hung = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		spawn_failed(p, "socketpair");
		return;
	}
	logfd = spawn_log(sup.conf, p->id);
	if ((pid = spawn_worker(p->binary, sv[1], logfd)) == -1) {
		spawn_failed(p, "fork");
		close(sv[0]);
	}
	close(sv[1]);
	if (logfd != -1)
		close(logfd);
	if (pid != -1)
		proc_started(p, pid, sv[0]);
}

/*
 * Tell the workers that count (ingestd) the restart counts, for
 * oct_worker_restarts_total.
 */
static void
send_restarts(void)
{
	char		 name[32];
	unsigned	 i, j;

	for (j = 0; j < PROC_MAX; j++) {
		if (!procs[j].counts || !alive(&procs[j]))
			continue;
		msg_init(&sup.out, MSG_CTL_STATS, 0);
		msg_add_u32(&sup.out, NORDER);
		for (i = 0; i < NORDER; i++) {
			snprintf(name, sizeof(name), "restarts_%s",
			    proc_name(order[i]));
			msg_add_str(&sup.out, name);
			msg_add_u64(&sup.out, procs[order[i]].restarts);
		}
		send_out(&procs[j], MSG_CTL_STATS, -1);
	}
}

/* Ask p to drain and exit; fall back to SIGTERM, which means the same. */
static void
proc_stop(struct proc *p)
{
	if (!alive(p) || p->state == PS_STOPPING)
		return;
	p->state = PS_STOPPING;
	if (send_empty(p, MSG_CTL_SHUTDOWN, 0) == -1)
		kill(p->pid, SIGTERM);
}

/* READY: p serves; the first one moves it from starting to running. */
static int
on_ready(struct proc *p, struct msg *m)
{
	(void)m;
	if (p->state != PS_STARTING)
		return 0;
	p->state = PS_RUNNING;
	log_info("%s[%ld] ready", proc_name(p->id), (long)p->pid);
	check_ready();
	return 0;
}

/* PONG: the gauge (ingestd: its queue depth). */
static int
on_pong(struct proc *p, struct msg *m)
{
	p->gauge = msg_get_u64(m);
	return msg_done(m);
}

/* PUSH_REPORT: a line for the octctl push in progress, from pushd only. */
static int
on_report(struct proc *p, struct msg *m)
{
	uint8_t		 done = msg_get_u8(m);
	const char	*line = msg_get_str(m, NULL);

	if (!p->pushes || line == NULL || msg_done(m) == -1)
		return -1;
	sup.report(line, done);
	return 0;
}

/*
 * One datagram of n bytes from p's channel: check the frame, decode, then
 * call the handler of its type. Returns 0, or -1 if it is malformed or
 * not a message a worker sends (the caller kills p).
 */
static int
proc_dispatch(struct proc *p, const uint8_t *buf, size_t n, int passfd)
{
	struct msg	m;
	size_t		framelen;
	int		r;

	if (passfd != -1)
		return -1;		/* workers pass octd no descriptor */
	if (msg_parse(buf, n, &m, &framelen) != 1 || framelen != n)
		return -1;
	switch (m.type) {
	case MSG_CTL_READY:
		r = on_ready(p, &m);
		break;
	case MSG_CTL_PONG:
		r = on_pong(p, &m);
		break;
	case MSG_CTL_PUSH_REPORT:
		r = on_report(p, &m);
		break;
	default:
		return -1;
	}
	if (r == 0)
		p->last_pong = mono_ms();
	return r;
}

/* p's channel is readable: every datagram waiting, one at a time. */
static void
proc_read(evutil_socket_t fd, short ev, void *arg)
{
	struct proc	*p = arg;
	uint8_t		 buf[MSG_CTL_MAX];
	ssize_t		 n;
	int		 passfd;

	(void)ev;
	for (;;) {
		n = msg_recv(fd, buf, sizeof(buf), &passfd);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* EOF or error: the worker is gone; SIGCHLD tells how. */
			event_del(p->ev_read);
			return;
		}
		if (passfd != -1)
			close(passfd);
		if (proc_dispatch(p, buf, (size_t)n, passfd) == -1) {
			log_warnx("%s[%ld]: malformed message on its channel; "
			    "killing it", proc_name(p->id), (long)p->pid);
			kill(p->pid, SIGKILL);
			event_del(p->ev_read);
			return;
		}
	}
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
	msg_init(&sup.out, MSG_CTL_PUSH, 0);
	msg_add_u8(&sup.out, (uint8_t)force);
	msg_add_i64(&sup.out, batch);
	msg_add_u8(&sup.out, (uint8_t)verbose);
	if (msg_close(&sup.out) == -1 || msg_send(p->fd, &sup.out, -1) == -1)
		return -1;
	return 0;
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

/*
 * The delay before p's next start: from 100 ms doubling to 30 s, back to
 * 100 ms once p had stayed up 60 s.
 */
static int64_t
next_backoff(struct proc *p)
{
	int64_t delay;

	if (p->backoff_ms == 0 || mono_ms() - p->started_at >= BACKOFF_RESET_MS)
		p->backoff_ms = BACKOFF_MIN_MS;
	delay = p->backoff_ms;
	p->backoff_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	return delay;
}

/* Leave p waiting; restart_cb() starts it after delay ms. */
static void
wait_restart(struct proc *p, int64_t delay)
{
	struct timeval tv;

	p->state = PS_WAITING;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(p->ev_restart, &tv);
}

/* Schedule the restart of a worker that died on its own. */
static void
schedule_restart(struct proc *p, const char *how, pid_t pid)
{
	char	why[256];
	int64_t	delay = next_backoff(p);

	p->restarts++;
	wait_restart(p, delay);
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
	int64_t	delay = next_backoff(p);

	p->started_at = mono_ms();
	wait_restart(p, delay);
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

	spawn_describe(status, how, sizeof(how));
	if (p->pushes)
		sup.report("{\"done\":true,\"error\":\"pushd stopped "
		    "during the push\"}", 1);
	event_free(p->ev_read);
	p->ev_read = NULL;
	close(p->fd);
	p->fd = -1;
	p->pid = 0;
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
	struct proc	*p;
	int64_t		 now = mono_ms();
	unsigned	 i;

	(void)fd;
	(void)ev;
	(void)arg;
	sup.ping_seq++;
	for (i = 0; i < PROC_MAX; i++) {
		p = &procs[i];
		if (!alive(p) || p->hung)
			continue;
		if (now - p->last_pong > HEARTBEAT_LIMIT_MS) {
			log_warnx("%s[%ld] has not answered for %lld ms; killing "
			    "it", proc_name(p->id), (long)p->pid,
			    (long long)(now - p->last_pong));
			p->hung = 1;
			kill(p->pid, SIGKILL);
			continue;
		}
		send_empty(p, MSG_CTL_PING, sup.ping_seq);
	}
}

int
proc_check_binaries(char *err, size_t errlen)
{
	unsigned i;

	for (i = 0; i < NORDER; i++)
		if (spawn_check(procs[order[i]].binary, err, errlen) == -1)
			return -1;
	return 0;
}

void
proc_init(struct event_base *base, void (*report)(const char *, int))
{
	struct timeval	tv = { HEARTBEAT_MS / 1000, (HEARTBEAT_MS % 1000) * 1000 };
	unsigned	i;

	sup.base = base;
	sup.report = report;
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
			send_empty(&procs[i], MSG_CTL_REOPEN, 0);
}

/* Stop the first worker in stop order that still runs; or say we are done. */
static void
stop_next(void)
{
	struct proc	*p;
	unsigned	 i;

	for (i = 0; i < NORDER; i++) {
		p = &procs[order[i]];
		if (p->state == PS_WAITING && !still_needed(p)) {
			evtimer_del(p->ev_restart);
			p->state = PS_IDLE;
		}
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
	for (i = 0; i < PROC_MAX; i++) {
		if (procs[i].state == PS_WAITING && !still_needed(&procs[i])) {
			evtimer_del(procs[i].ev_restart);
			procs[i].state = PS_IDLE;
		}
	}
	stop_next();
}

void
proc_kill_all(void)
{
	unsigned	i;
	int		status;

	for (i = 0; i < PROC_MAX; i++) {
		if (!alive(&procs[i]))
			continue;
		log_warnx("%s[%ld] did not stop in time; killing it",
		    proc_name(procs[i].id), (long)procs[i].pid);
		kill(procs[i].pid, SIGKILL);
		if (waitpid(procs[i].pid, &status, 0) == procs[i].pid) {
			procs[i].state = PS_IDLE;
			event_free(procs[i].ev_read);
			procs[i].ev_read = NULL;
			close(procs[i].fd);
			procs[i].fd = -1;
			procs[i].pid = 0;
		}
	}
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
	msg_free(&sup.out);
}
