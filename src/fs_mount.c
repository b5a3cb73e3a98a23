/*
 * fs_mount.c - mounting a store (fs_mount), crash recovery, the space
 * reserve, and a clean unmount (fs_unmount). What it is not: the inode
 * table or the operations (fs.c and the other fs_*.c files).
 *
 * MOUNT AND RECOVERY. fs_mount() locks the store (store.c), opens meta.db,
 * then repairs what a crash can leave behind, in this order:
 *   1. inodes with no links (unlinked while open when the daemon died) are
 *      deleted with their extents; the shadow extents of rewrites not
 *      published yet (fs_replace.c, REPLACING A FILE) are dropped: those files
 *      keep their old content;
 *   2. the warm segments are opened with their committed lengths from
 *      meta: bytes appended after the last commit are cut off, segment files
 *      meta does not know are deleted (seg.c);
 *   3. the cold archives are checked the same way (cold.c).
 * Since every write to the store is "write new bytes, sync when promised,
 * commit their location, then release the old", nothing a commit points at
 * is ever missing, and nothing uncommitted survives recovery.
 */
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "blob.h"
#include "cold.h"
#include "log.h"

static int next_seg_id(void *ctx, uint64_t *id)
{
	struct fs *f = ctx;

	return meta_next_id(f->meta, "segment", id);
}

struct orphans {
	uint64_t *ino;
	size_t n, cap;
	int rc;
};

/* Collected first: meta's callbacks must not call back into meta. */
static void collect_orphan(void *ctx, uint64_t ino)
{
	struct orphans *o = ctx;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		uint64_t *p = realloc(o->ino, cap * sizeof(*p));

		if (!p) {
			o->rc = -ENOMEM;
			return;
		}
		o->ino = p;
		o->cap = cap;
	}
	o->ino[o->n++] = ino;
}

/* Delete every inode with no links left: at mount, those a crash left
 * behind; at unmount, those the kernel never sent the last FORGET for (it
 * drops pending FORGETs when the connection ends). */
/* Rewrites the daemon did not publish before it died: the old content
 * stays, the new records become dead space. */
static int recover_rewrites(struct fs *f)
{
	uint64_t n = 0;
	int rc = meta_extent_drop_shadows(f->meta, &n);

	if (!rc && n)
		tfs_info("recovery: dropped %" PRIu64 " chunk(s) of unfinished "
			 "rewrites (those files keep their old content)", n);
	return rc;
}

static int recover_orphans(struct fs *f, bool at_mount)
{
	struct orphans o = { 0 };
	int rc;

	rc = meta_inode_scan_orphans(f->meta, collect_orphan, &o);
	if (!rc)
		rc = o.rc;
	for (size_t i = 0; !rc && i < o.n; i++)
		rc = meta_inode_delete(f->meta, o.ino[i]);
	if (o.n && at_mount)
		tfs_info("recovery: deleted %zu unlinked inode(s)", o.n);
	else if (o.n)
		tfs_debug("unmount: deleted %zu file(s) unlinked while open",
			  o.n);
	free(o.ino);
	return rc;
}

static int open_warm(struct fs *f, const struct tfs_config *cfg)
{
	struct meta_seg *segs = NULL;
	struct seg_known *known = NULL;
	struct blob_store *bs = NULL;
	char dir[4096];
	size_t n = 0;
	int rc;

	rc = meta_seg_list(f->meta, &segs, &n);
	if (rc)
		return rc;
	known = calloc(n ? n : 1, sizeof(*known));
	if (!known) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		known[i].id = segs[i].id;
		known[i].len = segs[i].len;
	}
	rc = store_path(&f->store, dir, sizeof(dir), "warm");
	if (rc)
		goto out_free;
	rc = blob_local_open(&bs, dir, 0600, 0);
	if (rc) {
		tfs_err("warm: open %s: %s", dir, strerror(-rc));
		goto out_free;
	}
	/* The segment store takes the blob store over. */
	rc = segstore_open(&f->seg, bs, cfg->seg_max, known, n, next_seg_id,
			   f);
