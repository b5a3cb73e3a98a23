/*
 * fs_wb.c - write-back: making a file's dirty RAM chunks durable as warm
 * records (close, fsync, eviction, moves).
 *
 * Write-back runs under ino->io: it notes the dirty chunks under
 * ino->lock, appends them to the warm segments without any inode lock,
 * commits all their extents and the attributes in one meta transaction,
 * then marks clean each chunk whose generation did not move meanwhile. A
 * chunk written again during the write-back stays dirty, so a move never
 * publishes stale bytes over a newer write.
 *
 * No copy of full-size chunks: their buffer never moves or goes away while
 * ino->io is held (growing stops at the full size; truncation and eviction
 * take ino->io), so the record is encoded straight from it. A writer may
 * change those bytes meanwhile (fs_write holds only ino->lock), so after
 * the append each such chunk's generation is checked under ino->lock
 * (fs_write changes bytes and generation under it): a record whose chunk
 * moved is not committed (it may be torn) and the write-back runs again,
 * copying this time. Smaller chunks (small files) are copied: cheap.
 */
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "log.h"

/* Write-back stores into this tier (tier.h store_batch, sync). */
#define WB_TIER TFS_WARM

/* Chunks copied per write-back batch (bounds the extra memory). */
#define WB_BATCH 256
/* A write-back of a file this small (in chunks) keeps its list on the
 * stack: one calloc/free of the full batch per WRITE made the arena grow
 * and shrink (an mprotect each time, ~30 % of a small file's write-back). */
#define WB_SMALL 8
/* Copies of small chunks go to a buffer on the stack while they fit:
 * a malloc and free of each (a 3 KiB file's one chunk) per WRITE was
 * ~5 % of the daemon's CPU creating 3 KiB files (_int_malloc). */
#define WB_SCRATCH (16 * 1024)

/* ---- write-back ---- */

struct wb_item {
	uint64_t k;
	uint64_t gen;
	struct seg_loc loc;
	uint8_t *copy;          /* the bytes to append */
	bool own;               /* copy is ours, not the chunk's */
	bool heap;              /* and malloc'd (else in the scratch) */
	uint32_t len;
};

/* Note up to WB_BATCH dirty chunks from chunk *next on; copy the small
 * ones, and all of them with `copy` (into `scratch` while they fit, else
 * malloc'd). Caller holds ino->lock. */
static size_t wb_collect(struct tfs_inode *ino, uint64_t *next,
			 struct wb_item *items, size_t max, bool copy,
			 uint8_t *scratch, int *err)
{
	size_t n = 0, used = 0;

	for (; *next < ino->nchunks_cap && n < max; (*next)++) {
		struct hchunk *c = ino->chunks[*next];

		if (!c || !c->dirty)
			continue;
		items[n].k = *next;
		items[n].gen = c->gen;
		items[n].len = c->len;
		items[n].own = copy || c->cap < TFS_CHUNK_SIZE;
		if (!items[n].own) {
			items[n].copy = c->data;
			n++;
			continue;
		}
		items[n].heap = used + c->len > WB_SCRATCH;
		items[n].copy = items[n].heap ? malloc(c->len ? c->len : 1)
					      : scratch + used;
		if (!items[n].heap)
			used += c->len;
		if (!items[n].copy) {
			*err = -ENOMEM;
			break;
		}
		memcpy(items[n].copy, c->data, c->len);
		n++;
	}
	return n;
}

/* Store the batch in the write-back tier; each item's loc gets its
 * record. */
static int wb_store(struct fs *f, struct tfs_inode *ino,
		    struct wb_item *items, size_t n)
{
	const struct tier *t = &f->tiers[WB_TIER];
	struct tier_item ti[WB_BATCH];
	int rc;

	for (size_t i = 0; i < n; i++)
		ti[i] = (struct tier_item){
			.k = items[i].k, .data = items[i].copy,
			.len = items[i].len,
		};
	rc = t->ops->store_batch(t, ino->ino, ti, n);
	for (size_t i = 0; i < n && !rc; i++)
		items[i].loc = ti[i].loc;
	return rc;
}

static void wb_free(struct wb_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].own && items[i].heap)
			free(items[i].copy);
}

