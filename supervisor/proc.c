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
	enum proc_id	 id;
	const char	*binary;
	unsigned	 peers;		/* PROC_BIT()s it has channels with */
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
	uint64_t	 gauge;		/* what its last pong said (queue depth) */
	int		 hung;		/* we killed it for missed heartbeats */
};

static struct proc procs[PROC_MAX] = {
	[PROC_INGESTD] = { .id = PROC_INGESTD, .binary = "oct-ingestd",
	    .peers = PROC_BIT(PROC_WRITERD) },
	[PROC_WRITERD] = { .id = PROC_WRITERD, .binary = "oct-writerd",
	    .peers = PROC_BIT(PROC_INGESTD) | PROC_BIT(PROC_PUSHD) },
	[PROC_PUSHD] = { .id = PROC_PUSHD, .binary = "oct-pushd",
	    .peers = PROC_BIT(PROC_WRITERD) },
};

/* Stop order; start order is its reverse (writerd first, ingestd last). */
static const enum proc_id order[] = { PROC_INGESTD, PROC_PUSHD, PROC_WRITERD };
#define NORDER	(sizeof(order) / sizeof(order[0]))

static struct {
	struct event_base	*base;
	const char		*libexec;
	const struct conf	*conf;
	struct event		*ev_heartbeat;
	struct msgb		 out;
	uint64_t		 ping_seq;
	unsigned		 reload_mask;	/* still to restart, in order */
	int			 stopping;
	void			(*stopped)(void);
	void			(*waiter)(const char *);	/* proc_when_ready */
} sup;

static void	proc_start(struct proc *);
static void	spawn_failed(struct proc *, const char *);
static void	send_restarts(void);
static int	relay_report(struct proc *, struct msg *);
static void	stop_next(void);
static void	reload_next(void);
static void	check_ready(void);

static int
send_to(struct proc *p, uint16_t type, uint64_t seq, const char *str,
    int hasu32, uint32_t u32, int passfd)
{
	msg_init(&sup.out, type, seq);
	if (str != NULL)
		msg_add_str(&sup.out, str);
	if (hasu32)
		msg_add_u32(&sup.out, u32);
	if (msg_close(&sup.out) == -1 || msg_send(p->fd, &sup.out, passfd) == -1) {
		log_warn("send %s to %s[%ld]", msg_type_str(type),
		    proc_name(p->id), (long)p->pid);
		return -1;
	}
	return 0;
}

static int
alive(const struct proc *p)
{
	return p->pid > 0;
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

/* Give p and each running peer a fresh channel to each other. */
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
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
			/* useless without it: its death restarts it later */
			log_warn("socketpair for %s-%s; killing %s[%ld]",
			    proc_name(p->id), proc_name(q->id),
			    proc_name(p->id), (long)p->pid);
			kill(p->pid, SIGKILL);
			return;
		}
		grow_buffer(sv[0]);
		grow_buffer(sv[1]);
		send_to(p, MSG_CTL_PEER, 0, NULL, 1, q->id, sv[0]);
		send_to(q, MSG_CTL_PEER, 0, NULL, 1, p->id, sv[1]);
		close(sv[0]);
		close(sv[1]);
	}
}

/* In the child: put chan on fd 3, the log on fd 2, close the rest, exec. */
static void __attribute__((noreturn))
exec_worker(struct proc *p, int chan, int logfd)
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
	priv_drop(p->binary);
	snprintf(path, sizeof(path), "%s/%s", sup.libexec, p->binary);
	argv[0] = (char *)p->binary;
	argv[1] = NULL;
	execv(path, argv);
	dprintf(STDERR_FILENO, "octd: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

static void proc_read(evutil_socket_t, short, void *);

/*
 * The worker's log, opened here as root and handed to the user: only a
 * regular file, never through a link (log_file()), since log_dir is the
 * user's. One that is refused is not repaired: the worker then starts
 * with standard error on /dev/null and its own open, as the user, is
 * refused the same way, so it logs nowhere until the file is fixed and
 * it restarts or gets SIGUSR1; octd.log says so. Returns the fd, or -1
 * when log_dir is "-" (the worker shares octd's standard error).
 */
static int
open_log(struct proc *p)
{
	char	*path;
	int	 fd;

	if ((path = conf_log_path(sup.conf, proc_name(p->id))) == NULL)
		return -1;
	if ((fd = log_file(path)) == -1) {
		log_errorx("open %s: %s; %s runs without a log until it is "
		    "fixed", path, log_strerror(errno), proc_name(p->id));
		/* not octd's own standard error: that is octd.log */
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	} else if (priv_own_fd(fd) == -1)
		log_warn("chown %s", path);
	free(path);
	return fd;
}

static void
proc_start(struct proc *p)
{
	char	*text;
	int	 sv[2], logfd;
	pid_t	 pid;

	p->again = p->hung = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		spawn_failed(p, "socketpair");
		return;
	}
	logfd = open_log(p);
	if ((pid = fork()) == -1) {
		spawn_failed(p, "fork");
		close(sv[0]);
	}
	if (pid == 0)
		exec_worker(p, sv[1], logfd);
	close(sv[1]);
	if (logfd != -1)
		close(logfd);
	if (pid == -1)
		return;
	p->pid = pid;
	p->fd = sv[0];
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
	if ((text = conf_dump(sup.conf)) == NULL)
		fatalx("out of memory");
	send_to(p, MSG_CTL_CONFIG, 0, text, 0, 0, -1);
	free(text);
	connect_peers(p);
	if (p->id == PROC_INGESTD)
		send_restarts();
	if (sup.stopping)
		stop_next();
}

