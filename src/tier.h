/*
 * tier.h - the tier interface: one small table of operations per tier,
 * each implementation one file (tier_hot.c, tier_warm.c, tier_cold.c),
 * through which the filesystem's data path and movers (fs_data, fs_wb,
 * fs_tier, fs_cold) read a chunk, store a batch, release a file's copy and
 * count its bytes without naming the tier.
 *
 * What it is: struct tier, an ops table plus the tier's store (struct hot,
 * struct segstore, struct cold), one per tier in struct fs (fs_mount.c
 * fills them, in tier order: hot, warm, cold). A file's place on a tier
 * lives in its inode (RAM chunks; warm extents ext[]; the cold extent), and
 * each implementation reads and clears its own part of the inode only.
 * An operation a tier does not have is NULL: hot has no durable chunk to
 * locate or read (RAM chunks are read under the inode lock by fs_read,
 * whatever the tier); only the write-back tier (warm) stores chunk batches
 * and needs a sync (archives are written whole by the cold mover,
 * fs_cold.c, through cold.h's cold_arc_* calls).
 * What it is not: the mover (which tier a file goes to, the order of a
 * migration, crash consistency: fs_tier.c, fs_cold.c) and not storage
 * (segments, archives, the blob stores below). The meta rows that make a
 * place durable are committed by the caller, in its own transaction.
 *
 * Locking: locate, release and stored_bytes run under the caller's
 * ino->lock (so they take no lock above it; release may take hot->lock,
 * which the order allows); read_chunk, store_batch and sync run without
 * any inode lock (they do I/O).
 *
 * Adding a tier: write tier_NAME.c filling struct tier_ops, give it an id
 * in tierfs.h (TFS_NTIERS, tfs_tier_name) and one line in fs_mount.c's
 * tier table. Durable reads ask the tiers in id order.
 */
#ifndef TIERFS_TIER_H
#define TIERFS_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "seg.h"

struct tfs_inode;
struct hot;
struct segstore;
struct cold;

/* Where the bytes of one chunk are on one tier: copied out of the inode
 * under its lock by locate(), read by read_chunk() without it. */
struct tier_loc {
	union {
		struct seg_loc rec;             /* warm: the chunk's record */
		struct {
			struct meta_cold ext;   /* cold: the file's extent */
			uint64_t off;           /* the chunk's file offset */
		} arc;
	} u;
	uint32_t len;           /* bytes this place holds (the rest of the
				   chunk's span reads as zeros) */
};

/* One chunk of a batch to store (tier_ops.store_batch). */
struct tier_item {
	uint64_t k;             /* chunk number */
	const void *data;       /* its bytes, len of them */
	uint32_t len;
	struct seg_loc loc;     /* out: where they went */
};

struct tier;

struct tier_ops {
	const char *name;
	/* Does this tier hold chunk k (span bytes long) of ino? If so fill
	 * *loc. Caller holds ino->lock and the extents are loaded. */
	bool (*locate)(const struct tfs_inode *ino, uint64_t k, uint32_t span,
		       struct tier_loc *loc);
	/* Read the chunk at loc (from locate) of file `ino` into buf (room
	 * for TFS_CHUNK_SIZE): bytes read (<= loc->len), or -EIO. */
	int (*read_chunk)(const struct tier *t, const struct tier_loc *loc,
			  uint64_t ino, uint64_t k, uint8_t *buf);
	/* Store chunks items[0..n) of file `ino`; each item's loc gets where
	 * its bytes went. Not synced, not visible until the caller commits
	 * the places to meta. 0 or -errno (-ENOSPC, -EIO). */
	int (*store_batch)(const struct tier *t, uint64_t ino,
			   struct tier_item *items, size_t n);
	/* Make every stored batch durable. 0 or -errno. */
	int (*sync)(const struct tier *t);
	/* Forget the file's copy on this tier in memory (its clean chunks;
	 * its places): the caller has committed (or is about to commit) a
	 * place elsewhere. Dirty chunks stay. Caller holds ino->lock. */
	void (*release)(const struct tier *t, struct tfs_inode *ino);
	/* Bytes the file occupies on this tier (0 if none). Caller holds
	 * ino->lock; extents loaded. */
	uint64_t (*stored_bytes)(const struct tier *t,
				 const struct tfs_inode *ino);
};

struct tier {
	const struct tier_ops *ops;
	void *store;            /* the implementation's (hot, segstore, cold) */
};

extern const struct tier_ops tier_hot_ops;      /* store: struct hot */
extern const struct tier_ops tier_warm_ops;     /* store: struct segstore */
extern const struct tier_ops tier_cold_ops;     /* store: struct cold */

#endif
