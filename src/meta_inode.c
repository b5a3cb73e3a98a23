/*
 * meta_inode.c - the namespace half of meta.h: inode rows (create, get,
 * update, access counters, tier, delete with everything hanging off them,
 * scans, counts) and directory entries (lookup, add, remove, replace, move,
 * list, parent). What it is not: the connection and transactions (meta.c)
 * or where data lives (meta_data.c).
 *
 * Same rules as meta.c (see its DESIGN): every call takes the recursive
 * lock through meta_prep() and joins the caller's open transaction, if any.
 */
#include "meta_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row readers for meta_get(). */
static void col_inode(sqlite3_stmt *st, void *out)
{
	col_inode_at(st, 0, out);
}

static void col_ino(sqlite3_stmt *st, void *out)
{
	*(uint64_t *)out = col_u64(st, 0);
}

/* ---- inodes ---- */

/*
 * Inode numbers. AUTOINCREMENT never reuses a number (the kernel may still
 * hold an old one), but it rewrites the sqlite_sequence row at every
 * insert: one more page in the WAL per create (measured: a one-row insert
 * commits 2 pages instead of 1). So numbers are reserved INO_BLOCK at a
 * time by raising sqlite_sequence ahead, and rows are inserted with an
 * explicit number below it, which SQLite then leaves the row alone for.
 * The reservation is part of the transaction of the create that needed
 * it: a rollback undoes both, and any rollback forgets the reservation in
 * memory (meta.c meta_end), so a number is only ever used below a
 * committed sqlite_sequence and never twice, across crashes too (a crash
 * only skips the rest of a block).
 */
#define INO_BLOCK 1024

/* Caller holds the lock inside a group: reserve the next block. 0, or
 * -ENOENT if sqlite_sequence has no row for inode yet (a fresh
 * database: the plain insert then creates it). */
