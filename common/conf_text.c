/*
 * conf_text.c: the configuration as text: the lines of a file and the
 * OCT_* environment read into a struct conf, the dump octd sends its
 * workers (read back by conf_load_text), the reload diff, and
 * conf_peek(). Built for a file of a few dozen lines.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "oct.h"

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
	if ((ki = conf_find_key(name, nlen)) == -1) {
		snprintf(err, errlen, "%s:%d: %.*s: unknown key", o->file,
		    lineno, (int)nlen, name);
		return -1;
	}
	if (o->line[ki] > 0) {
		snprintf(err, errlen, "%s:%d: %s: repeated key (first set on "
		    "line %d)", o->file, lineno, conf_keys[ki].name, o->line[ki]);
		return -1;
	}
	o->line[ki] = lineno;
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	/* A malformed value is not quoted: value holds only part of it. */
	if ((why = read_value(p, value, sizeof(value))) != NULL) {
		conf_errf(err, errlen, o, (size_t)ki, "%s", why);
		return -1;
	}
	if ((why = conf_set_value(c, &conf_keys[ki], value)) != NULL) {
		conf_refuse(err, errlen, o, (size_t)ki, why, value);
		return -1;
	}
	return 0;
}

/*
 * Apply every line of text (a whole file; CRLF is accepted) to c. Returns
 * 0, or -1 at the first bad line with err naming FILE:LINE.
 */
int
conf_parse_text(struct conf *c, struct origin *o, const char *text, char *err,
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

int
conf_apply_env(struct conf *c, struct origin *o, char *err, size_t errlen)
{
	char		 var[64], *v;
	const char	*why;
	size_t		 i, j;

	for (i = 0; i < conf_nkeys; i++) {
		snprintf(var, sizeof(var), "OCT_");
		for (j = 0; conf_keys[i].name[j] != '\0' && j + 5 < sizeof(var); j++)
			var[4 + j] = (char)toupper((unsigned char)conf_keys[i].name[j]);
		var[4 + j] = '\0';
		if ((v = getenv(var)) == NULL)
			continue;
		o->line[i] = -1;
		if ((why = conf_set_value(c, &conf_keys[i], v)) != NULL) {
			conf_refuse(err, errlen, o, i, why, v);
			return -1;
		}
	}
	return 0;
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

	if (conf_is_str(k->type)) {
		val[n++] = '"';
		for (s = *conf_str(c, k); *s != '\0' && n + 3 < sizeof(val); s++) {
			if (*s == '"' || *s == '\\')
				val[n++] = '\\';
			val[n++] = *s;
		}
		val[n++] = '"';
		val[n] = '\0';
	} else {
		v = *conf_num(c, k);
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

	for (i = 0; i < conf_nkeys; i++) {
		if (dump_one(&buf, &len, &conf_keys[i], (struct conf *)c) == -1) {
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

	for (i = 0; i < conf_nkeys; i++) {
		if (conf_is_str(conf_keys[i].type) ?
		    strcmp(*conf_str(ca, &conf_keys[i]), *conf_str(cb, &conf_keys[i])) :
		    *conf_num(ca, &conf_keys[i]) != *conf_num(cb, &conf_keys[i]))
			mask |= conf_keys[i].procs;
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

	for (i = 0; i < conf_nkeys; i++)
		if (conf_is_str(conf_keys[i].type))
			free(*conf_str(c, &conf_keys[i]));
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

	if ((ki = conf_find_key(key, strlen(key))) == -1)
		return -1;
	snprintf(env, sizeof(env), "OCT_");
	for (i = 0; key[i] != '\0' && i + 5 < sizeof(env); i++)
		env[4 + i] = (char)toupper((unsigned char)key[i]);
	env[4 + i] = '\0';
	if ((found = getenv(env)) == NULL && path != NULL &&
	    (text = conf_read_file(path, err, sizeof(err))) != NULL) {
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
			abs = conf_keys[ki].type == K_PATH ?
			    conf_absolute(value, &conf_keys[ki]) :
			    strdup(value);
			snprintf(out, len, "%s", abs != NULL ? abs : value);
			free(abs);
			free(text);
			return 0;
		}
		free(text);
	}
	if (found == NULL)
		found = conf_keys[ki].def;
	abs = conf_keys[ki].type == K_PATH ? conf_absolute(found, &conf_keys[ki]) :
	    strdup(found);
	snprintf(out, len, "%s", abs != NULL ? abs : found);
	free(abs);
	return 0;
}
