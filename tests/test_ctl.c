/* test_ctl.c: octctl as an operator runs it. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"
#include "key.h"

static char dir[64];

static void
setup(void)
{
	harness_tmpdir(dir, sizeof(dir), "ctl");
}

static void
teardown(void)
{
	harness_rmdir(dir);
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

static struct octd_run run;

static void
stop_run(void)
{
	harness_teardown(&run);
}

TestSuite(octctl_daemon, .fini = stop_run, .timeout = 60);

/* Run octctl -c run.conf with up to four more words; output in out. */
static int
ctl(char *out, size_t len, const char *a, const char *b, const char *c,
    const char *d)
{
	char *argv[] = { (char *)harness_bin("octctl"), "-c", run.conf,
	    (char *)a, (char *)b, (char *)c, (char *)d, NULL };

	return harness_run(argv, out, len);
}

Test(octctl_daemon, status_when_octd_is_not_running)
{
	char out[2048], sock[600], start[700];

	harness_setup(&run, NULL);
	cr_assert_eq(ctl(out, sizeof(out), "status", NULL, NULL, NULL), 1);
	snprintf(sock, sizeof(sock), "%s/run/control.sock", run.dir);
	snprintf(start, sizeof(start), "octd -c %s\n", run.conf);
	cr_assert(strncmp(out, "octctl: ", 8) == 0 &&
	    harness_has_facts(out, "not running", sock, start, NULL),
	    "names the socket and the command to start octd: %s", out);
}

Test(octctl_daemon, status_shows_workers_queue_and_rows)
{
	char		 out[8192];
	struct http_res	 r;
	json_t		*o, *w;
	size_t		 i;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	harness_setup(&run, NULL);
	harness_start(&run);
	http_post(run.port, "/v1/traces?wait=commit", "{\"model\":\"m\"}", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(ctl(out, sizeof(out), "status", NULL, NULL, NULL), 0, "%s",
	    out);
	cr_assert(strstr(out, "ingestd   "), "%s", out);
	cr_assert(strstr(out, "running"), "%s", out);
	cr_assert(strstr(out, "queue depth: 0"), "%s", out);
	cr_assert(strstr(out, "llm_traces              1         0         0"),
	    "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "status", "--json", NULL, NULL), 0);
	o = json_loads(out, 0, NULL);
	cr_assert_not_null(o, "%s", out);
	cr_assert_eq(json_array_size(json_object_get(o, "workers")), 3);
	json_array_foreach(json_object_get(o, "workers"), i, w) {
		cr_assert_str_eq(json_string_value(json_object_get(w, "state")),
		    "running");
		cr_assert_gt(json_integer_value(json_object_get(w, "pid")), 0);
		cr_assert_eq(json_integer_value(json_object_get(w, "restarts")),
		    0);
	}
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(
	    json_object_get(o, "rows"), "llm_traces"), "pending")), 1);
	cr_assert(json_is_integer(json_object_get(o, "queue_depth")));
	json_decref(o);
}

Test(octctl_daemon, reload_reports_whether_the_config_was_taken)
{
	char out[2048], at[600];

	harness_setup(&run, NULL);
	harness_start(&run);
	harness_write_conf(&run, "batch_max = 20\n");
	cr_assert_eq(ctl(out, sizeof(out), "reload", NULL, NULL, NULL), 0);
	cr_assert_str_eq(out, "octctl: octd took the new configuration\n");
	harness_write_conf(&run, "batch_max = lots\n");
	cr_assert_eq(ctl(out, sizeof(out), "reload", NULL, NULL, NULL), 1);
	snprintf(at, sizeof(at), "%s:6:", run.conf);
	cr_assert(strncmp(out, "octctl: ", 8) == 0 &&
	    harness_has_facts(out, "reload refused", at, "batch_max", "'lots'",
	    NULL), "names FILE:LINE, the key and the value: %s", out);
}

