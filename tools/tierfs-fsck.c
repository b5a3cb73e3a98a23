/*
 * tierfs-fsck - check, and with --repair repair, an unmounted tierfs store.
 *
 * DESIGN
 *
 * The checker links the core and goes through its public headers: store.h
 * takes the store's flock (a mounted store is refused, and no daemon can
 * mount it while we look), meta.h reads the catalog, seg.h verifies every
 * warm record (header, lengths, LZ4, CRC32C) and xzarc.h decodes the cold
 * bytes of every file. What meta.h has no call for goes to SQLite on a
 * second connection: PRAGMA integrity_check, the namespace queries
 * (dangling entries, link counts) and, when repairing, recounting the
 * catalog's live bytes.
 *
 * Checking changes nothing. segstore_open() recovers the directory it is
 * given (truncates uncommitted tails, deletes unknown *.seg files), so
 * without --repair it gets a private directory of symlinks to the segment
 * files, each declared committed at its actual size. With --repair it
 * opens STORE/warm with the catalog's lengths, as a mount does. A meta.db
 * that fails its integrity check is never repaired from: the catalog says
 * which files are orphans, and a damaged one would send good data to the
 * bin.
 *
 * The core logs to stderr; its lines are captured in a memfd, passed on
 * with -v, and the last one names the cause of a failed read.
 *
 * Repairs: uncommitted segment tails, orphan segments and archives and
 * unlinked inodes are deleted; so are entries naming missing inodes,
 * extents past end of file, catalog rows of missing files nothing uses,
 * and the extent of a damaged warm record (the chunk then reads as zeros)
 * unless a cold archive also holds that chunk, whose older bytes would
 * show through. Link counts are set to the number of links; live counters
 * and the lengths of short segments are recomputed. Damaged cold data,
 * bad segment headers and unreachable inodes are reported only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkcache.h"
#include "meta.h"
#include "seg.h"
#include "store.h"
#include "tierfs.h"
#include "xzarc.h"

enum { FSCK_CLEAN = 0, FSCK_PROBLEMS = 1, FSCK_USAGE = 2, FSCK_FAILED = 4 };
enum { SAY_FATAL, SAY_PROBLEM, SAY_FIXED, SAY_NOTE };

/* The segment file header (struct seg_fhdr in seg.c) starts with this
 * magic; the segment id is at offset 16. */
#define SEGF_MAGIC      "TFSSEG\0\1"
#define SEGF_ID_OFF     16u
#define SEG_MAX         (64u << 20)     /* never reached: no appends */
#define STEP            (1u << 20)      /* cold bytes decoded per call */

struct fsck_file {              /* a regular file */
	uint64_t ino;
	uint64_t size;
	uint32_t nlink;
};

struct fsck_segf {              /* a segment file in warm/ */
	uint64_t id;
	uint64_t size;
	ssize_t cat;            /* index in segs, -1 if not in the catalog */
	bool used;              /* extents point into it */
	bool hdr_ok;
};

struct fsck_cold {
	uint64_t ino;
	struct meta_cold c;
};

struct fsck {
	bool repair, verbose, can_repair, fix_sql;
	const char *arg;
	struct store store;
	char warm[PATH_MAX], cold[PATH_MAX], farm[PATH_MAX];
	sqlite3 *db;
	struct meta *meta;
	struct segstore *seg;
	struct blkcache *cache;         /* neighbours share cold blocks */
	int log_fd, err_fd;
	char why[256];                  /* cause in the last core log line */

	struct meta_seg *segs;          /* catalog, sorted by id */
	size_t nsegs;
	uint64_t *seg_live;             /* recomputed, parallel to segs */
	struct meta_arc *arcs;
	size_t narcs;
	uint64_t *arc_live;
	struct fsck_segf *sf;           /* files in warm/, sorted by id */
	size_t nsf;
	struct fsck_file *files;
	size_t nfiles, capfiles;
	struct fsck_cold *colds;
	size_t ncolds, capcolds;
	int scan_rc;
	unsigned long nregular, problems, repaired;
	uint8_t *buf;                   /* STEP bytes */
};

/* ---- output ---- */

#define fatal(k, ...)   say(k, SAY_FATAL, __VA_ARGS__)
#define problem(k, ...) say(k, SAY_PROBLEM, __VA_ARGS__)
#define fixed(k, ...)   say(k, SAY_FIXED, __VA_ARGS__)
#define note(k, ...)    say(k, SAY_NOTE, __VA_ARGS__)

