/*
 * test_hangs.c: fault row 2, a worker that hangs. Under a steady client
 * (one event every 10 ms, each with its own sequence number), each worker
 * is stopped with SIGSTOP for 5 s, then for 20 s. A short stop is ridden
 * out without a restart; a long one is killed by octd's heartbeat (15 s)
 * and the worker restarted. While writerd hangs, ingest keeps answering
 * (202 while the queue has room, then 503 with Retry-After), never
 * silence. At the end every event answered 2xx is stored exactly once.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "../harness.h"

#define MAXSEQ	20000

static struct octd_run	run;

static struct client {
	pthread_t	 th;
	volatile int	 stop;
	volatile int	 writerd_stopped;	/* set while writerd hangs */
	int		 n;			/* requests sent */
	short		 status[MAXSEQ];
	int		 slow_while_writerd;	/* answers > 1 s then */
	int		 retry_after_missing;	/* 503s without it */
} cl;

static void
teardown(void)
{
	harness_teardown(&run);
}

TestSuite(faults_hangs, .fini = teardown, .timeout = 300);

static double
now_s(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *
client(void *arg)
{
	struct timespec	 pause = { 0, 10 * 1000000 };
	struct http_res	*r = malloc(sizeof(*r));
	char		 body[128];
	double		 t0;
	int		 during;

	(void)arg;
	while (!cl.stop && cl.n < MAXSEQ) {
		snprintf(body, sizeof(body), "{\"model\":\"hang\",\"seq\":%d}",
		    cl.n);
		during = cl.writerd_stopped;
		t0 = now_s();
		http_post(run.port, "/v1/traces", body, r);
		cl.status[cl.n] = (short)r->status;
		if (during && cl.writerd_stopped && now_s() - t0 > 1.0)
			cl.slow_while_writerd++;
		if (r->status == 503 && strstr(r->headers, "Retry-After: ") ==
		    NULL)
			cl.retry_after_missing++;
		cl.n++;
		nanosleep(&pause, NULL);
	}
	free(r);
	return NULL;
}

static int
serving(void *arg)
{
	struct http_res	r;

	(void)arg;
	return http_req(run.port, "GET", "/healthz", NULL, 0, NULL, &r) == 0 &&
	    r.status == 200;
}

struct replaced {
	const char	*name;
	pid_t		 old;
};

static int
is_replaced(void *arg)
{
	struct replaced	*w = arg;
	pid_t		 now = harness_worker(&run, w->name);

	return now != 0 && now != w->old;
}

/* Stop name for secs seconds; returns 1 if octd replaced it. */
static int
hang(const char *name, int secs)
{
	struct replaced	w = { name, harness_worker(&run, name) };
	double		t0 = now_s();
	int		replaced;

	cr_assert_neq(w.old, 0, "%s runs", name);
	cl.writerd_stopped = strcmp(name, "writerd") == 0;
	cr_assert_eq(kill(w.old, SIGSTOP), 0);
	while (now_s() - t0 < secs && !is_replaced(&w))
		usleep(50000);
	cl.writerd_stopped = 0;
	kill(w.old, SIGCONT);
	replaced = harness_wait(is_replaced, &w, secs > 15 ? 10000 : 500);
	cr_assert(harness_wait(serving, NULL, 20000), "ingest back after %s",
	    name);
	fprintf(stderr, "row 2: %s stopped %d s: %s\n", name, secs,
	    replaced ? "killed and restarted" : "rode it out");
	return replaced;
}

/* Every 2xx seq stored once, none stored twice; returns lost count. */
static int
audit(int *twice, int *answered)
{
	static unsigned char	 seen[MAXSEQ];
	char			 path[600];
	sqlite3			*db;
	sqlite3_stmt		*s;
	int			 i, seq, lost = 0;

	memset(seen, 0, sizeof(seen));
	*twice = *answered = 0;
	snprintf(path, sizeof(path), "%s/data/oct.db", run.dir);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT json_extract(attributes, "
	    "'$.seq') FROM llm_traces WHERE model = 'hang'", -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		seq = sqlite3_column_int(s, 0);
		if (seq >= 0 && seq < MAXSEQ && seen[seq]++ > 0)
			(*twice)++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	for (i = 0; i < cl.n; i++) {
		if (cl.status[i] / 100 != 2)
			continue;
		(*answered)++;
		if (!seen[i]) {
			if (lost < 5)
				cr_log_error("seq %d answered %d, not stored",
				    i, cl.status[i]);
			lost++;
		}
	}
	return lost;
}

static int
all_committed(void *arg)
{
	struct http_res	r;

	(void)arg;
	return http_post(run.port, "/v1/traces?wait=commit",
	    "{\"model\":\"flush\"}", &r) == 0 && r.status == 200;
}

Test(faults_hangs, stopped_workers_lose_nothing)
{
	const char	*names[] = { "pushd", "writerd", "ingestd" };
	int		 i, restarted_short = 0, restarted_long = 0;
	int		 lost, twice, answered, n503 = 0, silent = 0;

	harness_setup(&run, NULL);
	harness_start(&run);
	cr_assert_eq(pthread_create(&cl.th, NULL, client, NULL), 0);
	for (i = 0; i < 3; i++) {
		restarted_short += hang(names[i], 5);
		restarted_long += !hang(names[i], 20) ? 0 : 1;
	}
	cl.stop = 1;
	pthread_join(cl.th, NULL);
	cr_assert(harness_wait(all_committed, NULL, 20000));
	lost = audit(&twice, &answered);
	for (i = 0; i < cl.n; i++) {
		n503 += cl.status[i] == 503;
		silent += cl.status[i] == 0;
	}
	fprintf(stderr, "row 2: %d requests, %d answered 2xx, %d 503, %d with "
	    "no answer (ingestd stopped); %d lost, %d stored twice; %d "
	    "answers over 1 s while writerd hung, %d 503 without Retry-After; "
	    "short stops restarted %d of 3, long ones %d of 3\n", cl.n,
	    answered, n503, silent, lost, twice, cl.slow_while_writerd,
	    cl.retry_after_missing, restarted_short, restarted_long);
	cr_expect_eq(lost, 0, "%d events answered 2xx were lost", lost);
	cr_expect_eq(twice, 0, "%d events stored twice", twice);
	cr_expect_eq(restarted_short, 0, "a 5 s stop caused a restart");
	cr_expect_eq(restarted_long, 3, "a 20 s stop was not ended by octd");
	cr_expect_eq(cl.slow_while_writerd, 0,
	    "ingest went silent while writerd hung");
	cr_expect_eq(cl.retry_after_missing, 0);
	cr_expect_gt(answered, 1000);
}
