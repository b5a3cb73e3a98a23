/*
 * cold.c - the cold tier's catalog of open archives and cold reads.
 *
 * At mount every archive meta lists is opened (its xz index decoded once)
 * and every other file in STORE/cold is an orphan of an interrupted
 * demotion and is deleted. The open archives sit in an array sorted by id,
 * guarded by a rwlock: reads take it shared just long enough to find and
 * reference their archive, so two threads reading different cold files
 * never wait for each other; decoding happens outside every lock, through
 * the shared block cache. Sequential reads of a file make coldra.c's
 * workers decode the blocks after it ahead of the reader.
 */
#include "cold.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkcache.h"
#include "blob.h"
#include "coldra.h"
#include "cold_store.h"
#include "fault.h"
#include "fs_int.h"
#include "log.h"
#include "xzarc.h"

struct arc_ref {
	uint64_t id;
	struct xzarc *xz;
	uint64_t file_size;             /* bytes of the .xz file */
	_Atomic uint32_t users;         /* readers inside xzarc_pread */
};

struct cold {
	struct fs *fs;
	struct blob_store *bs;          /* STORE/cold: the archive objects */
	struct blkcache *cache;
	struct coldra *ra;              /* read-ahead workers */
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
	char canon[32];
	char *end;
	uint64_t v;

	v = strtoull(name, &end, 16);
	if (end == name || strcmp(end, ".xz") != 0)
		return false;
	arc_name(v, canon);
	(void)canon;
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

/* coldra's callback: decode the block covering `off` of archive `arc`. */
static uint64_t cold_prefetch(void *ctx, uint64_t arc, uint64_t off)
{
	struct cold *c = ctx;
	struct arc_ref *r;
	uint64_t end;

	pthread_rwlock_rdlock(&c->lock);
	r = find_arc(c, arc);
	if (r)
		atomic_fetch_add(&r->users, 1);
	pthread_rwlock_unlock(&c->lock);
	if (!r)
		return 0;
	end = xzarc_prefetch(r->xz, c->cache, off);
	atomic_fetch_sub(&r->users, 1);
	return end;
}

int cold_open(struct cold **out, struct fs *f, const struct tfs_config *cfg,
	      char *err, size_t errlen)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct meta_arc *arcs = NULL;
	struct cold *c;
	size_t n = 0;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fs = f;
	pthread_rwlock_init(&c->lock, NULL);
	rc = meta_arc_list(f->meta, &arcs, &n);
	if (rc)
		snprintf(err, errlen, "cannot list the cold archives: %s",
			 strerror(-rc));
	if (!rc)
		rc = cold_store_open(&c->bs, cfg, f->store.dir, n, err, errlen);
	if (!rc) {
		rc = blkcache_create(&c->cache, cfg->cache_size);
		if (rc)
			snprintf(err, errlen, "cold block cache: %s",
				 strerror(-rc));
	}
	if (rc)
		goto out_fail;
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
	atomic_fetch_sub(&r->users, 1);
	if (n > 0)
		coldra_note(c->ra, ext->archive, ext->off, ext->off + off,
			    ext->off + off + (uint64_t)n, ext->off + ext->len);
	return n;
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

/* ---- demotion ---- */

/* dm flags */
#define DM_FORCE 1      /* re-archive files that are already cold */
#define DM_KEEP_RAM 2   /* leave hot files hot (compaction) */

struct dm_item {
	struct tfs_inode *ino;
	char *path;
	uint64_t version;       /* data_version when its bytes were read */
	uint64_t ext_gen;       /* ...and where they were (ext_gen) */
	uint64_t src_arc;       /* compaction: the archive it must still be
				   in (0: any place) */
	uint64_t size;
	uint64_t off;           /* where it starts in the archive stream */
	bool ok;
	bool locked;            /* holds ino->io in the commit phase */
	int flags;              /* DM_* */
	struct meta_inode attr; /* row to commit */
};

static int dm_cmp(const void *a, const void *b)
{
	const struct dm_item *x = a, *y = b;

	return strcmp(x->path, y->path);
}

/* Write back the file and note its version; false if it need not move. */
static int dm_prepare(struct fs *f, struct dm_item *it, bool *already,
		      int flags)
{
	struct tfs_inode *ino = it->ino;
	bool warm_left = false, resident;
	int rc;

	*already = false;
	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	inode_io_lock(ino);
	rc = fs_writeback(f, ino, false);
	inode_lock(ino);
	if (!rc && (!S_ISREG(ino->attr.mode) || ino->attr.nlink == 0))
		rc = -ENOENT;
	for (uint64_t k = 0; k < ino->next && !warm_left; k++)
		warm_left = ino->ext[k].seg != 0;
	*already = !(flags & DM_FORCE) && ino->has_cold && !warm_left &&
		   ino->ndirty == 0 && ino->cold.len == ino->attr.size;
	resident = ino->resident;
	if (!rc && it->src_arc && (!ino->has_cold ||
				   ino->cold.archive != it->src_arc))
		rc = -ESTALE;   /* compaction: it left that archive */
	it->version = ino->data_version;
	it->ext_gen = ino->ext_gen;
	it->size = ino->attr.size;
	inode_unlock(ino);
	/* In RAM over an up-to-date archive copy: leaving RAM is the move. */
	if (!rc && *already && resident) {
		rc = fs_drop_ram(f, ino, true);
		if (!rc)
			stats_add(&f->stats.demotions[TFS_COLD], 1);
	}
	inode_io_unlock(ino);
	return rc;
}

/* Append the file's bytes to the archive stream. */
static int dm_stream(struct fs *f, struct xzarc_writer *w, struct dm_item *it,
		     uint8_t *buf)
{
	uint64_t n = inode_nchunks(it->size);

	it->off = xzarc_writer_offset(w);
	for (uint64_t k = 0; k < n; k++) {
		uint32_t len;
		int rc = fs_read_durable_chunk(f, it->ino, k, buf, &len);

		if (rc)
			return rc;
		rc = xzarc_writer_add(w, buf, len);
		if (rc)
			return rc;
	}
	return 0;
}

/* Take the io lock of every file still unchanged, and its row to commit. */
static size_t dm_lock_unchanged(struct dm_item *items, size_t n)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		struct dm_item *it = &items[i];
		struct tfs_inode *ino = it->ino;

