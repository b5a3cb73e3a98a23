/*
 * seg_append.c - appending records to the active segment (seg.h
 * segstore_append, segstore_append_batch; the layout is seg.c's DESIGN).
 *
 * A batch is cut into groups of at most SEG_GROUP records (and
 * SEG_GROUP_BUFS compressed ones, whose payloads need a pooled buffer
 * each). A group is framed outside any lock: per record a header (CRC32C
 * of the raw bytes), the payload - the LZ4 block in a pooled buffer, or,
 * when LZ4 cannot shrink it, the caller's raw bytes themselves - and up to
 * 7 zero bytes of padding, as iovecs. Under append_lock the group is
 * written with one pwritev(2) per segment it lands in (a record that
 * would pass seg_max starts a new segment); the segment's readable length
 * moves after each write. So a full 64 KiB chunk of incompressible data
 * costs one copy (into the segment's page cache) instead of two, and a
 * 1 MiB WRITE one system call instead of sixteen.
 *
 * What it is not: a durability point. Appended records are in the page
 * cache; segstore_sync() makes them durable, and only the caller's commit
 * of their extents (and the segment's length) makes them live.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "codec.h"
#include "log.h"
#include "seg_int.h"

/* Records framed and written together; each needs up to 3 iovecs. */
#define SEG_GROUP 64
/* Compressed records per group (each holds a pooled buffer meanwhile). */
#define SEG_GROUP_BUFS 8
/* Bytes LZ4 tries first on a large chunk. */
#define SEG_PROBE 8192

static const uint8_t seg_zeros[8];

struct seg_buf *seg_buf_get(struct segstore *s)
{
	struct seg_buf *b;

	pthread_mutex_lock(&s->pool_lock);
	b = s->pool;
	if (b != NULL)
		s->pool = b->next;
	pthread_mutex_unlock(&s->pool_lock);
	if (b == NULL)
		b = malloc(sizeof(*b));
	return b;
}

void seg_buf_put(struct segstore *s, struct seg_buf *b)
{
	pthread_mutex_lock(&s->pool_lock);
	b->next = s->pool;
	s->pool = b;
	pthread_mutex_unlock(&s->pool_lock);
}

/* One framed record of a group. */
struct seg_rec {
	struct seg_rhdr h;
	const void *payload;    /* the raw bytes, or b->data */
	struct seg_buf *b;      /* NULL for a raw record */
	uint32_t rec_len;
};

/* LZ4 block of raw into b (NULL return: store it raw). Only a strictly
 * smaller block is worth decoding later. A large chunk whose first 8 KiB
 * LZ4 cannot shrink by 2% (random bytes, float vectors) is stored raw
 * without compressing the rest: on such data LZ4 would run to the end
 * only to give up. */
static int seg_compress(const void *raw, uint32_t raw_len, uint8_t *out)
{
	if (raw_len >= 4 * SEG_PROBE) {
		if (codec_lz4.compress(raw, SEG_PROBE, out,
				       SEG_PROBE - SEG_PROBE / 50) <= 0)
			return -1;
		return codec_lz4.compress(raw, raw_len, out, raw_len - 1);
	}
	if (raw_len > 1)
		return codec_lz4.compress(raw, raw_len, out, raw_len - 1);
	return -1;
}

/* Frame items[0..n) of ino into recs; returns how many were framed
 * (fewer when the buffers of a group ran out), or -ENOMEM. */
static int seg_frame(struct segstore *s, uint64_t ino,
		     const struct seg_item *items, size_t n,
		     struct seg_rec *recs)
{
	struct seg_buf *spare = NULL;
	size_t i, nbufs = 0;

	for (i = 0; i < n && i < SEG_GROUP; i++) {
		const struct seg_item *it = &items[i];
		struct seg_rec *r = &recs[i];
		int c = -1;

		if (nbufs == SEG_GROUP_BUFS && it->raw_len > 1)
			break;          /* it might need one: next group */
		r->h = (struct seg_rhdr){
			.magic = SEG_RMAGIC, .version = SEG_RVERSION,
			.ino = ino, .chunk = it->chunk, .raw_len = it->raw_len,
		};
		r->b = NULL;
		if (it->raw_len > 1) {
			if (spare == NULL && (spare = seg_buf_get(s)) == NULL)
				break;
			c = seg_compress(it->raw, it->raw_len, spare->data);
		}
		if (c > 0) {
			r->b = spare;
			spare = NULL;
			nbufs++;
			r->payload = r->b->data;
			r->h.stored_len = (uint32_t)c;
		} else {
			r->payload = it->raw;
			r->h.stored_len = it->raw_len;
			r->h.flags = SEG_RAW;
		}
		r->h.data_crc = codec_crc32c(0, it->raw, it->raw_len);
		r->h.hdr_crc = seg_rhdr_crc(&r->h);
		r->rec_len = (uint32_t)SEG_ALIGN8(SEG_RHDR + r->h.stored_len);
	}
	if (spare != NULL)
		seg_buf_put(s, spare);
	return i == 0 && n > 0 ? -ENOMEM : (int)i;
}