static int ino_reserve(struct meta *m)
{
	sqlite3_stmt *st = m->st[ST_INO_RESERVE];
	uint64_t top;
	int rc;

	bind_u64(st, 1, INO_BLOCK);
	rc = meta_step(m, st);
	top = rc == SQLITE_ROW ? col_u64(st, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = meta_step(m, st);  /* finish the UPDATE */
	sqlite3_reset(st);
	if (rc < 0)
		return rc;
	if (top <= INO_BLOCK)
		return -ENOENT;
	m->ino_next = top - INO_BLOCK + 1;
	m->ino_end = top + 1;
	return 0;
}

int meta_inode_create(struct meta *m, struct meta_inode *in)
{
	sqlite3_stmt *st;
	int err;

	err = meta_begin(m);    /* the reservation and the row, or neither */
	if (err)
		return err;
	if (m->ino_next >= m->ino_end)
		err = ino_reserve(m);
	if (!err) {
		st = m->st[ST_INO_CREATE_AT];
		bind_inode(st, in);
		bind_u64(st, 14, m->ino_next);
		err = meta_run(m, st);
		if (!err)
			in->ino = m->ino_next++;
	} else if (err == -ENOENT) {
		st = m->st[ST_INO_CREATE];
		bind_inode(st, in);
		err = meta_run(m, st);
		if (!err)
			in->ino = (uint64_t)sqlite3_last_insert_rowid(m->db);
	}
	return meta_finish(m, err);
}

int meta_inode_get(struct meta *m, uint64_t ino, struct meta_inode *out)
{
	return meta_get(m, meta_prep(m, ST_INO_GET, 1, &ino), col_inode, out);
}

int meta_inode_update(struct meta *m, const struct meta_inode *in)
{
	sqlite3_stmt *st = meta_prep(m, ST_INO_UPDATE, 0, NULL);

	bind_inode(st, in);
	bind_u64(st, 14, in->ino);
	return meta_write(m, st, -ENOENT);
}

int meta_inode_set_access(struct meta *m, uint64_t ino, uint64_t count,
			  tfs_ns last)
{
	uint64_t v[3] = { ino, count, (uint64_t)last };

	return meta_write(m, meta_prep(m, ST_INO_ACCESS, 3, v), -ENOENT);
}

int meta_inode_set_tier(struct meta *m, uint64_t ino, int tier)
{
	uint64_t v[2] = { ino, (uint64_t)tier };

	return meta_write(m, meta_prep(m, ST_INO_TIER, 2, v), -ENOENT);
}

int meta_inode_delete(struct meta *m, uint64_t ino)
{
	static const enum meta_st steps[] = {
		ST_XA_DEL_ALL, ST_SYM_DEL, ST_EXT_DEL_ALL, ST_EXT_DEL_SHADOW,
		ST_COLD_DEL, ST_INO_DEL,
	};
	size_t i;
	int err;

	err = meta_begin(m);
	if (err)
		return err;
	for (i = 0; !err && i < sizeof(steps) / sizeof(steps[0]); i++)
		err = meta_write(m, meta_prep(m, steps[i], 1, &ino), 0);
	if (!err && sqlite3_changes(m->db) == 0)
		err = -ENOENT;
	if (err) {
		meta_rollback(m);
		return err;
	}
	return meta_commit(m);
}

int meta_inode_scan_orphans(struct meta *m,
			    void (*fn)(void *ctx, uint64_t ino), void *ctx)
{
	sqlite3_stmt *st = meta_prep(m, ST_INO_ORPHANS, 0, NULL);
	int rc;

	while ((rc = meta_step(m, st)) == SQLITE_ROW)
		fn(ctx, col_u64(st, 0));
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	return rc < 0 ? rc : 0;
}

int meta_inode_scan(struct meta *m,
		    void (*fn)(void *ctx, const struct meta_inode *in),
		    void *ctx)
{
	sqlite3_stmt *st = meta_prep(m, ST_INO_SCAN, 0, NULL);
	struct meta_inode in;
	int rc;

	while ((rc = meta_step(m, st)) == SQLITE_ROW) {
		col_inode_at(st, 0, &in);
		fn(ctx, &in);
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	return rc < 0 ? rc : 0;
}

static void col_count(sqlite3_stmt *st, void *out)
{
	uint64_t *v = out;

	v[0] = col_u64(st, 0);
	v[1] = col_u64(st, 1);
}

int meta_inode_count(struct meta *m, uint64_t *files, uint64_t *bytes)
{
	uint64_t v[2] = { 0, 0 };
	int err;

	err = meta_get(m, meta_prep(m, ST_INO_COUNT, 0, NULL), col_count, v);
	if (!err) {
		*files = v[0];
		*bytes = v[1];
	}
	return err;
}

/* ---- directory entries ---- */

int meta_dentry_lookup(struct meta *m, uint64_t parent, const char *name,
		       uint64_t *ino)
{
	sqlite3_stmt *st = meta_prep(m, ST_DE_LOOKUP, 1, &parent);

	bind_name(st, 2, name);
	return meta_get(m, st, col_ino, ino);
}

int meta_dentry_add(struct meta *m, uint64_t parent, const char *name,
		    uint64_t ino)
{
	sqlite3_stmt *st;

	if (strlen(name) > TFS_NAME_MAX)
		return -ENAMETOOLONG;
	st = meta_prep(m, ST_DE_ADD, 3, (const uint64_t[]){ parent, 0, ino });
	bind_name(st, 2, name);
	return meta_write(m, st, 0);
}

int meta_dentry_remove(struct meta *m, uint64_t parent, const char *name)
{
	sqlite3_stmt *st = meta_prep(m, ST_DE_REMOVE, 1, &parent);

	bind_name(st, 2, name);
	return meta_write(m, st, -ENOENT);
}

int meta_dentry_set(struct meta *m, uint64_t parent, const char *name,
		    uint64_t ino)
{
	sqlite3_stmt *st;

	st = meta_prep(m, ST_DE_SET, 3, (const uint64_t[]){ parent, 0, ino });
	bind_name(st, 2, name);
	return meta_write(m, st, -ENOENT);
}

int meta_dentry_move(struct meta *m, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname)
{
	sqlite3_stmt *st;

	if (strlen(newname) > TFS_NAME_MAX)
		return -ENAMETOOLONG;
	/* One UPDATE: the primary key refuses an existing target (-EEXIST);
	 * moving an entry onto itself changes nothing and succeeds. */
	st = meta_prep(m, ST_DE_MOVE, 3,
		       (const uint64_t[]){ parent, 0, newparent });
	bind_name(st, 2, name);
	bind_name(st, 4, newname);
	return meta_write(m, st, -ENOENT);
}

static void col_nothing(sqlite3_stmt *st, void *out)
{
}

int meta_dir_is_empty(struct meta *m, uint64_t ino, bool *empty)
{
	int err;

	err = meta_get(m, meta_prep(m, ST_DIR_EMPTY, 1, &ino), col_nothing,
		       NULL);
	if (err && err != -ENOENT)
		return err;
	*empty = err == -ENOENT;
	return 0;
}

/* Copy blob column c as a NUL-terminated name; -EIO if it is too long. */
static int col_name(sqlite3_stmt *st, int c, char *name)
{
	int len = sqlite3_column_bytes(st, c);

	if (len > TFS_NAME_MAX) {
		tfs_err("meta: a stored name has %d bytes", len);
		return -EIO;
	}
	if (len)
		memcpy(name, sqlite3_column_blob(st, c), (size_t)len);
	name[len] = '\0';
	return 0;
}

int meta_dentry_parent(struct meta *m, uint64_t ino, uint64_t *parent,
		       char *name)
{
	sqlite3_stmt *st = meta_prep(m, ST_DE_PARENT, 1, &ino);
	int rc;

	rc = meta_step(m, st);
	if (rc == SQLITE_ROW) {
		*parent = col_u64(st, 0);
		rc = col_name(st, 1, name);
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int meta_dir_list(struct meta *m, uint64_t parent,
		  int (*fn)(void *ctx, const char *name,
			    const struct meta_inode *in),
		  void *ctx)
{
	sqlite3_stmt *st = meta_prep(m, ST_DIR_LIST, 1, &parent);
	char name[TFS_NAME_MAX + 1];
	struct meta_inode in;
	int rc, ret = 0;

	while (!ret && (rc = meta_step(m, st)) == SQLITE_ROW) {
		ret = col_name(st, 0, name);
		if (!ret) {
			col_inode_at(st, 1, &in);
			ret = fn(ctx, name, &in);
		}
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	return ret ? ret : rc < 0 ? rc : 0;
}
