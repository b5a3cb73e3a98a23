/*
 * meta.h - the metadata store: namespace, inodes, xattrs, chunk extents and
 * the segment/archive catalogs, kept in SQLite (WAL) at STORE/meta.db.
 *
 * What it is: one SQLite connection (the single writer), prepared statements
 * only, guarded by one recursive mutex so that a caller may group several
 * calls into one transaction with meta_begin()/meta_commit(). Every call
 * outside such a group is its own autocommit transaction.
 *
 * What it is not: a cache. It never keeps inode state in memory; the
 * filesystem core (fs.h) owns the in-memory inode and writes it through.
 * It does no file I/O besides SQLite's own (and meta_sync()).
 *
 * Locking: meta's mutex is a leaf lock: no other tierfs lock may be taken
 * while holding it. Callbacks passed to the *_list/_scan functions run with
 * it held, so they must not call back into meta or take other locks.
 *
 * Errors: 0 or a negative errno. -ENOENT / -EEXIST / -ENODATA / -ERANGE /
 * -ENOTEMPTY as documented per call; any SQLite failure is logged and
 * returned as -EIO (or -ENOSPC / -ENOMEM when SQLite says so).
 *
 * Durability: the database runs with journal_mode=WAL, synchronous=NORMAL:
 * a committed transaction survives a process crash (kill -9); meta_sync()
 * makes everything committed so far survive power loss.
 */
#ifndef TIERFS_META_H
#define TIERFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tierfs.h"

struct meta;

/* One inode row. Times are nanoseconds since the epoch. */
struct meta_inode {
	uint64_t ino;
	uint32_t mode;          /* type and permission bits (st_mode) */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t rdev;
	uint64_t size;
	tfs_ns atime;
	tfs_ns mtime;
	tfs_ns ctime;
	int32_t tier;           /* enum tfs_tier: where the file lives */
	int32_t pin;            /* enum tfs_tier or TFS_PIN_NONE */
	uint64_t access_count;  /* reads counted by the daemon */
	tfs_ns last_access;     /* last read or write seen by the daemon */
};

/* A warm extent: chunk `chunk` of a file is the record at (seg, off). */
struct meta_extent {
	uint64_t chunk;
	uint64_t seg;           /* segment id (STORE/warm/<seg>.seg) */
	uint64_t off;           /* byte offset of the record header */
	uint32_t rec_len;       /* whole record length on disk, header included */
	uint32_t raw_len;       /* uncompressed chunk length */
};

/*
 * A cold extent: the file's bytes [0, len) are bytes [off, off+len) of the
 * uncompressed stream of archive `archive`. Warm extents of the same file
 * override the cold bytes chunk by chunk (a write to a cold file lands in
 * warm records without re-archiving the rest). `orig_len` is the length
 * archived (for the archive's live-byte accounting); `len` may be smaller
 * after a truncate.
 */
struct meta_cold {
	uint64_t archive;
	uint64_t off;
	uint64_t len;
	uint64_t orig_len;
};

/* Catalog rows. `live` is maintained by meta itself (SQL triggers) as
 * extents are added, replaced and removed. */
struct meta_seg {
	uint64_t id;
	uint64_t len;           /* committed length: bytes past it are garbage */
	uint64_t live;          /* sum of rec_len of extents pointing into it */
};

struct meta_arc {
	uint64_t id;
	uint64_t size;          /* bytes of the .xz file */
	uint64_t total;         /* uncompressed bytes archived */
	uint64_t live;          /* sum of orig_len of cold extents into it */
};

/* Open (creating the schema if new) the database at `path`. */
int meta_open(struct meta **out, const char *path);
/* Open an existing tierfs database only: an empty or new one is -ENODATA
 * (nothing is created), another schema version -EPROTO. */
int meta_open_existing(struct meta **out, const char *path);
/* Keep SQLite's file locks for the life of the connection instead of
 * taking and dropping them around every transaction (the mounted daemon
 * is the store's only user: it holds STORE/lock). Saves a dozen fcntl()
 * calls per transaction. */
int meta_set_exclusive(struct meta *m);
/* Close; tolerates NULL and a half-open handle; sets *m = NULL. */
void meta_close(struct meta **m);

