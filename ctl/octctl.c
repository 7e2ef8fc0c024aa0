/*
 * octctl.c: the operator's tool (SPEC section 7).
 *
 *   octctl [-c FILE] COMMAND [options]
 *
 * One table of commands (ctl.h), each a cmd_* function in the file of its
 * kind: keygen and pubkey here; status and reload in daemon.c (octd's
 * control socket); push in push.c, push-status in pushstatus.c, logs in
 * logs.c, send in send.c. Exit status: 0 done, 1 the operation failed,
 * 2 usage or config error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "key.h"
#include "ctl.h"
#include "oct.h"

static const struct cmd {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	const char	*usage;
	int		 any_file;	/* works from a config octd refuses */
} cmds[] = {
	{ "status", cmd_status, "status [--json]", 0 },
	{ "reload", cmd_reload, "reload [--json]", 1 },
	{ "push", cmd_push, "push [--dry-run] [--force] [--verbose] "
	    "[--batch-size N] [--json]", 0 },
	{ "push-status", cmd_push_status, "push-status [--json]", 0 },
	{ "stats", cmd_stats, "stats [--since DURATION] [--by model|provider|"
	    "operation|service|session] [--json]", 0 },
	{ "logs", cmd_logs, "logs [octd|ingestd|writerd|pushd] [-f] [-n N]", 0 },
	{ "pubkey", cmd_pubkey, "pubkey", 0 },
	{ "keygen", cmd_keygen, "keygen [-o file] [--force]", 0 },
	{ "send", cmd_send, "send trace|error|metric JSON", 0 },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void
print_usage(FILE *f)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		fprintf(f, "%s octctl [-c file] %s\n", i ? "      " : "usage:",
		    cmds[i].usage);
	fprintf(f, "       octctl [COMMAND] -h | -V\n");
}

void
ctl_usage(void)
{
	print_usage(stderr);
	exit(2);
}

/*
 * -h/--help or -V/--version among a command's words (before "--"): the
 * same answer for every command, here rather than in each: cmd's usage
 * line or the version on stdout. Returns 1 if it answered, 0 if the
 * words are the command's.
 */
static int
help_or_version(const struct cmd *cmd, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("octctl %s\n", OCT_VERSION);
			return 1;
		}
		if (strcmp(argv[i], "-h") != 0 &&
		    strcmp(argv[i], "--help") != 0)
			continue;
		printf("usage: octctl [-c file] %s\n", cmd->usage);
		return 1;
	}
	return 0;
}

/* The public half of k, printed two ways; k is wiped. */
static void
print_pub(struct key *k)
{
	char b64[64];

	key_pub_b64(k, b64, sizeof(b64));
	printf("public key: %s\nstandard webhooks: whpk_%s\n", b64, b64);
	sodium_memzero(k, sizeof(*k));
}

/* keygen: a new key (0600), and its public half printed two ways. */
int
cmd_keygen(struct ctl *ctl, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*out = ctl->conf.signing_key;
	struct key	 k;
	char		 err[1024];
	int		 ch, force = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		default: ctl_usage();
		}
	}
	if (optind != argc)
		ctl_usage();
	if (key_create(out, force, &k, err, sizeof(err)) == -1) {
		fprintf(stderr, "octctl: %s\n", err);
		return 1;
	}
	print_pub(&k);
	return 0;
}

/*
 * pubkey: the public half of the configured signing_key (the one octd
 * made on first start included), the two lines keygen prints.
 */
int
cmd_pubkey(struct ctl *ctl, int argc, char *argv[])
{
	const char	*path = ctl->conf.signing_key;
	struct key	 k;
	char		 err[1024];

	(void)argv;
	if (argc != 1)
		ctl_usage();
	if (access(path, F_OK) == -1 && errno == ENOENT) {
		fprintf(stderr, "octctl: no signing key at %s (signing_key): "
		    "octd makes one on first start, or run octctl keygen\n",
		    path);
		return 1;
	}
	if (key_load(path, &k, err, sizeof(err)) == -1) {
		fprintf(stderr, "octctl: %s\n", err);
		return 1;
	}
	print_pub(&k);
	return 0;
}

/* Defaults, and the run_dir the file names, however broken the rest. */
static int
peek_run_dir(struct ctl *c)
{
	char	dir[4096], err[256];

	if (conf_peek(c->conf_path, "run_dir", dir, sizeof(dir)) == -1 ||
	    conf_load(&c->conf, NULL, err, sizeof(err)) == -1)
		return -1;
	free(c->conf.run_dir);
	c->conf.run_dir = strdup(dir);
	return c->conf.run_dir != NULL ? 0 : -1;
}

/*
 * Parse the global options, find the command, load the configuration
 * and run the command. Returns its exit status; 2 for an unknown command
 * or a file that will not load (except for commands that only need to
 * find octd, which go on with the defaults and the file's run_dir).
 */
int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl	 c;
	char		 err[1024];
	size_t		 i;
	int		 ch, r, explicit = 0;

	memset(&c, 0, sizeof(c));
	c.conf_path = OCT_SYSCONFDIR "/oct/oct.conf";
	while ((ch = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': c.conf_path = optarg; explicit = 1; break;
		case 'h':
			print_usage(stdout);
			return 0;
		case 'V':
			printf("octctl %s\n", OCT_VERSION);
			return 0;
		default: ctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		ctl_usage();
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			break;
	if (i < NCMDS && help_or_version(&cmds[i], argc - 1, argv + 1))
		return 0;
	if (i == NCMDS) {
		fprintf(stderr, "octctl: unknown command '%s'\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "octctl: sodium_init failed\n");
		return 1;
	}
	conf_check_urls(url_check);
	/* Without -c, a missing default file means the defaults. */
	if (conf_load(&c.conf, !explicit && access(c.conf_path, F_OK) == -1 ?
	    NULL : c.conf_path, err, sizeof(err)) == -1) {
		/* A file octd will refuse: reload and status still find octd. */
		if (!cmds[i].any_file || peek_run_dir(&c) == -1) {
			fprintf(stderr, "octctl: %s\n", err);
			return 2;
		}
	}
	r = cmds[i].fn(&c, argc, argv);
	conf_free(&c.conf);
	return r;
}