/* Fatal errors go to stderr; problems, repairs and (-v) notes to stdout,
 * one line each. */
static __attribute__((format(printf, 3, 4)))
void say(struct fsck *k, int kind, const char *fmt, ...)
{
	va_list ap;

	if (kind == SAY_NOTE && !k->verbose)
		return;
	va_start(ap, fmt);
	if (kind == SAY_FATAL) {
		dprintf(k->err_fd, "tierfs-fsck: ");
		vdprintf(k->err_fd, fmt, ap);
		dprintf(k->err_fd, "\n");
	} else {
		fputs(kind == SAY_FIXED ? "  repaired: " : "", stdout);
		vprintf(fmt, ap);
		putchar('\n');
	}
	va_end(ap);
	k->problems += kind == SAY_PROBLEM;
	k->repaired += kind == SAY_FIXED;
}

/* Collect the core's log lines written since the last call: pass them on
 * with -v, keep the tail of the last one ("data checksum mismatch") in
 * k->why. */
static void log_drain(struct fsck *k)
{
	off_t end = k->log_fd >= 0 ? lseek(k->log_fd, 0, SEEK_CUR) : 0;
	char *b, *last, *p;

	snprintf(k->why, sizeof(k->why), "unreadable");
	if (end <= 0 || !(b = malloc((size_t)end + 1)))
		return;
	if (pread(k->log_fd, b, (size_t)end, 0) == end) {
		if (k->verbose) {
			fflush(stdout);
			if (write(k->err_fd, b, (size_t)end) < 0) {
				/* nowhere to report it */
			}
		}
		while (end > 0 && b[end - 1] == '\n')
			end--;
		b[end] = '\0';
		last = strrchr(b, '\n');
		last = last ? last + 1 : b;
		p = strstr(last, "] error: ");
		if (p && (p = strrchr(p, ':')) && p[1] == ' ')
			snprintf(k->why, sizeof(k->why), "%s", p + 2);
	}
	free(b);
	if (ftruncate(k->log_fd, 0) == 0)
		lseek(k->log_fd, 0, SEEK_SET);
}

/* "/dir/name" of ino (any one of its names), "(unlinked)" if none. */
static const char *ino_path(struct fsck *k, uint64_t ino, char *out,
			    size_t len)
{
	char tmp[PATH_MAX], name[TFS_NAME_MAX + 2];
	size_t pos = sizeof(tmp) - 1, n;
	const char *prefix = "";
	uint64_t parent;
	int depth = 0;

	tmp[pos] = '\0';
	if (ino == TFS_ROOT_INO)
		tmp[--pos] = '/';
	while (ino != TFS_ROOT_INO) {
		int rc = meta_dentry_parent(k->meta, ino, &parent, name);

		if (rc) {
			prefix = rc == -ENOENT ? "(unlinked)" : "(?)";
			break;
		}
		n = strlen(name);
		if (n + 1 > pos || ++depth > 4096) {
			prefix = "...";
			break;
		}
		pos -= n;
		memcpy(tmp + pos, name, n);
		tmp[--pos] = '/';
		ino = parent;
	}
	snprintf(out, len, "%s%s", prefix, tmp + pos);
	return out;
}

/* snprintf for paths: false if it did not fit. */
static __attribute__((format(printf, 3, 4)))
bool pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

static const char *plural(unsigned long n)
{
	return n == 1 ? "" : "s";
}

/* Order of structs whose first member is a uint64_t id. */
static int cmp_id(const void *a, const void *b)
{
	uint64_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return (x > y) - (x < y);
}

static void *find_id(void *v, size_t n, size_t size, uint64_t id)
{
	return n ? bsearch(&id, v, n, size, cmp_id) : NULL;
}

static ssize_t find_seg(struct fsck *k, uint64_t id)
{
	struct meta_seg *s = find_id(k->segs, k->nsegs, sizeof(*s), id);

	return s ? s - k->segs : -1;
}

/* ---- opening ---- */

