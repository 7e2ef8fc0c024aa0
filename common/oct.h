/*
 * oct.h: the few names every oct program shares: the version, the process
 * ids (the supervisor's process table is indexed by them) and the clock.
 */
#ifndef OCT_OCT_H
#define OCT_OCT_H

#include <stdint.h>

#define OCT_VERSION	PACKAGE_VERSION

enum proc_id {
	PROC_SUPERVISOR,
	PROC_INGESTD,
	PROC_WRITERD,
	PROC_PUSHD,
	PROC_MAX
};

#define PROC_BIT(id)	(1u << (id))
#define PROC_WORKERS	(PROC_BIT(PROC_INGESTD) | PROC_BIT(PROC_WRITERD) | \
			 PROC_BIT(PROC_PUSHD))
#define PROC_ALL	(PROC_WORKERS | PROC_BIT(PROC_SUPERVISOR))

const char	*proc_name(enum proc_id);	/* "octd", "ingestd", ... */
int64_t		 now_ms(void);			/* wall clock, Unix ms */
int64_t		 mono_ms(void);			/* monotonic clock, ms */

#endif
