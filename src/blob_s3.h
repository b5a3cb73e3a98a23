/*
 * blob_s3.h - the blob store (blob.h) as the objects under one prefix of an
 * S3 bucket: object NAME is key PREFIX/NAME (NAME alone with no prefix).
 *
 * What it is: whole-object puts (a single PUT or a multipart upload),
 * verified before they return (HEAD: the size must be the one sent and
 * the ETag the one the upload answered), ranged GETs, listing and deletes
 * through s3.h. The in-place ("wr") ops are left NULL: blob_writer stages
 * objects in an unnamed temporary file in ENDS_DIR (inside the store, not
 * /tmp) and put_fd uploads them.
 *
 * The ends of every object it writes (its first 4 KiB and last 64 KiB:
 * for an .xz archive the stream header, the index and the footer) are kept
 * in a local file ENDS_DIR/NAME.ends together with the object's size and
 * ETag, so opening an archive and decoding its index costs no request, and
 * a cold read is one ranged GET of the block it needs. An object without
 * that file (a store restored on a new machine) costs one HEAD and two
 * ranged GETs at its first open, which then write the file.
 *
 * Optionally (blob_s3_set_cache), every ranged GET's bytes are kept in a
 * bounded local disk cache (diskcache.h), keyed by endpoint, bucket,
 * key, ETag and range, and the same range read again is served from
 * there, checked.
 *
 * What it is not: the home of any byte (the bucket is; the disk cache only
 * copies), nor a catalog. keys outside PREFIX/ and keys that are not valid
 * blob names (e.g. PREFIX/meta/...) are never listed.
 */
#ifndef TIERFS_BLOB_S3_H
#define TIERFS_BLOB_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blob_store;
struct diskcache;
struct diskcache_stats;
struct s3;

/*
 * Make a store over client `s3` (the store takes it and closes it on
 * destroy) and key prefix `prefix` ("" for none; no leading or trailing
 * '/'). `ends_dir` is created if missing (its parent must exist).
 */
int blob_s3_open(struct blob_store **out, struct s3 *s3, const char *prefix,
		 const char *ends_dir);
/* Serve range reads through disk cache dc from now on; the store takes it
 * and closes it on destroy. `origin` (ENDPOINT/BUCKET) starts every cache
 * key. Call before the store is shared. */
void blob_s3_set_cache(struct blob_store *s, struct diskcache *dc,
		       const char *origin);
/* The disk cache's counters; false if the store has none (or is not S3). */
bool blob_s3_cache_stats(struct blob_store *s, struct diskcache_stats *st);
/* The client of a store made by blob_s3_open (NULL for any other store). */
struct s3 *blob_s3_client(struct blob_store *s);
/* The key of object `name` (PREFIX/NAME). */
int blob_s3_key(struct blob_store *s, const char *name, char *out,
		size_t outlen);

#endif