Test(octctl_daemon, push_status_reads_the_database)
{
	char		 out[8192];
	struct http_res	 r;
	json_t		*o, *t;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	harness_setup(&run, NULL);
	harness_start(&run);
	http_post(run.port, "/v1/traces?wait=commit",
	    "[{\"model\":\"m\"},{\"model\":\"n\"}]", &r);
	cr_assert_eq(ctl(out, sizeof(out), "push-status", "--json", NULL, NULL),
	    0, "%s", out);
	o = json_loads(out, 0, NULL);
	cr_assert_not_null(o, "%s", out);
	t = json_object_get(json_object_get(o, "tables"), "llm_traces");
	cr_assert_eq(json_integer_value(json_object_get(t, "total")), 2);
	cr_assert_eq(json_integer_value(json_object_get(t, "pending")), 2);
	cr_assert_eq(json_integer_value(json_object_get(t, "synced")), 0);
	cr_assert_eq(json_integer_value(json_object_get(t, "retrying")), 0);
	cr_assert_eq(json_integer_value(json_object_get(t, "dead")), 0);
	cr_assert(json_is_integer(json_object_get(t, "oldest_pending_age_s")));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o,
	    "retry_distribution"), "0")), 2);
	cr_assert(json_is_null(json_object_get(o, "last_success_at")));
	cr_assert(json_is_null(json_object_get(o, "last_error")));
	json_decref(o);
	cr_assert_eq(ctl(out, sizeof(out), "push-status", NULL, NULL, NULL), 0);
	cr_assert(strstr(out, "last successful push: never"), "%s", out);
	/* read-only: it works with octd stopped */
	harness_teardown(&run);
}

