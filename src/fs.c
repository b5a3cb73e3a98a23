/*
 * fs.c - mounting a store, inode references and lifetime, statfs.
 *
 * MOUNT AND RECOVERY. fs_mount() locks the store (store.c), opens meta.db,
 * then repairs what a crash can leave behind, in this order:
 *   1. inodes with no links (unlinked while open when the daemon died) are
 *      deleted with their extents;
 *   2. the warm segments are opened with their committed lengths from
 *      meta: bytes appended after the last commit are cut off, segment files
 *      meta does not know are deleted (seg.c);
 *   3. the cold archives are checked the same way (cold.c).
 * Since every write to the store is "write new bytes, sync when promised,
 * commit their location, then release the old", nothing a commit points at
 * is ever missing, and nothing uncommitted survives recovery.
 *
 * INODE LIFETIME. See inode.h. Everything here runs under itable->lock; the
 * final free (which may delete the inode's rows) runs after the inode left
 * the table, so no other thread can find it any more. When the kernel
 * makes us forget a file that is not in RAM, what only memory knew of it
 * (an open promotion window, why it is where it is) goes into a bounded,
 * direct-mapped table of ghosts and comes back if the file is loaded again;
 * its access counters are written to meta.
 */
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "cold.h"
#include "log.h"

tfs_ns fs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (tfs_ns)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct tfs_inode *fs_root(struct fs *f)
{
	return f->root;
}

int fs_set_overrides(struct fs *f, const char *opts)
{
	char *copy = opts ? strdup(opts) : NULL;

	if (opts && !copy)
		return -ENOMEM;
	free(f->overrides);
	f->overrides = copy;
	return 0;
}

void fs_set_zero_open(struct fs *f, bool on)
{
	atomic_store(&f->zero_open, on);
}

bool fs_zero_open(struct fs *f)
{
	return atomic_load(&f->zero_open);
}

void fs_set_upcalls(struct fs *f, const struct fs_upcalls *up)
{
	if (up)
		f->up = *up;
	else
		memset(&f->up, 0, sizeof(f->up));
}

void fs_queue_promote(struct fs *f, uint64_t ino)
{
	if (f->up.queue_promote)
		f->up.queue_promote(f->up.ctx, ino);
}

uint64_t fs_backlog(struct fs *f)
{
	return f->up.backlog ? f->up.backlog(f->up.ctx) : 0;
}

int fs_dir_pin(struct fs *f, uint64_t ino)
{
	return f->up.dir_pin ? f->up.dir_pin(f->up.ctx, ino) : TFS_PIN_NONE;
}

void fs_policy_wake(struct fs *f)
{
	if (f->up.wake)
		f->up.wake(f->up.ctx);
}

/* Apply comma-separated key=value overrides to cfg. */
static int apply_overrides(struct tfs_config *cfg, const char *opts,
			   char *err, size_t errlen)
{
	char *copy, *save = NULL, *o;
	int rc = 0;

	if (!opts)
		return 0;
	copy = strdup(opts);
	if (!copy)
		return -ENOMEM;
	for (o = strtok_r(copy, ",", &save); o && !rc;
	     o = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(o, '=');

		if (!eq)
			continue;
		*eq = 0;
		rc = config_set(cfg, o, eq + 1, err, errlen);
	}
	free(copy);
	return rc;
}

int fs_reload_config(struct fs *f)
{
	struct tfs_config old, cfg, file_cfg;
	char path[4200], err[512], diff[1024];
	int rc, n;

	/* SIGHUP lands here: a log file moved by logrotate is reopened. */
	log_reopen();
	rc = store_path(&f->store, path, sizeof(path), "tierfs.conf");
	if (rc)
		return rc;
	config_defaults(&cfg);
	rc = config_load_file(&cfg, path, err, sizeof(err));
	if (rc && rc != -ENOENT) {
		tfs_err("config not reloaded, old settings kept: %s", err);
		stats_add(&f->stats.config_reload_failures, 1);
		return rc;
	}
	file_cfg = cfg;
	rc = apply_overrides(&cfg, f->overrides, err, sizeof(err));
	if (rc) {
		tfs_err("config not reloaded: %s", err);
		stats_add(&f->stats.config_reload_failures, 1);
		return rc;
	}
	pthread_mutex_lock(&f->cfg_lock);
	old = f->cfg;
	f->cfg = cfg;
	pthread_mutex_unlock(&f->cfg_lock);
	atomic_store(&f->hot.max, cfg.hot_max);
	cold_set_cache_size(f->cold, cfg.cache_size);
	stats_add(&f->stats.config_reloads, 1);
	n = config_diff(&old, &cfg, diff, sizeof(diff));
	if (n)
		tfs_info("config reloaded: %s", diff);
	else
		tfs_info("config reloaded: no change");
	if (config_diff(&file_cfg, &cfg, diff, sizeof(diff)))
		tfs_info("config: the command line's -o wins over tierfs.conf"
			 " for: %s", diff);
	/* Last, so that the change itself is logged at the old level. */
	log_set_level((int)cfg.log_level);
	return 0;
}

