/*
 * blob_s3.c - the blob store of blob_s3.h: objects under a prefix of an
 * S3 bucket, with their ends kept in local files.
 *
 * DESIGN
 *
 * Put: upload (s3_put / s3_put_file), then HEAD the key: the object is
 * accepted only if its size is the length sent and its ETag the one the
 * upload answered; otherwise it is deleted and the put fails with -EIO.
 * Only then is the ends file written (temp file + rename), so an ends file
 * never describes an object that was not verified. A crash between the
 * upload and the caller's commit leaves an object no catalog names, which
 * the caller's recovery lists and removes.
 *
 * Open: the ends file gives size, head and tail without a request; a
 * missing or damaged one is rebuilt from HEAD + two ranged GETs. Reads
 * that fall inside the head or the tail are memcpy; any other read is one
 * ranged GET of exactly the bytes asked for. A short answer is -EIO, as is
 * every transport failure after the client's retries (the caller reports
 * it as an I/O error on that file only).
 *
 * Runs (read_pieces, read-ahead of several xz blocks): the pieces the ends
 * or the disk cache have are served from there, the rest, from the first
 * missing piece to the last, is one ranged GET.
 *
 * Disk cache: with one set, a ranged GET's bytes are put into it under
 * "ENDPOINT/BUCKET/KEY ETAG OFF+LEN" once they arrived whole (a run's
 * piece by piece), and a read of that same range is served from it
 * first. The ETag in the key means bytes of an object are never served
 * for another object that got the same key.
 */
#include "blob_s3.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "diskcache.h"
#include "fault.h"
#include "fdio.h"
#include "log.h"
#include "s3.h"

#define HEAD_BYTES 4096u
#define TAIL_BYTES 65536u
#define ENDS_MAGIC "TFSENDS1"

struct blob_s3 {
	struct blob_store base;
	struct s3 *s3;
	char prefix[1024];      /* "" or "PREFIX/" */
	int ends_fd;            /* the ends directory */
	char *ends_dir;         /* its path: blob_writer stages there */
	char origin[1200];      /* ENDPOINT/BUCKET: the disk cache's keys */
	struct diskcache *dc;   /* or NULL */
	atomic_bool dc_warned;  /* a failed put was logged */
};

/* On-disk header of NAME.ends (local, native byte order). */
struct ends_hdr {
	char magic[8];
	uint64_t size;          /* of the object */
	uint32_t head_len;
	uint32_t tail_len;
	char etag[S3_ETAG_MAX];
};

struct blob {
	struct blob_s3 *s;
	char key[1300];
	uint64_t size;
	uint32_t head_len, tail_len;
	uint8_t *head, *tail;
	char etag[S3_ETAG_MAX];
};

static const struct blob_ops blob_s3_ops;

static struct blob_s3 *bs3(struct blob_store *s)
{
	return (struct blob_s3 *)s;
}

/* Errors of the store's contract: what is not "no such object" or "out
 * of memory" is an I/O error. */
static int store_errno(int rc)
{
	return rc >= 0 || rc == -ENOENT || rc == -ENOMEM || rc == -EINVAL ? rc :
	       -EIO;
}

int blob_s3_key(struct blob_store *s, const char *name, char *out,
		size_t outlen)
{
	if (!blob_name_ok(name))
		return -EINVAL;
	if ((size_t)snprintf(out, outlen, "%s%s", bs3(s)->prefix, name) >=
	    outlen)
		return -ENAMETOOLONG;
	return 0;
}

struct s3 *blob_s3_client(struct blob_store *s)
{
	return s && s->ops == &blob_s3_ops ? bs3(s)->s3 : NULL;
}

/* ---- ends files ---- */

