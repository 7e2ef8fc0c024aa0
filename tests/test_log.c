/* test_log.c: the log line format, escaping and reopening. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "log.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
	harness_tmpdir(dir, sizeof(dir), "log");
	snprintf(path, sizeof(path), "%s/test.log", dir);
	log_init("ingestd", LOG_INFO);
	cr_assert_eq(log_open(path), 0);
}

static void
teardown(void)
{
	harness_rmdir(dir);
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, line_format)
{
	regex_t	 re;
	char	*text, want[256];

	log_info("hello %s n=%d", "world", 3);
	errno = ENOENT;
	log_warn("open %s", "x");
	log_debug("not shown at info level");
	text = harness_slurp(path);
	cr_assert_not_null(text);
	snprintf(want, sizeof(want), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
	    "[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ingestd\\[%ld\\] info: hello world "
	    "n=3\n[^ ]+Z ingestd\\[%ld\\] warn: open x: No such file or "
	    "directory\n$", (long)getpid(), (long)getpid());
	cr_assert_eq(regcomp(&re, want, REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "got: %s", text);
	regfree(&re);
	free(text);
}

Test(log, errno_is_preserved)
{
	errno = EPIPE;
	log_warnx("x");
	cr_assert_eq(errno, EPIPE);
}

Test(log, control_characters_are_escaped)
{
	char *text;

	log_warnx("client said %s", "evil\nfake line\x1b[31m\x7f");
	text = harness_slurp(path);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "client said evil\\x0afake line\\x1b[31m\\x7f\n"),
	    "got: %s", text);
	cr_assert_eq(harness_count(path, "Z ingestd["), 1, "one line only");
	free(text);
}

Test(log, reopen_follows_a_rotated_file)
{
	char rotated[160];

	log_info("before");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	cr_assert_eq(rename(path, rotated), 0);
	log_info("still old");
	cr_assert_eq(log_reopen(), 0);
	log_info("after");
	cr_assert_eq(harness_count(rotated, "before"), 1);
	cr_assert_eq(harness_count(rotated, "still old"), 1);
	cr_assert_eq(harness_count(path, "after"), 1);
	cr_assert_eq(harness_count(path, "before"), 0);
}

Test(log, level_filter)
{
	log_set_level(LOG_WARN);
	log_info("quiet");
	log_errorx("loud");
	cr_assert_eq(harness_count(path, "quiet"), 0);
	cr_assert_eq(harness_count(path, "error: loud"), 1);
}

/*
 * A link or a FIFO planted where a log is rotated to: refused, the old
 * log kept, the target untouched; once removed, a reopen makes the file.
 */
Test(log, reopen_refuses_links_and_other_files)
{
	char	 target[160], other[160], *text;

	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(other, sizeof(other), "%s.1", path);
	text = harness_slurp(path);
	cr_assert_not_null(text);
	free(text);
	cr_assert_eq(rename(path, other), 0);
	cr_assert_eq(close(creat(target, 0600)), 0);

	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(log_reopen(), -1);
	cr_assert_eq(errno, ELOOP);
	cr_assert_str_eq(log_strerror(errno), "a symbolic link: refused");
	cr_assert_eq(unlink(path), 0);

	cr_assert_eq(link(target, path), 0);
	cr_assert_eq(log_reopen(), -1);
	cr_assert_str_eq(log_strerror(errno), "a file with other hard links: "
	    "refused");
	cr_assert_eq(unlink(path), 0);

	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(log_reopen(), -1, "no reader: the open does not block");
	cr_assert_str_eq(log_strerror(errno), "not a regular file: refused");
	cr_assert_eq(unlink(path), 0);

	log_info("kept");
	cr_assert_eq(harness_count(other, "kept"), 1, "the old log goes on");
	text = harness_slurp(target);
	cr_assert_str_eq(text, "", "the target is untouched");
	free(text);
	cr_assert_eq(log_reopen(), 0);
	log_info("fixed");
	cr_assert_eq(harness_count(path, "fixed"), 1);
}
