/*
 * cold.h - the cold tier as the filesystem sees it: the catalog of archives
 * in STORE/cold, reading a file's bytes out of them, and demoting batches
 * of files into new archives.
 *
 * What it is: the glue between fs and xzarc/blkcache. It opens the
 * archives meta knows (deleting orphans at mount), keeps them open, serves
 * cold reads through one shared block cache, and writes new archives with
 * the write-sync-commit-release order.
 * What it is not: the archive format (xzarc.h) nor the policy deciding what
 * to demote (policy.c).
 */
#ifndef TIERFS_COLD_H
#define TIERFS_COLD_H

#include <stdbool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "meta.h"

struct cold;
struct fs;

/* Open the cold store cold_store= names (cold_store.h), open every archive
 * meta lists and delete the other objects. On failure err says why. */
int cold_open(struct cold **out, struct fs *f, const struct tfs_config *cfg,
	      char *err, size_t errlen);
void cold_close(struct cold **c);

/* Read `len` bytes at file offset `off` of a file whose cold extent is
 * `ext` (off + len <= ext->len). Returns bytes read or -EIO. Thread-safe;
 * decodes only the xz blocks covering the range. */
ssize_t cold_read(struct cold *c, const struct meta_cold *ext, void *dst,
		  size_t len, uint64_t off);

/*
 * Move files to the cold tier, packed into as few new archives as
 * archive_max allows, in path order (a directory's files share blocks).
 * `inos` are referenced regular files; the caller keeps its references.
 * For each archive: write it, fsync it and its directory, commit every
 * file's new place in one meta transaction, then drop the old copies.
 * A file written to, truncated or unlinked while it is being archived keeps
 * its newest bytes where they are and is counted in *skipped. Files already
 * entirely cold count as moved. Returns 0 or the first error (archives
 * committed before it stay committed).
 */
struct tfs_inode;
int cold_demote(struct cold *c, struct tfs_inode **inos, size_t n,
		size_t *moved, size_t *skipped);

/* Delete archives nothing points at any more (first: that needs no
 * space), then, if `rewrite`, rewrite archives whose live fraction is under
 * threshold percent (their live files go to a new archive; hot files stay
 * hot). *freed gets the bytes released. */
int cold_compact(struct cold *c, uint32_t threshold, bool rewrite,
		 uint64_t *freed);

/* The bytes an archived file occupies in its archive (its share of the
 * archive's size). */
uint64_t cold_stored_bytes(struct cold *c, const struct meta_cold *ext);

/* Resize the shared block cache. */
void cold_set_cache_size(struct cold *c, uint64_t bytes);
/* Counters of the shared block cache. */
struct blkcache_stats;
void cold_cache_stats(struct cold *c, struct blkcache_stats *out);

/* A remote cold store (cold_store.h): upload meta.db's snapshot now (0 and
 * nothing done on a local one); its request counters (false if local). */
int cold_snapshot(struct cold *c);
struct s3_stats;
bool cold_remote_stats(struct cold *c, struct s3_stats *st);

#endif
