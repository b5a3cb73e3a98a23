/*
 * meta_ro.c - the checker's side of meta.h: integrity checks of meta.db
 * (PRAGMA quick_check at mount, integrity_check in tierfs-fsck), the
 * read-only questions tierfs-fsck asks about the namespace and the
 * catalogs, and the two catalog repairs it makes. With these the schema
 * lives in meta only: no SQL outside src/meta*.c.
 *
 * These statements run rarely (a mount, an fsck), so they are prepared
 * when called, not kept like meta.c's table. Same locking as the rest of
 * meta: every call takes the recursive lock; callbacks run with it held
 * and must not call back into meta (collect, then act).
 */
#include "meta_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Prepare sql under the lock (taken here, released by meta_ro_done). */
static int meta_ro_prep(struct meta *m, const char *sql, sqlite3_stmt **st)
{
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = sqlite3_prepare_v2(m->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		rc = meta_rc(m, rc, sql);
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	return 0;
}

static int meta_ro_done(struct meta *m, sqlite3_stmt *st, int rc)
{
	sqlite3_finalize(st);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int meta_check(struct meta *m, bool quick,
	       int (*fn)(void *ctx, const char *problem), void *ctx,
	       unsigned *problems)
{
	const char *sql = quick ? "PRAGMA quick_check(20)"
				: "PRAGMA integrity_check(50)";
	sqlite3_stmt *st;
	int rc, stop = 0;

	*problems = 0;
	rc = meta_ro_prep(m, sql, &st);
	if (rc)
		return rc;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);

		if (r && strcmp(r, "ok") != 0) {
			char line[512];

			/* One line per problem: SQLite's may span two. */
			snprintf(line, sizeof(line), "%s", r);
			for (char *p = line; *p; p++)
				if (*p == '\n')
					*p = ' ';
			(*problems)++;
			stop = fn(ctx, line);
		}
	}
	if (stop || rc == SQLITE_DONE)
		return meta_ro_done(m, st, 0);
	/* The check itself failed: SQLite met damage it could not walk
	 * past. That is a finding too. */
	(*problems)++;
	fn(ctx, sqlite3_errmsg(m->db));
	return meta_ro_done(m, st, 0);
}

int meta_ro_seg_used(struct meta *m, uint64_t seg, bool *used)
{
	sqlite3_stmt *st;
	int rc;

	rc = meta_ro_prep(m, "SELECT 1 FROM extent WHERE seg = ?1 LIMIT 1",
			  &st);
	if (rc)
		return rc;
	bind_u64(st, 1, seg);
	rc = meta_step(m, st);
	if (rc >= 0) {
		*used = rc == SQLITE_ROW;
		rc = 0;
	}
	return meta_ro_done(m, st, rc);
}

int meta_ro_dangling(struct meta *m,
		     int (*fn)(void *ctx, uint64_t parent, const char *name,
			       uint64_t ino),
		     void *ctx)
{
	char name[TFS_NAME_MAX + 1];
	sqlite3_stmt *st;
	int rc, ret = 0;

	rc = meta_ro_prep(m, "SELECT parent, name, ino FROM dentry"
			  " WHERE ino NOT IN (SELECT ino FROM inode)", &st);
	if (rc)
		return rc;
	while (!ret && (rc = meta_step(m, st)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 1);
		const void *p = sqlite3_column_blob(st, 1);

		n = n > TFS_NAME_MAX ? TFS_NAME_MAX : n;
		if (n > 0 && p)
			memcpy(name, p, (size_t)n);
		name[n > 0 ? n : 0] = '\0';
		ret = fn(ctx, col_u64(st, 0), name, col_u64(st, 2));
	}
	return meta_ro_done(m, st, ret ? ret : rc < 0 ? rc : 0);
}

int meta_ro_links(struct meta *m,
		  int (*fn)(void *ctx, const struct meta_links *l), void *ctx)
{
	struct meta_links l;
	sqlite3_stmt *st;
	int rc, ret = 0;

	rc = meta_ro_prep(m, "SELECT i.ino, i.mode, i.nlink,"
		" (SELECT count(*) FROM dentry d WHERE d.ino = i.ino),"
		" (SELECT count(*) FROM dentry d JOIN inode c ON c.ino = d.ino"
		"  WHERE d.parent = i.ino AND (c.mode & 61440) = 16384)"
		" FROM inode i", &st);
	if (rc)
		return rc;
	while (!ret && (rc = meta_step(m, st)) == SQLITE_ROW) {
		l = (struct meta_links){
			.ino = col_u64(st, 0),
			.mode = (uint32_t)sqlite3_column_int64(st, 1),
			.nlink = col_u64(st, 2),
			.entries = col_u64(st, 3),
			.subdirs = col_u64(st, 4),
		};
		ret = fn(ctx, &l);
	}
	return meta_ro_done(m, st, ret ? ret : rc < 0 ? rc : 0);
}

int meta_fix_live(struct meta *m)
{
	static const char sql[] =
		"UPDATE segment SET live = (SELECT coalesce(sum(rec_len), 0)"
		" FROM extent WHERE extent.seg = segment.id);"
		"UPDATE archive SET live = (SELECT coalesce(sum(orig_len), 0)"
		" FROM cold WHERE cold.archive = archive.id);";
	int rc;

	rc = meta_begin(m);
	if (rc)
		return rc;
	rc = sqlite3_exec(m->db, sql, NULL, NULL, NULL);
	rc = rc == SQLITE_OK ? 0 : meta_rc(m, rc, "recount live bytes");
	return meta_finish(m, rc);
}

int meta_seg_set_len(struct meta *m, uint64_t id, uint64_t len)
{
	sqlite3_stmt *st;
	int rc;

	rc = meta_ro_prep(m, "UPDATE segment SET len = ?2 WHERE id = ?1", &st);
	if (rc)
		return rc;
	bind_u64(st, 1, id);
	bind_u64(st, 2, len);
	rc = meta_run(m, st);
	if (!rc && sqlite3_changes(m->db) == 0)
		rc = -ENOENT;
	return meta_ro_done(m, st, rc);
}