out_free:
	free(known);
	free(segs);
	return rc;
}

/*
 * SPACE. New data (warm records) is refused with ENOSPC while the store
 * disk has less than a reserve free: 1% of the disk, at least 4 MiB, at
 * most 256 MiB. The reserve is for meta.db, so that unlink, truncate and
 * rmdir (which only write metadata) keep working on a full store and give
 * space back: a dead segment is deleted, and on a nearly full disk the dead
 * records of live segments are punched out at once (compact.c). A write
 * whose data cannot be stored fails at close() or fsync() with ENOSPC and
 * nothing committed before is touched; once space is back, writes work.
 */
static void set_reserve(struct fs *f)
{
	struct statvfs v;
	uint64_t r;

	if (statvfs(f->store.dir, &v) < 0)
		return;
	r = (uint64_t)v.f_blocks * v.f_frsize / 100;
	if (r < (4u << 20))
		r = 4u << 20;
	if (r > (256u << 20))
		r = 256u << 20;
	f->space_reserve = r;
	segstore_set_reserve(f->seg, r);
}

static int keep_first_problem(void *ctx, const char *problem)
{
	snprintf(ctx, 200, "%s", problem);
	return 1;       /* one is enough to refuse */
}

/* Up to this size (meta.db plus its WAL) the full check runs before
 * mounting also after a clean stop: a few hundred thousand files, well
 * under a second, and damage is then refused at mount rather than found
 * by the background check once mounted (every write EROFS from then on). */
#define META_SYNC_CHECK_MAX (32ull << 20)

static bool meta_small(const char *db)
{
	/* The tests set TIERFS_META_SYNC_CHECK_MAX (bytes; 0: never) to
	 * reach the background check with a small store. */
	const char *env = getenv("TIERFS_META_SYNC_CHECK_MAX");
	uint64_t max = META_SYNC_CHECK_MAX;
	char wal[PATH_MAX];
	struct stat st;
	uint64_t size = 0;

	if (env && *env)
		max = strtoull(env, NULL, 10);
	if (!max)
		return false;

	if (stat(db, &st) == 0)
		size += (uint64_t)st.st_size;
	if (snprintf(wal, sizeof(wal), "%s-wal", db) < (int)sizeof(wal) &&
	    stat(wal, &st) == 0)
		size += (uint64_t)st.st_size;
	return size <= max;
}

/* A damaged meta.db is refused, not mounted (it would send good data to
 * the bin as orphans, or serve wrong bytes). After an unclean stop (no
 * STORE/clean), and for a small one always, the whole database is checked
 * first (PRAGMA quick_check); after a clean stop of a big one only its
 * header, schema and b-tree roots, and the full check runs in the
 * background once mounted (meta_check.c). */
static int check_meta(struct fs *f, bool full, char *err, size_t errlen)
{
	char first[200] = "";
	unsigned bad = 0;
	int rc;

	if (full)
		rc = meta_check(f->meta, true, keep_first_problem, first,
				&bad);
	else
		rc = meta_check_roots(f->meta, keep_first_problem, first,
				      &bad);
	if (rc) {
		snprintf(err, errlen, "%s/meta.db: cannot check the metadata "
			 "database: %s", f->store.dir, strerror(-rc));
		return rc;
	}
	if (!bad)
		return 0;
	snprintf(err, errlen, "%s/meta.db is damaged (SQLite %s: %s); not "
		 "mounting it. Run tierfs-fsck %s to see what is affected, "
		 "and restore meta.db from a backup", f->store.dir,
		 full ? "quick_check" : "b-tree roots", first, f->store.dir);
	return -EIO;
}

int fs_space_for(struct fs *f, uint64_t bytes)
{
	uint64_t avail;

	if (!f->space_reserve || segstore_avail(f->seg, &avail) < 0)
		return 0;
	return avail < f->space_reserve + bytes ? -ENOSPC : 0;
}

