/* test_ctl.c: octctl as an operator runs it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
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
	char out[2048], want[1024];

	harness_setup(&run, NULL);
	cr_assert_eq(ctl(out, sizeof(out), "status", NULL, NULL, NULL), 1);
	snprintf(want, sizeof(want), "octctl: octd is not running (no "
	    "%s/run/control.sock); start it with: octd -c %s\n", run.dir,
	    run.conf);
	cr_assert_str_eq(out, want);
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
	char out[2048], want[1024];

	harness_setup(&run, NULL);
	harness_start(&run);
	harness_write_conf(&run, "batch_max = 20\n");
	cr_assert_eq(ctl(out, sizeof(out), "reload", NULL, NULL, NULL), 0);
	cr_assert_str_eq(out, "octctl: octd took the new configuration\n");
	harness_write_conf(&run, "batch_max = lots\n");
	cr_assert_eq(ctl(out, sizeof(out), "reload", NULL, NULL, NULL), 1);
	snprintf(want, sizeof(want), "octctl: reload refused, octd keeps its "
	    "running configuration: %s:6: batch_max: bad number (expected a "
	    "whole number): 'lots'\n", run.conf);
	cr_assert_str_eq(out, want);
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