void fs_note_pid(struct fs *f)
{
	store_note_pid(&f->store);
}

void fs_get_config(struct fs *f, struct tfs_config *out)
{
	pthread_mutex_lock(&f->cfg_lock);
	*out = f->cfg;
	pthread_mutex_unlock(&f->cfg_lock);
}

/* ---- references ---- */

int fs_iadd(struct fs *f, const struct meta_inode *attr,
	    struct tfs_inode **out)
{
	struct tfs_inode *n = inode_alloc(attr, INODE_REAL);

	if (!n)
		return -ENOMEM;
	n->ref = 1;
	n->ext_loaded = true;   /* a new inode has no extents */
	pthread_mutex_lock(&f->itable.lock);
	itable_insert(&f->itable, n);
	pthread_mutex_unlock(&f->itable.lock);
	*out = n;
	return 0;
}

static struct fs_ghost *ghost_slot(struct fs *f, uint64_t ino)
{
	return &f->ghosts[(ino * 0x9e3779b97f4a7c15ull) >> 48 &
			  (FS_GHOSTS - 1)];
}

/* Caller holds itable.lock and n->lock. */
static void ghost_save(struct fs *f, const struct tfs_inode *n)
{
	struct fs_ghost *g;

	if (!f->ghosts || (n->reason == REASON_MOUNT && !n->promo_reads))
		return;
	g = ghost_slot(f, n->ino);
	*g = (struct fs_ghost){
		.ino = n->ino, .promo_start = n->promo_start,
		.promo_reads = n->promo_reads, .reason = n->reason,
		.reason_arg = { n->reason_arg[0], n->reason_arg[1] },
	};
}

/* Caller holds itable.lock; n is not visible to others yet. */
static void ghost_restore(struct fs *f, struct tfs_inode *n)
{
	struct fs_ghost *g;

	if (!f->ghosts)
		return;
	g = ghost_slot(f, n->ino);
	if (g->ino != n->ino)
		return;
	n->promo_start = g->promo_start;
	n->promo_reads = g->promo_reads;
	n->reason = g->reason;
	n->reason_arg[0] = g->reason_arg[0];
	n->reason_arg[1] = g->reason_arg[1];
	g->ino = 0;
}

void fs_chunk_drop(struct fs *f, struct tfs_inode *ino, uint64_t k)
{
	struct hchunk *c = ino->chunks[k];

	if (!c)
		return;
	if (c->dirty)
		ino->ndirty--;
	ino->ram_bytes -= c->cap;
	hot_chunk_free(&f->hot, c);
	ino->chunks[k] = NULL;
}

struct tfs_inode *fs_ifind(struct fs *f, uint64_t ino)
{
	struct tfs_inode *n;

	pthread_mutex_lock(&f->itable.lock);
	n = itable_find(&f->itable, ino);
	if (n)
		n->ref++;
	pthread_mutex_unlock(&f->itable.lock);
	return n;
}

int fs_iget(struct fs *f, uint64_t ino, struct tfs_inode **out)
{
	struct meta_inode attr;
	struct tfs_inode *n, *other;
	int rc;

	pthread_mutex_lock(&f->itable.lock);
	n = itable_find(&f->itable, ino);
	if (n) {
		n->ref++;
		pthread_mutex_unlock(&f->itable.lock);
		*out = n;
		return 0;
	}
	pthread_mutex_unlock(&f->itable.lock);

	rc = meta_inode_get(f->meta, ino, &attr);
	if (rc)
		return rc;
	if (attr.nlink == 0)
		return -ENOENT; /* being deleted */
	n = inode_alloc(&attr, INODE_REAL);
	if (!n)
		return -ENOMEM;

	pthread_mutex_lock(&f->itable.lock);
	other = itable_find(&f->itable, ino);
	if (other) {
		other->ref++;
		pthread_mutex_unlock(&f->itable.lock);
		inode_free(n);
		*out = other;
		return 0;
	}
	n->ref = 1;
	ghost_restore(f, n);
	itable_insert(&f->itable, n);
	pthread_mutex_unlock(&f->itable.lock);
	*out = n;
	return 0;
}

