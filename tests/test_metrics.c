/*
 * test_metrics.c: what GET /metrics and octctl status tell an operator,
 * against a real octd, oct-receiver and oct.db: push totals, dead rows,
 * build and process metrics, and a queue depth that is not stale.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "harness.h"

static struct octd_run	run;
static pid_t		receiver;

static void
setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	if (receiver > 0) {
		kill(receiver, SIGKILL);
		waitpid(receiver, NULL, 0);
	}
	receiver = 0;
	harness_teardown(&run);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 90);

/* The value on the line of /metrics that starts with name; -1: none. */
static double
metric(const char *name)
{
	return harness_metric(run.port, name);
}

struct at_least {
	const char	*name;
	double		 want;
};

static int
metric_reaches(void *arg)
{
	struct at_least *a = arg;

	return metric(a->name) >= a->want;
}

Test(metrics, build_info_dead_rows_and_process_metrics)
{
	struct http_res	 r;
	sqlite3		*db;
	char		 path[512];
	double		 start;

	harness_setup(&run, NULL);
	harness_start(&run);
	http_post(run.port, "/v1/traces?wait=commit", "[{\"model\":\"a\"},"
	    "{\"model\":\"b\"}]", &r);
	cr_assert_eq(r.status, 200);
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	cr_assert_eq(sqlite3_exec(db, "UPDATE llm_traces SET dead = 1 WHERE "
	    "model = 'a'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cr_assert_eq(metric("oct_build_info{version=\"" PACKAGE_VERSION "\"}"),
	    1);
	cr_assert_eq(metric("oct_rows_dead{table=\"llm_traces\"}"), 1);
	cr_assert_eq(metric("oct_rows_dead{table=\"error_events\"}"), 0);
	cr_assert_eq(metric("oct_rows_pending{table=\"llm_traces\"}"), 1);
	cr_assert_eq(metric("oct_push_last_success_timestamp_seconds"), 0,
	    "never pushed");
	cr_assert(metric("process_cpu_seconds_total") >= 0);
	cr_assert(metric("process_resident_memory_bytes") > 100000);
	cr_assert(metric("process_virtual_memory_bytes") >
	    metric("process_resident_memory_bytes"));
	cr_assert(metric("process_open_fds") >= 5);
	cr_assert(metric("process_max_fds") >= metric("process_open_fds"));
	start = metric("process_start_time_seconds");
	cr_assert(start > (double)time(NULL) - 60 && start <= (double)time(NULL)
	    + 1, "ingestd started just now: %f", start);
	http_req(run.port, "GET", "/metrics", NULL, 0, NULL, &r);
	cr_assert(strstr(r.body, "# TYPE process_cpu_seconds_total counter\n"),
	    "%s", r.body);
}

/*
 * oct_push_failed_total counts failed requests, oct_push_sent_total the
 * events delivered: writerd counts the marks it applies, ingestd reads.
 */
Test(metrics, push_totals_count_failures_and_deliveries)
{
	struct http_res	 r;
	struct at_least	 failed = { "oct_push_failed_total", 1 };
	struct at_least	 sent = { "oct_push_sent_total", 3 };
	char		 conf[1024], key[128], db[400];
	int		 port, dead = harness_free_port();
	double		 last;

	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d/in\n"
	    "push_interval_ms = 50\npush_backoff_base_ms = 100\n"
	    "push_backoff_cap_ms = 200\n", dead);
	harness_setup(&run, conf);
	harness_start(&run);
	http_post(run.port, "/v1/traces", "[{\"model\":\"a\"},{\"model\":\"b\"},"
	    "{\"model\":\"c\"}]", &r);
	cr_assert_eq(r.status, 202);
	cr_assert(harness_wait(metric_reaches, &failed, 10000),
	    "a refused connection is a failed request");
	cr_assert_eq(metric("oct_push_sent_total"), 0);
	harness_pubkey(&run, key, sizeof(key));
	snprintf(db, sizeof(db), "%s/receiver.db", run.dir);
	receiver = harness_receiver(db, key, &port);
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d/in\n"
	    "push_interval_ms = 50\npush_backoff_base_ms = 100\n"
	    "push_backoff_cap_ms = 200\n", port);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
	cr_assert(harness_wait(metric_reaches, &sent, 15000), "sent %f",
	    metric("oct_push_sent_total"));
	cr_assert_eq(metric("oct_push_sent_total"), 3);
	cr_assert_eq(file_int(db, "SELECT count(*) FROM events"), 3);
	last = metric("oct_push_last_success_timestamp_seconds");
	cr_assert(last > (double)time(NULL) - 60 && last <= (double)time(NULL)
	    + 1, "last success %f", last);
}

/* queue_depth from octctl status --json, or -1. */
static long
status_depth(void)
{
	char	 out[8192], *argv[] = { (char *)harness_bin("octctl"), "-c",
		    run.conf, "status", "--json", NULL };
	json_t	*o;
	long	 d = -1;

	if (harness_run(argv, out, sizeof(out)) != 0)
		return -1;
	if ((o = json_loads(out, 0, NULL)) != NULL)
		d = (long)json_integer_value(json_object_get(o, "queue_depth"));
	json_decref(o);
	return d;
}

static int
status_depth_is(void *arg)
{
	return status_depth() == *(long *)arg;
}

static int
metrics_depth_zero(void *arg)
{
	(void)arg;
	return metric("oct_queue_depth") == 0;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does status say depth within ms of wall time (octctl takes a while)? */
static int
status_says_within(long depth, int64_t ms)
{
	int64_t end = wall_ms() + ms;

	do {
		if (status_depth() == depth)
			return 1;
	} while (wall_ms() < end);
	return 0;
}

/*
 * octctl status showed the queue depth of ingestd's last heartbeat answer,
 * up to a second old. Once /metrics says 0, status says so at once too
 * (within half a second: ingestd tells octd within 100 ms).
 */
Test(metrics, status_queue_depth_follows_the_queue)
{
	struct http_res	r;
	pid_t		writerd;
	long		one = 1;
	int		i;

	harness_setup(&run, "batch_ms = 10ms\n");
	harness_start(&run);
	writerd = harness_worker(&run, "writerd");
	for (i = 0; i < 4; i++) {
		cr_assert_eq(kill(writerd, SIGSTOP), 0);
		http_post(run.port, "/v1/traces", "{\"model\":\"m\"}", &r);
		cr_assert_eq(r.status, 202);
		cr_assert(harness_wait(status_depth_is, &one, 3000), "round %d",
		    i);
		cr_assert_eq(kill(writerd, SIGCONT), 0);
		cr_assert(harness_wait(metrics_depth_zero, NULL, 3000));
		cr_assert(status_says_within(0, 500),
		    "round %d: status still says %ld", i, status_depth());
	}
}