static int fsck_open_store(struct fsck *k, const char *dir)
{
	char err[512], path[PATH_MAX];
	struct stat st;
	int rc;

	if (!pathf(path, sizeof(path), "%s/FORMAT", dir) ||
	    stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || stat(path, &st) < 0) {
		fatal(k, "%s: not a tierfs store (no FORMAT file)", dir);
		return FSCK_FAILED;
	}
	rc = store_open(&k->store, dir, err, sizeof(err));
	if (rc) {
		fatal(k, "%s%s", err, rc == -EBUSY ?
		      "; unmount it before checking" : "");
		return FSCK_FAILED;
	}
	if (store_path(&k->store, k->warm, sizeof(k->warm), "warm") ||
	    store_path(&k->store, k->cold, sizeof(k->cold), "cold") ||
	    store_path(&k->store, path, sizeof(path), "meta.db")) {
		fatal(k, "%s: path too long", dir);
		return FSCK_FAILED;
	}
	if (stat(path, &st) < 0) {
		fatal(k, "%s: %s", path, strerror(errno));
		return FSCK_FAILED;
	}
	return 0;
}

/* meta.db's integrity, on our own connection. FSCK_PROBLEMS when it is no
 * tierfs database at all (then nothing else can be checked). */
static int fsck_check_db(struct fsck *k)
{
	sqlite3_stmt *st = NULL;
	char path[PATH_MAX];
	int rc, ver = -1, bad = 0;

	store_path(&k->store, path, sizeof(path), "meta.db");
	rc = sqlite3_open_v2(path, &k->db, k->repair ? SQLITE_OPEN_READWRITE :
			     SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(k->db, 5000);
		rc = sqlite3_prepare_v2(k->db, "PRAGMA user_version", -1, &st,
					NULL);
	}
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ver = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK || ver != 1) {
		problem(k, "meta.db: not a tierfs metadata database (%s); "
			"nothing else can be checked", rc != SQLITE_OK ?
			sqlite3_errstr(rc) : ver ? "unknown schema version" :
			"empty");
		sqlite3_finalize(st);
		return FSCK_PROBLEMS;
	}
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(k->db, "PRAGMA integrity_check(50)", -1, &st,
				NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);

		if (r && strcmp(r, "ok") != 0)
			bad++, problem(k, "meta.db: integrity check: %s", r);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		bad++, problem(k, "meta.db: integrity check failed: %s",
			       sqlite3_errstr(rc));
	sqlite3_finalize(st);
	k->can_repair = k->repair && !bad;
	if (bad && k->repair)
		printf("meta.db is damaged: not repairing anything (restore "
		       "meta.db from a backup)\n");
	note(k, "meta.db integrity: %s", bad ? "damaged" : "ok");
	return 0;
}

static void collect_file(void *ctx, const struct meta_inode *in)
{
	struct fsck *k = ctx;

	if (k->nfiles == k->capfiles) {
		size_t cap = k->capfiles ? k->capfiles * 2 : 256;
		void *p = realloc(k->files, cap * sizeof(*k->files));

		if (!p) {
			k->scan_rc = -ENOMEM;
			return;
		}
		k->files = p;
		k->capfiles = cap;
	}
	k->files[k->nfiles++] = (struct fsck_file){
		.ino = in->ino, .size = in->size, .nlink = in->nlink };
	k->nregular += in->nlink > 0;
}

