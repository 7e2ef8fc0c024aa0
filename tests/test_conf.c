/* test_conf.c: the configuration parser, values, errors and the dump. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "conf.h"
#include "harness.h"
#include "oct.h"

static char path[64];

/* Write text to a temp file, load it, return conf_load's result. */
static int
load_text(struct conf *c, const char *text, char *err, size_t errlen)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/oct-conf-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd != -1);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return conf_load(c, path, err, errlen);
}

static void
drop_file(void)
{
	if (path[0] != '\0')
		unlink(path);
}

static void
check_urls(void)
{
	conf_check_urls(url_check);	/* as octd and octctl do */
}

TestSuite(conf, .init = check_urls, .fini = drop_file);

Test(conf, defaults_match_the_spec)
{
	struct conf	c;
	char		err[512];

	cr_assert_eq(conf_load(&c, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.listen, "127.0.0.1:7411");
	cr_assert_eq(c.max_body_bytes, 1024 * 1024);
	cr_assert_eq(c.max_text_bytes, 64 * 1024);
	cr_assert_eq(c.queue_capacity, 512);
	cr_assert_eq(c.batch_max, 50);
	cr_assert_eq(c.batch_ms, 500);
	cr_assert_eq(c.sqlite_synchronous, CONF_SYNC_NORMAL);
	cr_assert_eq(c.retention_days, 7);
	cr_assert_eq(c.max_db_bytes, 1024LL * 1024 * 1024);
	cr_assert_eq(c.metrics_interval_ms, 10000);
	cr_assert_str_eq(c.push_url, "");
	cr_assert_eq(c.push_allow_insecure, 0);
	cr_assert_eq(c.push_interval_ms, 2000);
	cr_assert_eq(c.push_batch_size, 500);
	cr_assert_eq(c.push_max_payload_bytes, 1024 * 1024);
	cr_assert_eq(c.push_compression, CONF_COMPRESS_GZIP);
	cr_assert_eq(c.push_timeout_ms, 10000);
	cr_assert_eq(c.push_max_attempts, 10);
	cr_assert_eq(c.push_give_up_after_ms, 72LL * 3600 * 1000);
	cr_assert_eq(c.push_backoff_base_ms, 500);
	cr_assert_eq(c.push_backoff_cap_ms, 60000);
	cr_assert_eq(c.shutdown_timeout_ms, 10000);
	cr_assert_str_eq(c.data_dir, OCT_LOCALSTATEDIR "/lib/oct");
	cr_assert_str_eq(c.signing_key, OCT_LOCALSTATEDIR "/lib/oct/signing.key");
	conf_free(&c);
}

Test(conf, sizes)
{
	int64_t v;

	cr_assert_eq(conf_parse_size("0", &v), 0); cr_assert_eq(v, 0);
	cr_assert_eq(conf_parse_size("123", &v), 0); cr_assert_eq(v, 123);
	cr_assert_eq(conf_parse_size("64k", &v), 0); cr_assert_eq(v, 65536);
	cr_assert_eq(conf_parse_size("2M", &v), 0); cr_assert_eq(v, 2097152);
	cr_assert_eq(conf_parse_size("1g", &v), 0); cr_assert_eq(v, 1073741824);
	cr_assert_eq(conf_parse_size("", &v), -1);
	cr_assert_eq(conf_parse_size("k", &v), -1);
	cr_assert_eq(conf_parse_size("12q", &v), -1);
	cr_assert_eq(conf_parse_size("-1", &v), -1);
	cr_assert_eq(conf_parse_size("1.5m", &v), -1);
	cr_assert_eq(conf_parse_size("1 m", &v), -1);
	cr_assert_eq(conf_parse_size("99999999999999999999", &v), -1);
	cr_assert_eq(conf_parse_size("9999999999999g", &v), -1);
}

Test(conf, durations)
{
	int64_t v;

	cr_assert_eq(conf_parse_duration("500", &v), 0); cr_assert_eq(v, 500);
	cr_assert_eq(conf_parse_duration("250ms", &v), 0); cr_assert_eq(v, 250);
	cr_assert_eq(conf_parse_duration("2s", &v), 0); cr_assert_eq(v, 2000);
	cr_assert_eq(conf_parse_duration("5m", &v), 0); cr_assert_eq(v, 300000);
	cr_assert_eq(conf_parse_duration("72h", &v), 0);
	cr_assert_eq(v, 72LL * 3600000);
	cr_assert_eq(conf_parse_duration("7d", &v), 0);
	cr_assert_eq(v, 7LL * 86400000);
	cr_assert_eq(conf_parse_duration("", &v), -1);
	cr_assert_eq(conf_parse_duration("s", &v), -1);
	cr_assert_eq(conf_parse_duration("5x", &v), -1);
	cr_assert_eq(conf_parse_duration("5 s", &v), -1);
	cr_assert_eq(conf_parse_duration("5sec", &v), -1);
	cr_assert_eq(conf_parse_duration("9999999999999999d", &v), -1);
}

Test(conf, addresses)
{
	char	host[64];
	int	port;

	cr_assert_eq(conf_parse_addr("127.0.0.1:7411", host, sizeof(host),
	    &port), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 7411);
	cr_assert_eq(conf_parse_addr("[::1]:80", host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(port, 80);
	cr_assert_eq(conf_parse_addr("0.0.0.0:1", host, sizeof(host), &port), 0);
	cr_assert_eq(conf_parse_addr("localhost:7411", host, sizeof(host),
	    &port), -1);
	cr_assert_eq(conf_parse_addr("127.0.0.1", host, sizeof(host), &port), -1);
	cr_assert_eq(conf_parse_addr("127.0.0.1:0", host, sizeof(host), &port),
	    -1);
	cr_assert_eq(conf_parse_addr("127.0.0.1:65536", host, sizeof(host),
	    &port), -1);
	cr_assert_eq(conf_parse_addr("::1:80", host, sizeof(host), &port), -1);
	cr_assert_eq(conf_parse_addr("[::1]80", host, sizeof(host), &port), -1);
	cr_assert_eq(conf_parse_addr("1.2.3.4:x", host, sizeof(host), &port), -1);
}

Test(conf, file_values_comments_and_quotes)
{
	struct conf	c;
	char		err[512];

	cr_assert_eq(load_text(&c,
	    "# a comment\n"
	    "\n"
	    "  max_text_bytes = 1k   # trailing comment\n"
	    "auth_token = \"a b#c \\\"q\\\"\"\n"
	    "push_auth_token = x#y\n"
	    "batch_ms=2s\r\n"
	    "sqlite_synchronous = full\n"
	    "push_url = https://collector.example.com/v1/batches\n"
	    "push_compression = none\n"
	    "push_allow_insecure = yes\n"
	    "push_hmac_secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.max_text_bytes, 1024);
	cr_assert_str_eq(c.auth_token, "a b#c \"q\"");
	cr_assert_str_eq(c.push_auth_token, "x#y");
	cr_assert_eq(c.batch_ms, 2000);
	cr_assert_eq(c.sqlite_synchronous, CONF_SYNC_FULL);
	cr_assert_eq(c.push_compression, CONF_COMPRESS_NONE);
	cr_assert_eq(c.push_allow_insecure, 1);
	conf_free(&c);
}

/*
 * A last line ending in a CR and no LF (found by tests/fuzz/fuzz_conf):
 * read as its own line, not loaded for ever.
 */
Test(conf, a_last_line_ending_in_a_lone_cr, .timeout = 10)
{
	struct conf	c;
	char		err[512];

	cr_assert_eq(load_text(&c, "batch_ms = 2s\r\nmax_text_bytes = 1k\r",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.batch_ms, 2000);
	cr_assert_eq(c.max_text_bytes, 1024);
	conf_free(&c);
	cr_assert_eq(conf_load_text(&c, "batch_max = 7\r", err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(c.batch_max, 7);
	conf_free(&c);
}

/* Each bad line gives an error naming file, line and key. */
Test(conf, errors_name_file_line_and_key)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "listen = 127.0.0.1:1\nbogus = 1\n", ":2: bogus: unknown key" },
		{ "max_body_bytes = 12q\n", ":1: max_body_bytes: bad size" },
		{ "\n\nlisten = nowhere\n", ":3: listen: bad address" },
		{ "batch_ms = soon\n", ":1: batch_ms: bad duration" },
		{ "queue_capacity = 0\n", ":1: queue_capacity: out of range" },
		{ "queue_capacity = ten\n", ":1: queue_capacity: bad number" },
		{ "sqlite_synchronous = off\n",
		    ":1: sqlite_synchronous: bad value (expected normal or full)" },
		{ "push_allow_insecure = maybe\n",
		    ":1: push_allow_insecure: bad value (expected yes or no)" },
		{ "listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n",
		    ":2: listen: repeated key (first set on line 1)" },
		{ "just words\n", ":1: syntax error" },
		{ "auth_token = \"open\n", ":1: auth_token: unterminated" },
		{ "push_url = http://192.0.2.1/x\n",
		    ":1: push_url: plain http to a host that is not loopback" },
		{ "push_url = ftp://127.0.0.1/x\n", ":1: push_url: scheme" },
		{ "push_url = not a url\n", ":1: push_url: not a valid URL" },
		{ "push_hmac_secret = secret\n", ":1: push_hmac_secret: must be" },
		{ "push_backoff_base_ms = 2m\npush_backoff_cap_ms = 1m\n",
		    ":1: push_backoff_base_ms: larger than" },
	};
	struct conf	c;
	char		err[512], want[600];
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(load_text(&c, cases[i].text, err, sizeof(err)), -1,
		    "case %zu loaded", i);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].want);
		cr_assert(strncmp(err, want, strlen(want)) == 0,
		    "case %zu: got \"%s\", want \"%s...\"", i, err, want);
		drop_file();
	}
}

Test(conf, loopback_http_is_allowed)
{
	struct conf	c;
	char		err[512];

	cr_assert_eq(load_text(&c, "push_url = http://127.0.0.1:9/in\n", err,
	    sizeof(err)), 0, "%s", err);
	conf_free(&c);
	drop_file();
	cr_assert_eq(load_text(&c, "push_url = http://localhost:9/in\n", err,
	    sizeof(err)), 0, "%s", err);
	conf_free(&c);
}

Test(conf, missing_file)
{
	struct conf	c;
	char		err[512];

	cr_assert_eq(conf_load(&c, "/nonexistent/oct.conf", err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "/nonexistent/oct.conf: No such file or directory");
}

Test(conf, environment_wins_and_its_errors_name_the_variable)
{
	struct conf	c;
	char		err[512];

	setenv("OCT_MAX_TEXT_BYTES", "2k", 1);
	cr_assert_eq(load_text(&c, "max_text_bytes = 1k\n", err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(c.max_text_bytes, 2048);
	conf_free(&c);
	drop_file();
	setenv("OCT_BATCH_MS", "later", 1);
	cr_assert_eq(load_text(&c, "", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "environment OCT_BATCH_MS: bad duration "
	    "(milliseconds, or a number with ms, s, m, h or d): 'later'");
	unsetenv("OCT_BATCH_MS");
	unsetenv("OCT_MAX_TEXT_BYTES");
}

Test(conf, relative_paths_become_absolute)
{
	struct conf	c;
	char		err[512], cwd[512], want[600];

	cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
	cr_assert_eq(load_text(&c, "data_dir = var/data\nlog_dir = -\n", err,
	    sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/var/data", cwd);
	cr_assert_str_eq(c.data_dir, want);
	cr_assert_str_eq(c.log_dir, "-");
	snprintf(want, sizeof(want), "%s/var/data/signing.key", cwd);
	cr_assert_str_eq(c.signing_key, want);
	conf_free(&c);
}

/*
 * "-" is standard error for log_dir only; for another path it is a name
 * like any other (found by tests/fuzz/fuzz_conf: data_dir = - made a
 * relative signing_key, which a worker resolved elsewhere than octd).
 */
Test(conf, a_dash_is_standard_error_for_log_dir_only)
{
	struct conf	a, b;
	char		err[512], cwd[512], want[600], *text;

	cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
	cr_assert_eq(load_text(&a, "data_dir = -\nlog_dir = -\n", err,
	    sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%s/-", cwd);
	cr_assert_str_eq(a.data_dir, want);
	cr_assert_str_eq(a.log_dir, "-");
	snprintf(want, sizeof(want), "%s/-/signing.key", cwd);
	cr_assert_str_eq(a.signing_key, want);
	text = conf_dump(&a);
	conf_set_base("/elsewhere");
	cr_assert_eq(conf_load_text(&b, text, err, sizeof(err)), 0, "%s", err);
	conf_set_base("");
	cr_assert_eq(conf_diff(&a, &b), 0, "a worker gets octd's settings");
	free(text);
	conf_free(&a);
	conf_free(&b);
}

/*
 * Every value octd takes, its workers take back from the dump: a path
 * made too long by its base directory is refused at load, and a value of
 * 4095 characters that the dump escapes is sent whole (fuzz_conf's round
 * trip, on inputs made for it).
 */
Test(conf, every_value_taken_round_trips_through_the_dump)
{
	static const char want[] = "(from octd):1: data_dir: value too long "
	    "(at most 4095 bytes): 'aaaa";
	struct conf	a, b;
	char		err[512], *text, *t;
	size_t		n;

	/* data_dir = and 4090 bytes: 4096 once /base/ is before them */
	cr_assert_not_null(t = malloc(9000));
	n = (size_t)sprintf(t, "data_dir = ");
	memset(t + n, 'a', 4090);
	t[n + 4090] = '\0';
	conf_set_base("/base");
	cr_assert_eq(conf_load_text(&a, t, err, sizeof(err)), -1,
	    "a path of 4096 bytes once absolute is taken");
	conf_set_base("");
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);

	/* 4095 quotes, each escaped in the file and in the dump */
	n = (size_t)sprintf(t, "user = \"");
	for (; n < 8 + 2 * 4095; n += 2)
		memcpy(t + n, "\\\"", 2);
	strcpy(t + n, "\"\n");
	cr_assert_eq(conf_load_text(&a, t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(strlen(a.user), 4095);
	text = conf_dump(&a);
	cr_assert_eq(conf_load_text(&b, text, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(b.user, a.user, "the dump cut the value");
	free(text);
	free(t);
	conf_free(&a);
	conf_free(&b);
}

/* What octd sends a worker parses back to the same settings. */
Test(conf, dump_round_trips_and_diff_names_the_processes)
{
	struct conf	a, b;
	char		err[512], *text;

	cr_assert_eq(load_text(&a, "auth_token = \"we\\\"ird \\\\ # x\"\n"
	    "push_url = https://h.example/p\nbatch_max = 7\n", err,
	    sizeof(err)), 0, "%s", err);
	text = conf_dump(&a);
	cr_assert_not_null(text);
	cr_assert_eq(conf_load_text(&b, text, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(conf_diff(&a, &b), 0);
	cr_assert_str_eq(b.auth_token, "we\"ird \\ # x");
	cr_assert_eq(b.batch_max, 7);
	b.batch_max = 8;
	cr_assert_eq(conf_diff(&a, &b), PROC_BIT(PROC_WRITERD));
	b.batch_max = 7;
	free(b.push_url);
	b.push_url = strdup("https://other.example/p");
	cr_assert_eq(conf_diff(&a, &b), PROC_BIT(PROC_PUSHD));
	free(text);
	conf_free(&a);
	conf_free(&b);
}

/* octctl reload finds octd even through a file octd would refuse. */
Test(conf, peek_reads_one_key_from_a_broken_file)
{
	struct conf	c;
	char		err[512], out[512], cwd[400], want[600];

	cr_assert_eq(load_text(&c, "run_dir = \"/srv/oct run\"  # here\n"
	    "batch_max = lots\nbogus = 1\n", err, sizeof(err)), -1);
	cr_assert_eq(conf_peek(path, "run_dir", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/srv/oct run");
	cr_assert_eq(conf_peek(path, "listen", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "127.0.0.1:7411", "the default");
	setenv("OCT_RUN_DIR", "rel/run", 1);
	cr_assert_eq(conf_peek(path, "run_dir", out, sizeof(out)), 0);
	cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(want, sizeof(want), "%s/rel/run", cwd);
	cr_assert_str_eq(out, want, "the environment wins, made absolute");
	unsetenv("OCT_RUN_DIR");
	cr_assert_eq(conf_peek(path, "nosuchkey", out, sizeof(out)), -1);
}

/*
 * A credential's error names the file, line and key (or the variable),
 * never the value (SPEC section 2): octd logs a refused reload's error.
 */
Test(conf, credentials_never_appear_in_errors)
{
	static const struct { const char *text, *want; } cases[] = {
		/* "short-secret": 12 bytes */
		{ "push_hmac_secret = whsec_c2hvcnQtc2VjcmV0\n",
		    ":1: push_hmac_secret: too short: the key after whsec_ must "
		    "decode to at least 16 bytes" },
		{ "push_hmac_secret = hunter2-hunter2-hunter2\n",
		    ":1: push_hmac_secret: must be whsec_ followed by base64" },
		{ "\npush_hmac_secret = whsec_hunter2!hunter2\n",
		    ":2: push_hmac_secret: bad base64 after whsec_" },
		{ "auth_token = \"hunter2\n",
		    ":1: auth_token: unterminated quoted value" },
		{ "push_auth_token = \"hunter2\" hunter2\n",
		    ":1: push_auth_token: text after the closing quote" },
	};
	struct conf	c;
	char		err[512], want[600];
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(load_text(&c, cases[i].text, err, sizeof(err)), -1,
		    "case %zu loaded", i);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].want);
		cr_assert_str_eq(err, want, "case %zu", i);
		drop_file();
	}
	setenv("OCT_PUSH_HMAC_SECRET", "whsec_c2hvcnQtc2VjcmV0", 1);
	cr_assert_eq(load_text(&c, "", err, sizeof(err)), -1);
	unsetenv("OCT_PUSH_HMAC_SECRET");
	cr_assert_str_eq(err, "environment OCT_PUSH_HMAC_SECRET: too short: "
	    "the key after whsec_ must decode to at least 16 bytes");
}

/* The HMAC key is the decoded bytes: 16 of them at least. */
Test(conf, hmac_secret_decodes_to_16_bytes_at_least)
{
	struct conf	c;
	char		err[512];

	/* "0123456789abcde", 15 bytes */
	cr_assert_eq(load_text(&c, "push_hmac_secret = whsec_MDEyMzQ1Njc4OWFi"
	    "Y2Rl\n", err, sizeof(err)), -1);
	cr_assert(strstr(err, "push_hmac_secret: too short") != NULL, "%s",
	    err);
	drop_file();
	/* "0123456789abcdef", 16 bytes */
	cr_assert_eq(load_text(&c, "push_hmac_secret = whsec_MDEyMzQ1Njc4OWFi"
	    "Y2RlZg==\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.push_hmac_secret,
	    "whsec_MDEyMzQ1Njc4OWFiY2RlZg==");
	conf_free(&c);
}

/* A running octd refuses a reload and logs why, the secret left out. */
static struct octd_run run;

static void
stop_run(void)
{
	harness_teardown(&run);
}

TestSuite(conf_reload, .fini = stop_run);

static int
reload_refused(void *arg)
{
	(void)arg;
	return harness_count(harness_log(&run, "octd"), "reload refused") > 0;
}

Test(conf_reload, a_refused_reload_logs_no_secret)
{
	const char	*secret = "hunter2!hunter2";
	char		 want[600], out[2048], *log;
	char		*argv[] = { (char *)harness_bin("octctl"), "-c", run.conf,
	    "reload", NULL };

	harness_setup(&run, NULL);
	harness_start(&run);
	/* line 6: after the harness's five */
	harness_write_conf(&run, "push_hmac_secret = whsec_hunter2!hunter2\n");
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(reload_refused, NULL, 5000));
	snprintf(want, sizeof(want), "error: reload refused, keeping the running"
	    " configuration: %s:6: push_hmac_secret: bad base64 after whsec_",
	    run.conf);
	cr_assert_eq(harness_count(harness_log(&run, "octd"), want), 1,
	    "want: %s", want);

	/* what systemctl reload runs says the same, on the terminal */
	cr_assert_eq(harness_run(argv, out, sizeof(out)), 1, "%s", out);
	snprintf(want, sizeof(want), "%s:6: push_hmac_secret: bad base64",
	    run.conf);
	cr_assert(strstr(out, want) != NULL, "octctl reload said: %s", out);
	cr_assert(strstr(out, secret) == NULL, "octctl reload said: %s", out);

	log = harness_slurp(harness_log(&run, "octd"));
	cr_assert_not_null(log);
	cr_assert(strstr(log, secret) == NULL, "octd.log: %s", log);
	free(log);
	cr_assert(!harness_reaped(&run), "octd still runs");
}
