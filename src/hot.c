/*
 * hot.c - see hot.h.
 *
 * Chunk memory: a buffer for a small file is rounded up to 256 bytes and
 * comes from malloc; one that grows past half a chunk gets the full chunk
 * size at once as its own anonymous mapping (sequential writers would
 * otherwise realloc many times), so freeing it is an munmap and the RSS
 * drops as soon as a file leaves RAM. Small buffers freed in bulk are given
 * back by hot_trim() (malloc_trim).
 */
#include "hot.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "inode.h"
#include "tierfs.h"

/* High/low watermarks as fractions of hot_max, in per mille. */
#define HOT_HIGH_PERMILLE 1000
#define HOT_LOW_PERMILLE 900

int hot_init(struct hot *h, uint64_t max)
{
	int rc = pthread_mutex_init(&h->lock, NULL);

	if (rc)
		return -rc;
	atomic_init(&h->bytes, 0);
	atomic_init(&h->max, max);
	h->head = NULL;
	h->nresident = 0;
	return 0;
}

void hot_destroy(struct hot *h)
{
	pthread_mutex_destroy(&h->lock);
}

static uint32_t round_cap(uint32_t need)
{
	if (need > TFS_CHUNK_SIZE / 2)
		return TFS_CHUNK_SIZE;
	return (need + 255u) & ~255u;
}

static uint8_t *data_alloc(uint32_t cap)
{
	void *p;

	if (cap < TFS_CHUNK_SIZE)
		return malloc(cap ? cap : 1);
	/* Populated at once: it is about to be written whole, and one
	 * fault for 16 pages beats 16. */
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void data_free(uint8_t *p, uint32_t cap)
{
	if (!p)
		return;
	if (cap < TFS_CHUNK_SIZE)
		free(p);
	else
		munmap(p, cap);
}

struct hchunk *hot_chunk_new(struct hot *h, uint32_t need)
{
	struct hchunk *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	c->cap = round_cap(need);
	c->data = data_alloc(c->cap);
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
		d = data_alloc(cap);
		if (!d)
			return -ENOMEM;
		memcpy(d, c->data, c->len);
		data_free(c->data, c->cap);
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
	data_free(c->data, c->cap);
	free(c);
}

void hot_chunk_release(struct hchunk *c)
{
	data_free(c->data, c->cap);
	free(c);
}

void hot_trim(void)
{
	malloc_trim(0);
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
