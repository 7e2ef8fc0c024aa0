/*
 * pushd.c: oct-pushd's main. Until the push path is built (issue: push
 * path) it only lives under octd: it takes its channel to writerd, answers
 * heartbeats and exits cleanly when told to.
 */
#include "config.h"

#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "conf.h"
#include "log.h"

static int writer_fd = -1;

static void
pushd_configure(struct event_base *base, const struct conf *c)
{
	(void)base;
	log_info("started; push_url %s", *c->push_url != '\0' ? c->push_url :
	    "is empty: pushing is disabled");
	child_ready();
}

static void
pushd_peer(enum proc_id peer, int fd)
{
	if (peer != PROC_WRITERD)
		fatalx("unexpected peer %s", proc_name(peer));
	if (writer_fd != -1)
		close(writer_fd);
	writer_fd = fd;
}

static void
pushd_shutdown(void)
{
	child_exit(0);
}

static void
pushd_cleanup(void)
{
	if (writer_fd != -1)
		close(writer_fd);
}

static const struct child_ops pushd_ops = {
	.configure = pushd_configure,
	.peer = pushd_peer,
	.shutdown = pushd_shutdown,
	.cleanup = pushd_cleanup,
};

int
main(void)
{
	return child_run(PROC_PUSHD, &pushd_ops);
}
