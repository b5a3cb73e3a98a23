/*
 * cold.h - the cold tier below the filesystem: the catalog of archives in
 * STORE/cold and reading a file's bytes out of them.
 *
 * What it is: the open archives meta lists (orphans of an interrupted
 * demotion deleted at mount), each opened once (its xz index decoded) and
 * kept open, cold reads through one shared block cache, and the few calls
 * through which archives come and go: create one (id from meta, object in
 * the blob store), add it to the catalog once written, discard or delete
 * it.
 * What it is not: the mover. Demotion into archives and archive rewrite
 * are fs_cold.c's (they need the filesystem's inodes), compaction is
 * compact.c's; they call down into here. It depends only on meta, xzarc,
 * blkcache and the blob store, and never calls up.
 *
 * Thread safety: every call is safe from any thread. Reads take the
 * catalog's rwlock shared just long enough to reference their archive; an
 * archive leaving the catalog is freed by its last reader.
 */
#ifndef TIERFS_COLD_H
#define TIERFS_COLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "meta.h"

struct cold;
struct tfs_config;
struct s3_stats;
struct blkcache_stats;
struct diskcache_stats;
struct xzarc_params;
struct xzarc_writer;

/* Open the cold store cold_store= names (cold_store.h) for the store at
 * store_dir, open every archive meta `m` lists and delete the other
 * objects; a block cache of cfg->cache_size bytes. A damaged archive is
 * logged and left out (its files read EIO). On failure err says why. */
int cold_open(struct cold **out, const char *store_dir, struct meta *m,
	      const struct tfs_config *cfg, char *err, size_t errlen);
/* Close; tolerates NULL; sets *c = NULL. */
void cold_close(struct cold **c);

/* Read `len` bytes at file offset `off` of a file whose cold extent is
 * `ext` (off + len <= ext->len). Returns bytes read or -EIO. Thread-safe;
 * decodes only the xz blocks covering the range. */
ssize_t cold_read(struct cold *c, const struct meta_cold *ext, void *dst,
		  size_t len, uint64_t off);

/* After a read's reply: have block buffers with their pages already
 * written made ready for the next miss, on the block cache's own thread
 * (blkcache_buf_prepare_later). Cheap when there is nothing to do; c may
 * be NULL. */
void cold_read_done(struct cold *c);

/* The bytes an archived file occupies in its archive (its share of the
 * archive's size). */
uint64_t cold_stored_bytes(struct cold *c, const struct meta_cold *ext);

/* Resize the shared block cache. */
void cold_set_cache_size(struct cold *c, uint64_t bytes);
/* Counters of the shared block cache. */
void cold_cache_stats(struct cold *c, struct blkcache_stats *out);

/* ---- archives coming and going ---- */

/* A new archive: its id from meta's "archive" sequence, its writer on the
 * store (xzarc.h). Nobody sees it until cold_arc_add(). */
int cold_arc_create(struct cold *c, const struct xzarc_params *p,
		    uint64_t *id, struct xzarc_writer **w);
/* Open finished archive `id` into the catalog (before meta points files at
 * it, so readers find it once the commit is done). */
int cold_arc_add(struct cold *c, uint64_t id);
/* Forget an archive meta never committed and delete its object. */
void cold_arc_discard(struct cold *c, uint64_t id);
/* Delete archive `id` nothing points at any more: its meta row, its place
 * in the catalog (readers still inside finish first), then (once a remote
 * store's snapshot no longer names it) its object. */
int cold_arc_delete(struct cold *c, uint64_t id);

/* A remote cold store (cold_store.h): upload meta.db's snapshot now (0 and
 * nothing done on a local one); its request counters (false if local). */
int cold_snapshot(struct cold *c);
bool cold_remote_stats(struct cold *c, struct s3_stats *st);
/* The remote store's disk cache of fetched blocks (false if none). */
bool cold_disk_cache_stats(struct cold *c, struct diskcache_stats *st);

#endif
