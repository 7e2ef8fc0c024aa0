/* test_ctl.c: octctl as an operator runs it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "harness.h"
#include "key.h"

static char dir[] = "/tmp/oct-ctl-XXXXXX";

static void
setup(void)
{
	cr_assert(mkdtemp(dir) != NULL);
}

static void
teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

TestSuite(octctl, .init = setup, .fini = teardown, .timeout = 30);

Test(octctl, keygen_writes_a_private_key_and_prints_the_public_one)
{
	char		 path[200], out[1024], want[300], b64[64], err[300];
	char		*argv[] = { (char *)harness_bin("octctl"), "keygen", "-o",
			    path, NULL };
	char		*force[] = { (char *)harness_bin("octctl"), "keygen",
			    "-o", path, "--force", NULL };
	struct stat	 st;
	struct key	 k;

	cr_assert(sodium_init() >= 0);
	snprintf(path, sizeof(path), "%s/signing.key", dir);
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(key_load(path, &k, err, sizeof(err)), 0, "%s", err);
	key_pub_b64(&k, b64, sizeof(b64));
	snprintf(want, sizeof(want), "public key: %s\nstandard webhooks: "
	    "whpk_%s\n", b64, b64);
	cr_assert_str_eq(out, want);
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "octctl: %s exists; use --force to replace "
	    "it\n", path);
	cr_assert_str_eq(out, want);
	cr_assert_eq(harness_run(force, out, sizeof(out)), 0);
	cr_assert(strstr(out, b64) == NULL, "a new key");
}

Test(octctl, its_output_is_what_the_receiver_takes)
{
	char	 key[200], pub[200], out[1024], db[200];
	char	*argv[] = { (char *)harness_bin("octctl"), "keygen", "-o", key,
		    NULL };
	char	*recv[] = { (char *)harness_bin("oct-receiver"), "--listen",
		    "127.0.0.1:1", "--db", db, "--pubkey", pub, "--max-skew-s",
		    "0", NULL };
	FILE	*f;

	snprintf(key, sizeof(key), "%s/k", dir);
	snprintf(pub, sizeof(pub), "%s/k.pub", dir);
	snprintf(db, sizeof(db), "%s/r.db", dir);
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 0);
	f = fopen(pub, "w");
	fputs(out, f);
	fclose(f);
	/*
	 * The key file is taken (no key error); the run stops only at the
	 * deliberately bad --max-skew-s 0, before binding anything.
	 */
	cr_assert_eq(harness_run(recv, out, sizeof(out)), 2);
	cr_assert_null(strstr(out, "public key"), "key refused: %s", out);
	cr_assert_not_null(strstr(out, "usage: oct-receiver"), "%s", out);
}

Test(octctl, usage_and_unknown_commands_exit_2)
{
	char	 out[1024];
	char	*none[] = { (char *)harness_bin("octctl"), NULL };
	char	*bad[] = { (char *)harness_bin("octctl"), "frobnicate", NULL };
	char	*conf[] = { (char *)harness_bin("octctl"), "-c",
		    "/nonexistent/oct.conf", "keygen", NULL };

	cr_assert_eq(harness_run(none, out, sizeof(out)), 2);
	cr_assert(strstr(out, "usage: octctl"), "%s", out);
	cr_assert_eq(harness_run(bad, out, sizeof(out)), 2);
	cr_assert_str_eq(out, "octctl: unknown command 'frobnicate'\n");
	cr_assert_eq(harness_run(conf, out, sizeof(out)), 2);
	cr_assert_str_eq(out, "octctl: /nonexistent/oct.conf: No such file or "
	    "directory\n");
}
