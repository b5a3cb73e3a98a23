/*
 * fs.h - the tierfs filesystem core: every operation a mount needs, with no
 * FUSE in sight.
 *
 * What it is: the object that owns a mounted store (struct fs) and the
 * operations on its tree: namespace (fs_ns.c), file data (fs_data.c),
 * extended attributes (fs_xattr.c), tier moves (fs_tier.c), the virtual
 * .tiers control tree (fs_ctl.c), mount and recovery (fs_mount.c), statfs
 * (fs.c). The FUSE adapter (fuse_ops.c) turns requests into these calls and
 * results into one reply each; the tools and unit tests call them directly.
 *
 * What it is not: a FUSE layer (no fuse_req_t here) and not a permission
 * checker: permissions are enforced by the kernel (default_permissions);
 * the core only checks what the kernel cannot (sticky-free semantics like
 * ENOTEMPTY, name length, flags).
 *
 * References. Every call that returns a `struct tfs_inode *` to the kernel
 * (lookup, create, mkdir, mknod, symlink, link, readdirplus entries) adds
 * one to its nlookup; fs_forget() takes them back. fs_open()/fs_create()
 * add an open count that fs_release() drops. Those two counts and the
 * hot-tier residency keep an inode loaded (inode.h).
 *
 * Errors: 0 or a negative errno on every call (ssize_t calls return the
 * byte count or a negative errno).
 */
#ifndef TIERFS_FS_H
#define TIERFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "config.h"
#include "inode.h"

struct fs;

/* Who is asking (from the FUSE request context). */
struct fs_caller {
	uid_t uid;
	gid_t gid;
	mode_t umask;
};

/* fs_setattr's `set` bits. */
enum {
	FS_SET_MODE = 1 << 0,
	FS_SET_UID = 1 << 1,
	FS_SET_GID = 1 << 2,
	FS_SET_SIZE = 1 << 3,
	FS_SET_ATIME = 1 << 4,
	FS_SET_MTIME = 1 << 5,
	FS_SET_ATIME_NOW = 1 << 6,
	FS_SET_MTIME_NOW = 1 << 7,
	FS_SET_CTIME = 1 << 8,
};

/* fs_rename flags (values of RENAME_NOREPLACE / RENAME_EXCHANGE). */
#define FS_RENAME_NOREPLACE (1 << 0)
#define FS_RENAME_EXCHANGE (1 << 1)

/* ---- life ---- */
/*
 * Open the store at `store_dir` (created on first use) with settings cfg:
 * lock it, check its FORMAT, open meta, recover segments (truncate
 * uncommitted tails, delete orphans) and delete inodes orphaned by a crash.
 * On failure returns a negative errno and a one-line message in err.
 */
int fs_mount(struct fs **out, const char *store_dir,
	     const struct tfs_config *cfg, char *err, size_t errlen);
/* Write back everything dirty, persist access counters, close the store;
 * tolerates NULL; sets *f = NULL. */
void fs_unmount(struct fs **f);
struct tfs_inode *fs_root(struct fs *f);
/* The -o settings given on the command line: they win over tierfs.conf,
 * also when it is reloaded. */
int fs_set_overrides(struct fs *f, const char *opts);
/*
 * What the layer above the filesystem (the policy, policy.h) offers it:
 * the filesystem calls up only through these, never by name. The policy
 * sets them when it starts (before the FUSE loop serves requests) and
 * clears them when it stops; without them promotions are not queued and
 * the backlog reads 0. Pass NULL to clear.
 */
struct fs_upcalls {
	void *ctx;
	/* queue inode `ino` for promotion to hot; never blocks */
	void (*queue_promote)(void *ctx, uint64_t ino);
	/* moves waiting for the policy thread */
	uint64_t (*backlog)(void *ctx);
	/* the pin a directory policy above inode `ino` sets, or
	 * TFS_PIN_NONE */
	int (*dir_pin)(void *ctx, uint64_t ino);
	/* run a policy tick soon (a directory policy changed) */
	void (*wake)(void *ctx);
	/* delete dead segments and archives soon (a big file was deleted);
	 * never blocks */
	void (*compact)(void *ctx);
};
void fs_set_upcalls(struct fs *f, const struct fs_upcalls *up);
/* Re-read STORE/tierfs.conf and apply it; on a bad file the old settings
 * stay and the error is logged. */