void fs_iref(struct fs *f, struct tfs_inode *ino)
{
	pthread_mutex_lock(&f->itable.lock);
	ino->ref++;
	pthread_mutex_unlock(&f->itable.lock);
}

/* Caller holds itable->lock. Returns true if ino left the table and must be
 * finished by free_inode(). */
static bool release_if_unused(struct fs *f, struct tfs_inode *ino)
{
	bool gone, ram;

	if (ino->kind != INODE_REAL || ino == f->root)
		return false;
	if (ino->nlookup || ino->nopen || ino->ref)
		return false;
	inode_lock(ino);
	gone = ino->attr.nlink == 0;
	ram = ino->resident || ino->ram_bytes > 0;
	if (!ram && !gone)
		ghost_save(f, ino);
	inode_unlock(ino);
	if (ram && !gone)
		return false;   /* a hot file stays loaded */
	itable_remove(&f->itable, ino);
	return true;
}

static void free_inode(struct fs *f, struct tfs_inode *ino)
{
	int rc;

	hot_list_remove(&f->hot, ino);
	for (uint64_t k = 0; k < ino->nchunks_cap; k++)
		fs_chunk_drop(f, ino, k);
	if (ino->attr.nlink == 0) {
		rc = meta_inode_delete(f->meta, ino->ino);
		if (rc)
			tfs_err("deleting inode %" PRIu64 ": %s (it will be "
				"deleted at the next mount)", ino->ino,
				strerror(-rc));
	} else {
		uint64_t count = atomic_load(&ino->access_count);
		tfs_ns last = atomic_load(&ino->last_access);

		if (count != ino->persisted_count ||
		    last != ino->persisted_last)
			meta_inode_set_access(f->meta, ino->ino, count, last);
	}
	inode_free(ino);
}

void fs_iput(struct fs *f, struct tfs_inode *ino)
{
	bool gone;

	pthread_mutex_lock(&f->itable.lock);
	ino->ref--;
	gone = release_if_unused(f, ino);
	pthread_mutex_unlock(&f->itable.lock);
	if (gone)
		free_inode(f, ino);
}

void fs_ilookup(struct fs *f, struct tfs_inode *ino, uint64_t n)
{
	if (ino->kind != INODE_REAL)
		return;
	pthread_mutex_lock(&f->itable.lock);
	ino->nlookup += n;
	pthread_mutex_unlock(&f->itable.lock);
}

void fs_forget(struct fs *f, struct tfs_inode *ino, uint64_t nlookup)
{
	bool gone;

	if (ino->kind != INODE_REAL)
		return;
	pthread_mutex_lock(&f->itable.lock);
	if (nlookup > ino->nlookup) {
		tfs_warn("forget of %" PRIu64 " references to inode %" PRIu64
			 " which has %" PRIu64, nlookup, ino->ino,
			 ino->nlookup);
		nlookup = ino->nlookup;
	}
	ino->nlookup -= nlookup;
	gone = release_if_unused(f, ino);
	pthread_mutex_unlock(&f->itable.lock);
	if (gone)
		free_inode(f, ino);
}

void fs_iopen(struct fs *f, struct tfs_inode *ino)
{
	pthread_mutex_lock(&f->itable.lock);
	ino->nopen++;
	pthread_mutex_unlock(&f->itable.lock);
}

void fs_iclose(struct fs *f, struct tfs_inode *ino)
{
	bool gone;

	pthread_mutex_lock(&f->itable.lock);
	ino->nopen--;
	gone = release_if_unused(f, ino);
	pthread_mutex_unlock(&f->itable.lock);
	if (gone)
		free_inode(f, ino);
}

/* ---- attributes ---- */

static struct timespec ts_of(tfs_ns ns)
{
	struct timespec ts;

	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000;
		ts.tv_sec--;
	}
	return ts;
}

void fs_fill_stat(struct fs *f, const struct tfs_inode *ino, struct stat *st)
{
	const struct meta_inode *a = &ino->attr;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	/* The page size: what tools expect, and what the kernel reads and
	 * writes in anyway (64 KiB made stdio and cp use odd buffers). */
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	if (S_ISREG(a->mode) && ino->kind == INODE_REAL)
		/* Allocated logical bytes: holes are free (fs_hole.c). */
		st->st_blocks = (blkcnt_t)((fs_alloc_bytes(ino) + 511) / 512);
	if (S_ISDIR(a->mode) && ino->kind == INODE_REAL) {
		/* tmpfs-like: 20 bytes per entry, "." and ".." included. */
		uint64_t n = ino->dir_count ? ino->dir_count - 1 : 0;

		st->st_size = (off_t)((n + 2) * FS_DIRENT_BYTES);
		st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
	}
	st->st_atim = ts_of(a->atime);
	st->st_mtim = ts_of(a->mtime);
	st->st_ctim = ts_of(a->ctime);
}

