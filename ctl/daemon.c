/*
 * daemon.c: octctl status and reload, which ask the running octd through
 * run_dir/control.sock (one line of JSON each way).
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

#include <jansson.h>

#include "ctl.h"
#include "event.h"
#include "store.h"

int
ctl_dial(struct ctl *c)
{
	struct sockaddr_un	sun;
	int			fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/control.sock",
	    c->conf.run_dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		if (fd != -1)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Whether octd for this config is systemd's to start: the installed config,
 * on a machine booted with systemd (sd_booted's test) where our unit is
 * installed, belongs to the unit; octd started by hand would run outside
 * it, as root.
 */
static int
unit_owns(struct ctl *c)
{
	struct stat sb;

	return strcmp(c->conf_path, OCT_SYSCONFDIR "/oct/oct.conf") == 0 &&
	    lstat("/run/systemd/system", &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    (stat(OCT_UNITDIR "/oct.service", &sb) == 0 ||
	    stat("/etc/systemd/system/oct.service", &sb) == 0);
}

int
ctl_connect(struct ctl *c)
{
	int fd;

	if ((fd = ctl_dial(c)) != -1)
		return fd;
	if ((errno == ENOENT || errno == ECONNREFUSED) && unit_owns(c))
		fprintf(stderr, "octctl: octd is not running (no %s/control.sock); "
		    "start it with: sudo systemctl start oct\n", c->conf.run_dir);
	else if (errno == ENOENT || errno == ECONNREFUSED)
		fprintf(stderr, "octctl: octd is not running (no %s/control.sock); "
		    "start it with: octd -c %s\n", c->conf.run_dir, c->conf_path);
	else
		fprintf(stderr, "octctl: %s/control.sock: %s\n", c->conf.run_dir,
		    strerror(errno));
	return -1;
}

/*
 * Send {"cmd":cmd} to octd and read its one-line answer (at most 64 KiB,
 * waiting up to 30 s). Returns the answer, the caller's to json_decref();
 * or NULL once a line on standard error said why (octd not running, no
 * answer, not JSON). cmd is a literal of ours, never a user's text.
 */
json_t *
ctl_request(struct ctl *c, const char *cmd)
{
	struct timeval		 tv = { 30, 0 };
	char			 buf[65536];
	size_t			 len = 0;
	ssize_t			 n;
	int			 fd;
	json_t			*o;

	if ((fd = ctl_connect(c)) == -1)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = snprintf(buf, sizeof(buf), "{\"cmd\":\"%s\"}\n", cmd);
	if (write(fd, buf, (size_t)n) != n) {
		fprintf(stderr, "octctl: write to octd: %s\n", strerror(errno));
		close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	if ((o = json_loads(buf, 0, NULL)) == NULL) {
		fprintf(stderr, "octctl: no answer from octd (%s)\n", len == 0 ?
		    "connection closed; is this user allowed?" : "not JSON");
		return NULL;
	}
	return o;
}

int
ctl_json_flag(int argc, char **argv, int *json)
{
	int i;

	*json = 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0)
			return -1;
		*json = 1;
	}
	return 0;
}

static void
duration(int64_t s, char *out, size_t len)
{
	if (s >= 86400)
		snprintf(out, len, "%lldd%lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, len, "%lldh%lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, len, "%lldm%llds", (long long)(s / 60),
		    (long long)(s % 60));
	else
		snprintf(out, len, "%llds", (long long)s);
}

/* {"llm_traces":{"pending":..,"synced":..,"dead":..},...}, or NULL. */
static json_t *
row_counts(struct ctl *c)
{
	struct store		*st;
	struct table_stats	 t;
	char			 path[4096], err[1024];
	json_t			*rows = json_object();
	int			 k;

	snprintf(path, sizeof(path), "%s/oct.db", c->conf.data_dir);
	if ((st = store_open(path, STORE_RO, 0, err, sizeof(err))) == NULL)
		return rows;
	for (k = 0; k < EV_NKINDS; k++)
		if (store_table_stats(st, (enum event_kind)k, &t) == 0)
			json_object_set_new(rows, event_defs[k].table, json_pack(
			    "{s:I,s:I,s:I}", "pending", (json_int_t)t.pending,
			    "synced", (json_int_t)t.synced, "dead",
			    (json_int_t)t.dead));
	store_close(st);
	return rows;
}

/*
 * status [--json]: octd's answer about its workers and queue, with the
 * row counts octctl reads itself from oct.db (read-only). Returns the
 * exit status: 0, or 1 if octd did not answer (usage errors exit 2).
 */
int
cmd_status(struct ctl *c, int argc, char **argv)
{
	json_t		*o, *w, *rows, *t;
	const char	*name;
	char		 up[32], *text;
	size_t		 i;
	int		 json;

	if (ctl_json_flag(argc, argv, &json) == -1)
		ctl_usage();
	if ((o = ctl_request(c, "status")) == NULL)
		return 1;
	rows = row_counts(c);
	if (json) {
		json_object_set_new(o, "rows", rows);
		text = json_dumps(o, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(o);
		return 0;
	}
	printf("octd %s, pid %lld\n\n%-9s %-8s %-11s %-8s %s\n",
	    json_string_value(json_object_get(o, "version")),
	    json_integer_value(json_object_get(o, "pid")), "WORKER", "PID",
	    "STATE", "UPTIME", "RESTARTS");
	json_array_foreach(json_object_get(o, "workers"), i, w) {
		duration(json_integer_value(json_object_get(w, "uptime_s")), up,
		    sizeof(up));
		printf("%-9s %-8lld %-11s %-8s %lld\n", json_string_value(
		    json_object_get(w, "name")), json_integer_value(
		    json_object_get(w, "pid")), json_string_value(
		    json_object_get(w, "state")), up, json_integer_value(
		    json_object_get(w, "restarts")));
	}
	printf("\nqueue depth: %lld\n\n%-15s %9s %9s %9s\n", json_integer_value(
	    json_object_get(o, "queue_depth")), "TABLE", "PENDING", "SYNCED",
	    "DEAD");
	json_object_foreach(rows, name, t)
		printf("%-15s %9lld %9lld %9lld\n", name, json_integer_value(
		    json_object_get(t, "pending")), json_integer_value(
		    json_object_get(t, "synced")), json_integer_value(
		    json_object_get(t, "dead")));
	json_decref(rows);
	json_decref(o);
	return 0;
}

/*
 * reload [--json]: ask octd to reload its file. Returns 0 if octd took
 * the new configuration, 1 if it refused it (the reason printed) or did
 * not answer.
 */
int
cmd_reload(struct ctl *c, int argc, char **argv)
{
	json_t	*o;
	int	 json, ok;

	if (ctl_json_flag(argc, argv, &json) == -1)
		ctl_usage();
	if ((o = ctl_request(c, "reload")) == NULL)
		return 1;
	ok = json_is_true(json_object_get(o, "ok"));
	if (json) {
		char *text = json_dumps(o, JSON_COMPACT);

		printf("%s\n", text);
		free(text);
	} else if (ok)
		printf("octctl: octd took the new configuration\n");
	else
		fprintf(stderr, "octctl: reload refused, octd keeps its running "
		    "configuration: %s\n", json_string_value(json_object_get(o,
		    "error")) ? json_string_value(json_object_get(o, "error")) :
		    "no reason given");
	json_decref(o);
	return ok ? 0 : 1;
}
