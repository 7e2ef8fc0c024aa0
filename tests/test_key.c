/* test_key.c: making, loading and refusing signing keys. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "key.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
	cr_assert(sodium_init() >= 0);
	harness_tmpdir(dir, sizeof(dir), "key");
	snprintf(path, sizeof(path), "%s/signing.key", dir);
}

static void
teardown(void)
{
	harness_rmdir(dir);
}

TestSuite(key, .init = setup, .fini = teardown);

Test(key, create_then_load_gives_the_same_key)
{
	struct key	a, b;
	struct stat	st;
	char		err[256];
	unsigned char	sig[crypto_sign_BYTES];

	cr_assert_eq(key_create(path, 0, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(key_load(path, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(memcmp(a.pk, b.pk, sizeof(a.pk)), 0);
	cr_assert_str_eq(a.id, b.id);
	cr_assert_eq(strlen(a.id), 16);
	crypto_sign_detached(sig, NULL, (const unsigned char *)"m", 1, b.sk);
	cr_assert_eq(crypto_sign_verify_detached(sig,
	    (const unsigned char *)"m", 1, a.pk), 0);
}

Test(key, refuses_to_overwrite_without_force)
{
	struct key	a, b;
	char		err[256];

	cr_assert_eq(key_create(path, 0, &a, err, sizeof(err)), 0);
	cr_assert_eq(key_create(path, 0, &b, err, sizeof(err)), -1);
	cr_assert(strstr(err, "exists; use --force"), "%s", err);
	cr_assert_eq(key_create(path, 1, &b, err, sizeof(err)), 0);
	cr_assert_neq(memcmp(a.pk, b.pk, sizeof(a.pk)), 0);
}

Test(key, refuses_a_key_others_can_read)
{
	struct key	k;
	char		err[256];

	cr_assert_eq(key_create(path, 0, &k, err, sizeof(err)), 0);
	cr_assert_eq(chmod(path, 0640), 0);
	cr_assert_eq(key_load(path, &k, err, sizeof(err)), -1);
	cr_assert(strstr(err, "readable by group or others (mode 0640)"), "%s",
	    err);
}

Test(key, refuses_garbage)
{
	struct key	 k;
	char		 err[256];
	FILE		*f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs("bm90IGEga2V5\n", f);
	fclose(f);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(key_load(path, &k, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not one line of base64 of a 32-byte seed"), "%s",
	    err);
	cr_assert_eq(key_load("/nonexistent/k", &k, err, sizeof(err)), -1);
	cr_assert(strstr(err, "No such file"), "%s", err);
}
