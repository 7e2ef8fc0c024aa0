/*
 * ingestd.c: oct-ingestd's main. Until the ingest path is built (issue: ingest
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
ingestd_configure(struct event_base *base, const struct conf *c)
{
	(void)base;
	log_info("started; listen %s", c->listen);
	child_ready();
}

static void
ingestd_peer(enum proc_id peer, int fd)
{
	if (peer != PROC_WRITERD)
		fatalx("unexpected peer %s", proc_name(peer));
	if (writer_fd != -1)
		close(writer_fd);
	writer_fd = fd;
}

static void
ingestd_shutdown(void)
{
	child_exit(0);
}

static void
ingestd_cleanup(void)
{
	if (writer_fd != -1)
		close(writer_fd);
}

static const struct child_ops ingestd_ops = {
	.configure = ingestd_configure,
	.peer = ingestd_peer,
	.shutdown = ingestd_shutdown,
	.cleanup = ingestd_cleanup,
};

int
main(void)
{
	return child_run(PROC_INGESTD, &ingestd_ops);
}