/* The tiers by id, behind the tier interface (tier.h): a new tier is its
 * tier_NAME.c and one line here. */
static void set_tiers(struct fs *f)
{
	f->tiers[TFS_HOT] = (struct tier){ &tier_hot_ops, &f->hot };
	f->tiers[TFS_WARM] = (struct tier){ &tier_warm_ops, f->seg };
	f->tiers[TFS_COLD] = (struct tier){ &tier_cold_ops, f->cold };
}

int fs_mount(struct fs **out, const char *store_dir,
	     const struct tfs_config *cfg, char *err, size_t errlen)
{
	struct fs *f;
	char path[4096];
	bool clean, fresh, full;
	struct stat st;
	int rc;

	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->store.lock_fd = -1;
	f->cfg = *cfg;
	f->mount_time = fs_now();
	stats_init(&f->stats);
	pthread_mutex_init(&f->ns_lock, NULL);
	pthread_mutex_init(&f->cfg_lock, NULL);
	pthread_rwlock_init(&f->seg_lock, NULL);
	fs_replace_init(f);
	f->ghosts = calloc(FS_GHOSTS, sizeof(*f->ghosts));
	rc = f->ghosts ? itable_init(&f->itable) : -ENOMEM;
	if (!rc)
		rc = itable_init(&f->vtable);
	if (!rc)
		rc = hot_init(&f->hot, cfg->hot_max);
	if (rc) {
		snprintf(err, errlen, "cannot initialise: %s", strerror(-rc));
		goto out_fail;
	}

	rc = store_open_wait(&f->store, store_dir, STORE_MOUNT_WAIT_MS, err,
			     errlen);
	if (rc)
		goto out_fail;
	rc = store_path(&f->store, path, sizeof(path), "meta.db");
	/* No meta.db yet: a new store (or one whose first mount never got
	 * this far). It had no last stop, clean or not; meta_open creates
	 * the database and the full check below is of an empty one. */
	fresh = !rc && stat(path, &st) < 0 && errno == ENOENT;
	if (!rc)
		rc = meta_open(&f->meta, path);
	if (rc) {
		snprintf(err, errlen, "%s/meta.db: cannot open the metadata "
			 "database: %s%s", f->store.dir, strerror(-rc),
			 rc == -EIO ? " (damaged? run tierfs-fsck on the "
			 "store)" : "");
		goto out_fail;
	}
	clean = store_clean_get(&f->store);
	if (!clean && !fresh)
		tfs_info("%s: the last stop was not clean: checking meta.db "
			 "in full before mounting", f->store.dir);
	full = !clean || meta_small(path);
	rc = check_meta(f, full, err, errlen);
	if (rc)
		goto out_fail;
	/* From here on the store changes: until the clean unmount writes
	 * the marker again, the next mount checks everything first. */
	rc = store_clean_set(&f->store, false);
	if (rc) {
		snprintf(err, errlen, "%s: cannot remove the clean-stop "
			 "marker: %s", f->store.dir, strerror(-rc));
		goto out_fail;
	}
	if (full || meta_check_start(f->meta))
		rc = meta_set_exclusive(f->meta);
	if (!rc)
		rc = recover_orphans(f, true);
	if (!rc)
		rc = recover_rewrites(f);
	if (rc) {
		snprintf(err, errlen, "recovery of unlinked inodes failed: %s",
			 strerror(-rc));
		goto out_fail;
	}
	rc = open_warm(f, cfg);
	if (rc) {
		snprintf(err, errlen, "%s/warm: cannot open segments: %s",
			 f->store.dir, strerror(-rc));
		goto out_fail;
	}
	set_reserve(f);
	rc = cold_open(&f->cold, f->store.dir, f->meta, cfg, err, errlen);
	if (rc)
		goto out_fail;
	set_tiers(f);
	rc = fs_iget(f, TFS_ROOT_INO, &f->root);
	if (rc) {
		snprintf(err, errlen, "cannot load the root directory: %s",
			 strerror(-rc));
		goto out_fail;
	}
	rc = fs_ctl_init(f);
	if (rc) {
		snprintf(err, errlen, "cannot set up .tiers: %s",
			 strerror(-rc));
		goto out_fail;
	}
	rc = fs_replace_start(f);
	if (rc) {
		snprintf(err, errlen, "cannot start the replacer thread: %s",
			 strerror(-rc));
		goto out_fail;
	}
	f->mounted = true;
	*out = f;
	return 0;

out_fail:
	fs_unmount(&f);
	return rc;
}

