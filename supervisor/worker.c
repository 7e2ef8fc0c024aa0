/*
 * worker.c: one worker process, as octd sees it: starting it (its
 * channel, its log, the fork and exec with fixed descriptors), the typed
 * messages octd sends it, and reading what it sends back (one whole frame
 * per datagram, no descriptor, then one function per type). proc.c owns
 * the table and decides when each of these happens; this file keeps no
 * state of its own but the folder of the worker binaries and a buffer,
 * and calls back into proc.c only through struct worker_hooks.
 *
 * Called a few times per worker life and once a second per worker (the
 * heartbeat), never on the data path.
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

static struct {
	const char			*libexec;
	struct event_base		*base;
	const struct worker_hooks	*hooks;
	struct msgb			 out;
} w;

void
worker_init(const char *libexec_dir)
{
	w.libexec = libexec_dir;
}

void
worker_attach(struct event_base *base, const struct worker_hooks *hooks)
{
	w.base = base;
	w.hooks = hooks;
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

/* A peer channel (SOCK_STREAM, CLOEXEC, large buffers); 0 or -1 (errno). */
static int
peer_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	grow_buffer(sv[0]);
	grow_buffer(sv[1]);
	return 0;
}

/*
 * The worker's log, opened here as root and handed to the user: only a
 * regular file, never through a link (log_file()), since log_dir is the
 * user's. One that is refused is not repaired: the worker then starts
 * with standard error on /dev/null and its own open, as the user, is
 * refused the same way, so it logs nowhere until the file is fixed and
 * it restarts or gets SIGUSR1; octd.log says so. Returns the fd (the
 * caller closes it), or -1 when log_dir is "-" (the worker shares octd's
 * standard error).
 */
static int
open_log(const struct conf *c, enum proc_id id)
{
	char	*path;
	int	 fd;

	if ((path = conf_log_path(c, proc_name(id))) == NULL)
		return -1;
	if ((fd = log_file(path)) == -1) {
		log_errorx("open %s: %s; %s runs without a log until it is "
		    "fixed", path, log_strerror(errno), proc_name(id));
		/* not octd's own standard error: that is octd.log */
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	} else if (priv_own_fd(fd) == -1)
		log_warn("chown %s", path);
	free(path);
	return fd;
}

