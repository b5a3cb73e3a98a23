/*
 * heap_tune.c - run the daemon with one malloc arena (a glibc tunable,
 * re-executing itself once to get it) and fault the heap's growth in
 * ahead, off the requests' path.
 *
 * Why: the hot tier keeps a small file's bytes in a malloc'd buffer sized
 * to them (hot.c), so creating 3 KiB files grows the heap by about a page
 * per file. In a FUSE worker thread that growth came from a per-thread
 * arena, which glibc grows one page at a time (an mprotect), and every new
 * page cost a page fault inside the request: measured on a 2-vCPU guest,
 * 0.98 page faults and ~40-80 us of daemon CPU per 3 KiB
 * create+write+close, nearly half of the daemon's time for that workload.
 * With a single arena, the heap is the brk area, grown by at least
 * M_TOP_PAD (128 KiB) at a time, and heap_tune_prefault() populates what
 * it grew by with one madvise (MADV_POPULATE_WRITE) after the reply of
 * the request that grew it, while the caller already goes on.
 * (Transparent huge pages did as well for the faults but cost 4-8 MiB
 * more RSS on a 100k-file mount.)
 *
 * How: glibc reads its tunables from GLIBC_TUNABLES once, when the program
 * starts, so they cannot be set from inside. heap_tune_exec() adds ours to
 * the environment (keeping any the user gave, which win: glibc takes the
 * last value of a repeated name, so the user's come after ours) and
 * re-executes its own binary (the path /proc/self/exe names, so that the
 * process keeps its name) with the same arguments, once (a marker variable
 * stops a second time). Descriptors, the pid and the working directory
 * carry over, so it must run first thing in main(), before any descriptor
 * is opened or thread started. If anything fails the daemon just runs on
 * with glibc's defaults.
 *
 * What it is not: an allocator, or needed for correctness. TIERFS_HEAP=
 * default in the environment turns it off (for comparisons).
 */
#include "heap_tune.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define HEAP_TUNABLES "glibc.malloc.arena_max=1"
#define HEAP_MARK "TIERFS_HEAP"

void heap_tune_exec(char **argv)
{
	const char *mark = getenv(HEAP_MARK);
	const char *user = getenv("GLIBC_TUNABLES");
	char exe[PATH_MAX], *val;
	ssize_t len;
	size_t n;

	if (mark)               /* done already, or turned off */
		return;
	n = strlen(HEAP_TUNABLES) + (user ? strlen(user) + 1 : 0) + 1;
	val = malloc(n);
	if (!val)
		return;
	snprintf(val, n, "%s%s%s", HEAP_TUNABLES, user ? ":" : "",
		 user ? user : "");
	/* By the binary's own path, not /proc/self/exe: the process name
	 * (comm: ps, pgrep -x tierfs) comes from the path executed. */
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0 && (size_t)len < sizeof(exe) - 1) {
		exe[len] = '\0';
		if (setenv("GLIBC_TUNABLES", val, 1) == 0 &&
		    setenv(HEAP_MARK, "tuned", 1) == 0)
			execv(exe, argv);
	}
	/* Still here: run untuned, with the user's environment. */
	if (user)
		setenv("GLIBC_TUNABLES", user, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	setenv(HEAP_MARK, "default", 1);
	free(val);
}

/* On a guest whose page tables the hypervisor shadows, the first store
 * to a page traps to the host even when the guest kernel has it mapped
 * (perf: 96 % of malloc's samples on the store of the new top chunk's
 * header). So after a growth, take up to HEAP_TOUCH_MAX of it from malloc
 * (a block from the top: ours to write), store to each of its pages here,
 * off the request's path, and give it back (it goes back to the top; the
 * top pad keeps it from being trimmed). Kept under the mmap threshold. */
#define HEAP_TOUCH_MAX (96 * 1024)

static void heap_touch(size_t len, uintptr_t page)
{
	volatile unsigned char *b;

	if (len > HEAP_TOUCH_MAX)
		len = HEAP_TOUCH_MAX;
	b = malloc(len);
	if (!b)
		return;
	for (size_t off = 0; off < len; off += page)
		b[off] = 0;
	free((void *)b);
}

/* The end of the heap already populated (0: not yet known). Threads race
 * for it harmlessly: populating a page twice is a no-op. */
static _Atomic uintptr_t populated;

void heap_tune_prefault(void)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t top = (uintptr_t)sbrk(0);     /* no system call */
	uintptr_t from = atomic_load_explicit(&populated,
					      memory_order_relaxed);

	if (top == from || top == (uintptr_t)-1)
		return;
	atomic_store_explicit(&populated, top, memory_order_relaxed);
	if (from == 0 || top < from)    /* first look, or the heap shrank */
		return;
	from &= ~(page - 1);
	madvise((void *)from, top - from, MADV_POPULATE_WRITE);
	heap_touch(top - from, page);
}
