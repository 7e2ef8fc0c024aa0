/*
 * writerd.c: oct-writerd's main. Until the ingest path is built (issue: ingest
 * path) it only lives under octd: it takes its channel to writerd, answers
 * heartbeats and exits cleanly when told to.
 */
#include "config.h"

#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "conf.h"
#include "log.h"

static int peer_fd[PROC_MAX] = { -1, -1, -1, -1 };

static void
writerd_configure(struct event_base *base, const struct conf *c)
{
	(void)base;
	log_info("started; data_dir %s", c->data_dir);
	child_ready();
}

static void
writerd_peer(enum proc_id peer, int fd)
{
	if (peer != PROC_INGESTD && peer != PROC_PUSHD)
		fatalx("unexpected peer %s", proc_name(peer));
	if (peer_fd[peer] != -1)
		close(peer_fd[peer]);
	peer_fd[peer] = fd;
}

static void
writerd_shutdown(void)
{
	child_exit(0);
}

static void
writerd_cleanup(void)
{
	int i;

	for (i = 0; i < PROC_MAX; i++)
		if (peer_fd[i] != -1)
			close(peer_fd[i]);
}

static const struct child_ops writerd_ops = {
	.configure = writerd_configure,
	.peer = writerd_peer,
	.shutdown = writerd_shutdown,
	.cleanup = writerd_cleanup,
};

int
main(void)
{
	return child_run(PROC_WRITERD, &writerd_ops);
}
