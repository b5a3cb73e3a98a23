/*
 * fs_hole.c - holes: fallocate(2), SEEK_DATA/SEEK_HOLE and the allocated
 * bytes behind st_blocks.
 *
 * WHAT A HOLE IS. A chunk with no bytes anywhere (fs_data.c's order: not in
 * RAM, and, unless the file is resident, no warm extent and not below the
 * cold extent's length) reads as zeros and costs nothing. Within a chunk,
 * the bytes past its valid length (RAM chunk len, warm raw_len, the cold
 * extent's end) are a hole too. SEEK_DATA/SEEK_HOLE and st_blocks report
 * exactly that: st_blocks counts allocated logical bytes, not the
 * compressed bytes on disk (those are user.tierfs.stored), so du of a
 * sparse file is small and du of a compressed one is its size, as on
 * ext4; a file moving between tiers does not change its st_blocks.
 *
 * PUNCHING. FALLOC_FL_PUNCH_HOLE and FALLOC_FL_ZERO_RANGE make holes: the
 * partly covered chunks at either end are written with zeros (the normal
 * write path), the wholly covered ones lose their RAM copy and warm
 * extents in one transaction. A cold extent covers a prefix of the file
 * and cannot have holes in its middle: a punch that reaches the end of it
 * shortens it; any other punch first re-encodes the file into warm records
 * (it is then hot, with a warm copy, like a file written to), then
 * punches those.
 *
 * ALLOCATING. Mode 0 and FALLOC_FL_KEEP_SIZE reserve nothing (tierfs has
 * no block reservations: data lives in RAM first); they check that the
 * store's disk has room for the range (ENOSPC otherwise) and mode 0 grows
 * the size. The range stays a hole until written.
 *
 * What it is not: a preallocator, and not FALLOC_FL_COLLAPSE_RANGE /
 * INSERT_RANGE (EOPNOTSUPP).
 */
#include "fs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <sys/statvfs.h>

#include "hot.h"


/* Bytes of chunk k that hold data (from its start; the rest of its span
 * is a hole). Caller holds ino->lock; the extent map is loaded or the
 * file is resident. */
static uint32_t data_len(const struct tfs_inode *ino, uint64_t k)
{
	uint32_t span = inode_chunk_span(ino->attr.size, k), n = 0;
	uint64_t cs = k << TFS_CHUNK_SHIFT;
	struct hchunk *c = k < ino->nchunks_cap ? ino->chunks[k] : NULL;

	if (c)
		n = c->len;
	else if (ino->resident)
		n = 0;
	else if (ino->ext_loaded && k < ino->next && ino->ext[k].seg)
		n = ino->ext[k].raw_len;
	else if (ino->ext_loaded && ino->has_cold && cs < ino->cold.len)
		n = ino->cold.len - cs > TFS_CHUNK_SIZE
			? TFS_CHUNK_SIZE : (uint32_t)(ino->cold.len - cs);
	return n < span ? n : span;
}

/* Chunks past this index hold no data (arrays and cold extent end). */
static uint64_t data_chunks(const struct tfs_inode *ino)
{
	uint64_t n = ino->nchunks_cap;

	if (!ino->resident && ino->ext_loaded) {
		if (ino->next > n)
			n = ino->next;
		if (ino->has_cold && inode_nchunks(ino->cold.len) > n)
			n = inode_nchunks(ino->cold.len);
	}
	if (n > inode_nchunks(ino->attr.size))
		n = inode_nchunks(ino->attr.size);
	return n;
}

uint64_t fs_alloc_bytes(const struct tfs_inode *ino)
{
	uint64_t n, total = 0;

	if (!ino->resident && !ino->ext_loaded) {
		/* Counted by fs_alloc_prepare() (or never: the size). */
		if (ino->alloc_stamp == ino->ext_gen + ino->data_version + 1)
			return ino->alloc_bytes;
		return ino->attr.size;
	}
	n = data_chunks(ino);
	for (uint64_t k = 0; k < n; k++)
		total += data_len(ino, k);
	return total;
}

void fs_alloc_prepare(struct fs *f, struct tfs_inode *ino)
{
	struct meta_extent *ext = NULL;
	struct meta_cold cold;
	uint64_t stamp, size, total = 0, cold_len = 0;
	size_t n = 0;
	bool need;
	int rc;

	if (ino->kind != INODE_REAL)
		return;
	inode_lock(ino);
	stamp = ino->ext_gen + ino->data_version + 1;
	need = S_ISREG(ino->attr.mode) && !ino->resident &&
	       !ino->ext_loaded && ino->attr.size > 0 &&
	       ino->alloc_stamp != stamp;
	size = ino->attr.size;
	inode_unlock(ino);
	if (!need)
		return;
	/* Counted from meta without keeping the map: a stat must not pin
	 * the extent maps of every file it sees in memory. */
	if (meta_extent_list(f->meta, ino->ino, &ext, &n))
		return;
	rc = meta_cold_get(f->meta, ino->ino, &cold);
	if (rc == 0)
		cold_len = cold.len < size ? cold.len : size;
	else if (rc != -ENOENT)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		uint32_t span = inode_chunk_span(size, ext[i].chunk);
		uint64_t cs = ext[i].chunk << TFS_CHUNK_SHIFT;

		total += ext[i].raw_len < span ? ext[i].raw_len : span;
		/* A warm extent overrides the cold bytes of its chunk. */
		if (cs < cold_len)
			total -= cold_len - cs < span ? cold_len - cs : span;
	}
	total += cold_len;
	inode_lock(ino);
	if (ino->ext_gen + ino->data_version + 1 == stamp) {
		ino->alloc_bytes = total;
		ino->alloc_stamp = stamp;
	}
	inode_unlock(ino);