static int ends_name(const char *name, char *out, size_t outlen)
{
	if ((size_t)snprintf(out, outlen, "%s.ends", name) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write NAME.ends atomically (temp + rename). */
static int ends_write(struct blob_s3 *s, const char *name, uint64_t size,
		      const char *etag, const uint8_t *head, uint32_t head_len,
		      const uint8_t *tail, uint32_t tail_len)
{
	struct ends_hdr h = { .size = size, .head_len = head_len,
			      .tail_len = tail_len };
	char fn[300], tmp[320];
	int fd, rc;

	memcpy(h.magic, ENDS_MAGIC, 8);
	snprintf(h.etag, sizeof(h.etag), "%s", etag ? etag : "");
	rc = ends_name(name, fn, sizeof(fn));
	if (rc)
		return rc;
	snprintf(tmp, sizeof(tmp), ".tmp-%s", fn);
	fd = openat(s->ends_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, &h, sizeof(h));
	if (!rc)
		rc = write_all(fd, head, head_len);
	if (!rc)
		rc = write_all(fd, tail, tail_len);
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(s->ends_fd, tmp, s->ends_fd, fn))
		rc = -errno;
	if (rc)
		unlinkat(s->ends_fd, tmp, 0);
	return rc;
}

/* Load NAME.ends into b; -ENOENT when absent or not trustworthy. */
static int ends_read(struct blob_s3 *s, const char *name, struct blob *b)
{
	struct ends_hdr h;
	struct stat st;
	char fn[300];
	int fd, rc;

	rc = ends_name(name, fn, sizeof(fn));
	if (rc)
		return rc;
	fd = openat(s->ends_fd, fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	rc = -ENOENT;
	if (fstat(fd, &st) || fd_pread_full(fd, &h, sizeof(h), 0) ||
	    memcmp(h.magic, ENDS_MAGIC, 8) || h.head_len > HEAD_BYTES ||
	    h.tail_len > TAIL_BYTES || h.head_len > h.size ||
	    h.tail_len > h.size ||
	    (uint64_t)st.st_size != sizeof(h) + h.head_len + h.tail_len)
		goto out_close;
	b->head = malloc(h.head_len + 1);
	b->tail = malloc(h.tail_len + 1);
	if (!b->head || !b->tail) {
		rc = -ENOMEM;
		goto out_close;
	}
	if (fd_pread_full(fd, b->head, h.head_len, sizeof(h)) ||
	    fd_pread_full(fd, b->tail, h.tail_len, sizeof(h) + h.head_len))
		goto out_close;
	b->size = h.size;
	h.etag[sizeof(h.etag) - 1] = 0;
	memcpy(b->etag, h.etag, sizeof(b->etag));
	b->head_len = h.head_len;
	b->tail_len = h.tail_len;
	rc = 0;
out_close:
	close(fd);
	return rc;
}

/* ---- ops ---- */

static void s3b_close(struct blob *b)
{
	if (!b)
		return;
	free(b->head);
	free(b->tail);
	free(b);
}

/* Fetch the ends of an object that has no ends file, and write one. */
static int fetch_ends(struct blob_s3 *s, const char *name, struct blob *b)
{
	char etag[S3_ETAG_MAX];
	ssize_t n;
	int rc;

	rc = s3_head(s->s3, b->key, &b->size, etag);
	if (rc)
		return store_errno(rc);
	b->head_len = b->size < HEAD_BYTES ? (uint32_t)b->size : HEAD_BYTES;
	b->tail_len = b->size < TAIL_BYTES ? (uint32_t)b->size : TAIL_BYTES;
	b->head = malloc(b->head_len + 1);
	b->tail = malloc(b->tail_len + 1);
	if (!b->head || !b->tail)
		return -ENOMEM;
	n = s3_get_range(s->s3, b->key, b->head, b->head_len, 0);
	if (n == (ssize_t)b->head_len)
		n = s3_get_range(s->s3, b->key, b->tail, b->tail_len,
				 b->size - b->tail_len);
	if (n != (ssize_t)b->tail_len)
		return n < 0 ? store_errno((int)n) : -EIO;
	memcpy(b->etag, etag, sizeof(b->etag));
	rc = ends_write(s, name, b->size, etag, b->head, b->head_len, b->tail,
			b->tail_len);
	if (rc)
		tfs_warn("s3 store: cannot keep the ends of %s locally: %s",
			 name, strerror(-rc));
	return 0;
}

static int s3b_open(struct blob_store *st, const char *name,
		    struct blob **out, uint64_t *size)
{
	struct blob_s3 *s = bs3(st);
	struct blob *b;
	int rc;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->s = s;
	rc = blob_s3_key(st, name, b->key, sizeof(b->key));
	if (!rc) {
		rc = ends_read(s, name, b);
		if (rc == -ENOENT) {
			free(b->head);
			free(b->tail);
			b->head = b->tail = NULL;
			rc = fetch_ends(s, name, b);
		}
	}
	if (rc) {
		s3b_close(b);
		return rc;
	}
	if (size)
		*size = b->size;
	*out = b;
	return 0;
}

/* Keep a fetched range in the disk cache; a failure is logged once (the
 * read itself went well). */
static void cache_put(struct blob_s3 *s, const char *ck, const void *buf,
		      size_t len)
{
	int rc = diskcache_put(s->dc, ck, buf, len);

	if (rc && !atomic_exchange(&s->dc_warned, true))
		tfs_warn("cold cache: cannot keep a fetched block on disk: %s "
			 "(reads go on from S3; logged once)", strerror(-rc));
}

/* Serve [off, off+len) from the object's ends if it lies inside one. */
static bool from_ends(struct blob *b, void *dst, size_t len, uint64_t off)
{
	uint64_t tail_off = b->size - b->tail_len;

	if (off + len <= b->head_len) {
		memcpy(dst, b->head + off, len);
		return true;
	}
	if (off >= tail_off) {
		memcpy(dst, b->tail + (off - tail_off), len);
		return true;
	}
	return false;
}

/* The disk cache's key of a range; false if it does not fit. */
static bool cache_key(struct blob *b, uint64_t off, size_t len, char *ck,
		      size_t cklen)
{
	return (size_t)snprintf(ck, cklen, "%s/%s %s %" PRIu64 "+%zu",
				b->s->origin, b->key, b->etag, off, len) <
	       cklen;
}

/* One ranged GET of exactly len bytes. */
static int get_range(struct blob *b, void *dst, size_t len, uint64_t off)
{
	ssize_t n = s3_get_range(b->s->s3, b->key, dst, len, off);

	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		tfs_err("s3 store: %s: short read (%zd of %zu bytes)", b->key,
			n, len);
	return n < 0 ? store_errno((int)n) : -EIO;
}

static int s3b_read(struct blob *b, void *dst, size_t len, uint64_t off)
{
	bool keyed = false;
	char ck[2600];
	int rc;

	if (off > b->size || len > b->size - off)
		return -EIO;
	if (len == 0 || from_ends(b, dst, len, off))
		return 0;
	if (b->s->dc) {
		keyed = cache_key(b, off, len, ck, sizeof(ck));
		if (keyed && diskcache_get(b->s->dc, ck, dst, len) == 0)
			return 0;
	}
	rc = get_range(b, dst, len, off);
	if (!rc && keyed)
		cache_put(b->s, ck, dst, len);
	return rc;
}

#define PIECES_MAX 64

/* A run of pieces: those the ends or the disk cache have are served from
 * there, the rest (from the first missing piece to the last) is one GET,
 * and each piece it brought is put in the disk cache on its own, so a later
 * read of one piece finds it. */
static int s3b_read_pieces(struct blob *b, void *dst, uint64_t off,
			   const uint64_t *ends, size_t n)
{
	bool have[PIECES_MAX];
	size_t first = n, last = 0;
	uint8_t *d = dst;
	char ck[2600];
	int rc;

	if (off > b->size || ends[n - 1] > b->size || ends[n - 1] < off)
		return -EIO;
	if (!b->s->dc || n > PIECES_MAX)
		return s3b_read(b, dst, (size_t)(ends[n - 1] - off), off);
	for (size_t i = 0; i < n; i++) {
		uint64_t po = i ? ends[i - 1] : off;
		size_t pl = (size_t)(ends[i] - po);

		if (ends[i] < po)
			return -EIO;
		have[i] = from_ends(b, d + (po - off), pl, po) ||
			  (cache_key(b, po, pl, ck, sizeof(ck)) &&
			   diskcache_get(b->s->dc, ck, d + (po - off), pl) ==
				   0);
		if (!have[i]) {
			if (first == n)
				first = i;
			last = i;
		}
	}
	if (first == n)
		return 0;
	{
		uint64_t from = first ? ends[first - 1] : off;

		rc = get_range(b, d + (from - off),
			       (size_t)(ends[last] - from), from);
	}
	for (size_t i = first; !rc && i <= last; i++) {
		uint64_t po = i ? ends[i - 1] : off;
		size_t pl = (size_t)(ends[i] - po);

		if (!have[i] && cache_key(b, po, pl, ck, sizeof(ck)))
			cache_put(b->s, ck, d + (po - off), pl);
	}
	return rc;
}

static int s3b_stat(struct blob_store *st, const char *name, uint64_t *size)
{
	char key[1300];
	int rc = blob_s3_key(st, name, key, sizeof(key));

	if (!rc)
		rc = s3_head(bs3(st)->s3, key, size, NULL);
	return store_errno(rc);
}

/* HEAD after an upload: the object must be what was sent. */
static int verify(struct blob_s3 *s, const char *key, uint64_t len,
		  const char *etag)
{
	char got[S3_ETAG_MAX];
	uint64_t size = 0;
	int rc = s3_head(s->s3, key, &size, got);

	if (rc)
		return store_errno(rc);
	if (size != len || (etag[0] && strcmp(etag, got))) {
		tfs_err("s3 store: %s: uploaded %llu bytes (ETag %s) but the "
			"server has %llu (ETag %s); deleting it", key,
			(unsigned long long)len, etag,
			(unsigned long long)size, got);
		s3_delete(s->s3, key);
		return -EIO;
	}
	return 0;
}

static int s3b_put(struct blob_store *st, const char *name, const void *buf,
		   size_t len)
{
	struct blob_s3 *s = bs3(st);
	char key[1300], etag[S3_ETAG_MAX] = "";
	uint32_t hl = len < HEAD_BYTES ? (uint32_t)len : HEAD_BYTES;
	uint32_t tl = len < TAIL_BYTES ? (uint32_t)len : TAIL_BYTES;
	int rc = blob_s3_key(st, name, key, sizeof(key));

	if (!rc)
		rc = s3_put(s->s3, key, buf, len, etag);
	if (!rc)
		rc = verify(s, key, len, etag);
	if (rc)
		return store_errno(rc);
	if (ends_write(s, name, len, etag, buf, hl,
		       (const uint8_t *)buf + len - tl, tl))
		tfs_warn("s3 store: cannot keep the ends of %s locally", name);
	return 0;
}

static int s3b_put_fd(struct blob_store *st, const char *name, int fd,
		      uint64_t len)
{
	struct blob_s3 *s = bs3(st);
	char key[1300], etag[S3_ETAG_MAX] = "";
	uint32_t hl = len < HEAD_BYTES ? (uint32_t)len : HEAD_BYTES;
	uint32_t tl = len < TAIL_BYTES ? (uint32_t)len : TAIL_BYTES;
	uint8_t *ends;
	int rc = blob_s3_key(st, name, key, sizeof(key));

	if (!rc)
		rc = s3_put_file(s->s3, key, fd, len, etag);
	if (!rc)
		fault_point("s3-after-upload");
	if (!rc)
		rc = verify(s, key, len, etag);
	if (rc)
		return store_errno(rc);
	ends = malloc((size_t)hl + tl + 1);
	if (!ends || fd_pread_full(fd, ends, hl, 0) ||
	    fd_pread_full(fd, ends + hl, tl, len - tl) ||
	    ends_write(s, name, len, etag, ends, hl, ends + hl, tl))
		tfs_warn("s3 store: cannot keep the ends of %s locally", name);
	free(ends);
	return 0;
}

struct list_ctx {
	size_t skip;            /* strlen of the store's prefix */
	blob_list_fn fn;
	void *ctx;
};

static int list_one(void *arg, const char *key, uint64_t size,
		    const char *etag)
{
	struct list_ctx *l = arg;
	const char *name = key + l->skip;

	(void)etag;
	if (strlen(key) < l->skip || !blob_name_ok(name))
		return 0;
	return l->fn(l->ctx, name, size);
}

static int s3b_list(struct blob_store *st, const char *prefix,
		    blob_list_fn fn, void *ctx)
{
	struct blob_s3 *s = bs3(st);
	struct list_ctx l = { .skip = strlen(s->prefix), .fn = fn, .ctx = ctx };
	char full[1300];
	int rc;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", s->prefix,
			     prefix ? prefix : "") >= sizeof(full))
		return -ENAMETOOLONG;
	rc = s3_list(s->s3, full, list_one, &l);
	return rc < 0 ? store_errno(rc) : rc;
}

