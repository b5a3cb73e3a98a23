/*
 * fs_data.c - file data: open/create, read, write, truncate, and the
 * write-back that makes closed files durable.
 *
 * WHERE A CHUNK'S BYTES ARE. For chunk k of a regular file, in this order:
 *   1. ino->chunks[k] in RAM (dirty or clean);
 *   2. if the file is resident (hot), a missing chunk is a hole (zeros);
 *   3. else its warm extent ext[k], if any;
 *   4. else the cold extent, if k starts below cold.len;
 *   5. else a hole.
 * Steps 3 and 4 are the durable tiers' locate() (tier.h), asked in tier
 * order; this file does not name them.
 * Reads copy what is in RAM under ino->lock and decode everything else
 * after dropping it. Writes change RAM chunks only; a chunk that is partly
 * overwritten and not in RAM is first loaded from its durable place
 * (decoded outside the lock; installed only if nothing changed meanwhile).
 *
 * Write-back (making dirty chunks durable) is fs_wb.c.
 */
#include "fs_int.h"

#include "cold.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct fs_file {
	char *buf;              /* rendered virtual file */
	size_t len;
};

bool fs_chunk_durable(struct fs *f, const struct tfs_inode *ino, uint64_t k)
{
	struct tier_loc loc;

	for (int i = 0; i < TFS_NTIERS; i++)
		if (f->tiers[i].ops->locate &&
		    f->tiers[i].ops->locate(ino, k, TFS_CHUNK_SIZE, &loc))
			return true;
	return false;
}

int fs_load_extents(struct fs *f, struct tfs_inode *ino)
{
	struct meta_extent *ext = NULL;
	struct meta_cold cold;
	bool has_cold = false, loaded, shadow, stale;
	size_t n = 0;
	int rc;

again:
	inode_lock(ino);
	loaded = ino->ext_loaded;
	shadow = ino->replace_since != 0;
	inode_unlock(ino);
	if (loaded)
		return 0;
	/* A pending rewrite's content is its shadow extents (fs_replace.c);
	 * the cold copy, if any, is the old content's. */
	rc = meta_extent_list(f->meta, shadow ? META_SHADOW(ino->ino)
					      : ino->ino, &ext, &n);
	if (rc)
		return rc;
	rc = shadow ? -ENOENT : meta_cold_get(f->meta, ino->ino, &cold);
	if (rc == 0)
		has_cold = true;
	else if (rc != -ENOENT)
		goto out_free;
	rc = 0;

	inode_lock(ino);
	loaded = ino->ext_loaded;
	stale = !loaded && shadow != (ino->replace_since != 0);
	if (!loaded && !stale) {
		for (size_t i = 0; i < n && !rc; i++) {
			rc = inode_reserve_ext(ino, ext[i].chunk);
			if (rc)
				break;
			ino->ext[ext[i].chunk] = (struct ext_slot){
				.seg = ext[i].seg,
				.off = ext[i].off,
				.rec_len = ext[i].rec_len,
				.raw_len = ext[i].raw_len,
			};
		}
		if (!rc) {
			ino->has_cold = has_cold;
			if (has_cold)
				ino->cold = cold;
			ino->ext_loaded = true;
		}
	}
	inode_unlock(ino);
	if (!rc && stale) {
		free(ext);      /* published meanwhile: read it again */
		ext = NULL;
		n = 0;
		goto again;
	}
out_free:
	free(ext);
	return rc;
}

/* One attempt; *gen gets the extent generation the location came from.
 * The durable tiers are asked in tier order (tier.h): the first that holds
 * the chunk serves it; none is a hole. */
static int read_durable_once(struct fs *f, struct tfs_inode *ino, uint64_t k,
			     uint8_t *buf, uint32_t *len, uint64_t *gen)
{
	const struct tier *t = NULL;
	struct tier_loc loc;
	uint32_t span;
	int rc;

	inode_lock(ino);
	span = inode_chunk_span(ino->attr.size, k);
	for (int i = 0; i < TFS_NTIERS && !t; i++)
		if (f->tiers[i].ops->locate &&
		    f->tiers[i].ops->locate(ino, k, span, &loc))
			t = &f->tiers[i];
	*gen = ino->ext_gen + ino->reloc_gen;
	inode_unlock(ino);

	if (t) {
		rc = t->ops->read_chunk(t, &loc, ino->ino, k, buf);
		if (rc < 0)
			return rc;
		if ((uint32_t)rc < span)
			memset(buf + rc, 0, span - (uint32_t)rc);
	} else {
		memset(buf, 0, span);
	}
	*len = span;
	return 0;
}

