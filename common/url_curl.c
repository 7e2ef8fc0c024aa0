/*
 * url_curl.c: url_check (conf.h) with the libcurl the program links
 * (octctl, the tests). Apart from url.c so that a program that calls only
 * url_check_with (octd) does not link libcurl.
 */
#include "config.h"

#include "conf.h"
#include "url.h"

const char *
url_check(const char *url, int allow_insecure)
{
	static const struct url_curl linked = {
		curl_url, curl_url_set, curl_url_get, curl_url_cleanup,
		curl_free,
	};

	return url_check_with(&linked, url, allow_insecure);
}
