/*
 * test_event.c: validation, aliases, cutting and the frame round trip, from
 * JSON through the real decoder of the JSON API (ingestd/fmt_json.c).
 */
#include "config.h"

#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "event.h"
#include "ingestd.h"
#include "msg.h"

static struct msgb	b;
static struct event	ev;
static struct event_error err;
static char		made[UUID_STR_LEN];	/* the trace_id encode gave */

/*
 * Decode the one JSON object text as kind with the JSON API's decoder and
 * encode it (max_text bytes, key idkey) into b. Returns 0 or -1 with err.
 */
static int
json_encode(enum event_kind kind, const char *text, const unsigned char *idkey,
    size_t max_text, struct msgb *out, char id[UUID_STR_LEN])
{
	struct ingest_fmt	 f = { LS_API, "/", "application/json", kind,
				    &fmt_json };
	struct event		 e;
	struct fmt_info		 info;
	void			*h;
	int			 r = -1;

	h = fmt_json.open(&f, NULL, text, strlen(text), &info, &err);
	cr_assert_not_null(h, "test JSON: %s", err.msg);
	cr_assert_eq(info.n, 1);
	if (fmt_json.item(h, 0, NULL, &e, &err) == 0) {
		e.received_at = 1700000000000;
		r = event_encode(&e, idkey, id, max_text, 7, out, &err);
	}
	fmt_json.close(h);
	return r;
}

/* Encode json text as kind (max_text bytes), decode it into ev. */
static int
enc(enum event_kind kind, const char *text, size_t max_text)
{
	struct msg	 m;
	size_t		 framelen;

	if (json_encode(kind, text, NULL, max_text, &b, made) == -1)
		return -1;
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &framelen), 1);
	cr_assert_eq(m.seq, 7);
	cr_assert_eq(m.type, MSG_EVENT_ADD);
	cr_assert_eq(event_decode(&m, &ev), 0);
	return 0;
}

/* The value of field name of the decoded event. */
static struct event_value *
val(const char *name)
{
	const struct event_def *d = &event_defs[ev.kind];
	size_t i;

	for (i = 0; i < d->nfields; i++)
		if (strcmp(d->fields[i].name, name) == 0)
			return &ev.v[i];
	cr_assert_fail("no field %s", name);
	return NULL;
}

static void
fini(void)
{
	msg_free(&b);
}

TestSuite(event, .fini = fini);

Test(event, trace_every_field)
{
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"gpt-4o\",\"provider\":\"openai\","
	    "\"operation\":\"chat\",\"input\":\"hi\",\"output\":\"hello\","
	    "\"prompt_tokens\":3,\"completion_tokens\":5,\"total_tokens\":8,"
	    "\"latency_ms\":12.5,\"cost_usd\":0.001,\"status\":\"error\","
	    "\"error_message\":\"bad\",\"started_at\":\"2026-11-22T10:00:00Z\","
	    "\"session_id\":\"s1\",\"user_id\":\"u1\",\"event_id\":\"e1\"}", 1000),
	    0, "%s", err.msg);
	cr_assert_str_eq(ev.trace_id, made);
	cr_assert_str_eq(ev.event_id, "e1");
	cr_assert_eq(ev.received_at, 1700000000000);
	cr_assert_eq(ev.truncated, 0);
	cr_assert_null(ev.attributes);
	cr_assert_str_eq(val("model")->s, "gpt-4o");
	cr_assert_str_eq(val("provider")->s, "openai");
	cr_assert_str_eq(val("operation")->s, "chat");
	cr_assert_str_eq(val("input")->s, "hi");
	cr_assert_str_eq(val("output")->s, "hello");
	cr_assert_eq(val("prompt_tokens")->i, 3);
	cr_assert_eq(val("completion_tokens")->i, 5);
	cr_assert_eq(val("total_tokens")->i, 8);
	cr_assert_float_eq(val("latency_ms")->r, 12.5, 1e-9);
	cr_assert_float_eq(val("cost_usd")->r, 0.001, 1e-12);
	cr_assert_str_eq(val("status")->s, "error");
	cr_assert_str_eq(val("error_message")->s, "bad");
	cr_assert_eq(val("started_at")->i, 1795341600000LL);
	cr_assert_str_eq(val("session_id")->s, "s1");
	cr_assert_str_eq(val("user_id")->s, "u1");
}

