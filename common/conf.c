/*
 * conf.c: parse and check the oct configuration (see conf.h).
 *
 * One table, keys[], drives defaults, parsing, environment overrides, the
 * dump sent to workers and the reload diff; adding a key is one line there
 * plus a field in struct conf. Built for a file of a few dozen lines read at
 * start and on reload.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "oct.h"
#include "price.h"

/*
 * K_TOKEN and K_SECRET hold credentials: their values never appear in an
 * error (which octd logs on a refused reload), only the file, line and key.
 */
enum ktype { K_STR, K_PATH, K_ADDR, K_OADDR, K_URL, K_TOKEN, K_SECRET, K_SIZE,
	K_DUR, K_INT, K_BOOL, K_ENUM, K_HEADERS };
/* K_OADDR: an address, or empty: off; K_HEADERS: hidden like K_TOKEN */

struct keydef {
	const char		*name;
	enum ktype		 type;
	size_t			 off;
	const char		*def;
	int64_t			 min, max;
	unsigned		 procs;		/* who must restart on change */
	const char *const	*choices;	/* K_ENUM */
};

static const char *const sync_choices[] = { "normal", "full", NULL };
static const char *const compress_choices[] = { "gzip", "none", NULL };
static const char *const bool_choices[] = { "no", "yes", NULL };
static const char *const otlp_metrics_choices[] = { "genai", "all", NULL };
static const char *const push_format_choices[] = { "oct", "otlp", NULL };

#define OFF(f)	offsetof(struct conf, f)
#define KB	1024LL
#define MB	(1024LL * KB)
#define GB	(1024LL * MB)
#define SEC	1000LL
#define HOUR	(3600 * SEC)
#define DAY	(24 * HOUR)
#define P_ING	PROC_BIT(PROC_INGESTD)
#define P_WRI	PROC_BIT(PROC_WRITERD)
#define P_PUS	PROC_BIT(PROC_PUSHD)
#define P_SUP	PROC_BIT(PROC_SUPERVISOR)

