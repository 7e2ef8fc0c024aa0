/*
 * octd.c: the supervisor's main. Reads and checks the configuration, makes
 * the directories, the signing key and the pid file, starts the workers and
 * then only reacts: SIGCHLD reaps, SIGHUP reloads, SIGTERM/SIGINT stop in
 * order, SIGUSR1 reopens every log. Signal handlers are libevent's: they
 * only record, and the loop acts.
 *
 * "Up" means every worker said it is ready, so ingestd has bound its port:
 * only then does "octd" without -f return 0, and systemd hear READY=1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "conf.h"
#include "key.h"
#include "log.h"
#include "oct.h"
#include "supervisor.h"
#include "util.h"

static struct {
	struct event_base	*base;
	struct conf		 conf;
	char			*conf_path;
	char			*pid_path;
	int			 pid_fd;
	int			 ready_fd;	/* write end: daemon is up */
	struct event		*ev_timeout;
	int			 stopping;
	int			 up;		/* all workers were ready once */
} octd = { .pid_fd = -1, .ready_fd = -1 };

/* -h: on stdout, exit 0; a mistake: on stderr, exit 1. */
static void __attribute__((noreturn))
usage(FILE *f, int status)
{
	fprintf(f, "usage: octd [-fhtV] [-c file]\n"
	    "  -c file  the configuration (default %s/oct/oct.conf)\n"
	    "  -f       stay in the foreground\n"
	    "  -t       check the configuration and the key file, and exit\n"
	    "  -h       this help; -V: the version\n", OCT_SYSCONFDIR);
	exit(status);
}

/*
 * The signing key: made on first start when missing. A key readable by
 * others is kept as it is; pushd refuses to sign with it and says so.
 */
static void
ensure_key(const struct conf *c)
{
	struct key	k;
	char		err[512];

	if (access(c->signing_key, F_OK) == 0)
		return;
	if (key_create(c->signing_key, 0, &k, err, sizeof(err)) == -1)
		log_warnx("signing key: %s", err);
	else
		log_info("created signing key %s (key id %s)", c->signing_key,
		    k.id);
	sodium_memzero(&k, sizeof(k));
}

/* -t: the file, its values, and the key file when there is one. */
static int
check_only(const struct conf *c)
{
	struct key	k;
	char		err[512];

	if (access(c->signing_key, F_OK) == 0 &&
	    key_load(c->signing_key, &k, err, sizeof(err)) == -1) {
		fprintf(stderr, "octd: %s: %s\n", c->file, err);
		return 1;
	}
	sodium_memzero(&k, sizeof(k));
	printf("octd: configuration OK: %s\n", c->file);
	return 0;
}

/* mkdir -p path; 0, or -1 with errno (ENOTDIR: it is something else). */
static int
make_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir_p(path, mode) == -1 || stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * Make data_dir, log_dir and run_dir when missing. Returns 0, or -1 with
 * err naming the key and why: at start octd exits with it, on a reload
 * the new config is refused with it and the old one runs on.
 */
