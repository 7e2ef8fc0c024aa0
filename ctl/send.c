/*
 * send.c: octctl send trace|error|metric JSON: post one event to the
 * local daemon, for trying it out; octctl send otlp-traces|otlp-logs|
 * otlp-metrics JSON: post an OTLP JSON request to otlp_listen, as an
 * OpenTelemetry exporter would. Prints the daemon's answer; exit 0 on
 * 2xx, 1 otherwise.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "conf.h"
#include "ctl.h"

/*
 * send trace|error|metric JSON: POST argv[2] as is to listen (a
 * wildcard address becomes loopback) with the auth_token, if any.
 * Returns 0 on a 2xx answer, 1 on another answer or none, 2 on a bad
 * argument; the daemon's answer body goes to standard output as curl
 * writes it.
 */
int
cmd_send(struct ctl *c, int argc, char **argv)
{
	static const struct { const char *type, *path; int otlp; } types[] = {
		{ "trace", "/v1/traces", 0 }, { "error", "/v1/errors", 0 },
		{ "metric", "/v1/metrics", 0 },
		{ "otlp-traces", "/v1/traces", 1 }, { "otlp-logs", "/v1/logs", 1 },
		{ "otlp-metrics", "/v1/metrics", 1 },
	};
	struct curl_slist	*h = NULL;
	char			 host[64], url[256], auth[1024];
	const char		*path = NULL, *addr = c->conf.listen;
	long			 status = 0;
	CURL			*e;
	CURLcode		 rc;
	int			 port;
	size_t			 i;

	if (argc != 3)
		ctl_usage();
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(argv[1], types[i].type) == 0) {
			path = types[i].path;
			if (types[i].otlp)
				addr = c->conf.otlp_listen;
		}
	if (path == NULL) {
		fprintf(stderr, "octctl: send takes trace, error, metric, "
		    "otlp-traces, otlp-logs or otlp-metrics, not %s\n",
		    argv[1]);
		return 2;
	}
	if (*addr == '\0') {
		fprintf(stderr, "octctl: otlp_listen is empty: OTLP ingest is "
		    "off\n");
		return 1;
	}
	if (conf_parse_addr(addr, host, sizeof(host), &port) == -1)
		return 2;
	if (strcmp(host, "0.0.0.0") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (strcmp(host, "::") == 0)
		snprintf(host, sizeof(host), "::1");
	snprintf(url, sizeof(url), strchr(host, ':') ? "http://[%s]:%d%s" :
	    "http://%s:%d%s", host, port, path);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	e = curl_easy_init();
	h = curl_slist_append(h, "Content-Type: application/json");
	if (*c->conf.auth_token != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    c->conf.auth_token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, argv[2]);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	curl_global_cleanup();
	if (rc != CURLE_OK) {
		fprintf(stderr, "octctl: %s: %s (is octd running?)\n", url,
		    curl_easy_strerror(rc));
		return 1;
	}
	return status >= 200 && status < 300 ? 0 : 1;
}