/* S3 cannot tell cheaply whether the key was there: a remove of a missing
 * object succeeds. */
static int s3b_remove(struct blob_store *st, const char *name)
{
	struct blob_s3 *s = bs3(st);
	char key[1300], fn[300];
	int rc = blob_s3_key(st, name, key, sizeof(key));

	if (!rc)
		rc = s3_delete(s->s3, key);
	if (rc)
		return store_errno(rc);
	if (!ends_name(name, fn, sizeof(fn)))
		unlinkat(s->ends_fd, fn, 0);
	return 0;
}

static int s3b_sync(struct blob_store *st)
{
	(void)st;
	return 0;       /* a PUT or DELETE is durable when it returns */
}

static void s3b_destroy(struct blob_store *st)
{
	struct blob_s3 *s = bs3(st);

	s3_close(&s->s3);
	diskcache_close(&s->dc);
	free(s->ends_dir);
	if (s->ends_fd >= 0)
		close(s->ends_fd);
	free(s);
}

static const struct blob_ops blob_s3_ops = {
	.kind = "s3",
	.open = s3b_open,
	.read = s3b_read,
	.close = s3b_close,
	.stat = s3b_stat,
	.put = s3b_put,
	.put_fd = s3b_put_fd,
	.list = s3b_list,
	.remove = s3b_remove,
	.sync = s3b_sync,
	.destroy = s3b_destroy,
	.read_pieces = s3b_read_pieces,
};