		if (!it->ok)
			continue;
		/* Never wait for an io lock while holding others: a busy
		 * file is being changed or moved and stays where it is. */
		if (pthread_mutex_trylock(&ino->io)) {
			it->ok = false;
			continue;
		}
		inode_lock(ino);
		/* Changed, or moved elsewhere (by a user or the policy) while
		 * its bytes were being archived: it stays where it is now. */
		if (ino->data_version != it->version ||
		    ino->ext_gen != it->ext_gen ||
		    ino->attr.nlink == 0 || ino->ndirty ||
		    (it->src_arc && (!ino->has_cold ||
				     ino->cold.archive != it->src_arc))) {
			it->ok = false;
		} else {
			it->attr = inode_attr_durable(ino);
			if (!(it->flags & DM_KEEP_RAM) || !ino->resident)
				it->attr.tier = TFS_COLD;
			it->attr.last_access = atomic_load(&ino->last_access);
			it->attr.access_count =
				atomic_load(&ino->access_count);
		}
		inode_unlock(ino);
		if (it->ok) {
			it->locked = true;
			kept++;
		} else {
			inode_io_unlock(ino);
		}
	}
	return kept;
}

static int dm_commit(struct fs *f, const struct meta_arc *arc,
		     struct dm_item *items, size_t n)
{
	int rc = meta_begin(f->meta);

	if (rc)
		return rc;
	rc = meta_arc_add(f->meta, arc);
	for (size_t i = 0; i < n && !rc; i++) {
		struct meta_cold ce = {
			.archive = arc->id, .off = items[i].off,
			.len = items[i].size, .orig_len = items[i].size,
		};

		if (!items[i].ok)
			continue;
		rc = meta_cold_put(f->meta, items[i].ino->ino, &ce);
		if (!rc)
			rc = meta_extent_truncate(f->meta, items[i].ino->ino, 0);
		if (!rc)
			rc = meta_inode_update(f->meta, &items[i].attr);
	}
	return meta_finish(f->meta, rc);
}

/* After the commit: the file's bytes now come from the archive. */
static void dm_publish(struct fs *f, struct dm_item *it, uint64_t arc,
		       int flags)
{
	struct tfs_inode *ino = it->ino;
	bool resident;

	inode_lock(ino);
	for (uint64_t k = 0; k < ino->next; k++)
		ino->ext[k] = (struct ext_slot){ 0 };
	ino->has_cold = true;
	ino->cold = (struct meta_cold){
		.archive = arc, .off = it->off, .len = it->size,
		.orig_len = it->size,
	};
	ino->ext_gen++;
	if (!(flags & DM_KEEP_RAM) || !ino->resident) {
		for (uint64_t k = 0; k < ino->nchunks_cap; k++) {
			struct hchunk *ch = ino->chunks[k];

			if (ch && !ch->dirty) {
				ino->ram_bytes -= ch->cap;
				hot_chunk_free(&f->hot, ch);
				ino->chunks[k] = NULL;
			}
		}
		ino->resident = false;
		ino->attr.tier = TFS_COLD;
	}
	resident = ino->resident;
	inode_unlock(ino);
	if (!resident)
		hot_list_remove(&f->hot, ino);
	if (!(flags & DM_KEEP_RAM))
		stats_add(&f->stats.demotions[TFS_COLD], 1);
}

