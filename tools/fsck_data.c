/*
 * fsck_data.c - tierfs-fsck's data checks: the segment files in warm/, the
 * segstore opened on them (or on a private farm of symlinks when only
 * checking), every warm record of every file, and every cold extent decoded
 * from its xz archive; with the repairs of each (see tierfs-fsck.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkcache.h"
#include "blob.h"
#include "seg.h"
#include "xzarc.h"
#include "fsck.h"

/* The segment file header (struct seg_fhdr in seg.c) starts with this
 * magic; the segment id is at offset 16. */
#define SEGF_MAGIC      "TFSSEG\0\1"
#define SEGF_ID_OFF     16u
#define SEG_MAX         (64u << 20)     /* never reached: no appends */

/* ---- segment files ---- */

/* Segment id of a name exactly as seg.c writes it. */
static bool seg_name_id(const char *name, uint64_t *id)
{
	char canon[32];

	if (sscanf(name, "%16" SCNx64, id) != 1)
		return false;
	snprintf(canon, sizeof(canon), "%08" PRIx64 ".seg", *id);
	return strcmp(canon, name) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Do extents point into segment id? (The catalog lacks it.) */
static bool seg_used(struct fsck *k, uint64_t id)
{
	bool used = true;

	if (meta_ro_seg_used(k->meta, id, &used))
		used = true;    /* when in doubt, keep the file */
	return used;
}

/* One entry of warm/: a segment file (added to k->sf), an orphan or a
 * stray file (deleted when repairing), or a foreign file (left alone). */
static int list_seg_file(struct fsck *k, int dfd, const char *name,
			 size_t *cap)
{
	struct fsck_segf *f;
	char hdr[SEGF_ID_OFF + 8];
	struct stat st;
	uint64_t id;
	int fd;

	if (!seg_name_id(name, &id)) {
		if (!ends_with(name, ".seg") && !ends_with(name, ".tmp")) {
			note(k, "warm/%s: not ours, left alone", name);
			return 0;
		}
		problem(k, "warm/%s: stray file", name);
		goto out_orphan;
	}
	if (find_seg(k, id) < 0 && !seg_used(k, id)) {
		problem(k, "warm/%s: orphan segment (not in the catalog)",
			name);
		goto out_orphan;
	}
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		problem(k, "warm/%s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (k->nsf == *cap) {
		void *p = realloc(k->sf, (*cap = *cap * 2 + 64) * sizeof(*f));

		if (!p) {
			close(fd);
			return -ENOMEM;
		}
		k->sf = p;
	}
	f = &k->sf[k->nsf++];
	*f = (struct fsck_segf){ .id = id, .size = (uint64_t)st.st_size,
				 .cat = find_seg(k, id) };
	f->used = f->cat < 0;
	f->hdr_ok = pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
		    !memcmp(hdr, SEGF_MAGIC, 8) &&
		    !memcmp(hdr + SEGF_ID_OFF, &id, sizeof(id));
	close(fd);
	return 0;

out_orphan:
	if (k->can_repair && unlinkat(dfd, name, 0) == 0)
		fixed(k, "deleted warm/%s", name);
	return 0;
}

int fsck_list_warm(struct fsck *k)
{
	DIR *d = opendir(k->warm);
	struct dirent *e;
	size_t cap = 0;
	int rc = 0;

	if (!d)
		return -errno;
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = list_seg_file(k, dirfd(d), e->d_name, &cap);
	closedir(d);
	if (k->nsf)
		qsort(k->sf, k->nsf, sizeof(*k->sf), cmp_id);
	for (size_t i = 0; i < k->nsf; i++) {
		const struct fsck_segf *f = &k->sf[i];
		uint64_t len = f->cat >= 0 ? k->segs[f->cat].len : f->size;

		if (!f->hdr_ok)
			problem(k, "segment %08" PRIx64 ": bad file header "
				"(not repaired)", f->id);
		if (f->size > len)
			problem(k, "segment %08" PRIx64 ": %" PRIu64 " "
				"uncommitted bytes past its committed length "
				"%" PRIu64, f->id, f->size - len, len);
		note(k, "segment %08" PRIx64 ": %" PRIu64 " bytes", f->id,
		     f->size);
	}
	return rc;
}

void fsck_farm_remove(struct fsck *k)
{
	char p[PATH_MAX];

	for (size_t i = 0; *k->farm && i < k->nsf; i++)
		if (fsck_pathf(p, sizeof(p), "%s/%08" PRIx64 ".seg", k->farm,
			       k->sf[i].id))
			unlink(p);
	if (*k->farm)
		rmdir(k->farm);
	*k->farm = '\0';
}

static int no_new_segments(void *ctx, uint64_t *id)
{
	return -EROFS;
}

/* Open the segstore: on STORE/warm when repairing (known: the catalog,
 * and segments extents use that it lacks), else on a farm of symlinks. */
/* The segment store over directory dir (it takes the blob store over). */
static int open_segs(struct fsck *k, const char *dir,
		     const struct seg_known *known, size_t n)
{
	struct blob_store *bs = NULL;
	int rc = blob_local_open(&bs, dir, 0600, 0);

	return rc ? rc : segstore_open(&k->seg, bs, SEG_MAX, known, n,
				       no_new_segments, NULL);
}

int fsck_open_warm(struct fsck *k)
{
	struct seg_known *known;
	char t[PATH_MAX], l[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	size_t n = 0;
	int rc = 0;

	known = calloc(k->nsegs + k->nsf + 1, sizeof(*known));
	if (!known)
		return -ENOMEM;
	if (k->can_repair) {
		for (size_t i = 0; i < k->nsegs; i++)
			known[n++] = (struct seg_known){ k->segs[i].id,
							 k->segs[i].len };
		for (size_t i = 0; i < k->nsf; i++)
			if (k->sf[i].cat < 0)
				known[n++] = (struct seg_known){ k->sf[i].id,
								 k->sf[i].size };
		rc = open_segs(k, k->warm, known, n);
		goto out_free;
	}
	if (!fsck_pathf(k->farm, sizeof(k->farm), "%s/tierfs-fsck.XXXXXX",
			tmp && *tmp ? tmp : "/tmp") || !mkdtemp(k->farm)) {
		rc = -errno;
		*k->farm = '\0';
		goto out_free;
	}
	for (size_t i = 0; i < k->nsf && !rc; i++) {
		known[n++] = (struct seg_known){ k->sf[i].id, k->sf[i].size };
		if (!fsck_pathf(t, sizeof(t), "%s/%08" PRIx64 ".seg", k->warm,
				k->sf[i].id) ||
		    !fsck_pathf(l, sizeof(l), "%s/%08" PRIx64 ".seg", k->farm,
				k->sf[i].id))
			rc = -ENAMETOOLONG;
		else if (symlink(t, l) < 0)
			rc = -errno;
	}
	if (!rc)
		rc = open_segs(k, k->farm, known, n);
	/* the farm stays until the segstore is closed: segments are opened
	 * by their first read */
out_free:
	free(known);
	fsck_log_drain(k);
	for (size_t i = 0; !rc && k->can_repair && i < k->nsf; i++) {
		const struct fsck_segf *f = &k->sf[i];

		if (f->cat >= 0 && f->size > k->segs[f->cat].len)
			fixed(k, "segment %08" PRIx64 " truncated to its "
			      "committed length", f->id);
	}
	return rc;
}

/* ---- files: warm records and cold extents ---- */

/* Remove the extents of ino marked in drop[] (e[] sorted by chunk): meta.h
 * has no single-extent delete, so truncate to the first and put the
 * others back, in one transaction. */
static int drop_extents(struct fsck *k, uint64_t ino,
			const struct meta_extent *e, const bool *drop,
			size_t n)
{
	size_t first = 0;
	int rc;

	while (first < n && !drop[first])
		first++;
	if (first == n)
		return 0;
	rc = meta_begin(k->meta);
	if (rc)
		return rc;
	rc = meta_extent_truncate(k->meta, ino, e[first].chunk);
	for (size_t i = first + 1; i < n && !rc; i++)
		if (!drop[i])
			rc = meta_extent_put(k->meta, ino, &e[i]);
	if (rc) {
		meta_rollback(k->meta);
		return rc;
	}
	return meta_commit(k->meta);
}

static int add_cold(struct fsck *k, uint64_t ino, const struct meta_cold *c)
{
	struct meta_arc *a = find_id(k->arcs, k->narcs, sizeof(*a),
				     c->archive);

	if (a)
		k->arc_live[a - k->arcs] += c->orig_len;
	if (k->ncolds == k->capcolds) {
		size_t cap = k->capcolds * 2 + 64;
		void *p = realloc(k->colds, cap * sizeof(*k->colds));

		if (!p)
			return -ENOMEM;
		k->colds = p;
		k->capcolds = cap;
	}
	k->colds[k->ncolds++] = (struct fsck_cold){ ino, *c };
	return 0;
}

/* The shadow extents of a rewrite the daemon did not publish before it
 * stopped (meta.h META_SHADOW): live for the catalog until the next mount
 * drops them, so they are counted, not checked (the file's content is its
 * own extents). */
static int count_shadows(struct fsck *k, const struct fsck_file *f)
{
	struct meta_extent *e = NULL;
	size_t n = 0;
	int rc = meta_extent_list(k->meta, META_SHADOW(f->ino), &e, &n);

	for (size_t i = 0; i < n && !rc; i++) {
		ssize_t s = find_seg(k, e[i].seg);

		if (s >= 0)
			k->seg_live[s] += e[i].rec_len;
	}
	if (!rc && n)
		note(k, "inode %" PRIu64 ": %zu chunk(s) of an unfinished "
		     "rewrite (dropped at the next mount)", f->ino, n);
	free(e);
	return rc;
}

/* Read every warm record of a file; note its cold extent for later. */
int fsck_check_file(struct fsck *k, const struct fsck_file *f)
{
	uint64_t nchunks = (f->size + TFS_CHUNK_SIZE - 1) >> TFS_CHUNK_SHIFT;
	struct meta_extent *e = NULL;
	struct meta_cold c = { 0 };
	size_t n = 0, bad = 0;
	bool *drop = NULL, any = false;
	char path[PATH_MAX] = "";
	int rc;

	rc = count_shadows(k, f);
	if (!rc)
		rc = meta_extent_list(k->meta, f->ino, &e, &n);
	if (!rc && (rc = meta_cold_get(k->meta, f->ino, &c)) == 0)
		rc = add_cold(k, f->ino, &c);
	else if (rc == -ENOENT)
		rc = 0;
	if (!rc && !(drop = calloc(n + 1, sizeof(*drop))))
		rc = -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		ssize_t s = find_seg(k, e[i].seg);
		struct seg_loc loc = { e[i].seg, e[i].off, e[i].rec_len,
				       e[i].raw_len };
		const char *why = NULL;

		if (s >= 0)
			k->seg_live[s] += e[i].rec_len;
		if (f->nlink == 0)
			continue;       /* an orphan: see fsck_check_namespace */
		if (e[i].chunk >= nchunks) {
			problem(k, "inode %" PRIu64 " (%s) chunk %" PRIu64
				": extent past end of file (size %" PRIu64 ")",
				f->ino, *path ? path : fsck_ino_path(k, f->ino,
				path, sizeof(path)), e[i].chunk, f->size);
			any = drop[i] = true;
			continue;
		}
		if (s >= 0 && e[i].off + e[i].rec_len > k->segs[s].len) {
			why = "record past the segment's committed length";
		} else if (segstore_read(k->seg, &loc, f->ino, e[i].chunk,
					 k->buf) < 0) {
			fsck_log_drain(k);
			why = k->why;
		}
		if (!why)
			continue;
		bad++;
		problem(k, "inode %" PRIu64 " (%s) chunk %" PRIu64 ": segment %08"
			PRIx64 " offset %" PRIu64 ": %s", f->ino, *path ? path :
			fsck_ino_path(k, f->ino, path, sizeof(path)),
			e[i].chunk, e[i].seg, e[i].off, why);
		/* Never repaired: dropping the extent would turn lost data
		 * into zeros (or older cold bytes) that read back without an
		 * error. The file keeps reading EIO there. */
		if (k->repair)
			printf("  not repaired: %s: bytes %" PRIu64 "..%" PRIu64
			       " are lost and read as EIO (restore the file "
			       "from a backup, or delete it)\n", path,
			       e[i].chunk << TFS_CHUNK_SHIFT,
			       (e[i].chunk << TFS_CHUNK_SHIFT) + e[i].raw_len);
	}
	if (!rc && f->nlink > 0 && k->verbose)
		note(k, "inode %" PRIu64 " (%s): %zu warm record%s, %zu "
		     "damaged%s", f->ino, *path ? path :
		     fsck_ino_path(k, f->ino, path, sizeof(path)), n,
		     plural(n), bad,
		     c.len ? ", cold extent" : "");
	if (rc || !any || !k->can_repair)
		goto out_free;
	rc = drop_extents(k, f->ino, e, drop, n);
	if (rc)
		printf("  could not remove extents of inode %" PRIu64 ": %s\n",
		       f->ino, strerror(-rc));
	for (size_t i = 0; i < n && !rc; i++)
		if (drop[i])
			fixed(k, "inode %" PRIu64 " chunk %" PRIu64 ": extent "
			      "past end of file removed", f->ino, e[i].chunk);
	rc = 0;
out_free:
	free(drop);
	free(e);
	return rc;
}

/* ---- cold archives ---- */

static int cmp_cold(const void *a, const void *b)
{
	const struct fsck_cold *x = a, *y = b;

	if (x->c.archive != y->c.archive)
		return (x->c.archive > y->c.archive) -
		       (x->c.archive < y->c.archive);
	return (x->c.off > y->c.off) - (x->c.off < y->c.off);
}

/* Decode [off, off+len) of a in STEP pieces; false at the first failure
 * (cause in k->why). Files archived together share blocks: the cache
 * decodes each block once. */
static bool arc_decodes(struct fsck *k, struct xzarc *a, uint64_t off,
			uint64_t len)
{
	if (off > xzarc_size(a) || len > xzarc_size(a) - off) {
		snprintf(k->why, sizeof(k->why), "range past the archive's "
			 "end (%" PRIu64 ")", xzarc_size(a));
		return false;
	}
	while (len > 0) {
		size_t n = len < STEP ? (size_t)len : STEP;
		ssize_t got = xzarc_pread(a, k->cache, k->buf, n, off);

		if (got != (ssize_t)n) {
			fsck_log_drain(k);
			return false;
		}
		off += n;
		len -= n;
	}
	return true;
}

/* Check the cold files of archive id, colds[*i...]; a is NULL when the
 * archive cannot be read at all, for reason why. */
static void check_arc_files(struct fsck *k, uint64_t id, struct xzarc *a,
			    const char *why, size_t *i)
{
	char path[PATH_MAX];

	for (; *i < k->ncolds && k->colds[*i].c.archive <= id; (*i)++) {
		const struct fsck_cold *c = &k->colds[*i];

		if (c->c.archive < id)
			problem(k, "inode %" PRIu64 ": cold extent in archive "
				"%08" PRIx64 ", which is not in the catalog",
				c->ino, c->c.archive);
		else if (!a || !arc_decodes(k, a, c->c.off, c->c.len))
			problem(k, "inode %" PRIu64 " (%s): archive %08" PRIx64
				" bytes %" PRIu64 "+%" PRIu64 ": %s (not "
				"repaired: restore the file from a backup)",
				c->ino, fsck_ino_path(k, c->ino, path,
				sizeof(path)), id, c->c.off, c->c.len, a ? k->why : why);
	}
}

/* An archive of an S3 cold store: in the bucket, of the catalog's size,
 * and every file in it decodes (one ranged GET per block). */
static void check_remote_archive(struct fsck *k, const struct meta_arc *m,
				 uint64_t live, size_t *ci)
{
	struct xzarc *a = NULL;
	uint64_t size = 0;
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "%08" PRIx64 ".xz", m->id);
	rc = blob_stat(k->cold_bs, name, &size);
	if (!rc && size != m->size) {
		problem(k, "archive %s: %" PRIu64 " bytes in the bucket, the "
			"catalog says %" PRIu64, name, size, m->size);
		rc = -EIO;
	}
	if (!rc)
		rc = xzarc_open(&a, k->cold_bs, name, m->id);
	if (rc) {
		fsck_log_drain(k);
		if (rc == -ENOENT)
			problem(k, "archive %s: not in the bucket (%s)", name,
				live ? "files use it" : "no file in use");
		else if (rc != -EIO || size == m->size)
			problem(k, "archive %s: cannot open: %s", name,
				rc == -EIO ? k->why : strerror(-rc));
		check_arc_files(k, m->id, NULL, "archive missing or unreadable",
				ci);
		return;
	}
	note(k, "archive %s (s3): %" PRIu64 " blocks, %" PRIu64 " bytes", name,
	     xzarc_nblocks(a), xzarc_size(a));
	check_arc_files(k, m->id, a, NULL, ci);
	blkcache_drop_arc(k->cache, m->id);
	xzarc_close(&a);
}

