/*
 * cold.c - the cold tier's catalog of open archives and cold reads (see
 * cold.h). Depends only on meta, xzarc, blkcache and the blob store; the
 * mover that fills archives (fs_cold.c) and compaction (compact.c) sit above
 * the filesystem and call in here.
 *
 * At mount every archive meta lists is opened (its xz index decoded once)
 * and every other file in STORE/cold is an orphan of an interrupted
 * demotion and is deleted. The open archives sit in an array sorted by id,
 * guarded by a rwlock: reads take it shared just long enough to find and
 * reference their archive, so two threads reading different cold files
 * never wait for each other; decoding happens outside every lock, through
 * the shared block cache. Sequential reads of a file make coldra.c's
 * workers decode the blocks after it ahead of the reader; on a remote
 * store (S3) a worker fetches a run of blocks (up to RA_RUN_BYTES) with
 * one request, so a sequential read costs a request per run, not per
 * block.
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
#include <sys/stat.h>
#include <unistd.h>

#include "blkcache.h"
#include "blob.h"
#include "coldra.h"
#include "cold_store.h"
#include "config.h"
#include "log.h"
#include "meta.h"
#include "xzarc.h"

struct arc_ref {
	uint64_t id;
	struct xzarc *xz;
	uint64_t file_size;             /* bytes of the .xz file */
	_Atomic uint32_t refs;          /* the catalog's + one per reader
					 * inside xzarc_pread; the last frees */
};

struct cold {
	struct meta *meta;
	char *store_dir;                /* STORE (snapshots stage there) */
	struct blob_store *bs;          /* STORE/cold: the archive objects */
	struct blkcache *cache;
	struct coldra *ra;              /* read-ahead workers */
	bool runs;                      /* the store reads runs of blocks in
					 * one request (remote): read ahead
					 * in runs */
	pthread_rwlock_t lock;
	struct arc_ref **arcs;          /* protected by lock; sorted by id */
	size_t narcs, cap;              /* protected by lock */
};

/* The blob name of archive `id`. */
static void arc_name(uint64_t id, char out[32])
{
	snprintf(out, 32, "%08" PRIx64 ".xz", id);
}

