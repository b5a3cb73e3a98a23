/*
 * fs_cold.c - the cold mover: demotion of files into new archives and the
 * rewrite of an archive's live files (for compaction), above the cold
 * tier's catalog (cold.h), beside the other moves (fs_tier.c).
 *
 * A batch of files is sorted by path (a directory's files share blocks)
 * and cut into archives of at most archive_max bytes. For each archive:
 * every file is written back and its durable bytes streamed into a new
 * archive (cold_arc_create); the archive is finished (synced), added to the
 * catalog, and then every file still unchanged (same data version, same
 * extents; never waiting for a busy file's lock) gets its new place in one
 * meta transaction and drops its old copies. A file that changed meanwhile
 * stays where it is (counted as skipped); an archive nothing was committed
 * to is discarded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cold.h"
#include "fault.h"
#include "fs_int.h"
#include "log.h"
#include "xzarc.h"

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
	const struct tier *warm = &f->tiers[TFS_WARM];
	struct tfs_inode *ino = it->ino;
	bool warm_left, resident;
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
	/* A rewrite not published yet (fs_replace.c) stays where it is: meta
	 * still holds its old content. */
	if (!rc && ino->replace_since)
		rc = -EBUSY;
	warm_left = warm->ops->stored_bytes(warm, ino) != 0;
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
	const struct tier *warm = &f->tiers[TFS_WARM];
	const struct tier *hot = &f->tiers[TFS_HOT];
	struct tfs_inode *ino = it->ino;

	inode_lock(ino);
	warm->ops->release(warm, ino);  /* its records are dead now */
	ino->has_cold = true;
	ino->cold = (struct meta_cold){
		.archive = arc, .off = it->off, .len = it->size,
		.orig_len = it->size,
	};
	ino->ext_gen++;
	if (!(flags & DM_KEEP_RAM) || !ino->resident) {
		hot->ops->release(hot, ino);
		ino->attr.tier = TFS_COLD;
	}
	inode_unlock(ino);
	if (!(flags & DM_KEEP_RAM))
		stats_add(&f->stats.demotions[TFS_COLD], 1);
}

/* Archive items[0..n) (all ok on entry) into one new archive. */
static int dm_archive(struct fs *f, struct dm_item *items, size_t n,
		      int flags, size_t *moved, size_t *skipped)
{
	struct cold *c = f->cold;
	struct tfs_config cfg;
	struct xzarc_params p;
	struct xzarc_writer *w = NULL;
	struct meta_arc arc = { 0 };
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
	rc = cold_arc_create(c, &p, &arc.id, &w);
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
	rc = cold_arc_add(c, arc.id);
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
		if (rc == -ECANCELED)
			rc = 0;
		goto out_unlink;
	}
	*moved += kept;
	*skipped += n - kept;
	goto out_free;

out_unlink:
	*skipped += n;
	cold_arc_discard(c, arc.id);
out_free:
	free(buf);
	return rc;
}

static int demote(struct fs *f, struct tfs_inode **inos, size_t n,
		  int flags, uint64_t src_arc, size_t *moved, size_t *skipped)
{
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
			rc = dm_archive(f, items + start, end - start, flags,
					moved, skipped);
		start = end;
	}
	for (size_t i = 0; i < m; i++)
		free(items[i].path);
	free(items);
	return rc;
}

int fs_cold_demote(struct fs *f, struct tfs_inode **inos, size_t n,
		   size_t *moved, size_t *skipped)
{
	int rc = demote(f, inos, n, 0, 0, moved, skipped);

	/* A remote store keeps meta.db's snapshot up to date per batch. */
	if (*moved)
		cold_snapshot(f->cold);
	return rc;
}

int fs_cold_rewrite(struct fs *f, uint64_t arc)
{
	struct meta_cold *colds = NULL;
	struct tfs_inode **inos = NULL;
	uint64_t *nums = NULL;
	size_t n = 0, got = 0, moved, skipped;
	int rc;

	rc = meta_cold_list_arc(f->meta, arc, &nums, &colds, &n);
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
	rc = demote(f, inos, got, DM_FORCE | DM_KEEP_RAM, arc, &moved,
		    &skipped);
	for (size_t i = 0; i < got; i++)
		fs_iput(f, inos[i]);
out_free:
	free(inos);
	free(nums);
	free(colds);
	return rc;
}