static void check_archive(struct fsck *k, const struct meta_arc *m,
			  uint64_t live, size_t *ci)
{
	struct blob_store *bs = NULL;
	struct xzarc *a = NULL;
	char p[PATH_MAX];
	struct stat st;
	int rc;

	if (k->cold_bs) {
		check_remote_archive(k, m, live, ci);
		return;
	}
	fsck_pathf(p, sizeof(p), "%s/%08" PRIx64 ".xz", k->cold, m->id);
	if (stat(p, &st) < 0) {
		if (live == 0) {
			problem(k, "archive %08" PRIx64 ": file missing (no "
				"file in use)", m->id);
			if (k->can_repair && !meta_arc_delete(k->meta, m->id))
				fixed(k, "archive %08" PRIx64 " removed from "
				      "the catalog", m->id);
		} else {
			problem(k, "archive %08" PRIx64 ": %s", m->id,
				strerror(errno));
		}
		check_arc_files(k, m->id, NULL, "archive missing", ci);
		return;
	}
	rc = blob_local_open(&bs, k->cold, 0644, BLOB_LOCAL_READONLY);
	if (!rc) {
		char name[32];

		snprintf(name, sizeof(name), "%08" PRIx64 ".xz", m->id);
		rc = xzarc_open(&a, bs, name, m->id);
	}
	if (rc) {
		blob_store_close(&bs);
		fsck_log_drain(k);
		problem(k, "archive %08" PRIx64 ": cannot open: %s", m->id,
			rc == -EIO ? k->why : strerror(-rc));
		check_arc_files(k, m->id, NULL, "archive unreadable", ci);
		return;
	}
	note(k, "archive %08" PRIx64 ": %" PRIu64 " blocks, %" PRIu64
	     " bytes", m->id, xzarc_nblocks(a), xzarc_size(a));
	check_arc_files(k, m->id, a, NULL, ci);
	blkcache_drop_arc(k->cache, m->id);
	xzarc_close(&a);
	blob_store_close(&bs);
}

