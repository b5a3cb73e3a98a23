/*
 * seg_read.c - the warm tier's read path: range-read a record from its
 * segment object into a pooled buffer, validate it (bounds, header CRC,
 * owner, lengths), decode it and check the data CRC. See seg.c's DESIGN
 * ("Reads") for why a reader needs no lock beyond the table lookup in
 * seg_get(), and why nothing is mapped.
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

/* Bytes [off, off+n) of segment f into dst; -EIO (logged) if the object
 * cannot deliver them (a segment shorter than committed, an I/O error). */
static int seg_fetch(struct segstore *s, struct blob *obj,
		     const struct seg_loc *loc, void *dst, size_t n,
		     uint64_t off)
{
	int r = obj ? blob_read(s->bs, obj, dst, n, off) : -EBADF;

	if (r < 0) {
		tfs_err("warm: segment %08" PRIx64 " offset %" PRIu64
			": read: %s", loc->seg, loc->off, strerror(-r));
		atomic_fetch_add(&s->n_crc_errors, 1);
		return -EIO;
	}
	return 0;
}

int segstore_read(struct segstore *s, const struct seg_loc *loc,
		  uint64_t ino, uint64_t chunk, void *dst)
{
	const uint8_t *payload;
	const struct codec *codec;
	struct seg_rhdr h;
	struct seg_file *f;
	struct seg_buf *b = NULL;
	struct blob *obj = NULL;
	bool own = false;
	uint64_t len, off = loc->off, rec_len, got;
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
	b = seg_buf_get(s);
	if (b == NULL) {
		r = -ENOMEM;
		goto out_put;
	}
	obj = seg_handle(s, f, &own);
	/* One range read of the whole record when its length is known (and
	 * plausible); else the header first. */
	got = SEG_RHDR;
	if (loc->rec_len >= SEG_RHDR && loc->rec_len <= SEG_REC_MAX &&
	    loc->rec_len <= len - off)
		got = loc->rec_len;
	r = seg_fetch(s, obj, loc, b->data, (size_t)got, off);
	if (r < 0)
		goto out_put;
	memcpy(&h, b->data, sizeof(h));
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
	    rec_len > len - off || rec_len > SEG_REC_MAX ||
	    (loc->rec_len != 0 && loc->rec_len != rec_len)) {
		r = seg_bad(s, loc, "bad record lengths");
		goto out_put;
	}
	if (got < SEG_RHDR + h.stored_len) {
		r = seg_fetch(s, obj, loc, b->data + got,
			      SEG_RHDR + h.stored_len - (size_t)got,
			      off + got);
		if (r < 0)
			goto out_put;
	}
	payload = b->data + SEG_RHDR;
	codec = codec_by_id((h.flags & SEG_RAW) ? CODEC_RAW : CODEC_LZ4);
	if (codec->decompress(payload, h.stored_len, dst, h.raw_len) !=
	    (int)h.raw_len) {
		r = seg_bad(s, loc, (h.flags & SEG_RAW) ?
			    "raw record does not match its lengths" :
			    "LZ4 block does not decode");
		goto out_put;
	}
	if (codec_crc32c(0, dst, h.raw_len) != h.data_crc) {
		r = seg_bad(s, loc, "data checksum mismatch");
		goto out_put;
	}
	atomic_fetch_add(&s->n_reads, 1);
	r = (int)h.raw_len;
out_put:
	if (own)
		blob_close(s->bs, &obj);
	if (b != NULL)
		seg_buf_put(s, b);
	seg_put(f);
	return r;
}
