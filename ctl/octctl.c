/*
 * octctl.c: the operator's tool (SPEC section 7).
 *
 *   octctl [-c FILE] keygen [-o FILE] [--force]
 *
 * Exit status: 0 done, 1 the operation failed, 2 usage or config error.
 * Only keygen is built so far; the commands that talk to the running
 * daemon (status, reload, push, push-status, logs, send) come with its
 * control socket.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "key.h"
#include "oct.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: octctl [-c file] keygen [-o file] [--force]\n");
	exit(2);
}

/* keygen: a new key (0600), and its public half printed two ways. */
static int
keygen(const struct conf *c, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*out = c->signing_key;
	struct key	 k;
	char		 err[1024], b64[64];
	int		 ch, force = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (key_create(out, force, &k, err, sizeof(err)) == -1) {
		fprintf(stderr, "octctl: %s\n", err);
		return 1;
	}
	key_pub_b64(&k, b64, sizeof(b64));
	printf("public key: %s\nstandard webhooks: whpk_%s\n", b64, b64);
	sodium_memzero(&k, sizeof(k));
	return 0;
}

int
main(int argc, char *argv[])
{
	const char	*path = OCT_SYSCONFDIR "/oct/oct.conf";
	struct conf	 c;
	char		 err[1024];
	int		 ch, r, explicit = 0;

	while ((ch = getopt(argc, argv, "+c:")) != -1) {
		switch (ch) {
		case 'c': path = optarg; explicit = 1; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (sodium_init() < 0) {
		fprintf(stderr, "octctl: sodium_init failed\n");
		return 1;
	}
	/* Without -c, a missing default file means the defaults. */
	if (conf_load(&c, !explicit && access(path, F_OK) == -1 ? NULL : path,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "octctl: %s\n", err);
		return 2;
	}
	if (strcmp(argv[0], "keygen") == 0)
		r = keygen(&c, argc, argv);
	else {
		fprintf(stderr, "octctl: unknown command '%s'\n", argv[0]);
		r = 2;
	}
	conf_free(&c);
	return r;
}
