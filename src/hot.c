/*
 * hot.c - see hot.h.
 *
 * Chunk memory: a buffer for a small file is rounded up to 256 bytes and
 * comes from malloc; one that grows past half a chunk gets the full chunk
 * size at once (sequential writers would otherwise realloc many times).
 * Full-size buffers come from a pool: an empty pool is refilled with one
 * 2 MiB anonymous mapping, populated at once (one mmap and one fault pass
 * for 32 buffers instead of one each), cut into 64 KiB buffers. A freed
 * buffer goes back to the pool while it holds fewer than HOT_POOL_MAX, and
 * a recycled one (a deleted file's) while the pool and the chunks in use
 * together fit in hot_max (a file written again reuses the buffers its old
 * version freed), else it is unmapped at once (munmap of part of a mapping
 * is fine). hot_trim() at
 * every policy tick unmaps, in runs of adjacent buffers, the buffers that
 * were idle since the last one (the pool never had fewer free than them):
 * beyond HOT_POOL_MAX all of them, under it half. A deleted file's buffers
 * thus wait one whole tick for the file written next (a tick between the
 * delete and the rewrite cost that writer 1 GiB of fresh zero-filled
 * slabs per GiB, ~10% of its daemon CPU), and RSS drops within two ticks
 * of files leaving RAM, give or take HOT_POOL_MAX. Small buffers freed in
 * bulk are given back by hot_trim() too (malloc_trim).
 *
 * Fresh slabs are what a file's first write costs most: on a guest whose
 * balloon reports free memory to the host (free page reporting: freed
 * 2 MiB blocks go back, and their next first touch faults in the host),
 * populating a slab ran at 550-770 MB/s against ~23 GB/s for memory freed
 * moments before, about two thirds of the daemon's CPU in a first 1 GiB
 * write. So after a WRITE's reply hot_prefill() maps the slabs the next
 * WRITEs will take (HOT_PREFILL buffers ahead, within the budget), on the
 * worker thread while the writer copies its next bytes: the first 1 GiB
 * written to a new store went from 321-452 to 559-769 MB/s (2 vCPUs,
 * paired runs); later writes take recycled buffers and prefill nothing.
 */
#include "hot.h"

#include <errno.h>
#include <stdbool.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "inode.h"
#include "tierfs.h"

/* High/low watermarks as fractions of hot_max, in per mille. */
#define HOT_HIGH_PERMILLE 1000
#define HOT_LOW_PERMILLE 900
/* Free full-size buffers kept for reuse (16 MiB) and mapped at once. */
#define HOT_POOL_MAX 256
#define HOT_SLAB_CHUNKS 32
/* Free buffers hot_prefill keeps ready for a writer (4 MiB: the next four
 * WRITEs of 1 MiB). */
#define HOT_PREFILL 64

int hot_init(struct hot *h, uint64_t max)
{
	int rc = pthread_mutex_init(&h->lock, NULL);

	if (rc)
		return -rc;
	rc = pthread_mutex_init(&h->pool_lock, NULL);
	if (rc) {
		pthread_mutex_destroy(&h->lock);
		return -rc;
	}
	h->pool = NULL;
	h->npool = h->pool_cap = h->pool_min = h->excess = 0;
	atomic_init(&h->demand, false);
	atomic_init(&h->filling, false);
	atomic_init(&h->bytes, 0);
	atomic_init(&h->max, max);
	h->head = NULL;
	h->nresident = 0;
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(uint8_t *const *)a;
	uintptr_t y = (uintptr_t)*(uint8_t *const *)b;

	return x < y ? -1 : x > y;
}

/* Unmap the pool's buffers beyond `keep`, neighbours together: every
 * munmap costs a TLB shootdown on every CPU, so one per run of adjacent
 * buffers (a whole 2 MiB slab, often several) instead of one per 64 KiB. */
