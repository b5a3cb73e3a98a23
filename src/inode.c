/*
 * inode.c - see inode.h. The table is a chained hash that doubles when the
 * load passes 1; lookups and inserts are O(1) under itable->lock.
 */
#include "inode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hot.h"

int itable_init(struct itable *t)
{
	int rc = pthread_mutex_init(&t->lock, NULL);

	if (rc)
		return -rc;
	t->nbuckets = 1024;
	t->count = 0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		pthread_mutex_destroy(&t->lock);
		return -ENOMEM;
	}
	return 0;
}

void itable_destroy(struct itable *t)
{
	if (!t->buckets)
		return;
	for (uint64_t i = 0; i < t->nbuckets; i++) {
		struct tfs_inode *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			inode_free(n);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	pthread_mutex_destroy(&t->lock);
}

static uint64_t bucket_of(uint64_t ino, uint64_t nbuckets)
{
	ino ^= ino >> 29;
	ino *= 0xbf58476d1ce4e5b9ull;
	ino ^= ino >> 32;
	return ino & (nbuckets - 1);
}

struct tfs_inode *itable_find(struct itable *t, uint64_t ino)
{
	struct tfs_inode *n = t->buckets[bucket_of(ino, t->nbuckets)];

	while (n && n->ino != ino)
		n = n->hnext;
	return n;
}

static void grow(struct itable *t)
{
	uint64_t nb = t->nbuckets * 2;
	struct tfs_inode **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep the longer chains; still correct */
	for (uint64_t i = 0; i < t->nbuckets; i++) {
		struct tfs_inode *n = t->buckets[i], *next;

		for (; n; n = next) {
			uint64_t k = bucket_of(n->ino, nb);

			next = n->hnext;
			n->hnext = b[k];
			b[k] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

int itable_insert(struct itable *t, struct tfs_inode *ino)
{
	uint64_t k;

	if (t->count >= t->nbuckets)
		grow(t);
	k = bucket_of(ino->ino, t->nbuckets);
	ino->hnext = t->buckets[k];
	t->buckets[k] = ino;
	t->count++;
	return 0;
}

void itable_remove(struct itable *t, struct tfs_inode *ino)
{
	struct tfs_inode **pp = &t->buckets[bucket_of(ino->ino, t->nbuckets)];

	while (*pp && *pp != ino)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = ino->hnext;
		ino->hnext = NULL;
		t->count--;
	}
}

struct tfs_inode *inode_alloc(const struct meta_inode *attr,
			      enum inode_kind kind)
{
	struct tfs_inode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (pthread_mutex_init(&n->lock, NULL))
		goto out_free;
	if (pthread_mutex_init(&n->io, NULL))
		goto out_lock;
	n->attr = *attr;
	n->ino = attr->ino;
	n->kind = kind;
	n->trunc_from = UINT64_MAX;
	atomic_init(&n->last_access, attr->last_access);
	atomic_init(&n->access_count, attr->access_count);
	n->persisted_count = attr->access_count;
	n->persisted_last = attr->last_access;
	return n;

out_lock:
	pthread_mutex_destroy(&n->lock);
out_free:
	free(n);
	return NULL;
}

void inode_free(struct tfs_inode *ino)
{
	if (!ino)
		return;
	/* Chunks are normally released through hot_chunk_free() by the
	 * owner first; these are the leftovers at shutdown. */
	for (uint64_t k = 0; k < ino->nchunks_cap; k++)
		if (ino->chunks[k])
			hot_chunk_release(ino->chunks[k]);
	free(ino->chunks);
	free(ino->ext);
	pthread_mutex_destroy(&ino->io);
	pthread_mutex_destroy(&ino->lock);
	free(ino);
}

static void must(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "tierfs: %s failed: %s\n", what, strerror(rc));
		abort();
	}
}

void inode_lock(struct tfs_inode *ino)
{
	must(pthread_mutex_lock(&ino->lock), "inode lock");
}

void inode_unlock(struct tfs_inode *ino)
{
	must(pthread_mutex_unlock(&ino->lock), "inode unlock");
}

void inode_io_lock(struct tfs_inode *ino)
{
	must(pthread_mutex_lock(&ino->io), "inode io lock");
}

void inode_io_unlock(struct tfs_inode *ino)
{
	must(pthread_mutex_unlock(&ino->io), "inode io unlock");
}

static int grow_array(void **arr, uint64_t *cap, uint64_t k, size_t elem)
{
	uint64_t n = *cap ? *cap : 4;
	void *a;

	if (k < *cap)
		return 0;
	while (n <= k)
		n *= 2;
	a = realloc(*arr, n * elem);
	if (!a)
		return -ENOMEM;
	memset((char *)a + *cap * elem, 0, (n - *cap) * elem);
	*arr = a;
	*cap = n;
	return 0;
}

int inode_reserve_chunks(struct tfs_inode *ino, uint64_t k)
{
	return grow_array((void **)&ino->chunks, &ino->nchunks_cap, k,
			  sizeof(*ino->chunks));
}

int inode_reserve_ext(struct tfs_inode *ino, uint64_t k)
{
	return grow_array((void **)&ino->ext, &ino->next, k,
			  sizeof(*ino->ext));
}