void fs_stat_of(struct fs *f, struct tfs_inode *ino, struct stat *st)
{
	fs_dir_count(f, ino);
	fs_alloc_prepare(f, ino);
	inode_lock(ino);
	fs_fill_stat(f, ino, st);
	inode_unlock(ino);
	if (fs_ctl_is_file(ino))
		fs_ctl_stat(f, ino, st);
}

int fs_persist_attr(struct fs *f, struct tfs_inode *ino)
{
	struct meta_inode a;
	int rc;

	inode_lock(ino);
	a = inode_attr_durable(ino);
	a.last_access = atomic_load(&ino->last_access);
	a.access_count = atomic_load(&ino->access_count);
	ino->meta_dirty = ino->replace_since != 0;
	inode_unlock(ino);
	rc = meta_inode_update(f->meta, &a);
	if (rc) {
		inode_lock(ino);
		ino->meta_dirty = true;
		inode_unlock(ino);
	}
	return rc;
}

int fs_getattr(struct fs *f, struct tfs_inode *ino, struct stat *st)
{
	fs_stat_of(f, ino, st);
	return 0;
}

int fs_statfs(struct fs *f, struct statvfs *st)
{
	struct statvfs disk;
	uint64_t files = 0, bytes = 0;
	int rc;

	if (statvfs(f->store.dir, &disk) < 0)
		return -errno;
	rc = meta_inode_count(f->meta, &files, &bytes);
	if (rc)
		return rc;
	memset(st, 0, sizeof(*st));
	st->f_bsize = 4096;
	st->f_frsize = disk.f_frsize;
	st->f_blocks = disk.f_blocks;
	st->f_bfree = disk.f_bfree;
	st->f_bavail = disk.f_bavail;
	st->f_files = files + disk.f_ffree;
	st->f_ffree = disk.f_ffree;
	st->f_favail = disk.f_favail;
	st->f_namemax = TFS_NAME_MAX;
	return 0;
}

/* ---- mount ---- */

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
	if (!rc)
		rc = segstore_open(&f->seg, dir, cfg->seg_max, known, n,
				   next_seg_id, f);
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

/* PRAGMA quick_check: a damaged meta.db is refused, not mounted (it would
 * send good data to the bin as orphans, or serve wrong bytes). */
static int check_meta(struct fs *f, char *err, size_t errlen)
{
	char first[200] = "";
	unsigned bad = 0;
	int rc;

	rc = meta_check(f->meta, true, keep_first_problem, first, &bad);
	if (rc) {
		snprintf(err, errlen, "%s/meta.db: cannot check the metadata "
			 "database: %s", f->store.dir, strerror(-rc));
		return rc;
	}
	if (!bad)
		return 0;
	snprintf(err, errlen, "%s/meta.db is damaged (SQLite quick_check: "
		 "%s); not mounting it. Run tierfs-fsck %s to see what is "
		 "affected, and restore meta.db from a backup",
		 f->store.dir, first, f->store.dir);
	return -EIO;
}

int fs_space_for(struct fs *f, uint64_t bytes)
{
	uint64_t avail;

	if (!f->space_reserve || segstore_avail(f->seg, &avail) < 0)
		return 0;
	return avail < f->space_reserve + bytes ? -ENOSPC : 0;
}

int fs_mount(struct fs **out, const char *store_dir,
	     const struct tfs_config *cfg, char *err, size_t errlen)
{
	struct fs *f;
	char path[4096];
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
	pthread_mutex_init(&f->replace_lock, NULL);
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
	if (!rc)
		rc = meta_open(&f->meta, path);
	if (rc) {
		snprintf(err, errlen, "%s/meta.db: cannot open the metadata "
			 "database: %s%s", f->store.dir, strerror(-rc),
			 rc == -EIO ? " (damaged? run tierfs-fsck on the "
			 "store)" : "");
		goto out_fail;
	}
	rc = check_meta(f, err, errlen);
	if (rc)
		goto out_fail;
	rc = meta_set_exclusive(f->meta);
	if (!rc)
		rc = recover_orphans(f, true);
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

	if (!f)
		return;
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
	store_close(&f->store);
	hot_destroy(&f->hot);
	free(f->overrides);
	free(f->ghosts);
	pthread_mutex_destroy(&f->ns_lock);
	pthread_mutex_destroy(&f->cfg_lock);
	pthread_rwlock_destroy(&f->seg_lock);
	pthread_mutex_destroy(&f->replace_lock);
	free(f->replace);
	free(f);
	*fp = NULL;
}