/* The id an archive name stands for; false for any other name. */
static bool arc_parse_name(const char *name, uint64_t *id)
{
	char *end;
	uint64_t v;

	v = strtoull(name, &end, 16);
	if (end == name || strcmp(end, ".xz") != 0)
		return false;
	*id = v;
	return true;
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

/* Open archive `id` into the catalog. A damaged archive found at mount
 * (strict false) is logged and left out, so its files read as EIO and the
 * rest of the store mounts. */
static int open_one(struct cold *c, uint64_t id, bool strict)
{
	char name[32];
	struct arc_ref *r;
	int rc;

	arc_name(id, name);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->id = id;
	atomic_init(&r->refs, 1);
	rc = xzarc_open(&r->xz, c->bs, name, id);
	if (!rc)
		r->file_size = xzarc_file_size(r->xz);
	if (rc) {
		tfs_err("cold archive %s: cannot open: %s%s", name,
			strerror(-rc), strict ? "" : " (its files will read "
			"as EIO)");
		free(r);
		return strict ? rc : 0;
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

struct orphans {
	const uint64_t *known;  /* sorted archive ids meta lists */
	size_t nknown;
	char (*names)[BLOB_NAME_MAX + 1];
	size_t n, cap;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* blob_list callback: note every object that is not a known archive. */
static int note_orphan(void *ctx, const char *name, uint64_t size)
{
	struct orphans *o = ctx;
	uint64_t id;

	if (arc_parse_name(name, &id) &&
	    bsearch(&id, o->known, o->nknown, sizeof(id), cmp_u64))
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		void *p = realloc(o->names, cap * sizeof(*o->names));

		if (!p)
			return -ENOMEM;
		o->names = p;
		o->cap = cap;
	}
	snprintf(o->names[o->n++], sizeof(o->names[0]), "%s", name);
	return 0;
}

/* Delete objects in cold/ that are not archives meta knows. */
static void delete_orphans(struct cold *c, const struct meta_arc *arcs,
			   size_t n)
{
	struct orphans o = { .nknown = n };
	uint64_t *ids = malloc((n ? n : 1) * sizeof(*ids));

	if (!ids)
		return;
	for (size_t i = 0; i < n; i++)
		ids[i] = arcs[i].id;
	qsort(ids, n, sizeof(*ids), cmp_u64);
	o.known = ids;
	if (blob_list(c->bs, "", note_orphan, &o) == 0)
		for (size_t i = 0; i < o.n; i++)
			if (blob_remove(c->bs, o.names[i]) == 0)
				tfs_info("recovery: deleted orphan cold/%s",
					 o.names[i]);
	blob_sync(c->bs);
	free(o.names);
	free(ids);
}

/* Drop a reference to r; the last one closes the archive and forgets its
 * cached blocks. */
static void arc_put(struct cold *c, struct arc_ref *r)
{
	if (atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	blkcache_drop_arc(c->cache, r->id);
	xzarc_close(&r->xz);
	free(r);
}

/* Read-ahead on a remote store fetches up to this many bytes of the
 * archive (a run of blocks) per request. */
#define RA_RUN_BYTES ((size_t)1 << 20)

/* coldra's callback: decode the block covering `off` of archive `arc` (on
 * a remote store, the run of blocks from it). */
static uint64_t cold_prefetch(void *ctx, uint64_t arc, uint64_t off)
{
	struct cold *c = ctx;
	struct arc_ref *r;
	uint64_t end;

	pthread_rwlock_rdlock(&c->lock);
	r = find_arc(c, arc);
	if (r)
		atomic_fetch_add(&r->refs, 1);
	pthread_rwlock_unlock(&c->lock);
	if (!r)
		return 0;
	end = c->runs ? xzarc_prefetch_run(r->xz, c->cache, off, RA_RUN_BYTES)
		      : xzarc_prefetch(r->xz, c->cache, off);
	arc_put(c, r);
	return end;
}

int cold_open(struct cold **out, const char *store_dir, struct meta *m,
	      const struct tfs_config *cfg, char *err, size_t errlen)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct meta_arc *arcs = NULL;
	struct cold *c;
	size_t n = 0;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->meta = m;
	pthread_rwlock_init(&c->lock, NULL);
	c->store_dir = strdup(store_dir);
	rc = c->store_dir ? 0 : -ENOMEM;
	if (!rc)
		rc = meta_arc_list(m, &arcs, &n);
	if (rc)
		snprintf(err, errlen, "cannot list the cold archives: %s",
			 strerror(-rc));
	if (!rc)
		rc = cold_store_open(&c->bs, cfg, store_dir, n, err, errlen);
	if (!rc) {
		rc = blkcache_create(&c->cache, cfg->cache_size);
		if (rc)
			snprintf(err, errlen, "cold block cache: %s",
				 strerror(-rc));
	}
	if (rc)
		goto out_fail;
	c->runs = c->bs->ops->read_pieces != NULL;
	delete_orphans(c, arcs, n);
	for (size_t i = 0; i < n && !rc; i++)
		rc = open_one(c, arcs[i].id, false);
	if (rc) {
		snprintf(err, errlen, "cannot open the cold archives: %s",
			 strerror(-rc));
		goto out_fail;
	}
	/* One read-ahead worker per core beyond the reader's, at most 2;
	 * 4 blocks (1 MiB at the default cold_block) ahead. */
	rc = coldra_start(&c->ra, cold_prefetch, c, ncpu > 2 ? 2 : 1, 4);
	if (rc) {
		snprintf(err, errlen, "cold read-ahead: %s", strerror(-rc));
		goto out_fail;
	}
	free(arcs);
	*out = c;
	return 0;

out_fail:
	free(arcs);
	cold_close(&c);
	return rc;
}

void cold_close(struct cold **cp)
{
	struct cold *c = *cp;

	if (!c)
		return;
	coldra_stop(&c->ra);
	for (size_t i = 0; i < c->narcs; i++) {
		xzarc_close(&c->arcs[i]->xz);
		free(c->arcs[i]);
	}
	free(c->arcs);
	blob_store_close(&c->bs);
	blkcache_destroy(&c->cache);
	free(c->store_dir);
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
		atomic_fetch_add(&r->refs, 1);
	pthread_rwlock_unlock(&c->lock);
	if (!r) {
		char name[32];
		uint64_t size;
		int src;

		/* Not open: gone from the store, or there but unreadable
		 * (its open at mount failed and said why). */
		arc_name(ext->archive, name);
		src = blob_stat(c->bs, name, &size);
		if (src == -ENOENT)
			tfs_err("cold archive %s is missing", name);
		else if (src == 0)
			tfs_err("cold archive %s is damaged (it could not be "
				"opened; tierfs-fsck names its files)", name);
		else
			tfs_err("cold archive %s cannot be read: %s", name,
				strerror(-src));
		return -EIO;
	}
	n = xzarc_pread(r->xz, c->cache, dst, len, ext->off + off);
	arc_put(c, r);
	if (n > 0)
		coldra_note(c->ra, ext->archive, ext->off, ext->off + off,
			    ext->off + off + (uint64_t)n, ext->off + ext->len);
	return n;
}

void cold_read_done(struct cold *c)
{
	if (c)
		blkcache_buf_prepare_later(c->cache);
}

void cold_set_cache_size(struct cold *c, uint64_t bytes)
{
	blkcache_set_capacity(c->cache, bytes);
}

void cold_cache_stats(struct cold *c, struct blkcache_stats *out)
{
	blkcache_get_stats(c->cache, out);
}

uint64_t cold_stored_bytes(struct cold *c, const struct meta_cold *ext)
{
	struct arc_ref *r;
	uint64_t total, size;

	pthread_rwlock_rdlock(&c->lock);
	r = find_arc(c, ext->archive);
	size = r ? r->file_size : 0;
	total = r ? xzarc_size(r->xz) : 0;
	pthread_rwlock_unlock(&c->lock);
	if (!total)
		return 0;
	return (uint64_t)((double)size * (double)ext->orig_len / (double)total);
}

/* ---- archives coming and going (for the mover and compaction) ---- */

int cold_arc_create(struct cold *c, const struct xzarc_params *p,
		    uint64_t *id, struct xzarc_writer **w)
{
	char name[32];
	int rc;

	rc = meta_next_id(c->meta, "archive", id);
	if (rc)
		return rc;
	arc_name(*id, name);
	return xzarc_writer_open(w, c->bs, name, p);
}

int cold_arc_add(struct cold *c, uint64_t id)
{
	return open_one(c, id, true);
}

/* Take archive `id` out of the catalog; readers inside keep it open. */
static void remove_arc(struct cold *c, uint64_t id)
{
	struct arc_ref *r;
	size_t i;

	pthread_rwlock_wrlock(&c->lock);
	r = find_arc(c, id);
	if (r) {
		for (i = 0; c->arcs[i] != r; i++)
			;
		memmove(&c->arcs[i], &c->arcs[i + 1],
			(c->narcs - i - 1) * sizeof(*c->arcs));
		c->narcs--;
	}
	pthread_rwlock_unlock(&c->lock);
	if (r)
		arc_put(c, r);  /* readers still inside keep it open */
}

void cold_arc_discard(struct cold *c, uint64_t id)
{
	char name[32];

	remove_arc(c, id);
	arc_name(id, name);
	blob_remove(c->bs, name);
}

int cold_arc_delete(struct cold *c, uint64_t id)
{
	char name[32];
	int rc;

	rc = meta_arc_delete(c->meta, id);
	if (rc)
		return rc;
	remove_arc(c, id);
	/* The remote snapshot must stop naming it before it goes. */
	if (cold_snapshot(c))
		return 0;       /* an orphan now: the next mount sweeps it */
	arc_name(id, name);
	if (blob_remove(c->bs, name) == 0)
		blob_sync(c->bs);
	return 0;
}

int cold_snapshot(struct cold *c)
{
	return c ? cold_store_snapshot(c->bs, c->meta, c->store_dir) : 0;
}

bool cold_remote_stats(struct cold *c, struct s3_stats *st)
{
	return c && cold_store_remote_stats(c->bs, st);
}

bool cold_disk_cache_stats(struct cold *c, struct diskcache_stats *st)
{
	return c && cold_store_cache_stats(c->bs, st);
}
