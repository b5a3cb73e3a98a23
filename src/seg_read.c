/*
 * seg_read.c - the warm tier's read path: find a record through the
 * segment's mapping, validate it (bounds, header CRC, owner, lengths),
 * decode it and check the data CRC. See seg.c's DESIGN ("Reads") for why a
 * reader needs no lock beyond the table lookup in seg_get().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "seg_int.h"

/* Log a record that does not verify and count it: -EIO. */
static int seg_bad(struct segstore *s, const struct seg_loc *loc,
		   const char *what)
{
	tfs_err("warm: segment %08" PRIx64 " offset %" PRIu64 ": %s",
		loc->seg, loc->off, what);
	atomic_fetch_add(&s->n_crc_errors, 1);
	return -EIO;
}

int segstore_read(struct segstore *s, const struct seg_loc *loc,
		  uint64_t ino, uint64_t chunk, void *dst)
{
	const uint8_t *payload;
	struct seg_rhdr h;
	struct seg_file *f;
	uint64_t len, off = loc->off, rec_len;
	int r;

	f = seg_get(s, loc->seg);
	if (f == NULL)
		return seg_bad(s, loc, "no such segment");
	len = atomic_load_explicit(&f->len, memory_order_acquire);
	if (off < SEG_FHDR || (off & 7u) != 0 || len < SEG_RHDR ||
	    off > len - SEG_RHDR) {
		r = seg_bad(s, loc, "offset outside the segment");
		goto out_put;
	}
	memcpy(&h, f->map + off, sizeof(h));
	if (h.magic != SEG_RMAGIC || h.version != SEG_RVERSION ||
	    (h.flags & ~SEG_RAW) != 0 || h.hdr_crc != seg_rhdr_crc(&h)) {
		r = seg_bad(s, loc, "bad record header");
		goto out_put;
	}
	if (h.ino != ino || h.chunk != chunk) {
		r = seg_bad(s, loc, "record belongs to another chunk");
		goto out_put;
	}
	rec_len = SEG_ALIGN8((uint64_t)SEG_RHDR + h.stored_len);
	if (h.raw_len > TFS_CHUNK_SIZE || h.raw_len != loc->raw_len ||
	    ((h.flags & SEG_RAW) ? h.stored_len != h.raw_len :
	     (h.stored_len == 0 ||
	      h.stored_len > codec_lz4.bound(h.raw_len))) ||
	    rec_len > len - off ||
	    (loc->rec_len != 0 && loc->rec_len != rec_len)) {
		r = seg_bad(s, loc, "bad record lengths");
		goto out_put;
	}
	payload = f->map + off + SEG_RHDR;
	if (h.flags & SEG_RAW) {
		if (h.raw_len > 0)
			memcpy(dst, payload, h.raw_len);
	} else if (codec_lz4.decompress(payload, h.stored_len, dst,
					h.raw_len) != (int)h.raw_len) {
		r = seg_bad(s, loc, "LZ4 block does not decode");
		goto out_put;
	}
	if (codec_crc32c(0, dst, h.raw_len) != h.data_crc) {
		r = seg_bad(s, loc, "data checksum mismatch");
		goto out_put;
	}
	atomic_fetch_add(&s->n_reads, 1);
	r = (int)h.raw_len;
out_put:
	seg_put(f);
	return r;
}
