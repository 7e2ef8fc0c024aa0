/*
 * urlcheck.c: octd judges push_url as octctl does, with libcurl's own URL
 * parser (url.c), but without mapping libcurl: loading it and the thirty
 * libraries it brings (TLS, Kerberos, LDAP) relocates their tables and
 * runs their constructors, 1.2 MiB of octd's private memory for the life
 * of a process that never speaks HTTP. A child forked for the check loads
 * it, writes its answer to a pipe and exits; octd checks a non-empty
 * push_url only at start and on reload, so a fork each time is cheap.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "supervisor.h"
#include "url.h"

/* The soname of the libcurl the build was made against. */
#define LIBCURL		"libcurl.so.4"

/* In the child: the check with a loaded libcurl; why, or "" if none. */
static const char *
check_loaded(const char *url, int allow_insecure)
{
	struct url_curl	 c;
	void		*h;

	if ((h = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return "cannot be checked: " LIBCURL " does not load";
	c.url = (__typeof__(c.url))dlsym(h, "curl_url");
	c.set = (__typeof__(c.set))dlsym(h, "curl_url_set");
	c.get = (__typeof__(c.get))dlsym(h, "curl_url_get");
	c.cleanup = (__typeof__(c.cleanup))dlsym(h, "curl_url_cleanup");
	c.free = (__typeof__(c.free))dlsym(h, "curl_free");
	if (c.url == NULL || c.set == NULL || c.get == NULL ||
	    c.cleanup == NULL || c.free == NULL)
		return "cannot be checked: " LIBCURL " has no URL API";
	url = url_check_with(&c, url, allow_insecure);
	return url == NULL ? "" : url;
}

const char *
url_check_apart(const char *url, int allow_insecure)
{
	static char	 why[512];
	const char	*w;
	size_t		 len = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 fd[2], status;

	if (*url == '\0')
		return NULL;
	if (pipe2(fd, O_CLOEXEC) == -1)
		return "cannot be checked: no pipe";
	if ((pid = fork()) == -1) {
		close(fd[0]);
		close(fd[1]);
		return "cannot be checked: no fork";
	}
	if (pid == 0) {
		close(fd[0]);
		w = check_loaded(url, allow_insecure);
		_exit(write(fd[1], w, strlen(w)) == (ssize_t)strlen(w) ? 0 : 1);
	}
	close(fd[1]);
	while (len < sizeof(why) - 1) {
		n = read(fd[0], why + len, sizeof(why) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd[0]);
	why[len] = '\0';
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return "cannot be checked: the check was lost";
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return "cannot be checked: the check failed";
	return len == 0 ? NULL : why;
}
