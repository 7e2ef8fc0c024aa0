/*
 * url.c: the push_url check, with libcurl's own URL parser. Apart from
 * conf.c so that only the programs that judge a new configuration (octd,
 * octctl) check it; ingestd and writerd take what octd checked. The
 * parser comes in a table (url.h): url_curl.c fills it from the libcurl a
 * program links (octctl), octd's urlcheck.c from a libcurl loaded in a
 * child, so that octd never maps libcurl itself.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "url.h"

static int
is_loopback_host(const char *h)
{
	struct in_addr a4;

	if (strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0 ||
	    strcmp(h, "::1") == 0)
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

/* http(s) only, and plain http to loopback unless allowed. */
const char *
url_check_with(const struct url_curl *c, const char *url, int allow_insecure)
{
	CURLU		*u;
	char		*scheme = NULL, *host = NULL;
	const char	*why = NULL;

	if (*url == '\0')
		return NULL;
	u = c->url();
	if (u == NULL)
		return "out of memory";
	if (c->set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    c->get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    c->get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		why = "not a valid URL";
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		why = "scheme must be http or https";
	else if (strcmp(scheme, "http") == 0 && !allow_insecure &&
	    !is_loopback_host(host))
		why = "plain http to a host that is not loopback is refused "
		    "(use https, or set push_allow_insecure = yes)";
	c->free(scheme);
	c->free(host);
	c->cleanup(u);
	return why;
}
