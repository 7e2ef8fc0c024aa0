/*
 * pushd.h: oct-pushd's own parts. The push engine it runs is push/
 * (push.h, libpush.a, which octctl links too); here are pushd's main
 * (pushd.c) and link.c, its channel to writerd: it carries the engine's
 * marks to writerd and sends them again to a new writerd until they are
 * committed.
 */
#ifndef OCT_PUSHD_H
#define OCT_PUSHD_H

#include <stdint.h>

struct event_base;
struct msgb;

/* link.c */
void	 link_init(struct event_base *);
void	 link_free(void);
void	 link_attach(int fd);
/* Queue a mark frame built in b (taken over). */
void	 link_send(struct msgb *b);
uint64_t link_next_seq(void);
/* No mark waits for writerd's commit. */
int	 link_idle(void);
/* Called when the last waiting mark is committed. */
void	 link_on_idle(void (*)(void));
/* Queue a MARK_FLUSH: writerd commits what ingestd has written so far. */
void	 link_flush(void);

#endif
