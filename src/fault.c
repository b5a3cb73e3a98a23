/* fault.c - see fault.h. */
#include "fault.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void fault_point(const char *name)
{
	/* Count of hits of the armed point; the only state, and only used
	 * when a test sets TIERFS_FAULT. */
	static _Atomic long hits;
	const char *want = getenv("TIERFS_FAULT");
	size_t n = strlen(name);
	long nth = 1;

	if (!want || strncmp(want, name, n) || (want[n] && want[n] != ':'))
		return;
	if (want[n] == ':')
		nth = strtol(want + n + 1, NULL, 10);
	if (atomic_fetch_add(&hits, 1) + 1 < nth)
		return;
	tfs_warn("fault injection: killed at %s", name);
	kill(getpid(), SIGKILL);
	pause();
}