int fs_reload_config(struct fs *f);
/* Turn POSIX ACLs on (system.posix_acl_* stored, mode kept in step,
 * default ACLs inherited): the FUSE adapter does when the kernel enforces
 * them (FUSE_CAP_POSIX_ACL). Off, system.* is EOPNOTSUPP. (fs_acl.c) */
void fs_set_acl(struct fs *f, bool on);
/* Record this process as the store's holder (call after daemonizing). */
void fs_note_pid(struct fs *f);
/* The settings in force (a copy). */
void fs_get_config(struct fs *f, struct tfs_config *out);
/* Settings that only the command line gives (log, metrics_listen, ...),
 * as "key = value" lines: shown at the end of MNT/.tiers/config. */
int fs_set_mount_info(struct fs *f, const char *text);
/* MNT/.tiers/metrics rendered now (Prometheus text format; malloc'd,
 * caller frees): what the daemon's HTTP endpoint serves. */
int fs_metrics_text(struct fs *f, char **buf, size_t *len);
/* The FUSE adapter says whether the kernel opens regular files without
 * asking (zero-message open: no OPEN, FLUSH or RELEASE reaches the core). */
void fs_set_zero_open(struct fs *f, bool on);
bool fs_zero_open(struct fs *f);

/* ---- namespace (fs_ns.c) ---- */
int fs_lookup(struct fs *f, struct tfs_inode *parent, const char *name,
	      struct tfs_inode **out, struct stat *st);
void fs_forget(struct fs *f, struct tfs_inode *ino, uint64_t nlookup);
int fs_getattr(struct fs *f, struct tfs_inode *ino, struct stat *st);
int fs_setattr(struct fs *f, struct tfs_inode *ino, const struct stat *in,
	       int set, struct stat *out);
/* A write(2) by caller `c` that the kernel passed on without its
 * kill-priv step (a direct-I/O descriptor), done as a local filesystem
 * does: remove security.capability (whoever writes), clear S_ISUID, and
 * S_ISGID when group-executable or the caller is not of the file's
 * group, unless the caller is root (uid 0 stands in for CAP_FSETID).
 * Returns 1 if an attribute changed, 0 if none, or -errno. */
int fs_write_kill_priv(struct fs *f, struct tfs_inode *ino,
		       const struct fs_caller *c);
int fs_mknod(struct fs *f, const struct fs_caller *c,
	     struct tfs_inode *parent, const char *name, mode_t mode,
	     dev_t rdev, struct tfs_inode **out, struct stat *st);
int fs_mkdir(struct fs *f, const struct fs_caller *c,
	     struct tfs_inode *parent, const char *name, mode_t mode,
	     struct tfs_inode **out, struct stat *st);
int fs_symlink(struct fs *f, const struct fs_caller *c,
	       struct tfs_inode *parent, const char *name, const char *target,
	       struct tfs_inode **out, struct stat *st);
int fs_link(struct fs *f, struct tfs_inode *ino, struct tfs_inode *newparent,
	    const char *newname, struct stat *st);
int fs_unlink(struct fs *f, struct tfs_inode *parent, const char *name);
int fs_rmdir(struct fs *f, struct tfs_inode *parent, const char *name);
int fs_rename(struct fs *f, struct tfs_inode *parent, const char *name,
	      struct tfs_inode *newparent, const char *newname,
	      unsigned int flags);
/* Copies the target and a NUL into buf; returns its length. */
int fs_readlink(struct fs *f, struct tfs_inode *ino, char *buf, size_t size);
int fs_statfs(struct fs *f, struct statvfs *st);

/* A directory listing, snapshotted at opendir and again at
 * fs_dir_rewind(). */
struct fs_dir;
struct fs_dirent {
	const char *name;
	uint64_t ino;           /* st_ino */
	mode_t mode;            /* type bits */
};
int fs_opendir(struct fs *f, struct tfs_inode *dir, struct fs_dir **out);
/* Take a fresh snapshot if entries were read from this one (call it for
 * a readdir at offset 0: rewinddir(3) shows names created since opendir).
 * On failure the listing is empty. */
int fs_dir_rewind(struct fs *f, struct fs_dir *d);
/* Entry number `idx` (0 = "."), or NULL past the end. */
const struct fs_dirent *fs_dir_entry(struct fs_dir *d, uint64_t idx);
/* For readdirplus: a reference (nlookup+1) and attributes for entry idx
 * ("." and ".." return -EAGAIN: no reference is taken for them). */
