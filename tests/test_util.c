/* test_util.c: UTF-8 cutting and UUID v4. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "harness.h"
#include "util.h"

static size_t
seq_len(char lead)
{
	unsigned char c = (unsigned char)lead;

	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* True if s[0..n) is whole UTF-8 sequences (s itself is valid UTF-8). */
static int
whole_sequences(const char *s, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		len = seq_len(s[i]);
		if (i + len > n)
			return 0;
		i += len;
	}
	return 1;
}

Test(utf8, cut_at_every_byte_offset)
{
	/* 1-, 2-, 3- and 4-byte sequences, twice over. */
	const char	*s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"
			     "\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac";
	size_t		 len = strlen(s), max, n;

	for (max = 0; max <= len + 2; max++) {
		n = utf8_cut(s, len, max);
		cr_assert(n <= max && n <= len, "max %zu gave %zu", max, n);
		cr_assert(whole_sequences(s, n), "max %zu cut inside at %zu",
		    max, n);
		/* It is the longest such prefix: the next sequence won't fit. */
		if (n < len)
			cr_assert(n + seq_len(s[n]) > max,
			    "max %zu: %zu is not the longest", max, n);
	}
	cr_assert_eq(utf8_cut(s, len, len), len);
	cr_assert_eq(utf8_cut(s, len, 0), 0);
	cr_assert_eq(utf8_cut("\xf0\x9f\x98\x80", 4, 3), 0);
	cr_assert_eq(utf8_cut("ab\xf0\x9f\x98\x80", 6, 5), 2);
}

Test(uuid, v4_format_and_unique)
{
	char	 ids[1000][UUID_STR_LEN];
	int	 i, j, k;

	cr_assert(sodium_init() >= 0);
	for (i = 0; i < 1000; i++) {
		uuid_v4(ids[i]);
		cr_assert_eq(strlen(ids[i]), 36);
		for (k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				cr_assert_eq(ids[i][k], '-');
			else
				cr_assert(strchr("0123456789abcdef", ids[i][k]),
				    "%s", ids[i]);
		}
		cr_assert_eq(ids[i][14], '4', "%s is not version 4", ids[i]);
		cr_assert(strchr("89ab", ids[i][19]), "%s: bad variant", ids[i]);
	}
	for (i = 0; i < 1000; i++)
		for (j = i + 1; j < 1000; j++)
			cr_assert_str_neq(ids[i], ids[j]);
}

/* ids come from a pool of random bytes: a fork must not share it */
Test(uuid, a_forked_child_never_repeats_its_parents_ids)
{
	char	a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
	int	fds[2], status;
	pid_t	pid;

	cr_assert(sodium_init() >= 0);
	uuid_v4(a);			/* the pool is filled */
	cr_assert_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		uuid_v4(c);
		_exit(write(fds[1], c, sizeof(c)) == sizeof(c) ? 0 : 1);
	}
	cr_assert_gt(pid, 0);
	uuid_v4(b);
	cr_assert_eq(read(fds[0], c, sizeof(c)), (ssize_t)sizeof(c));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_str_neq(b, c, "parent and child drew the same id %s", b);
	cr_assert_str_neq(a, c);
}

Test(util, mkdir_p_makes_parents_with_mode)
{
	char		 dir[64], path[128];
	struct stat	 st;

	harness_tmpdir(dir, sizeof(dir), "mkdir");
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	cr_assert_eq(mkdir_p(path, 0700), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(mkdir_p(path, 0700), 0, "an existing dir is fine");
	harness_rmdir(dir);
}
