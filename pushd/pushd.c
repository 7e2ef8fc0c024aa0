/*
 * pushd.c: oct-pushd's main. The push cycle is in cycle.c; here it is
 * wired to octd (configuration, octctl push sessions, stop) and to
 * writerd (marks travel over link.c and count as done once committed).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "child.h"
#include "log.h"
#include "msg.h"
#include "oct.h"
#include "push.h"
#include "pushd.h"

static void
pushd_exit(void)
{
	child_exit(0);
}

static const struct push_sink pushd_sink = {
	.mark = link_send,
	.next_seq = link_next_seq,
	.idle = link_idle,
	.flush = link_flush,
	.report = child_report,
	.exit = pushd_exit,
};

static void
pushd_configure(struct event_base *base, const struct conf *c)
{
	push_init(base, c, &pushd_sink, NULL);
	link_init(base);
	link_on_idle(push_marks_committed);
	push_start();
	child_ready();
}

/* octctl push, passed on by octd: a session now. */
static void
pushd_ctl(struct msg *m)
{
	uint8_t	force = msg_get_u8(m), verbose;
	int64_t	batch = msg_get_i64(m);

	verbose = msg_get_u8(m);
	if (msg_done(m) == -1)
		fatalx("supervisor channel: bad %s", msg_type_str(m->type));
	push_session(force, verbose, batch);
}

static void
pushd_peer(enum proc_id peer, int fd)
{
	if (peer != PROC_WRITERD)
		fatalx("unexpected peer %s", proc_name(peer));
	link_attach(fd);
}

static void
pushd_cleanup(void)
{
	push_free();
	link_free();
}

static const struct child_ops pushd_ops = {
	.configure = pushd_configure,
	.peer = pushd_peer,
	.shutdown = push_stop,
	.ctl = pushd_ctl,
	.cleanup = pushd_cleanup,
};

int
main(int argc, char *argv[])
{
	return child_main(argc, argv, PROC_PUSHD, &pushd_ops);
}
