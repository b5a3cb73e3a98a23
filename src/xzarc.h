/*
 * xzarc.h - the cold tier's archives: standard multi-block .xz files written
 * with liblzma, read back one block at a time.
 *
 * What it is: a writer that takes a stream of bytes (the concatenation of
 * whole files), cuts it into xz blocks of `block_size` uncompressed bytes,
 * encodes the blocks (in parallel on `threads` threads), and writes a valid
 * single-stream .xz file (stream header, blocks, index, footer) that `xz -t`,
 * `xz -l` and `xz -dc` accept. A block LZMA2 does not shrink by at least
 * `min_saving` percent is written as LZMA2 uncompressed chunks
 * (lzma_block_uncomp_encode), so reading it costs a CRC, no decode. The
 * reader opens an archive, decodes its index once, and serves pread() of
 * any uncompressed range by decoding only the blocks that cover it,
 * through a blkcache (except stored blocks on a local store: those are
 * read and checked again each time, the page cache being their cache).
 *
 * What it is not: a catalog (which file is where is in meta.h) and not a
 * general xz reader: it accepts any single-stream .xz with CRC32/CRC64
 * checks, but tierfs only ever needs its own.
 *
 * Thread safety: a writer belongs to one thread. A reader (struct xzarc) is
 * immutable after open and safe for concurrent xzarc_pread() calls; block
 * decoding happens outside every lock.
 *
 * Errors: 0 or negative errno; corrupt or truncated archives are -EIO
 * (logged), never a crash or wrong bytes.
 */
#ifndef TIERFS_XZARC_H
#define TIERFS_XZARC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct blkcache;
struct blob_store;

struct xzarc_params {
	uint64_t block_size;    /* uncompressed bytes per xz block (>= 4 KiB) */
	uint32_t preset;        /* 0..9 */
	uint32_t min_saving;    /* percent; below it a block is stored raw */
	uint32_t threads;       /* encoder threads, >= 1 */
};

struct xzarc_writer;

/* Create object `name` in blob store bs (-EEXIST if it exists) and start a
 * stream. The object is written through blob_writer (blob.h): in place on
 * a local directory, staged and uploaded on finish elsewhere. */
int xzarc_writer_open(struct xzarc_writer **out, struct blob_store *bs,
		      const char *name, const struct xzarc_params *p);
/* Append bytes to the uncompressed stream. */
int xzarc_writer_add(struct xzarc_writer *w, const void *data, size_t len);
/* Uncompressed bytes added so far (the offset the next add starts at). */
uint64_t xzarc_writer_offset(const struct xzarc_writer *w);
/* Encode what is left, write index and footer, and finish the object
 * (complete and durable under its name). *size gets the .xz object's
 * length. Frees w on success and on failure (on failure the object is
 * removed). */
int xzarc_writer_finish(struct xzarc_writer **w, uint64_t *size);
/* Give up: remove the object, free w. Tolerates NULL. */
void xzarc_writer_abort(struct xzarc_writer **w);

struct xzarc;

/* Open archive object `name` of blob store bs (which must outlive it) and
 * decode its index, reading only the footer and index (range reads).
 * `id` names it in the cache. -ENOENT if there is no such object. */
int xzarc_open(struct xzarc **out, struct blob_store *bs, const char *name,
	       uint64_t id);
void xzarc_close(struct xzarc **a);
/* Total uncompressed bytes and number of blocks. */
uint64_t xzarc_size(const struct xzarc *a);
uint64_t xzarc_nblocks(const struct xzarc *a);
/* Bytes of the .xz object itself. */
uint64_t xzarc_file_size(const struct xzarc *a);
/* Copy uncompressed bytes [off, off+len) into dst, decoding only the blocks
 * that cover the range (through cache c, which may be NULL). Returns the
 * bytes copied (short only at the end of the stream), or -EIO. */
ssize_t xzarc_pread(struct xzarc *a, struct blkcache *c, void *dst,
		    size_t len, uint64_t off);
/* Read-ahead: decode the block covering uncompressed offset `off` into cache
 * c unless it is cached or being decoded. Returns the uncompressed end of
 * that block (where the next one starts), or 0 past the end of the stream
 * or when decoding failed (the reader will meet and report the error). */
uint64_t xzarc_prefetch(struct xzarc *a, struct blkcache *c, uint64_t off);
/* Read-ahead for a remote store: the same for a run of up to
 * XZARC_RUN_MAX consecutive blocks from the one covering `off` that nobody
 * has yet, at most max_bytes of the file (at least one block), fetched
 * with one blob_read_pieces (one request) and decoded one by one into c.
 * Returns the end of the run, 0 as xzarc_prefetch. */
#define XZARC_RUN_MAX 64
uint64_t xzarc_prefetch_run(struct xzarc *a, struct blkcache *c, uint64_t off,
			    size_t max_bytes);

#endif
