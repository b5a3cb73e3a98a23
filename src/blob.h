/*
 * blob.h - the blob store: a flat namespace of immutable objects, under the
 * warm tier's segments and the cold tier's archives.
 *
 * What it is: one small ops table (struct blob_ops) that every store
 * implements in one file (blob_local.c: a local directory; blob_s3.c: an
 * S3 bucket prefix), and thin inline wrappers (blob_open(), blob_read()...)
 * that callers use. Objects are named by ids the caller chooses, such as
 * "00000012.xz" or "0000002a.seg": 1..255 characters of [A-Za-z0-9._-],
 * not starting with '.' (names starting with '.' are the store's own temp
 * files and never listed); any other name is -EINVAL. There are no
 * directories: `list` filters by a name prefix.
 *
 * The contract every implementation keeps:
 * - Every call returns 0 or a negative errno (never a positive value, never
 *   ambient errno). -ENOENT: no such object. -EEXIST: put/create of a name
 *   that exists (a store that cannot tell cheaply may overwrite; callers
 *   always choose fresh ids). -EIO: the store failed or returned something
 *   inconsistent. -ENOSPC: the store is full. -EINVAL: bad name or range.
 * - An object written by put/put_fd is complete and immutable: a reader
 *   sees all of it or -ENOENT, never a prefix; it is durable when put
 *   returns. Its name is never reused for other bytes while it exists.
 * - Range reads never need the whole object: blob_read() of [off, off+len)
 *   costs about len bytes of I/O (a pread, an HTTP Range GET). A read past
 *   the end of the object is -EIO (callers know sizes from open/stat).
 * - remove() of an object open for reading does not disturb the readers
 *   that hold it open, as far as the store allows (local: POSIX unlink
 *   semantics; a remote store may fail later reads with -ENOENT/-EIO).
 *   A remove is durable after the next sync().
 * - All calls are safe from any thread, on the same store and on the same
 *   open object (a struct blob is read-only after open).
 *
 * Optional: objects written in place ("wr" ops: create, pwrite, truncate,
 * sync, finish). A store that can write an object piece by piece and let
 * it be read while it grows (the local directory) fills them; a store that
 * cannot (an object store) leaves them NULL and blob_writer_*() stages the
 * object in a local temporary file and hands it to put_fd when finished.
 * The warm tier's segments, which are appended to and read at the same
 * time, need a store with the "wr" ops (blob_can_append()).
 *
 * What it is not: a catalog (which object holds what is in meta.h), a cache
 * (blkcache.h), or a filesystem: no rename, no directories, no partial
 * overwrite of a finished object.
 */
#ifndef TIERFS_BLOB_H
#define TIERFS_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct blob_store;
struct blob;            /* an object open for range reads */
struct blob_wr;         /* an object being written in place */

/* Called once per object by list(), in no particular order; a nonzero
 * return stops the listing and is what list() returns. */
typedef int (*blob_list_fn)(void *ctx, const char *name, uint64_t size);

#define BLOB_NAME_MAX 255

struct blob_ops {
	const char *kind;       /* "local", "s3": for messages */

	/* Open object `name` for range reads; *size (if not NULL) gets its
	 * length. -ENOENT if it does not exist. */
	int (*open)(struct blob_store *s, const char *name, struct blob **out,
		    uint64_t *size);
	/* Read exactly len bytes at off into dst. -EIO if the range passes
	 * the object's end or the store fails. */
	int (*read)(struct blob *b, void *dst, size_t len, uint64_t off);
	/* Close a handle from open (tolerates NULL). */
	void (*close)(struct blob *b);
	/* Length of object `name`; -ENOENT if it does not exist. */
	int (*stat)(struct blob_store *s, const char *name, uint64_t *size);

	/* Write a whole object from a buffer / from the first len bytes of
	 * a local file (read with pread from offset 0; the caller keeps fd).
	 * Durable and complete under `name` when they return 0; on failure
	 * nothing is left under `name`. */
	int (*put)(struct blob_store *s, const char *name, const void *buf,
		   size_t len);
	int (*put_fd)(struct blob_store *s, const char *name, int fd,
		      uint64_t len);

	/* Call fn for every object whose name starts with prefix ("" for
	 * all); names starting with '.' are never listed. */
	int (*list)(struct blob_store *s, const char *prefix, blob_list_fn fn,
		    void *ctx);
	/* Delete object `name`; -ENOENT if it does not exist. */
	int (*remove)(struct blob_store *s, const char *name);
	/* Make every remove, create and wr_* write so far durable. */
	int (*sync)(struct blob_store *s);
	/* Free the store (the objects stay). */
	void (*destroy)(struct blob_store *s);

	/* ---- optional (NULL when the store cannot): in-place objects ---- */

