/*
 * fsck_ns.c - tierfs-fsck's catalog and namespace checks: the segment and
 * archive catalogs against the files and the recomputed live bytes, the
 * root, entries naming missing inodes, link counts and orphan inodes; with
 * their repairs, partly in SQL where meta.h has no call (see
 * tierfs-fsck.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fsck.h"

/* ---- catalogs ---- */

void fsck_check_catalog(struct fsck *k)
{
	for (size_t i = 0; i < k->nsegs; i++) {
		const struct meta_seg *s = &k->segs[i];
		struct fsck_segf *f = find_id(k->sf, k->nsf, sizeof(*f),
					      s->id);

		if (!f && k->seg_live[i] == 0) {
			problem(k, "segment %08" PRIx64 ": file missing (no "
				"record in use)", s->id);
			if (k->can_repair && !meta_seg_delete(k->meta, s->id))
				fixed(k, "segment %08" PRIx64 " removed from "
				      "the catalog", s->id);
		} else if (!f) {
			problem(k, "segment %08" PRIx64 ": file missing; %"
				PRIu64 " bytes of records in use are lost",
				s->id, k->seg_live[i]);
		} else if (f->size < s->len) {
			problem(k, "segment %08" PRIx64 ": file is %" PRIu64
				" bytes but %" PRIu64 " are committed", s->id,
				f->size, s->len);
			k->fix_sql = true;
		}
		if (s->live != k->seg_live[i]) {
			problem(k, "segment %08" PRIx64 ": catalog counts %"
				PRIu64 " live bytes, its extents %" PRIu64,
				s->id, s->live, k->seg_live[i]);
			k->fix_sql = true;
		}
		note(k, "segment %08" PRIx64 ": %" PRIu64 " committed, %"
		     PRIu64 " live", s->id, s->len, k->seg_live[i]);
	}
	for (size_t i = 0; i < k->nsf; i++) {
		const struct fsck_segf *f = &k->sf[i];

		if (!f->used)
			continue;
		problem(k, "segment %08" PRIx64 ": extents point into it but "
			"the catalog has no row", f->id);
		k->fix_sql = true;
		if (k->can_repair &&
		    !meta_seg_commit_len(k->meta, f->id, f->size))
			fixed(k, "segment %08" PRIx64 " added to the catalog",
			      f->id);
	}
	for (size_t i = 0; i < k->narcs; i++) {
		if (k->arcs[i].live == k->arc_live[i])
			continue;
		problem(k, "archive %08" PRIx64 ": catalog counts %" PRIu64
			" live bytes, its files %" PRIu64, k->arcs[i].id,
			k->arcs[i].live, k->arc_live[i]);
		k->fix_sql = true;
	}
}

/* Recount the catalog's live bytes and set short segments' committed
 * lengths to their file sizes: meta.h has no call for either. */
