/*
 * conf_int.h: what the parts of the configuration code share, and nothing
 * outside them includes: the key table (conf.c), the value parsers
 * (conf_value.c), and the text read from a file or the environment and
 * written back for the workers (conf_text.c).
 */
#ifndef OCT_CONF_INT_H
#define OCT_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "oct.h"

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

#define KB	1024LL
#define MB	(1024LL * KB)
#define GB	(1024LL * MB)
#define SEC	1000LL
#define HOUR	(3600 * SEC)
#define DAY	(24 * HOUR)
/* Who restarts when a key changes (struct keydef's procs). */
#define P_ING	PROC_BIT(PROC_INGESTD)
#define P_WRI	PROC_BIT(PROC_WRITERD)
#define P_PUS	PROC_BIT(PROC_PUSHD)
#define P_SUP	PROC_BIT(PROC_SUPERVISOR)

/* The table of keys (conf.c), in the order the dump writes them. */
extern const struct keydef	conf_keys[];
extern const size_t		conf_nkeys;

#define CONF_MAX_KEYS	64

/*
 * A text value is at most VALUE_MAX - 1 bytes, after a path is made
 * absolute: what conf_text.c's read_value() reads back from the dump octd
 * sends its workers, where each byte may take two (an escaped quote or
 * backslash).
 */
#define VALUE_MAX	4096

/* Where each key got its value, for messages about it. */
struct origin {
	const char	*file;
	int		 line[CONF_MAX_KEYS];	/* >0 file line, 0 default,
						   -1 env */
};

static inline char **
conf_str(struct conf *c, const struct keydef *k)
{
	return (char **)(void *)((char *)c + k->off);
}

static inline int64_t *
conf_num(struct conf *c, const struct keydef *k)
{
	return (int64_t *)(void *)((char *)c + k->off);
}

static inline int
conf_is_str(enum ktype t)
{
	return t == K_STR || t == K_PATH || t == K_ADDR || t == K_OADDR ||
	    t == K_URL || t == K_TOKEN || t == K_SECRET || t == K_HEADERS;
}

/* A credential: its value never appears in an error. */
static inline int
conf_is_hidden(const struct keydef *k)
{
	return k->type == K_TOKEN || k->type == K_SECRET ||
	    k->type == K_HEADERS;
}

/* conf.c */
/* Set key k of c from text v. Returns NULL, or why v is refused. */
const char	*conf_set_value(struct conf *, const struct keydef *,
		    const char *v);
/* Format "FILE:LINE: KEY: why" or "environment OCT_KEY: why" into err. */
void	 conf_errf(char *err, size_t errlen, const struct origin *, size_t ki,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A refused value: quoted after why, unless it is a credential. */
void	 conf_refuse(char *err, size_t errlen, const struct origin *,
	    size_t ki, const char *why, const char *value);
/* The index of the key named by len bytes of name, or -1. */
int	 conf_find_key(const char *name, size_t len);
/* A path made absolute against conf_set_base()'s directory (malloc'd). */
char	*conf_absolute(const char *v, const struct keydef *);
/* The whole file (malloc'd, NUL-terminated), or NULL with why in err. */
char	*conf_read_file(const char *path, char *err, size_t errlen);

/* conf_value.c */
/* Decimal digits from s to end, no sign, no overflow. 0 or -1. */
int		 conf_digits(const char *s, const char *end, int64_t *out);
/* NULL, or why a push_hmac_secret is refused (never quoting it). */
const char	*conf_check_secret(const char *);
/* NULL, or why a push_headers list is refused (never quoting a value). */
const char	*conf_check_headers(const char *);

/* conf_text.c */
/* The lines of a file's text into c. 0, or -1 with err. */
int	 conf_parse_text(struct conf *, struct origin *, const char *text,
	    char *err, size_t errlen);
/* The OCT_* environment over c. 0, or -1 with err naming the variable. */
int	 conf_apply_env(struct conf *, struct origin *, char *err,
	    size_t errlen);

#endif
