/*
 * heap_tune.c - run the daemon with one malloc arena (mallopt
 * M_ARENA_MAX) and fault the heap's growth in ahead, off the requests'
 * path.
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
 * How: mallopt(M_ARENA_MAX, 1) first thing in main(), before any thread
 * exists (glibc fixes the number of arenas the first time a second thread
 * allocates): the same setting as the glibc.malloc.arena_max=1 tunable,
 * without re-executing the daemon to get it (an earlier version did, by
 * GLIBC_TUNABLES). It overrides an arena_max given in GLIBC_TUNABLES (the
 * other tunables apply); TIERFS_HEAP=default in the environment leaves
 * malloc as glibc sets it up (for comparisons).
 *
 * What it is not: an allocator, or needed for correctness.
 */
#include "heap_tune.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void heap_tune_init(void)
{
	const char *mode = getenv("TIERFS_HEAP");

	if (mode && strcmp(mode, "default") == 0)
		return;
	(void)mallopt(M_ARENA_MAX, 1);  /* 0 on failure: glibc's default */
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
	uintptr_t top = (uintptr_t)sbrk(0);     /* no system call */
	uintptr_t from = atomic_load_explicit(&populated,
					      memory_order_relaxed);
	uintptr_t page;

	if (top == from || top == (uintptr_t)-1)
		return;         /* the common case: every WRITE asks */
	atomic_store_explicit(&populated, top, memory_order_relaxed);
	if (from == 0 || top < from)    /* first look, or the heap shrank */
		return;
	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	from &= ~(page - 1);
	madvise((void *)from, top - from, MADV_POPULATE_WRITE);
	heap_touch(top - from, page);
}
