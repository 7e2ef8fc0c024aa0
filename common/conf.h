/*
 * conf.h: the oct configuration (SPEC section 2).
 *
 * The supervisor reads the file and the OCT_* environment with conf_load();
 * workers get the validated result as text over their supervisor channel
 * (conf_dump / conf_load_text), so every process runs the same settings even
 * when the file changes on disk between a reload and a worker restart.
 * Errors name the file, line and key ("oct.conf:12: max_body_bytes: ...") or
 * the environment variable ("environment OCT_LISTEN: ...").
 */
#ifndef OCT_CONF_H
#define OCT_CONF_H

#include <stddef.h>
#include <stdint.h>

enum { CONF_SYNC_NORMAL, CONF_SYNC_FULL };
enum { CONF_COMPRESS_GZIP, CONF_COMPRESS_NONE };
enum { CONF_OTLP_METRICS_GENAI, CONF_OTLP_METRICS_ALL };
enum { CONF_PUSH_OCT, CONF_PUSH_OTLP };

struct conf {
	char	*file;			/* where it came from, for messages */
	char	*listen;
	char	*otlp_listen;		/* "": no OTLP listener */
	int64_t	 otlp_metrics;		/* CONF_OTLP_METRICS_* */
	char	*data_dir;
	char	*log_dir;		/* "-": standard error */
	char	*run_dir;
	char	*user;
	char	*auth_token;
	int64_t	 max_body_bytes;
	int64_t	 max_text_bytes;
	int64_t	 queue_capacity;
	int64_t	 batch_max;
	int64_t	 batch_ms;
	int64_t	 sqlite_synchronous;
	int64_t	 retention_days;
	int64_t	 max_db_bytes;
	char	*price_file;		/* "": no cost computed */
	int64_t	 metrics_interval_ms;
	char	*push_url;
	int64_t	 push_format;		/* CONF_PUSH_* */
	char	*push_headers;		/* as OTEL_EXPORTER_OTLP_HEADERS */
	char	*push_ca_file;		/* "": the system's CA store */
	int64_t	 push_allow_insecure;
	char	*push_auth_token;
	int64_t	 push_interval_ms;
	int64_t	 push_batch_size;
	int64_t	 push_max_payload_bytes;
	int64_t	 push_compression;
	int64_t	 push_timeout_ms;
	int64_t	 push_max_attempts;
	int64_t	 push_give_up_after_ms;
	int64_t	 push_backoff_base_ms;
	int64_t	 push_backoff_cap_ms;
	char	*signing_key;
	char	*push_hmac_secret;
	int64_t	 shutdown_timeout_ms;
	/*
	 * Not a key: what price_file was when conf_load() read and checked it
	 * (device, inode, size, mtime), so that a reload restarts ingestd when
	 * the table changed even if the key did not. "" when there is none.
	 */
	char	 price_sig[96];
};

/*
 * Load the file at path (NULL: defaults only), then the environment.
 * Returns 0, or -1 with a one-line message in err; conf is then freed.
 */
int	 conf_load(struct conf *, const char *path, char *err, size_t errlen);
/*
 * Relative paths in a config are taken from dir from now on, not from
 * the working directory (octd: where it was started, even after it has
 * gone to the background in /).
 */
void	 conf_set_base(const char *dir);
/*
 * Check push_url with fn from now on (url_check, in url_curl.c; without it,
 * push_url is not checked: for programs given a config octd checked).
 */
void	 conf_check_urls(const char *(*fn)(const char *url,
	    int allow_insecure));
/*
 * push_headers' value as "Name: value" lines, NULL-ended (free with
 * conf_headers_free), or NULL with why set (never quoting a value).
 */
char	**conf_headers(const char *v, const char **why);
void	 conf_headers_free(char **);
/* url_curl.c: why url may not be push_url, or NULL (url.c). */
const char *url_check(const char *url, int allow_insecure);
/*
 * The value of one key in path (or its OCT_ environment override, or its
 * default), whatever else the file holds: octctl reload must find octd's
 * run_dir even in a file octd will refuse. Returns 0, or -1 if unknown.
 */
int	 conf_peek(const char *path, const char *key, char *out, size_t len);
/* Load text made by conf_dump(); the environment is not consulted. */
int	 conf_load_text(struct conf *, const char *text, char *err,
	    size_t errlen);
/* The settings as "key = value" lines; the caller frees. */
char	*conf_dump(const struct conf *);
/* PROC_BIT()s of the processes whose settings differ between a and b. */
unsigned conf_diff(const struct conf *a, const struct conf *b);
void	 conf_free(struct conf *);

/* Parsers, exposed for their tests. Return 0, or -1 on a bad value. */
int	 conf_parse_size(const char *, int64_t *);
int	 conf_parse_duration(const char *, int64_t *);
/* Split "host:port" / "[v6]:port"; host is an IP literal. */
int	 conf_parse_addr(const char *, char *host, size_t hostlen, int *port);
/* Log name of a process: log_dir/NAME.log, or NULL for standard error. */
char	*conf_log_path(const struct conf *, const char *name);

#endif