/* Write back every loaded inode that still has dirty data (normally none:
 * the kernel releases every file before unmounting). */
static void writeback_all(struct fs *f)
{
	for (;;) {
		struct tfs_inode *victim = NULL;

		pthread_mutex_lock(&f->itable.lock);
		for (uint64_t b = 0; b < f->itable.nbuckets && !victim; b++)
			for (struct tfs_inode *n = f->itable.buckets[b]; n;
			     n = n->hnext) {
				bool dirty;

				inode_lock(n);
				dirty = (n->ndirty > 0 || n->meta_dirty) &&
					n->attr.nlink > 0;
				inode_unlock(n);
				if (dirty) {
					n->ref++;
					victim = n;
					break;
				}
			}
		pthread_mutex_unlock(&f->itable.lock);
		if (!victim)
			return;
		inode_io_lock(victim);
		if (fs_writeback(f, victim, true)) {
			/* Give up on it rather than loop forever. */
			inode_lock(victim);
			victim->ndirty = 0;
			victim->meta_dirty = false;
			inode_unlock(victim);
		}
		inode_io_unlock(victim);
		fs_iput(f, victim);
	}
}

/*
 * A clean unmount leaves nothing for the next mount to recover: dirty data
 * is written back, inodes unlinked while open are deleted, and the active
 * segment loses what was appended but never committed (all of it, file
 * included, when its catalog row does not exist).
 */
static void finish_store(struct fs *f)
{
	struct meta_seg row = { 0 };
	uint64_t active;
	int rc;

	writeback_all(f);
	rc = recover_orphans(f, false);
	if (rc)
		tfs_warn("unmount: unlinked inodes not deleted (the next mount "
			 "will): %s", strerror(-rc));
	active = segstore_active(f->seg);
	if (!active)
		return;
	rc = meta_seg_get(f->meta, active, &row);
	if (rc == -ENOENT || (rc == 0 && (row.len > 0 || row.live == 0)))
		segstore_trim_active(f->seg, row.len);
}

void fs_unmount(struct fs **fp)
{
	struct fs *f = *fp;
	bool clean;

	if (!f)
		return;
	if (f->meta)
		meta_check_stop(f->meta);
	/* Clean: the mount finished and SQLite saw no damage. */
	clean = f->mounted && f->meta && !meta_damaged(f->meta);
	fs_replace_stop(f);
	if (f->meta && f->seg) {
		fs_replace_commit(f, true);
		finish_store(f);
	}
	if (f->seg)
		segstore_sync(f->seg);
	if (f->meta)
		meta_sync(f->meta);
	if (f->meta && f->root)
		cold_snapshot(f->cold);
	cold_close(&f->cold);
	segstore_close(&f->seg);
	if (f->itable.buckets)
		itable_destroy(&f->itable);
	if (f->vtable.buckets)
		itable_destroy(&f->vtable);
	inode_free(f->vtiers);
	fs_ctl_destroy(f);
	meta_close(&f->meta);
	if (clean && store_clean_set(&f->store, true))
		tfs_warn("unmount: cannot write %s/clean; the next mount "
			 "checks meta.db in full", f->store.dir);
	store_close(&f->store);
	hot_destroy(&f->hot);
	free(f->overrides);
	free(f->ghosts);
	pthread_mutex_destroy(&f->ns_lock);
	pthread_mutex_destroy(&f->cfg_lock);
	pthread_rwlock_destroy(&f->seg_lock);
	fs_replace_destroy(f);
	free(f);
	*fp = NULL;
}
