/*
 * seeds.c: writes the seed corpora of the fuzz targets, from what the
 * suites send (tests/test_msg.c's frames, tests/test_event.c's events,
 * tests/test_receiver.c's envelopes, tests/test_otlp*.c's OTLP bodies),
 * into DIR/msg, DIR/event, DIR/otlp, DIR/receiver, DIR/retry_after and
 * DIR/conf (tests/fuzz/run adds the tests/config files there). Run at each
 * fuzz run: nothing is kept in the tree.
 *
 *   seeds DIR
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>
#include <zlib.h>

#include "conf.h"
#include "event.h"
#include "fuzz.h"
#include "ingestd.h"
#include "msg.h"
#include "otlp.h"

static const char	*dir;
static int		 nseeds;

static void
put(const char *target, const char *name, const void *p, size_t len)
{
	char	 path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	nseeds++;
}

static void
put_frame(const char *name, struct msgb *b)
{
	if (msg_close(b) == -1) {
		fprintf(stderr, "seeds: frame %s refused\n", name);
		exit(1);
	}
	put("msg", name, b->buf, b->len);
}

/* One frame of each type, as the workers build them. */
static void
frames(void)
{
	struct msgb	b;

	memset(&b, 0, sizeof(b));
	msg_init(&b, MSG_CTL_CONFIG, 1);
	msg_add_str(&b, "listen = \"127.0.0.1:7411\"\n");
	put_frame("ctl-config", &b);
	msg_init(&b, MSG_CTL_PONG, 2);
	msg_add_u64(&b, 42);
	put_frame("ctl-pong", &b);
	msg_init(&b, MSG_CTL_STATS, 3);
	msg_add_u32(&b, 2);
	msg_add_str(&b, "events_stored");
	msg_add_u64(&b, 7);
	msg_add_str(&b, "queue_depth");
	msg_add_u64(&b, 0);
	put_frame("ctl-stats", &b);
	msg_init(&b, MSG_CTL_PUSH, 4);
	msg_add_u8(&b, 1);
	msg_add_i64(&b, 500);
	msg_add_u8(&b, 0);
	put_frame("ctl-push", &b);
	msg_init(&b, MSG_CTL_PUSH_REPORT, 5);
	msg_add_u8(&b, 1);
	msg_add_str(&b, "{\"pushed\":3}");
	put_frame("ctl-push-report", &b);
	msg_init(&b, MSG_EVENT_HELLO, 6);
	msg_add_str(&b, "stream-1");
	put_frame("event-hello", &b);
	msg_init(&b, MSG_EVENT_COMMITTED, 7);
	put_frame("event-committed", &b);
	msg_init(&b, MSG_MARK_SYNCED, 8);
	msg_add_str(&b, "db-1");
	msg_add_str(&b, "batch-1");
	msg_add_i64(&b, FUZZ_NOW * 1000);
	msg_add_u32(&b, 2);
	msg_add_u8(&b, EV_TRACE);
	msg_add_i64(&b, 1);
	msg_add_u8(&b, EV_ERROR);
	msg_add_i64(&b, 2);
	put_frame("mark-synced", &b);
	msg_init(&b, MSG_MARK_FAILED, 9);
	msg_add_str(&b, "db-1");
	msg_add_str(&b, "batch-2");
	msg_add_i64(&b, FUZZ_NOW * 1000 + 500);
	msg_add_str(&b, "HTTP 503");
	msg_add_u8(&b, 1);
	msg_add_i64(&b, 10);
	msg_add_i64(&b, FUZZ_NOW * 1000 + 86400000);
	msg_add_u32(&b, 1);
	msg_add_u8(&b, EV_METRIC);
	msg_add_i64(&b, 3);
	put_frame("mark-failed", &b);
	msg_init(&b, MSG_MARK_DEAD, 10);
	msg_add_str(&b, "db-1");
	msg_add_u32(&b, 1);
	msg_add_u8(&b, EV_TRACE);
	msg_add_i64(&b, 4);
	msg_add_str(&b, "HTTP 400");
	put_frame("mark-dead", &b);
	msg_init(&b, MSG_MARK_STATE, 11);
	msg_add_i64(&b, FUZZ_NOW * 1000);
	msg_add_str(&b, NULL);
	put_frame("mark-state", &b);
	msg_free(&b);
}

/* One input of fuzz_event or fuzz_otlp: the flags byte, then body. */
static void
put_bytes(const char *target, const char *name, unsigned flags,
    const void *body, size_t len)
{
	static int	 n;
	char		 file[64];
	uint8_t		*buf;

	if ((buf = malloc(len + 1)) == NULL)
		exit(1);
	buf[0] = (uint8_t)flags;
	memcpy(buf + 1, body, len);
	snprintf(file, sizeof(file), "%s-%d", name, n++);
	put(target, file, buf, len + 1);
	free(buf);
}