static const struct keydef keys[] = {
	{ "listen", K_ADDR, OFF(listen), "127.0.0.1:7411", 0, 0, P_ING, NULL },
	{ "otlp_listen", K_OADDR, OFF(otlp_listen), "127.0.0.1:4318", 0, 0,
	    P_ING, NULL },
	{ "otlp_metrics", K_ENUM, OFF(otlp_metrics), "genai", 0, 0, P_ING,
	    otlp_metrics_choices },
	{ "data_dir", K_PATH, OFF(data_dir), OCT_LOCALSTATEDIR "/lib/oct", 0, 0,
	    PROC_ALL, NULL },
	{ "log_dir", K_PATH, OFF(log_dir), OCT_LOCALSTATEDIR "/log/oct", 0, 0,
	    PROC_ALL, NULL },
	{ "run_dir", K_PATH, OFF(run_dir), OCT_RUNSTATEDIR "/oct", 0, 0,
	    P_SUP, NULL },
	{ "user", K_STR, OFF(user), "", 0, 0, PROC_ALL, NULL },
	{ "auth_token", K_TOKEN, OFF(auth_token), "", 0, 0, P_ING, NULL },
	{ "max_body_bytes", K_SIZE, OFF(max_body_bytes), "1m", 1 * KB, 64 * MB,
	    P_ING, NULL },
	{ "max_text_bytes", K_SIZE, OFF(max_text_bytes), "64k", 1, 64 * MB,
	    P_ING, NULL },
	{ "queue_capacity", K_INT, OFF(queue_capacity), "512", 1, 1000000,
	    P_ING, NULL },
	{ "batch_max", K_INT, OFF(batch_max), "50", 1, 100000, P_WRI, NULL },
	{ "batch_ms", K_DUR, OFF(batch_ms), "500", 1, 60 * SEC, P_WRI, NULL },
	{ "sqlite_synchronous", K_ENUM, OFF(sqlite_synchronous), "normal", 0, 0,
	    P_WRI, sync_choices },
	{ "retention_days", K_INT, OFF(retention_days), "7", 0, 36500, P_WRI,
	    NULL },
	{ "max_db_bytes", K_SIZE, OFF(max_db_bytes), "1g", 1 * MB,
	    1024 * 1024 * GB, P_WRI | P_ING, NULL },
	{ "price_file", K_PATH, OFF(price_file), OCT_SYSCONFDIR
	    "/oct/prices.conf", 0, 0, P_ING, NULL },
	{ "metrics_interval_ms", K_DUR, OFF(metrics_interval_ms), "10000", 0,
	    DAY, P_ING, NULL },
	{ "push_url", K_URL, OFF(push_url), "", 0, 0, P_PUS, NULL },
	{ "push_format", K_ENUM, OFF(push_format), "oct", 0, 0, P_PUS,
	    push_format_choices },
	{ "push_headers", K_HEADERS, OFF(push_headers), "", 0, 0, P_PUS,
	    NULL },
	{ "push_allow_insecure", K_BOOL, OFF(push_allow_insecure), "no", 0, 0,
	    P_PUS, bool_choices },
	{ "push_auth_token", K_TOKEN, OFF(push_auth_token), "", 0, 0, P_PUS,
	    NULL },
	{ "push_interval_ms", K_DUR, OFF(push_interval_ms), "2000", 10, DAY,
	    P_PUS, NULL },
	{ "push_batch_size", K_INT, OFF(push_batch_size), "500", 1, 100000,
	    P_PUS, NULL },
	{ "push_max_payload_bytes", K_SIZE, OFF(push_max_payload_bytes), "1m",
	    1 * KB, 64 * MB, P_PUS, NULL },
	{ "push_compression", K_ENUM, OFF(push_compression), "gzip", 0, 0,
	    P_PUS, compress_choices },
	{ "push_timeout_ms", K_DUR, OFF(push_timeout_ms), "10000", 100,
	    HOUR, P_PUS, NULL },
	{ "push_max_attempts", K_INT, OFF(push_max_attempts), "10", 1,
	    1000000, P_PUS, NULL },
	{ "push_give_up_after_ms", K_DUR, OFF(push_give_up_after_ms), "72h", 0,
	    3650 * DAY, P_PUS, NULL },
	{ "push_backoff_base_ms", K_DUR, OFF(push_backoff_base_ms), "500", 1,
	    HOUR, P_PUS, NULL },
	{ "push_backoff_cap_ms", K_DUR, OFF(push_backoff_cap_ms), "60000", 1,
	    DAY, P_PUS, NULL },
	{ "signing_key", K_PATH, OFF(signing_key), "", 0, 0, P_PUS, NULL },
	{ "push_hmac_secret", K_SECRET, OFF(push_hmac_secret), "", 0, 0, P_PUS,
	    NULL },
	{ "shutdown_timeout_ms", K_DUR, OFF(shutdown_timeout_ms), "10000", 100,
	    HOUR, P_SUP, NULL },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/*
 * A text value is at most VALUE_MAX - 1 bytes, after a path is made
 * absolute: what read_value() reads back from the dump octd sends its
 * workers, where each byte may take two (an escaped quote or backslash).
 */
#define VALUE_MAX	4096

/* Where each key got its value, for messages about it. */
struct origin {
	const char	*file;
	int		 line[NKEYS];	/* >0 file line, 0 default, -1 env */
};

static char **
str_field(struct conf *c, const struct keydef *k)
{
	return (char **)(void *)((char *)c + k->off);
}

static int64_t *
num_field(struct conf *c, const struct keydef *k)
{
	return (int64_t *)(void *)((char *)c + k->off);
}

static int
is_str_type(enum ktype t)
{
	return t == K_STR || t == K_PATH || t == K_ADDR || t == K_OADDR ||
	    t == K_URL || t == K_TOKEN || t == K_SECRET || t == K_HEADERS;
}

static int
is_hidden(const struct keydef *k)
{
	return k->type == K_TOKEN || k->type == K_SECRET ||
	    k->type == K_HEADERS;
}

/* Parse decimal digits of s (all of them up to end) with overflow check. */
static int
parse_digits(const char *s, const char *end, int64_t *out)
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
	if (parse_digits(s, end, &v) == -1)
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
	if (parse_digits(s, p, &v) == -1)
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
	if (parse_digits(colon + 1, colon + strlen(colon), &p) == -1 ||
	    p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

/* push_url's check (url.c); programs that never see a new config skip it. */
static const char *(*check_url)(const char *, int);

void
conf_check_urls(const char *(*fn)(const char *url, int allow_insecure))
{
	check_url = fn;
}

/*
 * push_hmac_secret: empty, or whsec_ and the base64 of the HMAC key, which
 * is HMAC_MIN to HMAC_MAX bytes (pushd's buffer). The reasons never quote
 * the value.
 */
#define HMAC_MIN	16
#define HMAC_MAX	256

static const char *
check_secret(const char *s)
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

static const char *
check_headers(const char *v)
{
	const char	 *why;
	char		**h = conf_headers(v, &why);

	conf_headers_free(h);
	return why;
}

static char conf_base[PATH_MAX];

void
conf_set_base(const char *dir)
{
	snprintf(conf_base, sizeof(conf_base), "%s", dir);
}

/*
 * Make a relative path absolute against the base (or working) directory;
 * "-" stays "-" for log_dir only (standard error): k is the key.
 */
static char *
absolute(const char *v, const struct keydef *k)
{
	char	 cwd[PATH_MAX], *out;

	if (*v == '/' || *v == '\0' ||
	    (strcmp(v, "-") == 0 && k->off == OFF(log_dir)))
		return strdup(v);
	if (*conf_base != '\0')
		snprintf(cwd, sizeof(cwd), "%s", conf_base);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s", cwd, v) == -1)
		return NULL;
	return out;
}

/* Set key k from text v. Returns NULL or why v is refused. */
static const char *
set_value(struct conf *c, const struct keydef *k, const char *v)
{
	static char	 why[160];
	const char	*bad;
	char		 host[64], **sp, *dup;
	int64_t		 n;
	int		 port, i;

	if (is_str_type(k->type)) {
		if ((k->type == K_ADDR || (k->type == K_OADDR && *v != '\0')) &&
		    conf_parse_addr(v, host, sizeof(host), &port) == -1)
			return "bad address (expected IPv4:port or "
			    "[IPv6]:port, port 1-65535)";
		if (k->type == K_SECRET && (bad = check_secret(v)) != NULL)
			return bad;
		if (k->type == K_HEADERS && (bad = check_headers(v)) != NULL)
			return bad;
		dup = k->type == K_PATH ? absolute(v, k) : strdup(v);
		if (dup == NULL)
			return "out of memory";
		if (strlen(dup) >= VALUE_MAX) {
			free(dup);
			snprintf(why, sizeof(why), "value too long (at most %d "
			    "bytes)", VALUE_MAX - 1);
			return why;
		}
		sp = str_field(c, k);
		free(*sp);
		*sp = dup;
		return NULL;
	}
	switch (k->type) {
	case K_SIZE:
		if (conf_parse_size(v, &n) == -1)
			return "bad size (bytes, or a number with k, m or g)";
		break;
	case K_DUR:
		if (conf_parse_duration(v, &n) == -1)
			return "bad duration (milliseconds, or a number "
			    "with ms, s, m, h or d)";
		break;
	case K_INT:
		if (parse_digits(v, v + strlen(v), &n) == -1)
			return "bad number (expected a whole number)";
		break;
	case K_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
			n = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") ||
		    !strcmp(v, "off"))
			n = 0;
		else
			return "bad value (expected yes or no)";
		*num_field(c, k) = n;
		return NULL;
	case K_ENUM:
		for (i = 0; k->choices[i] != NULL; i++)
			if (strcmp(v, k->choices[i]) == 0)
				break;
		if (k->choices[i] == NULL) {
			snprintf(why, sizeof(why), "bad value (expected %s or %s)",
			    k->choices[0], k->choices[1]);
			return why;
		}
		*num_field(c, k) = i;
		return NULL;
	default:
		return "internal error: unknown key type";
	}
	if (n < k->min || n > k->max) {
		snprintf(why, sizeof(why), "out of range (%lld to %lld)",
		    (long long)k->min, (long long)k->max);
		return why;
	}
	*num_field(c, k) = n;
	return NULL;
}

static void
errf(char *err, size_t errlen, const struct origin *o, size_t ki,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Format "FILE:LINE: KEY: why" or "environment OCT_KEY: why" into err. */
static void
errf(char *err, size_t errlen, const struct origin *o, size_t ki,
    const char *fmt, ...)
{
	char	 why[256], env[64];
	size_t	 i;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (o->line[ki] == -1) {
		for (i = 0; keys[ki].name[i] != '\0' && i < sizeof(env) - 1; i++)
			env[i] = (char)toupper((unsigned char)keys[ki].name[i]);
		env[i] = '\0';
		snprintf(err, errlen, "environment OCT_%s: %s", env, why);
	} else if (o->line[ki] == 0)
		snprintf(err, errlen, "%s: %s: %s", o->file, keys[ki].name, why);
	else
		snprintf(err, errlen, "%s:%d: %s: %s", o->file, o->line[ki],
		    keys[ki].name, why);
}

/* A refused value: quoted after why, unless it is a credential. */
static void
refuse(char *err, size_t errlen, const struct origin *o, size_t ki,
    const char *why, const char *value)
{
	if (is_hidden(&keys[ki]))
		errf(err, errlen, o, ki, "%s", why);
	else
		errf(err, errlen, o, ki, "%s: '%s'", why, value);
}

static int
find_key(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == len &&
		    strncmp(keys[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * Read the value starting at p into out (at most outlen bytes): a quoted
 * string with \" and \\ escapes, or bare text up to a " #" comment.
 * Returns NULL or why the line is malformed.
 */
static const char *
read_value(const char *p, char *out, size_t outlen)
{
	size_t	 n = 0;
	const char *end;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return "unterminated quoted value";
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if (n + 1 >= outlen)
				return "value too long";
			out[n++] = *p;
		}
		out[n] = '\0';
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (*p != '\0' && *p != '#')
			return "text after the closing quote";
		return NULL;
	}
	for (end = p; *end != '\0'; end++)
		if (*end == '#' && (end == p || end[-1] == ' ' || end[-1] == '\t'))
			break;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - p) >= outlen)
		return "value too long";
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return NULL;
}

/* Parse one line (NUL-terminated, no newline). Returns 0 or -1 with err. */
static int
parse_line(struct conf *c, struct origin *o, int lineno, const char *line,
    char *err, size_t errlen)
{
	char		 value[VALUE_MAX];
	const char	*p = line, *name, *why;
	size_t		 nlen;
	int		 ki;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	name = p;
	while (islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
	    *p == '_')
		p++;
	nlen = (size_t)(p - name);
	while (*p == ' ' || *p == '\t')
		p++;
	if (nlen == 0 || *p != '=') {
		snprintf(err, errlen, "%s:%d: syntax error: expected "
		    "'key = value'", o->file, lineno);
		return -1;
	}
	if ((ki = find_key(name, nlen)) == -1) {
		snprintf(err, errlen, "%s:%d: %.*s: unknown key", o->file,
		    lineno, (int)nlen, name);
		return -1;
	}
	if (o->line[ki] > 0) {
		snprintf(err, errlen, "%s:%d: %s: repeated key (first set on "
		    "line %d)", o->file, lineno, keys[ki].name, o->line[ki]);
		return -1;
	}
	o->line[ki] = lineno;
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	/* A malformed value is not quoted: value holds only part of it. */
	if ((why = read_value(p, value, sizeof(value))) != NULL) {
		errf(err, errlen, o, (size_t)ki, "%s", why);
		return -1;
	}
	if ((why = set_value(c, &keys[ki], value)) != NULL) {
		refuse(err, errlen, o, (size_t)ki, why, value);
		return -1;
	}
	return 0;
}

/*
 * Apply every line of text (a whole file; CRLF is accepted) to c. Returns
 * 0, or -1 at the first bad line with err naming FILE:LINE.
 */
static int
parse_text(struct conf *c, struct origin *o, const char *text, char *err,
    size_t errlen)
{
	const char	*p = text, *nl;
	char		*line;
	size_t		 len;
	int		 lineno = 0, r = 0;

	while (r == 0 && *p != '\0') {
		lineno++;
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if ((line = strndup(p, len)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", o->file);
			return -1;
		}
		r = parse_line(c, o, lineno, line, err, errlen);
		free(line);
		/* past the CR too when the last line ends in one, no LF */
		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
	return r;
}

static int
apply_env(struct conf *c, struct origin *o, char *err, size_t errlen)
{
	char		 var[64], *v;
	const char	*why;
	size_t		 i, j;

	for (i = 0; i < NKEYS; i++) {
		snprintf(var, sizeof(var), "OCT_");
		for (j = 0; keys[i].name[j] != '\0' && j + 5 < sizeof(var); j++)
			var[4 + j] = (char)toupper((unsigned char)keys[i].name[j]);
		var[4 + j] = '\0';
		if ((v = getenv(var)) == NULL)
			continue;
		o->line[i] = -1;
		if ((why = set_value(c, &keys[i], v)) != NULL) {
			refuse(err, errlen, o, i, why, v);
			return -1;
		}
	}
	return 0;
}

static size_t
key_index(const char *name)
{
	return (size_t)find_key(name, strlen(name));
}

/*
 * price_file, where the file is read: a table that does not load is a
 * config error naming its file, line and field (price.c says which). The
 * shipped default may be missing (a build run from its tree): no cost is
 * computed then, and ingestd says so. Fills c->price_sig.
 */
static int
check_prices(struct conf *c, struct origin *o, char *err, size_t errlen)
{
	struct price_table	*t;
	struct stat		 sb;
	char			 why[512];
	size_t			 ki = key_index("price_file");

	c->price_sig[0] = '\0';
	if (*c->price_file == '\0')
		return 0;
	if (stat(c->price_file, &sb) == -1) {
		if (errno == ENOENT && o->line[ki] == 0)
			return 0;
		errf(err, errlen, o, ki, "%s: %s", c->price_file,
		    strerror(errno));
		return -1;
	}
	if ((t = price_load(c->price_file, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	price_free(t);
	snprintf(c->price_sig, sizeof(c->price_sig), "%llu:%llu:%lld:%lld.%09ld",
	    (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino,
	    (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
	    sb.st_mtim.tv_nsec);
	return 0;
}

/*
 * Checks that involve more than one key, and derived defaults; the
 * user's existence only with check_user. Returns 0, or -1 with err
 * naming the key (c is then the caller's to conf_free()).
 */
static int
finish(struct conf *c, struct origin *o, int check_user, char *err,
    size_t errlen)
{
	const char *why;

	/*
	 * Only where the file is read: a worker gets the text octd checked,
	 * and must not fail if the user goes away while octd runs (octd
	 * keeps the uid it resolved).
	 */
	if (check_user && *c->user != '\0' && getpwnam(c->user) == NULL) {
		errf(err, errlen, o, key_index("user"), "unknown user: '%s'",
		    c->user);
		return -1;
	}
	if (check_user && check_prices(c, o, err, errlen) == -1)
		return -1;

	if (check_url != NULL &&
	    (why = check_url(c->push_url, (int)c->push_allow_insecure))) {
		errf(err, errlen, o, key_index("push_url"), "%s: '%s'", why,
		    c->push_url);
		return -1;
	}
	if (c->push_backoff_base_ms > c->push_backoff_cap_ms) {
		errf(err, errlen, o, key_index("push_backoff_base_ms"),
		    "larger than push_backoff_cap_ms (%lld)",
		    (long long)c->push_backoff_cap_ms);
		return -1;
	}
	if (*c->data_dir == '\0' || *c->log_dir == '\0' ||
	    *c->run_dir == '\0') {
		errf(err, errlen, o, key_index(*c->data_dir == '\0' ? "data_dir" :
		    *c->log_dir == '\0' ? "log_dir" : "run_dir"),
		    "must not be empty");
		return -1;
	}
	if (*c->signing_key == '\0') {
		free(c->signing_key);
		if (asprintf(&c->signing_key, "%s/signing.key", c->data_dir) == -1) {
			c->signing_key = NULL;
			snprintf(err, errlen, "%s: out of memory", o->file);
			return -1;
		}
	}
	return 0;
}

static int
set_defaults(struct conf *c, char *err, size_t errlen)
{
	size_t		 i;
	const char	*why;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++) {
		if ((why = set_value(c, &keys[i], keys[i].def)) != NULL) {
			snprintf(err, errlen, "default of %s: %s", keys[i].name,
			    why);
			return -1;
		}
	}
	return 0;
}

/*
 * The whole file at path, NUL-terminated, for the caller to free; or
 * NULL with err (cannot read, over 16 MiB, or a NUL byte inside).
 */
static char *
read_file(const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (nb == NULL || cap > 16 * MB) {
				free(nb != NULL ? nb : buf);
				fclose(f);
				snprintf(err, errlen, "%s: file too large", path);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * Fill c from the defaults, text (may be NULL) and, with use_env, the
 * OCT_* environment, then check it as a whole. Returns 0 with c the
 * caller's to conf_free(), or -1 with err and c freed.
 */
static int
load(struct conf *c, const char *file, const char *text, int use_env,
    char *err, size_t errlen)
{
	struct origin	o;
	int		r;

	memset(&o, 0, sizeof(o));
	o.file = file;
	if (set_defaults(c, err, errlen) == -1) {
		conf_free(c);
		return -1;
	}
	c->file = strdup(file);
	r = c->file == NULL ? -1 : 0;
	if (r == 0 && text != NULL)
		r = parse_text(c, &o, text, err, errlen);
	if (r == 0 && use_env)
		r = apply_env(c, &o, err, errlen);
	if (r == 0)
		r = finish(c, &o, use_env, err, errlen);
	if (r == -1)
		conf_free(c);
	return r;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	char	*text = NULL;
	int	 r;

	if (path != NULL && (text = read_file(path, err, errlen)) == NULL) {
		memset(c, 0, sizeof(*c));
		return -1;
	}
	r = load(c, path != NULL ? path : "(defaults)", text, 1, err, errlen);
	free(text);
	return r;
}

int
conf_load_text(struct conf *c, const char *text, char *err, size_t errlen)
{
	return load(c, "(from octd)", text, 0, err, errlen);
}

/*
 * Append "key = value\n" to the growing buffer *buf (the caller frees
 * it); value quoted when text. Returns 0, or -1 out of memory.
 */
static int
dump_one(char **buf, size_t *len, const struct keydef *k, struct conf *c)
{
	char	 val[2 * VALUE_MAX + 4], *nb;
	size_t	 n = 0, need;
	const char *s;
	int64_t	 v;

	if (is_str_type(k->type)) {
		val[n++] = '"';
		for (s = *str_field(c, k); *s != '\0' && n + 3 < sizeof(val); s++) {
			if (*s == '"' || *s == '\\')
				val[n++] = '\\';
			val[n++] = *s;
		}
		val[n++] = '"';
		val[n] = '\0';
	} else {
		v = *num_field(c, k);
		if (k->choices != NULL)
			snprintf(val, sizeof(val), "%s", k->choices[v]);
		else
			snprintf(val, sizeof(val), "%lld", (long long)v);
	}
	need = strlen(k->name) + strlen(val) + 5;
	if ((nb = realloc(*buf, *len + need + 1)) == NULL)
		return -1;
	*buf = nb;
	*len += (size_t)snprintf(*buf + *len, need + 1, "%s = %s\n", k->name,
	    val);
	return 0;
}

char *
conf_dump(const struct conf *c)
{
	char	*buf = NULL;
	size_t	 len = 0, i;

	for (i = 0; i < NKEYS; i++) {
		if (dump_one(&buf, &len, &keys[i], (struct conf *)c) == -1) {
			free(buf);
			return NULL;
		}
	}
	return buf;
}

unsigned
conf_diff(const struct conf *a, const struct conf *b)
{
	unsigned	mask = 0;
	size_t		i;
	struct conf	*ca = (struct conf *)a, *cb = (struct conf *)b;

	for (i = 0; i < NKEYS; i++) {
		if (is_str_type(keys[i].type) ?
		    strcmp(*str_field(ca, &keys[i]), *str_field(cb, &keys[i])) :
		    *num_field(ca, &keys[i]) != *num_field(cb, &keys[i]))
			mask |= keys[i].procs;
	}
	if (strcmp(a->price_sig, b->price_sig) != 0)
		mask |= P_ING;		/* the table changed under the same key */
	return mask;
}

char *
conf_log_path(const struct conf *c, const char *name)
{
	char *p;

	if (strcmp(c->log_dir, "-") == 0)
		return NULL;
	if (asprintf(&p, "%s/%s.log", c->log_dir, name) == -1)
		return NULL;
	return p;
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (is_str_type(keys[i].type))
			free(*str_field(c, &keys[i]));
	free(c->file);
	memset(c, 0, sizeof(*c));
}

/*
 * See conf.h. Reads the file line by line without checking the rest of
 * it; the last assignment of key wins, as in conf_load(). A path value is
 * made absolute. out is always filled (at worst with the default).
 */
int
conf_peek(const char *path, const char *key, char *out, size_t len)
{
	char		 err[512], env[64], value[VALUE_MAX], *text, *line;
	char		*save, *abs;
	const char	*p, *found = NULL;
	size_t		 i;
	int		 ki;

	if ((ki = find_key(key, strlen(key))) == -1)
		return -1;
	snprintf(env, sizeof(env), "OCT_");
	for (i = 0; key[i] != '\0' && i + 5 < sizeof(env); i++)
		env[4 + i] = (char)toupper((unsigned char)key[i]);
	env[4 + i] = '\0';
	if ((found = getenv(env)) == NULL && path != NULL &&
	    (text = read_file(path, err, sizeof(err))) != NULL) {
		for (line = strtok_r(text, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			for (p = line; *p == ' ' || *p == '\t'; p++)
				;
			if (strncmp(p, key, strlen(key)) != 0)
				continue;
			for (p += strlen(key); *p == ' ' || *p == '\t'; p++)
				;
			if (*p++ != '=')
				continue;
			for (; *p == ' ' || *p == '\t'; p++)
				;
			line[strcspn(line, "\r")] = '\0';
			if (read_value(p, value, sizeof(value)) == NULL)
				found = value;
		}
		if (found == value) {
			abs = keys[ki].type == K_PATH ?
			    absolute(value, &keys[ki]) :
			    strdup(value);
			snprintf(out, len, "%s", abs != NULL ? abs : value);
			free(abs);
			free(text);
			return 0;
		}
		free(text);
	}
	if (found == NULL)
		found = keys[ki].def;
	abs = keys[ki].type == K_PATH ? absolute(found, &keys[ki]) :
	    strdup(found);
	snprintf(out, len, "%s", abs != NULL ? abs : found);
	free(abs);
	return 0;
}