	/* Create `name` (-EEXIST if it exists), empty and readable by
	 * open()/read() while it grows. */
	int (*create)(struct blob_store *s, const char *name,
		      struct blob_wr **out);
	/* Write buf at off (off <= current length). */
	int (*wr_pwrite)(struct blob_wr *w, const void *buf, size_t len,
			 uint64_t off);
	/* Write the iovcnt pieces back to back at off (off <= current
	 * length; iovcnt <= IOV_MAX); iov is consumed. */
	int (*wr_pwritev)(struct blob_wr *w, struct iovec *iov, int iovcnt,
			  uint64_t off);
	/* Cut the object back to len bytes (a failed write's remains). */
	int (*wr_truncate)(struct blob_wr *w, uint64_t len);
	/* Make the bytes written so far durable (fdatasync). */
	int (*wr_sync)(struct blob_wr *w);
	/* Stop writing: the object is immutable from now on and stays.
	 * With `durable`, sync it and its name first (an error then still
	 * closes). Frees w. */
	int (*wr_close)(struct blob_wr *w, bool durable);
	/* Cut a finished object back to len bytes: only crash recovery of
	 * uncommitted tails uses it. */
	int (*truncate)(struct blob_store *s, const char *name, uint64_t len);
	/* Give back the space of bytes [off, off+len) of an object that will
	 * never be read again there (dead warm records), keeping its length;
	 * the range is whole pages. -EOPNOTSUPP where the disk cannot. */
	int (*punch)(struct blob_store *s, const char *name, uint64_t off,
		     uint64_t len);
	/* Free bytes on the store's disk for new objects (statvfs). */
	int (*avail)(struct blob_store *s, uint64_t *bytes);

	/* ---- optional: reads of runs ---- */

	/* Read [off, ends[n-1]) into dst as read() would, knowing that it is
	 * n pieces ending at ends[0] < ends[1] < ... (xz blocks) that will
	 * be asked for one by one later: a store that caches ranges keeps
	 * each piece as its own entry, and serves from there the pieces it
	 * has. NULL: blob_read_pieces() does one read(). */
	int (*read_pieces)(struct blob *b, void *dst, uint64_t off,
			   const uint64_t *ends, size_t n);
};

/* Every implementation's store struct starts with this. */
struct blob_store {
	const struct blob_ops *ops;
	/* Where blob_writer stages objects for a store without in-place
	 * writes (NULL: $TMPDIR or /tmp); set by the implementation. */
	const char *stage_dir;
};

/* A local directory as a store (blob_local.c). `dir` is created (0700) if
 * missing (its parent must exist); leftover temp files of an interrupted put
 * are deleted. New object files get permission bits `mode`. With
 * BLOB_LOCAL_READONLY nothing is created or deleted: the directory must
 * exist and every call that would write is -EROFS (offline checks). */
#define BLOB_LOCAL_READONLY 1u
int blob_local_open(struct blob_store **out, const char *dir, mode_t mode,
		    unsigned flags);

/* Close any store; tolerates NULL; sets *s = NULL. */
void blob_store_close(struct blob_store **s);

/* true if name is a valid object name (see above). */
bool blob_name_ok(const char *name);

/* ---- wrappers: what callers use ---- */

static inline int blob_open(struct blob_store *s, const char *name,
			    struct blob **out, uint64_t *size)
{
	return s->ops->open(s, name, out, size);
}

static inline int blob_read(struct blob_store *s, struct blob *b, void *dst,
			    size_t len, uint64_t off)
{
	return s->ops->read(b, dst, len, off);
}

/* Read a run of n pieces [off, ends[0]), [ends[0], ends[1])... in one go
 * (one request on a remote store); see read_pieces. */
static inline int blob_read_pieces(struct blob_store *s, struct blob *b,
				   void *dst, uint64_t off,
				   const uint64_t *ends, size_t n)
{
	if (n == 0)
		return 0;
	if (s->ops->read_pieces)
		return s->ops->read_pieces(b, dst, off, ends, n);
	return s->ops->read(b, dst, (size_t)(ends[n - 1] - off), off);
}

static inline void blob_close(struct blob_store *s, struct blob **b)
{
	if (*b != NULL)
		s->ops->close(*b);
	*b = NULL;
}

static inline int blob_stat(struct blob_store *s, const char *name,
			    uint64_t *size)
{
	return s->ops->stat(s, name, size);
}

static inline int blob_put(struct blob_store *s, const char *name,
			   const void *buf, size_t len)
{
	return s->ops->put(s, name, buf, len);
}

static inline int blob_put_fd(struct blob_store *s, const char *name, int fd,
			      uint64_t len)
{
	return s->ops->put_fd(s, name, fd, len);
}

static inline int blob_list(struct blob_store *s, const char *prefix,
			    blob_list_fn fn, void *ctx)
{
	return s->ops->list(s, prefix, fn, ctx);
}

static inline int blob_remove(struct blob_store *s, const char *name)
{
	return s->ops->remove(s, name);
}

static inline int blob_sync(struct blob_store *s)
{
	return s->ops->sync(s);
}

/* true if the store fills the optional in-place ops. */
static inline bool blob_can_append(const struct blob_store *s)
{
	return s->ops->create != NULL;
}

/*
 * Streaming writer over any store (blob.c): in place when the store can
 * (blob_can_append), otherwise staged in an unnamed temporary file under
 * stage_dir (NULL: the store's own stage_dir, else $TMPDIR or /tmp; an
 * S3 store stages inside STORE, so a big archive never fills /tmp) and
 * uploaded with put_fd by
 * blob_writer_finish(). The object is visible under its name only after
 * finish on a staging store; on an in-place store it exists from open
 * (and an abort removes it).
 */
struct blob_writer;
int blob_writer_open(struct blob_store *s, const char *name,
		     const char *stage_dir, struct blob_writer **out);
/* Append len bytes at the end. */
int blob_writer_write(struct blob_writer *w, const void *buf, size_t len);
/* Bytes written so far. */
uint64_t blob_writer_size(const struct blob_writer *w);
/* Make the object complete, immutable and durable under its name. Frees
 * *w and sets it NULL, on success and on failure (on failure nothing is
 * left under the name). */
int blob_writer_finish(struct blob_writer **w);
/* Give up: remove what was written, free; tolerates NULL. */
void blob_writer_abort(struct blob_writer **w);

#endif
