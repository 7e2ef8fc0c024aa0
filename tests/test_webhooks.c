/*
 * test_webhooks.c: pushes as a Standard Webhooks library sees them. octd
 * pushes real events to tests/webhook_receiver.mjs, a Node.js collector
 * that inflates the gzip body (as a framework does) and calls the npm
 * standardwebhooks package's plain new Webhook(secret).verify(payload,
 * headers): the v1 HMAC signature, with push_hmac_secret set.
 *
 * The package is found in $OCT_NODE_MODULES (scripts/check and .ci/run
 * set it), else in $OCT_SRCDIR/build/npm/node_modules; scripts/bootstrap
 * installs it there. Missing, the tests fail and say so.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"

static struct octd_run	run;
static pid_t		node;
static int		node_port;
static char		outfile[600], modules[4096];

static void
setup(void)
{
	cr_assert(sodium_init() >= 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	if (node > 0) {
		kill(node, SIGKILL);
		waitpid(node, NULL, 0);
	}
	harness_teardown(&run);
}

TestSuite(webhooks, .init = setup, .fini = teardown, .timeout = 60);

/* Where the npm packages are; fails the test, saying why, when absent. */
static void
find_modules(void)
{
	harness_node_modules("standardwebhooks/package.json", "the npm package standardwebhooks is", modules,
	    sizeof(modules));
}

static int
port_answers(void *arg)
{
	struct sockaddr_in	sin;
	int			fd, ok;

	(void)arg;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)node_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok || waitpid(node, NULL, WNOHANG) == node;
}

/* Start the Node.js collector with secret; its output in run.dir. */
static void
node_start(const char *secret)
{
	const char	*src = getenv("OCT_SRCDIR");
	char		 script[4200], port[16], log[600], *text;
	int		 status;

	find_modules();
	snprintf(script, sizeof(script), "%s/tests/webhook_receiver.mjs",
	    src != NULL ? src : "..");
	snprintf(outfile, sizeof(outfile), "%s/verified.txt", run.dir);
	snprintf(log, sizeof(log), "%s/node.log", run.dir);
	snprintf(port, sizeof(port), "%d", node_port);
	node = fork();
	cr_assert(node != -1);
	if (node == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (freopen(log, "w", stdout) == NULL ||
		    dup2(fileno(stdout), STDERR_FILENO) == -1)
			_exit(126);
		execlp("node", "node", script, modules, port, secret, outfile,
		    (char *)NULL);
		fprintf(stderr, "node: not found: run scripts/bootstrap\n");
		_exit(127);
	}
	cr_assert(harness_wait(port_answers, NULL, 15000), "node not up");
	if (waitpid(node, &status, WNOHANG) == node) {
		node = 0;
		text = harness_slurp(log);
		cr_assert_fail("the Node.js collector exited: %s", text);
	}
}

/* whsec_ and the base64 of 24 random bytes. */
static void
new_secret(char *out, size_t len)
{
	unsigned char key[24];

	randombytes_buf(key, sizeof(key));
	memcpy(out, "whsec_", 6);
	sodium_bin2base64(out + 6, len - 6, key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
}

/*
 * octd set to push to the Node.js collector, signing v1 with secret, and
 * the collector started with collector_secret; then octd started.
 */
static void
start(const char *secret, const char *collector_secret)
{
	char conf[1024];

	node_port = harness_free_port();
	snprintf(conf, sizeof(conf), "push_url = http://127.0.0.1:%d/hook\n"
	    "push_hmac_secret = %s\npush_interval_ms = 100\n"
	    "push_backoff_base_ms = 100\npush_backoff_cap_ms = 1500\n",
	    node_port, secret);
	harness_setup(&run, conf);
	node_start(collector_secret);
	harness_start(&run);
}

/* The trace_id octd answered a post with. */
static void
post(const char *path, const char *body, char *trace_id, size_t len)
{
	struct http_res	 r;
	json_t		*o;

	cr_assert_eq(http_post(run.port, path, body, &r), 0);
	cr_assert_eq(r.status, 202, "%s", r.body);
	o = json_loads(r.body, 0, NULL);
	snprintf(trace_id, len, "%s", json_string_value(json_array_get(
	    json_object_get(o, "trace_ids"), 0)));
	json_decref(o);
}

static int
verified_and_synced(void *arg)
{
	int	want = *(int *)arg;

	return harness_count(outfile, "verified ") == want &&
	    db_int(&run, "SELECT (SELECT count(*) FROM llm_traces WHERE "
	    "synced_at IS NOT NULL) + (SELECT count(*) FROM error_events WHERE "
	    "synced_at IS NOT NULL) + (SELECT count(*) FROM system_metrics "
	    "WHERE synced_at IS NOT NULL)") == want;
}

Test(webhooks, standardwebhooks_verifies_every_push)
{
	char	secret[64], ids[3][64], line[200], *text;
	int	three = 3, i;

	new_secret(secret, sizeof(secret));
	start(secret, secret);
	post("/v1/traces", "{\"model\":\"gpt-4o\",\"input\":\"hi\"}", ids[0],
	    sizeof(ids[0]));
	post("/v1/errors", "{\"message\":\"boom\"}", ids[1], sizeof(ids[1]));
	post("/v1/metrics", "{\"name\":\"n\",\"value\":1.5}", ids[2],
	    sizeof(ids[2]));
	cr_assert(harness_wait(verified_and_synced, &three, 20000),
	    "verified by standardwebhooks: %s", harness_slurp(outfile));
	text = harness_slurp(outfile);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "refused") == NULL, "%s", text);
	for (i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), " %s\n", ids[i]);
		cr_assert(strstr(text, line), "%s not verified: %s", ids[i],
		    text);
	}
	free(text);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM push_state WHERE "
	    "last_error IS NULL AND last_success_at > 0"), 1);
}

static int
refused_and_recorded(void *arg)
{
	(void)arg;
	return harness_count(outfile, "refused No matching signature found")
	    >= 3 && db_int(&run, "SELECT count(*) FROM push_state WHERE "
	    "last_error LIKE 'HTTP 400%No matching signature found%'") == 1;
}

/*
 * A collector with another secret answers 400 to everything: it is at
 * fault, not the events, which stay pending, uncharged.
 */
Test(webhooks, another_secret_is_refused_and_no_event_goes_dead)
{
	char secret[64], other[64], id[64], *text;

	new_secret(secret, sizeof(secret));
	new_secret(other, sizeof(other));
	start(secret, other);
	post("/v1/traces", "{\"model\":\"m\"}", id, sizeof(id));
	post("/v1/traces", "{\"model\":\"m\"}", id, sizeof(id));
	cr_assert(harness_wait(refused_and_recorded, NULL, 20000), "%s",
	    (text = harness_slurp(outfile)) != NULL ? text : "nothing");
	cr_assert_eq(harness_count(outfile, "verified "), 0);
	cr_assert_eq(db_int(&run, "SELECT count(*) FROM llm_traces WHERE "
	    "dead = 0 AND push_attempts = 0 AND synced_at IS NULL"), 2);
}