Test(event, defaults_and_absent_fields)
{
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"m\",\"provider\":null}", 100), 0);
	cr_assert_str_eq(val("status")->s, "ok");
	cr_assert_eq(val("provider")->tag, V_NULL);
	cr_assert_eq(val("prompt_tokens")->tag, V_NULL);
	cr_assert_null(ev.event_id);
	cr_assert_eq(enc(EV_ERROR, "{\"message\":\"x\"}", 100), 0);
	cr_assert_str_eq(val("level")->s, "error");
	cr_assert_eq(enc(EV_METRIC, "{\"name\":\"n\",\"value\":-1.5}", 100), 0);
	cr_assert_str_eq(val("kind")->s, "gauge");
	cr_assert_float_eq(val("value")->r, -1.5, 0);
}

Test(event, opentelemetry_aliases)
{
	cr_assert_eq(enc(EV_TRACE, "{\"gen_ai.request.model\":\"claude\","
	    "\"gen_ai.system\":\"anthropic\",\"gen_ai.operation.name\":\"chat\","
	    "\"gen_ai.usage.input_tokens\":10,"
	    "\"gen_ai.usage.output_tokens\":20}", 100), 0, "%s", err.msg);
	cr_assert_str_eq(val("model")->s, "claude");
	cr_assert_str_eq(val("provider")->s, "anthropic");
	cr_assert_str_eq(val("operation")->s, "chat");
	cr_assert_eq(val("prompt_tokens")->i, 10);
	cr_assert_eq(val("completion_tokens")->i, 20);
	cr_assert_null(ev.attributes, "aliases are not attributes");
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"m\","
	    "\"gen_ai.provider.name\":\"p\"}", 100), 0);
	cr_assert_str_eq(val("provider")->s, "p");
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"canonical\","
	    "\"gen_ai.request.model\":\"alias\"}", 100), 0);
	cr_assert_str_eq(val("model")->s, "canonical", "the canonical name wins");
	cr_assert_eq(enc(EV_TRACE, "{\"gen_ai.request.model\":\"alias\","
	    "\"model\":\"canonical\"}", 100), 0);
	cr_assert_str_eq(val("model")->s, "canonical", "whatever the order");
}

Test(event, unknown_fields_become_attributes_and_explicit_wins)
{
	json_t *a;

	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"m\",\"team\":\"x\",\"n\":1,"
	    "\"attributes\":{\"team\":\"y\",\"k\":[1]}}", 100), 0);
	a = json_loads(ev.attributes, 0, NULL);
	cr_assert_not_null(a);
	cr_assert_str_eq(json_string_value(json_object_get(a, "team")), "y");
	cr_assert_eq(json_integer_value(json_object_get(a, "n")), 1);
	cr_assert(json_is_array(json_object_get(a, "k")));
	json_decref(a);
}