static int fsck_load(struct fsck *k)
{
	char path[PATH_MAX];
	int rc;

	store_path(&k->store, path, sizeof(path), "meta.db");
	rc = meta_open(&k->meta, path);
	if (!rc)
		rc = meta_seg_list(k->meta, &k->segs, &k->nsegs);
	if (!rc)
		rc = meta_arc_list(k->meta, &k->arcs, &k->narcs);
	if (!rc)
		rc = meta_inode_scan(k->meta, collect_file, k);
	if (!rc)
		rc = k->scan_rc;
	if (!rc && (!(k->seg_live = calloc(k->nsegs + 1, 8)) ||
		    !(k->arc_live = calloc(k->narcs + 1, 8)) ||
		    !(k->buf = malloc(STEP))))
		rc = -ENOMEM;
	if (!rc)
		rc = blkcache_create(&k->cache, 32u << 20);
	log_drain(k);
	if (rc)
		fatal(k, "%s: cannot read the catalog: %s", path,
		      rc == -EIO ? k->why : strerror(-rc));
	return rc;
}

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
	sqlite3_stmt *st;
	bool used = true;       /* when in doubt, keep the file */

	if (sqlite3_prepare_v2(k->db, "SELECT 1 FROM extent WHERE seg = ?1"
			       " LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (int64_t)id);
		used = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
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

static int list_warm(struct fsck *k)
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

static void farm_remove(struct fsck *k)
{
	char p[PATH_MAX];

	for (size_t i = 0; *k->farm && i < k->nsf; i++)
		if (pathf(p, sizeof(p), "%s/%08" PRIx64 ".seg", k->farm,
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
static int open_warm(struct fsck *k)
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
		rc = segstore_open(&k->seg, k->warm, SEG_MAX, known, n,
				   no_new_segments, NULL);
		goto out_free;
	}
	if (!pathf(k->farm, sizeof(k->farm), "%s/tierfs-fsck.XXXXXX",
		   tmp && *tmp ? tmp : "/tmp") || !mkdtemp(k->farm)) {
		rc = -errno;
		*k->farm = '\0';
		goto out_free;
	}
	for (size_t i = 0; i < k->nsf && !rc; i++) {
		known[n++] = (struct seg_known){ k->sf[i].id, k->sf[i].size };
		if (!pathf(t, sizeof(t), "%s/%08" PRIx64 ".seg", k->warm,
			   k->sf[i].id) ||
		    !pathf(l, sizeof(l), "%s/%08" PRIx64 ".seg", k->farm,
			   k->sf[i].id))
			rc = -ENAMETOOLONG;
		else if (symlink(t, l) < 0)
			rc = -errno;
	}
	if (!rc)
		rc = segstore_open(&k->seg, k->farm, SEG_MAX, known, n,
				   no_new_segments, NULL);
	farm_remove(k);         /* the segments stay mapped */
out_free:
	free(known);
	log_drain(k);
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

/* Read every warm record of a file; note its cold extent for later. */
static int check_file(struct fsck *k, const struct fsck_file *f)
{
	uint64_t nchunks = (f->size + TFS_CHUNK_SIZE - 1) >> TFS_CHUNK_SHIFT;
	struct meta_extent *e = NULL;
	struct meta_cold c = { 0 };
	size_t n = 0, bad = 0;
	bool *drop = NULL, any = false;
	char path[PATH_MAX] = "";
	int rc;

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
			continue;       /* an orphan: see check_namespace */
		if (e[i].chunk >= nchunks) {
			problem(k, "inode %" PRIu64 " (%s) chunk %" PRIu64
				": extent past end of file (size %" PRIu64 ")",
				f->ino, *path ? path : ino_path(k, f->ino,
				path, sizeof(path)), e[i].chunk, f->size);
			any = drop[i] = true;
			continue;
		}
		if (s >= 0 && e[i].off + e[i].rec_len > k->segs[s].len) {
			why = "record past the segment's committed length";
		} else if (segstore_read(k->seg, &loc, f->ino, e[i].chunk,
					 k->buf) < 0) {
			log_drain(k);
			why = k->why;
		}
		if (!why)
			continue;
		bad++;
		problem(k, "inode %" PRIu64 " (%s) chunk %" PRIu64 ": segment %08"
			PRIx64 " offset %" PRIu64 ": %s", f->ino, *path ? path :
			ino_path(k, f->ino, path, sizeof(path)), e[i].chunk,
			e[i].seg, e[i].off, why);
		if (c.len <= (e[i].chunk << TFS_CHUNK_SHIFT))
			any = drop[i] = true;
		else if (k->repair)
			printf("  not repaired: cold archive %08" PRIx64 " holds"
			       " older bytes of this chunk\n", c.archive);
	}
	if (!rc && f->nlink > 0 && k->verbose)
		note(k, "inode %" PRIu64 " (%s): %zu warm record%s, %zu "
		     "damaged%s", f->ino, *path ? path : ino_path(k, f->ino,
		     path, sizeof(path)), n, plural(n), bad,
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
			      "removed%s", f->ino, e[i].chunk,
			      e[i].chunk < nchunks ? " (the chunk now reads "
			      "as zeros)" : "");
	rc = 0;
out_free:
	free(drop);
	free(e);
	return rc;
}

/* ---- catalogs ---- */

static void check_catalog(struct fsck *k)
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
static void fix_sql(struct fsck *k)
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
			log_drain(k);
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
				c->ino, ino_path(k, c->ino, path, sizeof(path)),
				id, c->c.off, c->c.len, a ? k->why : why);
	}
}

