/*
 * fuzz_retry_after.c: libFuzzer target for the Retry-After parser,
 * retry_after_ms() of the push engine (push/retry.c): a collector's header value,
 * seconds or an HTTP date, to how long pushd waits.
 *
 * The input is the header's value (pushd cuts it at CR or LF and to 63
 * bytes; the target passes it whole, up to a NUL). Beyond no crash or
 * undefined behaviour: the answer is -1 (none) or 0 to one hour, at any
 * clock (so for a date far in the past or future too).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "push.h"

#define HOUR_MS	(3600 * 1000LL)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t	 clocks[] = { 0, FUZZ_NOW * 1000,
				    INT64_MAX / 2 };
	char			*v;
	int64_t			 ms;
	size_t			 i;

	if ((v = strndup((const char *)data, size)) == NULL)
		return 0;
	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		ms = retry_after_ms(v, clocks[i]);
		if (ms != -1 && (ms < 0 || ms > HOUR_MS)) {
			fprintf(stderr, "fuzz_retry_after: %lld ms at %lld\n",
			    (long long)ms, (long long)clocks[i]);
			abort();
		}
	}
	free(v);
	return 0;
}