static void remove_arc(struct cold *c, uint64_t id)
{
	struct arc_ref *r = NULL;

	pthread_rwlock_wrlock(&c->lock);
	for (size_t i = 0; i < c->narcs; i++)
		if (c->arcs[i]->id == id) {
			r = c->arcs[i];
			memmove(&c->arcs[i], &c->arcs[i + 1],
				(c->narcs - i - 1) * sizeof(*c->arcs));
			c->narcs--;
			break;
		}
	pthread_rwlock_unlock(&c->lock);
	if (!r)
		return;
	while (atomic_load(&r->users))
		sched_yield();
	blkcache_drop_arc(c->cache, id);
	xzarc_close(&r->xz);
	free(r);
}

/* Archive items[0..n) (all ok on entry) into one new archive. */
static int dm_archive(struct cold *c, struct dm_item *items, size_t n,
		      int flags, size_t *moved, size_t *skipped)
{
	struct fs *f = c->fs;
	struct tfs_config cfg;
	struct xzarc_params p;
	struct xzarc_writer *w = NULL;
	struct meta_arc arc = { 0 };
	char name[32];
	uint8_t *buf;
	size_t kept;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	fs_get_config(f, &cfg);
	p = (struct xzarc_params){
		.block_size = cfg.cold_block, .preset = cfg.cold_level,
		.min_saving = cfg.cold_min_saving,
		.threads = ncpu > 0 ? (uint32_t)ncpu : 1,
	};
	buf = malloc(TFS_CHUNK_SIZE);
	if (!buf)
		return -ENOMEM;
	rc = meta_next_id(f->meta, "archive", &arc.id);
	if (rc)
		goto out_free;
	arc_name(arc.id, name);
	rc = xzarc_writer_open(&w, c->bs, name, &p);
	if (rc)
		goto out_free;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = dm_stream(f, w, &items[i], buf);
		if (rc == -EIO) {
			/* Unreadable source: leave this file where it is. */
			tfs_err("cold demotion: %s: cannot read its data; it "
				"stays where it is", items[i].path);
			items[i].ok = false;
			rc = 0;
		}
	}
	if (rc) {
		xzarc_writer_abort(&w);
		goto out_free;
	}
	arc.total = xzarc_writer_offset(w);
	rc = xzarc_writer_finish(&w, &arc.size);
	if (rc)
		goto out_free;
	/* Readers must find the archive once the commit points at it. */
	rc = open_one(c, arc.id, true);
	if (rc)
		goto out_unlink;
	fault_point("cold-before-commit");
	kept = dm_lock_unchanged(items, n);
	rc = kept ? dm_commit(f, &arc, items, n) : -ECANCELED;
	if (!rc)
		fault_point("cold-after-commit");
	for (size_t i = 0; i < n; i++) {
		if (!items[i].locked)
			continue;
		if (!rc)
			dm_publish(f, &items[i], arc.id, flags);
		items[i].locked = false;
		inode_io_unlock(items[i].ino);
	}
	if (rc) {
		remove_arc(c, arc.id);
		if (rc == -ECANCELED)
			rc = 0;
		goto out_unlink;
	}
	*moved += kept;
	*skipped += n - kept;
	goto out_free;

out_unlink:
	*skipped += n;
	blob_remove(c->bs, name);
out_free:
	free(buf);
	return rc;
}

