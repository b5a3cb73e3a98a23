/*
 * inode.h - the in-memory inode and the table of loaded inodes.
 *
 * What it is: the live state of a file while anybody uses it: its attributes
 * (authoritative while loaded, written through to meta), its RAM chunks
 * (the hot tier), its cached map of durable extents, and the counts that
 * decide its lifetime. The table maps inode numbers to loaded inodes.
 *
 * Lifetime. An inode object stays in the table while any of these is
 * non-zero: nlookup (kernel references, FUSE lookup/forget), nopen (open
 * file handles), ref (internal users: an operation in flight, the policy),
 * or it holds RAM chunks (a hot file stays hot when the kernel forgets it).
 * When all reach zero it is removed and freed; if its nlink is 0 its rows
 * and data are deleted from the store at that moment (open-unlink). Under
 * zero-message open (fuse_ops.c) the kernel opens files without telling
 * us, so nopen stays 0: an open file is kept by the kernel's own reference
 * (nlookup), which it drops only after the last close.
 * The FUSE adapter uses the object's address as the FUSE node id.
 *
 * LOCKING: every lock in tierfs, what it protects, and the one global
 * order (a thread holding a lock takes only locks further down the list).
 *   1. fs->ns_lock            namespace mutations: create, link, unlink,
 *                             rename (fs_ns.c)
 *   2. inode->io              one flush/migration/truncate of this inode at
 *                             a time; may be held across blocking I/O. Two
 *                             at once only by trylock (the cold mover's
 *                             commit never waits for a busy file); if ever
 *                             taken blocking, take them by address
 *  2b. fs->seg_lock (rw)       shared by a write-back from its first segment
 *                             append to its commit; exclusive by compaction
 *                             while it deletes or punches a segment
 *                             (fs_int.h)
 *   3. itable->lock           (fs->itable and fs->vtable) the hash table,
 *                             nlookup, nopen, ref; fs->ghosts
 *   4. inode->lock            attributes, chunks, extent map; never held
 *                             across blocking I/O, a decode or a meta call
 *   5. hot->lock              the hot budget's resident list (hot.h)
 *   6. seg append_lock        the active segment and its tail (seg_int.h)
 *   7. seg sync_lock          one segstore_sync(); closing sealed segments'
 *                             write handles
 *   8. seg tab_lock (rw)      the segment table (after 6 and 7)
 *   9. cold->lock (rw)        the archive catalog (cold.c); readers hold it
 *                             only to reference an archive, never while
 *                             decoding; the last reference frees
 *  10. meta->lock             SQLite and its statements (recursive; meta.c)
 * Leaves (nothing is taken while one is held; any of the above may be held
 * when one is taken):
 *      fs->cfg_lock           the config in force, fs->mount_info
 *      fs_ctl lock            the .tiers control files' renderings
 *      policy->lock           the promotion queue, directory policies,
 *                             stop flag
 *      blkcache lock          the decoded-block cache's table and LRU
 *      coldra lock            the cold read-ahead queue (coldra.c)
 *      s3 lock                an S3 client's pool of connections (s3.c)
 *      seg pool_lock          the pool of record buffers
 *      fs->replace_lock       pending O_TRUNC rewrites (fs_replace.c);
 *                             the replacer thread waits on its
 *                             condition; an inode's replace_* fields
 *                             are under inode->lock
 *      hot->pool_lock         the hot chunk buffer pool (hot.c)
 *      xzarc_writer lock      one archive writer's job queue (its threads)
 *      log_file_lock          the log file (log.c)
 * Atomics without a lock: inode access counters, hot->bytes, segment
 * lengths and flags, archive and segment reference counts, stats.
 */
#ifndef TIERFS_INODE_H
#define TIERFS_INODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "meta.h"
#include "tierfs.h"

/* Virtual inodes (the .tiers control tree) are not in meta. */
enum inode_kind {
	INODE_REAL = 0,
	INODE_TIERS_DIR,        /* MNT/.tiers */
	INODE_STATS,            /* MNT/.tiers/stats (JSON) */
	INODE_METRICS,          /* MNT/.tiers/metrics (Prometheus) */
	INODE_VIEW,             /* MNT/.tiers/<tier>[/...]: a directory view */
	INODE_CONFIG,           /* MNT/.tiers/config (settings in force) */
};

/* One chunk's bytes in RAM. Bytes of the chunk past `len` (up to the
 * file's size) read as zeros. The header never moves while the chunk is
 * in RAM (only `data` is reallocated), so a pointer to it stays valid for
 * whoever holds the inode's io lock. */
struct hchunk {
	uint32_t len;           /* valid bytes */
	uint32_t cap;           /* allocated bytes of data */
	uint64_t gen;           /* bumped at every change of the bytes */
	bool dirty;             /* changed since its last write-back */
	uint8_t *data;
};

/* Durable place of one chunk (seg == 0: none in warm). */
struct ext_slot {
	uint64_t seg;
	uint64_t off;
	uint32_t rec_len;
	uint32_t raw_len;
};

struct tfs_inode {
	/* Immutable after creation. */
	uint64_t ino;                   /* st_ino */
	enum inode_kind kind;
	int view_tier;                  /* INODE_VIEW: the tier shown */
	uint64_t view_real;             /* INODE_VIEW: the real dir's ino */

	/* protected by itable->lock */
	uint64_t nlookup;
	uint32_t nopen;
	uint32_t ref;
	struct tfs_inode *hnext;        /* hash chain */
	uint64_t persisted_count;       /* access fields last saved by the */
	tfs_ns persisted_last;          /* policy thread */

