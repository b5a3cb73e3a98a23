/*
 * meta_vfs.c - a SQLite VFS shim that writes each WAL commit with one
 * system call.
 *
 * What it is: a thin layer over SQLite's default VFS ("unix"), registered
 * as META_VFS_NAME and used by meta_open. Every file and every VFS call
 * goes straight through, except the writes to a -wal file: SQLite writes a
 * WAL frame as two pwrite(2)s (24-byte header, then the page), so a
 * transaction that changes six pages costs twelve system calls. Here the
 * contiguous writes of one transaction are gathered in a buffer and
 * written with one pwrite when the commit frame (the frame whose header
 * carries the database size, bytes 4-7 non-zero) has been written whole.
 * A create or a close of a small file thus costs one write to the WAL
 * instead of ten to twenty (measured with strace -c: 22 pwrite per 3 KiB
 * create before).
 *
 * Crash and error semantics are unchanged: the buffer is written inside the
 * xWrite call of the commit frame's page, before SQLite updates its
 * wal-index and before COMMIT returns, so a committed transaction is in the
 * kernel (safe from kill -9) exactly when it was before, and a failed
 * write (ENOSPC, EIO) fails that xWrite and with it the commit, which
 * SQLite rolls back as usual. Frames of a transaction that is rolled back
 * may sit in the buffer; they are written (harmlessly: no commit frame
 * follows them) before anything else touches the file. Any read, size
 * query, truncate, sync or close of the WAL writes the buffer first, so
 * SQLite never sees the file without its own writes.
 *
 * Whole blocks. A write that covers only part of a file block whose page
 * is not in the page cache makes the kernel read that block first, and
 * the WAL is rewritten from its start after every checkpoint, over pages
 * the kernel may have dropped: measured here, half of a commit's time went
 * to such reads. So each gathered write starts at a block boundary (the
 * bytes of the block before it are what the previous write ended with,
 * kept in `tail`) and, when nothing of this WAL generation lies beyond it,
 * ends at one (zeros after its end: past the last frame written, WAL
 * content is either of an older generation, whose salts no longer match,
 * or of no commit, and SQLite's recovery stops at the first frame that
 * does not check out either way).
 *
 * What it is not: a cache, or a change of the WAL format; the files are
 * ordinary SQLite files that the sqlite3 shell and tierfs-fsck read.
 *
 * Thread safety: one sqlite3_file is used by one connection, and tierfs
 * serializes its connection with meta->lock.
 */
#include "meta_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Largest buffered run; a transaction writing more is written in parts.
 * With a block of head and tail it stays under 128 KiB: the unix VFS writes
 * at most 0x1ffff bytes per call (it masks the length), and a longer write
 * that is a multiple of 128 KiB comes back short as SQLITE_FULL. */
#define WALBUF_MAX (112 * 1024)
/* The alignment aimed at: the page size of the page cache. */
#define WAL_BLOCK 4096
/* WAL frame header (SQLite file format, section 4.1). */
#define WAL_FRAME_HDR 24

struct vfile {
	sqlite3_file base;      /* pMethods = &vfile_methods */
	sqlite3_file *real;     /* the default VFS's file, just after us */
	bool wal;               /* a -wal file: writes are gathered */
	bool commit_hdr;        /* the last write was a commit frame header */
	sqlite3_int64 commit_at;        /* where its page follows */
	unsigned char *buf;     /* once the first write came: a block of
				   room, then WALBUF_MAX gathered, then a
				   block of room */
	size_t len;             /* bytes gathered (after the first block) */
	sqlite3_int64 off;      /* file offset of the gathered bytes */
	unsigned char tail[WAL_BLOCK];  /* the file's bytes [tail_end -
					   tail_len, tail_end), a block's
					   start, as last written */
	size_t tail_len;        /* 0: not known */
	sqlite3_int64 tail_end;
	sqlite3_int64 gen_end;  /* end of what this WAL generation wrote
				   (a write at offset 0 starts one) */
};

#define GATHERED(f) ((f)->buf + WAL_BLOCK)

static sqlite3_vfs vfs_shim;
static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;
static int vfs_registered = SQLITE_ERROR;

static sqlite3_vfs *under(void)
{
	return vfs_shim.pAppData;
}

static void vfile_wrote(struct vfile *f, sqlite3_int64 off, sqlite3_int64 end)
{
	if (off == 0)
		f->gen_end = 0;         /* the header: a new generation */
	if (end > f->gen_end)
		f->gen_end = end;
	f->tail_len = 0;
}

/* Write what is gathered, from the block boundary before it (with the
 * kept tail) to the one after it when that is past this generation's
 * end; SQLite's own error code. */