static int demote(struct cold *c, struct tfs_inode **inos, size_t n,
		  int flags, uint64_t src_arc, size_t *moved, size_t *skipped)
{
	struct fs *f = c->fs;
	struct tfs_config cfg;
	struct dm_item *items;
	size_t m = 0, start;
	int rc = 0;

	*moved = *skipped = 0;
	items = calloc(n ? n : 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char p[4096];
		bool already;
		int prc;

		items[m].ino = inos[i];
		items[m].flags = flags;
		items[m].src_arc = src_arc;
		prc = dm_prepare(f, &items[m], &already, flags);
		if (prc || already) {
			if (already)
				(*moved)++;
			else
				(*skipped)++;
			continue;
		}
		if (fs_path(f, inos[i]->ino, p, sizeof(p)))
			snprintf(p, sizeof(p), "\x7f%020" PRIu64,
				 inos[i]->ino);
		items[m].path = strdup(p);
		if (!items[m].path) {
			rc = -ENOMEM;
			break;
		}
		items[m].ok = true;
		m++;
	}
	qsort(items, m, sizeof(*items), dm_cmp);

	fs_get_config(f, &cfg);
	for (start = 0; start < m && !rc;) {
		uint64_t bytes = 0;
		size_t end = start;

		while (end < m && (end == start ||
				   bytes + items[end].size <= cfg.archive_max))
			bytes += items[end++].size;
		rc = fs_space_for(f, bytes);
		if (!rc)
			rc = dm_archive(c, items + start, end - start, flags,
					moved, skipped);
		start = end;
	}
	for (size_t i = 0; i < m; i++)
		free(items[i].path);
	free(items);
	return rc;
}

int cold_demote(struct cold *c, struct tfs_inode **inos, size_t n,
		size_t *moved, size_t *skipped)
{
	int rc = demote(c, inos, n, 0, 0, moved, skipped);

	/* A remote store keeps meta.db's snapshot up to date per batch. */
	if (*moved)
		cold_snapshot(c);
	return rc;
}

int cold_snapshot(struct cold *c)
{
	return c ? cold_store_snapshot(c->bs, c->fs->meta, c->fs->store.dir) :
		   0;
}

bool cold_remote_stats(struct cold *c, struct s3_stats *st)
{
	return c && cold_store_remote_stats(c->bs, st);
}

/* ---- compaction ---- */

static int delete_archive(struct cold *c, uint64_t id)
{
	char name[32];
	int rc;

	rc = meta_arc_delete(c->fs->meta, id);
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

/* Re-archive the files still living in archive `id`, then delete it. */
static int rewrite_archive(struct cold *c, uint64_t id)
{
	struct fs *f = c->fs;
	struct meta_cold *colds = NULL;
	struct tfs_inode **inos = NULL;
	uint64_t *nums = NULL;
	size_t n = 0, got = 0, moved, skipped;
	int rc;

	rc = meta_cold_list_arc(f->meta, id, &nums, &colds, &n);
	if (rc)
		return rc;
	inos = calloc(n ? n : 1, sizeof(*inos));
	if (!inos) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++)
		if (fs_iget(f, nums[i], &inos[got]) == 0)
			got++;
	rc = demote(c, inos, got, DM_FORCE | DM_KEEP_RAM, id, &moved,
		    &skipped);
	for (size_t i = 0; i < got; i++)
		fs_iput(f, inos[i]);
out_free:
	free(inos);
	free(nums);
	free(colds);
	return rc;
}

/* Delete a dead archive and count it. */
static int drop_dead_archive(struct cold *c, const struct meta_arc *a,
			     uint64_t *freed)
{
	int rc = delete_archive(c, a->id);

	if (!rc) {
		*freed += a->size;
		stats_add(&c->fs->stats.compactions, 1);
		stats_add(&c->fs->stats.compacted_bytes, a->size);
	}
	return rc;
}

int cold_compact(struct cold *c, uint32_t threshold, bool rewrite,
		 uint64_t *freed)
{
	struct fs *f = c->fs;
	struct meta_arc *arcs = NULL;
	size_t n = 0;
	int rc;

	*freed = 0;
	rc = meta_arc_list(f->meta, &arcs, &n);
	if (rc)
		return rc;
	/* Dead archives first: deleting needs no space, rewriting does. */
	for (size_t i = 0; i < n && !rc; i++)
		if (arcs[i].live == 0)
			rc = drop_dead_archive(c, &arcs[i], freed);
	for (size_t i = 0; i < n && !rc && rewrite; i++) {
		struct meta_arc a = arcs[i];

		if (!a.live || !a.total ||
		    a.live * 100 >= (uint64_t)threshold * a.total)
			continue;
		rc = rewrite_archive(c, a.id);
		if (rc)
			break;
		/* Files changed meanwhile keep it alive a while. */
		struct meta_arc *now = NULL;
		size_t m = 0;

		rc = meta_arc_list(f->meta, &now, &m);
		for (size_t j = 0; j < m; j++)
			if (now[j].id == a.id)
				a.live = now[j].live;
		free(now);
		if (!rc && a.live == 0)
			rc = drop_dead_archive(c, &a, freed);
	}
	free(arcs);
	return rc;
}