/* Group calls into one transaction (BEGIN IMMEDIATE). The calling thread
 * holds meta's mutex from meta_begin() to meta_commit()/meta_rollback().
 * Groups may nest (an inner group is a SAVEPOINT). A failed meta_commit()
 * has rolled the group back and released the mutex: do not roll back
 * after it. meta_commit() without meta_begin() returns -EINVAL. */
int meta_begin(struct meta *m);
int meta_commit(struct meta *m);
void meta_rollback(struct meta *m);
/* End a group begun by a successful meta_begin(): commit when rc is 0,
 * roll back otherwise. Returns rc, or the commit's own error. */
int meta_finish(struct meta *m, int rc);
/* fdatasync the WAL so that every committed transaction survives power loss. */
int meta_sync(struct meta *m);

/* Next value of a named counter (1, 2, 3, ...), persisted. Used for
 * segment and archive ids. */
int meta_next_id(struct meta *m, const char *name, uint64_t *out);

/* ---- inodes ---- */
/* Insert `in` with a fresh inode number, returned in in->ino. */
int meta_inode_create(struct meta *m, struct meta_inode *in);
/* -ENOENT if there is no such inode. */
int meta_inode_get(struct meta *m, uint64_t ino, struct meta_inode *out);
/* Write every field of `in` (row in->ino must exist: else -ENOENT). */
int meta_inode_update(struct meta *m, const struct meta_inode *in);
/* Write only the access counters of an inode (-ENOENT if it is gone):
 * the policy thread saves them in batches without touching the rest. */
int meta_inode_set_access(struct meta *m, uint64_t ino, uint64_t count,
			  tfs_ns last);
/* Write only the tier of an inode (-ENOENT if it is gone). */
int meta_inode_set_tier(struct meta *m, uint64_t ino, int tier);
/* Delete the inode and everything hanging off it: xattrs, symlink target,
 * warm and cold extents (catalog live counts follow). Dentries pointing to
 * it must already be gone. */
int meta_inode_delete(struct meta *m, uint64_t ino);
/* Call fn for each inode with nlink == 0 (left by a crash while open). */
int meta_inode_scan_orphans(struct meta *m,
			    void (*fn)(void *ctx, uint64_t ino), void *ctx);
/* Call fn for each regular file's inode row (any order). */
int meta_inode_scan(struct meta *m,
		    void (*fn)(void *ctx, const struct meta_inode *in),
		    void *ctx);
/* Count inodes and the sum of regular files' sizes (for statfs). */
int meta_inode_count(struct meta *m, uint64_t *files, uint64_t *bytes);

/* ---- directory entries ---- names are byte strings, not NUL-containing ---- */
/* -ENOENT if absent. */
int meta_dentry_lookup(struct meta *m, uint64_t parent, const char *name,
		       uint64_t *ino);
/* -EEXIST if `name` already exists in `parent`. */
int meta_dentry_add(struct meta *m, uint64_t parent, const char *name,
		    uint64_t ino);
/* -ENOENT if absent. */
int meta_dentry_remove(struct meta *m, uint64_t parent, const char *name);
/* Point an existing entry at another inode (for rename over / exchange). */
int meta_dentry_set(struct meta *m, uint64_t parent, const char *name,
		    uint64_t ino);
/* Move entry (parent,name) to (newparent,newname); the target must not
 * exist (-EEXIST). */
int meta_dentry_move(struct meta *m, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname);
/* true if directory `ino` has no entries. */
int meta_dir_is_empty(struct meta *m, uint64_t ino, bool *empty);
/* One parent of `ino` and its name there (any, if hard linked): used to
 * rebuild paths. -ENOENT for the root or an unlinked inode. `name` gets at
 * most TFS_NAME_MAX+1 bytes. */
int meta_dentry_parent(struct meta *m, uint64_t ino, uint64_t *parent,
		       char *name);
/* Call fn for every entry of `parent`, sorted by name (bytewise), with the
 * entry's inode row. */
int meta_dir_list(struct meta *m, uint64_t parent,
		  int (*fn)(void *ctx, const char *name,
			    const struct meta_inode *in),
		  void *ctx);