static void pool_shrink(struct hot *h, size_t keep)
{
	uint8_t **gone = NULL, *one;
	size_t n;

	pthread_mutex_lock(&h->pool_lock);
	n = h->npool > keep ? h->npool - keep : 0;
	if (n && (gone = malloc(n * sizeof(*gone)))) {
		h->npool -= n;
		h->excess = h->excess > n ? h->excess - n : 0;
		memcpy(gone, h->pool + h->npool, n * sizeof(*gone));
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (gone) {
		qsort(gone, n, sizeof(*gone), addr_cmp);
		for (size_t i = 0, j; i < n; i = j) {
			for (j = i + 1; j < n && gone[j] == gone[j - 1] +
							     TFS_CHUNK_SIZE; j++)
				;
			munmap(gone[i], (j - i) * TFS_CHUNK_SIZE);
		}
		free(gone);
		return;
	}
	for (;;) {      /* no memory for the list: one at a time */
		pthread_mutex_lock(&h->pool_lock);
		one = h->npool > keep ? h->pool[--h->npool] : NULL;
		if (one && h->excess)
			h->excess--;
		pthread_mutex_unlock(&h->pool_lock);
		if (!one)
			return;
		munmap(one, TFS_CHUNK_SIZE);
	}
}

void hot_destroy(struct hot *h)
{
	pool_shrink(h, 0);
	free(h->pool);
	h->pool = NULL;
	h->pool_cap = 0;
	pthread_mutex_destroy(&h->pool_lock);
	pthread_mutex_destroy(&h->lock);
}

static uint32_t round_cap(uint32_t need)
{
	if (need > TFS_CHUNK_SIZE / 2)
		return TFS_CHUNK_SIZE;
	return (need + 255u) & ~255u;
}

/* Room for n more buffers in the pool; caller holds pool_lock. */
static bool pool_room(struct hot *h, size_t n)
{
	size_t cap;
	uint8_t **v;

	if (h->npool + n <= h->pool_cap)
		return true;
	cap = h->npool + n > 2 * h->pool_cap ? h->npool + n : 2 * h->pool_cap;
	v = realloc(h->pool, cap * sizeof(*v));
	if (!v)
		return false;
	h->pool = v;
	h->pool_cap = cap;
	return true;
}

/* One slab: 2 MiB, aligned to 2 MiB so that it can be one transparent
 * huge page, and populated for writing at once. Fresh 4 KiB pages are what
 * a sequential writer paid for (measured on a 2-vCPU VM: memcpy into new
 * 4 KiB pages 160-250 MB/s, into a populated huge page ~5 GB/s). Without
 * huge pages (THP off) it is still one fault pass instead of 512 faults. */
static uint8_t *slab_map(void)
{
	size_t slab = (size_t)HOT_SLAB_CHUNKS * TFS_CHUNK_SIZE;
	uint8_t *m, *a;

	m = mmap(NULL, 2 * slab, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)m + slab - 1) & ~(uintptr_t)(slab - 1));
	if (a > m)
		munmap(m, (size_t)(a - m));
	if (a + slab < m + 2 * slab)
		munmap(a + slab, (size_t)(m + 2 * slab - (a + slab)));
#ifdef MADV_HUGEPAGE
	madvise(a, slab, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
	if (madvise(a, slab, MADV_POPULATE_WRITE) == 0)
		return a;
#endif
	/* Older kernels: touch every page once. */
	for (size_t off = 0; off < slab; off += 4096)
		a[off] = 0;
	return a;
}

static uint8_t *pool_get(struct hot *h)
{
	size_t slab = (size_t)HOT_SLAB_CHUNKS * TFS_CHUNK_SIZE;
	uint8_t *p = NULL, *m;
	bool kept;

	atomic_store_explicit(&h->demand, true, memory_order_relaxed);
	pthread_mutex_lock(&h->pool_lock);
	if (h->npool)
		p = h->pool[--h->npool];
	if (p && h->excess)
		h->excess--;            /* it was one of them */
	if (h->npool < h->pool_min)
		h->pool_min = h->npool;
	pthread_mutex_unlock(&h->pool_lock);
	if (p)
		return p;
	m = slab_map();
	if (!m)
		return NULL;
	pthread_mutex_lock(&h->pool_lock);
	kept = pool_room(h, HOT_SLAB_CHUNKS - 1);
	if (kept)
		for (size_t i = 1; i < HOT_SLAB_CHUNKS; i++)
			h->pool[h->npool++] = m + i * TFS_CHUNK_SIZE;
	pthread_mutex_unlock(&h->pool_lock);
	if (!kept)      /* no room to keep the rest: only the first */
		munmap(m + TFS_CHUNK_SIZE, slab - TFS_CHUNK_SIZE);
	return m;
}