static int
make_dirs(const struct conf *c, char *err, size_t errlen)
{
	struct { const char *key, *path; mode_t mode; } d[] = {
		{ "data_dir", c->data_dir, 0700 },
		{ "log_dir", c->log_dir, 0750 },
		{ "run_dir", c->run_dir, 0755 },
	};
	size_t i;

	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		if (strcmp(d[i].path, "-") == 0)
			continue;
		if (make_dir(d[i].path, d[i].mode) == -1) {
			snprintf(err, errlen, "%s: %s: mkdir %s: %s", c->file,
			    d[i].key, d[i].path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Whether octd may write to its log in c's log_dir (log_file(): not
 * through a link): 0, or -1 with err. Asked before the terminal is gone
 * and before a reload that moves the log is taken.
 */
static int
check_log(const struct conf *c, char *err, size_t errlen)
{
	char	*path;
	int	 fd;

	if ((path = conf_log_path(c, "octd")) == NULL)
		return 0;
	if ((fd = log_file(path)) == -1)
		snprintf(err, errlen, "open %s: %s", path, log_strerror(errno));
	else
		close(fd);
	free(path);
	return fd == -1 ? -1 : 0;
}

/*
 * The parent of daemonize(): wait for the daemon's word on the pipe. "R":
 * up, exit 0. "F" and a reason: a worker failed while starting (the
 * daemon goes on restarting it), exit 1 with the reason. End of file: the
 * daemon died, its log says why.
 */
static int
wait_up(int fd)
{
	char	buf[1024];
	ssize_t	n;

	while ((n = read(fd, buf, sizeof(buf) - 1)) == -1 && errno == EINTR)
		;
	if (n == 1 && buf[0] == 'R')
		return 0;
	if (n > 1 && buf[0] == 'F') {
		buf[n] = '\0';
		fprintf(stderr, "octd: %s\n", buf + 1);
	} else
		fprintf(stderr, "octd: exited while starting; see %s/octd.log\n",
		    octd.conf.log_dir);
	return 1;
}

/* Give the parent of daemonize() its word (one write, under PIPE_BUF). */
static void
tell_parent(const char *word)
{
	if (octd.ready_fd == -1)
		return;
	(void)!write(octd.ready_fd, word, strlen(word));
	close(octd.ready_fd);
	octd.ready_fd = -1;
}

/*
 * Go to the background. The parent waits until the daemon says it is up
 * so that "octd" exits 0 only for a running daemon.
 */
static void
daemonize(void)
{
	int	 fds[2], null;
	pid_t	 pid;

	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		perror("octd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		_exit(wait_up(fds[0]));
	}
	close(fds[0]);
	octd.ready_fd = fds[1];
	setsid();
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

/*
 * proc_when_ready()'s callback, at start and after each reload. A worker
 * that dies while starting is the parent's answer; systemd is told READY
 * only once they are all up (its TimeoutStartSec= decides how long that
 * may take). After a reload systemd hears READY either way.
 */
static void
workers_up(const char *failure)
{
	char	msg[1024];

	if (failure == NULL) {
		log_info("all workers ready");
		octd.up = 1;
		tell_parent("R");
		snprintf(msg, sizeof(msg), "collecting on %s", octd.conf.listen);
		notify_ready(msg);
		return;
	}
	snprintf(msg, sizeof(msg), "F%s while starting; octd (pid %ld) goes on "
	    "restarting it; logs in %s", failure, (long)getpid(),
	    octd.conf.log_dir);
	tell_parent(msg);
	if (!octd.up) {
		proc_when_ready(workers_up);
		return;
	}
	snprintf(msg, sizeof(msg), "reloaded, but %s", failure);
	notify_ready(msg);
}

/* A reload that is refused: say so to systemd, which waits for READY. */
static int
refuse(const char *err)
{
	char msg[1200];

	log_errorx("reload refused, keeping the running configuration: %s",
	    err);
	snprintf(msg, sizeof(msg), "reload refused: %s", err);
	notify_ready(msg);
	return -1;
}

static void
all_stopped(void)
{
	log_info("all workers stopped; exiting");
	event_base_loopexit(octd.base, NULL);
}

static void
stop_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_errorx("shutdown took longer than %lld ms",
	    (long long)octd.conf.shutdown_timeout_ms);
	proc_kill_all();
	event_base_loopexit(octd.base, NULL);
}

static void
begin_stop(const char *why)
{
	struct timeval tv;

	if (octd.stopping)
		return;
	octd.stopping = 1;
	log_info("%s: stopping", why);
	notify_stopping();
	tv.tv_sec = octd.conf.shutdown_timeout_ms / 1000;
	tv.tv_usec = (octd.conf.shutdown_timeout_ms % 1000) * 1000;
	octd.ev_timeout = evtimer_new(octd.base, stop_timeout, NULL);
	if (octd.ev_timeout != NULL)
		evtimer_add(octd.ev_timeout, &tv);
	proc_stop_all(all_stopped);
}

/*
 * Reload the config file (SIGHUP, octctl reload). Returns 0 once the new
 * configuration is taken and the workers it touches are being restarted,
 * or -1 with why (file, line, key) in err: the old configuration runs on.
 */
static int
octd_reload(char *err, size_t errlen)
{
	struct conf	 next;
	char		 why[1024], *logpath;
	unsigned	 mask;
	size_t		 i;

	if (octd.stopping) {
		snprintf(err, errlen, "octd is stopping");
		return -1;
	}
	notify_reloading();
	if (conf_load(&next, octd.conf_path, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return refuse(err);
	}
	if (strcmp(next.run_dir, octd.conf.run_dir) != 0) {
		snprintf(err, errlen, "%s: run_dir cannot change while octd "
		    "runs; restart it", next.file);
		conf_free(&next);
		return refuse(err);
	}
	if (make_dirs(&next, err, errlen) == -1 ||
	    (strcmp(next.log_dir, octd.conf.log_dir) != 0 &&
	    check_log(&next, err, errlen) == -1) ||
	    priv_setup(&next, err, errlen) == -1) {
		conf_free(&next);
		return refuse(err);
	}
	mask = conf_diff(&octd.conf, &next);
	conf_free(&octd.conf);
	octd.conf = next;
	if (mask & PROC_BIT(PROC_SUPERVISOR)) {
		logpath = conf_log_path(&octd.conf, "octd");
		if (log_open(logpath) == -1)
			log_errorx("open %s: %s", logpath, log_strerror(errno));
		free(logpath);
	}
	ensure_key(&octd.conf);
	priv_own(&octd.conf);
	if ((mask & PROC_WORKERS) == 0)
		log_info("reloaded %s: no worker affected", octd.conf.file);
	for (i = 0; i < PROC_MAX; i++)
		if (i != PROC_SUPERVISOR && (mask & PROC_BIT(i)))
			log_info("reloaded %s: restarting %s", octd.conf.file,
			    proc_name((enum proc_id)i));
	proc_reload(&octd.conf, mask);
	proc_when_ready(workers_up);
	return 0;
}

/* What control.c may ask: the process table's, and our reload. */
static const struct control_ops control_ops = {
	.info = proc_info,
	.queue_depth = proc_queue_depth,
	.push = proc_push,
	.reload = octd_reload,
};

/*
 * The signals octd acts on, in the loop (the handler only recorded
 * them): SIGCHLD reaps, SIGHUP reloads (a refused reload is logged and
 * the old config runs on), SIGTERM/SIGINT stop, SIGUSR1 reopens the logs.
 */
static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	char why[1024];

	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGCHLD:
		proc_reap();
		break;
	case SIGHUP:
		log_info("SIGHUP: reloading %s", octd.conf_path);
		octd_reload(why, sizeof(why));
		break;
	case SIGTERM:
		begin_stop("SIGTERM");
		break;
	case SIGINT:
		begin_stop("SIGINT");
		break;
	case SIGUSR1:
		if (log_reopen() == -1)
			log_errorx("reopen %s/octd.log: %s", octd.conf.log_dir,
			    log_strerror(errno));
		else
			log_info("log reopened");
		proc_reopen_logs();
		break;
	}
}

/*
 * The daemon's life from the checked configuration on: directories,
 * pid file, log, background, signals, control socket, key, workers, the
 * loop, and the clean-up once the stop is done. Exits 1 (with a line on
 * standard error) if any step before the loop fails; returns after it.
 */
static void
run(const char *libexec, int foreground)
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
	struct event	*ev[sizeof(sigs) / sizeof(sigs[0])];
	char		 err[1024], *logpath;
	size_t		 i;

	if (make_dirs(&octd.conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "octd: %s\n", err);
		exit(1);
	}
	if (asprintf(&octd.pid_path, "%s/octd.pid", octd.conf.run_dir) == -1)
		exit(1);
	if ((octd.pid_fd = pidfile_open(octd.pid_path, err, sizeof(err))) == -1) {
		fprintf(stderr, "octd: %s\n", err);
		exit(1);
	}
	if (check_log(&octd.conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "octd: %s\n", err);
		exit(1);
	}
	logpath = conf_log_path(&octd.conf, "octd");
	if (foreground && logpath != NULL)
		fprintf(stderr, "octd: running in the foreground (pid %ld); "
		    "logs in %s\n", (long)getpid(), octd.conf.log_dir);
	if (!foreground)
		daemonize();
	if (logpath != NULL && log_open(logpath) == -1) {
		fprintf(stderr, "octd: open %s: %s\n", logpath,
		    log_strerror(errno));
		exit(1);
	}
	free(logpath);
	if (pidfile_write(octd.pid_fd, getpid()) == -1)
		fatal("write %s", octd.pid_path);
	signal(SIGPIPE, SIG_IGN);
	if ((octd.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev[i] = evsignal_new(octd.base, sigs[i], on_signal, NULL);
		if (ev[i] == NULL || event_add(ev[i], NULL) == -1)
			fatalx("signal event");
	}
	log_info("octd %s starting with %s", OCT_VERSION, octd.conf.file);
	if (priv_setup(&octd.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (control_open(octd.base, octd.conf.run_dir, &control_ops, err,
	    sizeof(err)) == -1)
		fatalx("control socket: %s", err);
	ensure_key(&octd.conf);
	priv_own(&octd.conf);
	notify_init(octd.base, proc_answering);
	worker_init(libexec);
	proc_init(octd.base, control_push_report);
	proc_start_all(&octd.conf);
	proc_when_ready(workers_up);
	event_base_dispatch(octd.base);

	control_close();
	notify_free();
	proc_free();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(ev[i]);
	if (octd.ev_timeout != NULL)
		event_free(octd.ev_timeout);
	event_base_free(octd.base);
	pidfile_remove(octd.pid_path, octd.pid_fd);
	log_info("exited");
}

/*
 * Parse the options, load and check the configuration and the worker
 * binaries, then run(). Returns the exit status: 0, or 1 with a line on
 * standard error (a bad option, file, or binary).
 */
int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*path = OCT_SYSCONFDIR "/oct/oct.conf", *libexec;
	char		*abs_libexec;
	char		 err[1024], cwd[PATH_MAX];
	int		 ch, foreground = 0, check = 0;

	while ((ch = getopt_long(argc, argv, "c:fhtV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 'h': usage(stdout, 0);
		case 't': check = 1; break;
		case 'V': printf("octd %s\n", OCT_VERSION); return 0;
		default: usage(stderr, 1);
		}
	}
	if (optind != argc)
		usage(stderr, 1);
	log_init("octd", LOG_INFO);
	/*
	 * libcurl maps GnuTLS (for LDAP and RTMP, never used: pushd's TLS is
	 * OpenSSL's), whose constructor would set it up in every process
	 * that loads libcurl: 128 kB of pushd's heap, idle. Inherited by the
	 * workers and the push_url check; an operator's own value stands.
	 */
	setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "octd: sodium_init failed\n");
		return 1;
	}
	if (getcwd(cwd, sizeof(cwd)) != NULL)
		conf_set_base(cwd);	/* for reloads, after the chdir("/") */
	conf_check_urls(url_check_apart);
	if (conf_load(&octd.conf, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "octd: %s\n", err);
		return 1;
	}
	if (check) {
		ch = check_only(&octd.conf);
		conf_free(&octd.conf);
		return ch;
	}
	if ((octd.conf_path = realpath(path, NULL)) == NULL) {
		fprintf(stderr, "octd: %s: %s\n", path, strerror(errno));
		return 1;
	}
	libexec = getenv("OCT_LIBEXEC_DIR");
	if (libexec == NULL || *libexec == '\0')
		libexec = OCT_LIBEXECDIR;
	worker_init(libexec);
	if (proc_check_binaries(err, sizeof(err)) == -1) {
		fprintf(stderr, "octd: %s\n", err);
		return 1;
	}
	if ((abs_libexec = realpath(libexec, NULL)) == NULL) {
		fprintf(stderr, "octd: %s: %s\n", libexec, strerror(errno));
		return 1;
	}
	run(abs_libexec, foreground);
	free(abs_libexec);
	conf_free(&octd.conf);
	free(octd.conf_path);
	free(octd.pid_path);
	return 0;
}
