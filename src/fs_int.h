/*
 * fs_int.h - what the parts of the filesystem core (fs*.c) share and nobody
 * else may touch: the struct fs itself and the helpers between the parts.
 *
 * What it is not: an API. Tools, tests and the FUSE adapter use fs.h.
 */
#ifndef TIERFS_FS_INT_H
#define TIERFS_FS_INT_H

#include <pthread.h>

#include "config.h"
#include "fs.h"
#include "hot.h"
#include "inode.h"
#include "meta.h"
#include "seg.h"
#include "stats.h"
#include "store.h"
#include "tier.h"

struct cold;

/* Why a file is where it is (user.tierfs.reason). */
enum fs_reason {
	REASON_MOUNT = 0,       /* as found at mount */
	REASON_WRITTEN,         /* created or written: new data is hot */
	REASON_SETFATTR,        /* moved by user.tierfs.tier */
	REASON_PIN,             /* moved by user.tierfs.pin */
	REASON_IDLE,            /* policy: idle arg0 s > age arg1 s */
	REASON_BUDGET,          /* evicted to keep hot_max */
	REASON_PROMOTED,        /* arg0 reads within the window */
	REASON_RESTORED,        /* hot before the remount */
};

/* Virtual inode numbers (st_ino) of the .tiers tree: far above any number
 * SQLite will hand out. */
#define FS_VINO_BASE (UINT64_C(1) << 62)
#define FS_VINO_TIERS (FS_VINO_BASE + 1)
#define FS_VINO_STATS (FS_VINO_BASE + 2)
#define FS_VINO_METRICS (FS_VINO_BASE + 3)
#define FS_VINO_CONFIG (FS_VINO_BASE + 4)
#define FS_TIERS_NAME ".tiers"

/* A directory's st_size is this many bytes per entry ("." and ".."
 * included), as tmpfs does. */
#define FS_DIRENT_BYTES 20

/* What the daemon knew of a file the kernel made it forget (fs.c). */
#define FS_GHOSTS 65536
struct fs_ghost {
	uint64_t ino;                   /* 0: empty slot */
	tfs_ns promo_start;
	uint32_t promo_reads;
	uint8_t reason;
	uint64_t reason_arg[2];
};

struct fs {
	struct store store;
	struct meta *meta;
	struct segstore *seg;
	struct cold *cold;              /* cold tier */
	struct tier tiers[TFS_NTIERS];  /* by tier id (tier.h); fs_mount.c
					   fills them, immutable after */
	struct fs_upcalls up;           /* the policy's (fs.h); set before
					   and cleared after the FUSE loop */
	char *overrides;                /* -o settings (win over the file) */
	struct itable itable;
	struct itable vtable;           /* view directories (fs_view.c) */
	struct hot hot;
	struct stats stats;
	pthread_mutex_t ns_lock;        /* see inode.h's lock order */
	/* Held shared by a write-back from its first segment append to the
	 * commit of those records, exclusive by compaction while it deletes
	 * a dead segment: so a segment whose records are appended but not
	 * committed yet never looks dead. Taken under ino->io, before meta. */
	pthread_rwlock_t seg_lock;

	pthread_mutex_t cfg_lock;
	struct tfs_config cfg;          /* protected by cfg_lock */

	struct fs_ghost *ghosts;        /* protected by itable.lock */

	struct tfs_inode *root;         /* always loaded (own nlookup) */
	struct tfs_inode *vtiers;       /* virtual, live until unmount */
	struct tfs_inode *vstats;
	struct tfs_inode *vmetrics;
	struct tfs_inode *vconfig;
	struct fs_ctl *ctl;             /* renderings of the files (fs_ctl.c) */
	char *mount_info;               /* protected by cfg_lock: -o-only
					   settings shown in .tiers/config */

	tfs_ns mount_time;
	bool mounted;                   /* fs_mount finished: the unmount may
					   leave the clean-stop marker */
	bool acl;                       /* POSIX ACLs on (fs_set_acl(), once
					   before the first request) */

	uint64_t space_reserve;         /* free bytes kept on the store disk
					   for metadata (fs.c); immutable */
	/* compaction's back-off after ENOSPC (compact.c); policy thread only */
	tfs_ns compact_retry_at;        /* no rewrite before this time */
	uint32_t compact_backoff;       /* current wait, seconds; 0: none */