/*
 * A location copied under the inode lock may be released (by a migration
 * or compaction that commits meanwhile) before it is read; both bump a
 * generation (ext_gen, reloc_gen) before releasing, so a failure with a
 * moved generation is retried at the new place, and only a failure at an
 * unchanged place is a real EIO.
 */
int fs_read_durable_chunk(struct fs *f, struct tfs_inode *ino, uint64_t k,
			  uint8_t *buf, uint32_t *len)
{
	uint64_t gen, now;
	int rc;

	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	for (int tries = 0;; tries++) {
		rc = read_durable_once(f, ino, k, buf, len, &gen);
		if (rc != -EIO || tries == 8)
			return rc;
		inode_lock(ino);
		now = ino->ext_gen + ino->reloc_gen;
		inode_unlock(ino);
		if (now == gen)
			return rc;
	}
}

/* ---- open / create / release ---- */

/* After a remount a file recorded hot comes back into RAM when it is first
 * used (the policy thread also reloads the hot set in the background):
 * fs_restore_hot decodes it without holding any of its locks. */
static void restore_hot(struct fs *f, struct tfs_inode *ino)
{
	fs_restore_hot(f, ino);
}

int fs_open(struct fs *f, struct tfs_inode *ino, int flags,
	    struct fs_file **fh, bool *direct)
{
	bool restore;
	int rc;

	*fh = NULL;
	*direct = false;
	if (fs_ctl_is_file(ino)) {
		struct fs_file *vf;

		if ((flags & O_ACCMODE) != O_RDONLY)
			return -EACCES;
		vf = calloc(1, sizeof(*vf));
		if (!vf)
			return -ENOMEM;
		rc = fs_ctl_snapshot(f, ino, &vf->buf, &vf->len);
		if (rc) {
			free(vf);
			return rc;
		}
		*fh = vf;
		*direct = true;
		return 0;
	}
	if (ino->kind != INODE_REAL)
		return -EISDIR;
	inode_lock(ino);
	if (S_ISDIR(ino->attr.mode))
		rc = -EISDIR;
	else if (!S_ISREG(ino->attr.mode))
		rc = -EINVAL;
	else
		rc = 0;
	/* After a remount a hot file comes back into RAM on first open. */
	restore = !ino->resident && ino->attr.tier == TFS_HOT;
	inode_unlock(ino);
	if (rc)
		return rc;
	fs_iopen(f, ino);
	if (flags & O_TRUNC) {
		inode_io_lock(ino);
		rc = fs_truncate(f, ino, 0);
		inode_io_unlock(ino);
		if (rc) {
			fs_iclose(f, ino);
			return rc;
		}
	}
	if (restore)
		restore_hot(f, ino);
	return 0;
}

int fs_create(struct fs *f, const struct fs_caller *c,
	      struct tfs_inode *parent, const char *name, mode_t mode,
	      int flags, struct tfs_inode **out, struct stat *st,
	      struct fs_file **fh)
{
	int rc = fs_ns_create_file(f, c, parent, name, mode, out, st);

	if (rc)
		return rc;
	*fh = NULL;
	fs_iopen(f, *out);
	return 0;
}

int fs_release(struct fs *f, struct tfs_inode *ino, struct fs_file *fh)
{
	bool dirty;
	int rc = 0;

	if (fh) {
		free(fh->buf);
		free(fh);
	}
	if (ino->kind != INODE_REAL)
		return 0;
	/* Pages dirtied through mmap may arrive after the last flush. */
	inode_lock(ino);
	dirty = ino->ndirty > 0 || ino->meta_dirty;
	inode_unlock(ino);
	if (dirty) {
		inode_io_lock(ino);
		rc = fs_writeback(f, ino, false);
		inode_io_unlock(ino);
	}
	fs_iclose(f, ino);
	return rc;
}

/* ---- read ---- */

/* Gap between a READ and the end of the one before it beyond which it is
 * no longer the same pass (the kernel's readahead windows arrive out of
 * order from several threads, but never this far apart). */
#define READ_PASS_GAP (8u << 20)
/* A READ after this long a pause starts a new pass. */
#define READ_PASS_IDLE_NS (1000 * 1000000LL)

/*
 * ACCESS ACCOUNTING. The kernel opens files without telling us (fuse_ops.c)
 * and serves cached pages itself, so what can be counted is the READs that
 * reach the daemon. One pass over a file (a sequential read, whatever the
 * size of its READs) is one access: a READ counts when it starts at offset
 * 0, lands far from where the previous READ ended, or comes after a pause.
 * A scan of the store therefore counts each file once, as an open did.
 */
