/*
 * child.c: the worker side of the supervisor channel (see child.h).
 *
 * Traffic here is a heartbeat a second and a few control messages, so a
 * record is read straight into a stack buffer. The supervisor is trusted:
 * anything malformed from it is a bug and fatal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "child.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "store.h"
#include "util.h"

#define SUP_FD	3

static struct {
	enum proc_id		 id;
	const struct child_ops	*ops;
	struct event_base	*base;
	struct event		*ev_sup, *ev_term, *ev_usr1;
	struct conf		 conf;
	int			 configured;
	int			 stopping;
	pid_t			 ppid;		/* octd */
	int			 status;
} child;

static void
send_ctl(uint16_t type, uint64_t seq)
{
	struct msgb b = { 0 };

	msg_init(&b, type, seq);
	if (type == MSG_CTL_PONG)
		msg_add_u64(&b, child.ops->gauge != NULL && child.configured ?
		    child.ops->gauge() : 0);
	if (msg_close(&b) == -1 || msg_send(SUP_FD, &b, -1) == -1)
		log_warn("send %s to octd", msg_type_str(type));
	msg_free(&b);
}

void
child_gauge_changed(void)
{
	if (child.configured && !child.stopping)
		send_ctl(MSG_CTL_PONG, 0);
}

void
child_ready(void)
{
	send_ctl(MSG_CTL_READY, 0);
}

void
child_report(int done, const char *line)
{
	struct msgb b = { 0 };

	msg_init(&b, MSG_CTL_PUSH_REPORT, 0);
	msg_add_u8(&b, (uint8_t)done);
	msg_add_str(&b, line);
	if (msg_close(&b) == -1 || msg_send(SUP_FD, &b, -1) == -1)
		log_warn("send %s to octd", msg_type_str(MSG_CTL_PUSH_REPORT));
	msg_free(&b);
}

void
child_exit(int status)
{
	child.status = status;
	event_base_loopexit(child.base, NULL);
}

int
child_stopping(void)
{
	return child.stopping;
}

int
child_orphaned(void)
{
	return child.ppid != 0 && getppid() != child.ppid;
}

static void
begin_shutdown(const char *why)
{
	if (child.stopping)
		return;
	child.stopping = 1;
	log_info("stopping: %s", why);
	if (child.ops->shutdown != NULL && child.configured)
		child.ops->shutdown();
	else
		child_exit(0);
}

static void
reopen_log(void)
{
	if (log_reopen() == -1)
		log_warn("reopen log");
	else
		log_info("log reopened");
}

static void
on_config(struct msg *m)
{
	char		 err[512], *path;
	const char	*text = msg_get_str(m, NULL);

	if (text == NULL || msg_done(m) == -1)
		fatalx("supervisor channel: bad %s", msg_type_str(m->type));
	if (child.configured)
		fatalx("supervisor channel: second %s", msg_type_str(m->type));
	if (conf_load_text(&child.conf, text, err, sizeof(err)) == -1)
		fatalx("configuration from octd: %s", err);
	path = conf_log_path(&child.conf, proc_name(child.id));
	if (path != NULL && log_open(path) == -1)
		log_warn("open %s", path);
	free(path);
	child.configured = 1;
	child.ops->configure(child.base, &child.conf);
}

static void
on_peer(struct msg *m, int fd)
{
	uint32_t peer = msg_get_u32(m);

	if (msg_done(m) == -1 || fd == -1 || peer >= PROC_MAX)
		fatalx("supervisor channel: bad %s", msg_type_str(m->type));
	/* also while draining: the drain may need the new channel */
	if (child.ops->peer != NULL)
		child.ops->peer((enum proc_id)peer, fd);
	else
		close(fd);
}

/*
 * One message from octd, already parsed. fd is the descriptor that
 * came with it (-1: none), which only MSG_CTL_PEER may carry; the
 * handler then owns it. Anything unexpected is octd's bug: fatal.
 */
static void
dispatch(struct msg *m, int fd)
{
	if (fd != -1 && m->type != MSG_CTL_PEER)
		fatalx("supervisor channel: descriptor with %s",
		    msg_type_str(m->type));
	switch (m->type) {
	case MSG_CTL_CONFIG:
		on_config(m);
		break;
	case MSG_CTL_PING:
		send_ctl(MSG_CTL_PONG, m->seq);
		break;
	case MSG_CTL_SHUTDOWN:
		begin_shutdown("asked by octd");
		break;
	case MSG_CTL_REOPEN:
		reopen_log();
		break;
	case MSG_CTL_PEER:
		on_peer(m, fd);
		break;
	case MSG_CTL_STATS:
	case MSG_CTL_PUSH:
		if (child.ops->ctl != NULL && child.configured)
			child.ops->ctl(m);
		break;
	default:
		fatalx("supervisor channel: unexpected %s (%u)",
		    msg_type_str(m->type), m->type);
	}
}