static int vfile_flush(struct vfile *f)
{
	sqlite3_int64 end = f->off + (sqlite3_int64)f->len, start;
	size_t pre = 0, pad = 0, keep;
	unsigned char *p = GATHERED(f);
	int rc;

	if (!f->len)
		return SQLITE_OK;
	if (f->off == 0)
		f->gen_end = 0;
	if (f->tail_len && f->tail_end == f->off) {
		pre = f->tail_len;
		memcpy(p - pre, f->tail, pre);
	}
	if (end >= f->gen_end && end % WAL_BLOCK) {
		pad = WAL_BLOCK - (size_t)(end % WAL_BLOCK);
		memset(p + f->len, 0, pad);
	}
	start = f->off - (sqlite3_int64)pre;
	rc = f->real->pMethods->xWrite(f->real, p - pre,
				       (int)(pre + f->len + pad), start);
	f->len = 0;
	f->tail_len = 0;
	if (rc != SQLITE_OK)
		return rc;
	if (end > f->gen_end)
		f->gen_end = end;
	keep = (size_t)(end % WAL_BLOCK);
	if (keep && end - (sqlite3_int64)keep >= start) {
		memcpy(f->tail, p + (end - (sqlite3_int64)keep - f->off), keep);
		f->tail_len = keep;
		f->tail_end = end;
	}
	return SQLITE_OK;
}

static int vfile_close(sqlite3_file *pf)
{
	struct vfile *f = (struct vfile *)pf;
	int rc = vfile_flush(f), rc2;

	rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int vfile_read(sqlite3_file *pf, void *p, int amt, sqlite3_int64 off)
{
	struct vfile *f = (struct vfile *)pf;
	int rc = vfile_flush(f);

	if (rc != SQLITE_OK)
		return rc;
	return f->real->pMethods->xRead(f->real, p, amt, off);
}

static int vfile_write(sqlite3_file *pf, const void *p, int amt,
		       sqlite3_int64 off)
{
	struct vfile *f = (struct vfile *)pf;
	const unsigned char *b = p;
	bool commit;
	int rc;

	if (!f->wal)
		return f->real->pMethods->xWrite(f->real, p, amt, off);
	/* The page of a commit frame completes the transaction. */
	commit = f->commit_hdr && off == f->commit_at;
	f->commit_hdr = amt == WAL_FRAME_HDR &&
			(b[4] | b[5] | b[6] | b[7]) != 0;
	f->commit_at = off + amt;
	if (!f->buf && !(f->buf = malloc(WALBUF_MAX + 2 * WAL_BLOCK))) {
		vfile_wrote(f, off, off + amt);
		return f->real->pMethods->xWrite(f->real, p, amt, off);
	}
	if (f->len && (off != f->off + (sqlite3_int64)f->len ||
		       f->len + (size_t)amt > WALBUF_MAX)) {
		rc = vfile_flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	if ((size_t)amt > WALBUF_MAX) {
		vfile_wrote(f, off, off + amt);
		return f->real->pMethods->xWrite(f->real, p, amt, off);
	}
	if (!f->len)
		f->off = off;
	memcpy(GATHERED(f) + f->len, p, (size_t)amt);
	f->len += (size_t)amt;
	return commit ? vfile_flush(f) : SQLITE_OK;
}

static int vfile_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
	struct vfile *f = (struct vfile *)pf;
	int rc = vfile_flush(f);

	f->tail_len = 0;
	if (f->gen_end > size)
		f->gen_end = size;
	return rc != SQLITE_OK ? rc
			       : f->real->pMethods->xTruncate(f->real, size);
}

static int vfile_sync(sqlite3_file *pf, int flags)
{
	struct vfile *f = (struct vfile *)pf;
	int rc = vfile_flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int vfile_size(sqlite3_file *pf, sqlite3_int64 *size)
{
	struct vfile *f = (struct vfile *)pf;
	int rc = vfile_flush(f);

	return rc != SQLITE_OK ? rc
			       : f->real->pMethods->xFileSize(f->real, size);
}

static int vfile_lock(sqlite3_file *pf, int l)
{
	struct vfile *f = (struct vfile *)pf;

	return f->real->pMethods->xLock(f->real, l);
}

static int vfile_unlock(sqlite3_file *pf, int l)
{
	struct vfile *f = (struct vfile *)pf;

	return f->real->pMethods->xUnlock(f->real, l);
}

static int vfile_check_lock(sqlite3_file *pf, int *out)
{
	struct vfile *f = (struct vfile *)pf;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int vfile_fcntl(sqlite3_file *pf, int op, void *arg)
{
	struct vfile *f = (struct vfile *)pf;

	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int vfile_sector(sqlite3_file *pf)
{
	struct vfile *f = (struct vfile *)pf;

	return f->real->pMethods->xSectorSize(f->real);
}

static int vfile_caps(sqlite3_file *pf)
{
	struct vfile *f = (struct vfile *)pf;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int vfile_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend,
			 void volatile **pp)
{
	struct vfile *f = (struct vfile *)pf;

	if (f->real->pMethods->iVersion < 2)
		return SQLITE_IOERR;
	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int vfile_shm_lock(sqlite3_file *pf, int off, int n, int flags)
{
	struct vfile *f = (struct vfile *)pf;

	if (f->real->pMethods->iVersion < 2)
		return SQLITE_IOERR;
	return f->real->pMethods->xShmLock(f->real, off, n, flags);
}

static void vfile_shm_barrier(sqlite3_file *pf)
{
	struct vfile *f = (struct vfile *)pf;

	if (f->real->pMethods->iVersion >= 2)
		f->real->pMethods->xShmBarrier(f->real);
}

static int vfile_shm_unmap(sqlite3_file *pf, int del)
{
	struct vfile *f = (struct vfile *)pf;

	if (f->real->pMethods->iVersion < 2)
		return SQLITE_OK;
	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int vfile_fetch(sqlite3_file *pf, sqlite3_int64 off, int amt,
		       void **pp)
{
	struct vfile *f = (struct vfile *)pf;

	*pp = NULL;
	if (f->real->pMethods->iVersion < 3)
		return SQLITE_OK;
	if (f->len) {
		int rc = vfile_flush(f);

		if (rc != SQLITE_OK)
			return rc;
	}
	return f->real->pMethods->xFetch(f->real, off, amt, pp);
}

static int vfile_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
	struct vfile *f = (struct vfile *)pf;

	if (f->real->pMethods->iVersion < 3)
		return SQLITE_OK;
	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods vfile_methods = {
	.iVersion = 3,
	.xClose = vfile_close,
	.xRead = vfile_read,
	.xWrite = vfile_write,
	.xTruncate = vfile_truncate,
	.xSync = vfile_sync,
	.xFileSize = vfile_size,
	.xLock = vfile_lock,
	.xUnlock = vfile_unlock,
	.xCheckReservedLock = vfile_check_lock,
	.xFileControl = vfile_fcntl,
	.xSectorSize = vfile_sector,
	.xDeviceCharacteristics = vfile_caps,
	.xShmMap = vfile_shm_map,
	.xShmLock = vfile_shm_lock,
	.xShmBarrier = vfile_shm_barrier,
	.xShmUnmap = vfile_shm_unmap,
	.xFetch = vfile_fetch,
	.xUnfetch = vfile_unfetch,
};

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf,
		    int flags, int *out_flags)
{
	struct vfile *f = (struct vfile *)pf;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	f->wal = (flags & SQLITE_OPEN_WAL) != 0;
	rc = under()->xOpen(under(), name, f->real, flags, out_flags);
	if (f->real->pMethods)
		f->base.pMethods = &vfile_methods;
	return rc;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return under()->xDelete(under(), name, sync_dir);
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags,
		      int *out)
{
	(void)vfs;
	return under()->xAccess(under(), name, flags, out);
}

static int vfs_full_path(sqlite3_vfs *vfs, const char *name, int n,
			 char *out)
{
	(void)vfs;
	return under()->xFullPathname(under(), name, n, out);
}

static void *vfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return under()->xDlOpen(under(), name);
}

static void vfs_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	under()->xDlError(under(), n, msg);
}

static void (*vfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return under()->xDlSym(under(), h, sym);
}

static void vfs_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	under()->xDlClose(under(), h);
}

static int vfs_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return under()->xRandomness(under(), n, out);
}

static int vfs_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return under()->xSleep(under(), us);
}