	_Atomic bool zero_open;         /* see fs_set_zero_open() */

	pthread_mutex_t replace_lock;   /* leaf (fs_replace.c) */
	pthread_cond_t replace_cond;    /* wakes the replacer thread */
	struct fs_replace_entry *replace; /* protected by replace_lock: files
					   with a pending rewrite, one ref
					   each */
	size_t nreplace, replace_cap;   /* protected by replace_lock */
	_Atomic size_t replace_count;   /* nreplace, read without the lock */
	bool replace_stop;              /* protected by replace_lock */
	pthread_t replace_thread;       /* mount/unmount only */
	bool replace_running;
};

/* -ENOSPC if storing `bytes` more would leave less than the space reserve
 * free on the store disk (fs_mount.c's SPACE comment), else 0. */
int fs_space_for(struct fs *f, uint64_t bytes);

/* Wall clock now, in ns. */
tfs_ns fs_now(void);
/* Through the upcalls (fs.h): queue a promotion; the policy's backlog; a
 * directory policy's pin (TFS_PIN_NONE without one); wake the policy. */
void fs_queue_promote(struct fs *f, uint64_t ino);
uint64_t fs_backlog(struct fs *f);
int fs_dir_pin(struct fs *f, uint64_t ino);
void fs_policy_wake(struct fs *f);

/* ---- inode references (fs.c) ---- */
/* Find or load inode `ino` and take an internal reference. -ENOENT. */
int fs_iget(struct fs *f, uint64_t ino, struct tfs_inode **out);
/* Free chunk k of ino's RAM copy (nothing if there is none; hot.h
 * hot_chunk_drop keeps ndirty, ram_bytes and the hot budget right).
 * Caller holds ino->lock. (fs.c) */
void fs_chunk_drop(struct fs *f, struct tfs_inode *ino, uint64_t k);
/* The loaded inode `ino` with an internal reference taken, or NULL if it
 * is not loaded (never loads it). Drop the reference with fs_iput(). */
struct tfs_inode *fs_ifind(struct fs *f, uint64_t ino);
/* Take one more internal reference to a loaded inode. */
void fs_iref(struct fs *f, struct tfs_inode *ino);
/* Drop an internal reference; may free the inode (and delete it from the
 * store if it has no links left). */
void fs_iput(struct fs *f, struct tfs_inode *ino);
/* Add n kernel references (nlookup). */
void fs_ilookup(struct fs *f, struct tfs_inode *ino, uint64_t n);
/* Open count +1 / -1 (the -1 may free, like fs_iput). */
void fs_iopen(struct fs *f, struct tfs_inode *ino);
void fs_iclose(struct fs *f, struct tfs_inode *ino);
/* Insert a freshly created inode (refcount 1) into the table. */
int fs_iadd(struct fs *f, const struct meta_inode *attr,
	    struct tfs_inode **out);

/* Fill st from ino's attributes; caller holds ino->lock. */
void fs_fill_stat(struct fs *f, const struct tfs_inode *ino,
		  struct stat *st);
/* Same, taking the lock. */
void fs_stat_of(struct fs *f, struct tfs_inode *ino, struct stat *st);
/* Write ino's attributes to meta (caller holds ino->io, not ino->lock). */
int fs_persist_attr(struct fs *f, struct tfs_inode *ino);

/* Directories: count the entries of `dir` (for st_size) if not known
 * since it was loaded; caller holds no lock of it. (fs_dir.c) */
void fs_dir_count(struct fs *f, struct tfs_inode *dir);
/* An entry was added (+1) or removed (-1) in `dir`; caller holds no
 * lock of it. (fs_dir.c) */
void fs_dir_changed(struct tfs_inode *dir, int delta);

/* The path of `ino` relative to the root ("a/b/c"; "" for the root),
 * through one of its links. -ENOENT if unlinked. (fs_dir.c) */
int fs_path(struct fs *f, uint64_t ino, char *buf, size_t len);

/* Create regular file `name` in parent (the namespace half of
 * fs_create(), which opens it). (fs_ns.c) */