	pthread_mutex_t io;             /* see the lock order above */
	pthread_mutex_t lock;

	/* protected by lock */
	struct meta_inode attr;         /* attr.tier: durable tier, or HOT */
	uint64_t data_version;          /* bumped by every write/truncate */
	uint64_t ext_gen;               /* bumped when ext/cold change */
	uint64_t reloc_gen;             /* bumped when compaction relocates a
					   record (same bytes, new place) */
	bool resident;                  /* every chunk is in RAM: a hot file */
	bool restoring;                 /* being loaded back into RAM by its
					   first use after a remount
					   (fs_restore_hot) */
	struct hchunk **chunks;         /* [nchunks_cap], NULL = not in RAM
					   (or a hole, when resident) */
	uint64_t nchunks_cap;
	uint64_t ram_bytes;             /* sum of chunks' cap */
	uint64_t trunc_from;            /* extents from this chunk on are to
					   be deleted at the next write-back
					   (UINT64_MAX: none) */
	uint32_t ndirty;
	uint64_t dirty_lo;              /* no chunk below it is dirty (a
					   write-back starts there) */
	bool ext_loaded;                /* ext/cold below are valid */
	struct ext_slot *ext;           /* [next], warm extents by chunk */
	uint64_t next;
	bool has_cold;
	struct meta_cold cold;
	bool meta_dirty;                /* attr differs from meta (size/times
					   after writes) */
	uint64_t dir_count;             /* directories: entries + 1 (st_size);
					   0 = not counted since loaded */
	uint64_t dir_gen;               /* bumped at every entry change */
	uint64_t alloc_bytes;           /* regular files whose extent map is
					   not loaded: allocated bytes */
	uint64_t alloc_stamp;           /* ext_gen + data_version + 1 when
					   alloc_bytes was counted; 0: never */
	uint64_t xattr_gen;             /* bumped by every xattr change */
	bool caps_absent;               /* known to have no
					   security.capability (the kernel
					   asks before every write) */
	bool dacl_absent;               /* directories: known to have no
					   default ACL (read at every
					   create in it; fs_ns.c) */
	tfs_ns replace_since;           /* a rewrite (truncation to 0) not
					   published yet (fs_replace.c), or 0 */
	tfs_ns replace_last;            /* its last WRITE or truncation */
	uint64_t replace_size;          /* the size meta keeps meanwhile */
	bool replace_queued;            /* on fs->replace (fs_replace.c) */

	uint8_t reason;                 /* enum fs_reason: why it is where
					   it is */
	uint64_t reason_arg[2];
	tfs_ns promo_start;             /* current promotion window */
	uint32_t promo_reads;           /* passes over the file in it */
	bool promo_queued;

	/* Access tracking (atomics: updated on the read path without locks). */
	_Atomic tfs_ns last_access;
	_Atomic uint64_t access_count;
	_Atomic uint64_t read_next;     /* end of the last READ (fs_read) */

	/* protected by hot->lock */
	struct tfs_inode *hot_prev, *hot_next;
	bool on_hot_list;
};

struct itable {
	pthread_mutex_t lock;
	struct tfs_inode **buckets;     /* protected by lock */
	uint64_t nbuckets;              /* protected by lock */
	uint64_t count;                 /* protected by lock */
};

int itable_init(struct itable *t);
/* Frees every inode still in the table. */
void itable_destroy(struct itable *t);
/* Caller holds t->lock for these three. */
struct tfs_inode *itable_find(struct itable *t, uint64_t ino);
int itable_insert(struct itable *t, struct tfs_inode *ino);
void itable_remove(struct itable *t, struct tfs_inode *ino);

/* Allocate an inode object (not in any table) with attr copied in. */
struct tfs_inode *inode_alloc(const struct meta_inode *attr,
			      enum inode_kind kind);
/* Free RAM chunks, extent map and the object. */
void inode_free(struct tfs_inode *ino);

/* The attributes the store must record now; caller holds ino->lock. While
 * a rewrite waits to be published (fs_replace.c), meta keeps the old size
 * with the old extents. */
static inline struct meta_inode inode_attr_durable(const struct tfs_inode *ino)
{
	struct meta_inode a = ino->attr;

	if (ino->replace_since)
		a.size = ino->replace_size;
	return a;
}

/* Lock/unlock helpers (abort on error: a failed mutex op is a bug). */
void inode_lock(struct tfs_inode *ino);
void inode_unlock(struct tfs_inode *ino);
void inode_io_lock(struct tfs_inode *ino);
void inode_io_unlock(struct tfs_inode *ino);

/* Chunk helpers; caller holds ino->lock. */
static inline uint64_t inode_nchunks(uint64_t size)
{
	return (size + TFS_CHUNK_SIZE - 1) >> TFS_CHUNK_SHIFT;
}
/* Logical length of chunk k of a file of `size` bytes (0 past the end). */
static inline uint32_t inode_chunk_span(uint64_t size, uint64_t k)
{
	uint64_t start = k << TFS_CHUNK_SHIFT;

	if (start >= size)
		return 0;
	return size - start >= TFS_CHUNK_SIZE ? TFS_CHUNK_SIZE
					      : (uint32_t)(size - start);
}
/* Largest file tierfs accepts (write, truncate, fallocate): 2^46 bytes
 * (64 TiB) keeps chunk indices small. */
#define INODE_MAX_FILE_SIZE (UINT64_C(1) << 46)
/* Make room for chunk index k in chunks[] / ext[]. -ENOMEM. */
int inode_reserve_chunks(struct tfs_inode *ino, uint64_t k);
int inode_reserve_ext(struct tfs_inode *ino, uint64_t k);

#endif
