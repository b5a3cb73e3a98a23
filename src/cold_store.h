/*
 * cold_store.h - where the cold tier keeps its archives: the blob store
 * that cold_store= names (the local STORE/cold directory, or an S3 bucket
 * prefix), opened and checked at mount, and what only a remote store needs
 * beside it (a snapshot of meta.db under the prefix, request counters).
 *
 * What it is: the factory and the mount-time checks. For S3 it reads the
 * keys (s3_credentials file, profile "default"; else AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY from the environment), checks that the bucket
 * answers to them, and refuses to mount with a message naming the problem
 * (no credentials, bucket missing, credentials refused, endpoint
 * unreachable), and gives it the local disk cache of fetched blocks that
 * cold_cache_max asks for (diskcache.h; in cold_cache_dir, by default
 * STORE/cache). It also refuses to switch a store that has archives from
 * one cold store to another (STORE/cold_store records the one in use).
 * What it is not: the catalog or the mover (cold.c).
 */
#ifndef TIERFS_COLD_STORE_H
#define TIERFS_COLD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blob_store;
struct diskcache_stats;
struct meta;
struct s3_stats;
struct tfs_config;

/* Open the cold store of the store at `store_dir` as cfg says. `narcs` is
 * the number of archives the catalog has (0 lets the store switch). On
 * failure err says why (for the mount's exit message). */
int cold_store_open(struct blob_store **out, const struct tfs_config *cfg,
		    const char *store_dir, uint64_t narcs, char *err,
		    size_t errlen);

/* Open an S3 cold store from the settings alone (tools: fsck, restore). */
int cold_store_open_s3(struct blob_store **out, const struct tfs_config *cfg,
		       const char *ends_dir, char *err, size_t errlen);

/* Record cfg's cold store as the one of the store at store_dir (a restore
 * into a new store does this before its first mount). */
int cold_store_mark(const char *store_dir, const struct tfs_config *cfg,
		    char *err, size_t errlen);

/* true if bs is a remote (S3) store; then *st gets its counters. */
bool cold_store_remote_stats(struct blob_store *bs, struct s3_stats *st);

/* true if bs has a disk cache of fetched blocks (cold_cache_max); then
 * *st gets its counters. */
bool cold_store_cache_stats(struct blob_store *bs, struct diskcache_stats *st);

/* The key of the meta.db snapshot under the store's prefix. */
#define COLD_SNAPSHOT_NAME "meta/meta.db"

/* Upload a consistent snapshot of meta.db (SQLite backup API) next to the
 * archives; tmp_dir holds the local copy while it uploads. A no-op (0) on
 * a local store. */
int cold_store_snapshot(struct blob_store *bs, struct meta *m,
			const char *tmp_dir);

#endif