/* Tell ingestd the restart counts, for oct_worker_restarts_total. */
static void
send_restarts(void)
{
	struct proc	*ing = &procs[PROC_INGESTD];
	char		 name[32];
	unsigned	 i;

	if (!alive(ing))
		return;
	msg_init(&sup.out, MSG_CTL_STATS, 0);
	msg_add_u32(&sup.out, NORDER);
	for (i = 0; i < NORDER; i++) {
		snprintf(name, sizeof(name), "restarts_%s",
		    proc_name(order[i]));
		msg_add_str(&sup.out, name);
		msg_add_u64(&sup.out, procs[order[i]].restarts);
	}
	if (msg_close(&sup.out) == -1 || msg_send(ing->fd, &sup.out, -1) == -1)
		log_warn("send restart counts to ingestd");
}

/* Ask p to drain and exit; fall back to SIGTERM, which means the same. */
static void
proc_stop(struct proc *p)
{
	if (!alive(p) || p->state == PS_STOPPING)
		return;
	p->state = PS_STOPPING;
	if (send_to(p, MSG_CTL_SHUTDOWN, 0, NULL, 0, 0, -1) == -1)
		kill(p->pid, SIGTERM);
}

static void
proc_read(evutil_socket_t fd, short ev, void *arg)
{
	struct proc	*p = arg;
	uint8_t		 buf[MSG_CTL_MAX];
	struct msg	 m;
	size_t		 framelen;
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
		if (msg_parse(buf, (size_t)n, &m, &framelen) != 1 ||
		    framelen != (size_t)n || passfd != -1 ||
		    (m.type != MSG_CTL_READY && m.type != MSG_CTL_PONG &&
		    m.type != MSG_CTL_PUSH_REPORT) ||
		    (m.type == MSG_CTL_PONG && ((p->gauge = msg_get_u64(&m)),
		    msg_done(&m) == -1)) ||
		    (m.type == MSG_CTL_PUSH_REPORT && relay_report(p, &m) == -1)) {
			log_warnx("%s[%ld]: malformed message on its channel; "
			    "killing it", proc_name(p->id), (long)p->pid);
			kill(p->pid, SIGKILL);
			event_del(p->ev_read);
			return;
		}
		p->last_pong = mono_ms();
		if (m.type == MSG_CTL_READY && p->state == PS_STARTING) {
			p->state = PS_RUNNING;
			log_info("%s[%ld] ready", proc_name(p->id), (long)p->pid);
			check_ready();
		}
	}
}

/* pushd's report line for the octctl push waiting on control.c. */
static int
relay_report(struct proc *p, struct msg *m)
{
	uint8_t		 done = msg_get_u8(m);
	const char	*line = msg_get_str(m, NULL);

	if (p->id != PROC_PUSHD || line == NULL || msg_done(m) == -1)
		return -1;
	control_push_report(line, done);
	return 0;
}

int
proc_push(int force, int64_t batch, int verbose)
{
	struct proc *p = &procs[PROC_PUSHD];

	/* a starting pushd reads its config first: the request can wait */
	if (!alive(p) || (p->state != PS_RUNNING && p->state != PS_STARTING))
		return -1;
	msg_init(&sup.out, MSG_CTL_PUSH, 0);
	msg_add_u8(&sup.out, (uint8_t)force);
	msg_add_i64(&sup.out, batch);
	msg_add_u8(&sup.out, (uint8_t)verbose);
	if (msg_close(&sup.out) == -1 || msg_send(p->fd, &sup.out, -1) == -1)
		return -1;
	return 0;
}

/*
 * While stopping, writerd is still needed by a peer that holds data it
 * has not committed: ingestd's window, pushd's marks.
 */
static int
still_needed(const struct proc *p)
{
	return p->id == PROC_WRITERD && (alive(&procs[PROC_INGESTD]) ||
	    alive(&procs[PROC_PUSHD]));
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

static void
describe(int status, char *buf, size_t len)
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

static void
proc_exited(struct proc *p, int status)
{
	char	how[128];
	pid_t	pid = p->pid;
	int	clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	describe(status, how, sizeof(how));
	if (p->id == PROC_PUSHD)
		control_push_report("{\"done\":true,\"error\":\"pushd stopped "
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
		send_to(p, MSG_CTL_PING, sup.ping_seq, NULL, 0, 0, -1);
	}
}

int
proc_check_binaries(const char *libexec_dir, char *err, size_t errlen)
{
	char		path[4096];
	unsigned	i;

	for (i = 0; i < NORDER; i++) {
		snprintf(path, sizeof(path), "%s/%s", libexec_dir,
		    procs[order[i]].binary);
		if (access(path, X_OK) == -1) {
			snprintf(err, errlen, "cannot run %s: %s (set "
			    "OCT_LIBEXEC_DIR to the folder holding the workers)",
			    path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

void
proc_init(struct event_base *base, const char *libexec_dir)
{
	struct timeval	tv = { HEARTBEAT_MS / 1000, (HEARTBEAT_MS % 1000) * 1000 };
	unsigned	i;

	sup.base = base;
	sup.libexec = libexec_dir;
	for (i = 0; i < PROC_MAX; i++) {
		procs[i].fd = -1;
		if (i == PROC_SUPERVISOR)
			continue;
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

/* Restart the next worker still in the reload mask, in stop order. */
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
			send_to(&procs[i], MSG_CTL_REOPEN, 0, NULL, 0, 0, -1);
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
	return procs[PROC_INGESTD].gauge;
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
