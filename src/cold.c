/*
 * cold.c - the cold tier's catalog of open archives and cold reads.
 *
 * At mount every archive meta lists is opened (its xz index decoded once)
 * and every other file in STORE/cold is an orphan of an interrupted
 * demotion and is deleted. The open archives sit in an array sorted by id,
 * guarded by a rwlock: reads take it shared just long enough to find and
 * reference their archive, so two threads reading different cold files
 * never wait for each other; decoding happens outside every lock, through
 * the shared block cache.
 */
#include "cold.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkcache.h"
#include "fs_int.h"
#include "log.h"
#include "xzarc.h"

struct arc_ref {
	uint64_t id;
	struct xzarc *xz;
	_Atomic uint32_t users;         /* readers inside xzarc_pread */
};

struct cold {
	struct fs *fs;
	char dir[4096];
	struct blkcache *cache;
	pthread_rwlock_t lock;
	struct arc_ref **arcs;          /* protected by lock; sorted by id */
	size_t narcs, cap;              /* protected by lock */
};

static int arc_path(const struct cold *c, uint64_t id, char *out, size_t len)
{
	if ((size_t)snprintf(out, len, "%s/%08" PRIx64 ".xz", c->dir, id) >=
	    len)
		return -ENAMETOOLONG;
	return 0;
}

/* Caller holds c->lock (either mode). */
static struct arc_ref *find_arc(struct cold *c, uint64_t id)
{
	size_t lo = 0, hi = c->narcs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->arcs[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->narcs && c->arcs[lo]->id == id ? c->arcs[lo] : NULL;
}

/* Caller holds c->lock exclusively. */
static int insert_arc(struct cold *c, struct arc_ref *r)
{
	size_t i;

	if (c->narcs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct arc_ref **a = realloc(c->arcs, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		c->arcs = a;
		c->cap = cap;
	}
	for (i = c->narcs; i > 0 && c->arcs[i - 1]->id > r->id; i--)
		c->arcs[i] = c->arcs[i - 1];
	c->arcs[i] = r;
	c->narcs++;
	return 0;
}

static int open_one(struct cold *c, uint64_t id)
{
	char path[4200];
	struct arc_ref *r;
	int rc;

	rc = arc_path(c, id, path, sizeof(path));
	if (rc)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->id = id;
	rc = xzarc_open(&r->xz, path, id);
	if (rc) {
		tfs_err("cold archive %s: cannot open: %s (its files will "
			"read as EIO)", path, strerror(-rc));
		free(r);
		return 0;       /* keep mounting; reads of it fail */
	}
	pthread_rwlock_wrlock(&c->lock);
	rc = insert_arc(c, r);
	pthread_rwlock_unlock(&c->lock);
	if (rc) {
		xzarc_close(&r->xz);
		free(r);
	}
	return rc;
}

/* Delete files in cold/ that are not archives meta knows. */
static void delete_orphans(struct cold *c, const struct meta_arc *arcs,
			   size_t n)
{
	DIR *d = opendir(c->dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		uint64_t id;
		bool known = false;

		if (e->d_name[0] == '.')
			continue;
		id = strtoull(e->d_name, &end, 16);
		if (end != e->d_name && !strcmp(end, ".xz"))
			for (size_t i = 0; i < n && !known; i++)
				known = arcs[i].id == id;
		if (!known) {
			if (unlinkat(dirfd(d), e->d_name, 0) == 0)
				tfs_info("recovery: deleted orphan %s/%s",
					 c->dir, e->d_name);
		}
	}
	closedir(d);
}

int cold_open(struct cold **out, struct fs *f, const struct tfs_config *cfg)
{
	struct meta_arc *arcs = NULL;
	struct cold *c;
	size_t n = 0;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fs = f;
	pthread_rwlock_init(&c->lock, NULL);
	rc = store_path(&f->store, c->dir, sizeof(c->dir), "cold");
	if (!rc)
		rc = blkcache_create(&c->cache, cfg->cache_size);
	if (!rc)
		rc = meta_arc_list(f->meta, &arcs, &n);
	if (rc)
		goto out_fail;
	delete_orphans(c, arcs, n);
	for (size_t i = 0; i < n && !rc; i++)
		rc = open_one(c, arcs[i].id);
	free(arcs);
	if (rc)
		goto out_fail;
	*out = c;
	return 0;

out_fail:
	cold_close(&c);
	return rc;
}

void cold_close(struct cold **cp)
{
	struct cold *c = *cp;

	if (!c)
		return;
	for (size_t i = 0; i < c->narcs; i++) {
		xzarc_close(&c->arcs[i]->xz);
		free(c->arcs[i]);
	}
	free(c->arcs);
	blkcache_destroy(&c->cache);
	pthread_rwlock_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

ssize_t cold_read(struct cold *c, const struct meta_cold *ext, void *dst,
		  size_t len, uint64_t off)
{
	struct arc_ref *r;
	ssize_t n;

	if (!c || off > ext->len || len > ext->len - off)
		return -EIO;
	pthread_rwlock_rdlock(&c->lock);
	r = find_arc(c, ext->archive);
	if (r)
		atomic_fetch_add(&r->users, 1);
	pthread_rwlock_unlock(&c->lock);
	if (!r) {
		tfs_err("cold archive %08" PRIx64 " is missing",
			ext->archive);
		return -EIO;
	}
	n = xzarc_pread(r->xz, c->cache, dst, len, ext->off + off);
	atomic_fetch_sub(&r->users, 1);
	return n;
}