/* Write recs[0..n) at off of f as one gathered write; cut back on a
 * failure. Caller holds append_lock. */
static int seg_write_run(struct segstore *s, struct seg_file *f,
			 struct seg_rec *recs, size_t n, uint64_t off)
{
	struct iovec iov[3 * SEG_GROUP];
	int niov = 0, r, e;

	for (size_t i = 0; i < n; i++) {
		uint32_t pad = recs[i].rec_len - SEG_RHDR -
			       recs[i].h.stored_len;

		iov[niov++] = (struct iovec){ &recs[i].h, SEG_RHDR };
		if (recs[i].h.stored_len)
			iov[niov++] = (struct iovec){
				(void *)recs[i].payload, recs[i].h.stored_len,
			};
		if (pad)
			iov[niov++] = (struct iovec){ (void *)seg_zeros, pad };
	}
	r = s->bs->ops->wr_pwritev(f->wr, iov, niov, off);
	if (r == 0)
		return 0;
	tfs_err("warm: write to segment %08" PRIx64 " at %" PRIu64 ": %s",
		f->id, off, strerror(-r));
	e = s->bs->ops->wr_truncate(f->wr, off);
	if (e < 0)
		tfs_err("warm: cut segment %08" PRIx64 " back to %" PRIu64
			": %s", f->id, off, strerror(-e));
	return seg_space_errno(r);
}

/* Append the framed group: one write per segment it lands in. */
static int seg_write_group(struct segstore *s, struct seg_rec *recs,
			   struct seg_item *items, size_t n)
{
	struct seg_file *f;
	uint64_t tail, off;
	size_t first = 0;
	int r = 0;

	pthread_mutex_lock(&s->append_lock);
	while (first < n) {
		size_t end = first;

		f = s->active;
		tail = f ? atomic_load_explicit(&f->len, memory_order_relaxed)
			 : 0;
		if (f == NULL || (tail > SEG_FHDR &&
				  tail + recs[first].rec_len > s->seg_max)) {
			r = seg_roll(s, &f);
			if (r < 0)
				break;
			tail = SEG_FHDR;
		}
		/* The records that fit (at least one: a fresh segment takes
		 * any record). */
		off = tail;
		do {
			off += recs[end++].rec_len;
		} while (end < n && off + recs[end].rec_len <= s->seg_max);
		r = seg_write_run(s, f, recs + first, end - first, tail);
		if (r < 0)
			break;
		for (off = tail; first < end; first++) {
			items[first].loc = (struct seg_loc){
				.seg = f->id, .off = off,
				.rec_len = recs[first].rec_len,
				.raw_len = recs[first].h.raw_len,
			};
			off += recs[first].rec_len;
		}
		atomic_store_explicit(&f->len, off, memory_order_release);
		atomic_store_explicit(&f->dirty, true, memory_order_relaxed);
	}
	pthread_mutex_unlock(&s->append_lock);
	for (size_t i = 0; i < first; i++) {
		atomic_fetch_add(&s->n_appends, 1);
		atomic_fetch_add(&s->n_raw, recs[i].h.flags & SEG_RAW);
		atomic_fetch_add(&s->n_bytes_in, recs[i].h.raw_len);
		atomic_fetch_add(&s->n_bytes_out, recs[i].rec_len);
	}
	return r;
}

int segstore_append_batch(struct segstore *s, uint64_t ino,
			  struct seg_item *items, size_t n)
{
	struct seg_rec recs[SEG_GROUP];
	uint64_t need = 0;
	size_t done = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		if (items[i].raw_len > TFS_CHUNK_SIZE ||
		    (items[i].raw == NULL && items[i].raw_len > 0))
			return -EINVAL;
		need += SEG_RHDR + items[i].raw_len;
	}
	r = seg_check_space(s, SEG_FHDR + need);
	while (r == 0 && done < n) {
		int m = seg_frame(s, ino, items + done, n - done, recs);

		if (m < 0)
			return m;
		r = seg_write_group(s, recs, items + done, (size_t)m);
		for (int i = 0; i < m; i++)
			if (recs[i].b != NULL)
				seg_buf_put(s, recs[i].b);
		done += (size_t)m;
	}
	return r;
}

int segstore_append(struct segstore *s, uint64_t ino, uint64_t chunk,
		    const void *raw, uint32_t raw_len, struct seg_loc *loc)
{
	struct seg_item it = { .chunk = chunk, .raw = raw, .raw_len = raw_len };
	int r = segstore_append_batch(s, ino, &it, 1);

	if (r == 0)
		*loc = it.loc;
	return r;
}