/* In the child: put chan on fd 3, the log on fd 2, close the rest, exec. */
static void __attribute__((noreturn))
exec_worker(const char *binary, int chan, int logfd)
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
	priv_drop(binary);
	snprintf(path, sizeof(path), "%s/%s", w.libexec, binary);
	argv[0] = (char *)binary;
	argv[1] = NULL;
	execv(path, argv);
	dprintf(STDERR_FILENO, "octd: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}


int
worker_check(const char *binary, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", w.libexec, binary);
	if (access(path, X_OK) == -1) {
		snprintf(err, errlen, "cannot run %s: %s (set "
		    "OCT_LIBEXEC_DIR to the folder holding the workers)", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

void
worker_describe(int status, char *buf, size_t len)
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

static void	worker_read(evutil_socket_t, short, void *);

/*
 * Fork and exec p with conf's log for it. Returns 0 with p->pid, p->fd
 * (our end of its channel, non-blocking, watched) and p STARTING; or -1
 * with errno and *what the step that failed ("socketpair", "fork"), p
 * unchanged. The child never returns.
 */
int
worker_spawn(struct proc *p, const struct conf *conf, const char **what)
{
	int	 sv[2], logfd, err;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		*what = "socketpair";
		return -1;
	}
	logfd = open_log(conf, p->id);
	if ((pid = fork()) == 0)
		exec_worker(p->binary, sv[1], logfd);
	err = errno;
	close(sv[1]);
	if (logfd != -1)
		close(logfd);
	if (pid == -1) {
		close(sv[0]);
		*what = "fork";
		errno = err;
		return -1;
	}
	p->pid = pid;
	p->fd = sv[0];
	if (fd_nonblock(p->fd) == -1)
		fatal("channel of %s", proc_name(p->id));
	p->ev_read = event_new(w.base, p->fd, EV_READ | EV_PERSIST,
	    worker_read, p);
	if (p->ev_read == NULL || event_add(p->ev_read, NULL) == -1)
		fatalx("event for %s", proc_name(p->id));
	p->state = PS_STARTING;
	return 0;
}

void
worker_forget(struct proc *p)
{
	if (p->ev_read != NULL)
		event_free(p->ev_read);
	p->ev_read = NULL;
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	p->pid = 0;
}

/* Send w.out, a type message, to p (with passfd or -1); 0, -1 logged. */
static int
send_out(struct proc *p, uint16_t type, int passfd)
{
	if (msg_close(&w.out) == -1 || msg_send(p->fd, &w.out, passfd) == -1) {
		log_warn("send %s to %s[%ld]", msg_type_str(type),
		    proc_name(p->id), (long)p->pid);
		return -1;
	}
	return 0;
}

int
worker_send(struct proc *p, uint16_t type, uint64_t seq)
{
	msg_init(&w.out, type, seq);
	return send_out(p, type, -1);
}

int
worker_send_config(struct proc *p, const struct conf *conf)
{
	char	*text;
	int	 r;

	if ((text = conf_dump(conf)) == NULL)
		fatalx("out of memory");
	msg_init(&w.out, MSG_CTL_CONFIG, 0);
	msg_add_str(&w.out, text);
	r = send_out(p, MSG_CTL_CONFIG, -1);
	free(text);
	return r;
}

/* fd, p's end of a new channel to peer; the caller closes its copy. */
static int
send_peer(struct proc *p, enum proc_id peer, int fd)
{
	msg_init(&w.out, MSG_CTL_PEER, 0);
	msg_add_u32(&w.out, peer);
	return send_out(p, MSG_CTL_PEER, fd);
}

int
worker_connect(struct proc *p, struct proc *q)
{
	int sv[2];

	if (peer_pair(sv) == -1)
		return -1;
	send_peer(p, q->id, sv[0]);
	send_peer(q, p->id, sv[1]);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

void
worker_heartbeat(struct proc *p, uint64_t seq)
{
	int64_t now = mono_ms();

	if (now - p->last_pong > HEARTBEAT_LIMIT_MS) {
		log_warnx("%s[%ld] has not answered for %lld ms; killing it",
		    proc_name(p->id), (long)p->pid,
		    (long long)(now - p->last_pong));
		p->hung = 1;
		kill(p->pid, SIGKILL);
		return;
	}
	worker_send(p, MSG_CTL_PING, seq);
}

void
worker_kill(struct proc *p)
{
	int status;

	log_warnx("%s[%ld] did not stop in time; killing it",
	    proc_name(p->id), (long)p->pid);
	kill(p->pid, SIGKILL);
	if (waitpid(p->pid, &status, 0) == p->pid) {
		p->state = PS_IDLE;
		worker_forget(p);
	}
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

int64_t
worker_wait_restart(struct proc *p)
{
	struct timeval	tv;
	int64_t		delay = next_backoff(p);

	p->state = PS_WAITING;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(p->ev_restart, &tv);
	return delay;
}

int
worker_send_stats(struct proc *p, unsigned n, const char *const names[],
    const uint64_t values[])
{
	unsigned i;

	msg_init(&w.out, MSG_CTL_STATS, 0);
	msg_add_u32(&w.out, n);
	for (i = 0; i < n; i++) {
		msg_add_str(&w.out, names[i]);
		msg_add_u64(&w.out, values[i]);
	}
	return send_out(p, MSG_CTL_STATS, -1);
}

int
worker_send_push(struct proc *p, int force, int64_t batch, int verbose)
{
	msg_init(&w.out, MSG_CTL_PUSH, 0);
	msg_add_u8(&w.out, (uint8_t)force);
	msg_add_i64(&w.out, batch);
	msg_add_u8(&w.out, (uint8_t)verbose);
	return send_out(p, MSG_CTL_PUSH, -1);
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
	w.hooks->ready();
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
	w.hooks->report(line, done);
	return 0;
}

/*
 * One datagram of n bytes from p's channel: check the frame, decode, then
 * call the handler of its type. Returns 0, or -1 if it is malformed or
 * not a message a worker sends (the caller kills p).
 */
static int
dispatch(struct proc *p, const uint8_t *buf, size_t n, int passfd)
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

/*
 * p's channel is readable: every datagram waiting, one at a time. At EOF
 * it stops watching (SIGCHLD tells how the worker ended); a malformed
 * message gets the worker killed, never octd.
 */
static void
worker_read(evutil_socket_t fd, short ev, void *arg)
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
			event_del(p->ev_read);
			return;
		}
		if (passfd != -1)
			close(passfd);
		if (dispatch(p, buf, (size_t)n, passfd) == -1) {
			log_warnx("%s[%ld]: malformed message on its channel; "
			    "killing it", proc_name(p->id), (long)p->pid);
			kill(p->pid, SIGKILL);
			event_del(p->ev_read);
			return;
		}
	}
}

void
worker_free(void)
{
	msg_free(&w.out);
}
