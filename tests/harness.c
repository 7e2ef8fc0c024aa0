/* harness.c: see harness.h. */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <sqlite3.h>
#include <strings.h>

#include "harness.h"
#include "key.h"

const char *
harness_bin(const char *name)
{
	static char	 path[8][1024];
	static int	 next;
	const char	*dir = getenv("OCT_BUILDDIR");
	char		*p = path[next++ % 8];

	snprintf(p, sizeof(path[0]), "%s/%s", dir != NULL ? dir : ".", name);
	return p;
}

int
harness_free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

void
harness_write_conf(struct octd_run *r, const char *extra)
{
	FILE *f = fopen(r->conf, "w");

	cr_assert(f != NULL, "create %s", r->conf);
	fprintf(f, "listen = 127.0.0.1:%d\ndata_dir = %s/data\n"
	    "log_dir = %s/log\nrun_dir = %s/run\nmetrics_interval_ms = 0\n%s",
	    r->port, r->dir, r->dir, r->dir, extra != NULL ? extra : "");
	fclose(f);
}

void
harness_setup(struct octd_run *r, const char *extra)
{
	memset(r, 0, sizeof(*r));
	harness_tmpdir(r->dir, sizeof(r->dir), "test");
	snprintf(r->conf, sizeof(r->conf), "%s/oct.conf", r->dir);
	r->port = harness_free_port();
	harness_write_conf(r, extra);
}

static int
workers_ready(void *arg)
{
	struct octd_run	*r = arg;
	char		 path[512];

	snprintf(path, sizeof(path), "%s/log/octd.log", r->dir);
	return harness_reaped(r) || harness_count(path, "] ready") >= 3;
}

void
harness_start(struct octd_run *r)
{
	harness_launch(r, NULL);
	/*
	 * Alone, under ASan too, all three are ready within 2 s; 30 s bounds
	 * a start that will not come when the sanitizer suites run two at a
	 * time beside Criterion's own two jobs (10 s was once not enough).
	 */
	cr_assert(harness_wait(workers_ready, r, 30000) && r->pid != 0,
	    "octd did not get its three workers ready (%s)", r->pid == 0 ?
	    "it exited" : "timeout");
}

int
harness_reaped(struct octd_run *r)
{
	if (r->pid == 0)
		return 1;
	if (waitpid(r->pid, &r->status, WNOHANG) == r->pid) {
		r->pid = 0;
		return 1;
	}
	return 0;
}

static int
reaped_cond(void *arg)
{
	return harness_reaped(arg);
}

void
harness_teardown(struct octd_run *r)
{
	if (r->pid > 0) {
		kill(-r->pid, SIGKILL);
		harness_wait(reaped_cond, r, 5000);
	}
	harness_rmdir(r->dir);
}

int
harness_wait(int (*cond)(void *), void *arg, int ms)
{
	struct timespec	ts = { 0, 10 * 1000000 };
	int		i;

	for (i = 0; i <= ms / 10; i++) {
		if (cond(arg))
			return 1;
		nanosleep(&ts, NULL);
	}
	return cond(arg);
}