bool fs_was_read(struct tfs_inode *ino)
{
	return atomic_load_explicit(&ino->read_next, memory_order_relaxed) != 0;
}

static enum fs_access read_access(struct tfs_inode *ino, uint64_t off,
				  uint64_t end)
{
	uint64_t prev = atomic_exchange_explicit(&ino->read_next, end,
						 memory_order_relaxed);
	tfs_ns last = atomic_load_explicit(&ino->last_access,
					   memory_order_relaxed);
	uint64_t gap = off > prev ? off - prev : prev - off;

	if (off == 0 || gap > READ_PASS_GAP ||
	    fs_now() - last > READ_PASS_IDLE_NS)
		return ACCESS_READ_START;
	return ACCESS_READ;
}


ssize_t fs_read(struct fs *f, struct tfs_inode *ino, struct fs_file *fh,
		void *buf, size_t size, off_t off)
{
	uint64_t pending[64];
	uint8_t *scratch = NULL;        /* for partial chunks, on demand */
	uint64_t t0 = stats_now_ns();
	uint64_t end, k, first, last, npend = 0;
	uint8_t *out = buf;
	int tier;
	ssize_t rc;

	if (fh) {
		if ((uint64_t)off >= fh->len)
			return 0;
		if (size > fh->len - (uint64_t)off)
			size = fh->len - (uint64_t)off;
		memcpy(buf, fh->buf + off, size);
		return (ssize_t)size;
	}
	if (fs_ctl_is_file(ino))        /* no open: zero-message open */
		return fs_ctl_read(f, ino, buf, size, off);
	if (ino->kind != INODE_REAL)
		return -EISDIR;
	if (off < 0)
		return -EINVAL;

	inode_lock(ino);
	if (!ino->resident && ino->attr.tier == TFS_HOT) {
		/* First use after a remount: serve it from RAM. */
		inode_unlock(ino);
		restore_hot(f, ino);
		inode_lock(ino);
	}
	tier = ino->resident ? TFS_HOT : ino->attr.tier;
	if ((uint64_t)off >= ino->attr.size || size == 0) {
		inode_unlock(ino);
		return 0;
	}
	end = (uint64_t)off + size;
	if (end > ino->attr.size)
		end = ino->attr.size;
	first = (uint64_t)off >> TFS_CHUNK_SHIFT;
	last = (end - 1) >> TFS_CHUNK_SHIFT;
	if (last - first >= 64) {
		last = first + 63;      /* short read; the kernel asks again */
		end = (last + 1) << TFS_CHUNK_SHIFT;
	}
	for (k = first; k <= last; k++) {
		uint64_t cs = k << TFS_CHUNK_SHIFT;
		uint64_t lo = cs > (uint64_t)off ? cs : (uint64_t)off;
		uint64_t hi = cs + TFS_CHUNK_SIZE < end ? cs + TFS_CHUNK_SIZE
							: end;
		struct hchunk *c = k < ino->nchunks_cap ? ino->chunks[k] : NULL;
		uint8_t *dst = out + (lo - (uint64_t)off);

		if (c) {
			uint64_t have = cs + c->len;

			if (have > lo)
				memcpy(dst, c->data + (lo - cs),
				       (have < hi ? have : hi) - lo);
			if (have < hi)
				memset(dst + (have > lo ? have - lo : 0), 0,
				       hi - (have > lo ? have : lo));
		} else if (ino->resident) {
			memset(dst, 0, hi - lo);
		} else {
			pending[npend++] = k;
		}
	}
	inode_unlock(ino);

	for (uint64_t i = 0; i < npend; i++) {
		uint64_t cs;
		uint64_t lo, hi;
		uint32_t len;
		uint8_t *tmp;

		k = pending[i];
		cs = k << TFS_CHUNK_SHIFT;
		lo = cs > (uint64_t)off ? cs : (uint64_t)off;
		hi = cs + TFS_CHUNK_SIZE < end ? cs + TFS_CHUNK_SIZE : end;
		/* A whole chunk decodes straight into the reply. */
		tmp = (lo == cs && hi - lo == TFS_CHUNK_SIZE)
			      ? out + (lo - (uint64_t)off)
			      : (scratch ? scratch
					 : (scratch = malloc(TFS_CHUNK_SIZE)));
		if (!tmp)
			return -ENOMEM;
		rc = fs_read_durable_chunk(f, ino, k, tmp, &len);
		if (rc < 0) {
			stats_add(&f->stats.errors[tier], 1);
			free(scratch);
			return rc;
		}
		if (tmp != out + (lo - (uint64_t)off)) {
			uint64_t have = cs + len;

			if (have > lo)
				memcpy(out + (lo - (uint64_t)off),
				       tmp + (lo - cs),
				       (have < hi ? have : hi) - lo);
			if (have < hi)
				memset(out + ((have > lo ? have : lo) -
					      (uint64_t)off),
				       0, hi - (have > lo ? have : lo));
		}
	}
	free(scratch);
	fs_touch(f, ino, read_access(ino, (uint64_t)off, end));
	stats_add(&f->stats.reads[tier], 1);
	stats_add(&f->stats.read_bytes[tier], end - (uint64_t)off);
	stats_add(npend ? &f->stats.misses[tier] : &f->stats.hits[tier], 1);
	stats_record_latency(&f->stats.lat[tier], stats_now_ns() - t0);
	return (ssize_t)(end - (uint64_t)off);
}