/*
 * fd 3 is readable: handle every record waiting. EOF means octd is
 * gone: drain and exit, as on SIGTERM. A malformed record is fatal.
 */
static void
sup_read(evutil_socket_t fd, short ev, void *arg)
{
	uint8_t		 buf[MSG_CTL_MAX];
	struct msg	 m;
	size_t		 framelen;
	ssize_t		 n;
	int		 passfd;

	(void)ev;
	(void)arg;
	for (;;) {
		n = msg_recv(fd, buf, sizeof(buf), &passfd);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1)
			fatal("supervisor channel");
		if (n == 0) {
			event_del(child.ev_sup);
			begin_shutdown("octd is gone");
			return;
		}
		if (msg_parse(buf, (size_t)n, &m, &framelen) != 1 ||
		    framelen != (size_t)n)
			fatalx("supervisor channel: malformed frame");
		dispatch(&m, passfd);
	}
}

static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	if (sig == SIGTERM)
		begin_shutdown("SIGTERM");
	else if (sig == SIGUSR1)
		reopen_log();
}

/*
 * The worker's whole life: check it was started by octd (fd 3 open,
 * parent alive), set up signals and the loop, run until child_exit(),
 * then ops->cleanup() if configure() ran. Returns the status given to
 * child_exit(), for main to return; fatal if the loop cannot be set up.
 */
int
child_run(enum proc_id id, const struct child_ops *ops)
{
	struct event_config *cfg;

	child.id = id;
	child.ops = ops;
	log_init(proc_name(id), LOG_INFO);
	if (store_lazy_cache() == -1)
		fatalx("sqlite3_config(SQLITE_CONFIG_PAGECACHE) failed");
	if (fcntl(SUP_FD, F_GETFD) == -1)
		fatalx("fd %d is not open: oct-%s is started by octd, not by "
		    "hand", SUP_FD, proc_name(id));
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		fatal("prctl(PR_SET_PDEATHSIG)");
	if ((child.ppid = getppid()) == 1)
		fatalx("octd is already gone");
	if (sodium_init() < 0)
		fatalx("sodium_init failed");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (fd_nonblock(SUP_FD) == -1)
		fatal("fd %d", SUP_FD);
	/*
	 * The epoll changelist folds the add/del pairs evhttp makes on every
	 * request (read off, write on, write off, read on) into at most one
	 * epoll_ctl per descriptor and loop turn. oct never dup()s a watched
	 * descriptor, the case the changelist gets wrong.
	 */
	if ((cfg = event_config_new()) == NULL)
		fatalx("event_config_new failed");
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	child.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (child.base == NULL)
		fatalx("event_base_new failed");
	child.ev_sup = event_new(child.base, SUP_FD, EV_READ | EV_PERSIST,
	    sup_read, NULL);
	child.ev_term = evsignal_new(child.base, SIGTERM, on_signal, NULL);
	child.ev_usr1 = evsignal_new(child.base, SIGUSR1, on_signal, NULL);
	if (child.ev_sup == NULL || child.ev_term == NULL ||
	    child.ev_usr1 == NULL || event_add(child.ev_sup, NULL) == -1 ||
	    event_add(child.ev_term, NULL) == -1 ||
	    event_add(child.ev_usr1, NULL) == -1)
		fatalx("cannot set up the event loop");
	event_base_dispatch(child.base);
	if (child.ops->cleanup != NULL && child.configured)
		child.ops->cleanup();
	log_info("exiting");
	event_free(child.ev_sup);
	event_free(child.ev_term);
	event_free(child.ev_usr1);
	event_base_free(child.base);
	conf_free(&child.conf);
	return child.status;
}

static void __attribute__((noreturn))
usage(enum proc_id id, FILE *f, int status)
{
	fprintf(f, "usage: oct-%s [-hV]\n"
	    "oct-%s is started by octd, which hands it its configuration\n"
	    "on descriptor 3; it is not run by hand.\n", proc_name(id),
	    proc_name(id));
	exit(status);
}

int
child_main(int argc, char *argv[], enum proc_id id,
    const struct child_ops *ops)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(id, stdout, 0);
		case 'V':
			printf("oct-%s %s\n", proc_name(id), OCT_VERSION);
			return 0;
		default:
			usage(id, stderr, 1);
		}
	}
	if (optind != argc)
		usage(id, stderr, 1);
	return child_run(id, ops);
}
