/*
 * url.h: the push_url check (url.c) with libcurl's URL parser passed in,
 * for a program that loads libcurl rather than links it (octd).
 */
#ifndef OCT_URL_H
#define OCT_URL_H

#include <curl/curl.h>

/* The five functions of libcurl's URL API the check calls. */
struct url_curl {
	__typeof__(curl_url)		*url;
	__typeof__(curl_url_set)	*set;
	__typeof__(curl_url_get)	*get;
	__typeof__(curl_url_cleanup)	*cleanup;
	__typeof__(curl_free)		*free;
};

/* Why url may not be push_url, or NULL: url_check (conf.h) with c. */
const char	*url_check_with(const struct url_curl *c, const char *url,
		    int allow_insecure);

#endif