out_free:
	free(ext);
}

/* ---- SEEK_DATA / SEEK_HOLE ---- */

int fs_lseek(struct fs *f, struct tfs_inode *ino, off_t off, int whence,
	     off_t *out)
{
	uint64_t size, n, k, pos = (uint64_t)off;
	int rc;

	if (ino->kind != INODE_REAL)
		return -EINVAL;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off < 0)
		return -ENXIO;
	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	if (!S_ISREG(ino->attr.mode)) {
		inode_unlock(ino);
		return -EINVAL;
	}
	size = ino->attr.size;
	if (pos >= size) {
		inode_unlock(ino);
		return -ENXIO;
	}
	n = data_chunks(ino);
	rc = -ENXIO;
	for (k = pos >> TFS_CHUNK_SHIFT; k < n; k++) {
		uint64_t cs = k << TFS_CHUNK_SHIFT;
		uint64_t dend = cs + data_len(ino, k);
		uint64_t from = cs > pos ? cs : pos;

		if (whence == SEEK_DATA && from < dend) {
			*out = (off_t)from;
			rc = 0;
			break;
		}
		if (whence == SEEK_HOLE &&
		    (from >= dend || dend < cs + inode_chunk_span(size, k))) {
			/* In a hole, or data ending inside the chunk. */
			*out = (off_t)(from >= dend ? from : dend);
			rc = 0;
			break;
		}
	}
	if (rc && whence == SEEK_HOLE) {
		/* Past the last chunk with data: a hole up to the size (the
		 * end of the file counts as a hole). */
		k = n << TFS_CHUNK_SHIFT;
		*out = (off_t)(k > pos ? (k < size ? k : size) : pos);
		rc = 0;
	}
	inode_unlock(ino);
	return rc;
}

/* ---- fallocate ---- */

/* Zero [pos, end) through the write path, chunk by chunk, only where
 * there is data (a hole stays a hole). The extent map is loaded. */
static int write_zeros(struct fs *f, struct tfs_inode *ino, uint64_t pos,
		       uint64_t end)
{
	static const uint8_t zeros[4096];

	while (pos < end) {
		uint64_t k = pos >> TFS_CHUNK_SHIFT;
		uint64_t cend = (k + 1) << TFS_CHUNK_SHIFT, dend, stop;

		inode_lock(ino);
		dend = (k << TFS_CHUNK_SHIFT) + data_len(ino, k);
		inode_unlock(ino);
		stop = end < cend ? end : cend;
		if (stop > dend)
			stop = dend;
		while (pos < stop) {
			size_t n = stop - pos > sizeof(zeros)
					   ? sizeof(zeros) : (size_t)(stop - pos);
			ssize_t w = fs_write(f, ino, NULL, zeros, n,
					     (off_t)pos);

			if (w < 0)
				return (int)w;
			if (w == 0)
				return -EIO;
			pos += (uint64_t)w;
		}
		pos = end < cend ? end : cend;
	}
	return 0;
}

/* Does the store's disk have room for `len` more bytes? */
static int check_room(struct fs *f, uint64_t len)
{
	struct statvfs sv;

	if (statvfs(f->store.dir, &sv) < 0)
		return -errno;
	if ((uint64_t)sv.f_bavail * sv.f_frsize < len)
		return -ENOSPC;
	return 0;
}

/* Drop chunks [k0, k1) of a file: RAM copies, warm extents, and the tail
 * of the cold extent (re-encoding the file first when the cold extent goes
 * on past k1). Caller holds ino->io. */