pid_t
harness_child(pid_t ppid, const char *name)
{
	DIR		*d = opendir("/proc");
	struct dirent	*de;
	char		 path[300], buf[512], *comm, *end;
	FILE		*f;
	long		 parent;
	pid_t		 found = 0;
	char		 state;

	if (d == NULL)
		return 0;
	while (found == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (comm = strchr(buf, '(')) != NULL &&
		    (end = strrchr(buf, ')')) != NULL &&
		    sscanf(end + 1, " %c %ld", &state, &parent) == 2 &&
		    parent == ppid && state != 'Z') {
			*end = '\0';
			if (strcmp(comm + 1, name) == 0)
				found = (pid_t)atol(de->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

pid_t
harness_worker(struct octd_run *r, const char *name)
{
	char comm[32];

	snprintf(comm, sizeof(comm), "oct-%s", name);
	return harness_child(r->pid, comm);
}

const char *
harness_log(struct octd_run *r, const char *name)
{
	static char	 p[4][600];
	static int	 n;
	char		*s = p[n++ % 4];

	snprintf(s, sizeof(p[0]), "%s/log/%s.log", r->dir, name);
	return s;
}

char *
harness_slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf = NULL;
	size_t	 len = 0, n;

	if (f == NULL)
		return NULL;
	do {
		char *nb = realloc(buf, len + 65536 + 1);
		if (nb == NULL)
			break;
		buf = nb;
		n = fread(buf + len, 1, 65536, f);
		len += n;
	} while (n > 0);
	fclose(f);
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

int
harness_count(const char *path, const char *needle)
{
	char	*text = harness_slurp(path), *p, *line;
	int	 n = 0;

	if (text == NULL)
		return 0;
	for (line = text; line != NULL && *line != '\0'; line = p) {
		if ((p = strchr(line, '\n')) != NULL)
			*p++ = '\0';
		if (strstr(line, needle) != NULL)
			n++;
	}
	free(text);
	return n;
}

int
harness_run(char *const argv[], char *out, size_t outlen)
{
	return harness_run_out(argv, 1, out, outlen);
}

/* Append to a NUL-terminated buffer of a fixed size (a struct field). */
struct sink {
	char	*buf;
	size_t	 cap;
};

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct sink	*k = arg;
	size_t		 have = strlen(k->buf), add = size * n;

	if (have + add >= k->cap)
		add = have < k->cap - 1 ? k->cap - 1 - have : 0;
	memcpy(k->buf + have, p, add);
	k->buf[have + add] = '\0';
	return size * n;
}

int
http_req(int port, const char *method, const char *path, const char *body,
    size_t len, const char *const *headers, struct http_res *res)
{
	CURL			*c = curl_easy_init();
	struct curl_slist	*hl = NULL;
	char			 url[512];
	int			 have_ct = 0, r;
	struct sink		 body_sink = { res->body, sizeof(res->body) };
	struct sink		 head_sink = { res->headers, sizeof(res->headers) };

	memset(res, 0, sizeof(*res));
	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	for (; headers != NULL && *headers != NULL; headers++) {
		hl = curl_slist_append(hl, *headers);
		if (strncasecmp(*headers, "Content-Type:", 13) == 0)
			have_ct = 1;
	}
	if (!have_ct && body != NULL)
		hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body_sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &head_sink);
	r = curl_easy_perform(c) == CURLE_OK ? 0 : -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return r;
}

int
http_post(int port, const char *path, const char *json, struct http_res *res)
{
	return http_req(port, "POST", path, json, strlen(json), NULL, res);
}

long long
db_int(struct octd_run *r, const char *sql)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/data/oct.db", r->dir);
	return file_int(path, sql);
}

void
harness_pubkey(struct octd_run *r, char *out, size_t len)
{
	struct key	k;
	char		path[512], err[512];

	snprintf(path, sizeof(path), "%s/data/signing.key", r->dir);
	cr_assert_eq(key_load(path, &k, err, sizeof(err)), 0, "%s", err);
	key_pub_b64(&k, out, len);
}

static int
port_open(void *arg)
{
	struct sockaddr_in	sin;
	int			fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)*(int *)arg);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

pid_t
harness_receiver(const char *db, const char *pubkey, int *port)
{
	char	listen[64];
	pid_t	pid;

	*port = harness_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(harness_bin("oct-receiver"), "oct-receiver", "--listen",
		    listen, "--db", db, "--pubkey", pubkey, (char *)NULL);
		_exit(127);
	}
	cr_assert(harness_wait(port_open, port, 5000), "receiver not up");
	return pid;
}

