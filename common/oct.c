/* oct.c: process names and clocks (see oct.h). */
#include "config.h"

#include <time.h>

#include "oct.h"

static const char *const proc_names[PROC_MAX] = {
	[PROC_SUPERVISOR] = "octd",
	[PROC_INGESTD] = "ingestd",
	[PROC_WRITERD] = "writerd",
	[PROC_PUSHD] = "pushd",
};

const char *
proc_name(enum proc_id id)
{
	if ((unsigned)id >= PROC_MAX)
		return "unknown";
	return proc_names[id];
}

static int64_t
clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}
