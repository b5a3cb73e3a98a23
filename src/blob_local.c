/*
 * blob_local.c - the blob store (blob.h) as a local directory: one file per
 * object, named as the object. Fills every op, including the optional
 * in-place ones (segments are appended and read at the same time).
 *
 * Whole-object writes (put, put_fd) go to a temporary ".put-*" file that is
 * fsynced and then hard-linked under the object's name (link(2) fails with
 * EEXIST rather than replace an object), unlinked, and the directory
 * fsynced: a crash leaves either the whole object or nothing but a temp
 * file, which the next blob_local_open() deletes. In-place objects are
 * created under their final name (O_EXCL); the caller's catalog decides
 * whether a half-written one is kept (crash recovery deletes objects the
 * catalog does not know).
 *
 * Reads are pread(2) on a descriptor per open object: nothing is mapped,
 * so reading a large object does not grow the daemon's RSS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "blob.h"
#include "fdio.h"

struct blob_local {
	struct blob_store base;
	int dirfd;
	mode_t mode;            /* of new object files */
	bool readonly;          /* BLOB_LOCAL_READONLY */
	atomic_bool dir_dirty;  /* names created or removed since sync */
	atomic_uint tmp_seq;
};

struct blob {
	int fd;
};

struct blob_wr {
	struct blob_local *s;
	int fd;
};

static struct blob_local *bl(struct blob_store *s)
{
	return (struct blob_local *)s;
}

/* A quota is "the store is full" too; the rest keep their cause. */
static int bl_space_errno(int e)
{
	return e == EDQUOT ? -ENOSPC : -e;
}

static int bl_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	int r = fd_pwrite_full(fd, buf, len, off);

	return r < 0 ? bl_space_errno(-r) : 0;
}