Test(event, errors_name_the_field)
{
	static const struct {
		enum event_kind kind;
		const char *json, *field, *msg;
	} cases[] = {
		{ EV_TRACE, "{}", "model", "missing required field model" },
		{ EV_TRACE, "{\"model\":null}", "model",
		    "missing required field model" },
		{ EV_TRACE, "{\"model\":5}", "model", "model must be a string" },
		{ EV_TRACE, "{\"model\":\"m\",\"prompt_tokens\":-1}",
		    "prompt_tokens", "prompt_tokens must be an integer >= 0" },
		{ EV_TRACE, "{\"model\":\"m\",\"total_tokens\":1.5}",
		    "total_tokens", "total_tokens must be an integer >= 0" },
		{ EV_TRACE, "{\"model\":\"m\",\"latency_ms\":-2}", "latency_ms",
		    "latency_ms must be a number >= 0" },
		{ EV_TRACE, "{\"model\":\"m\",\"cost_usd\":\"1\"}", "cost_usd",
		    "cost_usd must be a number >= 0" },
		{ EV_TRACE, "{\"model\":\"m\",\"status\":\"fine\"}", "status",
		    "status must be one of ok, error" },
		{ EV_TRACE, "{\"model\":\"m\",\"started_at\":\"yesterday\"}",
		    "started_at",
		    "started_at must be an RFC 3339 time or a Unix time in "
		    "seconds or milliseconds" },
		{ EV_TRACE, "{\"model\":\"m\",\"started_at\":1e300}",
		    "started_at", "started_at must be an RFC 3339 time or a Unix "
		    "time in seconds or milliseconds" },
		{ EV_TRACE, "{\"model\":\"m\",\"attributes\":[]}", "attributes",
		    "attributes must be an object" },
		{ EV_TRACE, "{\"model\":\"m\",\"event_id\":7}", "event_id",
		    "event_id must be a string of 1 to 128 bytes" },
		{ EV_TRACE, "{\"gen_ai.usage.input_tokens\":-3,\"model\":\"m\"}",
		    "gen_ai.usage.input_tokens",
		    "gen_ai.usage.input_tokens must be an integer >= 0" },
		{ EV_ERROR, "{\"type\":\"x\"}", "message",
		    "missing required field message" },
		{ EV_ERROR, "{\"message\":\"m\",\"level\":\"critical\"}", "level",
		    "level must be one of debug, info, warning, error, fatal" },
		{ EV_METRIC, "{\"name\":\"n\"}", "value",
		    "missing required field value" },
		{ EV_METRIC, "{\"name\":\"n\",\"value\":\"1\"}", "value",
		    "value must be a number" },
		{ EV_METRIC, "{\"name\":\"n\",\"value\":1,\"kind\":\"histogram\"}",
		    "kind", "kind must be one of gauge, counter" },
		{ EV_METRIC, "{\"name\":\"n\",\"value\":1,\"labels\":{\"a\":1}}",
		    "labels", "labels must be an object of strings" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(enc(cases[i].kind, cases[i].json, 100), -1,
		    "case %zu accepted", i);
		cr_assert_str_eq(err.msg, cases[i].msg, "case %zu", i);
		cr_assert_str_eq(err.field, cases[i].field, "case %zu", i);
	}
}

Test(event, event_id_length)
{
	char	json[400], id[200];

	memset(id, 'a', 128);
	id[128] = '\0';
	snprintf(json, sizeof(json), "{\"model\":\"m\",\"event_id\":\"%s\"}", id);
	cr_assert_eq(enc(EV_TRACE, json, 100), 0, "128 bytes is fine");
	id[128] = 'a';
	id[129] = '\0';
	snprintf(json, sizeof(json), "{\"model\":\"m\",\"event_id\":\"%s\"}", id);
	cr_assert_eq(enc(EV_TRACE, json, 100), -1, "129 is not");
}

/* Text fields are cut on a UTF-8 boundary and the row says so. */
Test(event, cutting_text_fields)
{
	/* "é" is 2 bytes: 7 of them are 14 bytes; a 9-byte limit keeps 4. */
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"m\",\"input\":\"ééééééé\","
	    "\"output\":\"short\",\"error_message\":\"€€€€\"}", 9), 0);
	cr_assert_str_eq(val("input")->s, "éééé");
	cr_assert_eq(val("input")->len, 8);
	cr_assert_str_eq(val("output")->s, "short");
	cr_assert_str_eq(val("error_message")->s, "€€€", "3-byte sequences");
	cr_assert_eq(ev.truncated, 1);
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"mmmmmmmmmmmmmmmmmmmm\"}", 9), 0);
	cr_assert_eq(ev.truncated, 0, "model is not a text field");
	cr_assert_eq(enc(EV_ERROR, "{\"message\":\"0123456789\","
	    "\"stack\":\"ab\"}", 4), 0);
	cr_assert_str_eq(val("message")->s, "0123");
	cr_assert_eq(ev.truncated, 1);
}

Test(event, input_as_json_is_stored_as_its_text)
{
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"m\",\"input\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}],\"output\":{\"a\":1}}", 1000), 0);
	cr_assert_str_eq(val("input")->s,
	    "[{\"role\":\"user\",\"content\":\"hi\"}]");
	cr_assert_str_eq(val("output")->s, "{\"a\":1}");
	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"m\",\"input\":[1,2,3,4,5]}", 6),
	    0);
	cr_assert_str_eq(val("input")->s, "[1,2,3");
	cr_assert_eq(ev.truncated, 1);
}

Test(event, metric_labels_and_times)
{
	cr_assert_eq(enc(EV_METRIC, "{\"name\":\"q\",\"value\":3,\"unit\":\"s\","
	    "\"kind\":\"counter\",\"labels\":{\"a\":\"b\"},\"ts\":1700000000123}",
	    100), 0);
	cr_assert_str_eq(val("labels")->s, "{\"a\":\"b\"}");
	cr_assert_eq(val("ts")->i, 1700000000123LL);
	cr_assert_str_eq(val("kind")->s, "counter");
}

