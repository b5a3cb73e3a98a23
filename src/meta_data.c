/*
 * meta_data.c - the half of meta.h that says where data lives and how it
 * is named beyond the namespace: symlink targets, extended attributes, warm
 * extents (chunk -> segment record), cold extents (file -> archive range),
 * the segment and archive catalogs and the id counters that name them.
 *
 * Same rules as meta.c (see its DESIGN): every call takes the recursive
 * lock through meta_prep() and joins the caller's open transaction, if any.
 * The catalogs' `live` columns are kept by triggers on extent and cold
 * (meta.c's schema), never written here.
 */
#include "meta_int.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define META_XATTR_NAME_MAX 255
#define META_XATTR_SIZE_MAX 65536

/* Collect every row of st (from meta_prep) into a malloc'd array of
 * `size`-byte elements filled by fn, and with `inos` the column 0 of each
 * row into a second array; unlock. On error both are NULL. */
static int meta_rows(struct meta *m, sqlite3_stmt *st, size_t size,
		     void (*fn)(sqlite3_stmt *st, void *out), void **out,
		     uint64_t **inos, size_t *n)
{
	size_t k = 0, cap = 0;
	uint64_t *ia = NULL;
	char *a = NULL;
	void *p;
	int rc;

	while ((rc = meta_step(m, st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			p = realloc(a, cap * size);
			if (!p)
				break;
			a = p;
			if (inos) {
				p = realloc(ia, cap * sizeof(*ia));
				if (!p)
					break;
				ia = p;
			}
		}
		fn(st, a + k * size);
		if (inos)
			ia[k] = col_u64(st, 0);
		k++;
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	if (rc == SQLITE_ROW)
		rc = -ENOMEM;   /* the loop stopped on a failed realloc */
	if (rc < 0) {
		free(a);
		free(ia);
		a = NULL;
		ia = NULL;
		k = 0;
	}
	*out = a;
	if (inos)
		*inos = ia;
	*n = k;
	return rc < 0 ? rc : 0;
}

/* Row readers for meta_get()/meta_rows(). */
static void col_extent(sqlite3_stmt *st, void *out)
{
	struct meta_extent *e = out;

	e->chunk = col_u64(st, 1);
	e->seg = col_u64(st, 2);
	e->off = col_u64(st, 3);
	e->rec_len = (uint32_t)sqlite3_column_int64(st, 4);
	e->raw_len = (uint32_t)sqlite3_column_int64(st, 5);
}

static void col_cold(sqlite3_stmt *st, void *out)
{
	struct meta_cold *c = out;

	c->archive = col_u64(st, 1);
	c->off = col_u64(st, 2);
	c->len = col_u64(st, 3);
	c->orig_len = col_u64(st, 4);
}

static void col_seg(sqlite3_stmt *st, void *out)
{
	struct meta_seg *s = out;

	s->id = col_u64(st, 0);
	s->len = col_u64(st, 1);
	s->live = col_u64(st, 2);
}

static void col_arc(sqlite3_stmt *st, void *out)
{
	struct meta_arc *a = out;

	a->id = col_u64(st, 0);
	a->size = col_u64(st, 1);
	a->total = col_u64(st, 2);
	a->live = col_u64(st, 3);
}

/* ---- symlinks ---- */

int meta_symlink_set(struct meta *m, uint64_t ino, const char *target)
{
	sqlite3_stmt *st = meta_prep(m, ST_SYM_SET, 1, &ino);

	bind_name(st, 2, target);
	return meta_write(m, st, 0);
}

/* A buffer for col_copy(). */
struct meta_buf {
	void *buf;
	size_t size;
	bool nul;       /* truncate to size-1 bytes and add a NUL */
	int len;        /* out: the column's length, or -ERANGE */
};

/* Copy blob column 0 to b->buf as readlink/getxattr want it. */
static void col_copy(sqlite3_stmt *st, void *out)
{
	struct meta_buf *b = out;
	size_t n;

	b->len = sqlite3_column_bytes(st, 0);
	n = (size_t)b->len;
	if (b->size == 0)
		return;
	if (b->nul) {
		n = n < b->size - 1 ? n : b->size - 1;
		((char *)b->buf)[n] = '\0';
	} else if (n > b->size) {
		b->len = -ERANGE;
		return;
	}
	if (n)
		memcpy(b->buf, sqlite3_column_blob(st, 0), n);
}

int meta_symlink_get(struct meta *m, uint64_t ino, char *buf, size_t size)
{
	struct meta_buf b = { .buf = buf, .size = size, .nul = true };
	int err;

	err = meta_get(m, meta_prep(m, ST_SYM_GET, 1, &ino), col_copy, &b);
	return err ? err : b.len;
}

/* ---- extended attributes ---- */

static int meta_xattr_name_ok(const char *name)
{
	size_t len = strlen(name);

	return (len == 0 || len > META_XATTR_NAME_MAX) ? -ERANGE : 0;
}

int meta_xattr_set(struct meta *m, uint64_t ino, const char *name,
		   const void *value, size_t size, int flags)
{
	enum meta_st which = ST_XA_UPSERT;
	sqlite3_stmt *st;
	int err;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if ((err = meta_xattr_name_ok(name)))
		return err;
	if (size > META_XATTR_SIZE_MAX)
		return -E2BIG;
	if (flags == (XATTR_CREATE | XATTR_REPLACE)) {
		/* Both: fails either way, as in the kernel. */
		err = meta_xattr_get(m, ino, name, NULL, 0);
		return err >= 0 ? -EEXIST : err;
	}
	if (flags == XATTR_CREATE)
		which = ST_XA_INSERT;
	else if (flags == XATTR_REPLACE)
		which = ST_XA_UPDATE;
	st = meta_prep(m, which, 1, &ino);
	bind_name(st, 2, name);
	sqlite3_bind_blob(st, 3, size ? value : "", (int)size, SQLITE_STATIC);
	return meta_write(m, st, which == ST_XA_UPDATE ? -ENODATA : 0);
}

int meta_xattr_get(struct meta *m, uint64_t ino, const char *name,
		   void *buf, size_t size)
{
	struct meta_buf b = { .buf = buf, .size = size };
	sqlite3_stmt *st;
	int err;

	if ((err = meta_xattr_name_ok(name)))
		return err;
	st = meta_prep(m, ST_XA_GET, 1, &ino);
	bind_name(st, 2, name);
	err = meta_get(m, st, col_copy, &b);
	return err == -ENOENT ? -ENODATA : err ? err : b.len;
}

int meta_xattr_list(struct meta *m, uint64_t ino, char *buf, size_t size)
{
	sqlite3_stmt *st = meta_prep(m, ST_XA_LIST, 1, &ino);
	size_t total = 0, len;
	int rc;

	while ((rc = meta_step(m, st)) == SQLITE_ROW) {
		len = (size_t)sqlite3_column_bytes(st, 0);
		if (size && total + len + 1 <= size) {
			if (len)
				memcpy(buf + total, sqlite3_column_blob(st, 0),
				       len);
			buf[total + len] = '\0';
		}
		total += len + 1;
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	if (rc < 0)
		return rc;
	if (size && total > size)
		return -ERANGE;
	return total > META_XATTR_SIZE_MAX ? -E2BIG : (int)total;
}

int meta_xattr_remove(struct meta *m, uint64_t ino, const char *name)
{
	sqlite3_stmt *st;
	int err;

	if ((err = meta_xattr_name_ok(name)))
		return err;
	st = meta_prep(m, ST_XA_REMOVE, 1, &ino);
	bind_name(st, 2, name);
	return meta_write(m, st, -ENODATA);
}

int meta_xattr_scan_name(struct meta *m, const char *name,
			 void (*fn)(void *ctx, uint64_t ino, const void *value,
				    size_t len),
			 void *ctx)
{
	sqlite3_stmt *st;
	int rc, err;

	if ((err = meta_xattr_name_ok(name)))
		return err;
	st = meta_prep(m, ST_XA_BY_NAME, 0, NULL);
	bind_name(st, 1, name);
	while ((rc = meta_step(m, st)) == SQLITE_ROW)
		fn(ctx, col_u64(st, 0), sqlite3_column_blob(st, 1),
		   (size_t)sqlite3_column_bytes(st, 1));
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	return rc < 0 ? rc : 0;
}

/* ---- warm extents ---- */

int meta_extent_put(struct meta *m, uint64_t ino, const struct meta_extent *e)
{
	return meta_write(m, meta_prep(m, ST_EXT_PUT, 6, (const uint64_t[]){
		ino, e->chunk, e->seg, e->off, e->rec_len, e->raw_len }), 0);
}

int meta_extent_get(struct meta *m, uint64_t ino, uint64_t chunk,
		    struct meta_extent *out)
{
	return meta_get(m, meta_prep(m, ST_EXT_GET, 2,
				     (const uint64_t[]){ ino, chunk }),
			col_extent, out);
}

int meta_extent_list(struct meta *m, uint64_t ino, struct meta_extent **out,
		     size_t *n)
{
	void *a;
	int err;

	err = meta_rows(m, meta_prep(m, ST_EXT_LIST, 1, &ino), sizeof(**out),
			col_extent, &a, NULL, n);
	*out = a;
	return err;
}

int meta_extent_truncate(struct meta *m, uint64_t ino, uint64_t first)
{
	if (first > INT64_MAX)
		return 0;       /* no chunk index is that large */
	return meta_write(m, meta_prep(m, ST_EXT_TRUNC, 2,
				       (const uint64_t[]){ ino, first }), 0);
}

int meta_extent_punch(struct meta *m, uint64_t ino, uint64_t first,
		      uint64_t end)
{
	if (first > INT64_MAX || first >= end)
		return 0;
	if (end > INT64_MAX)
		end = INT64_MAX;
	return meta_write(m, meta_prep(m, ST_EXT_PUNCH, 3,
				       (const uint64_t[]){ ino, first, end }),
			  0);
}

int meta_extent_publish(struct meta *m, uint64_t ino)
{
	int err = meta_begin(m);

	if (err)
		return err;
	err = meta_write(m, meta_prep(m, ST_EXT_DEL_ALL, 1, &ino), 0);
	if (!err)
		err = meta_write(m, meta_prep(m, ST_EXT_PUBLISH, 1, &ino), 0);
	return meta_finish(m, err);
}

int meta_extent_drop_shadows(struct meta *m, uint64_t *n)
{
	int err;

	pthread_mutex_lock(&m->lock);
	err = meta_write(m, meta_prep(m, ST_EXT_DROP_SHADOWS, 0, NULL), 0);
	*n = err ? 0 : (uint64_t)sqlite3_changes(m->db);
	pthread_mutex_unlock(&m->lock);
	return err;
}

int meta_extent_list_seg(struct meta *m, uint64_t seg, uint64_t **inos,
			 struct meta_extent **exts, size_t *n)
{
	void *a;
	int err;

	err = meta_rows(m, meta_prep(m, ST_EXT_LIST_SEG, 1, &seg),
			sizeof(**exts), col_extent, &a, inos, n);
	*exts = a;
	return err;
}

/* ---- cold extents ---- */

int meta_cold_put(struct meta *m, uint64_t ino, const struct meta_cold *c)
{
	return meta_write(m, meta_prep(m, ST_COLD_PUT, 5, (const uint64_t[]){
		ino, c->archive, c->off, c->len, c->orig_len }), 0);
}

int meta_cold_get(struct meta *m, uint64_t ino, struct meta_cold *out)
{
	return meta_get(m, meta_prep(m, ST_COLD_GET, 1, &ino), col_cold, out);
}

int meta_cold_clear(struct meta *m, uint64_t ino)
{
	return meta_write(m, meta_prep(m, ST_COLD_DEL, 1, &ino), 0);
}

int meta_cold_list_arc(struct meta *m, uint64_t archive, uint64_t **inos,
		       struct meta_cold **colds, size_t *n)
{
	void *a;
	int err;

	err = meta_rows(m, meta_prep(m, ST_COLD_LIST, 1, &archive),
			sizeof(**colds), col_cold, &a, inos, n);
	*colds = a;
	return err;
}

/* ---- catalogs ---- */

int meta_seg_commit_len(struct meta *m, uint64_t id, uint64_t len)
{
	return meta_write(m, meta_prep(m, ST_SEG_COMMIT, 2,
				       (const uint64_t[]){ id, len }), 0);
}

int meta_seg_delete(struct meta *m, uint64_t id)
{
	return meta_write(m, meta_prep(m, ST_SEG_DEL, 1, &id), 0);
}

int meta_seg_get(struct meta *m, uint64_t id, struct meta_seg *out)
{
	return meta_get(m, meta_prep(m, ST_SEG_GET, 1, &id), col_seg, out);
}

int meta_seg_list(struct meta *m, struct meta_seg **out, size_t *n)
{
	void *a;
	int err;

	err = meta_rows(m, meta_prep(m, ST_SEG_LIST, 0, NULL), sizeof(**out),
			col_seg, &a, NULL, n);
	*out = a;
	return err;
}

int meta_arc_get(struct meta *m, uint64_t id, struct meta_arc *out)
{
	return meta_get(m, meta_prep(m, ST_ARC_GET, 1, &id), col_arc, out);
}

int meta_arc_add(struct meta *m, const struct meta_arc *a)
{
	/* a->live is not written: the cold triggers own it. */
	return meta_write(m, meta_prep(m, ST_ARC_ADD, 3, (const uint64_t[]){
		a->id, a->size, a->total }), 0);
}

int meta_arc_delete(struct meta *m, uint64_t id)
{
	return meta_write(m, meta_prep(m, ST_ARC_DEL, 1, &id), 0);
}

int meta_arc_list(struct meta *m, struct meta_arc **out, size_t *n)
{
	void *a;
	int err;

	err = meta_rows(m, meta_prep(m, ST_ARC_LIST, 0, NULL), sizeof(**out),
			col_arc, &a, NULL, n);
	*out = a;
	return err;
}

/* ---- id counters ---- */

int meta_next_id(struct meta *m, const char *name, uint64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	if (atomic_load(&m->damaged))
		return -EROFS;
	st = meta_prep(m, ST_NEXT_ID, 0, NULL);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = meta_step(m, st);
	if (rc == SQLITE_ROW) {
		*out = col_u64(st, 0);
		rc = meta_step(m, st);  /* run the statement to completion */
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&m->lock);
	return rc == SQLITE_ROW ? -EIO : rc < 0 ? rc : 0;
}