int fs_ns_create_file(struct fs *f, const struct fs_caller *c,
		      struct tfs_inode *parent, const char *name, mode_t mode,
		      struct tfs_inode **out, struct stat *st);

/* ---- data helpers (fs_data.c) ---- */
/* Load the warm/cold extent map of a regular file if not loaded yet.
 * Caller holds nothing; takes ino->lock itself. */
int fs_load_extents(struct fs *f, struct tfs_inode *ino);
/* Does a durable tier (warm, cold: tier.h locate) hold chunk k of ino?
 * Caller holds ino->lock and the extents are loaded. (fs_data.c) */
bool fs_chunk_durable(struct fs *f, const struct tfs_inode *ino, uint64_t k);
/* Read chunk k's durable bytes (warm record, cold range or hole) into buf
 * (TFS_CHUNK_SIZE bytes; tail past the content zeroed). *len gets the
 * chunk's valid length. Caller holds no inode lock. */
int fs_read_durable_chunk(struct fs *f, struct tfs_inode *ino, uint64_t k,
			  uint8_t *buf, uint32_t *len);
/* Write back dirty chunks and commit. Caller holds ino->io. sync: also
 * fdatasync segment and metadata. */
int fs_writeback(struct fs *f, struct tfs_inode *ino, bool sync);
/* fdatasync what was appended to the segments and the metadata log. */
int fs_sync_store(struct fs *f);
/* Truncate to `size`. Caller holds ino->io. A truncation to 0 of a file
 * with content starts a pending rewrite (fs_replace.c, REPLACING A FILE). */
int fs_truncate(struct fs *f, struct tfs_inode *ino, uint64_t size);

/* fs_set_tier() as a user asks for it (setfattr, mv between .tiers
 * views): a move a writer keeps beating is tried again, pausing 1 to
 * 256 ms, for up to a minute, then -EBUSY (fs_xattr.c). */
int fs_user_set_tier(struct fs *f, struct tfs_inode *ino, int tier);

/* An xattr known to be absent, remembered in memory (ino->caps_absent;
 * a directory's dacl_absent) so that a question asked at every write or
 * create reads meta once (fs_xattr.c). fs_xattr_known_absent: true if
 * *flag says so; else *gen gets the inode's xattr generation, to hand to
 * fs_xattr_note_absent once meta was read and had none: the flag is set
 * only if no xattr changed in between (xattr_gen, bumped by every xattr
 * change after its commit, which also clears the flags). */
bool fs_xattr_known_absent(struct tfs_inode *ino, const bool *flag,
			   uint64_t *gen);
void fs_xattr_note_absent(struct tfs_inode *ino, bool *flag, uint64_t gen);
/* Remove the file's security.capability, as the kernel's kill-priv step
 * does on a write by anyone: 1 if it had one, 0 if not (known from memory
 * for files created here), or -errno. (fs_write_kill_priv) */
int fs_xattr_kill_caps(struct fs *f, struct tfs_inode *ino);

/* ---- rewrites in place (fs_replace.c) ---- */
struct fs_replace_entry {
	struct tfs_inode *ino;
	uint32_t pid;           /* the thread that last changed it */
	bool due;               /* that thread moved on: publish now */
	tfs_ns seen;            /* the rewrite (replace_since) during which
				 * that thread was seen holding the file */
};
/* A pending rewrite is published after this long without a WRITE or a
 * truncation of the file. */
#define FS_REPLACE_QUIET_NS (1000 * 1000000LL)
/* How often the replacer looks whether a pending rewrite's writer still
 * has the file open (fs_replace.c, writer_holds). */
#define FS_REPLACE_POLL_NS (2 * 1000000LL)
/* Put a file whose rewrite just started on the pending list (takes a
 * reference). -ENOMEM. */
int fs_replace_queue(struct fs *f, struct tfs_inode *ino);
/* Publish the file's pending rewrite now, if any: its shadow extents
 * replace the old content in one transaction. Caller holds ino->io
 * (fs_replace_publish_now takes it). 0 or -errno (the old content stays). */
int fs_replace_publish(struct fs *f, struct tfs_inode *ino);
int fs_replace_publish_now(struct fs *f, struct tfs_inode *ino);
/* Publish the pending rewrites that have quiesced (every one with `all`,
 * at unmount, after fs_replace_stop). */