static void check_archive(struct fsck *k, const struct meta_arc *m,
			  uint64_t live, size_t *ci)
{
	struct xzarc *a = NULL;
	char p[PATH_MAX];
	struct stat st;
	int rc;

	pathf(p, sizeof(p), "%s/%08" PRIx64 ".xz", k->cold, m->id);
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
	rc = xzarc_open(&a, p, m->id);
	if (rc) {
		log_drain(k);
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
}

static void check_archives(struct fsck *k)
{
	struct dirent *e;
	size_t ci = 0;
	DIR *d;

	if (k->ncolds)
		qsort(k->colds, k->ncolds, sizeof(*k->colds), cmp_cold);
	for (size_t i = 0; i < k->narcs; i++)
		check_archive(k, &k->arcs[i], k->arc_live[i], &ci);
	check_arc_files(k, UINT64_MAX, NULL, "not in the catalog", &ci);
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
			ino_path(k, p, dir, sizeof(dir)), p,
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
			"be %" PRId64, ino, ino_path(k, ino, path,
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

static void check_namespace(struct fsck *k)
{
	struct meta_inode root;

	if (meta_inode_get(k->meta, TFS_ROOT_INO, &root) ||
	    !S_ISDIR(root.mode))
		problem(k, "the root directory (inode 1) is missing or not a "
			"directory (not repaired)");
	check_entries(k);
	check_links(k);
}

/* ---- main ---- */

static int fsck_run(struct fsck *k)
{
	int rc;

	rc = fsck_check_db(k);
	if (rc)
		return rc;
	if (fsck_load(k))
		return FSCK_FAILED;
	rc = list_warm(k);
	if (!rc)
		rc = open_warm(k);
	if (rc) {
		fatal(k, "%s: cannot open the segments: %s", k->warm,
		      strerror(-rc));
		return FSCK_FAILED;
	}
	for (size_t i = 0; i < k->nfiles && !rc; i++)
		rc = check_file(k, &k->files[i]);
	if (!rc) {
		check_catalog(k);
		check_archives(k);
		check_namespace(k);
	}
	log_drain(k);
	if (rc) {
		fatal(k, "reading the catalog: %s",
		      rc == -EIO ? k->why : strerror(-rc));
		return FSCK_FAILED;
	}
	fix_sql(k);
	return 0;
}

static void fsck_close(struct fsck *k)
{
	segstore_close(&k->seg);
	farm_remove(k);
	meta_close(&k->meta);
	sqlite3_close(k->db);
	store_close(&k->store);
	blkcache_destroy(&k->cache);
	free(k->segs);
	free(k->seg_live);
	free(k->arcs);
	free(k->arc_live);
	free(k->sf);
	free(k->files);
	free(k->colds);
	free(k->buf);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tierfs-fsck [--repair] [-v] STORE\n"
		"Check an unmounted tierfs store: meta.db, every warm record,"
		" every cold file,\nthe catalogs and the namespace;"
		" --repair fixes what can be fixed.\n"
		"Exit status: 0 clean, 1 problems found (or repaired),"
		" 2 usage, 4 could not check.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck k = { .store = { .lock_fd = -1 }, .log_fd = -1,
			  .err_fd = STDERR_FILENO };
	int c, rc;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		if (c == 'r') {
			k.repair = true;
		} else if (c == 'v') {
			k.verbose = true;
		} else if (c == 'h') {
			usage(stdout);
			return FSCK_CLEAN;
		} else {
			usage(stderr);
			return FSCK_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "tierfs-fsck: %s\n", optind < argc ?
			"one STORE only" : "missing STORE");
		usage(stderr);
		return FSCK_USAGE;
	}
	k.arg = argv[optind];
	/* The core's log lines go to a memfd (see log_drain). */
	k.log_fd = memfd_create("tierfs-fsck-log", MFD_CLOEXEC);
	if (k.log_fd >= 0) {
		k.err_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (k.err_fd < 0 || dup2(k.log_fd, STDERR_FILENO) < 0) {
			close(k.log_fd);
			k.log_fd = -1;
			k.err_fd = STDERR_FILENO;
		}
	}
	rc = fsck_open_store(&k, k.arg);
	if (!rc)
		rc = fsck_run(&k);
	fsck_close(&k);
	log_drain(&k);
	if (rc == FSCK_FAILED)
		return rc;
	printf("tierfs-fsck: %s: %lu file%s, %zu segment%s, %zu archive%s: ",
	       k.arg, k.nregular, plural(k.nregular), k.nsegs,
	       plural(k.nsegs), k.narcs, plural(k.narcs));
	if (k.problems == 0)
		printf("clean\n");
	else if (k.repair)
		printf("%lu problem%s, %lu repaired\n", k.problems,
		       plural(k.problems), k.repaired);
	else
		printf("%lu problem%s\n", k.problems, plural(k.problems));
	return k.problems ? FSCK_PROBLEMS : FSCK_CLEAN;
}
