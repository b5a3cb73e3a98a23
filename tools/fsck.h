/*
 * fsck.h - private to tierfs-fsck: the checker's state, shared by its three
 * files, and the report helpers they print through.
 *
 * tierfs-fsck.c opens the store and the catalog, runs the phases and prints
 * the summary; fsck_data.c checks warm segments, warm records and cold
 * archives (and repairs them); fsck_ns.c checks the catalogs' counters and
 * the namespace (and repairs them). All of them read meta.db through
 * meta.h (its checker's calls are in src/meta_ro.c): no SQL here. This is
 * not a library:
 * nothing outside tools/ includes it, and it has no thread safety (the
 * checker is single-threaded).
 */
#ifndef TIERFS_FSCK_H
#define TIERFS_FSCK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "meta.h"
#include "store.h"

struct blkcache;
struct segstore;

enum { FSCK_CLEAN = 0, FSCK_PROBLEMS = 1, FSCK_USAGE = 2, FSCK_FAILED = 4 };
enum { SAY_FATAL, SAY_PROBLEM, SAY_FIXED, SAY_NOTE };

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
	struct meta *meta;
	struct segstore *seg;
	struct blkcache *cache;         /* neighbours share cold blocks */
	struct blob_store *cold_bs;     /* the S3 cold store, or NULL: local */
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

/* ---- output (tierfs-fsck.c) ---- */

#define fatal(k, ...)   fsck_say(k, SAY_FATAL, __VA_ARGS__)
#define problem(k, ...) fsck_say(k, SAY_PROBLEM, __VA_ARGS__)
#define fixed(k, ...)   fsck_say(k, SAY_FIXED, __VA_ARGS__)
#define note(k, ...)    fsck_say(k, SAY_NOTE, __VA_ARGS__)

/* Fatal errors go to stderr; problems, repairs and (-v) notes to stdout,
 * one line each; counts problems and repairs in k. */
__attribute__((format(printf, 3, 4)))
void fsck_say(struct fsck *k, int kind, const char *fmt, ...);
/* Collect the core's log lines written since the last call: pass them on
 * with -v, keep the tail of the last one ("data checksum mismatch") in
 * k->why. */
void fsck_log_drain(struct fsck *k);
/* "/dir/name" of ino (any one of its names), "(unlinked)" if none; returns
 * out. */
const char *fsck_ino_path(struct fsck *k, uint64_t ino, char *out,
			  size_t len);
/* snprintf for paths: false if it did not fit. */
__attribute__((format(printf, 3, 4)))
bool fsck_pathf(char *out, size_t len, const char *fmt, ...);

static inline const char *plural(unsigned long n)
{
	return n == 1 ? "" : "s";
}

/* Order of structs whose first member is a uint64_t id. */
static inline int cmp_id(const void *a, const void *b)
{
	uint64_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return (x > y) - (x < y);
}

static inline void *find_id(void *v, size_t n, size_t size, uint64_t id)
{
	return n ? bsearch(&id, v, n, size, cmp_id) : NULL;
}

/* Index of segment id in the catalog k->segs, -1 if absent. */
static inline ssize_t find_seg(struct fsck *k, uint64_t id)
{
	struct meta_seg *s = find_id(k->segs, k->nsegs, sizeof(*s), id);

	return s ? s - k->segs : -1;
}

/* ---- warm and cold data (fsck_data.c) ---- */

/* List warm/ into k->sf; deletes orphan and stray files when repairing.
 * 0 or -errno. */
int fsck_list_warm(struct fsck *k);
/* Open k->seg (see the DESIGN comment in tierfs-fsck.c). 0 or -errno. */
int fsck_open_warm(struct fsck *k);
/* Remove the private directory of symlinks, if any; idempotent. */
void fsck_farm_remove(struct fsck *k);
/* Read every warm record of f, drop damaged extents when repairing; note
 * its cold extent for fsck_check_archives(). 0 or -errno (catalog). */
int fsck_check_file(struct fsck *k, const struct fsck_file *f);
/* Decode every cold extent noted; find orphans in cold/. */
void fsck_check_archives(struct fsck *k);

/* ---- catalogs and namespace (fsck_ns.c) ---- */

/* Compare the catalogs with the files and the recomputed live bytes; sets
 * k->fix_sql for fsck_fix_sql(). */
void fsck_check_catalog(struct fsck *k);
/* When repairing: recount the live bytes, fix short committed lengths. */
void fsck_fix_sql(struct fsck *k);
/* The root, dangling entries, link counts and orphan inodes. */
void fsck_check_namespace(struct fsck *k);

/* fsck_s3.c: open the store's S3 cold store when STORE/cold_store names
 * one (settings from STORE/tierfs.conf, keys from s3_credentials or the
 * environment) into k->cold_bs. 0, or an exit status after a message. */
int fsck_s3_open(struct fsck *k);
/* Every object under the prefix that is no catalog archive is reported. */
void fsck_s3_orphans(struct fsck *k);

/* tierfs-fsck --restore (fsck_s3.c): main() hands it argv when the first
 * argument is --restore. Returns an exit status. */
int fsck_s3_restore(int argc, char **argv);

#endif
