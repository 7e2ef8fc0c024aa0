/*
 * idkey.c: the key that turns a client's event_id into a trace_id.
 *
 * SPEC section 4: a repeated event_id is answered with the trace_id of the
 * stored event. Rather than look the first one up (in flight, in the same
 * array, committed, from before a restart), ingestd derives the trace_id
 * of every event that has an event_id from (type, event_id) under this
 * key (event_trace_id()), so a repeat gets the same id with no lookup on
 * the hot path. The key is data_dir/ingest.key: 32 random bytes as one
 * line of hex, mode 0600, made by ingestd the first time it starts and
 * kept for the agent's life. ingestd is the only process that needs it.
 *
 * A missing key is made (written aside, then link(2)ed in place, so two
 * processes racing agree on one); a malformed one is replaced, with a
 * warning. If none can be had (data_dir not writable) ingestd goes on and
 * gives random ids, which only costs the answer to a repeat its id.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "event.h"
#include "ingestd.h"
#include "log.h"

#define KEY_HEX	(EVENT_IDKEY_BYTES * 2)

static unsigned char	key[EVENT_IDKEY_BYTES];

/* Read path into key. 0, -1 if it is missing (errno), -2 if malformed. */
static int
read_key(const char *path)
{
	char	buf[KEY_HEX + 2];
	size_t	len;
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != KEY_HEX + 1 || buf[KEY_HEX] != '\n')
		return -2;
	if (sodium_hex2bin(key, sizeof(key), buf, KEY_HEX, NULL, &len,
	    NULL) != 0 || len != sizeof(key))
		return -2;
	return 0;
}

/* Write a new key into a fresh file next to path; its name into tmp. */
static int
write_key(const char *path, char *tmp, size_t tmplen)
{
	char	hex[KEY_HEX + 2];
	int	fd, ok;

	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	hex[KEY_HEX] = '\n';
	snprintf(tmp, tmplen, "%s.%ld", path, (long)getpid());
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	ok = write(fd, hex, KEY_HEX + 1) == KEY_HEX + 1 && fsync(fd) == 0;
	if (close(fd) == -1 || !ok) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

const unsigned char *
idkey_load(const char *data_dir)
{
	char	path[4096], tmp[4200];
	int	r;

	snprintf(path, sizeof(path), "%s/ingest.key", data_dir);
	if ((r = read_key(path)) == 0)
		return key;
	if (r == -1 && errno != ENOENT) {
		log_warn("%s: trace_ids of events with an event_id are random",
		    path);
		return NULL;
	}
	if (write_key(path, tmp, sizeof(tmp)) == -1) {
		log_warn("create %s: trace_ids of events with an event_id are "
		    "random", path);
		return NULL;
	}
	if (r == -2) {
		log_warnx("%s is malformed: replacing it (a repeated event_id "
		    "from before gets another trace_id)", path);
		r = rename(tmp, path);
	} else if ((r = link(tmp, path)) == -1 && errno == EEXIST) {
		(void)unlink(tmp);	/* someone else made one: use theirs */
		return read_key(path) == 0 ? key : NULL;
	}
	(void)unlink(tmp);
	if (r == -1) {
		log_warn("create %s", path);
		return NULL;
	}
	log_info("created %s", path);
	return key;
}
