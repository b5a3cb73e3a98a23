/*
 * fs.c - the filesystem's settings (config reload, overrides, the policy's
 * upcalls), inode references and lifetime, stat and statfs. Mounting,
 * recovery and unmounting are fs_mount.c's.
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

/* The policy thread deletes dead segments and archives soon. */
static void fs_compact_wake(struct fs *f)
{
	if (f->up.compact)
		f->up.compact(f->up.ctx);
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
	hot_chunk_drop(&f->hot, ino, k);
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

/* Warm chunks a deleted file must have had to wake compaction (8 MiB). */
#define FS_WAKE_DEAD_CHUNKS 128

static void free_inode(struct fs *f, struct tfs_inode *ino)
{
	int rc;

	hot_list_remove(&f->hot, ino);
	/* A deleted file's buffers serve the next writer (a file replaced
	 * by a new version); hot_trim returns what nobody takes. */
	for (uint64_t k = 0; k < ino->nchunks_cap; k++)
		if (ino->attr.nlink == 0)
			hot_chunk_drop_gone(&f->hot, ino, k);
		else
			fs_chunk_drop(f, ino, k);
	if (ino->attr.nlink == 0) {
		rc = meta_inode_delete(f->meta, ino->ino);
		if (rc)
			tfs_err("deleting inode %" PRIu64 ": %s (it will be "
				"deleted at the next mount)", ino->ino,
				strerror(-rc));
		/* A big file's segments are dead now: the policy thread
		 * deletes them at once (not the whole tick: its hot_trim
		 * would unmap the buffers kept for the next writer), giving
		 * their disk space and page cache back, often to the file
		 * that replaces this one. */
		else if (ino->next >= FS_WAKE_DEAD_CHUNKS)
			fs_compact_wake(f);
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
