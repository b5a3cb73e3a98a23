/*
 * fsck_ns.c - tierfs-fsck's catalog and namespace checks: the segment and
 * archive catalogs against the files and the recomputed live bytes, the
 * root, entries naming missing inodes, link counts and orphan inodes; with
 * their repairs (see tierfs-fsck.c), all through meta.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
 * lengths to their file sizes. */
void fsck_fix_sql(struct fsck *k)
{
	int rc;

	if (!k->can_repair || !k->fix_sql)
		return;
	rc = meta_begin(k->meta);
	if (rc) {
		printf("  could not fix the catalog: %s\n", strerror(-rc));
		return;
	}
	for (size_t i = 0; i < k->nsf && !rc; i++) {
		const struct fsck_segf *f = &k->sf[i];

		if (f->cat < 0 || f->size >= k->segs[f->cat].len)
			continue;
		rc = meta_seg_set_len(k->meta, f->id, f->size);
		if (!rc)
			fixed(k, "segment %08" PRIx64 ": committed length set "
			      "to its file size", f->id);
	}
	if (!rc)
		rc = meta_fix_live(k->meta);
	rc = meta_finish(k->meta, rc);
	if (!rc) {
		fixed(k, "catalog live byte counts recomputed");
		return;
	}
	printf("  could not fix the catalog: %s\n", strerror(-rc));
}

/* ---- namespace ---- */

struct dangling {
	uint64_t parent, ino;
	char name[TFS_NAME_MAX + 1];
};

struct rows {
	void *v;
	size_t n, cap, size;
};

/* Append one element of r->size bytes; -ENOMEM. */
static int rows_add(struct rows *r, const void *e)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		void *p = realloc(r->v, cap * r->size);

		if (!p)
			return -ENOMEM;
		r->v = p;
		r->cap = cap;
	}
	memcpy((char *)r->v + r->n++ * r->size, e, r->size);
	return 0;
}

static int add_dangling(void *ctx, uint64_t parent, const char *name,
			uint64_t ino)
{
	struct dangling d = { .parent = parent, .ino = ino };

	snprintf(d.name, sizeof(d.name), "%s", name);
	return rows_add(ctx, &d);
}

static void check_entries(struct fsck *k)
{
	struct rows r = { .size = sizeof(struct dangling) };
	char dir[PATH_MAX];
	int rc;

	/* Collected first: meta's callbacks must not call back into meta. */
	rc = meta_ro_dangling(k->meta, add_dangling, &r);
	if (rc)
		printf("  cannot list directory entries: %s\n", strerror(-rc));
	for (size_t i = 0; !rc && i < r.n; i++) {
		const struct dangling *d = (struct dangling *)r.v + i;

		problem(k, "entry '%s' in %s (inode %" PRIu64 ") points to "
			"missing inode %" PRIu64, d->name,
			fsck_ino_path(k, d->parent, dir, sizeof(dir)),
			d->parent, d->ino);
		if (k->can_repair &&
		    !meta_dentry_remove(k->meta, d->parent, d->name))
			fixed(k, "entry '%s' removed", d->name);
	}
	free(r.v);
}

static int add_links(void *ctx, const struct meta_links *l)
{
	return rows_add(ctx, l);
}

/* Link counts: a directory has 2 + its subdirectories, anything else as
 * many as entries name it. An inode no entry names is an orphan if its
 * nlink is 0 (unlinked while open; a mount deletes it), else lost. */
static void check_links(struct fsck *k)
{
	struct rows r = { .size = sizeof(struct meta_links) };
	char path[PATH_MAX];
	int rc;

	rc = meta_ro_links(k->meta, add_links, &r);
	if (rc)
		printf("  cannot count links: %s\n", strerror(-rc));
	for (size_t i = 0; !rc && i < r.n; i++) {
		const struct meta_links *l = (struct meta_links *)r.v + i;
		uint64_t ino = l->ino;
		int64_t nlink = (int64_t)l->nlink;
		int64_t want = S_ISDIR(l->mode) ? 2 + (int64_t)l->subdirs
						: (int64_t)l->entries;
		struct meta_inode in;

		if (l->entries == 0 && ino != TFS_ROOT_INO && nlink != 0) {
			problem(k, "inode %" PRIu64 " (nlink %" PRId64 ") is "
				"in no directory (not repaired)", ino, nlink);
			continue;
		}
		if (l->entries == 0 && ino != TFS_ROOT_INO) {
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
	free(r.v);
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
