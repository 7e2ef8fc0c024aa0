/*
 * priv.c: running the workers as the configured `user` (SPEC 2).
 *
 * When octd runs as root and `user` is set, octd itself stays root (it
 * owns the pid file, the control socket and octd.log) and each worker
 * drops to that user between fork and exec. So that a dropped worker can
 * still do its job, octd hands it what it needs: data_dir (writerd's
 * oct.db and its -wal, -shm and .lock, pushd's signing.key) and log_dir
 * (each worker reopens its own log on SIGUSR1) are chowned to the user,
 * and so are the files in data_dir and the key, which a root octd or a
 * root octctl may have made. octd opens a worker's log before the fork
 * and chowns that descriptor too. run_dir stays root's.
 *
 * octd not root: `user` is ignored (the workers run as octd does, e.g.
 * User=oct under systemd), and octd says so once per load.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "supervisor.h"

static struct {
	int	 drop;		/* workers drop to uid/gid */
	uid_t	 uid;
	gid_t	 gid;
	char	 name[64];
} priv;

/*
 * Take c's user for the workers started from now on: 0 (also when
 * there is nothing to drop: no user, octd not root, or the user is
 * root), or -1 with err naming the file and the key; priv is then kept
 * as it was, so a refused reload changes nothing.
 */
int
priv_setup(const struct conf *c, char *err, size_t errlen)
{
	struct passwd *pw;

	if (*c->user == '\0') {
		priv.drop = 0;
		return 0;
	}
	if (geteuid() != 0) {
		log_info("user %s ignored: octd is not running as root; the "
		    "workers run as uid %ld", c->user, (long)geteuid());
		priv.drop = 0;
		return 0;
	}
	if ((pw = getpwnam(c->user)) == NULL) {
		snprintf(err, errlen, "%s: user: unknown user: '%s'", c->file,
		    c->user);
		return -1;
	}
	if (strlen(c->user) >= sizeof(priv.name)) {
		snprintf(err, errlen, "%s: user: name too long: '%s'", c->file,
		    c->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_info("user %s is root: the workers run as root", c->user);
		priv.drop = 0;
		return 0;
	}
	priv.drop = 1;
	priv.uid = pw->pw_uid;
	priv.gid = pw->pw_gid;
	snprintf(priv.name, sizeof(priv.name), "%s", c->user);
	return 0;
}

/*
 * chown name (under dirfd) to the user unless it is already. data_dir and
 * log_dir are the user's, so it could have planted a symbolic or a hard
 * link there to make root hand it a file of its choice: the file is
 * reached through an O_PATH descriptor that does not follow a link, and
 * only a directory or a regular file of one link is changed.
 */
static void
own_at(int dirfd, const char *name, const char *shown)
{
	struct stat	st;
	const char	*why = NULL;
	int		fd;

	if ((fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("open %s", shown);
		return;
	}
	if (fstat(fd, &st) == -1)
		log_warn("stat %s", shown);
	else if (S_ISLNK(st.st_mode))
		why = log_strerror(ELOOP);
	else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		why = log_strerror(ENXIO);
	else if (S_ISREG(st.st_mode) && st.st_nlink != 1)
		why = log_strerror(EMLINK);
	else if (st.st_uid != priv.uid || st.st_gid != priv.gid) {
		if (fchownat(fd, "", priv.uid, priv.gid, AT_EMPTY_PATH) == -1)
			log_warn("chown %s to %s", shown, priv.name);
		else
			log_info("chowned %s to %s", shown, priv.name);
	}
	if (why != NULL)
		log_warnx("chown %s to %s: %s", shown, priv.name, why);
	close(fd);
}

/* The regular files directly in dir (oct.db and company, signing.key). */
static void
own_files_in(const char *dir)
{
	struct dirent	*de;
	struct stat	 st;
	char		 shown[4096];
	DIR		*d;

	if ((d = opendir(dir)) == NULL) {
		log_warn("open %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		snprintf(shown, sizeof(shown), "%s/%s", dir, de->d_name);
		own_at(dirfd(d), de->d_name, shown);
	}
	closedir(d);
}

void
priv_own(const struct conf *c)
{
	if (!priv.drop)
		return;
	own_at(AT_FDCWD, c->data_dir, c->data_dir);
	own_files_in(c->data_dir);
	if (strcmp(c->log_dir, "-") != 0)
		own_at(AT_FDCWD, c->log_dir, c->log_dir);
	own_at(AT_FDCWD, c->signing_key, c->signing_key);
}

int
priv_own_fd(int fd)
{
	if (!priv.drop)
		return 0;
	return fchown(fd, priv.uid, priv.gid);
}

static void __attribute__((noreturn))
drop_failed(const char *title, const char *what, int err)
{
	dprintf(STDERR_FILENO, "octd: %s: cannot run as user %s (uid %ld, "
	    "gid %ld): %s%s%s\n", title, priv.name, (long)priv.uid,
	    (long)priv.gid, what, err != 0 ? ": " : "",
	    err != 0 ? strerror(err) : "");
	_exit(1);
}

/*
 * In a worker between fork and exec: become the user for good, then read
 * it all back. Only system calls and dprintf: octd has one thread, but
 * this runs in a fresh child.
 */
void
priv_drop(const char *title)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid, groups[2];

	if (!priv.drop)
		return;
	if (setgroups(1, &priv.gid) == -1)
		drop_failed(title, "setgroups", errno);
	if (setgid(priv.gid) == -1)
		drop_failed(title, "setgid", errno);
	if (setuid(priv.uid) == -1)
		drop_failed(title, "setuid", errno);
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		drop_failed(title, "getresuid", errno);
	if (ruid != priv.uid || euid != priv.uid || suid != priv.uid ||
	    getuid() != priv.uid || geteuid() != priv.uid)
		drop_failed(title, "the uid did not change", 0);
	if (rgid != priv.gid || egid != priv.gid || sgid != priv.gid ||
	    getgid() != priv.gid || getegid() != priv.gid)
		drop_failed(title, "the gid did not change", 0);
	if (getgroups(2, groups) != 1 || groups[0] != priv.gid)
		drop_failed(title, "supplementary groups remain", 0);
	if (setuid(0) != -1)
		drop_failed(title, "setuid(0) still works", 0);
}
