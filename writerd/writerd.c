/*
 * writerd.c: oct-writerd's main and housekeeping.
 *
 * Opens data_dir/oct.db read-write (and so takes the writer lock), then
 * lives on its channels. Housekeeping runs between batches, never inside
 * one: retention every hour, the max_db_bytes cap at most once a second
 * after a commit, and a WAL checkpoint (TRUNCATE) once writes pause for a
 * second, which gives the WAL file back. Under steady load SQLite's own
 * checkpoint runs after the commit that fills 256 pages (common/store.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "conf.h"
#include "log.h"
#include "oct.h"
#include "store.h"
#include "writerd.h"

#define RETENTION_EVERY_MS	(3600 * 1000)
#define TRIM_CHUNK		1000
#define SIZE_CHECK_MS		1000
#define IDLE_CHECKPOINT_MS	1000

static struct {
	struct event_base	*base;
	const struct conf	*conf;
	struct store		*store;
	int			 storage_full;
	int			 unproven;	/* fresh, no commit yet */
	int			 damage_said;	/* since the last commit */
} wd;

static struct {
	struct event	*retention, *idle;
	struct event	*stop;		/* waiting for ingestd's drain */
	int64_t		 stop_by;	/* mono ms */
	int64_t		 last_size_check;
} hk;

static void
arm(struct event *ev, int64_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/*
 * Delete synced rows in chunks, each its own short transaction. With a
 * cutoff (retention) it goes on until a pass deletes nothing: a pass takes
 * up to TRIM_CHUNK rows of each table, so its total says nothing about
 * whether one table still has rows left. Without one (the size cap) it
 * takes one pass and the caller measures again.
 */
static int
trim(int64_t cutoff_ms)
{
	int	deleted, total = 0;

	do {
		if (store_begin(wd.store) == -1 ||
		    store_trim_synced(wd.store, cutoff_ms, TRIM_CHUNK,
		    &deleted) == -1 || store_commit(wd.store) == -1) {
			log_warnx("delete synced rows: %s", store_error(wd.store));
			store_rollback(wd.store);
			return total;
		}
		total += deleted;
	} while (deleted > 0 && cutoff_ms != 0);
	return total;
}

/* Keep oct.db under max_db_bytes by dropping the oldest synced rows. */
static void
check_size(void)
{
	int64_t	used;
	int	full, deleted;

	hk.last_size_check = mono_ms();
	if (store_used_bytes(wd.store, &used) == -1)
		return;
	while (used > wd.conf->max_db_bytes &&
	    (deleted = trim(0)) > 0) {
		log_info("over max_db_bytes: deleted %d oldest synced rows",
		    deleted);
		store_checkpoint(wd.store);
		if (store_used_bytes(wd.store, &used) == -1)
			return;
	}
	full = used > wd.conf->max_db_bytes;
	if (full != wd.storage_full) {
		if (full)
			log_warnx("storage full: %lld bytes used, max_db_bytes "
			    "%lld, and no synced rows left to delete; ingest "
			    "answers 503", (long long)used,
			    (long long)wd.conf->max_db_bytes);
		else
			log_info("storage no longer full");
		wd.storage_full = full;
		chan_storage(full);
	}
}

/* batch_ops.after_commit: the size cap, and the idle checkpoint's timer. */
static void
writerd_committed(void)
{
	wd.unproven = wd.damage_said = 0;
	if (mono_ms() - hk.last_size_check >= SIZE_CHECK_MS)
		check_size();
	arm(hk.idle, IDLE_CHECKPOINT_MS);
}

static void
on_idle(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (store_checkpoint(wd.store) == -1)
		log_warnx("checkpoint: %s", store_error(wd.store));
	check_size();
}

static void
on_retention(evutil_socket_t fd, short ev, void *arg)
{
	int64_t	cutoff;
	int	n;

	(void)fd;
	(void)ev;
	(void)arg;
	cutoff = now_ms() - wd.conf->retention_days * 86400000LL;
	if ((n = trim(cutoff)) > 0)
		log_info("retention: deleted %d synced rows older than %lld "
		    "days", n, (long long)wd.conf->retention_days);
	arm(hk.retention, RETENTION_EVERY_MS);
}

/*
 * Move the database at path and its -wal and -shm aside, byte for byte
 * (link, then unlink: never over an existing file), to path.damaged-<UTC
 * time>; to is that name. 0, or -1 with errno set.
 */
static int
move_aside(const char *path, char *to, size_t tolen)
{
	const char	*sfx[] = { "", "-wal", "-shm" };
	char		 from[4200], dest[4300], stamp[32];
	struct tm	 tm;
	time_t		 t = time(NULL);
	size_t		 i;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(to, tolen, "%s.damaged-%s", path, stamp);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", path, sfx[i]);
		snprintf(dest, sizeof(dest), "%s%s", to, sfx[i]);
		if (link(from, dest) == -1) {
			if (errno == ENOENT && i > 0)
				continue;
			return -1;
		}
		if (unlink(from) == -1)
			return -1;
	}
	return 0;
}

/*
 * Open oct.db read-write. If the open fails and SQLite calls the file
 * damaged (corrupt, not a database), it is moved aside and a fresh
 * database started, said once at error level: a damaged file would
 * otherwise make every writerd exit at start and octd restart it for
 * ever, with ingest refusing everything. Fatal if it cannot open.
 */