/* After the appends: keep the items whose bytes cannot have changed while
 * they were encoded; returns how many (moved to the front). Caller holds
 * ino->lock. */
static size_t wb_keep_stable(struct tfs_inode *ino, struct wb_item *items,
			     size_t n, bool *stale)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		struct hchunk *c = ino->chunks[items[i].k];

		if (!items[i].own && (!c || c->data != items[i].copy ||
				      c->gen != items[i].gen)) {
			*stale = true;
			continue;
		}
		items[kept++] = items[i];
	}
	return kept;
}

/* Commit the batch's extents under `key`: the file's number, or its shadow
 * number while a rewrite is pending (fs_replace.c). */
static int wb_commit(struct fs *f, uint64_t key,
		     const struct wb_item *items, size_t n,
		     const struct meta_inode *attr, uint64_t trunc_from,
		     const struct meta_cold *cold)
{
	uint64_t ino = key & ~META_SHADOW_BIT;
	int rc = meta_begin(f->meta);

	if (rc)
		return rc;
	if (trunc_from != UINT64_MAX)
		rc = meta_extent_truncate(f->meta, key, trunc_from);
	if (!rc && cold)
		rc = cold->len ? meta_cold_put(f->meta, ino, cold)
			       : meta_cold_clear(f->meta, ino);
	for (size_t i = 0; !rc && i < n; i++) {
		struct meta_extent e = {
			.chunk = items[i].k,
			.seg = items[i].loc.seg,
			.off = items[i].loc.off,
			.rec_len = items[i].loc.rec_len,
			.raw_len = items[i].loc.raw_len,
		};

		rc = meta_extent_put(f->meta, key, &e);
		if (rc)
			break;
		/* A segment's committed length is a maximum: once per run
		 * of records in one segment (the last one ends furthest). */
		if (i + 1 == n || items[i + 1].loc.seg != e.seg ||
		    items[i + 1].loc.off < e.off)
			rc = meta_seg_commit_len(f->meta, e.seg,
						 e.off + e.rec_len);
	}
	if (!rc && attr)
		rc = meta_inode_update(f->meta, attr);
	return meta_finish(f->meta, rc);
}

