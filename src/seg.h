/*
 * seg.h - the warm tier's storage: append-only segment files of checksummed,
 * LZ4-compressed chunk records, read back with range reads (no mmap, so
 * large warm reads do not grow the daemon's RSS).
 *
 * What it is: objects NNNNNNNN.seg (8 hex digits of the segment id) of the
 * blob store it is given (blob.h; the daemon gives it the local directory
 * STORE/warm/). Each starts with a fixed header (magic, version, id) and
 * is followed by records {header, payload}. A record's payload is the LZ4
 * block of one chunk, or the raw chunk when LZ4 does not make it smaller.
 * The header carries the inode, chunk index, raw and stored lengths and a
 * CRC32C of the raw bytes, and a CRC of itself. Appends go to one active
 * segment at a time; when it would pass seg_max a new one is started.
 *
 * What it is not: a catalog. It does not know which records are live; the
 * metadata store does (meta.h extents and the segment table). Recovery is
 * told the committed length of each segment and trusts it.
 *
 * Thread safety: all calls are safe from any thread. Appends are serialized
 * by an internal append lock (held across the writes of one batch only);
 * reads take no lock beyond a short one to find the segment.
 *
 * Errors: 0 or negative errno. A record whose header or checksum does not
 * verify is -EIO (and logged); an id/offset outside a segment is -EIO.
 * Store disk full is -ENOSPC, with nothing previously written damaged.
 */
#ifndef TIERFS_SEG_H
#define TIERFS_SEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct segstore;
struct blob_store;

/* Where a record landed. rec_len includes the record header. */
struct seg_loc {
	uint64_t seg;
	uint64_t off;
	uint32_t rec_len;
	uint32_t raw_len;
};

/* What recovery is told about one segment known to the metadata store. */
struct seg_known {
	uint64_t id;
	uint64_t len;           /* committed length */
};

/* Counters (monotonic since open). */
struct seg_stats {
	uint64_t appends;
	uint64_t raw_records;   /* stored uncompressed */
	uint64_t bytes_in;      /* raw bytes appended */
	uint64_t bytes_out;     /* record bytes written */
	uint64_t reads;
	uint64_t crc_errors;
};

/*
 * Open the segment store kept in blob store `bs` (the caller opens it:
 * STORE/warm through blob_local_open, mode 0600) and recover it: each
 * known segment is truncated to its committed length (uncommitted tails
 * dropped); every *.seg object not in `known` is deleted as an orphan. New
 * records go to a fresh segment whose id is taken from `next_id(ctx)` when
 * needed. seg_max: size at which a new segment is started (bytes).
 * The segment store takes bs over, also when it fails: segstore_close()
 * (or the failed open) closes it.
 */
int segstore_open(struct segstore **out, struct blob_store *bs,
		  uint64_t seg_max,
		  const struct seg_known *known, size_t nknown,
		  int (*next_id)(void *ctx, uint64_t *id), void *ctx);
/* Close; tolerates NULL; sets *s = NULL. Does not sync. */
void segstore_close(struct segstore **s);

/* One chunk of a batch (segstore_append_batch). */
struct seg_item {
	uint64_t chunk;
	const void *raw;        /* its bytes, raw_len of them; read only */
	uint32_t raw_len;       /* <= TFS_CHUNK_SIZE, may be 0 */
	struct seg_loc loc;     /* out: where the record landed */
};

/*
 * Append n chunks of inode `ino`, as segstore_append does one each, in
 * order (the records of one segment lie back to back): one gathered write
 * per segment they land in, raw payloads written straight from it->raw
 * (which must not be freed before the call returns; if the caller's bytes
 * change meanwhile the record may be torn, and the caller must not commit
 * it). On an error the items before the failing one have their loc set
 * (written, not synced); nothing of the rest is kept. -EINVAL (a raw_len
 * too big), -ENOSPC, -ENOMEM or -EIO.
 */
int segstore_append_batch(struct segstore *s, uint64_t ino,
			  struct seg_item *items, size_t n);

/*
 * Compress and append one chunk (raw_len <= TFS_CHUNK_SIZE, may be 0).
 * On success *loc says where; the record is written (page cache) but not
 * synced. The caller commits loc.seg's new length (loc.off + loc.rec_len)
 * in meta together with the extent.
 */
int segstore_append(struct segstore *s, uint64_t ino, uint64_t chunk,
		    const void *raw, uint32_t raw_len, struct seg_loc *loc);

/*
 * Read the whole chunk at `loc` into dst (capacity >= loc->raw_len),
 * verifying that the record belongs to (ino, chunk) and its checksum.
 * loc->raw_len must equal the record's; loc->rec_len is checked too unless
 * it is 0 (not known). Returns the raw length, or -EIO.
 */
int segstore_read(struct segstore *s, const struct seg_loc *loc,
		  uint64_t ino, uint64_t chunk, void *dst);

/* fdatasync every segment appended to since the last sync. */
int segstore_sync(struct segstore *s);

/* Delete segment `id` (it holds no live records). The active segment is
 * never deleted: -EBUSY. */
int segstore_remove(struct segstore *s, uint64_t id);

/*
 * For a clean close: cut the active segment back to `committed` bytes (what
 * the catalog has), or delete it if `committed` is 0 (the catalog has no
 * row: nothing in it was ever committed, e.g. its first append failed on a
 * full disk). Appends after this start a new segment. Then the next open
 * has nothing to recover. 0 or -errno.
 */
int segstore_trim_active(struct segstore *s, uint64_t committed);

/* Keep `bytes` free on the store disk: an append that would leave less
 * fails with -ENOSPC before writing (the room is for meta.db, so that
 * deleting and truncating still work on a full disk). 0: no reserve. */
void segstore_set_reserve(struct segstore *s, uint64_t bytes);
/* Free bytes on the store disk for us (statvfs f_bavail). 0 or -errno. */
int segstore_avail(struct segstore *s, uint64_t *avail);
/*
 * Give the disk space of dead records back without rewriting anything:
 * punch holes (whole pages) between the live records `live[0..n)` (sorted
 * by offset; everything else in the segment is dead) up to its current
 * length. The caller must make sure no record appended but not committed
 * yet lies in a gap (fs: under seg_lock). live_bytes is remembered so that
 * segstore_punch_wanted() says whether anything died since. *punched gets
 * the bytes released. -EOPNOTSUPP if the filesystem cannot punch holes,
 * -ENOENT for an unknown segment.
 */
int segstore_punch_dead(struct segstore *s, uint64_t id,
			const struct seg_loc *live, size_t n,
			uint64_t live_bytes, uint64_t *punched);
bool segstore_punch_wanted(struct segstore *s, uint64_t id, uint64_t live);

/* The segment appends currently go to (0 if none yet). */
uint64_t segstore_active(struct segstore *s);
/* Bytes on disk of all segments. */
uint64_t segstore_disk_bytes(struct segstore *s);
void segstore_get_stats(struct segstore *s, struct seg_stats *out);

#endif
