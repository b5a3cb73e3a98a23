/*
 * meta_int.h - private to meta.c, meta_inode.c and meta_data.c: the
 * struct meta they share, the statement ids (the SQL itself is the table in
 * meta.c, prepared once at open) and the small helpers every call is built
 * from: error mapping, stepping, binding (an inode's columns too), and the
 * take-lock/run/unlock pattern.
 *
 * What it is not: an API. Everybody else uses meta.h. The locking and
 * transaction rules are in meta.c's DESIGN comment.
 */
#ifndef TIERFS_META_INT_H
#define TIERFS_META_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "meta.h"

/* One prepared statement per id: m->st[id] runs meta_sql[id] (meta.c). */
enum meta_st {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_UNDO,
	ST_NEXT_ID,
	ST_INO_CREATE, ST_INO_CREATE_AT, ST_INO_RESERVE,
	ST_INO_GET, ST_INO_UPDATE, ST_INO_ACCESS, ST_INO_TIER,
	ST_INO_DEL,
	ST_INO_ORPHANS,
	ST_INO_SCAN, ST_INO_COUNT,
	ST_DE_LOOKUP, ST_DE_ADD, ST_DE_REMOVE, ST_DE_SET, ST_DE_MOVE,
	ST_DIR_EMPTY, ST_DE_PARENT, ST_DIR_LIST,
	ST_SYM_SET, ST_SYM_GET, ST_SYM_DEL,
	ST_XA_GET, ST_XA_INSERT, ST_XA_UPDATE, ST_XA_UPSERT, ST_XA_LIST,
	ST_XA_REMOVE, ST_XA_DEL_ALL, ST_XA_BY_NAME,
	ST_EXT_PUT, ST_EXT_GET, ST_EXT_LIST, ST_EXT_TRUNC, ST_EXT_PUNCH, ST_EXT_DEL_ALL,
	ST_EXT_LIST_SEG, ST_EXT_DEL_SHADOW, ST_EXT_PUBLISH, ST_EXT_DROP_SHADOWS,
	ST_COLD_PUT, ST_COLD_GET, ST_COLD_DEL, ST_COLD_LIST,
	ST_SEG_COMMIT, ST_SEG_DEL, ST_SEG_LIST, ST_SEG_GET,
	ST_ARC_ADD, ST_ARC_DEL, ST_ARC_LIST, ST_ARC_GET,
	ST_COUNT
};

struct meta {
	pthread_mutex_t lock;           /* recursive; a leaf lock */
	sqlite3 *db;                    /* protected by lock */
	sqlite3_stmt *st[ST_COUNT];     /* protected by lock */
	unsigned depth;                 /* protected by lock: open groups */
	uint64_t ino_next, ino_end;     /* protected by lock: inode numbers
					   [next, end) reserved by a
					   committed transaction, unused
					   (meta_inode.c) */
	char *path;                     /* immutable after open */
	char *wal_path;                 /* immutable after open */
	/* The background check (meta_check.c). */
	atomic_bool damaged;            /* SQLite found damage: no writes */
	struct meta_checker *checker;   /* owned by the caller of
					 * meta_check_start/meta_check_stop */
};

/* The VFS meta_open uses (meta_vfs.c): SQLite's default one, with the
 * writes of each WAL commit gathered into one. NULL (the default VFS) if it
 * could not be registered. */
#define META_VFS_NAME "tierfs-wal"
const char *meta_vfs_name(void);

/* Turn a SQLite result code into a negative errno, logging real failures. */
static inline int meta_rc(struct meta *m, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		tfs_warn("meta: %s: %s", what, sqlite3_errmsg(m->db));
		return -ENOSPC;
	case SQLITE_NOMEM:
		tfs_warn("meta: %s: out of memory", what);
		return -ENOMEM;
	}
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -EEXIST;
	if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		atomic_store(&m->damaged, true);
	tfs_err("meta: %s: %s", what, m->db ? sqlite3_errmsg(m->db)
		: sqlite3_errstr(rc));
	return -EIO;
}