long long
file_int(const char *path, const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	long long	 v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

struct blocked {
	struct octd_run	*run;
	const char	*want;
	pid_t		 old;
};

static int
spawn_refused(void *arg)
{
	struct blocked	*b = arg;
	char		 path[600];

	snprintf(path, sizeof(path), "%s/log/octd.log", b->run->dir);
	return harness_count(path, b->want) >= 2;
}

static int
pushd_back(void *arg)
{
	struct blocked	*b = arg;
	pid_t		 now = harness_worker(b->run, "pushd");

	return now != 0 && now != b->old;
}

/*
 * prlimit(pid, resource, set, get) as the user pid runs as: without
 * CAP_SYS_RESOURCE (as in many containers) root may not read or change
 * the limits of another user's process; that user may. Returns 0 or an
 * errno.
 */
static int
limit_as_owner(pid_t pid, int resource, const struct rlimit *set,
    struct rlimit *get)
{
	struct rlimit	rl;
	struct stat	st;
	char		path[64];
	pid_t		child;
	int		status, fds[2];

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	if (stat(path, &st) == -1 || pipe(fds) == -1)
		return errno;
	if ((child = fork()) == 0) {
		if (st.st_uid != geteuid() && (setgroups(1, &st.st_gid) == -1 ||
		    setgid(st.st_gid) == -1 || setuid(st.st_uid) == -1))
			_exit(errno);
		if (prlimit(pid, resource, set, &rl) == -1)
			_exit(errno);
		_exit(write(fds[1], &rl, sizeof(rl)) == sizeof(rl) ? 0 : EIO);
	}
	close(fds[1]);
	if (child == -1 || waitpid(child, &status, 0) != child ||
	    !WIFEXITED(status)) {
		close(fds[0]);
		return ECHILD;
	}
	if (WEXITSTATUS(status) == 0 && get != NULL &&
	    read(fds[0], get, sizeof(*get)) != sizeof(*get))
		status = EIO << 8;
	close(fds[0]);
	return WEXITSTATUS(status);
}

void
harness_spawn_blocked(struct octd_run *r, int resource, const char *want)
{
	struct blocked	b = { r, want, harness_worker(r, "pushd") };
	struct rlimit	old, none;

	cr_assert_neq(b.old, 0);
	cr_assert_eq(limit_as_owner(r->pid, resource, NULL, &old), 0);
	none = old;
	none.rlim_cur = 0;
	cr_assert_eq(limit_as_owner(r->pid, resource, &none, NULL), 0);
	cr_assert_eq(kill(b.old, SIGKILL), 0);
	cr_assert(harness_wait(spawn_refused, &b, 5000), "no two \"%s\" in "
	    "octd.log", want);
	cr_assert(!harness_reaped(r), "octd goes on");
	cr_assert_eq(harness_worker(r, "pushd"), 0);
	cr_assert_eq(limit_as_owner(r->pid, resource, &old, NULL), 0);
	cr_assert(harness_wait(pushd_back, &b, 10000), "pushd started again");
}

void
harness_tmpdir(char *dir, size_t len, const char *what)
{
	cr_assert((size_t)snprintf(dir, len, "/tmp/oct-%s-XXXXXX", what) < len);
	cr_assert(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
}

void
harness_rmdir(const char *dir)
{
	char cmd[600];

	if (dir[0] == '\0' || getenv("OCT_KEEP_TEST_DIRS") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

void
harness_launch(struct octd_run *r, int (*prepare)(void))
{
	pid_t	pid;
	int	null;

	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		setpgid(0, 0);
		/* a test killed on timeout takes its octd (and workers) along */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((null = open("/dev/null", O_RDWR)) != -1) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		if (prepare == NULL || prepare() == 0)
			execl(harness_bin("octd"), "octd", "-f", "-c", r->conf,
			    (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	r->pid = pid;
}

int
harness_run_out(char *const argv[], int with_stderr, char *out, size_t outlen)
{
	int	 fds[2], status, null;
	size_t	 len = 0;
	ssize_t	 n;
	pid_t	 pid;

	cr_assert(pipe(fds) == 0);
	pid = fork();
	cr_assert(pid != -1);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		if (with_stderr)
			dup2(fds[1], STDERR_FILENO);
		else if ((null = open("/dev/null", O_WRONLY)) != -1)
			dup2(null, STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < outlen &&
	    (n = read(fds[0], out + len, outlen - len - 1)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	cr_assert(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether text holds every fact of ap (up to NULL). */
static int
has_all(const char *text, va_list ap)
{
	const char *fact;

	while ((fact = va_arg(ap, const char *)) != NULL)
		if (strstr(text, fact) == NULL)
			return 0;
	return 1;
}

int
harness_count_facts(const char *path, ...)
{
	char	*text = harness_slurp(path), *p, *line;
	va_list	 ap;
	int	 n = 0;

	if (text == NULL)
		return 0;
	for (line = text; line != NULL && *line != '\0'; line = p) {
		if ((p = strchr(line, '\n')) != NULL)
			*p++ = '\0';
		va_start(ap, path);
		n += has_all(line, ap);
		va_end(ap);
	}
	free(text);
	return n;
}

int
harness_has_facts(const char *text, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, text);
	r = text != NULL && has_all(text, ap);
	va_end(ap);
	return r;
}

const char *
harness_who(const char *name, long pid)
{
	static char	buf[8][64];
	static int	next;
	char		*p = buf[next++ % 8];

	snprintf(p, sizeof(buf[0]), "%s[%ld]", name, pid);
	return p;
}

int
harness_replaced(void *arg)
{
	struct harness_replace	*w = arg;
	pid_t			 now = harness_worker(w->run, w->name);

	return now != 0 && now != w->old;
}

void
harness_node_modules(const char *need, const char *what, char *out,
    size_t len)
{
	const char	*env = getenv("OCT_NODE_MODULES");
	const char	*src = getenv("OCT_SRCDIR");
	char		 path[4500];
	struct stat	 sb;

	if (env != NULL && *env != '\0')
		snprintf(out, len, "%s", env);
	else
		snprintf(out, len, "%s/build/npm/node_modules",
		    src != NULL ? src : "..");
	snprintf(path, sizeof(path), "%s/%s", out, need);
	cr_assert(stat(path, &sb) == 0, "%s not in %s: run scripts/bootstrap "
	    "(it installs them with scripts/npm-modules), or set "
	    "OCT_NODE_MODULES", what, out);
}

double
harness_metric(int port, const char *name)
{
	struct http_res	 r;
	char		 want[200], *p;

	if (http_req(port, "GET", "/metrics", NULL, 0, NULL, &r) == -1 ||
	    r.status != 200)
		return -1;
	snprintf(want, sizeof(want), "\n%s ", name);
	if ((p = strstr(r.body, want)) == NULL)
		return -1;
	return atof(p + strlen(want));
}

#define ROW_CONDS	16		/* pairs of a harness_db_count() */

/* The conditions of a harness_db_count() call: column, value, ... */
struct row_conds {
	const char	*cv[2 * ROW_CONDS];
	int		 n;		/* pairs */
};

static void
row_conds(va_list ap, struct row_conds *c)
{
	const char *col;

	for (c->n = 0; (col = va_arg(ap, const char *)) != NULL; c->n++) {
		cr_assert_lt(c->n, ROW_CONDS, "more than %d conditions",
		    ROW_CONDS);
		c->cv[2 * c->n] = col;
		c->cv[2 * c->n + 1] = va_arg(ap, const char *);
	}
}

/* Append s to sql at *off (< len) as an SQL literal, its quotes doubled. */
static void
row_literal(char *sql, size_t len, size_t *off, const char *s)
{
	char	q[512];
	size_t	n = 0;

	for (; *s != '\0' && n + 2 < sizeof(q); s++) {
		if (*s == '\'')
			q[n++] = '\'';
		q[n++] = *s;
	}
	cr_assert(*s == '\0', "a condition's value over %zu bytes", sizeof(q));
	q[n] = '\0';
	*off += (size_t)snprintf(sql + *off, len - *off, " '%s'", q);
}

/*
 * db_int() of SELECT what FROM table WHERE the conditions: the first
 * row's first column, -1 if no row or on error. A column is a name, then
 * maybe " >" or " <"; a value is a quoted literal (with no affinity of its
 * own, it is compared as the column's type).
 */
static long long
row_query(struct octd_run *r, const char *what, const char *table,
    const struct row_conds *c)
{
	char	 sql[2048], col[64], *op;
	size_t	 off;
	int	 i;

	off = (size_t)snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE 1",
	    what, table);
	for (i = 0; i < c->n && off < sizeof(sql); i++) {
		snprintf(col, sizeof(col), "%s", c->cv[2 * i]);
		if ((op = strchr(col, ' ')) != NULL)
			*op++ = '\0';
		cr_assert(col[strspn(col, "abcdefghijklmnopqrstuvwxyz_")] ==
		    '\0' && (op == NULL || strcmp(op, ">") == 0 ||
		    strcmp(op, "<") == 0), "condition \"%s\"", c->cv[2 * i]);
		if (c->cv[2 * i + 1] == NULL) {
			off += (size_t)snprintf(sql + off, sizeof(sql) - off,
			    " AND %s IS NULL", col);
			continue;
		}
		off += (size_t)snprintf(sql + off, sizeof(sql) - off,
		    " AND %s %s", col, op != NULL ? op : "=");
		if (off < sizeof(sql))
			row_literal(sql, sizeof(sql), &off, c->cv[2 * i + 1]);
	}
	cr_assert_lt(off, sizeof(sql), "query too long");
	return db_int(r, sql);
}

long long
harness_db_count(struct octd_run *r, const char *table, ...)
{
	struct row_conds	c;
	va_list			ap;

	va_start(ap, table);
	row_conds(ap, &c);
	va_end(ap);
	return row_query(r, "count(*)", table, &c);
}

long long
harness_db_distinct(struct octd_run *r, const char *table,
    const char *column, ...)
{
	struct row_conds	c;
	va_list			ap;
	char			what[96];

	va_start(ap, column);
	row_conds(ap, &c);
	va_end(ap);
	snprintf(what, sizeof(what), "count(DISTINCT %s)", column);
	return row_query(r, what, table, &c);
}

long long
harness_db_value(struct octd_run *r, const char *table,
    const char *column, ...)
{
	struct row_conds	c;
	va_list			ap;

	va_start(ap, column);
	row_conds(ap, &c);
	va_end(ap);
	return row_query(r, column, table, &c);
}

struct count_wait {
	struct octd_run		*run;
	const char		*table;
	struct row_conds	 c;
	long long		 want;
};

static int
count_reached(void *arg)
{
	struct count_wait *w = arg;

	return row_query(w->run, "count(*)", w->table, &w->c) == w->want;
}

int
harness_db_wait(struct octd_run *r, int ms, long long want,
    const char *table, ...)
{
	struct count_wait	w = { r, table, { { 0 }, 0 }, want };
	va_list			ap;

	va_start(ap, table);
	row_conds(ap, &w.c);
	va_end(ap);
	return harness_wait(count_reached, &w, ms);
}

long long
harness_db_commits(struct octd_run *r)
{
	struct row_conds c = { { 0 }, 0 };

	return row_query(r, "sum(commits)", "ingest_cursor", &c);
}