void fsck_check_archives(struct fsck *k)
{
	struct dirent *e;
	size_t ci = 0;
	DIR *d;

	if (k->ncolds)
		qsort(k->colds, k->ncolds, sizeof(*k->colds), cmp_cold);
	for (size_t i = 0; i < k->narcs; i++)
		check_archive(k, &k->arcs[i], k->arc_live[i], &ci);
	check_arc_files(k, UINT64_MAX, NULL, "not in the catalog", &ci);
	if (k->cold_bs)
		fsck_s3_orphans(k);
	/* Like a mount, count everything in cold/ but known archives as an
	 * orphan (of an interrupted demotion or compaction). */
	d = opendir(k->cold);
	while (d && (e = readdir(d))) {
		char canon[32];
		uint64_t id;

		if (e->d_name[0] == '.')
			continue;
		if (sscanf(e->d_name, "%16" SCNx64, &id) == 1 &&
		    find_id(k->arcs, k->narcs, sizeof(*k->arcs), id)) {
			snprintf(canon, sizeof(canon), "%08" PRIx64 ".xz", id);
			if (!strcmp(canon, e->d_name))
				continue;
		}
		problem(k, "cold/%s: orphan (not in the catalog)", e->d_name);
		if (k->can_repair && unlinkat(dirfd(d), e->d_name, 0) == 0)
			fixed(k, "deleted cold/%s", e->d_name);
	}
	if (d)
		closedir(d);
}
