/* retry.c: backoff arithmetic for the push loop (see push.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "push.h"

#define RETRY_AFTER_MAX_MS	(3600 * 1000LL)

int64_t
retry_backoff(int64_t base, int64_t cap, int64_t attempts)
{
	int64_t ceiling = base;

	while (attempts-- > 0 && ceiling < cap)
		ceiling *= 2;
	if (ceiling > cap)
		ceiling = cap;
	if (ceiling <= 0)
		return 0;
	/* uniform over [0, ceiling] */
	return (int64_t)randombytes_uniform((uint32_t)(ceiling > 0xfffffffeLL ?
	    0xfffffffeLL : ceiling) + 1);
}

int64_t
retry_after_ms(const char *v, int64_t now)
{
	struct tm	tm;
	char		*end;
	long long	secs;
	int64_t		ms;

	if (v == NULL || *v == '\0')
		return -1;
	secs = strtoll(v, &end, 10);
	if (end != v && (*end == '\0' || *end == ' ' || *end == '\r')) {
		if (secs < 0)
			return -1;
		ms = secs > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS :
		    secs * 1000;
		return ms;
	}
	memset(&tm, 0, sizeof(tm));
	if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
		return -1;
	ms = (int64_t)timegm(&tm) * 1000 - now;
	if (ms < 0)
		ms = 0;
	return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
}