/* Step st: SQLITE_ROW, SQLITE_DONE or a negative errno. The caller resets. */
static inline int meta_step(struct meta *m, sqlite3_stmt *st)
{
	int rc;

	if (m->depth && sqlite3_get_autocommit(m->db)) {
		tfs_err("meta: %s: transaction was aborted", sqlite3_sql(st));
		return -EIO;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc;
	return meta_rc(m, rc, sqlite3_sql(st));
}

/* Step a statement that returns no row and reset it: 0 or -errno. */
static inline int meta_run(struct meta *m, sqlite3_stmt *st)
{
	int rc = meta_step(m, st);

	sqlite3_reset(st);
	return rc < 0 ? rc : 0;
}

static inline void bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static inline void bind_name(sqlite3_stmt *st, int i, const char *name)
{
	sqlite3_bind_blob(st, i, name, (int)strlen(name), SQLITE_STATIC);
}

static inline uint64_t col_u64(sqlite3_stmt *st, int i)
{
	return (uint64_t)sqlite3_column_int64(st, i);
}

/* Take the lock and bind v[0..n) to ?1..?n of statement `which`. */
static inline sqlite3_stmt *meta_prep(struct meta *m, enum meta_st which,
				      int n, const uint64_t *v)
{
	int i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < n; i++)
		bind_u64(m->st[which], i + 1, v[i]);
	return m->st[which];
}

/* Run st (from meta_prep) and unlock: 0, -errno, or `none` if it changed
 * no row. */
static inline int meta_write(struct meta *m, sqlite3_stmt *st, int none)
{
	int err;

	if (atomic_load(&m->damaged)) {
		pthread_mutex_unlock(&m->lock);
		return -EROFS;
	}
	err = meta_run(m, st);

	if (!err && none && sqlite3_changes(m->db) == 0)
		err = none;
	pthread_mutex_unlock(&m->lock);
	return err;
}

/* Step st (from meta_prep) for one row, let fn read it into out, unlock.
 * -ENOENT if there is no row. */
static inline int meta_get(struct meta *m, sqlite3_stmt *st,
			   void (*fn)(sqlite3_stmt *st, void *out),
			   void *out)
{
	int rc = meta_step(m, st);

	if (rc == SQLITE_ROW)
		fn(st, out);
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	return rc == SQLITE_DONE ? -ENOENT : rc < 0 ? rc : 0;
}

/* Parameters ?1..?13 are the inode's fields after ino. */
static inline void bind_inode(sqlite3_stmt *st, const struct meta_inode *in)
{
	sqlite3_bind_int64(st, 1, in->mode);
	sqlite3_bind_int64(st, 2, in->uid);
	sqlite3_bind_int64(st, 3, in->gid);
	sqlite3_bind_int64(st, 4, in->nlink);
	bind_u64(st, 5, in->rdev);
	bind_u64(st, 6, in->size);
	sqlite3_bind_int64(st, 7, in->atime);
	sqlite3_bind_int64(st, 8, in->mtime);
	sqlite3_bind_int64(st, 9, in->ctime);
	sqlite3_bind_int(st, 10, in->tier);
	sqlite3_bind_int(st, 11, in->pin);
	bind_u64(st, 12, in->access_count);
	sqlite3_bind_int64(st, 13, in->last_access);
}

/* Columns c, c+1, ... are ino then INODE_COLS (meta.c). */
static inline void col_inode_at(sqlite3_stmt *st, int c, struct meta_inode *in)
{
	in->ino = col_u64(st, c);
	in->mode = (uint32_t)sqlite3_column_int64(st, c + 1);
	in->uid = (uint32_t)sqlite3_column_int64(st, c + 2);
	in->gid = (uint32_t)sqlite3_column_int64(st, c + 3);
	in->nlink = (uint32_t)sqlite3_column_int64(st, c + 4);
	in->rdev = col_u64(st, c + 5);
	in->size = col_u64(st, c + 6);
	in->atime = sqlite3_column_int64(st, c + 7);
	in->mtime = sqlite3_column_int64(st, c + 8);
	in->ctime = sqlite3_column_int64(st, c + 9);
	in->tier = sqlite3_column_int(st, c + 10);
	in->pin = sqlite3_column_int(st, c + 11);
	in->access_count = col_u64(st, c + 12);
	in->last_access = sqlite3_column_int64(st, c + 13);
}

#endif
