/*
 * xzarc_read.c - the reader half of xzarc.h: open an archive, decode its
 * index once, and serve xzarc_pread() one block at a time through a
 * blkcache. The writer and the on-disk format are in xzarc.c.
 *
 * DESIGN
 *
 * Reader. Open checks header and footer flags agree, decodes the index
 * (bounded by a memlimit) and verifies that the stream it describes is
 * exactly the file, then flattens it into a sorted array of non-empty
 * blocks; the lzma_index is freed. A read binary-searches that array and
 * decodes each covering block with pread + lzma_block_header_decode + the
 * thread's block decoder (below), the block's check verified. A block
 * made only of LZMA2 uncompressed chunks is copied out directly and its
 * CRC checked; any surprise on that path falls back to the real decoder,
 * which has the last word. The struct is immutable after open; pread(2)
 * needs no lock.
 *
 * Stored blocks in place. The writer cuts incompressible data into 64 KiB
 * blocks of one stored chunk each, whose bytes lie contiguously in the
 * block between the chunk header and the end marker; their CRC is checked
 * by carry-less multiplication (xzarc_crc.c). On a local store such a
 * block is not cached at all (xzarc_uncached): every read preads it into
 * a scratch buffer, checks it and copies out what was asked, and
 * read-ahead skips it; the kernel's page cache of the archive is its
 * cache. A sequential read of 128 MiB of stored blocks took 0.38-0.43 s
 * of daemon CPU with them cached (fresh buffers faulted in while the
 * cache filled, copies through cache-cold buffers), 0.12-0.14 s without.
 * On a remote store (one that reads runs of blocks) they are cached, the
 * read buffer itself becoming the cache entry (blkcache_insert_in).
 *
 * One decoder per thread. lzma_block_buffer_decode made and freed a whole
 * LZMA2 decoder per block: ~33 KiB of state and a dictionary as large as
 * the block, malloc'd and freed each time, so with the daemon's single
 * malloc arena they landed at other addresses and the heap's top shrank
 * and grew (brk) every few misses. Each thread that decodes keeps one
 * lzma_stream instead (a pthread key, ended when the thread exits) and
 * re-initialises it for every block with lzma_block_decoder, which
 * liblzma does in place: the same state memory, and the same dictionary
 * while its size stays (blocks larger than XZARC_DEC_KEEP get a decoder
 * of their own, ended after the block, so that idle threads do not hold
 * big dictionaries). The block's check is not left to liblzma: it decodes
 * with LZMA_CHECK_NONE (still verifying sizes and padding) and the check
 * is compared here, CRC32 by carry-less multiplication (xzarc_crc.c)
 * instead of liblzma's table-driven CRC (3 % of a miss's time). Cold
 * misses on 128 KiB text blocks, archive in the page cache, against
 * python's decode of the same blocks, alternated runs at load 4-4.7:
 * 1.25-1.36x before, 1.13-1.21x with this and the warm block buffers
 * (blkcache.c).
 */
#include "xzarc.h"

#include "blob.h"

#include "blkcache.h"
#include "log.h"
#include "xzarc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <lzma.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Memory the decoded lzma_index may take at open. */
#define XZARC_INDEX_MEMLIMIT ((uint64_t)256 << 20)

struct xzarc_blk {
	uint64_t file_off;      /* of the block header */
	uint64_t uoff;          /* uncompressed offset in the stream */
	uint64_t unpadded;      /* header + compressed data + check */
	uint64_t usize;         /* uncompressed bytes, > 0 */
};

struct xzarc {
	struct blob_store *bs;
	struct blob *obj;
	uint64_t file_size;     /* of the .xz object */
	uint64_t id;
	lzma_check check;
	uint64_t size;          /* uncompressed */
	uint64_t nblocks;
	struct xzarc_blk *blk;  /* sorted by uoff, contiguous */
};

/* Exactly len bytes at off of the archive object; -EIO if truncated. */
static int pread_full(const struct xzarc *a, void *buf, size_t len,
		      uint64_t off)
{
	return blob_read(a->bs, a->obj, buf, len, off);
}

