/*
 * test_push.c: the push path end to end: octd pushing to a real
 * oct-receiver, and to a collector written here that answers what each
 * test needs, over real HTTP on loopback.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "harness.h"

static struct octd_run	run;
static pid_t		receiver;
static char		recv_db[600];

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
	harness_teardown(&run);
}

TestSuite(push, .init = setup, .fini = teardown, .timeout = 120);

/* octd first (it makes the key), then a receiver for that key, then push. */
static void
start_with_receiver(const char *extra)
{
	char	key[128], conf[1024];
	int	port;

	harness_setup(&run, extra);
	harness_start(&run);
	harness_pubkey(&run, key, sizeof(key));
	snprintf(recv_db, sizeof(recv_db), "%s/receiver.db", run.dir);
	receiver = harness_receiver(recv_db, key, &port);
	snprintf(conf, sizeof(conf), "%spush_url = http://127.0.0.1:%d/in\n"
	    "push_interval_ms = 100\n", extra != NULL ? extra : "", port);
	harness_write_conf(&run, conf);
	cr_assert_eq(kill(run.pid, SIGHUP), 0);
}

struct both {
	long long	want;
};

static int
all_delivered(void *arg)
{
	struct both *b = arg;

	return file_int(recv_db, "SELECT count(*) FROM events") == b->want &&
	    db_int(&run, "SELECT (SELECT count(*) FROM llm_traces WHERE "
	    "synced_at IS NOT NULL) + (SELECT count(*) FROM error_events WHERE "
	    "synced_at IS NOT NULL) + (SELECT count(*) FROM system_metrics "
	    "WHERE synced_at IS NOT NULL)") == b->want;
}

Test(push, events_reach_the_receiver_verified_and_are_marked_synced)
{
	struct http_res	r;
	struct both	b = { 3 };

	start_with_receiver(NULL);
	http_post(run.port, "/v1/traces", "{\"model\":\"gpt-4o\",\"input\":"
	    "\"hi\",\"team\":\"red\"}", &r);
	cr_assert_eq(r.status, 202);
	http_post(run.port, "/v1/errors", "{\"message\":\"boom\"}", &r);
	http_post(run.port, "/v1/metrics", "{\"name\":\"n\",\"value\":1.5}", &r);
	cr_assert(harness_wait(all_delivered, &b, 15000),
	    "receiver has %lld, synced %lld", file_int(recv_db,
	    "SELECT count(*) FROM events"), db_int(&run, "SELECT count(*) FROM "
	    "llm_traces WHERE synced_at IS NOT NULL"));
	cr_assert_eq(file_int(recv_db, "SELECT count(*) FROM events e WHERE "
	    "type = 'llm_trace' AND json_extract(data, '$.model') = 'gpt-4o' AND "
	    "json_extract(data, '$.trace_id') = e.trace_id AND "
	    "json_extract(data, '$.attributes.team') = 'red' AND "
	    "json_extract(data, '$.truncated') = 0 AND "
	    "json_extract(data, '$.synced_at') IS NULL"), 1);
	cr_assert_eq(file_int(recv_db, "SELECT count(*) FROM events WHERE "
	    "type = 'error_event' AND json_extract(data, '$.level') = 'error'"),
	    1);
	cr_assert_eq(file_int(recv_db, "SELECT count(*) FROM events WHERE "
	    "type = 'system_metric' AND json_extract(data, '$.value') = 1.5"), 1);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces t WHERE "
	    "batch_id IS NOT NULL AND push_attempts = 0 AND dead = 0"), 1);
	cr_assert_eq(file_int(recv_db, "SELECT count(DISTINCT agent_id) FROM "
	    "events WHERE length(agent_id) = 36"), 1, "one agent, by its id");
}