static struct store *
open_store(const char *path, const struct conf *c)
{
	struct store	*st;
	char		 err[1024], why[256], to[4200];
	int		 full = c->sqlite_synchronous == CONF_SYNC_FULL;

	if ((st = store_open(path, STORE_RW, full, err, sizeof(err))) != NULL)
		return st;
	if (!store_damaged(path, why, sizeof(why)))
		fatalx("%s", err);
	if (move_aside(path, to, sizeof(to)) == -1)
		fatal("%s is damaged (%s) and cannot be moved aside", path,
		    why);
	log_errorx("%s is damaged (%s): moved aside to %s (with its -wal and "
	    "-shm); starting a fresh database", path, why, to);
	if ((st = store_open(path, STORE_RW, full, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	return st;
}

/*
 * batch_ops.damaged: a commit found oct.db damaged, a damage its open did
 * not see (a file cut while we run). Do what the open does: move it aside
 * with its -wal and -shm, untouched (its connection closed without a
 * checkpoint), say so once at error level, start a fresh database and
 * hand it to the channels; the batch commits into it what it holds. The
 * readers follow the path (store_replaced), and the old file's sync marks
 * change nothing in the fresh one (its db_id). NULL if the file cannot be
 * moved, or is a fresh one that no commit has succeeded in yet (a disk
 * that damages every file would otherwise have one moved aside a second):
 * said once, the store kept and the commit retried. Fatal if the fresh
 * one cannot be opened: the next writerd starts it.
 */
static struct store *
writerd_damaged(const char *why)
{
	struct store	*st;
	char		 path[4096], to[4200], err[1024];
	int		 full = wd.conf->sqlite_synchronous == CONF_SYNC_FULL;

	snprintf(path, sizeof(path), "%s/oct.db", wd.conf->data_dir);
	if (wd.unproven) {
		if (!wd.damage_said)
			log_warnx("%s is damaged (%s) before any commit in it: "
			    "keeping it", path, why);
		wd.damage_said = 1;
		return NULL;
	}
	if (move_aside(path, to, sizeof(to)) == -1) {
		if (!wd.damage_said)
			log_warnx("%s is damaged (%s) and cannot be moved "
			    "aside: %s", path, why, strerror(errno));
		wd.damage_said = 1;
		return NULL;
	}
	wd.unproven = 1;
	store_close_as_is(wd.store);
	log_errorx("%s is damaged (%s): moved aside to %s (with its -wal and "
	    "-shm); starting a fresh database", path, why, to);
	if ((st = store_open(path, STORE_RW, full, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	wd.store = st;
	chan_init(wd.base, st);
	return st;
}

static const struct batch_ops writerd_batch_ops = {
	.committed = chan_committed,
	.after_commit = writerd_committed,
	.damaged = writerd_damaged,
};

/*
 * child_ops.configure: open oct.db read-write (fatal if it cannot: octd
 * restarts us), start the batch and the housekeeping, say ready.
 */
static void
writerd_configure(struct event_base *base, const struct conf *c)
{
	char	path[4096];

	wd.base = base;
	wd.conf = c;
	umask(077);
	snprintf(path, sizeof(path), "%s/oct.db", c->data_dir);
	wd.store = open_store(path, c);
	chan_init(base, wd.store);
	batch_init(base, wd.store, c->batch_max, c->batch_ms,
	    &writerd_batch_ops);
	hk.retention = evtimer_new(base, on_retention, NULL);
	hk.idle = evtimer_new(base, on_idle, NULL);
	if (hk.retention == NULL || hk.idle == NULL)
		fatalx("evtimer_new");
	on_retention(-1, 0, NULL);
	check_size();
	log_info("started: %s (agent %s)", path, store_agent_id(wd.store));
	child_ready();
}

static void
writerd_peer(enum proc_id peer, int fd)
{
	if (chan_open(peer, fd) == -1)
		fatalx("unexpected peer %s", proc_name(peer));
}

static void
stop_now(void)
{
	if (batch_flush() == -1)
		log_warnx("stopping with uncommitted events; ingestd keeps "
		    "them for the next writerd");
	chan_flush_all();
	child_exit(0);
}

/*
 * With octd gone nobody orders the stop: ingestd, stopping too, still
 * holds events it answered 202 and drains them into this writerd. Keep
 * committing until its channel closes, for shutdown_timeout_ms at most.
 */
static void
wait_ingestd(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval	tv = { 0, 50 * 1000 };

	(void)fd;
	(void)ev;
	(void)arg;
	if (!chan_peer_open(PROC_INGESTD) || mono_ms() >= hk.stop_by) {
		if (chan_peer_open(PROC_INGESTD))
			log_warnx("ingestd still draining after "
			    "shutdown_timeout_ms: stopping");
		stop_now();
		return;
	}
	evtimer_add(hk.stop, &tv);
}

static void
writerd_shutdown(void)
{
	if (!child_orphaned() || !chan_peer_open(PROC_INGESTD) ||
	    (hk.stop = evtimer_new(wd.base, wait_ingestd, NULL)) == NULL) {
		stop_now();
		return;
	}
	log_info("octd is gone: committing what ingestd drains before "
	    "stopping");
	hk.stop_by = mono_ms() + wd.conf->shutdown_timeout_ms;
	wait_ingestd(-1, 0, NULL);
}

static void
writerd_cleanup(void)
{
	chan_close_all();
	batch_free();
	event_free(hk.retention);
	event_free(hk.idle);
	if (hk.stop != NULL)
		event_free(hk.stop);
	store_checkpoint(wd.store);
	store_close(wd.store);
}

static const struct child_ops writerd_ops = {
	.configure = writerd_configure,
	.peer = writerd_peer,
	.shutdown = writerd_shutdown,
	.cleanup = writerd_cleanup,
};

int
main(int argc, char *argv[])
{
	return child_main(argc, argv, PROC_WRITERD, &writerd_ops);
}