Test(octctl_daemon, logs_and_send)
{
	char out[16384];

	harness_setup(&run, NULL);
	harness_start(&run);
	cr_assert_eq(ctl(out, sizeof(out), "send", "trace", "{\"model\":\"x\"}",
	    NULL), 0, "%s", out);
	cr_assert(strstr(out, "{\"accepted\":1,\"trace_ids\":[\""), "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "send", "trace", "{}", NULL), 1);
	cr_assert(strstr(out, "missing required field model"), "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "send", "bogus", "{}", NULL), 2);
	cr_assert_eq(ctl(out, sizeof(out), "logs", "octd", "-n", "2"), 0);
	cr_assert_eq(strchr(strchr(out, '\n') + 1, '\n')[1], '\0',
	    "two lines: %s", out);
	cr_assert(strstr(out, " octd["), "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "logs", "-n", "50", NULL), 0);
	cr_assert(strstr(out, " writerd[") && strstr(out, " ingestd[") &&
	    strstr(out, " pushd["), "all four merged: %s", out);
	cr_assert_eq(ctl(out, sizeof(out), "logs", "nosuch", NULL, NULL), 2);
}

/* BLAKE2b of a file's bytes ("" if it does not exist). */
static void
file_hash(const char *path, unsigned char out[32])
{
	crypto_generichash_state	 st;
	unsigned char			 buf[65536];
	size_t				 n;
	FILE				*f = fopen(path, "rb");

	crypto_generichash_init(&st, NULL, 0, 32);
	while (f != NULL && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_generichash_update(&st, buf, n);
	if (f != NULL)
		fclose(f);
	crypto_generichash_final(&st, out, 32);
}

static int
octd_gone(void *arg)
{
	return harness_reaped(arg);
}

Test(octctl_daemon, push_dry_run_builds_the_batches_and_changes_nothing)
{
	unsigned char	 db0[32], wal0[32], db1[32], wal1[32];
	char		 out[65536], db[600], wal[600], *p;
	struct http_res	 r;
	long		 batches = 0, events = 0;
	int		 i;

	cr_assert(sodium_init() >= 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	harness_setup(&run, "push_max_payload_bytes = 2k\n");
	harness_start(&run);
	for (i = 0; i < 10; i++) {
		http_post(run.port, "/v1/traces?wait=commit", "[{\"model\":\"a\"},"
		    "{\"model\":\"b\"},{\"model\":\"c\"},{\"model\":\"d\"},"
		    "{\"model\":\"e\"},{\"model\":\"f\"},{\"model\":\"g\"},"
		    "{\"model\":\"h\"},{\"model\":\"i\"},{\"model\":\"j\"}]", &r);
		cr_assert_eq(r.status, 200);
	}
	cr_assert_eq(kill(run.pid, SIGTERM), 0);
	cr_assert(harness_wait(octd_gone, &run, 10000));
	snprintf(db, sizeof(db), "%s/data/oct.db", run.dir);
	snprintf(wal, sizeof(wal), "%s/data/oct.db-wal", run.dir);
	file_hash(db, db0);
	file_hash(wal, wal0);
	cr_assert_eq(ctl(out, sizeof(out), "push", "--dry-run", "--verbose",
	    NULL), 0, "%s", out);
	p = strstr(out, "dry run: ");
	cr_assert_not_null(p, "%s", out);
	cr_assert_eq(sscanf(p, "dry run: %ld events in %ld batches", &events,
	    &batches), 2);
	cr_assert_eq(events, 100);
	cr_assert_gt(batches, 1, "cut by push_max_payload_bytes");
	for (p = out; (p = strstr(p, "batch ")) != NULL; p++) {
		long n, raw;

		cr_assert_eq(sscanf(strchr(p, ':'), ": %ld events, %ld bytes", &n,
		    &raw), 2);
		cr_assert_leq(raw, 2048, "a batch of %ld bytes", raw);
	}
	file_hash(db, db1);
	file_hash(wal, wal1);
	cr_assert_eq(memcmp(db0, db1, 32), 0, "oct.db unchanged");
	cr_assert_eq(memcmp(wal0, wal1, 32), 0, "its WAL unchanged");
	cr_assert_eq(ctl(out, sizeof(out), "push", "--batch-size", "0", NULL),
	    2);
	cr_assert_eq(ctl(out, sizeof(out), "push", NULL, NULL, NULL), 1);
	cr_assert(strstr(out, "octctl: push_url is empty: there is no "
	    "collector to push to\n"), "with octd stopped, octctl pushes "
	    "itself: %s", out);
	file_hash(db, db1);
	cr_assert_eq(memcmp(db0, db1, 32), 0, "oct.db unchanged");
}

/* Any count of lines: what the file holds is printed, never a crash. */
Test(octctl_daemon, logs_takes_any_count_of_lines)
{
	const char	*counts[] = { "2147483647", "4294967297",
			    "99999999999999999999" };
	char		 out[16384], path[600], *text;
	FILE		*f;
	size_t		 i;
	int		 k;

	harness_setup(&run, NULL);
	snprintf(path, sizeof(path), "%s/log", run.dir);
	cr_assert_eq(mkdir(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/log/octd.log", run.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	for (k = 0; k < 100; k++)
		fprintf(f, "2026-01-01T00:%02d:%02d.000Z octd[1] info: line "
		    "%d\n", k / 60, k % 60, k);
	fclose(f);
	text = harness_slurp(path);
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		cr_assert_eq(ctl(out, sizeof(out), "logs", "octd", "-n",
		    counts[i]), 0, "-n %s: %s", counts[i], out);
		cr_assert_str_eq(out, text, "-n %s: the whole log", counts[i]);
	}
	cr_assert_eq(ctl(out, sizeof(out), "logs", "octd", "-n", "3"), 0);
	cr_assert_str_eq(out, strstr(text, "2026-01-01T00:01:37.000Z octd[1] "
	    "info: line 97\n"));
	cr_assert_eq(ctl(out, sizeof(out), "logs", "-n", "-1", NULL), 2);
	cr_assert_str_eq(out, "octctl: -n takes a number of lines\n");
	free(text);
}

/* A data_dir octd cannot make: octctl reload says why and exits 1. */
Test(octctl_daemon, reload_refused_when_data_dir_cannot_be_made)
{
	char	 out[2048], bad[600];
	FILE	*f;

	harness_setup(&run, NULL);
	harness_start(&run);
	snprintf(bad, sizeof(bad), "%s/afile", run.dir);
	cr_assert_eq(close(creat(bad, 0600)), 0);
	strcat(bad, "/data");
	f = fopen(run.conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "listen = 127.0.0.1:%d\ndata_dir = %s\nlog_dir = %s/log\n"
	    "run_dir = %s/run\nmetrics_interval_ms = 0\n", run.port, bad,
	    run.dir, run.dir);
	fclose(f);
	cr_assert_eq(ctl(out, sizeof(out), "reload", NULL, NULL, NULL), 1, "%s",
	    out);
	cr_assert(strncmp(out, "octctl: ", 8) == 0 &&
	    harness_has_facts(out, "reload refused", run.conf, "data_dir", bad,
	    "Not a directory", NULL), "names the key, the path and why: %s",
	    out);
	cr_assert(!harness_reaped(&run), "octd still runs");
	cr_assert_eq(ctl(out, sizeof(out), "status", NULL, NULL, NULL), 0, "%s",
	    out);
}

/* -h, --help, -V, --version: on stdout, exit 0; argv[last] is the flag. */
static void
assert_help_and_version(char **argv, int last, const char *usage,
    const char *name)
{
	const char	*flags[] = { "-h", "--help", "-V", "--version" };
	char		 out[4096], want[128];
	int		 i;

	snprintf(want, sizeof(want), "%s %s\n", name, PACKAGE_VERSION);
	for (i = 0; i < 4; i++) {
		argv[last] = (char *)flags[i];
		cr_assert_eq(harness_run_out(argv, 0, out, sizeof(out)), 0, "%s %s",
		    argv[last - 1], flags[i]);
		if (i < 2)
			cr_assert(strncmp(out, usage, strlen(usage)) == 0,
			    "%s %s: %s", argv[last - 1], flags[i], out);
		else
			cr_assert_str_eq(out, want, "%s %s", argv[last - 1],
			    flags[i]);
	}
}

Test(octctl, every_program_and_command_answers_help_and_version)
{
	const char	*progs[] = { "octd", "oct-ingestd", "oct-writerd",
			    "oct-pushd", "octctl", "oct-receiver" };
	const char	*cmds[] = { "status", "reload", "push", "push-status",
			    "logs", "pubkey", "keygen", "send" };
	char		*argv[6], usage[128];
	size_t		 i;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		argv[0] = (char *)harness_bin(progs[i]);
		argv[2] = NULL;
		snprintf(usage, sizeof(usage), "usage: %s ", progs[i]);
		assert_help_and_version(argv, 1, usage, progs[i]);
	}
	/* a command's own usage line, even with a config that is not there */
	argv[0] = (char *)harness_bin("octctl");
	argv[1] = "-c";
	argv[2] = "/nonexistent/oct.conf";
	argv[5] = NULL;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		argv[3] = (char *)cmds[i];
		snprintf(usage, sizeof(usage), "usage: octctl [-c file] %s",
		    cmds[i]);
		assert_help_and_version(argv, 4, usage, "octctl");
	}
}

/* pubkey: the key octd made on first start, as keygen would print it. */
Test(octctl_daemon, pubkey_prints_the_configured_key)
{
	char	 out[2048], want[1024], b64[64], path[400];

	harness_setup(&run, NULL);
	snprintf(path, sizeof(path), "%s/data/signing.key", run.dir);
	cr_assert_eq(ctl(out, sizeof(out), "pubkey", NULL, NULL, NULL), 1);
	cr_assert(harness_has_facts(out, "no signing key", path, "signing_key",
	    "octctl keygen", NULL), "names the key file and the fix: %s", out);
	harness_start(&run);
	harness_pubkey(&run, b64, sizeof(b64));
	cr_assert_eq(ctl(out, sizeof(out), "pubkey", NULL, NULL, NULL), 0, "%s",
	    out);
	snprintf(want, sizeof(want), "public key: %s\nstandard webhooks: "
	    "whpk_%s\n", b64, b64);
	cr_assert_str_eq(out, want);
	cr_assert_eq(ctl(out, sizeof(out), "pubkey", "extra", NULL, NULL), 2);
}