static int bl_open(struct blob_store *s, const char *name, struct blob **out,
		   uint64_t *size)
{
	struct blob *b;
	struct stat st;
	int fd, r;

	if (!blob_name_ok(name))
		return -EINVAL;
	fd = openat(bl(s)->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	b = malloc(sizeof(*b));
	if (b == NULL) {
		r = -ENOMEM;
		goto out_close;
	}
	b->fd = fd;
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	*out = b;
	return 0;

out_close:
	close(fd);
	return r;
}

static int bl_read(struct blob *b, void *dst, size_t len, uint64_t off)
{
	return fd_pread_full(b->fd, dst, len, off);
}

static void bl_close(struct blob *b)
{
	close(b->fd);
	free(b);
}

static int bl_stat(struct blob_store *s, const char *name, uint64_t *size)
{
	struct stat st;

	if (!blob_name_ok(name))
		return -EINVAL;
	if (fstatat(bl(s)->dirfd, name, &st, 0) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EIO;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Copy len bytes of fd (from offset 0) to out. */
static int bl_copy_fd(int out, int fd, uint64_t len)
{
	static const size_t bufsz = 1 << 20;
	uint64_t off = 0;
	uint8_t *buf;
	int r = 0;

	while (off < len) {
		loff_t in_off = (loff_t)off, out_off = (loff_t)off;
		ssize_t n = copy_file_range(fd, &in_off, out, &out_off,
					    (size_t)(len - off), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
			      errno == EINVAL || errno == EOPNOTSUPP))
			break;  /* fall back to read/write below */
		if (n < 0)
			return bl_space_errno(errno);
		if (n == 0)
			return -EIO;    /* fd shorter than len */
		off += (uint64_t)n;
	}
	if (off == len)
		return 0;
	buf = malloc(bufsz);
	if (buf == NULL)
		return -ENOMEM;
	while (off < len && r == 0) {
		size_t want = len - off < bufsz ? (size_t)(len - off) : bufsz;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		r = bl_pwrite_all(out, buf, (size_t)n, off);
		off += (uint64_t)n;
	}
	free(buf);
	return r;
}

/* Write a temp file with fill(), fsync it, link it in as name, fsync dir. */
static int bl_put_with(struct blob_local *s, const char *name,
		       const void *buf, size_t len, int src_fd)
{
	char tmp[64];
	int fd, r;

	if (!blob_name_ok(name))
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	snprintf(tmp, sizeof(tmp), ".put-%d-%u", (int)getpid(),
		 atomic_fetch_add(&s->tmp_seq, 1));
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    s->mode);
	if (fd < 0)
		return bl_space_errno(errno);
	if (src_fd >= 0)
		r = bl_copy_fd(fd, src_fd, len);
	else
		r = bl_pwrite_all(fd, buf, len, 0);
	if (r == 0 && fsync(fd) < 0)
		r = bl_space_errno(errno);
	if (close(fd) < 0 && r == 0)
		r = bl_space_errno(errno);
	if (r == 0 && linkat(s->dirfd, tmp, s->dirfd, name, 0) < 0)
		r = errno == EEXIST ? -EEXIST : bl_space_errno(errno);
	unlinkat(s->dirfd, tmp, 0);
	if (r == 0 && fsync(s->dirfd) < 0) {
		r = -errno;
		unlinkat(s->dirfd, name, 0);
	}
	return r;
}

static int bl_put(struct blob_store *s, const char *name, const void *buf,
		  size_t len)
{
	return bl_put_with(bl(s), name, buf, len, -1);
}

static int bl_put_fd(struct blob_store *s, const char *name, int fd,
		     uint64_t len)
{
	if (fd < 0)
		return -EBADF;
	return bl_put_with(bl(s), name, NULL, len, fd);
}

static int bl_list(struct blob_store *s, const char *prefix, blob_list_fn fn,
		   void *ctx)
{
	size_t plen = strlen(prefix);
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(bl(s)->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0) {
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			r = -errno;
			break;
		}
		if (!blob_name_ok(de->d_name) ||
		    strncmp(de->d_name, prefix, plen) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;       /* vanished, or not an object */
		r = fn(ctx, de->d_name, (uint64_t)st.st_size);
	}
	closedir(d);
	return r;
}

static int bl_remove(struct blob_store *s, const char *name)
{
	if (!blob_name_ok(name))
		return -EINVAL;
	if (bl(s)->readonly)
		return -EROFS;
	if (unlinkat(bl(s)->dirfd, name, 0) < 0)
		return -errno;
	atomic_store(&bl(s)->dir_dirty, true);
	return 0;
}

static int bl_sync(struct blob_store *s)
{
	if (!atomic_exchange(&bl(s)->dir_dirty, false))
		return 0;
	if (fsync(bl(s)->dirfd) < 0) {
		atomic_store(&bl(s)->dir_dirty, true);
		return -errno;
	}
	return 0;
}

static void bl_destroy(struct blob_store *s)
{
	close(bl(s)->dirfd);
	free(bl(s));
}

static int bl_create(struct blob_store *s, const char *name,
		     struct blob_wr **out)
{
	struct blob_wr *w;
	int fd;

	if (!blob_name_ok(name))
		return -EINVAL;
	if (bl(s)->readonly)
		return -EROFS;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	fd = openat(bl(s)->dirfd, name,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, bl(s)->mode);
	if (fd < 0) {
		int e = errno;

		free(w);
		return e == EEXIST ? -EEXIST : bl_space_errno(e);
	}
	atomic_store(&bl(s)->dir_dirty, true);
	w->s = bl(s);
	w->fd = fd;
	*out = w;
	return 0;
}

static int bl_wr_pwrite(struct blob_wr *w, const void *buf, size_t len,
			uint64_t off)
{
	return bl_pwrite_all(w->fd, buf, len, off);
}

static int bl_wr_pwritev(struct blob_wr *w, struct iovec *iov, int iovcnt,
			 uint64_t off)
{
	int r = fd_pwritev_full(w->fd, iov, iovcnt, off);

	return r < 0 ? bl_space_errno(-r) : 0;
}

static int bl_wr_truncate(struct blob_wr *w, uint64_t len)
{
	return ftruncate(w->fd, (off_t)len) < 0 ? -errno : 0;
}

static int bl_wr_sync(struct blob_wr *w)
{
	return fdatasync(w->fd) < 0 ? bl_space_errno(errno) : 0;
}

static int bl_wr_close(struct blob_wr *w, bool durable)
{
	int r = 0;

	if (durable) {
		if (fsync(w->fd) < 0)
			r = bl_space_errno(errno);
		else
			r = bl_sync(&w->s->base);
	}
	if (close(w->fd) < 0 && r == 0)
		r = bl_space_errno(errno);
	free(w);
	return r;
}

/* An existing blob opened for writing in place: its fd, or -errno. */
static int bl_open_wr(struct blob_store *s, const char *name)
{
	int fd;

	if (!blob_name_ok(name))
		return -EINVAL;
	if (bl(s)->readonly)
		return -EROFS;
	fd = openat(bl(s)->dirfd, name, O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int bl_truncate(struct blob_store *s, const char *name, uint64_t len)
{
	int fd, r = 0;

	fd = bl_open_wr(s, name);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)len) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int bl_punch(struct blob_store *s, const char *name, uint64_t off,
		    uint64_t len)
{
	int fd, r = 0;

	fd = bl_open_wr(s, name);
	if (fd < 0)
		return fd;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int bl_avail(struct blob_store *s, uint64_t *bytes)
{
	struct statvfs v;

	if (fstatvfs(bl(s)->dirfd, &v) < 0)
		return -errno;
	*bytes = (uint64_t)v.f_bavail * v.f_frsize;
	return 0;
}

static const struct blob_ops bl_ops = {
	.kind = "local",
	.open = bl_open,
	.read = bl_read,
	.close = bl_close,
	.stat = bl_stat,
	.put = bl_put,
	.put_fd = bl_put_fd,
	.list = bl_list,
	.remove = bl_remove,
	.sync = bl_sync,
	.destroy = bl_destroy,
	.create = bl_create,
	.wr_pwrite = bl_wr_pwrite,
	.wr_pwritev = bl_wr_pwritev,
	.wr_truncate = bl_wr_truncate,
	.wr_sync = bl_wr_sync,
	.wr_close = bl_wr_close,
	.truncate = bl_truncate,
	.punch = bl_punch,
	.avail = bl_avail,
};

/* Delete leftover temp files (".put-*") of a crashed put. */
static void bl_sweep_temps(struct blob_local *s)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".put-", 5) == 0 &&
		    unlinkat(s->dirfd, de->d_name, 0) == 0)
			atomic_store(&s->dir_dirty, true);
	closedir(d);
}

int blob_local_open(struct blob_store **out, const char *dir, mode_t mode,
		    unsigned flags)
{
	bool ro = flags & BLOB_LOCAL_READONLY;
	struct blob_local *s;
	int r;

	if (!ro && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->base.ops = &bl_ops;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = -errno;
		goto out_free;
	}
	s->mode = mode;
	s->readonly = ro;
	atomic_init(&s->dir_dirty, false);
	atomic_init(&s->tmp_seq, 0);
	if (!ro)
		bl_sweep_temps(s);
	*out = &s->base;
	return 0;

out_free:
	free(s);
	return r;
}
