/*
 * diskcache.h - a bounded on-disk cache of byte ranges of immutable remote
 * objects (the cold tier's blocks fetched from S3: cold_cache_dir,
 * cold_cache_max), so that a block read once is read again from the local
 * disk instead of the network, across remounts.
 *
 * What it is: one file per cached range in one directory, named by a hash
 * of the caller's key (a string that names the bytes for good: store,
 * object, ETag, offset, length). Each file carries its full key and a
 * CRC32C of its bytes, checked on every read: a damaged, truncated or
 * foreign file is a miss (counted as "bad" and deleted), never wrong bytes.
 * The total is bounded by `max` bytes (file sizes rounded up to 4 KiB),
 * evicting the least recently used; the order survives a remount through
 * the files' mtimes (a hit touches its file).
 * What it is not: a home for data. Nothing is ever only here: every entry
 * is a copy of bytes the remote store keeps, a put may be skipped, a file
 * may vanish at any time (the next get is a miss), and writes are not
 * synced (a crash may leave a torn file, which the check turns into a
 * miss). Not shared between processes: one mount owns its directory.
 *
 * Thread safety: every call may be made from any thread. One mutex guards
 * the index (hash and LRU list); file I/O happens outside it.
 *
 * Errors: 0 or a negative errno.
 */
#ifndef TIERFS_DISKCACHE_H
#define TIERFS_DISKCACHE_H

#include <stddef.h>
#include <stdint.h>

struct diskcache;

struct diskcache_stats {
	uint64_t hits;          /* gets served from a file */
	uint64_t misses;        /* gets that found no good file */
	uint64_t bad;           /* files that failed the check (deleted) */
	uint64_t puts;          /* ranges written */
	uint64_t evictions;     /* files deleted to stay under max */
	uint64_t entries;       /* files now */
	uint64_t bytes;         /* their size (4 KiB units) */
	uint64_t max;
};

/* Open (creating `dir`, mode 0700, if missing; its parent must exist) and
 * index what a previous mount left there, oldest first; delete leftover
 * temp files and evict down to `max` (> 0). -errno of mkdir/opendir. */
int diskcache_open(struct diskcache **out, const char *dir, uint64_t max);
/* Close; tolerates NULL; sets *dc = NULL. The files stay. */
void diskcache_close(struct diskcache **dc);

/* Copy the cached bytes of `key` (exactly len of them) into dst: 0 on a
 * verified hit, -ENOENT on a miss (dst may have been written). */
int diskcache_get(struct diskcache *dc, const char *key, void *dst,
		  size_t len);
/* Keep len bytes under `key` (replacing any entry of that key), evicting
 * the least recently used to stay under max. A range larger than max is
 * not kept (0). -errno when the file cannot be written (nothing kept). */
int diskcache_put(struct diskcache *dc, const char *key, const void *buf,
		  size_t len);

void diskcache_get_stats(struct diskcache *dc, struct diskcache_stats *out);

#endif
