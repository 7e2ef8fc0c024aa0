/*
 * control.c: run_dir/control.sock, where octctl talks to octd.
 *
 * One request per connection: a line of JSON ({"cmd":"status"}), answered
 * by a line of JSON, then the connection closes. Only root and octd's own
 * user may connect (SO_PEERCRED); the socket is 0660. Input from here is a
 * client's, not a sibling's: anything malformed gets {"error":...}, never
 * a crash. Built for an operator's few requests a minute.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "log.h"
#include "oct.h"
#include "supervisor.h"

#define CONTROL_LINE_MAX	(64 * 1024)

static struct {
	struct evconnlistener	*listener;
	struct bufferevent	*pusher;	/* octctl push waiting */
	const struct control_ops *ops;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} ctl;

static void
reply(struct bufferevent *bev, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);

	if (text != NULL) {
		bufferevent_write(bev, text, strlen(text));
		bufferevent_write(bev, "\n", 1);
	}
	free(text);
	json_decref(o);
}

static void
reply_error(struct bufferevent *bev, const char *why)
{
	reply(bev, json_pack("{s:s}", "error", why));
}

static json_t *
status(void)
{
	struct proc_info	 pi;
	json_t			*workers = json_array();
	enum proc_id		 id;

	for (id = PROC_INGESTD; id < PROC_MAX; id++) {
		ctl.ops->info(id, &pi);
		json_array_append_new(workers, json_pack("{s:s,s:I,s:s,s:I,s:I}",
		    "name", proc_name(id), "pid", (json_int_t)pi.pid, "state",
		    pi.state, "uptime_s", (json_int_t)pi.uptime_s, "restarts",
		    (json_int_t)pi.restarts));
	}
	return json_pack("{s:I,s:s,s:o,s:I}", "pid", (json_int_t)getpid(),
	    "version", OCT_VERSION, "workers", workers, "queue_depth",
	    (json_int_t)ctl.ops->queue_depth());
}

static void on_write_done(struct bufferevent *, void *);
static void on_event_close(struct bufferevent *, short, void *);

static void
on_pusher_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (bev == ctl.pusher)
		ctl.pusher = NULL;	/* octctl left; pushd goes on */
	bufferevent_free(bev);
}

void
control_push_report(const char *line, int done)
{
	struct bufferevent *bev = ctl.pusher;

	if (bev == NULL)
		return;
	bufferevent_write(bev, line, strlen(line));
	bufferevent_write(bev, "\n", 1);
	if (done) {
		ctl.pusher = NULL;
		bufferevent_setcb(bev, NULL, on_write_done, on_event_close,
		    NULL);
	}
}

static void
push(struct bufferevent *bev, json_t *req)
{
	json_int_t batch = json_integer_value(json_object_get(req,
	    "batch_size"));

	if (ctl.pusher != NULL) {
		reply_error(bev, "a push is already running");
		return;
	}
	if (ctl.ops->push(json_is_true(json_object_get(req, "force")), batch,
	    json_is_true(json_object_get(req, "verbose"))) == -1) {
		reply_error(bev, "pushd is not running");
		return;
	}
	ctl.pusher = bev;
	bufferevent_setcb(bev, NULL, NULL, on_pusher_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

static void
handle(struct bufferevent *bev, const char *line)
{
	json_t		*req = json_loads(line, 0, NULL);
	const char	*cmd = json_string_value(json_object_get(req, "cmd"));
	char		 err[1024];

	if (cmd == NULL)
		reply_error(bev, "expected {\"cmd\":...}");
	else if (strcmp(cmd, "status") == 0)
		reply(bev, status());
	else if (strcmp(cmd, "push") == 0)
		push(bev, req);
	else if (strcmp(cmd, "reload") == 0) {
		if (ctl.ops->reload(err, sizeof(err)) == 0)
			reply(bev, json_pack("{s:b}", "ok", 1));
		else
			reply(bev, json_pack("{s:b,s:s}", "ok", 0, "error", err));
	} else
		reply_error(bev, "unknown command");
	json_decref(req);
}

static void
on_event_close(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
on_write_done(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 len;

	(void)arg;
	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
			/* read no more; freed once written, or on error */
			bufferevent_setcb(bev, NULL, on_write_done,
			    on_event_close, NULL);
			bufferevent_disable(bev, EV_READ);
			reply_error(bev, "request too long");
		}
		return;
	}
	bufferevent_setcb(bev, NULL, on_write_done, on_event_close, NULL);
	bufferevent_disable(bev, EV_READ);
	bufferevent_set_timeouts(bev, NULL, NULL);
	handle(bev, line);
	free(line);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

/*
 * A new client: only root and octd's own user (SO_PEERCRED); anyone
 * else is closed at once. The connection owns fd from here and frees
 * itself: after its answer, on error, or after 10 s without a request.
 */
static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	struct bufferevent	*bev;
	struct timeval		 tv = { 10, 0 };

	(void)sa;
	(void)salen;
	(void)arg;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: refused a client: SO_PEERCRED");
		close(fd);
		return;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		log_warnx("control: refused a client with uid %ld",
		    (long)cred.uid);
		close(fd);
		return;
	}
	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/*
 * Bind run_dir/control.sock (0660), removing a stale one: the caller
 * holds the pid file lock. Returns 0, or -1 with err; ops are kept.
 */
int
control_open(struct event_base *base, const char *run_dir,
    const struct control_ops *ops, char *err, size_t errlen)
{
	struct sockaddr_un	sun;

	ctl.ops = ops;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(ctl.path, sizeof(ctl.path), "%s/control.sock",
	    run_dir) >= sizeof(ctl.path)) {
		snprintf(err, errlen, "%s/control.sock: path too long", run_dir);
		return -1;
	}
	memcpy(sun.sun_path, ctl.path, sizeof(sun.sun_path));
	unlink(ctl.path);	/* we hold the pid file lock: it is stale */
	ctl.listener = evconnlistener_new_bind(base, on_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (ctl.listener == NULL || chmod(ctl.path, 0660) == -1) {
		snprintf(err, errlen, "%s: %s", ctl.path, strerror(errno));
		return -1;
	}
	return 0;
}

void
control_close(void)
{
	if (ctl.pusher != NULL)
		bufferevent_free(ctl.pusher);
	ctl.pusher = NULL;
	if (ctl.listener != NULL) {
		evconnlistener_free(ctl.listener);
		unlink(ctl.path);
	}
	ctl.listener = NULL;
}
