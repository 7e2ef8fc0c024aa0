/*
 * conf_value.c: the values of the configuration (see conf.h): sizes,
 * durations, addresses, the HMAC secret and the push_headers list, each
 * checked and parsed; conf.c's table says which key takes which.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "conf_int.h"

/* Parse decimal digits of s (all of them up to end) with overflow check. */
int
conf_digits(const char *s, const char *end, int64_t *out)
{
	int64_t v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

static int
scale(int64_t v, int64_t mul, int64_t *out)
{
	if (v > INT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
conf_parse_size(const char *s, int64_t *out)
{
	const char	*end = s + strlen(s);
	int64_t		 v, mul = 1;

	if (end > s) {
		switch (tolower((unsigned char)end[-1])) {
		case 'k': mul = KB; end--; break;
		case 'm': mul = MB; end--; break;
		case 'g': mul = GB; end--; break;
		}
	}
	if (conf_digits(s, end, &v) == -1)
		return -1;
	return scale(v, mul, out);
}

int
conf_parse_duration(const char *s, int64_t *out)
{
	static const struct { const char *unit; int64_t mul; } units[] = {
		{ "ms", 1 }, { "s", SEC }, { "m", 60 * SEC }, { "h", HOUR },
		{ "d", DAY },
	};
	const char	*p = s;
	int64_t		 v;
	size_t		 i;

	while (isdigit((unsigned char)*p))
		p++;
	if (conf_digits(s, p, &v) == -1)
		return -1;
	if (*p == '\0') {
		*out = v;
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i].unit) == 0)
			return scale(v, units[i].mul, out);
	return -1;
}

/*
 * Split s, "host:port" or "[v6]:port", into host (an IP literal, NUL-
 * terminated, at most hostlen - 1 bytes) and port (1 to 65535). Returns
 * 0, or -1 if any part is missing or bad; host may then hold a part.
 */
int
conf_parse_addr(const char *s, char *host, size_t hostlen, int *port)
{
	const char	*colon, *h = s;
	size_t		 hlen;
	int64_t		 p;
	unsigned char	 buf[sizeof(struct in6_addr)];
	int		 af = AF_INET;

	if (*s == '[') {
		colon = strstr(s, "]:");
		if (colon == NULL)
			return -1;
		h = s + 1;
		hlen = (size_t)(colon - h);
		colon++;
		af = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hostlen)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(af, host, buf) != 1)
		return -1;
	if (conf_digits(colon + 1, colon + strlen(colon), &p) == -1 ||
	    p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

/* push_url's check (url.c); programs that never see a new config skip it. */

/*
 * push_hmac_secret: empty, or whsec_ and the base64 of the HMAC key, which
 * is HMAC_MIN to HMAC_MAX bytes (pushd's buffer). The reasons never quote
 * the value.
 */
#define HMAC_MIN	16
#define HMAC_MAX	256

const char *
conf_check_secret(const char *s)
{
	unsigned char	 bin[4096];
	const char	*why = NULL;
	size_t		 len;

	if (*s == '\0')
		return NULL;
	if (strncmp(s, "whsec_", 6) != 0)
		return "must be whsec_ followed by base64";
	if (sodium_base642bin(bin, sizeof(bin), s + 6, strlen(s + 6), NULL,
	    &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		why = "bad base64 after whsec_";
	else if (len < HMAC_MIN)
		why = "too short: the key after whsec_ must decode to at "
		    "least 16 bytes";
	else if (len > HMAC_MAX)
		why = "too long: the key after whsec_ must decode to at "
		    "most 256 bytes";
	sodium_memzero(bin, sizeof(bin));
	return why;
}

/*
 * push_headers, as OTEL_EXPORTER_OTLP_HEADERS is written:
 * name1=value1,name2=value2, blanks around names and values ignored,
 * values percent-decoded. Headers pushd sets itself cannot be given.
 */
static const char *const own_headers[] = { "webhook-id", "webhook-timestamp",
	"webhook-signature", "oct-key-id", "oct-agent-id", "content-type",
	"content-encoding", "content-length", "transfer-encoding", "host",
	"expect", NULL };

static int
tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Trim blanks off [*s, *e). */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * One "name=value" in [s, e) as "name: value" (malloc'd) in *out. Returns
 * NULL or why it is refused (never quoting the value).
 */
static const char *
one_header(const char *s, const char *e, char **out)
{
	const char	*eq, *ns = s, *ne, *vs, *ve, *p;
	char		*h, *q;
	size_t		 i;
	int		 hi, lo;

	if ((eq = memchr(s, '=', (size_t)(e - s))) == NULL)
		return "expected name=value pairs separated by commas";
	ne = eq;
	vs = eq + 1;
	ve = e;
	trim(&ns, &ne);
	trim(&vs, &ve);
	if (ns == ne)
		return "a header with no name";
	for (p = ns; p < ne; p++)
		if (!tchar((unsigned char)*p))
			return "a header name may hold only letters, digits "
			    "and !#$%&'*+-.^_`|~";
	for (i = 0; own_headers[i] != NULL; i++)
		if (strlen(own_headers[i]) == (size_t)(ne - ns) &&
		    strncasecmp(own_headers[i], ns, (size_t)(ne - ns)) == 0)
			return "a header oct sets itself";
	if ((h = malloc((size_t)(ne - ns) + (size_t)(ve - vs) + 3)) == NULL)
		return "out of memory";
	memcpy(h, ns, (size_t)(ne - ns));
	q = h + (ne - ns);
	*q++ = ':';
	*q++ = ' ';
	for (p = vs; p < ve; p++) {
		if (*p == '%' && ve - p > 2 && (hi = hexval(p[1])) >= 0 &&
		    (lo = hexval(p[2])) >= 0) {
			*q = (char)(hi << 4 | lo);
			p += 2;
		} else
			*q = *p;
		if (*q == '\r' || *q == '\n' || *q == '\0') {
			free(h);
			return "a header value may not hold CR, LF or NUL";
		}
		q++;
	}
	*q = '\0';
	*out = h;
	return NULL;
}

char **
conf_headers(const char *v, const char **why)
{
	char		**h;
	const char	 *s, *e;
	size_t		  n = 0, cap = 1;

	for (s = v; *s != '\0'; s++)
		cap += *s == ',';
	if ((h = calloc(cap + 1, sizeof(*h))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	for (s = v; *s != '\0'; s = *e == ',' ? e + 1 : e) {
		e = s + strcspn(s, ",");
		if (strspn(s, " \t") >= (size_t)(e - s))
			continue;		/* an empty item */
		if ((*why = one_header(s, e, &h[n])) != NULL) {
			conf_headers_free(h);
			return NULL;
		}
		n++;
	}
	*why = NULL;
	return h;
}

void
conf_headers_free(char **h)
{
	size_t i;

	for (i = 0; h != NULL && h[i] != NULL; i++) {
		explicit_bzero(h[i], strlen(h[i]));
		free(h[i]);
	}
	free(h);
}

const char *
conf_check_headers(const char *v)
{
	const char	 *why;
	char		**h = conf_headers(v, &why);

	conf_headers_free(h);
	return why;
}
