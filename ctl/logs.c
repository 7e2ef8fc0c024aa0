/*
 * logs.c: octctl logs [WORKER] [-f] [-n N]: the last N lines of one
 * process's log, or of all four merged by time (their lines start with a
 * sortable timestamp); -f keeps following, across logrotate's renames.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define NLOGS	4

static const char *const names[NLOGS] = { "octd", "ingestd", "writerd",
	"pushd" };

struct tail {
	char	 path[4096];
	FILE	*f;
	ino_t	 ino;
	char	**lines;	/* the last n, oldest first */
	size_t	 n;
};

/*
 * The last lines read so far, at most max: a ring that grows with what is
 * read, never with max, so "-n 2147483647" costs what the file holds.
 */
struct ring {
	char	**v;
	size_t	  cap, start, len, max;
};

/* Keep line (ours now); the oldest goes once there are max. -1: no memory. */
static int
ring_add(struct ring *r, char *line)
{
	char	**v;
	size_t	  cap, i;

	if (r->len == r->max) {
		if (r->max == 0) {
			free(line);
			return 0;
		}
		free(r->v[r->start]);
		r->v[r->start] = line;
		r->start = (r->start + 1) % r->cap;
		return 0;
	}
	if (r->len == r->cap) {
		/* never above max: the ring turns at cap once it is full */
		cap = r->cap == 0 ? 64 : r->cap > r->max / 2 ? r->max :
		    r->cap * 2;
		if (cap > r->max)
			cap = r->max;
		if ((v = calloc(cap, sizeof(*v))) == NULL)
			return -1;
		for (i = 0; i < r->len; i++)
			v[i] = r->v[(r->start + i) % r->cap];
		free(r->v);
		r->v = v;
		r->cap = cap;
		r->start = 0;
	}
	r->v[(r->start + r->len++) % r->cap] = line;
	return 0;
}

/* Read the last max lines of t->f into t->lines; 0, or -1: no memory. */
static int
last_lines(struct tail *t, size_t max)
{
	struct ring	 r = { NULL, 0, 0, 0, max };
	char		*line = NULL, *copy;
	size_t		 cap = 0, i;
	int		 ok = 1;

	while (ok && getline(&line, &cap, t->f) != -1)
		ok = (copy = strdup(line)) != NULL && ring_add(&r, copy) == 0;
	free(line);
	if (ok && (t->lines = calloc(r.len + 1, sizeof(char *))) == NULL)
		ok = 0;
	for (i = 0; i < r.len; i++) {
		if (ok)
			t->lines[i] = r.v[(r.start + i) % r.cap];
		else
			free(r.v[(r.start + i) % r.cap]);
	}
	t->n = ok ? r.len : 0;
	free(r.v);
	return ok ? 0 : -1;
}

static int
by_time(const void *a, const void *b)
{
	return strncmp(*(char *const *)a, *(char *const *)b, 24);
}

/*
 * Print new lines of every open file; reopen one that was rotated.
 * Polls until octctl is interrupted: it never returns.
 */
static void
follow(struct tail *t, int n)
{
	struct timespec	 tick = { 0, 250 * 1000000 };
	struct stat	 st;
	char		*line = NULL;
	size_t		 cap = 0;
	int		 i;

	for (;;) {
		for (i = 0; i < n; i++) {
			if (t[i].f != NULL) {
				clearerr(t[i].f);
				while (getline(&line, &cap, t[i].f) != -1)
					fputs(line, stdout);
			}
			if (stat(t[i].path, &st) == 0 && (t[i].f == NULL ||
			    st.st_ino != t[i].ino)) {
				if (t[i].f != NULL)
					fclose(t[i].f);
				t[i].f = fopen(t[i].path, "r");
				t[i].ino = st.st_ino;
			}
		}
		fflush(stdout);
		nanosleep(&tick, NULL);
	}
}

/* -n's argument: 0, or -1 if it is no count; a huge count means all. */
static int
parse_count(const char *arg, size_t *n)
{
	unsigned long long	 v;
	char			*end;

	if (*arg < '0' || *arg > '9')
		return -1;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end != '\0')
		return -1;
	*n = errno == ERANGE || v > SIZE_MAX ? SIZE_MAX : (size_t)v;
	return 0;
}