static int vfs_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return under()->xCurrentTime(under(), out);
}

static int vfs_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return under()->xGetLastError(under(), n, out);
}

static int vfs_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return under()->xCurrentTimeInt64(under(), out);
}

static void vfs_register(void)
{
	sqlite3_vfs *u = sqlite3_vfs_find(NULL);

	if (!u || u->iVersion < 2)
		return;
	vfs_shim = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)((sizeof(struct vfile) + 15) & ~(size_t)15) +
			    u->szOsFile,
		.mxPathname = u->mxPathname,
		.zName = META_VFS_NAME,
		.pAppData = u,
		.xOpen = vfs_open,
		.xDelete = vfs_delete,
		.xAccess = vfs_access,
		.xFullPathname = vfs_full_path,
		.xDlOpen = vfs_dlopen,
		.xDlError = vfs_dlerror,
		.xDlSym = vfs_dlsym,
		.xDlClose = vfs_dlclose,
		.xRandomness = vfs_random,
		.xSleep = vfs_sleep,
		.xCurrentTime = vfs_time,
		.xGetLastError = vfs_last_error,
		.xCurrentTimeInt64 = vfs_time64,
	};
	vfs_registered = sqlite3_vfs_register(&vfs_shim, 0);
}

const char *meta_vfs_name(void)
{
	pthread_once(&vfs_once, vfs_register);
	return vfs_registered == SQLITE_OK ? META_VFS_NAME : NULL;
}