static void
put_body(const char *target, const char *name, unsigned flags,
    const char *body)
{
	put_bytes(target, name, flags, body, strlen(body));
}

/* Events as tests/test_event.c encodes them, each an EVENT_ADD frame. */
static void
events(void)
{
	static const struct {
		enum event_kind	 kind;
		const char	*json;
	} evs[] = {
		{ EV_TRACE, "{\"model\":\"gpt-4o\",\"provider\":\"openai\","
		    "\"operation\":\"chat\",\"input\":\"hi\",\"output\":"
		    "\"hello\",\"prompt_tokens\":3,\"completion_tokens\":5,"
		    "\"total_tokens\":8,\"latency_ms\":12.5,\"cost_usd\":0.001,"
		    "\"status\":\"error\",\"error_message\":\"bad\","
		    "\"started_at\":\"2026-11-22T10:00:00Z\",\"session_id\":"
		    "\"s1\",\"user_id\":\"u1\",\"event_id\":\"e1\"}" },
		{ EV_TRACE, "{\"model\":\"m\",\"team\":\"x\",\"n\":1,"
		    "\"attributes\":{\"team\":\"y\",\"k\":[1]}}" },
		{ EV_ERROR, "{\"message\":\"x\"}" },
		{ EV_METRIC, "{\"name\":\"n\",\"value\":-1.5}" },
	};
	struct msgb		b;
	struct event_error	err;
	struct event		e;
	struct fmt_info		info;
	struct ingest_fmt	f = { LS_API, "/", "application/json", EV_TRACE,
				    &fmt_json };
	char			id[UUID_STR_LEN], name[32];
	void			*h;
	size_t			 i;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		/* as ingestd does: the JSON API's decoder, then the encoder */
		f.kind = evs[i].kind;
		if ((h = fmt_json.open(&f, NULL, evs[i].json,
		    strlen(evs[i].json), &info, &err)) == NULL ||
		    fmt_json.item(h, 0, NULL, &e, &err) == -1 ||
		    (e.received_at = FUZZ_NOW * 1000, event_encode(&e, NULL, id,
		    64, i + 1, &b, &err)) == -1) {
			fprintf(stderr, "seeds: event %zu: %s\n", i, err.msg);
			exit(1);
		}
		fmt_json.close(h);
		snprintf(name, sizeof(name), "event-add-%zu", i);
		put("msg", name, b.buf, b.len);
		/* fuzz_event's input: the kind's byte, then the body */
		put_body("event", "body", evs[i].kind == EV_TRACE ? 0 :
		    evs[i].kind == EV_ERROR ? 1 : 2, evs[i].json);
	}
	msg_free(&b);
	put_body("event", "array", 0, "[{\"model\":\"a\",\"event_id\":\"x\"},"
	    "{\"model\":\"b\",\"event_id\":\"x\",\"input\":{\"k\":[1,2.5,"
	    "null,true]},\"labels\":{\"a\":\"b\"}}]");
	put_body("event", "cut-idkey", 4 | 8, "{\"model\":\"m\",\"event_id\":"
	    "\"e1\",\"input\":\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
	    "\u00e9\u00e9\"}");
	put_body("event", "bad-field", 0, "[{\"model\":\"m\"},{\"prompt_tokens"
	    "\":\"x\"}]");
	put_body("event", "deep", 0, "{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}");
	put_body("event", "metric-labels", 2, "{\"name\":\"n\",\"value\":1e400,"
	    "\"labels\":{\"a\":1}}");
}

