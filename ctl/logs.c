/*
 * logs.c: octctl logs [WORKER] [-f] [-n N]: the last N lines of one
 * process's log, or of all four merged by time (their lines start with a
 * sortable timestamp); -f keeps following, across logrotate's renames.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
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
	int	 n;
};

/* Read the last max lines of t->f into t->lines. */
static void
last_lines(struct tail *t, int max)
{
	char	*line = NULL, **ring = calloc((size_t)max + 1, sizeof(char *));
	size_t	 cap = 0;
	long	 total = 0;
	int	 i;

	while (getline(&line, &cap, t->f) != -1) {
		free(ring[total % (max + 1)]);
		ring[total % (max + 1)] = strdup(line);
		total++;
	}
	free(line);
	t->n = total < max ? (int)total : max;
	t->lines = calloc((size_t)t->n + 1, sizeof(char *));
	for (i = 0; i < t->n; i++)
		t->lines[i] = ring[(total - t->n + i) % (max + 1)];
	for (i = 0; i <= max; i++) {
		int used = 0, j;

		for (j = 0; j < t->n; j++)
			used |= t->lines[j] == ring[i];
		if (!used)
			free(ring[i]);
	}
	free(ring);
}

static int
by_time(const void *a, const void *b)
{
	return strncmp(*(char *const *)a, *(char *const *)b, 24);
}

/* Print new lines of every open file; reopen one that was rotated. */
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

int
cmd_logs(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	struct tail	 t[NLOGS];
	char		**all;
	char		*end;
	int		 ch, n = 20, f = 0, i, j, nt = 0, total = 0, which = -1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "fn:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': f = 1; break;
		case 'n':
			n = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 0) {
				fprintf(stderr, "octctl: -n takes a number of "
				    "lines\n");
				return 2;
			}
			break;
		default: ctl_usage();
		}
	}
	if (n < 0 || argc - optind > 1)
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
	for (i = 0; i < NLOGS; i++) {
		if (which != -1 && i != which)
			continue;
		snprintf(t[nt].path, sizeof(t[nt].path), "%s/%s.log",
		    c->conf.log_dir, names[i]);
		if ((t[nt].f = fopen(t[nt].path, "r")) == NULL && !f) {
			if (which != -1) {
				fprintf(stderr, "octctl: %s: %s\n", t[nt].path,
				    errno == ENOENT ? "no such log yet" :
				    strerror(errno));
				return 1;
			}
			continue;
		}
		if (t[nt].f != NULL) {
			struct stat st;

			if (fstat(fileno(t[nt].f), &st) == 0)
				t[nt].ino = st.st_ino;
			last_lines(&t[nt], n);
			total += t[nt].n;
		}
		nt++;
	}
	all = calloc((size_t)total + 1, sizeof(char *));
	for (i = 0, total = 0; i < nt; i++)
		for (j = 0; j < t[i].n; j++)
			all[total++] = t[i].lines[j];
	qsort(all, (size_t)total, sizeof(char *), by_time);
	for (i = total > n ? total - n : 0; i < total; i++)
		fputs(all[i], stdout);
	for (i = 0; i < total; i++)
		free(all[i]);
	free(all);
	for (i = 0; i < nt; i++)
		free(t[i].lines);
	if (f)
		follow(t, nt);
	for (i = 0; i < nt; i++)
		if (t[i].f != NULL)
			fclose(t[i].f);
	return 0;
}