void fs_read_done(struct fs *f)
{
	cold_read_done(f->cold);
}

/* ---- write ---- */

/* Get chunk k ready for writing [coff, coff+clen). Called and returns
 * with ino->lock held; may drop it to load the chunk's durable bytes.
 * Returns the chunk, or NULL with *err set. */
static struct hchunk *chunk_for_write(struct fs *f, struct tfs_inode *ino,
				      uint64_t k, uint32_t coff,
				      uint32_t clen, int *err)
{
	struct hchunk *c;
	uint8_t *tmp;
	uint32_t len;
	uint64_t gen;

	for (;;) {
		*err = inode_reserve_chunks(ino, k);
		if (*err)
			return NULL;
		c = ino->chunks[k];
		if (c)
			return c;
		if (ino->resident || !ino->ext_loaded ||
		    !fs_chunk_durable(f, ino, k) ||
		    (coff == 0 && clen >= inode_chunk_span(ino->attr.size, k))) {
			if (!ino->resident && !ino->ext_loaded)
				goto load_ext;
			c = hot_chunk_new(&f->hot, coff + clen);
			if (!c) {
				*err = -ENOMEM;
				return NULL;
			}
			ino->chunks[k] = c;
			ino->ram_bytes += c->cap;
			return c;
		}
		/* Read-modify-write: load the durable bytes first. */
		gen = ino->ext_gen;
		inode_unlock(ino);
		tmp = malloc(TFS_CHUNK_SIZE);
		*err = tmp ? fs_read_durable_chunk(f, ino, k, tmp, &len)
			   : -ENOMEM;
		inode_lock(ino);
		if (*err || ino->chunks[k] || ino->ext_gen != gen) {
			free(tmp);
			if (*err)
				return NULL;
			continue;       /* somebody else got there: redo */
		}
		c = hot_chunk_new(&f->hot, len > coff + clen ? len
							     : coff + clen);
		if (!c) {
			free(tmp);
			*err = -ENOMEM;
			return NULL;
		}
		memcpy(c->data, tmp, len);
		free(tmp);
		c->len = len;
		ino->chunks[k] = c;
		ino->ram_bytes += c->cap;
		return c;
load_ext:
		inode_unlock(ino);
		*err = fs_load_extents(f, ino);
		inode_lock(ino);
		if (*err)
			return NULL;
	}
}