void fsck_fix_sql(struct fsck *k)
{
	char sql[128];
	int rc;

	if (!k->can_repair || !k->fix_sql)
		return;
	rc = sqlite3_exec(k->db, "BEGIN IMMEDIATE;"
		"UPDATE segment SET live = (SELECT coalesce(sum(rec_len), 0)"
		" FROM extent WHERE extent.seg = segment.id);"
		"UPDATE archive SET live = (SELECT coalesce(sum(orig_len), 0)"
		" FROM cold WHERE cold.archive = archive.id);", NULL, NULL,
		NULL);
	for (size_t i = 0; i < k->nsf && rc == SQLITE_OK; i++) {
		const struct fsck_segf *f = &k->sf[i];

		if (f->cat < 0 || f->size >= k->segs[f->cat].len)
			continue;
		snprintf(sql, sizeof(sql), "UPDATE segment SET len = %" PRIu64
			 " WHERE id = %" PRIu64, f->size, f->id);
		rc = sqlite3_exec(k->db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			fixed(k, "segment %08" PRIx64 ": committed length set "
			      "to its file size", f->id);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(k->db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		fixed(k, "catalog live byte counts recomputed");
		return;
	}
	printf("  could not fix the catalog: %s\n", sqlite3_errmsg(k->db));
	sqlite3_exec(k->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- namespace ---- */

/* Column col (a name, as a BLOB) as a C string in buf. */
static const char *col_name(sqlite3_stmt *st, int col, char *buf)
{
	int n = sqlite3_column_bytes(st, col);
	const void *p = sqlite3_column_blob(st, col);

	n = n > TFS_NAME_MAX ? TFS_NAME_MAX : n;
	if (n > 0 && p)
		memcpy(buf, p, (size_t)n);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void check_entries(struct fsck *k)
{
	char name[TFS_NAME_MAX + 1], dir[PATH_MAX];
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(k->db, "SELECT parent, name, ino FROM dentry"
				" WHERE ino NOT IN (SELECT ino FROM inode)",
				-1, &st, NULL);
	while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		uint64_t p = (uint64_t)sqlite3_column_int64(st, 0);

		problem(k, "entry '%s' in %s (inode %" PRIu64 ") points to "
			"missing inode %" PRIu64, col_name(st, 1, name),
			fsck_ino_path(k, p, dir, sizeof(dir)), p,
			(uint64_t)sqlite3_column_int64(st, 2));
		if (k->can_repair && !meta_dentry_remove(k->meta, p, name))
			fixed(k, "entry '%s' removed", name);
	}
	sqlite3_finalize(st);
}

/* Link counts: a directory has 2 + its subdirectories, anything else as
 * many as entries name it. An inode no entry names is an orphan if its
 * nlink is 0 (unlinked while open; a mount deletes it), else lost. */
static void check_links(struct fsck *k)
{
	char path[PATH_MAX];
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(k->db, "SELECT i.ino, i.mode, i.nlink,"
		" (SELECT count(*) FROM dentry d WHERE d.ino = i.ino),"
		" (SELECT count(*) FROM dentry d JOIN inode c ON c.ino = d.ino"
		"  WHERE d.parent = i.ino AND (c.mode & 61440) = 16384)"
		" FROM inode i", -1, &st, NULL);
	while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		uint64_t ino = (uint64_t)sqlite3_column_int64(st, 0);
		uint32_t mode = (uint32_t)sqlite3_column_int64(st, 1);
		int64_t nlink = sqlite3_column_int64(st, 2);
		int64_t links = sqlite3_column_int64(st, 3);
		int64_t want = S_ISDIR(mode) ? 2 + sqlite3_column_int64(st, 4)
					     : links;
		struct meta_inode in;

		if (links == 0 && ino != TFS_ROOT_INO && nlink != 0) {
			problem(k, "inode %" PRIu64 " (nlink %" PRId64 ") is "
				"in no directory (not repaired)", ino, nlink);
			continue;
		}
		if (links == 0 && ino != TFS_ROOT_INO) {
			problem(k, "inode %" PRIu64 ": orphan (nlink 0: "
				"unlinked while open, then a crash)", ino);
			if (k->can_repair && !meta_inode_delete(k->meta, ino))
				fixed(k, "inode %" PRIu64 " deleted", ino);
			continue;
		}
		if (nlink == want)
			continue;
		problem(k, "inode %" PRIu64 " (%s): nlink %" PRId64 ", should "
			"be %" PRId64, ino, fsck_ino_path(k, ino, path,
			sizeof(path)), nlink, want);
		if (k->can_repair && !meta_inode_get(k->meta, ino, &in)) {
			in.nlink = (uint32_t)want;
			if (!meta_inode_update(k->meta, &in))
				fixed(k, "inode %" PRIu64 ": nlink set to %"
				      PRId64, ino, want);
		}
	}
	sqlite3_finalize(st);
}

void fsck_check_namespace(struct fsck *k)
{
	struct meta_inode root;

	if (meta_inode_get(k->meta, TFS_ROOT_INO, &root) ||
	    !S_ISDIR(root.mode))
		problem(k, "the root directory (inode 1) is missing or not a "
			"directory (not repaired)");
	check_entries(k);
	check_links(k);
}
