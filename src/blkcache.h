/*
 * blkcache.h - a bounded LRU cache of decoded cold blocks, shared by every
 * cold read.
 *
 * What it is: a map (archive id, block number) -> decoded bytes, bounded in
 * bytes, evicting least recently used. Entries are reference counted so a
 * reader can copy out of a block after the lock is dropped while another
 * thread evicts it. The map is sharded so that two threads reading
 * different blocks rarely meet on one lock; decoding is always done by the
 * caller outside any cache lock.
 *
 * Single flight: blkcache_get_or_claim() lets exactly one thread decode a
 * missing block (it holds the block's claim until blkcache_insert() or
 * blkcache_abandon()); other threads missing the same block wait for that
 * decode instead of repeating it. blkcache_try_claim() is the non-blocking
 * form for read-ahead: it claims only a block nobody has or is decoding.
 * A thread must never wait for a claim while it holds one.
 *
 * What it is not: a decoder; it stores what it is given.
 */
#ifndef TIERFS_BLKCACHE_H
#define TIERFS_BLKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blkcache;

struct blkcache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t decodes;       /* blocks decoded by xzarc (cache or not) */
	uint64_t joins;         /* misses that waited for another thread's
				   decode of the same block (single flight) */
	uint64_t bytes;         /* currently cached */
	uint64_t capacity;
	uint64_t pool_buffers;  /* free block buffers kept for reuse */
};

/* A cached block, pinned until blkcache_put(). */
struct blkcache_ent {
	const uint8_t *data;
	size_t len;
};

int blkcache_create(struct blkcache **out, uint64_t capacity);
void blkcache_destroy(struct blkcache **c);
/* Change the capacity (evicting at once if it shrank). */
void blkcache_set_capacity(struct blkcache *c, uint64_t capacity);
/* Look up; on a hit returns a pinned entry (counted as a hit), else NULL
 * (counted as a miss). */
const struct blkcache_ent *blkcache_get(struct blkcache *c, uint64_t arc,
					uint64_t block);
/* Buffers for blocks: blkcache_buf_alloc(c, len) (NULL when out of
 * memory), freed with blkcache_buf_free(c, p, len) with the same len (c
 * may be NULL for both: no pooling). Large buffers are mapped with their
 * pages populated in one system call: a block decoded into fresh malloc'd
 * memory took one page fault per 4 KiB, about a third of a cold miss's
 * CPU time on this project's VMs. Freed large buffers are kept in a small
 * pool of c's (at most 8 MiB) and handed out again for the same len, so a
 * sequential read does not map and unmap a block per block. */
uint8_t *blkcache_buf_alloc(struct blkcache *c, size_t len);
void blkcache_buf_free(struct blkcache *c, uint8_t *p, size_t len);
/* After a reply: if a large buffer was handed out since the last call and
 * the pool holds fewer than two of its size, have them made, their pages
 * already written, and pooled, so that the next miss does not decode into
 * fresh pages (see blkcache.c: on shadowed page tables each first store
 * to a page traps to the host). Done on the cache's own thread (started
 * at the first call that has something to do; in the caller if it cannot
 * be started), so the caller goes on at once. Cheap when there is nothing
 * to do (one atomic load); c may be NULL. */
void blkcache_buf_prepare_later(struct blkcache *c);

/* Insert a freshly decoded block (the cache takes ownership of `data`,
 * from blkcache_buf_alloc(c, len)) and return it pinned; releases the
 * block's claim, if any, and wakes its waiters. If (arc, block) is already cached, `data`
 * is freed and the cached entry returned. NULL (data freed) only when out of
 * memory. */
const struct blkcache_ent *blkcache_insert(struct blkcache *c, uint64_t arc,
					   uint64_t block, uint8_t *data,
					   size_t len);
/* The same for a block whose len bytes lie at offset off of a buffer mem
 * of mem_len bytes (from blkcache_buf_alloc(c, mem_len)): a stored xz
 * block is used where it was read, between its header and its check. The
 * entry's data is mem + off; the whole buffer is freed with it. */
const struct blkcache_ent *blkcache_insert_in(struct blkcache *c,
					      uint64_t arc, uint64_t block,
					      uint8_t *mem, size_t mem_len,
					      size_t off, size_t len);
/* Look up; on a hit returns a pinned entry. On a miss: if another thread is
 * decoding the block, waits for it and returns its entry (or, if it gave up,
 * tries again); otherwise claims the block and returns NULL with *claimed
 * set: the caller must then blkcache_insert() or blkcache_abandon() it. */
const struct blkcache_ent *blkcache_get_or_claim(struct blkcache *c,
						 uint64_t arc, uint64_t block,
						 bool *claimed);
/* Claim (arc, block) for decoding if it is neither cached nor claimed.
 * True: the caller holds the claim (insert or abandon it). Not counted as
 * a hit or miss. */
bool blkcache_try_claim(struct blkcache *c, uint64_t arc, uint64_t block);
/* Give a claim back without a block (the decode failed); waiters retry. */
void blkcache_abandon(struct blkcache *c, uint64_t arc, uint64_t block);
void blkcache_put(struct blkcache *c, const struct blkcache_ent *e);
/* Drop every block of archive `arc` (when it is deleted). */
void blkcache_drop_arc(struct blkcache *c, uint64_t arc);
void blkcache_count_decode(struct blkcache *c);
/* Count a miss of a block the caller reads without the cache (xzarc's
 * stored blocks on a local store): not cached, so every read of it is a
 * miss. c may be NULL. */
void blkcache_count_miss(struct blkcache *c);
void blkcache_get_stats(struct blkcache *c, struct blkcache_stats *out);

#endif
