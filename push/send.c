/*
 * send.c: HTTP requests with libcurl's multi interface on pushd's libevent
 * loop, so a slow collector never stops pushd answering heartbeats or
 * reading writerd's acknowledgements. One request at a time; one easy
 * handle, reused, so the connection is kept alive between requests.
 * Redirects are not followed; TLS certificates are verified.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"
#include "oct.h"
#include "push.h"


static struct {
	struct event_base	*base;
	CURLM			*multi;
	CURL			*easy;
	struct event		*timer;
	struct curl_slist	*headers;
	char			 errbuf[CURL_ERROR_SIZE];
	char			*answer;
	size_t			 alen, acap;
	int			 truncated;
	char			 retry_after[64];
	int64_t			 started;
	send_done_cb		 done;
	void			*arg;
	size_t			 len;
	int			 busy;
	int			 sent;		/* sent() was called */
	void			(*on_sent)(void);
} sd;

struct sock {
	struct event	*ev;
};

static void check_done(void);
static void check_sent(void);

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	int running, flags = 0;

	(void)arg;
	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(sd.multi, fd, flags, &running);
	check_done();
	check_sent();
}

/*
 * libcurl's CURLMOPT_SOCKETFUNCTION: watch s for what on the loop (a
 * struct event per socket, kept as curl's socketp and freed on
 * CURL_POLL_REMOVE). Returns 0, or -1 when out of memory.
 */
static int
socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct sock	*sk = socketp;
	short		 kind;

	(void)e;
	(void)userp;
	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			event_free(sk->ev);
			free(sk);
		}
		curl_multi_assign(sd.multi, s, NULL);
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (sk == NULL) {
		if ((sk = calloc(1, sizeof(*sk))) == NULL)
			return -1;
		curl_multi_assign(sd.multi, s, sk);
	} else
		event_free(sk->ev);
	sk->ev = event_new(sd.base, s, kind, on_socket, NULL);
	if (sk->ev == NULL || event_add(sk->ev, NULL) == -1)
		return -1;
	return 0;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	int running;

	(void)fd;
	(void)what;
	(void)arg;
	curl_multi_socket_action(sd.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done();
	check_sent();
}

static int
timer_cb(CURLM *multi, long ms, void *userp)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)multi;
	(void)userp;
	if (ms < 0)
		evtimer_del(sd.timer);
	else
		evtimer_add(sd.timer, &tv);
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	size_t	 len = size * n, take = len, cap;
	char	*nb;

	(void)arg;
	if (sd.alen + take > SEND_ANSWER_MAX) {
		take = SEND_ANSWER_MAX - sd.alen;
		sd.truncated = 1;
	}
	if (sd.alen + take + 1 > sd.acap) {
		for (cap = sd.acap; cap < sd.alen + take + 1; cap *= 2)
			;
		if ((nb = realloc(sd.answer, cap)) == NULL) {
			sd.truncated = 1;
			return len;
		}
		sd.answer = nb;
		sd.acap = cap;
	}
	memcpy(sd.answer + sd.alen, p, take);
	sd.alen += take;
	sd.answer[sd.alen] = '\0';
	return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	size_t	len = size * n, v;

	(void)arg;
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		for (v = 12; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
			;
		snprintf(sd.retry_after, sizeof(sd.retry_after), "%.*s",
		    (int)(len - v), p + v);
		sd.retry_after[strcspn(sd.retry_after, "\r\n")] = '\0';
	}
	return len;
}

/*
 * Hand each finished transfer's result to its done() callback, after the
 * handle is detached, so done() may start the next request at once.
 */
static void
check_done(void)
{
	struct send_result	 res;
	CURLMsg			*m;
	int			 left;

	while ((m = curl_multi_info_read(sd.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		memset(&res, 0, sizeof(res));
		if (m->data.result == CURLE_OK)
			curl_easy_getinfo(sd.easy, CURLINFO_RESPONSE_CODE,
			    &res.status);
		else
			res.error = sd.errbuf[0] != '\0' ? sd.errbuf :
			    curl_easy_strerror(m->data.result);
		res.body = sd.answer;
		res.body_len = sd.alen;
		res.truncated = sd.truncated;
		res.retry_after = retry_after_ms(sd.retry_after, now_ms());
		res.elapsed_ms = mono_ms() - sd.started;
		res.sent_bytes = sd.len;
		curl_multi_remove_handle(sd.multi, sd.easy);
		curl_slist_free_all(sd.headers);
		sd.headers = NULL;
		sd.busy = 0;
		sd.done(&res, sd.arg);
	}
}

/* The request in flight is all written: tell on_sent, once. */
static void
check_sent(void)
{
	curl_off_t up = 0;

	if (!sd.busy || sd.sent || sd.on_sent == NULL)
		return;
	if (curl_easy_getinfo(sd.easy, CURLINFO_SIZE_UPLOAD_T, &up) !=
	    CURLE_OK || up < (curl_off_t)sd.len)
		return;
	sd.sent = 1;
	sd.on_sent();
}

void
send_on_sent(void (*sent)(void))
{
	sd.on_sent = sent;
}

void
send_init(struct event_base *base)
{
	sd.base = base;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (sd.multi = curl_multi_init()) == NULL ||
	    (sd.easy = curl_easy_init()) == NULL ||
	    (sd.answer = malloc(4096)) == NULL)
		fatalx("libcurl setup failed");
	sd.acap = 4096;
	sd.timer = evtimer_new(base, on_timer, NULL);
	if (sd.timer == NULL)
		fatalx("evtimer_new");
	curl_multi_setopt(sd.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(sd.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
}

int
send_post(const char *url, const char *ca_file, const uint8_t *body,
    size_t len, const char *const *headers, int64_t timeout_ms,
    send_done_cb done, void *arg)
{
	CURL *e = sd.easy;

	if (sd.busy)
		return -1;
	for (sd.headers = NULL; *headers != NULL; headers++)
		sd.headers = curl_slist_append(sd.headers, *headers);
	sd.headers = curl_slist_append(sd.headers, "Expect:");
	sd.errbuf[0] = sd.retry_after[0] = sd.answer[0] = '\0';
	sd.alen = 0;
	sd.truncated = 0;
	sd.sent = 0;
	sd.done = done;
	sd.arg = arg;
	sd.len = len;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sd.headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (*ca_file != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "oct/" OCT_VERSION);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sd.errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	sd.started = mono_ms();
	if (curl_multi_add_handle(sd.multi, e) != CURLM_OK) {
		curl_slist_free_all(sd.headers);
		sd.headers = NULL;
		return -1;
	}
	sd.busy = 1;
	return 0;
}

void
send_free(void)
{
	if (sd.base == NULL)
		return;		/* never set up: push_url was empty */
	if (sd.busy)
		curl_multi_remove_handle(sd.multi, sd.easy);
	curl_slist_free_all(sd.headers);
	if (sd.easy != NULL)
		curl_easy_cleanup(sd.easy);
	if (sd.multi != NULL)
		curl_multi_cleanup(sd.multi);
	if (sd.timer != NULL)
		event_free(sd.timer);
	free(sd.answer);
	curl_global_cleanup();
}