static int xzarc_load_index(struct xzarc *a, const char *path,
			    uint64_t fsize)
{
	uint8_t hbuf[LZMA_STREAM_HEADER_SIZE], fbuf[LZMA_STREAM_HEADER_SIZE];
	lzma_stream_flags hf, ff;
	uint64_t memlimit = XZARC_INDEX_MEMLIMIT, n = 0;
	lzma_index *idx = NULL;
	lzma_index_iter it;
	uint8_t *ibuf = NULL;
	size_t ipos = 0;
	const char *why;
	int err;

	why = "too short";
	if (fsize < 2 * LZMA_STREAM_HEADER_SIZE + 8 || fsize % 4 != 0)
		goto out_eio;
	err = pread_full(a, hbuf, sizeof(hbuf), 0);
	if (!err)
		err = pread_full(a, fbuf, sizeof(fbuf),
				 fsize - LZMA_STREAM_HEADER_SIZE);
	if (err && err != -EIO)
		return err;
	why = "unreadable stream header or footer";
	if (err || lzma_stream_header_decode(&hf, hbuf) != LZMA_OK ||
	    lzma_stream_footer_decode(&ff, fbuf) != LZMA_OK)
		goto out_eio;
	why = "stream header and footer disagree";
	if (lzma_stream_flags_compare(&hf, &ff) != LZMA_OK)
		goto out_eio;
	why = "unsupported integrity check";
	if (lzma_check_size(hf.check) == 0 || !lzma_check_is_supported(hf.check))
		goto out_eio;
	a->check = hf.check;
	why = "bad index size";
	if (ff.backward_size > fsize - 2 * LZMA_STREAM_HEADER_SIZE)
		goto out_eio;
	ibuf = malloc((size_t)ff.backward_size);
	if (!ibuf)
		return -ENOMEM;
	err = pread_full(a, ibuf, (size_t)ff.backward_size,
			 fsize - LZMA_STREAM_HEADER_SIZE - ff.backward_size);
	if (err && err != -EIO)
		goto out_free;
	why = "corrupt index";
	if (err || lzma_index_buffer_decode(&idx, &memlimit, NULL, ibuf, &ipos,
					    (size_t)ff.backward_size)
			!= LZMA_OK || ipos != ff.backward_size)
		goto out_eio;
	why = "index does not describe this file";
	if (lzma_index_stream_flags(idx, &ff) != LZMA_OK ||
	    lzma_index_stream_size(idx) != fsize)
		goto out_eio;

	a->size = lzma_index_uncompressed_size(idx);
	a->blk = calloc((size_t)lzma_index_block_count(idx) + 1,
			sizeof(*a->blk));
	if (!a->blk) {
		err = -ENOMEM;
		goto out_free;
	}
	why = "block too large";
	lzma_index_iter_init(&it, idx);
	while (!lzma_index_iter_next(&it, LZMA_INDEX_ITER_NONEMPTY_BLOCK)) {
		struct xzarc_blk *b = &a->blk[n];

		if (it.block.uncompressed_size > XZARC_MAX_BLOCK ||
		    it.block.total_size > 2 * XZARC_MAX_BLOCK)
			goto out_eio;
		b->file_off = it.block.compressed_file_offset;
		b->uoff = it.block.uncompressed_file_offset;
		b->unpadded = it.block.unpadded_size;
		b->usize = it.block.uncompressed_size;
		n++;
	}
	a->nblocks = n;
	err = 0;
	goto out_free;

out_eio:
	tfs_err("xzarc %" PRIu64 " (%s): %s", a->id, path, why);
	err = -EIO;
out_free:
	lzma_index_end(idx, NULL);
	free(ibuf);
	return err;
}

int xzarc_open(struct xzarc **out, struct blob_store *bs, const char *path,
	       uint64_t id)
{
	struct xzarc *a;
	int err;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->id = id;
	a->bs = bs;
	err = blob_open(bs, path, &a->obj, &a->file_size);
	if (err)
		goto out_free;
	err = xzarc_load_index(a, path, a->file_size);
	if (err)
		goto out_free;
	*out = a;
	return 0;

out_free:
	xzarc_close(&a);
	return err;
}

