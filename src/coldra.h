/*
 * coldra.h - read-ahead for cold files: while a file in an archive is read
 * sequentially, a small pool of worker threads decodes the blocks that
 * follow into the shared block cache before the reader asks for them, so
 * xz decoding runs on another core, overlapped with the reader.
 *
 * What it is: a detector of sequential streams (one per file, keyed by its
 * archive and its start in the archive's stream) and a bounded job queue
 * served by `workers` threads; a job is "decode up to `depth` blocks from
 * offset X, not past Y". Decoding one block is a callback (cold.c finds
 * the archive and calls xzarc_prefetch()), so this module knows nothing of
 * archives, files or the cache.
 * What it is not: a guarantee. A stream table slot can be taken over by
 * another file, jobs that do not fit in the queue are dropped, and a reader
 * never waits for read-ahead except through the block cache's single
 * flight (a reader missing a block a worker is decoding waits for that
 * decode instead of repeating it). Random reads trigger nothing.
 *
 * Thread safety: coldra_note() may be called from any thread; the callback
 * runs on the workers, never under this module's lock.
 */
#ifndef TIERFS_COLDRA_H
#define TIERFS_COLDRA_H

#include <stdint.h>

struct coldra;

/* Decode the block covering stream offset `off` of archive `arc` unless it
 * is cached or being decoded; return that block's end (the next block's
 * start), or 0 to stop (past the end, archive gone, error). */
typedef uint64_t (*coldra_fetch_fn)(void *ctx, uint64_t arc, uint64_t off);

/* Start `workers` (>= 1) threads. -ENOMEM or -errno of pthread_create. */
int coldra_start(struct coldra **out, coldra_fetch_fn fetch, void *ctx,
		 unsigned workers, unsigned depth);
/* Stop and join the workers (a job in progress finishes its block), free
 * everything. Tolerates NULL. */
void coldra_stop(struct coldra **ra);
/* A read of stream bytes [start, end) of the file stored at
 * [file_start, file_end) in archive `arc` has been served. If it continues
 * the file's previous read, queue the blocks after `end`. */
void coldra_note(struct coldra *ra, uint64_t arc, uint64_t file_start,
		 uint64_t start, uint64_t end, uint64_t file_end);

struct coldra_stats {
	uint64_t jobs;          /* read-ahead jobs queued */
	uint64_t dropped;       /* jobs dropped: queue full */
};
void coldra_get_stats(struct coldra *ra, struct coldra_stats *out);

#endif