/* body gzipped (as pushd sends it) into a malloc'd buffer. */
static uint8_t *
gzip(const char *body, size_t *len)
{
	z_stream	 z;
	size_t		 cap = compressBound(strlen(body)) + 64;
	uint8_t		*out = malloc(cap);

	memset(&z, 0, sizeof(z));
	if (out == NULL || deflateInit2(&z, 9, Z_DEFLATED, 31, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		exit(1);
	z.next_in = (Bytef *)(uintptr_t)body;
	z.avail_in = (uInt)strlen(body);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		exit(1);
	*len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* One receiver input (fuzz.h): flags, the four header lines, the body. */
static void
request(const char *name, unsigned flags, const char *id, const char *ts,
    const char *enc, const void *body, size_t len)
{
	char	*head, *buf;
	int	 hlen;

	if ((hlen = asprintf(&head, "%c%s\n%s\nv1,aGVsbG8=\n%s\n", flags, id,
	    ts, enc)) == -1 || (buf = malloc((size_t)hlen + len)) == NULL)
		exit(1);
	memcpy(buf, head, (size_t)hlen);
	memcpy(buf + hlen, body, len);
	put("receiver", name, buf, (size_t)hlen + len);
	free(buf);
	free(head);
}

#define EV(t)	"{\"type\":\"llm_trace\",\"trace_id\":\"" t "\"," \
		"\"received_at\":1,\"data\":{\"trace_id\":\"" t "\"," \
		"\"model\":\"m\"}}"
#define ENV(id, events) "{\"agent\":{\"id\":\"agent-1\",\"host\":\"h\"," \
		"\"version\":\"0.1.0\"},\"batch_id\":\"" id "\"," \
		"\"sent_at\":1,\"events\":[" events "]}"

/* Pushes as tests/test_receiver.c sends them, good and bad. */
static void
requests(void)
{
	static const char good[] = ENV("b1", EV("t1") "," EV("t2"));
	static const char mixed[] = ENV("b1", EV("good") ","
	    "{\"type\":\"nonsense\",\"trace_id\":\"x1\",\"data\":{}},"
	    "{\"type\":\"llm_trace\",\"data\":{}},"
	    "{\"type\":\"error_event\",\"trace_id\":\"x3\"}");
	const unsigned all = FR_POST | FR_ID | FR_TS | FR_SIG | FR_SIGN;
	char	 ts[32], old[32];
	uint8_t	*z;
	size_t	 zlen;

	snprintf(ts, sizeof(ts), "%lld", FUZZ_NOW);
	snprintf(old, sizeof(old), "%lld", FUZZ_NOW - 3600);
	request("signed", all, "b1", ts, "", good, strlen(good));
	request("signed-rejects", all, "b1", ts, "", mixed, strlen(mixed));
	request("signed-other-batch", all, "b9", ts, "", good, strlen(good));
	request("signed-not-json", all, "b1", ts, "", "[1,2]", 5);
	request("unsigned", all & ~FR_SIGN, "b1", ts, "", good, strlen(good));
	request("no-headers", FR_POST, "b1", ts, "", good, strlen(good));
	request("old", all, "b1", old, "", good, strlen(good));
	request("get", all & ~FR_POST, "b1", ts, "", good, strlen(good));
	request("brotli", all | FR_ENC, "b1", ts, "br", good, strlen(good));
	z = gzip(good, &zlen);
	request("signed-gzip", all | FR_ENC, "b1", ts, "gzip", z, zlen);
	request("gzip-cut", all | FR_ENC, "b1", ts, "gzip", z, zlen / 2);
	free(z);
	z = gzip(mixed, &zlen);
	request("signed-gzip-rejects", all | FR_ENC, "b1", ts, "GZIP", z,
	    zlen);
	free(z);
}

#define KV(k, v)	"{\"key\":\"" k "\",\"value\":{" v "}}"
#define STR(s)		"\"stringValue\":\"" s "\""

/*
 * OTLP bodies as tests/test_otlp.c and test_otlp_push.c send them, each
 * in OTLP JSON and, read by otlp_json.c and packed again, in protobuf.
 */
static void
otlp(void)
{
	static const struct {
		unsigned	 sig;	/* fuzz_otlp's low bits */
		const char	*json;
	} bodies[] = {
		{ 0, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
		    KV("service.name", STR("shop")) "]},\"scopeSpans\":[{"
		    "\"scope\":{\"name\":\"app-llm\"},\"spans\":[{"
		    "\"traceId\":\"5b8efff798038103d269b633813fc60c\","
		    "\"spanId\":\"eee19b7ec3c1b174\",\"parentSpanId\":"
		    "\"eee19b7ec3c1b173\",\"name\":\"chat claude\",\"kind\":3,"
		    "\"startTimeUnixNano\":\"1700000000000000000\","
		    "\"endTimeUnixNano\":\"1700000001000000000\",\"attributes\":["
		    KV("gen_ai.request.model", STR("claude-x")) ","
		    KV("gen_ai.operation.name", STR("chat")) ","
		    KV("gen_ai.usage.input_tokens", "\"intValue\":\"3\"") ","
		    KV("gen_ai.usage.output_tokens", "\"intValue\":5") "],"
		    "\"events\":[{\"name\":\"exception\",\"timeUnixNano\":"
		    "\"1700000000500000000\",\"attributes\":["
		    KV("exception.type", STR("Timeout")) ","
		    KV("exception.message", STR("slow")) "]}],"
		    "\"status\":{\"code\":2,\"message\":\"bad\"}}]}]}]}" },
		{ 0, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
		    "\"name\":\"GET /\",\"kind\":2},{\"name\":\"llm\","
		    "\"attributes\":[" KV("openinference.span.kind", STR("LLM"))
		    "," KV("llm.model_name", STR("gpt-4o")) ","
		    KV("llm.token_count.prompt", "\"intValue\":\"7\"") ","
		    KV("input.value", STR("hi")) ","
		    KV("llm.invocation_parameters", "\"kvlistValue\":{\"values\":"
		    "[" KV("t", "\"doubleValue\":0.5") "]}") "]}]}]}]}" },
		{ 2, "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{"
		    "\"timeUnixNano\":\"1700000000000000000\",\"severityNumber\""
		    ":17,\"severityText\":\"ERROR\",\"body\":{" STR("boom") "},"
		    "\"attributes\":[" KV("exception.type", STR("E")) "],"
		    "\"traceId\":\"5b8efff798038103d269b633813fc60c\"},{"
		    "\"severityNumber\":9,\"body\":{\"arrayValue\":{\"values\":"
		    "[{\"boolValue\":true}]}}}]}]}]}" },
		{ 1, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{"
		    "\"name\":\"gen_ai.client.token.usage\",\"unit\":\"{token}\","
		    "\"histogram\":{\"dataPoints\":[{\"count\":\"2\",\"sum\":7,"
		    "\"bucketCounts\":[\"1\",\"1\"],\"explicitBounds\":[4],"
		    "\"timeUnixNano\":\"1700000000000000000\",\"attributes\":["
		    KV("gen_ai.request.model", STR("m")) "]}]}},{\"name\":"
		    "\"gen_ai.x\",\"gauge\":{\"dataPoints\":[{\"asDouble\":1.5}]}},"
		    "{\"name\":\"http.requests\",\"sum\":{\"isMonotonic\":true,"
		    "\"aggregationTemporality\":2,\"dataPoints\":[{\"asInt\":\"4"
		    "\"}]}},{\"name\":\"gen_ai.y\",\"summary\":{\"dataPoints\":"
		    "[{}]}}]}]}]}" },
	};
	static const ProtobufCMessageDescriptor *const req[] = {
		&otlp__export_trace_service_request__descriptor,
		&otlp__export_metrics_service_request__descriptor,
		&otlp__export_logs_service_request__descriptor,
	};
	struct event_error	 err;
	ProtobufCMessage	*m;
	uint8_t			*pb;
	size_t			 i, len;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		put_body("otlp", "json", 4 | bodies[i].sig, bodies[i].json);
		if (bodies[i].sig == 1)
			put_body("otlp", "json-all", 4 | 8 | 1, bodies[i].json);
		if ((m = otlp_json_read(req[bodies[i].sig], bodies[i].json,
		    strlen(bodies[i].json), &err)) == NULL) {
			fprintf(stderr, "seeds: OTLP body %zu: %s\n", i,
			    err.msg);
			exit(1);
		}
		len = protobuf_c_message_get_packed_size(m);
		if ((pb = malloc(len + 1)) == NULL)
			exit(1);
		protobuf_c_message_pack(m, pb);
		put_bytes("otlp", "pb", bodies[i].sig, pb, len);
		free(pb);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	put_body("otlp", "json-empty", 4, "{}");
	put_body("otlp", "json-dup", 4, "{\"resourceSpans\":7,"
	    "\"resourceSpans\":[]}");
}

static void
retry_after(void)
{
	static const char *const v[] = { "120", "0", "-1", "99999999999",
	    "Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Dec 2026 14:00:00 GMT",
	    "5 ", "soon" };
	char	name[16];
	size_t	i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(name, sizeof(name), "v%zu", i);
		put("retry_after", name, v[i], strlen(v[i]));
	}
}

/* The defaults as octd sends them to a worker. */
static void
conf_seed(void)
{
	struct conf	 c;
	char		 err[512], *dump, big[4080];
	size_t		 i;

	if (conf_load_text(&c, "", err, sizeof(err)) == -1 ||
	    (dump = conf_dump(&c)) == NULL) {
		fprintf(stderr, "seeds: conf: %s\n", err);
		exit(1);
	}
	put("conf", "dump-defaults", dump, strlen(dump));
	free(dump);
	conf_free(&c);
	/* near the length limit, and a last line ending in a lone CR */
	memset(big, 'a', sizeof(big));
	memcpy(big, "data_dir = ", 11);
	put("conf", "long-path", big, sizeof(big));
	memset(big, '"', sizeof(big));
	memcpy(big, "user = \"", 8);
	for (i = 8; i + 2 < sizeof(big); i += 2)
		big[i] = '\\';
	put("conf", "long-escapes", big, sizeof(big));
	put("conf", "lone-cr", "batch_ms = 2s\r\nbatch_max = 7\r", 29);
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	frames();
	events();
	otlp();
	requests();
	retry_after();
	conf_seed();
	printf("seeds: %d written in %s\n", nseeds, dir);
	return 0;
}
