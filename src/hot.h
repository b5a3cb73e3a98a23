/*
 * hot.h - the hot tier's RAM: chunk buffers and the budget they count
 * against.
 *
 * What it is: allocation of chunk buffers sized to their content (a 3 KiB
 * file costs ~3 KiB, not 64), a byte counter of all chunk memory, and the
 * list of resident (hot) inodes from which the eviction code picks the least
 * recently used. Full-size chunks come from a pool of pre-faulted 64 KiB
 * buffers carved from 2 MiB-aligned mappings (one transparent huge page
 * each where THP allows): a free buffer goes back to the pool while the
 * pool is small (one of a deleted file, hot_chunk_drop_gone, while pool
 * and chunks fit in the budget); the rest are unmapped at once, and every
 * hot_trim unmaps the buffers that sat in the pool since the one before,
 * so RSS follows the hot tier (within two policy ticks for deleted
 * files).
 * What it is not: the eviction policy. Deciding whom to demote and doing it
 * is fs_tier.c's job; hot only counts and lists.
 *
 * Locking: hot->lock is below inode->lock in the global order (inode.h).
 * The byte counter is atomic and needs no lock.
 */
#ifndef TIERFS_HOT_H
#define TIERFS_HOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tfs_inode;
struct hchunk;

struct hot {
	pthread_mutex_t lock;
	pthread_mutex_t pool_lock;      /* leaf */
	uint8_t **pool;                 /* protected by pool_lock: free
					   full-size buffers, pre-faulted */
	size_t npool, pool_cap;         /* protected by pool_lock */
	size_t excess;                  /* protected by pool_lock: buffers
					   on top of the pool waiting to be
					   unmapped together */
	size_t pool_min;                /* protected by pool_lock: fewest
					   free buffers since the last
					   hot_trim (those were idle) */
	_Atomic bool demand;            /* a full-size buffer was taken since
					   the last hot_prefill */
	_Atomic bool filling;           /* a hot_prefill is running */
	_Atomic uint64_t bytes;         /* RAM held by all chunks */
	_Atomic uint64_t max;           /* the budget (hot_max) */
	struct tfs_inode *head;         /* protected by lock: resident inodes */
	uint64_t nresident;             /* protected by lock */
};

int hot_init(struct hot *h, uint64_t max);
void hot_destroy(struct hot *h);

/* A chunk buffer with room for `need` bytes (cap rounded up), len 0.
 * NULL on ENOMEM. Adds cap to h->bytes. */
struct hchunk *hot_chunk_new(struct hot *h, uint32_t need);
/* Grow c to hold `need` bytes (keeps content, zero-fills nothing; the
 * header stays where it is). -ENOMEM leaves c untouched. Adjusts h->bytes. */
int hot_chunk_grow(struct hot *h, struct hchunk *c, uint32_t need);
/* Free a chunk (NULL ok) and subtract it from h->bytes. */
void hot_chunk_free(struct hot *h, struct hchunk *c);
/* Free chunk k of ino's RAM copy (nothing if there is none): the one place
 * that keeps ndirty, ram_bytes and the budget right when a chunk goes.
 * Caller holds ino->lock. */
void hot_chunk_drop(struct hot *h, struct tfs_inode *ino, uint64_t k);
/* The same for a file that is gone (deleted): its buffer is kept for the
 * next writer while the pool and the chunks fit in the budget (hot_trim
 * gives it back at the next tick otherwise). Caller holds ino->lock. */
void hot_chunk_drop_gone(struct hot *h, struct tfs_inode *ino, uint64_t k);
/* Free a chunk without accounting (shutdown, when the budget is gone). */
void hot_chunk_release(struct hchunk *c);
/* After a WRITE's reply (off the request's path): if full-size buffers
 * were taken since the last call, map and populate slabs until the pool
 * holds HOT_PREFILL free buffers (within the budget), so that the
 * writer's next WRITEs find them ready. One caller at a time (others
 * return at once); any thread. */
void hot_prefill(struct hot *h);
/* Give back to the system the memory freed by chunk frees (after a large
 * demotion) and the free buffer pool down to HOT_POOL_MAX, then half. */
void hot_trim(struct hot *h);

/* The resident list. Caller holds ino->lock (the order allows hot->lock
 * inside it). */
void hot_list_add(struct hot *h, struct tfs_inode *ino);
void hot_list_remove(struct hot *h, struct tfs_inode *ino);

/* Bytes over the budget's high watermark (0 when under). */
uint64_t hot_over(struct hot *h);
/* Bytes to free to get down to the low watermark. */
uint64_t hot_excess_low(struct hot *h);

#endif