/* ---- symlinks ---- */
int meta_symlink_set(struct meta *m, uint64_t ino, const char *target);
/* Copies at most size-1 bytes and a NUL; returns the target length, or
 * -ENOENT. */
int meta_symlink_get(struct meta *m, uint64_t ino, char *buf, size_t size);

/* ---- extended attributes (user's own; tierfs.* are virtual, not here) ---- */
/* flags: 0, XATTR_CREATE (-EEXIST if present), XATTR_REPLACE (-ENODATA if
 * absent). */
int meta_xattr_set(struct meta *m, uint64_t ino, const char *name,
		   const void *value, size_t size, int flags);
/* size == 0: return the value's length. Else copy it and return its length,
 * -ERANGE if it does not fit, -ENODATA if absent. */
int meta_xattr_get(struct meta *m, uint64_t ino, const char *name,
		   void *buf, size_t size);
/* NUL-separated names, as listxattr(2): size == 0 returns the length
 * needed; -ERANGE if it does not fit. */
int meta_xattr_list(struct meta *m, uint64_t ino, char *buf, size_t size);
/* -ENODATA if absent. */
int meta_xattr_remove(struct meta *m, uint64_t ino, const char *name);
/* Call fn for every inode that has attribute `name`, with its value (not
 * NUL-terminated). fn must not call into meta. */
int meta_xattr_scan_name(struct meta *m, const char *name,
			 void (*fn)(void *ctx, uint64_t ino, const void *value,
				    size_t len),
			 void *ctx);

/* ---- warm extents ---- */
/* Insert or replace the extent of (ino, e->chunk). */
int meta_extent_put(struct meta *m, uint64_t ino, const struct meta_extent *e);
/* -ENOENT if the chunk has no warm extent. */
int meta_extent_get(struct meta *m, uint64_t ino, uint64_t chunk,
		    struct meta_extent *out);
/* All extents of `ino` sorted by chunk, in a malloc'd array the caller
 * frees (NULL and 0 if none). */
int meta_extent_list(struct meta *m, uint64_t ino, struct meta_extent **out,
		     size_t *n);
/* Delete extents with chunk >= first. */
int meta_extent_truncate(struct meta *m, uint64_t ino, uint64_t first);
/* Delete extents with first <= chunk < end (a punched hole). */
int meta_extent_punch(struct meta *m, uint64_t ino, uint64_t first,
		      uint64_t end);
/*
 * Shadow extents: the new content of a file being rewritten (O_TRUNC, see
 * fs_replace.c REPLACING A FILE) is committed under the file's number with
 * the top bit set, META_SHADOW(ino), while the file's own extents keep the
 * old content. They count as live in the segment catalog and compaction
 * moves them like any other (meta_extent_list_seg lists them under the
 * shadow number). meta_extent_publish() makes them the file's extents in
 * one step; a crash before that leaves the old content, and the next mount
 * drops every shadow (meta_extent_drop_shadows). meta_inode_delete()
 * deletes a file's shadows with it.
 */
#define META_SHADOW_BIT (UINT64_C(1) << 63)
#define META_SHADOW(ino) ((ino) | META_SHADOW_BIT)
/* Delete the extents of `ino` and turn its shadow extents into its own. */
int meta_extent_publish(struct meta *m, uint64_t ino);
/* Delete every shadow extent (mount-time recovery); *n gets how many. */
int meta_extent_drop_shadows(struct meta *m, uint64_t *n);
/* Every extent pointing into segment `seg`, with its inode, sorted by off:
 * used by compaction. Caller frees *inos and *exts. */
int meta_extent_list_seg(struct meta *m, uint64_t seg, uint64_t **inos,
			 struct meta_extent **exts, size_t *n);

/* ---- cold extents ---- */
int meta_cold_put(struct meta *m, uint64_t ino, const struct meta_cold *c);
/* -ENOENT if the file has no cold extent. */
int meta_cold_get(struct meta *m, uint64_t ino, struct meta_cold *out);
int meta_cold_clear(struct meta *m, uint64_t ino);
/* Every file archived in `archive`, sorted by off. Caller frees. */
int meta_cold_list_arc(struct meta *m, uint64_t archive, uint64_t **inos,
		       struct meta_cold **colds, size_t *n);