void hot_prefill(struct hot *h)
{
	size_t slab = (size_t)HOT_SLAB_CHUNKS * TFS_CHUNK_SIZE;

	if (!atomic_exchange_explicit(&h->demand, false, memory_order_relaxed))
		return;
	if (atomic_exchange(&h->filling, true))
		return;
	for (;;) {
		uint8_t *m;
		size_t n;
		bool kept;

		pthread_mutex_lock(&h->pool_lock);
		n = h->npool;
		pthread_mutex_unlock(&h->pool_lock);
		if (n >= HOT_PREFILL ||
		    atomic_load(&h->bytes) + (n + HOT_SLAB_CHUNKS) *
				    (uint64_t)TFS_CHUNK_SIZE >
			    atomic_load(&h->max))
			break;
		m = slab_map();
		if (!m)
			break;
		pthread_mutex_lock(&h->pool_lock);
		kept = pool_room(h, HOT_SLAB_CHUNKS);
		if (kept)
			for (size_t i = 0; i < HOT_SLAB_CHUNKS; i++)
				h->pool[h->npool++] = m + i * TFS_CHUNK_SIZE;
		pthread_mutex_unlock(&h->pool_lock);
		if (!kept) {
			munmap(m, slab);
			break;
		}
	}
	atomic_store(&h->filling, false);
}

static uint8_t *data_alloc(struct hot *h, uint32_t cap)
{
	if (cap < TFS_CHUNK_SIZE)
		return malloc(cap ? cap : 1);
	return pool_get(h);
}