ssize_t fs_write(struct fs *f, struct tfs_inode *ino, struct fs_file *fh,
		 const void *buf, size_t size, off_t off)
{
	const uint8_t *in = buf;
	uint64_t end, pos;
	bool over;
	int rc = 0;

	if (ino->kind != INODE_REAL || fh)
		return -EACCES;
	if (off < 0)
		return -EINVAL;
	if (size == 0)
		return 0;
	end = (uint64_t)off + size;
	if (end > INODE_MAX_FILE_SIZE || end < (uint64_t)off)
		return -EFBIG;

	inode_lock(ino);
	for (pos = (uint64_t)off; pos < end;) {
		uint64_t k = pos >> TFS_CHUNK_SHIFT;
		uint32_t coff = (uint32_t)(pos & (TFS_CHUNK_SIZE - 1));
		uint32_t clen = TFS_CHUNK_SIZE - coff;
		struct hchunk *c;
		uint32_t oldcap;

		if (clen > end - pos)
			clen = (uint32_t)(end - pos);
		c = chunk_for_write(f, ino, k, coff, clen, &rc);
		if (!c)
			break;
		oldcap = c->cap;
		rc = hot_chunk_grow(&f->hot, c, coff + clen);
		if (rc)
			break;
		ino->ram_bytes += c->cap - oldcap;
		if (c->len < coff)
			memset(c->data + c->len, 0, coff - c->len);
		memcpy(c->data + coff, in + (pos - (uint64_t)off), clen);
		if (c->len < coff + clen)
			c->len = coff + clen;
		if (!c->dirty) {
			c->dirty = true;
			ino->ndirty++;
		}
		if (k < ino->dirty_lo)
			ino->dirty_lo = k;
		c->gen++;
		pos += clen;
		if (pos > ino->attr.size)
			ino->attr.size = pos;
	}
	if (pos > (uint64_t)off) {
		ino->attr.mtime = ino->attr.ctime = fs_now();
		if (ino->replace_since)
			ino->replace_last = ino->attr.mtime;
		ino->data_version++;
		ino->meta_dirty = true;
	}
	inode_unlock(ino);
	if (pos == (uint64_t)off)
		return rc;

	/* Durable before the reply: nothing else tells us of a close. */
	inode_io_lock(ino);
	rc = fs_writeback(f, ino, false);
	inode_io_unlock(ino);
	if (rc)
		return rc;
	stats_add(&f->stats.writes, 1);
	stats_add(&f->stats.write_bytes, pos - (uint64_t)off);
	fs_touch(f, ino, ACCESS_WRITE);
	over = hot_over(&f->hot) > 0;
	if (over)
		fs_hot_enforce(f, ino);
	return (ssize_t)(pos - (uint64_t)off);
}

void fs_write_after_reply(struct fs *f)
{
	hot_prefill(&f->hot);
}

/* ---- truncate ---- */

/* A truncation to 0 of a file with content starts a rewrite that is
 * published whole (fs_replace.c, REPLACING A FILE). */
int fs_truncate(struct fs *f, struct tfs_inode *ino, uint64_t size)
{
	uint64_t first, b, k;
	uint32_t boff;
	uint64_t trunc_before;
	bool queue = false, again;
	int rc;

	if (size > INODE_MAX_FILE_SIZE)
		return -EFBIG;
	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	again = size == 0 && ino->replace_since && ino->attr.size > 0;
	inode_unlock(ino);
	/* O_TRUNC again: the previous rewrite was closed, publish it. */
	if (again) {
		rc = fs_replace_publish(f, ino);
		if (rc)
			return rc;
	}
	inode_lock(ino);
	trunc_before = ino->trunc_from;
	if (size < ino->attr.size) {
		first = inode_nchunks(size);
		for (k = first; k < ino->nchunks_cap; k++)
			fs_chunk_drop(f, ino, k);
		for (k = first; k < ino->next; k++)
			ino->ext[k] = (struct ext_slot){ 0 };
		if (ino->has_cold && ino->cold.len > size)
			ino->cold.len = size;
		if (first < ino->trunc_from)
			ino->trunc_from = first;
		/* The chunk the new end falls in must lose its tail. */
		b = size >> TFS_CHUNK_SHIFT;
		boff = (uint32_t)(size & (TFS_CHUNK_SIZE - 1));
		if (boff) {
			struct hchunk *c = chunk_for_write(f, ino, b, 0, 0, &rc);

			if (!c) {
				inode_unlock(ino);
				return rc;
			}
			if (c->len > boff)
				c->len = boff;
			if (!c->dirty) {
				c->dirty = true;
				ino->ndirty++;
			}
			if (b < ino->dirty_lo)
				ino->dirty_lo = b;
			c->gen++;
		}
		ino->ext_gen++;
	}
	ino->attr.mtime = ino->attr.ctime = fs_now();
	if (size == 0 && ino->attr.size > 0 && !ino->replace_since) {
		ino->replace_since = ino->attr.mtime;
		ino->replace_size = ino->attr.size;
		queue = !ino->replace_queued;
		ino->replace_queued = true;
		/* No shadow exists yet and the old extents stay: nothing to
		 * commit for this truncation. */
		ino->trunc_from = trunc_before;
	}
	if (ino->replace_since)
		ino->replace_last = ino->attr.mtime;
	ino->attr.size = size;
	ino->data_version++;
	ino->meta_dirty = true;
	inode_unlock(ino);
	if (queue && fs_replace_queue(f, ino)) {
		/* Cannot track it: the truncation is committed alone now. */
		inode_lock(ino);
		ino->replace_since = 0;
		ino->replace_queued = false;
		ino->trunc_from = 0;
		inode_unlock(ino);
	}
	/* A pending rewrite's write-back commits shadows only (fs_wb.c). */
	return fs_writeback(f, ino, false);
}
