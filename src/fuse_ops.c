/*
 * fuse_ops.c - the FUSE adapter: libfuse low-level requests in, fs.h calls,
 * exactly one reply out.
 *
 * Each handler decodes its request, calls one core function that returns 0
 * or -errno, and replies once; no handler holds a core lock while replying
 * (the core functions return with every lock dropped). Node ids are the
 * addresses of struct tfs_inode (FUSE_ROOT_ID maps to the root); the core
 * keeps each object alive until the kernel forgets it.
 *
 * Caching: the kernel is the only writer of this tree, so entries and
 * attributes are cached for a long time and file pages are kept across
 * opens (keep_cache); virtual .tiers files have zero timeouts.
 *
 * ZERO-MESSAGE OPEN. When the kernel supports it (FUSE_CAP_NO_OPEN_SUPPORT)
 * OPEN of a regular file is answered ENOSYS: from then on the kernel sends
 * no OPEN and no RELEASE on this connection and keeps every file's page
 * cache across opens, so reopening a cached file costs no round trip. FLUSH
 * is answered ENOSYS as well (the kernel then stops sending it), which is
 * safe because every WRITE is durable before it is answered (fs_write) and
 * the kernel sends a file's pending writes before close(2) returns.
 *
 * The kernel's writeback cache stays off: with it the kernel keeps size
 * and mtime of every regular file to itself and ignores ours, so the
 * control files could neither change size nor have their pages dropped,
 * and it adds a synchronous SETATTR (times) to every close of a written
 * file. Without it each write(2) is one WRITE, made durable before it
 * returns: a program writing in small pieces rewrites the tail chunk each
 * time (a known cost; cp and dd write 128 KiB to 1 MiB at a time, tar
 * 10 KiB).
 *
 * O_TRUNC then arrives as a SETATTR of the size without a file handle
 * (atomic O_TRUNC is turned off: it needs an OPEN to carry it).
 *
 * CREATE is answered (the one open the kernel still asks about): a
 * descriptor opened O_WRONLY by a create gets FOPEN_DIRECT_IO, so its
 * writes go to the daemon without a copy in the kernel's page cache and
 * without the GETXATTR security.capability the cached write path sends
 * before the first write to each new inode (a 3 KiB create+write+close is
 * LOOKUP, CREATE, WRITE, GETATTR of the directory, and an asynchronous
 * RELEASE, instead of LOOKUP, MKNOD, GETXATTR, WRITE, GETATTR). Such a
 * descriptor can neither read nor be mmap'd, so nothing that depends on
 * the page cache goes through it; other descriptors of the file keep the
 * page cache, and the mtime each WRITE moves drops their cached pages
 * (FUSE_CAP_AUTO_INVAL_DATA). The kernel leaves clearing set-id bits and
 * file capabilities on such writes to us (fs_write_kill_priv).
 * Descriptors created O_RDWR or O_RDONLY keep the page cache; FLUSH is
 * never asked for (noflush).
 * The control files under .tiers report their rendering's size and mtime
 * at every GETATTR; with FUSE_CAP_AUTO_INVAL_DATA the kernel drops its
 * cached copy whenever that mtime moved, so every read(2) sees a fresh one.
 */
#include "fuse_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "heap_tune.h"

#define CACHE_TIMEOUT 86400.0
/* Largest read and write request (max_write, readahead). */
#define READ_BUF_MAX (1024 * 1024)

/* fi->fh of a descriptor a create opened for direct writes; no fs_file
 * is behind it (file_of() maps it to NULL). */
#define FH_DIRECT_WRITE ((uint64_t)1)

/* Set once before the session's loop starts; read by handlers. */
static struct fuse_session *ops_session;
static bool ops_threaded;

void fuse_ops_set_session(struct fuse_session *se, bool threaded)
{
	ops_session = se;
	ops_threaded = threaded;
}

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_file *file_of(const struct fuse_file_info *fi)
{
	if (!fi || fi->fh == FH_DIRECT_WRITE)
		return NULL;
	return (struct fs_file *)(uintptr_t)fi->fh;
}

static struct tfs_inode *node(fuse_req_t req, fuse_ino_t n)
{
	if (n == FUSE_ROOT_ID)
		return fs_root(fs_of(req));
	return (struct tfs_inode *)(uintptr_t)n;
}

static double timeout_of(const struct tfs_inode *ino)
{
	return ino->kind == INODE_REAL ? CACHE_TIMEOUT : 0.0;
}

static void reply_err(fuse_req_t req, int err)
{
	fuse_reply_err(req, -err);
}

