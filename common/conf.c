/*
 * conf.c: parse and check the oct configuration (see conf.h).
 *
 * One table, conf_keys[], drives defaults, parsing, environment overrides, the
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

#include "conf_int.h"
#include "oct.h"
#include "price.h"


static const char *const sync_choices[] = { "normal", "full", NULL };
static const char *const compress_choices[] = { "gzip", "none", NULL };
static const char *const bool_choices[] = { "no", "yes", NULL };
static const char *const otlp_metrics_choices[] = { "genai", "all", NULL };
static const char *const push_format_choices[] = { "oct", "otlp", NULL };

#define OFF(f)	offsetof(struct conf, f)

const struct keydef conf_keys[] = {
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
	{ "push_ca_file", K_PATH, OFF(push_ca_file), "", 0, 0, P_PUS, NULL },
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
const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= CONF_MAX_KEYS,
    "struct origin has a line for each key");



static const char *(*check_url)(const char *, int);

void
conf_check_urls(const char *(*fn)(const char *url, int allow_insecure))
{
	check_url = fn;
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
char *
conf_absolute(const char *v, const struct keydef *k)
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
const char *
conf_set_value(struct conf *c, const struct keydef *k, const char *v)
{
	static char	 why[160];
	const char	*bad;
	char		 host[64], **sp, *dup;
	int64_t		 n;
	int		 port, i;

	if (conf_is_str(k->type)) {
		if ((k->type == K_ADDR || (k->type == K_OADDR && *v != '\0')) &&
		    conf_parse_addr(v, host, sizeof(host), &port) == -1)
			return "bad address (expected IPv4:port or "
			    "[IPv6]:port, port 1-65535)";
		if (k->type == K_SECRET && (bad = conf_check_secret(v)) != NULL)
			return bad;
		if (k->type == K_HEADERS && (bad = conf_check_headers(v)) != NULL)
			return bad;
		dup = k->type == K_PATH ? conf_absolute(v, k) : strdup(v);
		if (dup == NULL)
			return "out of memory";
		if (strlen(dup) >= VALUE_MAX) {
			free(dup);
			snprintf(why, sizeof(why), "value too long (at most %d "
			    "bytes)", VALUE_MAX - 1);
			return why;
		}
		sp = conf_str(c, k);
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
		if (conf_digits(v, v + strlen(v), &n) == -1)
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
		*conf_num(c, k) = n;
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
		*conf_num(c, k) = i;
		return NULL;
	default:
		return "internal error: unknown key type";
	}
	if (n < k->min || n > k->max) {
		snprintf(why, sizeof(why), "out of range (%lld to %lld)",
		    (long long)k->min, (long long)k->max);
		return why;
	}
	*conf_num(c, k) = n;
	return NULL;
}

/* Format "FILE:LINE: KEY: why" or "environment OCT_KEY: why" into err. */
void
conf_errf(char *err, size_t errlen, const struct origin *o, size_t ki,
    const char *fmt, ...)
{
	char	 why[256], env[64];
	size_t	 i;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (o->line[ki] == -1) {
		for (i = 0; conf_keys[ki].name[i] != '\0' && i < sizeof(env) - 1; i++)
			env[i] = (char)toupper((unsigned char)conf_keys[ki].name[i]);
		env[i] = '\0';
		snprintf(err, errlen, "environment OCT_%s: %s", env, why);
	} else if (o->line[ki] == 0)
		snprintf(err, errlen, "%s: %s: %s", o->file, conf_keys[ki].name, why);
	else
		snprintf(err, errlen, "%s:%d: %s: %s", o->file, o->line[ki],
		    conf_keys[ki].name, why);
}

/* A refused value: quoted after why, unless it is a credential. */
void
conf_refuse(char *err, size_t errlen, const struct origin *o, size_t ki,
    const char *why, const char *value)
{
	if (conf_is_hidden(&conf_keys[ki]))
		conf_errf(err, errlen, o, ki, "%s", why);
	else
		conf_errf(err, errlen, o, ki, "%s: '%s'", why, value);
}

int
conf_find_key(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if (strlen(conf_keys[i].name) == len &&
		    strncmp(conf_keys[i].name, name, len) == 0)
			return (int)i;
	return -1;
}


static size_t
key_index(const char *name)
{
	return (size_t)conf_find_key(name, strlen(name));
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
		conf_errf(err, errlen, o, ki, "%s: %s", c->price_file,
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
		conf_errf(err, errlen, o, key_index("user"), "unknown user: '%s'",
		    c->user);
		return -1;
	}
	if (check_user && check_prices(c, o, err, errlen) == -1)
		return -1;

	if (check_url != NULL &&
	    (why = check_url(c->push_url, (int)c->push_allow_insecure))) {
		conf_errf(err, errlen, o, key_index("push_url"), "%s: '%s'", why,
		    c->push_url);
		return -1;
	}
	if (c->push_backoff_base_ms > c->push_backoff_cap_ms) {
		conf_errf(err, errlen, o, key_index("push_backoff_base_ms"),
		    "larger than push_backoff_cap_ms (%lld)",
		    (long long)c->push_backoff_cap_ms);
		return -1;
	}
	if (*c->data_dir == '\0' || *c->log_dir == '\0' ||
	    *c->run_dir == '\0') {
		conf_errf(err, errlen, o, key_index(*c->data_dir == '\0' ? "data_dir" :
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
		/* found by fuzz_conf: the workers must read it back */
		if (strlen(c->signing_key) >= VALUE_MAX) {
			conf_errf(err, errlen, o, key_index("data_dir"), "too "
			    "long for the signing key in it (at most %d bytes)",
			    VALUE_MAX - 1 - (int)strlen("/signing.key"));
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
	for (i = 0; i < conf_nkeys; i++) {
		if ((why = conf_set_value(c, &conf_keys[i], conf_keys[i].def)) != NULL) {
			snprintf(err, errlen, "default of %s: %s", conf_keys[i].name,
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
char *
conf_read_file(const char *path, char *err, size_t errlen)
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
		r = conf_parse_text(c, &o, text, err, errlen);
	if (r == 0 && use_env)
		r = conf_apply_env(c, &o, err, errlen);
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

	if (path != NULL && (text = conf_read_file(path, err, errlen)) == NULL) {
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