void fs_replace_commit(struct fs *f, bool all);
/* The lock, condition, and replacer thread: init at mount, start once the
 * store is open, stop before the unmount's last commit, destroy last. */
int fs_replace_init(struct fs *f);
int fs_replace_start(struct fs *f);
void fs_replace_stop(struct fs *f);
void fs_replace_destroy(struct fs *f);

/* ---- POSIX ACLs (fs_acl.c) ---- */
#define FS_ACL_ACCESS "system.posix_acl_access"
#define FS_ACL_DEFAULT "system.posix_acl_default"
/* 0 if value is a well-formed ACL in the kernel's xattr format, else
 * -EINVAL. */
int fs_acl_check(const void *value, size_t size);
/* The mode an access ACL implies (rwx bits from it, the rest from old);
 * *store is false when the ACL is just the mode (three base entries). */
int fs_acl_access_mode(const void *value, size_t size, mode_t old,
		       mode_t *mode, bool *store);
/* Inherit default ACL `def` on create: masks it with *mode, sets *mode
 * from the result, and returns the access ACL to store in *access
 * (malloc'd; NULL when the mode says it all). */
int fs_acl_inherit(const void *def, size_t size, mode_t *mode,
		   void **access, size_t *alen);
/* A stored ACL of ino (malloc'd into *out), or *out = NULL if none. */
int fs_acl_get(struct fs *f, uint64_t ino, const char *name, void **out,
	       size_t *len);
/* Persist ino's attributes after a chmod, rewriting its access ACL's base
 * entries to the new mode in the same transaction. Caller holds ino->io. */
int fs_acl_chmod(struct fs *f, struct tfs_inode *ino);

/* ---- holes (fs_hole.c) ---- */
/* Regular files: make st_blocks's count of allocated (non-hole) bytes
 * known, reading the extent map if it is not loaded. Caller holds no lock
 * of ino. */
void fs_alloc_prepare(struct fs *f, struct tfs_inode *ino);
/* Allocated (non-hole) logical bytes of a regular file, for st_blocks;
 * caller holds ino->lock (after fs_alloc_prepare()). */
uint64_t fs_alloc_bytes(const struct tfs_inode *ino);

/* ---- tier helpers (fs_tier.c) ---- */
/* Bring every chunk into RAM and mark the file resident. Caller holds
 * ino->io. */
int fs_make_resident(struct fs *f, struct tfs_inode *ino);
/* After a remount: bring a file recorded hot back into RAM (if it fits:
 * promote_max, hot_max / 2), decoding it without holding its locks (see
 * fs_tier.c RESTORE ON FIRST USE). Nothing if it is resident, not recorded
 * hot, or being restored by another thread. Caller holds no inode lock. */
int fs_restore_hot(struct fs *f, struct tfs_inode *ino);
/* Write back and drop the RAM copy (the file goes to its durable tier);
 * sync: also make it survive a power loss first. Caller holds ino->io. */
int fs_drop_ram(struct fs *f, struct tfs_inode *ino, bool sync);
/* Re-encode a cold-backed file's bytes into warm records, leaving it hot
 * and without a cold extent (a no-op without one). Caller holds ino->io. */
int fs_cold_to_warm(struct fs *f, struct tfs_inode *ino, bool sync);
/* Move many files to warm with one sync and one commit (reason
 * "setfattr"; the caller may set another). *moved counts the files moved.
 * Returns 0 or the first error. */
int fs_warm_batch(struct fs *f, struct tfs_inode **inos, size_t n,
		  size_t *moved);
/* Called after RAM grew: evict least recently used clean hot files until
 * under budget; `self` (may be NULL) is evicted last. */
void fs_hot_enforce(struct fs *f, struct tfs_inode *self);
/* Record an access for the policy. ACCESS_READ_START (a READ that starts
 * a pass over the file, see fs_read) counts towards access_count and
 * promotion; other reads and writes only move last_access. What the
 * kernel's page cache serves never reaches us and needs no promotion. */