Test(event, rfc3339)
{
	int64_t ms;

	cr_assert_eq(event_parse_time("1970-01-01T00:00:00Z", &ms), 0);
	cr_assert_eq(ms, 0);
	cr_assert_eq(event_parse_time("2026-11-22T10:00:00.123Z", &ms), 0);
	cr_assert_eq(ms, 1795341600123LL);
	cr_assert_eq(event_parse_time("2026-11-22t12:00:00.1+02:00", &ms), 0);
	cr_assert_eq(ms, 1795341600100LL);
	cr_assert_eq(event_parse_time("2026-11-22 05:30:00-04:30", &ms), 0);
	cr_assert_eq(ms, 1795341600000LL);
	cr_assert_eq(event_parse_time("2026-11-22T10:00:00.123456789z", &ms), 0);
	cr_assert_eq(ms, 1795341600123LL);
	cr_assert_eq(event_parse_time("2026-11-22T10:00:00", &ms), -1);
	cr_assert_eq(event_parse_time("2026-13-22T10:00:00Z", &ms), -1);
	cr_assert_eq(event_parse_time("2026-11-22T25:00:00Z", &ms), -1);
	cr_assert_eq(event_parse_time("2026-11-22T10:00:00.Z", &ms), -1);
	cr_assert_eq(event_parse_time("2026-11-22T10:00:00+0200", &ms), -1);
	cr_assert_eq(event_parse_time("2026-11-22T10:00:00Zjunk", &ms), -1);
	cr_assert_eq(event_parse_time("", &ms), -1);
}

Test(event, a_frame_cut_short_does_not_decode)
{
	struct msg	m;
	size_t		framelen;

	cr_assert_eq(enc(EV_TRACE, "{\"model\":\"m\"}", 10), 0);
	b.buf[4 + 3] -= 1;	/* length one short */
	cr_assert_eq(msg_parse(b.buf, b.len - 1, &m, &framelen), 1);
	cr_assert_eq(event_decode(&m, &ev), -1);
}

/* SPEC 4: a number below 10^11 is Unix seconds, else Unix milliseconds. */
Test(event, numeric_times_in_seconds_or_milliseconds)
{
	static const struct {
		const char	*ts;
		long long	 ms;
	} cases[] = {
		{ "1796500000.123", 1796500000123LL },	/* time.time() */
		{ "1796500000", 1796500000000LL },
		{ "1796500000.0004", 1796500000000LL },	/* nearest ms */
		{ "1796500000.9996", 1796500001000LL },
		{ "99999999999", 99999999999000LL },	/* just below 10^11 */
		{ "100000000000", 100000000000LL },	/* 10^11: ms */
		{ "1796500000123", 1796500000123LL },
		{ "1796500000123.6", 1796500000124LL },
		{ "0", 0 },
	};
	char	json[200];
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{\"name\":\"n\",\"value\":1,"
		    "\"ts\":%s}", cases[i].ts);
		cr_assert_eq(enc(EV_METRIC, json, 100), 0, "%s", err.msg);
		cr_assert_eq(val("ts")->i, cases[i].ms, "%s: %lld", cases[i].ts,
		    (long long)val("ts")->i);
	}
}

/* With a key, an event_id gives one UUID v4 per (type, event_id). */
Test(event, an_event_id_derives_its_trace_id)
{
	unsigned char	key[EVENT_IDKEY_BYTES] = { 1 }, other[EVENT_IDKEY_BYTES];
	char		a[UUID_STR_LEN], c[UUID_STR_LEN];
	const char	*o = "{\"model\":\"m\",\"event_id\":\"e1\"}";
	struct msgb	 x = { 0 };

	memset(other, 2, sizeof(other));
	cr_assert_eq(json_encode(EV_TRACE, o, key, 100, &x, a), 0);
	msg_free(&x);
	cr_assert_eq(strlen(a), 36);
	cr_assert_eq(a[14], '4');
	cr_assert(strchr("89ab", a[19]) != NULL, "%s", a);
	event_trace_id(EV_TRACE, "e1", key, c);
	cr_assert_str_eq(a, c, "the same inputs, the same id");
	event_trace_id(EV_ERROR, "e1", key, c);
	cr_assert_str_neq(a, c, "another type, another id");
	event_trace_id(EV_TRACE, "e2", key, c);
	cr_assert_str_neq(a, c);
	event_trace_id(EV_TRACE, "e1", other, c);
	cr_assert_str_neq(a, c, "another key, another id");
	o = "{\"model\":\"m\"}";
	cr_assert_eq(json_encode(EV_TRACE, o, key, 100, &x, a), 0);
	msg_free(&x);
	cr_assert_eq(json_encode(EV_TRACE, o, key, 100, &x, c), 0);
	msg_free(&x);
	cr_assert_str_neq(a, c, "without event_id, random ids");
	cr_assert_eq(a[14], '4');
}