int fs_writeback(struct fs *f, struct tfs_inode *ino, bool sync)
{
	struct wb_item small[WB_SMALL], *items;
	uint8_t scratch[WB_SCRATCH];
	size_t batch;
	struct meta_inode attr;
	struct meta_cold cold;
	uint64_t next, start, version, trunc_from;
	bool last = false, has_cold, idle, copy = false, stale = false, shadow;
	int rc = 0;

	if (ino->kind != INODE_REAL)
		return 0;
	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	/* A pending rewrite (fs_replace.c; it starts and ends under ino->io,
	 * which we hold) commits its extents as shadows, and neither the
	 * attributes nor the cold row: meta keeps the old content. */
	shadow = ino->replace_since != 0;
	idle = ino->ndirty == 0 && (shadow || !ino->meta_dirty) &&
	       ino->trunc_from == UINT64_MAX;
	batch = ino->nchunks_cap > WB_SMALL ? WB_BATCH : WB_SMALL;
	/* A sequential writer's file has one dirty run at its end: not a
	 * walk over all its chunks at every WRITE. */
	start = next = ino->dirty_lo;
	inode_unlock(ino);
	if (idle)
		return sync ? fs_sync_store(f) : 0;
	items = batch == WB_SMALL ? small : calloc(batch, sizeof(*items));
	if (!items)
		return -ENOMEM;

again:
	while (!last) {
		size_t n;

		inode_lock(ino);
		n = wb_collect(ino, &next, items, batch, copy, scratch, &rc);
		last = next >= ino->nchunks_cap;
		attr = ino->attr;       /* with the truncation, if any */
		attr.last_access = atomic_load(&ino->last_access);
		attr.access_count = atomic_load(&ino->access_count);
		version = ino->data_version;
		trunc_from = ino->trunc_from;
		has_cold = ino->has_cold;
		cold = ino->cold;
		inode_unlock(ino);
		if (rc) {
			wb_free(items, n);
			goto out_free;
		}
		pthread_rwlock_rdlock(&f->seg_lock);
		rc = wb_store(f, ino, items, n);
		if (!rc && n) {
			fault_point("writeback-before-commit");
			wb_free(items, n);      /* the records hold the bytes */
			inode_lock(ino);
			n = wb_keep_stable(ino, items, n, &stale);
			inode_unlock(ino);
		} else {
			wb_free(items, n);
		}
		if (!rc && shadow)
			rc = wb_commit(f, META_SHADOW(ino->ino), items, n,
				       NULL, trunc_from, NULL);
		else if (!rc)
			rc = wb_commit(f, ino->ino, items, n,
				       last || trunc_from != UINT64_MAX ? &attr
									: NULL,
				       trunc_from, has_cold ? &cold : NULL);
		pthread_rwlock_unlock(&f->seg_lock);
		if (rc)
			goto out_free;
		stats_add(&f->stats.writebacks, n);
		inode_lock(ino);
		if (trunc_from == ino->trunc_from)
			ino->trunc_from = UINT64_MAX;
		for (size_t i = 0; i < n; i++) {
			struct hchunk *c = ino->chunks[items[i].k];

			stats_add(&f->stats.writeback_bytes, items[i].len);
			if (inode_reserve_ext(ino, items[i].k) == 0)
				ino->ext[items[i].k] = (struct ext_slot){
					.seg = items[i].loc.seg,
					.off = items[i].loc.off,
					.rec_len = items[i].loc.rec_len,
					.raw_len = items[i].loc.raw_len,
				};
			else
				ino->ext_loaded = false; /* reload later */
			if (c && c->dirty && c->gen == items[i].gen) {
				c->dirty = false;
				ino->ndirty--;
			}
			/* A file that is not hot keeps no clean chunks. */
			if (c && !c->dirty && !ino->resident)
				fs_chunk_drop(f, ino, items[i].k);
		}
		ino->ext_gen++;
		if (last && ino->data_version == version && !shadow)
			ino->meta_dirty = false;
		if (last && ino->ndirty == 0)
			ino->dirty_lo = UINT64_MAX;
		inode_unlock(ino);
	}
	if (stale && !copy) {
		/* A writer changed a chunk while it was encoded: once more,
		 * copying, so that what is durable on return includes every
		 * write made before. */
		copy = true;
		next = start;
		last = false;
		goto again;
	}
	if (sync)
		rc = fs_sync_store(f);
out_free:
	if (items != small)
		free(items);
	if (rc)
		tfs_err("write-back of inode %" PRIu64 " failed: %s", ino->ino,
			strerror(-rc));
	return rc;
}

int fs_flush(struct fs *f, struct tfs_inode *ino)
{
	bool dirty;
	int rc;

	if (ino->kind != INODE_REAL)
		return 0;
	inode_lock(ino);
	dirty = ino->ndirty > 0 || ino->meta_dirty;
	inode_unlock(ino);
	if (!dirty)
		return 0;
	inode_io_lock(ino);
	/* A close (when the kernel tells of one): a rewrite is done. */
	rc = fs_replace_publish(f, ino);
	if (!rc)
		rc = fs_writeback(f, ino, false);
	inode_io_unlock(ino);
	return rc;
}

int fs_sync_store(struct fs *f)
{
	int rc = 0;

	for (int i = 0; i < TFS_NTIERS && !rc; i++)
		if (f->tiers[i].ops->sync)
			rc = f->tiers[i].ops->sync(&f->tiers[i]);
	return rc ? rc : meta_sync(f->meta);
}

int fs_fsyncdir(struct fs *f, struct tfs_inode *dir)
{
	return dir->kind == INODE_REAL ? meta_sync(f->meta) : 0;
}

int fs_fsync(struct fs *f, struct tfs_inode *ino, bool datasync)
{
	int rc;

	if (ino->kind != INODE_REAL)
		return 0;
	inode_io_lock(ino);
	rc = fs_replace_publish(f, ino);        /* a rewrite is done now */
	if (!rc)
		rc = fs_writeback(f, ino, true);
	inode_io_unlock(ino);
	return rc;
}
