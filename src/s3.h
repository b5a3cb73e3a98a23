/*
 * s3.h - a small client for S3-compatible object stores (AWS S3, Ceph RGW,
 * MinIO...) on libcurl, signed with libcurl's own AWS SigV4.
 *
 * What it is: the handful of object operations the cold tier needs, on one
 * bucket with path-style URLs (ENDPOINT/BUCKET/KEY): check the bucket, PUT
 * an object (from memory, or from a file in ~16 MiB multipart parts), HEAD
 * (size and ETag), ranged GET, LIST v2 with continuation, DELETE. Every
 * request is retried with exponential backoff on 5xx, 429, timeouts and
 * connection errors until `timeout_s` seconds have passed since the call
 * began; keys tierfs writes are never reused, so retrying a PUT is safe.
 * Counters (requests, bytes, errors, retries, latency) are kept per client.
 *
 * What it is not: HTTP or crypto (libcurl does both), a general S3 SDK (no
 * virtual-host addressing, no streaming-signed uploads, no checksums other
 * than the ETag), nor a cache. Keys and credentials are never logged.
 *
 * Thread safety: every call may be made from any thread at once; each
 * request takes a curl handle from a small pool (connections are reused).
 *
 * Errors: 0 (or a byte count) or a negative errno:
 *   -ENOENT  no such key (or, from s3_check_bucket, no such bucket)
 *   -EACCES  the server refused the credentials or the signature
 *   -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH  the server could not be
 *            reached before the deadline (after the retries)
 *   -EIO     anything else the server said no to (logged with its code)
 *   -EINVAL  a bad argument (endpoint URL, key)
 */
#ifndef TIERFS_S3_H
#define TIERFS_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Part size of multipart uploads; objects up to it go in one PUT. */
#define S3_PART_SIZE ((uint64_t)16 << 20)
/* Room for an ETag as the server sends it (quotes included). */
#define S3_ETAG_MAX 80

struct s3;

struct s3_config {
	const char *endpoint;   /* http[s]://host[:port][/path] */
	const char *region;     /* e.g. us-east-1 */
	const char *bucket;
	const char *access_key;
	const char *secret_key;
	uint32_t timeout_s;     /* deadline of one call, retries included */
};

struct s3_stats {
	uint64_t requests;      /* HTTP requests sent (retries included) */
	uint64_t bytes_up;      /* request bodies sent */
	uint64_t bytes_down;    /* object bytes received */
	uint64_t errors;        /* calls that failed */
	uint64_t retries;       /* requests repeated after a transient error */
	uint64_t latency_us;    /* sum over requests */
	uint64_t latency_max_us;
};

/* Check the configuration (not the server) and make a client. */
int s3_open(struct s3 **out, const struct s3_config *cfg);
void s3_close(struct s3 **s);

/* The bucket exists and the credentials may list it. */
int s3_check_bucket(struct s3 *s);
/* Create the bucket (tests and tools; the daemon never creates one). */
int s3_create_bucket(struct s3 *s);

/* PUT an object from memory. *etag (may be NULL) gets its ETag. */
int s3_put(struct s3 *s, const char *key, const void *buf, size_t len,
	   char *etag);
/* PUT `size` bytes of file `fd` (read with pread from offset 0): one PUT up
 * to S3_PART_SIZE, a multipart upload above (aborted on failure). */
int s3_put_file(struct s3 *s, const char *key, int fd, uint64_t size,
		char *etag);
/* HEAD: size and ETag (either may be NULL). */
int s3_head(struct s3 *s, const char *key, uint64_t *size, char *etag);
/* GET bytes [off, off+len) into dst. Returns the bytes read (short only at
 * the end of the object). */
ssize_t s3_get_range(struct s3 *s, const char *key, void *dst, size_t len,
		     uint64_t off);
/* GET a whole object into file `fd` (written from its current offset). */
int s3_get_file(struct s3 *s, const char *key, int fd, uint64_t *size);
/* DELETE (deleting a missing key succeeds, as S3 says). */
int s3_delete(struct s3 *s, const char *key);

/* Call fn for every key starting with prefix (in the server's order, which
 * for S3 is sorted). fn returns 0 to go on, anything else to stop; that
 * value is returned. */
typedef int (*s3_list_fn)(void *arg, const char *key, uint64_t size,
			  const char *etag);
int s3_list(struct s3 *s, const char *prefix, s3_list_fn fn, void *arg);

void s3_get_stats(struct s3 *s, struct s3_stats *out);

/*
 * Read the keys of `profile` (NULL: "default") from an AWS shared
 * credentials file. -ENOENT when the file or the profile is missing,
 * -EINVAL when the profile lacks a key; the message is in `why`.
 */
int s3_read_credentials(const char *path, const char *profile, char *key,
			size_t keylen, char *secret, size_t secretlen,
			char *why, size_t whylen);

#endif