enum fs_access { ACCESS_READ_START, ACCESS_READ, ACCESS_WRITE };
void fs_touch(struct fs *f, struct tfs_inode *ino, enum fs_access a);
/* Set why a file is where it is; caller holds ino->lock. */
void fs_set_reason(struct tfs_inode *ino, enum fs_reason r, uint64_t a0,
		   uint64_t a1);
/* The file's pin: its own (user.tierfs.pin), else the one a directory
 * policy above it sets (as of the policy's last tick), else TFS_PIN_NONE.
 * Caller holds ino->lock. */
int fs_pin_of(struct fs *f, const struct tfs_inode *ino);
/* Is the file pinned (fs_pin_of) to a tier other than `tier`? Caller holds
 * ino->lock. Bulk moves (a directory's tier, the policy) skip such files. */
bool fs_pinned_elsewhere(struct fs *f, const struct tfs_inode *ino, int tier);
/* Move one file (caller holds no lock of it), recording why. */
int fs_move(struct fs *f, struct tfs_inode *ino, int tier,
	    enum fs_reason r, uint64_t a0, uint64_t a1);

/* ---- the cold mover (fs_cold.c) ---- */
/* Move files to the cold tier, packed into as few new archives as
 * archive_max allows, in path order (a directory's files share blocks).
 * `inos` are referenced regular files; the caller keeps its references.
 * For each archive: write it, sync it, commit every file's new place in
 * one meta transaction, then drop the old copies. A file written to,
 * truncated or unlinked while it is being archived keeps its newest bytes
 * where they are and is counted in *skipped. Files already entirely cold
 * count as moved. Returns 0 or the first error (archives committed before
 * it stay committed). */
int fs_cold_demote(struct fs *f, struct tfs_inode **inos, size_t n,
		   size_t *moved, size_t *skipped);
/* Re-archive the files still living in archive `arc` into a new archive
 * (hot files stay hot), for compaction; the caller deletes `arc` once
 * nothing points at it. */
int fs_cold_rewrite(struct fs *f, uint64_t arc);

/* ---- tier views (fs_view.c) ---- */
int fs_view_get(struct fs *f, int tier, uint64_t dir, struct tfs_inode **out);
/* Lookup in a view directory: a referenced real file, or a view dir. */
int fs_view_lookup(struct fs *f, struct tfs_inode *parent, const char *name,
		   struct tfs_inode **out);
/* Keep the entries of e[0..n) that belong in the view (tiers[i]: the
 * tier recorded in entry i's row); frees the names it drops. */
int fs_view_filter(struct fs *f, struct tfs_inode *view, struct fs_dirent *e,
		   size_t n, const int *tiers, size_t *kept);
int fs_view_rename(struct fs *f, struct tfs_inode *parent, const char *name,
		   struct tfs_inode *newparent, const char *newname,
		   unsigned int flags);

/* ---- control tree (fs_ctl.c, contents in fs_ctl_render.c) ---- */
int fs_ctl_init(struct fs *f);
/* Free the control files and their renderings (tolerates a half-built
 * tree). */
void fs_ctl_destroy(struct fs *f);
/* Lookup in a virtual directory, or of ".tiers" in the root. Returns 1 if
 * handled (with *out referenced), 0 if not virtual. */
int fs_ctl_lookup(struct fs *f, struct tfs_inode *parent, const char *name,
		  struct tfs_inode **out);
/* true for .tiers/stats, metrics and config. */
bool fs_ctl_is_file(const struct tfs_inode *ino);
/* Render a control file now (it becomes the current contents) and set
 * st's size, blocks, mtime and ctime from it. Caller holds no lock. */
void fs_ctl_stat(struct fs *f, struct tfs_inode *ino, struct stat *st);
/* For an open: a private copy (malloc'd, caller frees) of the current
 * contents if made within the last second, else of a new rendering. */
int fs_ctl_snapshot(struct fs *f, struct tfs_inode *ino, char **buf,
		    size_t *len);
/* A read without an open file: bytes of the current contents (rendered
 * if there are none yet); returns the count or -errno. */
ssize_t fs_ctl_read(struct fs *f, struct tfs_inode *ino, void *buf,
		    size_t size, off_t off);
/* Render the contents of a control file (malloc'd, caller frees). */
int fs_ctl_render(struct fs *f, struct tfs_inode *ino, char **buf,
		  size_t *len);

#endif