void xzarc_close(struct xzarc **ap)
{
	struct xzarc *a = ap ? *ap : NULL;

	if (!a)
		return;
	blob_close(a->bs, &a->obj);
	free(a->blk);
	free(a);
	*ap = NULL;
}

uint64_t xzarc_file_size(const struct xzarc *a)
{
	return a->file_size;
}

uint64_t xzarc_size(const struct xzarc *a)
{
	return a->size;
}

uint64_t xzarc_nblocks(const struct xzarc *a)
{
	return a->nblocks;
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

/*
 * Copy out a block made only of LZMA2 uncompressed chunks (what
 * lzma_block_uncomp_encode writes), verifying padding and check. Returns
 * true if it did and everything checked; false sends the caller to the real
 * decoder (mixed chunks, or anything odd, including corruption).
 */
static bool xzarc_copy_stored(const lzma_block *b, const uint8_t *buf,
			      size_t total, uint8_t *out, size_t usize)
{
	const uint8_t *d = buf + b->header_size;
	size_t csize = (size_t)b->compressed_size, p = 0, o = 0, end, i;
	unsigned csz = lzma_check_size(b->check);

	if (b->filters[0].id != LZMA_FILTER_LZMA2 ||
	    b->filters[1].id != LZMA_VLI_UNKNOWN ||
	    (b->check != LZMA_CHECK_CRC32 && b->check != LZMA_CHECK_CRC64))
		return false;
	for (;;) {
		size_t n;

		if (p >= csize)
			return false;
		if (d[p] == 0x00) {
			p++;
			break;
		}
		/* 1 = stored, dictionary reset (required first); 2 = stored */
		if (d[p] != 0x01 && (d[p] != 0x02 || o == 0))
			return false;
		if (csize - p < 3)
			return false;
		n = ((size_t)d[p + 1] << 8 | d[p + 2]) + 1;
		if (csize - p - 3 < n || usize - o < n)
			return false;
		memcpy(out + o, d + p + 3, n);
		o += n;
		p += 3 + n;
	}
	if (p != csize || o != usize)
		return false;
	end = b->header_size + csize;
	for (i = end; i % 4 != 0; i++)
		if (i >= total || buf[i] != 0)
			return false;
	if (i + csz != total)
		return false;
	if (b->check == LZMA_CHECK_CRC32)
		return xzarc_crc32(out, usize, 0) == get_le(buf + i, 4);
	return lzma_crc64(out, usize, 0) == get_le(buf + i, 8);
}

/*
 * A block of exactly one LZMA2 stored chunk (what the writer makes of
 * incompressible data: blocks of 64 KiB, one chunk each) holds its bytes
 * contiguously right after the chunk's 3-byte header. If buf is such a
 * block, with zero padding and a check that verifies, return where its
 * bytes start in buf (they are used there, not copied); else 0.
 */
static size_t xzarc_stored_in_place(const lzma_block *b, const uint8_t *buf,
				    size_t total, size_t usize)
{
	const uint8_t *d = buf + b->header_size;
	size_t csize = (size_t)b->compressed_size, i;
	unsigned csz = lzma_check_size(b->check);

	if (b->filters[0].id != LZMA_FILTER_LZMA2 ||
	    b->filters[1].id != LZMA_VLI_UNKNOWN ||
	    (b->check != LZMA_CHECK_CRC32 && b->check != LZMA_CHECK_CRC64) ||
	    usize == 0 || usize > 65536 || csize != usize + 4 ||
	    d[0] != 0x01 || ((size_t)d[1] << 8 | d[2]) + 1 != usize ||
	    d[3 + usize] != 0x00)
		return 0;
	for (i = b->header_size + csize; i % 4 != 0; i++)
		if (i >= total || buf[i] != 0)
			return 0;
	if (i + csz != total)
		return 0;
	if (b->check == LZMA_CHECK_CRC32 ?
	    xzarc_crc32(d + 3, usize, 0) != get_le(buf + i, 4) :
	    lzma_crc64(d + 3, usize, 0) != get_le(buf + i, 8))
		return 0;
	return b->header_size + 3;
}

/* Largest block whose decoder (and dictionary) a thread keeps. */
#define XZARC_DEC_KEEP ((size_t)1 << 20)

/* The thread's decoder (see DESIGN). The key is made once per process
 * and is not state: each thread's stream is its own. */
static pthread_key_t dec_key;
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;
static bool dec_key_ok;         /* written once, under dec_once */

static void dec_free(void *p)
{
	lzma_end(p);
	free(p);
}

static void dec_make_key(void)
{
	dec_key_ok = pthread_key_create(&dec_key, dec_free) == 0;
}

/* This thread's stream, made on first use; NULL if it cannot be. */
static lzma_stream *dec_of_thread(void)
{
	lzma_stream *s;

	(void)pthread_once(&dec_once, dec_make_key);
	if (!dec_key_ok)
		return NULL;
	s = pthread_getspecific(dec_key);
	if (!s) {
		s = malloc(sizeof(*s));
		if (!s)
			return NULL;
		*s = (lzma_stream)LZMA_STREAM_INIT;
		if (pthread_setspecific(dec_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	return s;
}

/* Decode block b (its header already decoded, sizes known) from
 * in[*in_pos, in_size) into out[0, out_size), as lzma_block_buffer_decode
 * does, on the thread's decoder; *in_pos gets where the block (with the
 * check b->check says it has) ended. LZMA_OK only when the block ended
 * filling out exactly. */
static lzma_ret xzarc_block_decode(lzma_block *b, const uint8_t *in,
				   size_t *in_pos, size_t in_size,
				   uint8_t *out, size_t out_size)
{
	lzma_stream own = LZMA_STREAM_INIT, *s = NULL;
	lzma_ret r;

	if (out_size <= XZARC_DEC_KEEP)
		s = dec_of_thread();
	if (!s)
		s = &own;
	r = lzma_block_decoder(s, b);
	if (r == LZMA_OK) {
		s->next_in = in + *in_pos;
		s->avail_in = in_size - *in_pos;
		s->next_out = out;
		s->avail_out = out_size;
		r = lzma_code(s, LZMA_FINISH);
		*in_pos = in_size - s->avail_in;
		if (r == LZMA_STREAM_END)
			r = s->avail_out == 0 ? LZMA_OK : LZMA_DATA_ERROR;
		else if (r == LZMA_OK || r == LZMA_BUF_ERROR)
			r = LZMA_DATA_ERROR;    /* truncated, or too long */
	}
	if (s == &own)
		lzma_end(&own);
	return r;
}

/* Bytes block i takes in the file (header, data, padding, check). */
static size_t blk_total(const struct xzarc_blk *bk)
{
	return (size_t)((bk->unpadded + 3) & ~(uint64_t)3);
}

/* Decode block i from its `total` bytes in buf into a fresh buffer of
 * exactly its size (blkcache_buf_alloc from c's pool; c may be NULL).
 * With in_place non-NULL, a stored block whose check verifies is left
 * where it is: *outp stays NULL and *in_place gets where its bytes start
 * in buf. */
static int xzarc_decode_buf(const struct xzarc *a, struct blkcache *c,
			    uint64_t i, const uint8_t *buf, uint8_t **outp,
			    size_t *in_place, bool only_in_place)
{
	const struct xzarc_blk *bk = &a->blk[i];
	size_t total = blk_total(bk);
	size_t usize = (size_t)bk->usize, in_pos, f;
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	lzma_block b;
	uint8_t *out = NULL;
	const char *why;
	lzma_ret r;
	int err;

	*outp = NULL;
	for (f = 0; f <= LZMA_FILTERS_MAX; f++) {
		filters[f].id = LZMA_VLI_UNKNOWN;
		filters[f].options = NULL;
	}
	why = "block shorter than a block header";
	if (total < LZMA_BLOCK_HEADER_SIZE_MIN)
		goto out_eio;

	memset(&b, 0, sizeof(b));
	b.version = 1;
	b.check = a->check;
	b.filters = filters;
	b.header_size = lzma_block_header_size_decode(buf[0]);
	why = "bad block header";
	if (buf[0] == 0 || b.header_size > total ||
	    lzma_block_header_decode(&b, NULL, buf) != LZMA_OK)
		goto out_eio;
	why = "block header disagrees with index";
	if (lzma_block_compressed_size(&b, bk->unpadded) != LZMA_OK ||
	    (b.uncompressed_size != LZMA_VLI_UNKNOWN &&
	     b.uncompressed_size != bk->usize))
		goto out_eio;
	b.uncompressed_size = bk->usize;
	/* A dictionary larger than the block is never needed to decode it. */
	for (f = 0; filters[f].id != LZMA_VLI_UNKNOWN; f++) {
		if (filters[f].id == LZMA_FILTER_LZMA2 ||
		    filters[f].id == LZMA_FILTER_LZMA1) {
			lzma_options_lzma *o = filters[f].options;

			if (o && o->dict_size > usize)
				o->dict_size = usize < LZMA_DICT_SIZE_MIN ?
					       LZMA_DICT_SIZE_MIN :
					       (uint32_t)usize;
		}
	}
	if (in_place) {
		*in_place = xzarc_stored_in_place(&b, buf, total, usize);
		if (*in_place || only_in_place) {
			err = 0;
			goto out_free;
		}
	}
	out = blkcache_buf_alloc(c, usize);
	if (!out) {
		err = -ENOMEM;
		goto out_free;
	}
	if (!xzarc_copy_stored(&b, buf, total, out, usize)) {
		bool crc = b.check == LZMA_CHECK_CRC32 ||
			   b.check == LZMA_CHECK_CRC64;
		unsigned csz = crc ? lzma_check_size(b.check) : 0;

		in_pos = b.header_size;
		if (crc)
			b.check = LZMA_CHECK_NONE;      /* compared below */
		r = xzarc_block_decode(&b, buf, &in_pos, total - csz, out,
				       usize);
		if (r == LZMA_MEM_ERROR) {
			err = -ENOMEM;
			goto out_free;
		}
		why = r == LZMA_DATA_ERROR ? "corrupt data" : "decoder error";
		if (r != LZMA_OK)
			goto out_eio;
		why = "decoded size mismatch";
		if (in_pos != total - csz)
			goto out_eio;
		why = "corrupt data (check mismatch)";
		if (crc && (a->check == LZMA_CHECK_CRC32 ?
			    xzarc_crc32(out, usize, 0) !=
				    get_le(buf + in_pos, 4) :
			    lzma_crc64(out, usize, 0) !=
				    get_le(buf + in_pos, 8)))
			goto out_eio;
	}
	*outp = out;
	out = NULL;
	err = 0;
	goto out_free;

out_eio:
	tfs_err("xzarc %" PRIu64 ": block %" PRIu64 " (file offset %" PRIu64
		"): %s", a->id, i, bk->file_off, why);
	err = -EIO;
out_free:
	lzma_filters_free(filters, NULL);
	blkcache_buf_free(c, out, usize);
	return err;
}

/* A decoded block: usize bytes at mem + off, mem (mem_len bytes, from
 * blkcache_buf_alloc) to be freed or given to the cache. */
struct xzarc_out {
	uint8_t *mem;
	size_t mem_len;
	size_t off;
};

/* Read and decode block i. A stored block is used where it was read (the
 * read buffer comes from the cache's pool for that reason); anything else
 * is decoded into a fresh buffer of exactly its size. */
static int xzarc_decode(const struct xzarc *a, struct blkcache *c,
			uint64_t i, struct xzarc_out *o)
{
	const struct xzarc_blk *bk = &a->blk[i];
	size_t total = blk_total(bk), off = 0;
	uint8_t *buf, *out = NULL;
	int err;

	*o = (struct xzarc_out){ 0 };
	if (total < LZMA_BLOCK_HEADER_SIZE_MIN) {
		tfs_err("xzarc %" PRIu64 ": block %" PRIu64 " (file offset %"
			PRIu64 "): block shorter than a block header", a->id,
			i, bk->file_off);
		return -EIO;
	}
	buf = blkcache_buf_alloc(c, total);
	if (!buf)
		return -ENOMEM;
	err = pread_full(a, buf, total, bk->file_off);
	if (err == -EIO)
		tfs_err("xzarc %" PRIu64 ": block %" PRIu64 " (file offset %"
			PRIu64 "): short read", a->id, i, bk->file_off);
	if (!err)
		err = xzarc_decode_buf(a, c, i, buf, &out, &off, false);
	if (!err && !out) {
		*o = (struct xzarc_out){ .mem = buf, .mem_len = total,
					 .off = off };
		return 0;
	}
	blkcache_buf_free(c, buf, total);
	if (!err)
		*o = (struct xzarc_out){ .mem = out,
					 .mem_len = (size_t)bk->usize };
	return err;
}

/*
 * Stored blocks on a local store are not cached: the archive's pages in
 * the kernel's page cache already are the cache, and reading a block and
 * checking its CRC again (a pread and ~5 us) costs less than keeping it
 * (a fresh 64 KiB buffer to fault in per block while the cache fills,
 * 15 % of the daemon's time in a sequential read, and the copy out of a
 * buffer that is cold by then). A block that takes at least its own size
 * in the file is stored; a remote store (one that reads runs) keeps
 * caching them, a read there being a request.
 */
static bool xzarc_uncached(const struct xzarc *a, const struct xzarc_blk *bk)
{
	return a->bs->ops->read_pieces == NULL && bk->unpadded >= bk->usize;
}

/* Copy n bytes at in_blk of stored block i to dst, reading and checking
 * the block in a scratch buffer. 1: done; 0: not a one-chunk stored
 * block (or damaged): the caller takes the cached path, whose decoder
 * has the last word and reports damage; or -errno. */
static int xzarc_read_stored(const struct xzarc *a, struct blkcache *c,
			     uint64_t i, uint8_t *dst, uint64_t in_blk,
			     size_t n)
{
	const struct xzarc_blk *bk = &a->blk[i];
	size_t total = blk_total(bk), off = 0;
	uint8_t *buf, *out = NULL;
	int err;

	if (total < LZMA_BLOCK_HEADER_SIZE_MIN)
		return 0;
	/* From c's pool, not malloc: with the daemon's single malloc arena
	 * (heap_tune.c) a 64 KiB malloc and free per block shrank and grew
	 * the heap's top each time (0.45 s of daemon CPU per 128 MiB
	 * against 0.12 s). */
	buf = blkcache_buf_alloc(c, total);
	if (!buf)
		return -ENOMEM;
	/* A failed read goes to the cached path, which says why. */
	if (pread_full(a, buf, total, bk->file_off) == 0) {
		err = xzarc_decode_buf(a, NULL, i, buf, &out, &off, true);
		if (!err && off) {
			memcpy(dst, buf + off + in_blk, n);
			err = 1;
		}
	} else {
		err = 0;
	}
	blkcache_buf_free(c, buf, total);
	return err;
}

static uint64_t xzarc_find(const struct xzarc *a, uint64_t off)
{
	uint64_t lo = 0, hi = a->nblocks;

	/* Last block whose uoff <= off. */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (a->blk[mid].uoff <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

ssize_t xzarc_pread(struct xzarc *a, struct blkcache *c, void *dst,
		    size_t len, uint64_t off)
{
	uint8_t *d = dst;
	size_t done = 0;
	uint64_t i;

	if (off >= a->size || len == 0)
		return 0;
	if (len > a->size - off)
		len = (size_t)(a->size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	for (i = xzarc_find(a, off); done < len; i++) {
		const struct xzarc_blk *bk = &a->blk[i];
		const struct blkcache_ent *e = NULL;
		struct xzarc_out tmp = { 0 };
		const uint8_t *data;
		uint64_t in_blk = off + done - bk->uoff;
		bool claimed = false;
		size_t n;
		int err;

		n = (size_t)(bk->usize - in_blk);
		if (n > len - done)
			n = len - done;
		if (xzarc_uncached(a, bk)) {
			err = xzarc_read_stored(a, c, i, d + done, in_blk,
						n);
			if (err < 0)
				return err;
			if (err == 1) {
				blkcache_count_miss(c);
				blkcache_count_decode(c);
				done += n;
				continue;
			}
		}
		/* Two readers missing one block decode it once. */
		if (c)
			e = blkcache_get_or_claim(c, a->id, i, &claimed);
		if (e && e->len != bk->usize) {
			tfs_err("xzarc %" PRIu64 ": block %" PRIu64
				": cached length %zu, index says %" PRIu64,
				a->id, i, e->len, bk->usize);
			blkcache_put(c, e);
			return -EIO;
		}
		if (!e) {
			err = xzarc_decode(a, c, i, &tmp);
			if (err) {
				if (claimed)
					blkcache_abandon(c, a->id, i);
				return err;
			}
			blkcache_count_decode(c);
			if (c) {
				e = blkcache_insert_in(c, a->id, i, tmp.mem,
						       tmp.mem_len, tmp.off,
						       (size_t)bk->usize);
				tmp.mem = NULL;
				if (!e)
					return -ENOMEM;
			}
		}
		data = e ? e->data : tmp.mem + tmp.off;
		memcpy(d + done, data + in_blk, n);
		done += n;
		if (e)
			blkcache_put(c, e);
		blkcache_buf_free(c, tmp.mem, tmp.mem_len);
	}
	return (ssize_t)done;
}

uint64_t xzarc_prefetch(struct xzarc *a, struct blkcache *c, uint64_t off)
{
	uint64_t i, end;
	struct xzarc_out o;
	const struct blkcache_ent *e;

	if (off >= a->size)
		return 0;
	i = xzarc_find(a, off);
	end = a->blk[i].uoff + a->blk[i].usize;
	if (xzarc_uncached(a, &a->blk[i]))
		return end;     /* the reader reads it from the page cache */
	if (!blkcache_try_claim(c, a->id, i))
		return end;     /* cached, or somebody is decoding it */
	if (xzarc_decode(a, c, i, &o)) {
		blkcache_abandon(c, a->id, i);
		return 0;
	}
	blkcache_count_decode(c);
	e = blkcache_insert_in(c, a->id, i, o.mem, o.mem_len, o.off,
			       (size_t)a->blk[i].usize);
	blkcache_put(c, e);
	return end;
}

uint64_t xzarc_prefetch_run(struct xzarc *a, struct blkcache *c, uint64_t off,
			    size_t max_bytes)
{
	uint64_t ends[XZARC_RUN_MAX], i, n = 0, end;
	size_t span = 0;
	uint8_t *buf;
	int err;

	if (off >= a->size)
		return 0;
	i = xzarc_find(a, off);
	end = a->blk[i].uoff + a->blk[i].usize;
	/* Claim the blocks from i on that nobody has, while they follow each
	 * other in the file and fit in max_bytes. */
	while (i + n < a->nblocks && n < XZARC_RUN_MAX) {
		const struct xzarc_blk *bk = &a->blk[i + n];

		if (n > 0 && (bk->file_off != ends[n - 1] ||
			      span + blk_total(bk) > max_bytes))
			break;
		if (!blkcache_try_claim(c, a->id, i + n))
			break;
		span += blk_total(bk);
		ends[n] = bk->file_off + blk_total(bk);
		n++;
	}
	if (n == 0)
		return end;     /* cached, or somebody is decoding it */
	buf = malloc(span);
	err = buf ? blob_read_pieces(a->bs, a->obj, buf, a->blk[i].file_off,
				     ends, (size_t)n) : -ENOMEM;
	for (uint64_t k = 0; k < n; k++) {
		const struct xzarc_blk *bk = &a->blk[i + k];
		const struct blkcache_ent *e;
		uint8_t *data = NULL;

		if (!err)
			err = xzarc_decode_buf(a, c, i + k,
					       buf + (bk->file_off -
						      a->blk[i].file_off),
					       &data, NULL, false);
		if (err) {
			blkcache_abandon(c, a->id, i + k);
			continue;
		}
		blkcache_count_decode(c);
		e = blkcache_insert(c, a->id, i + k, data, (size_t)bk->usize);
		if (e)
			blkcache_put(c, e);
		end = bk->uoff + bk->usize;
	}
	free(buf);
	return err ? 0 : end;
}