static int punch_chunks(struct fs *f, struct tfs_inode *ino, uint64_t k0,
			uint64_t k1)
{
	struct meta_inode a;
	struct meta_cold cold = { 0 };
	bool cold_changed = false, has_cold, middle;
	int rc;

	/* A hole in a rewrite: publish it first (fs_replace.c), the punch
	 * below changes the file's own extents. */
	rc = fs_replace_publish(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	has_cold = ino->has_cold && (k0 << TFS_CHUNK_SHIFT) < ino->cold.len;
	middle = has_cold && (k1 << TFS_CHUNK_SHIFT) < ino->cold.len;
	inode_unlock(ino);
	if (middle) {
		rc = fs_cold_to_warm(f, ino, false);
		if (rc)
			return rc;
	}

	inode_lock(ino);
	for (uint64_t k = k0; k < k1 && k < ino->nchunks_cap; k++)
		fs_chunk_drop(f, ino, k);
	for (uint64_t k = k0; k < k1 && k < ino->next; k++)
		ino->ext[k] = (struct ext_slot){ 0 };
	if (ino->has_cold && (k0 << TFS_CHUNK_SHIFT) < ino->cold.len) {
		/* Only a tail is left to cut (the middle case re-encoded). */
		ino->cold.len = k0 << TFS_CHUNK_SHIFT;
		cold = ino->cold;
		cold_changed = true;
	}
	ino->ext_gen++;
	ino->data_version++;
	ino->attr.mtime = ino->attr.ctime = fs_now();
	a = ino->attr;
	a.last_access = atomic_load(&ino->last_access);
	a.access_count = atomic_load(&ino->access_count);
	inode_unlock(ino);

	rc = meta_begin(f->meta);
	if (rc)
		return rc;
	rc = meta_extent_punch(f->meta, ino->ino, k0, k1);
	if (!rc && cold_changed)
		rc = cold.len ? meta_cold_put(f->meta, ino->ino, &cold)
			      : meta_cold_clear(f->meta, ino->ino);
	if (!rc)
		rc = meta_inode_update(f->meta, &a);
	rc = meta_finish(f->meta, rc);
	if (rc) {
		/* Memory and meta disagree now: take the map from meta again
		 * (the punch did not happen). */
		inode_lock(ino);
		ino->ext_loaded = false;
		ino->meta_dirty = true;
		inode_unlock(ino);
		return rc;
	}
	if (cold_changed && cold.len == 0) {
		inode_lock(ino);
		ino->has_cold = false;
		inode_unlock(ino);
	}
	return 0;
}

/* Make [off, end) read as zeros with holes where whole chunks are. */
static int make_hole(struct fs *f, struct tfs_inode *ino, uint64_t off,
		     uint64_t end)
{
	uint64_t size, k0, k1, lim;
	int rc;

	inode_lock(ino);
	size = ino->attr.size;
	inode_unlock(ino);
	lim = end < size ? end : size;
	if (off >= lim)
		return 0;
	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	/* Whole chunks: from the first chunk starting at or after off to
	 * the last one ending at or before lim (the file's short last chunk
	 * is whole when lim is the size). */
	k0 = (off + TFS_CHUNK_SIZE - 1) >> TFS_CHUNK_SHIFT;
	k1 = lim == size ? inode_nchunks(size) : lim >> TFS_CHUNK_SHIFT;
	if (k0 >= k1)
		return write_zeros(f, ino, off, lim);
	rc = write_zeros(f, ino, off, k0 << TFS_CHUNK_SHIFT);
	if (!rc && (k1 << TFS_CHUNK_SHIFT) < lim)
		rc = write_zeros(f, ino, k1 << TFS_CHUNK_SHIFT, lim);
	if (rc)
		return rc;
	inode_io_lock(ino);
	rc = punch_chunks(f, ino, k0, k1);
	if (!rc)
		rc = fs_writeback(f, ino, false);
	inode_io_unlock(ino);
	return rc;
}

int fs_fallocate(struct fs *f, struct tfs_inode *ino, int mode, off_t off,
		 off_t len)
{
	const int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
			  FALLOC_FL_ZERO_RANGE;
	uint64_t end;
	bool grow;
	int rc = 0;

	if (ino->kind != INODE_REAL)
		return -ENODEV;
	if (mode & ~known)
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & FALLOC_FL_ZERO_RANGE)))
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	end = (uint64_t)off + (uint64_t)len;
	if (end > INODE_MAX_FILE_SIZE)
		return -EFBIG;
	inode_lock(ino);
	if (S_ISDIR(ino->attr.mode))
		rc = -EISDIR;
	else if (!S_ISREG(ino->attr.mode))
		rc = -ENODEV;
	grow = !(mode & FALLOC_FL_KEEP_SIZE) && end > ino->attr.size;
	inode_unlock(ino);
	if (rc)
		return rc;

	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		rc = make_hole(f, ino, (uint64_t)off, end);
	else
		rc = check_room(f, (uint64_t)len);
	if (rc)
		return rc;

	inode_io_lock(ino);
	inode_lock(ino);
	if (grow && end > ino->attr.size) {
		/* The new range is a hole until written. */
		ino->attr.size = end;
		ino->attr.mtime = fs_now();
		ino->data_version++;
	}
	ino->attr.ctime = fs_now();
	ino->meta_dirty = true;
	inode_unlock(ino);
	rc = fs_writeback(f, ino, false);
	inode_io_unlock(ino);
	return rc;
}