static void data_free(struct hot *h, uint8_t *p, uint32_t cap, bool recycle)
{
	bool kept = false, fits;
	size_t keep = 0;

	if (!p)
		return;
	if (cap < TFS_CHUNK_SIZE) {
		free(p);
		return;
	}
	/* Recycled buffers (of deleted files) are kept for reuse while the
	 * pool and the chunks in use together stay within the budget: the
	 * file written next takes them, with no fresh pages to clear and no
	 * munmap; hot_trim gives the excess back at the next tick. Others
	 * only while the pool is small: a file leaving RAM lowers RSS now,
	 * within HOT_SLAB_CHUNKS buffers: the others wait on top of the pool
	 * until that many are unmapped together (every munmap costs a TLB
	 * shootdown on every CPU: 4% of the daemon's CPU in a writer over
	 * hot_max, one per 64 KiB evicted). */
	pthread_mutex_lock(&h->pool_lock);
	fits = h->npool - h->excess < HOT_POOL_MAX ||
	       (recycle && atomic_load(&h->bytes) +
				   (h->npool + 1) * (uint64_t)TFS_CHUNK_SIZE <=
			   atomic_load(&h->max));
	if (pool_room(h, 1)) {
		h->pool[h->npool++] = p;
		kept = true;
		if (!fits && ++h->excess >= HOT_SLAB_CHUNKS) {
			keep = h->npool - h->excess;
			h->excess = 0;
		}
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (!kept)
		munmap(p, cap);
	else if (keep)
		pool_shrink(h, keep);
}

struct hchunk *hot_chunk_new(struct hot *h, uint32_t need)
{
	struct hchunk *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	c->cap = round_cap(need);
	c->data = data_alloc(h, c->cap);
	if (!c->data) {
		free(c);
		return NULL;
	}
	c->len = 0;
	c->gen = 0;
	c->dirty = false;
	atomic_fetch_add(&h->bytes, c->cap);
	return c;
}

int hot_chunk_grow(struct hot *h, struct hchunk *c, uint32_t need)
{
	uint32_t cap;
	uint8_t *d;

	if (need <= c->cap)
		return 0;
	cap = round_cap(need);
	if (cap < TFS_CHUNK_SIZE) {
		d = realloc(c->data, cap);
		if (!d)
			return -ENOMEM;
	} else {
		d = data_alloc(h, cap);
		if (!d)
			return -ENOMEM;
		memcpy(d, c->data, c->len);
		data_free(h, c->data, c->cap, false);
	}
	atomic_fetch_add(&h->bytes, cap - c->cap);
	c->data = d;
	c->cap = cap;
	return 0;
}

void hot_chunk_free(struct hot *h, struct hchunk *c)
{
	if (!c)
		return;
	atomic_fetch_sub(&h->bytes, c->cap);
	data_free(h, c->data, c->cap, false);
	free(c);
}


void hot_chunk_release(struct hchunk *c)
{
	if (c->cap < TFS_CHUNK_SIZE)
		free(c->data);
	else
		munmap(c->data, c->cap);
	free(c);
}

void hot_trim(struct hot *h)
{
	size_t n, idle;

	pthread_mutex_lock(&h->pool_lock);
	n = h->npool;
	idle = h->pool_min < n ? h->pool_min : n;
	pthread_mutex_unlock(&h->pool_lock);
	/* Keep what came back since the last trim, and half of the idle
	 * buffers up to HOT_POOL_MAX. */
	pool_shrink(h, n - idle +
			       (idle > HOT_POOL_MAX ? HOT_POOL_MAX : idle) / 2);
	pthread_mutex_lock(&h->pool_lock);
	h->pool_min = h->npool;
	pthread_mutex_unlock(&h->pool_lock);
	malloc_trim(0);
}

static void chunk_drop(struct hot *h, struct tfs_inode *ino, uint64_t k,
		       bool recycle)
{
	struct hchunk *c = ino->chunks[k];

	if (!c)
		return;
	if (c->dirty)
		ino->ndirty--;
	ino->ram_bytes -= c->cap;
	atomic_fetch_sub(&h->bytes, c->cap);
	data_free(h, c->data, c->cap, recycle);
	free(c);
	ino->chunks[k] = NULL;
}

void hot_chunk_drop(struct hot *h, struct tfs_inode *ino, uint64_t k)
{
	chunk_drop(h, ino, k, false);
}

void hot_chunk_drop_gone(struct hot *h, struct tfs_inode *ino, uint64_t k)
{
	chunk_drop(h, ino, k, true);
}

void hot_list_add(struct hot *h, struct tfs_inode *ino)
{
	pthread_mutex_lock(&h->lock);
	if (!ino->on_hot_list) {
		ino->hot_prev = NULL;
		ino->hot_next = h->head;
		if (h->head)
			h->head->hot_prev = ino;
		h->head = ino;
		ino->on_hot_list = true;
		h->nresident++;
	}
	pthread_mutex_unlock(&h->lock);
}

void hot_list_remove(struct hot *h, struct tfs_inode *ino)
{
	pthread_mutex_lock(&h->lock);
	if (ino->on_hot_list) {
		if (ino->hot_prev)
			ino->hot_prev->hot_next = ino->hot_next;
		else
			h->head = ino->hot_next;
		if (ino->hot_next)
			ino->hot_next->hot_prev = ino->hot_prev;
		ino->hot_prev = ino->hot_next = NULL;
		ino->on_hot_list = false;
		h->nresident--;
	}
	pthread_mutex_unlock(&h->lock);
}

uint64_t hot_over(struct hot *h)
{
	uint64_t b = atomic_load(&h->bytes);
	uint64_t hi = atomic_load(&h->max) / 1000 * HOT_HIGH_PERMILLE;

	return b > hi ? b - hi : 0;
}

uint64_t hot_excess_low(struct hot *h)
{
	uint64_t b = atomic_load(&h->bytes);
	uint64_t lo = atomic_load(&h->max) / 1000 * HOT_LOW_PERMILLE;

	return b > lo ? b - lo : 0;
}