/* ---- catalogs ---- */
/* Create the segment row if missing and raise its committed length to at
 * least `len`. */
int meta_seg_commit_len(struct meta *m, uint64_t id, uint64_t len);
int meta_seg_delete(struct meta *m, uint64_t id);
/* One segment row; -ENOENT if the catalog has none. */
int meta_seg_get(struct meta *m, uint64_t id, struct meta_seg *out);
/* All segment rows sorted by id; caller frees. */
int meta_seg_list(struct meta *m, struct meta_seg **out, size_t *n);
/* One archive row; -ENOENT if the catalog has none. */
int meta_arc_get(struct meta *m, uint64_t id, struct meta_arc *out);
int meta_arc_add(struct meta *m, const struct meta_arc *a);
int meta_arc_delete(struct meta *m, uint64_t id);
int meta_arc_list(struct meta *m, struct meta_arc **out, size_t *n);

/* ---- checks and the checker's questions (meta_ro.c) ---- */
/* Run PRAGMA quick_check (quick: a mount) or integrity_check (fsck) and
 * call fn with each problem SQLite reports (fn returns non-zero to stop);
 * *problems counts them. A check SQLite cannot finish is one problem.
 * Returns 0, or -errno if the check could not start. */
int meta_check(struct meta *m, bool quick,
	       int (*fn)(void *ctx, const char *problem), void *ctx,
	       unsigned *problems);

/* ---- the mount's checks (meta_check.c) ---- */
/* The cheap check of every mount (milliseconds, whatever the size): the
 * header and the schema (page 1) read, and in every table and index the
 * pages from its root to its first leaf. Reports like meta_check(). It
 * catches a damaged header, schema or b-tree root; damage deeper in a
 * b-tree is the background check's. */
int meta_check_roots(struct meta *m,
		     int (*fn)(void *ctx, const char *problem), void *ctx,
		     unsigned *problems);
/* Start PRAGMA quick_check of the whole database on a thread of its own
 * (nice 10) with a second, read-only connection, so requests go on
 * meanwhile. Call instead of meta_set_exclusive(): the connection keeps
 * SQLite's normal locking while the check reads, and the checker switches
 * it to exclusive locking when it ends. Damage found is logged as an
 * error naming tierfs-fsck, and sets the database damaged: from then on
 * every write fails with -EROFS. 0, or -errno if the thread cannot start
 * (then nothing runs and the caller should check synchronously). */
int meta_check_start(struct meta *m);
/* Interrupt and join the background check (no-op if none); meta_close()
 * calls it. An interrupted check found nothing. */
void meta_check_stop(struct meta *m);
/* Has SQLite reported damage (background check or any statement)? */
bool meta_damaged(struct meta *m);

/* Do extents point into segment `seg` (whether or not it has a row)? */
int meta_ro_seg_used(struct meta *m, uint64_t seg, bool *used);
/* Call fn for every directory entry naming an inode that does not exist;
 * fn returns non-zero to stop (that value is returned). */
int meta_ro_dangling(struct meta *m,
		     int (*fn)(void *ctx, uint64_t parent, const char *name,
			       uint64_t ino),
		     void *ctx);
/* Link facts of one inode, for link-count checks. */
struct meta_links {
	uint64_t ino;
	uint32_t mode;
	uint64_t nlink;         /* as stored */
	uint64_t entries;       /* directory entries naming it */
	uint64_t subdirs;       /* entries in it that are directories */
};
/* Call fn for every inode (fn returns non-zero to stop). */
int meta_ro_links(struct meta *m,
		  int (*fn)(void *ctx, const struct meta_links *l), void *ctx);
/* Repairs: recount every catalog row's live bytes from the extents (one
 * transaction); set a segment's committed length (-ENOENT if no row). */
int meta_fix_live(struct meta *m);
int meta_seg_set_len(struct meta *m, uint64_t id, uint64_t len);
/* Write a consistent copy of the whole database to the new file `path`
 * (SQLite backup API; meta_backup.c). -EIO or -ENOSPC on failure. */
int meta_backup(struct meta *m, const char *path);

#endif
