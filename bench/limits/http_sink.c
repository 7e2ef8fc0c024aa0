/*
 * http_sink.c: the HTTP ceiling of this machine for bench/run.
 *
 * A bare evhttp server, one thread like oct-ingestd: it reads each body
 * and answers 202 with a body the size of oct's answer, storing nothing.
 * Anything oct does beyond this is the price of keeping events.
 *
 *	http_sink PORT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static const char answer[] =
    "{\"accepted\":1,\"trace_ids\":[\"00000000-0000-4000-8000-000000000000\"]}";

static void
handle(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(out, answer, sizeof(answer) - 1);
	evhttp_send_reply(req, 202, "Accepted", NULL);
}

static void
on_term(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	event_base_loopbreak(arg);
}

int
main(int argc, char *argv[])
{
	struct event_base	*base;
	struct evhttp		*http;
	struct event		*term;

	if (argc != 2) {
		fprintf(stderr, "usage: http_sink PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL ||
	    (http = evhttp_new(base)) == NULL)
		return 1;
	evhttp_set_max_body_size(http, 1024 * 1024);
	evhttp_set_gencb(http, handle, NULL);
	if (evhttp_bind_socket(http, "127.0.0.1",
	    (ev_uint16_t)atoi(argv[1])) == -1) {
		fprintf(stderr, "http_sink: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	term = evsignal_new(base, SIGTERM, on_term, base);
	event_add(term, NULL);
	event_base_dispatch(base);
	event_free(term);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