/* Open the logs asked for into t; their count, or -1 after a message. */
static int
open_logs(struct ctl *c, int which, int f, size_t n, struct tail *t)
{
	struct stat	st;
	int		i, nt = 0;

	for (i = 0; i < NLOGS; i++) {
		if (which != -1 && i != which)
			continue;
		snprintf(t[nt].path, sizeof(t[nt].path), "%s/%s.log",
		    c->conf.log_dir, names[i]);
		if ((t[nt].f = fopen(t[nt].path, "r")) == NULL && !f) {
			if (which == -1)
				continue;
			fprintf(stderr, "octctl: %s: %s\n", t[nt].path,
			    errno == ENOENT ? "no such log yet" :
			    strerror(errno));
			return -1;
		}
		if (t[nt].f != NULL) {
			if (fstat(fileno(t[nt].f), &st) == 0)
				t[nt].ino = st.st_ino;
			if (last_lines(&t[nt], n) == -1) {
				fprintf(stderr, "octctl: %s: out of memory\n",
				    t[nt].path);
				return -1;
			}
		}
		nt++;
	}
	return nt;
}

/* Print the last n lines of the nt logs in t, merged by time; frees them. */
static int
print_last(struct tail *t, int nt, size_t n)
{
	char	**all;
	size_t	  total = 0, i, j;
	int	  k;

	for (k = 0; k < nt; k++)
		total += t[k].n;
	if ((all = calloc(total + 1, sizeof(char *))) == NULL) {
		fprintf(stderr, "octctl: out of memory\n");
		return -1;
	}
	for (k = 0, total = 0; k < nt; k++)
		for (j = 0; j < t[k].n; j++)
			all[total++] = t[k].lines[j];
	qsort(all, total, sizeof(char *), by_time);
	for (i = total > n ? total - n : 0; i < total; i++)
		fputs(all[i], stdout);
	for (i = 0; i < total; i++)
		free(all[i]);
	free(all);
	for (k = 0; k < nt; k++) {
		free(t[k].lines);
		t[k].lines = NULL;
		t[k].n = 0;
	}
	return 0;
}

static void
close_logs(struct tail *t, int nt)
{
	int i;

	for (i = 0; i < nt; i++) {
		free(t[i].lines);
		if (t[i].f != NULL)
			fclose(t[i].f);
	}
}

/*
 * logs [-f] [-n N] [name]: the last n lines of one log, or of all four
 * merged in time order, then with -f what they gain until interrupted.
 * Returns 0; 1 if a log cannot be read or log_dir is "-"; 2 on a bad
 * argument.
 */
int
cmd_logs(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	struct tail	 t[NLOGS];
	size_t		 n = 20;
	int		 ch, f = 0, i, nt, which = -1, r = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "fn:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': f = 1; break;
		case 'n':
			if (parse_count(optarg, &n) == -1) {
				fprintf(stderr, "octctl: -n takes a number of "
				    "lines\n");
				return 2;
			}
			break;
		default: ctl_usage();
		}
	}
	if (argc - optind > 1)
		ctl_usage();
	if (argc - optind == 1) {
		for (i = 0; i < NLOGS; i++)
			if (strcmp(argv[optind], names[i]) == 0)
				which = i;
		if (which == -1) {
			fprintf(stderr, "octctl: no log named %s (octd, ingestd, "
			    "writerd or pushd)\n", argv[optind]);
			return 2;
		}
	}
	if (strcmp(c->conf.log_dir, "-") == 0) {
		fprintf(stderr, "octctl: log_dir is -: the logs go to octd's "
		    "standard error\n");
		return 1;
	}
	memset(t, 0, sizeof(t));
	if ((nt = open_logs(c, which, f, n, t)) == -1 ||
	    print_last(t, nt, n) == -1)
		r = 1;
	else if (f)
		follow(t, nt);
	close_logs(t, nt == -1 ? NLOGS : nt);
	return r;
}