int fs_dir_entry_plus(struct fs *f, struct fs_dir *d, uint64_t idx,
		      struct tfs_inode **out, struct stat *st);
void fs_closedir(struct fs *f, struct fs_dir *d);

/* ---- data (fs_data.c) ---- */
/* An open file handle's state (NULL for plain files). */
struct fs_file;
/* Open an existing inode. O_TRUNC truncates. *direct is set for virtual
 * files whose size is not known in advance. */
int fs_open(struct fs *f, struct tfs_inode *ino, int flags,
	    struct fs_file **fh, bool *direct);
int fs_create(struct fs *f, const struct fs_caller *c,
	      struct tfs_inode *parent, const char *name, mode_t mode,
	      int flags, struct tfs_inode **out, struct stat *st,
	      struct fs_file **fh);
ssize_t fs_read(struct fs *f, struct tfs_inode *ino, struct fs_file *fh,
		void *buf, size_t size, off_t off);
/* Whether a read of `ino` returned bytes since it was loaded (a READ the
 * kernel may have kept in its page cache). */
bool fs_was_read(struct tfs_inode *ino);
/* Call after a READ's reply: work taken off the read's path (a warm
 * buffer for the next cold miss, cold_read_done). Never blocks on I/O. */
void fs_read_done(struct fs *f);
/* Every write is durable against a daemon crash when it returns (its
 * chunks appended to the warm segment, their extents and the size
 * committed), so close(2) needs no write-back of its own. */
ssize_t fs_write(struct fs *f, struct tfs_inode *ino, struct fs_file *fh,
		 const void *buf, size_t size, off_t off);
/* Work a WRITE leaves for after its reply (the writer copies its next
 * bytes meanwhile): buffers for the next WRITEs (hot_prefill). */
void fs_write_after_reply(struct fs *f);
/* close(2): write back what is still dirty, if anything, and commit it. */
int fs_flush(struct fs *f, struct tfs_inode *ino);
/* fsync(2): as flush, and sync segment and metadata (durable against a
 * power loss). */
int fs_fsync(struct fs *f, struct tfs_inode *ino, bool datasync);
/* A request from thread `pid` (0: unknown) that changes `ino`, or the
 * namespace (ino NULL): a rewrite in place (O_TRUNC) that thread left
 * pending on another file is taken as closed and published now
 * (fs_replace.c). Cheap when no rewrite is pending; never blocks on I/O. */
void fs_replace_note(struct fs *f, uint32_t pid, struct tfs_inode *ino);
int fs_release(struct fs *f, struct tfs_inode *ino, struct fs_file *fh);
/* fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE (nothing reserved: checks
 * the store has room, -ENOSPC; mode 0 grows the size), PUNCH_HOLE|
 * KEEP_SIZE and ZERO_RANGE (real holes); others -EOPNOTSUPP. (fs_hole.c) */
int fs_fallocate(struct fs *f, struct tfs_inode *ino, int mode, off_t off,
		 off_t len);
/* lseek(2) SEEK_DATA / SEEK_HOLE: the next data or hole at or after off
 * into *out; -ENXIO at or past the end (or no data after off). */
int fs_lseek(struct fs *f, struct tfs_inode *ino, off_t off, int whence,
	     off_t *out);
/* fsync(2) of a directory: namespace changes are committed when they
 * return (they survive a daemon crash); this makes them survive a power
 * loss too. */
int fs_fsyncdir(struct fs *f, struct tfs_inode *dir);

/* ---- xattrs (fs_xattr.c) ---- */
int fs_setxattr(struct fs *f, struct tfs_inode *ino, const char *name,
		const void *value, size_t size, int flags);
int fs_getxattr(struct fs *f, struct tfs_inode *ino, const char *name,
		void *buf, size_t size);
int fs_listxattr(struct fs *f, struct tfs_inode *ino, char *buf,
		 size_t size);
int fs_removexattr(struct fs *f, struct tfs_inode *ino, const char *name);

/* ---- tiers (fs_tier.c) ---- */
/* Move a regular file to `tier` now; returns when the move is durable. A
 * file pinned to another tier takes its pin along (the pin becomes
 * `tier`). On a directory: every regular file below it, in one batch,
 * except files pinned to another tier (skipped and logged). */
int fs_set_tier(struct fs *f, struct tfs_inode *ino, int tier);
/* The tier a file is in now (TFS_HOT when it is resident in RAM). */
int fs_get_tier(struct fs *f, struct tfs_inode *ino);

#endif