/* Names under .tiers change as files move: never cached there. */
static void reply_entry_in(fuse_req_t req, int rc, struct tfs_inode *parent,
			   struct tfs_inode *ino, const struct stat *st)
{
	struct fuse_entry_param e;

	if (rc) {
		reply_err(req, rc);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino == fs_root(fs_of(req)) ? FUSE_ROOT_ID : (uintptr_t)ino;
	e.attr = *st;
	e.attr_timeout = timeout_of(ino);
	e.entry_timeout = parent && parent->kind != INODE_REAL ? 0.0
							     : timeout_of(ino);
	fuse_reply_entry(req, &e);
}

static void reply_entry(fuse_req_t req, int rc, struct tfs_inode *ino,
			const struct stat *st)
{
	reply_entry_in(req, rc, NULL, ino, st);
}

static struct fs_caller caller_of(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return (struct fs_caller){
		.uid = ctx->uid, .gid = ctx->gid, .umask = ctx->umask,
	};
}

/* The caller changes `ino` (NULL: the namespace): see fs_replace_note. */
static void note_caller(fuse_req_t req, struct tfs_inode *ino)
{
	fs_replace_note(fs_of(req), (uint32_t)fuse_req_ctx(req)->pid, ino);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *f = userdata;
	bool zero_open = conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;

	conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* POSIX ACLs: the kernel enforces and caches them; we store them,
	 * keep the mode in step and inherit default ACLs (fs_acl.c), which
	 * means applying the umask ourselves (only without a default ACL). */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) &&
	    (conn->capable & FUSE_CAP_DONT_MASK)) {
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
		fs_set_acl(userdata, true);
	}
	if (zero_open) {
		/* No OPEN may carry O_TRUNC; the control files need their
		 * cached pages dropped when their mtime moves. */
		conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
		/* No writeback cache (see above). */
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	} else {
		/* Our pages change only through this mount: no invalidation
		 * on mtime changes. */
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	}
	fs_set_zero_open(f, zero_open);
	conn->max_write = READ_BUF_MAX;
	conn->max_readahead = READ_BUF_MAX;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct tfs_inode *ino = NULL;
	struct stat st;
	int rc = fs_lookup(fs_of(req), node(req, parent), name, &ino, &st);

	if (rc == -ENOENT && node(req, parent)->kind == INODE_REAL) {
		/* A negative entry the kernel may cache. */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = CACHE_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry_in(req, rc, node(req, parent), ino, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(fs_of(req), node(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_forget(fs_of(req), node(req, forgets[i].ino),
			  forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct tfs_inode *n = node(req, ino);
	struct stat st;
	int rc = fs_getattr(fs_of(req), n, &st);

	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, timeout_of(n));
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	static const struct { int fuse, fs; } map[] = {
		{ FUSE_SET_ATTR_MODE, FS_SET_MODE },
		{ FUSE_SET_ATTR_UID, FS_SET_UID },
		{ FUSE_SET_ATTR_GID, FS_SET_GID },
		{ FUSE_SET_ATTR_SIZE, FS_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, FS_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, FS_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, FS_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, FS_SET_MTIME_NOW },
		{ FUSE_SET_ATTR_CTIME, FS_SET_CTIME },
	};
	struct tfs_inode *n = node(req, ino);
	struct stat st;
	int set = 0, rc;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (to_set & map[i].fuse)
			set |= map[i].fs;
	rc = fs_setattr(fs_of(req), n, attr, set, &st);
	note_caller(req, n);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, timeout_of(n));
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[4096];
	int rc = fs_readlink(fs_of(req), node(req, ino), buf, sizeof(buf));

	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_readlink(req, buf);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs_caller c = caller_of(req);
	struct tfs_inode *ino = NULL;
	struct stat st;
	int rc;

	note_caller(req, NULL);
	rc = fs_mknod(fs_of(req), &c, node(req, parent), name, mode, rdev,
		      &ino, &st);
	reply_entry(req, rc, ino, &st);
	heap_tune_prefault();   /* a new inode may have grown the heap */
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs_caller c = caller_of(req);
	struct tfs_inode *ino = NULL;
	struct stat st;
	int rc;

	note_caller(req, NULL);
	rc = fs_mkdir(fs_of(req), &c, node(req, parent), name, mode, &ino,
		      &st);
	reply_entry(req, rc, ino, &st);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fs_caller c = caller_of(req);
	struct tfs_inode *ino = NULL;
	struct stat st;
	int rc;

	note_caller(req, NULL);
	rc = fs_symlink(fs_of(req), &c, node(req, parent), name, link,
			&ino, &st);
	reply_entry(req, rc, ino, &st);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct tfs_inode *n = node(req, ino);
	struct stat st;
	int rc;

	note_caller(req, NULL);
	rc = fs_link(fs_of(req), n, node(req, newparent), newname, &st);
	reply_entry(req, rc, n, &st);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	note_caller(req, NULL);
	reply_err(req, fs_unlink(fs_of(req), node(req, parent), name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	note_caller(req, NULL);
	reply_err(req, fs_rmdir(fs_of(req), node(req, parent), name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	note_caller(req, NULL);
	reply_err(req, fs_rename(fs_of(req), node(req, parent), name,
				 node(req, newparent), newname, flags));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *fh = NULL;
	bool direct = false;
	int rc;

	if (fs_zero_open(fs_of(req)) && node(req, ino)->kind == INODE_REAL) {
		/* Never again an OPEN or RELEASE on this connection. */
		reply_err(req, -ENOSYS);
		return;
	}
	rc = fs_open(fs_of(req), node(req, ino), fi->flags, &fh, &direct);

	if (rc) {
		reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)fh;
	fi->direct_io = direct;
	fi->keep_cache = !direct;
	/* Nothing to write back when a read-only descriptor is closed:
	 * spare close(2) the FLUSH round trip. */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
	fuse_reply_open(req, fi);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs_caller c = caller_of(req);
	struct fuse_entry_param e;
	struct tfs_inode *ino = NULL;
	struct fs_file *fh = NULL;
	int rc;

	note_caller(req, NULL);
	rc = fs_create(fs_of(req), &c, node(req, parent), name, mode,
		       fi->flags, &ino, &e.attr, &fh);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	e.ino = (uintptr_t)ino;
	e.generation = 0;
	e.attr_timeout = CACHE_TIMEOUT;
	e.entry_timeout = CACHE_TIMEOUT;
	fi->fh = (uintptr_t)fh;
	fi->keep_cache = 1;
	if (fs_zero_open(fs_of(req))) {
		/* Every WRITE is durable when answered: no FLUSH. A new file
		 * (fh is NULL) written through a write-only descriptor: direct
		 * writes (see the top of this file). */
		fi->noflush = 1;
		if (!fh && (fi->flags & O_ACCMODE) == O_WRONLY) {
			fi->direct_io = 1;
			fi->fh = FH_DIRECT_WRITE;
		}
	}
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* The caller was interrupted: undo the open and lookup. */
		fs_release(fs_of(req), ino, fh);
		fs_forget(fs_of(req), ino, 1);
	}
	heap_tune_prefault();   /* a new inode may have grown the heap */
}

/*
 * READ replies are built in a buffer each worker thread keeps for its life
 * (freed by the key's destructor when libfuse retires the thread): a
 * malloc and free of up to 1 MiB per READ, with the daemon's single malloc
 * arena (heap_tune.c), shrank and grew the heap's top each time and
 * faulted the reply's pages in again - half of the daemon's CPU in a
 * sequential cold read (0.16-0.24 s against 0.08-0.12 s per 128 MiB).
 * Per-thread scratch, not shared state: no lock, nothing outlives its
 * thread. If the key cannot be made, each READ mallocs as before.
 */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;
static bool read_buf_ok;        /* written once, under read_buf_once */

static void read_buf_make_key(void)
{
	read_buf_ok = pthread_key_create(&read_buf_key, free) == 0;
}

static char *read_buf_of_thread(void)
{
	char *b;

	(void)pthread_once(&read_buf_once, read_buf_make_key);
	if (!read_buf_ok)
		return NULL;
	b = pthread_getspecific(read_buf_key);
	if (!b) {
		b = malloc(READ_BUF_MAX);
		if (b && pthread_setspecific(read_buf_key, b) != 0) {
			free(b);
			b = NULL;
		}
	}
	return b;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	char *buf, *own = NULL;
	ssize_t n;

	if (size > READ_BUF_MAX)
		size = READ_BUF_MAX;
	buf = read_buf_of_thread();
	if (!buf)
		buf = own = malloc(size ? size : 1);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	n = fs_read(fs, node(req, ino), file_of(fi), buf, size, off);
	if (n < 0)
		reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(own);
	fs_read_done(fs);       /* after the reply: req is gone */
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *f = fs_of(req);      /* the reply frees req */
	struct tfs_inode *n_ino = node(req, ino);
	bool direct = fi->fh == FH_DIRECT_WRITE;
	ssize_t n;

	if (direct) {
		/* The kernel left its kill-priv step (set-id bits, file
		 * capabilities; done on cached writes) to us. */
		struct fs_caller c = caller_of(req);
		int k = fs_write_kill_priv(f, n_ino, &c);

		if (k < 0) {
			reply_err(req, k);
			return;
		}
		if (k > 0)
			/* The kernel's cached mode and ctime are old. */
			(void)fuse_lowlevel_notify_inval_inode(ops_session,
							       ino, -1, 0);
	}
	n = fs_write(f, n_ino, file_of(fi), buf, size, off);
	if (n > 0 && direct && ops_threaded && fs_was_read(n_ino))
		/* Pages of this file the kernel cached for other descriptors
		 * (an mmap too) now hold old bytes: drop them before write(2)
		 * returns, as the kernel does for O_DIRECT writes. It may
		 * wait for a READ of such a page, which another worker
		 * answers (hence not with -s, where the mtime check on the
		 * next read(2) does it). */
		(void)fuse_lowlevel_notify_inval_inode(ops_session, ino, off,
						       (off_t)n);
	note_caller(req, n_ino);
	if (n < 0)
		reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
	heap_tune_prefault();   /* new hot chunks may have grown the heap */
	fs_write_after_reply(f);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	/* Every WRITE was durable when answered: nothing is left to do at
	 * close, so the kernel may stop asking. */
	if (fs_zero_open(fs_of(req))) {
		reply_err(req, -ENOSYS);
		return;
	}
	reply_err(req, fs_flush(fs_of(req), node(req, ino)));
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	reply_err(req, fs_release(fs_of(req), node(req, ino), file_of(fi)));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	reply_err(req, fs_fsync(fs_of(req), node(req, ino), datasync));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	reply_err(req, fs_fallocate(fs_of(req), node(req, ino), mode, offset,
				    length));
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t out = 0;
	int rc = fs_lseek(fs_of(req), node(req, ino), off, whence, &out);

	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_lseek(req, out);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_dir *d = NULL;
	int rc = fs_opendir(fs_of(req), node(req, ino), &d);

	if (rc) {
		reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fs *f = fs_of(req);
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	const struct fs_dirent *de;
	char *buf = malloc(size);
	size_t pos = 0;
	uint64_t idx;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	if (off == 0) {
		/* rewinddir(3): a fresh listing. */
		int rc = fs_dir_rewind(f, d);

		if (rc) {
			free(buf);
			reply_err(req, rc);
			return;
		}
	}
	for (idx = (uint64_t)off; (de = fs_dir_entry(d, idx)); idx++) {
		size_t len;

		if (plus) {
			struct fuse_entry_param e;
			struct tfs_inode *child = NULL;
			int rc;

			memset(&e, 0, sizeof(e));
			rc = fs_dir_entry_plus(f, d, idx, &child, &e.attr);
			if (rc == -EAGAIN || rc == -ENOENT) {
				/* "." and "..", or gone since opendir. */
				e.attr.st_ino = de->ino;
				e.attr.st_mode = de->mode;
				if (rc == -ENOENT)
					continue;
			} else if (rc) {
				break;
			} else {
				e.ino = (uintptr_t)child;
				e.attr_timeout = timeout_of(child);
				e.entry_timeout = node(req, ino)->kind ==
					INODE_REAL ? timeout_of(child) : 0.0;
			}
			len = fuse_add_direntry_plus(req, buf + pos,
						     size - pos, de->name,
						     &e, (off_t)idx + 1);
			if (len > size - pos) {
				if (child)
					fs_forget(f, child, 1);
				break;
			}
		} else {
			struct stat st = {
				.st_ino = de->ino, .st_mode = de->mode,
			};

			len = fuse_add_direntry(req, buf + pos, size - pos,
						de->name, &st, (off_t)idx + 1);
			if (len > size - pos)
				break;
		}
		pos += len;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fs_closedir(fs_of(req), (struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	reply_err(req, fs_fsyncdir(fs_of(req), node(req, ino)));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int rc = fs_statfs(fs_of(req), &st);

	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_statfs(req, &st);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	reply_err(req, fs_setxattr(fs_of(req), node(req, ino), name, value,
				   size, flags));
}

static void reply_xattr_result(fuse_req_t req, int n, const char *buf,
			       size_t size)
{
	if (n < 0)
		reply_err(req, n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	int n;

	if (size && !buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	n = fs_getxattr(fs_of(req), node(req, ino), name, buf, size);
	reply_xattr_result(req, n, buf, size);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	int n;

	if (size && !buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	n = fs_listxattr(fs_of(req), node(req, ino), buf, size);
	reply_xattr_result(req, n, buf, size);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	reply_err(req, fs_removexattr(fs_of(req), node(req, ino), name));
}

const struct fuse_lowlevel_ops tierfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
};