void blob_s3_set_cache(struct blob_store *st, struct diskcache *dc,
		       const char *origin)
{
	struct blob_s3 *s = bs3(st);

	diskcache_close(&s->dc);
	s->dc = dc;
	snprintf(s->origin, sizeof(s->origin), "%s", origin);
}

bool blob_s3_cache_stats(struct blob_store *s, struct diskcache_stats *st)
{
	if (!s || s->ops != &blob_s3_ops || !bs3(s)->dc)
		return false;
	diskcache_get_stats(bs3(s)->dc, st);
	return true;
}

int blob_s3_open(struct blob_store **out, struct s3 *s3, const char *prefix,
		 const char *ends_dir)
{
	struct blob_s3 *s;
	size_t pl = prefix ? strlen(prefix) : 0;

	*out = NULL;
	if (pl && (prefix[0] == '/' || prefix[pl - 1] == '/'))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &blob_s3_ops;
	s->ends_fd = -1;
	if ((size_t)snprintf(s->prefix, sizeof(s->prefix), "%s%s",
			     pl ? prefix : "", pl ? "/" : "") >=
	    sizeof(s->prefix)) {
		free(s);
		return -ENAMETOOLONG;
	}
	if (mkdir(ends_dir, 0700) && errno != EEXIST) {
		int rc = -errno;

		free(s);
		return rc;
	}
	s->ends_fd = open(ends_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->ends_fd < 0) {
		int rc = -errno;

		free(s);
		return rc;
	}
	s->ends_dir = strdup(ends_dir);
	if (!s->ends_dir) {
		close(s->ends_fd);
		free(s);
		return -ENOMEM;
	}
	s->base.stage_dir = s->ends_dir;
	s->s3 = s3;
	*out = &s->base;
	return 0;
}
