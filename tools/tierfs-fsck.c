/*
 * tierfs-fsck - check, and with --repair repair, an unmounted tierfs store.
 *
 * This file holds main(): option parsing, opening the store and the
 * catalog, the report helpers, the order of the phases, the summary and
 * the exit codes. The checks themselves are in fsck_data.c (warm and cold
 * data) and fsck_ns.c (catalogs and namespace); fsck.h is their shared
 * state.
 *
 * DESIGN
 *
 * The checker links the core and goes through its public headers: store.h
 * takes the store's flock (a mounted store is refused, and no daemon can
 * mount it while we look), meta.h reads the catalog, seg.h verifies every
 * warm record (header, lengths, LZ4, CRC32C) and xzarc.h decodes the cold
 * bytes of every file. meta.h also has the checker's own calls (meta_ro.c):
 * PRAGMA integrity_check, the namespace queries (dangling entries, link
 * counts) and, when repairing, recounting the catalog's live bytes; the
 * checker has no SQL of its own.
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
 * extents past end of file and catalog rows of missing files nothing
 * uses. Link counts are set to the number of links; live counters and the
 * lengths of short segments are recomputed. Lost data is never "repaired":
 * a damaged warm record or cold block stays where it is, so its file
 * keeps reading EIO there (dropping it would turn the loss into zeros
 * that read back without an error); the report names the file and the
 * byte range. Bad segment headers and unreachable inodes are reported
 * only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkcache.h"
#include "blob.h"
#include "seg.h"
#include "fsck.h"

/* ---- output ---- */

__attribute__((format(printf, 3, 4)))
void fsck_say(struct fsck *k, int kind, const char *fmt, ...)
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
void fsck_log_drain(struct fsck *k)
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
const char *fsck_ino_path(struct fsck *k, uint64_t ino, char *out,
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
__attribute__((format(printf, 3, 4)))
bool fsck_pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

/* ---- opening ---- */

static int fsck_open_store(struct fsck *k, const char *dir)
{
	char err[512], path[PATH_MAX];
	struct stat st;
	int rc;

	if (!fsck_pathf(path, sizeof(path), "%s/FORMAT", dir) ||
	    stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || stat(path, &st) < 0) {
		fatal(k, "%s: not a tierfs store (no FORMAT file)", dir);
		return FSCK_FAILED;
	}
	rc = store_open_wait(&k->store, dir, STORE_MOUNT_WAIT_MS, err,
			     sizeof(err));
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
	return fsck_s3_open(k);
}

static int report_db_problem(void *ctx, const char *msg)
{
	problem(ctx, "meta.db: integrity check: %s", msg);
	return 0;
}

/* Open meta.db (an existing tierfs database only) and check its
 * integrity. FSCK_PROBLEMS when it is no tierfs database at all (then
 * nothing else can be checked). */
static int fsck_check_db(struct fsck *k)
{
	char path[PATH_MAX];
	unsigned bad = 0;
	int rc;

	store_path(&k->store, path, sizeof(path), "meta.db");
	rc = meta_open_existing(&k->meta, path);
	if (!rc)
		rc = meta_check(k->meta, false, report_db_problem, k, &bad);
	fsck_log_drain(k);
	if (rc) {
		problem(k, "meta.db: not a tierfs metadata database (%s); "
			"nothing else can be checked", rc == -ENODATA ?
			"empty" : rc == -EPROTO ? "unknown schema version" :
			rc == -EIO ? k->why : strerror(-rc));
		return FSCK_PROBLEMS;
	}
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
	fsck_log_drain(k);
	if (rc)
		fatal(k, "%s: cannot read the catalog: %s", path,
		      rc == -EIO ? k->why : strerror(-rc));
	return rc;
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
	rc = fsck_list_warm(k);
	if (!rc)
		rc = fsck_open_warm(k);
	if (rc) {
		fatal(k, "%s: cannot open the segments: %s", k->warm,
		      strerror(-rc));
		return FSCK_FAILED;
	}
	for (size_t i = 0; i < k->nfiles && !rc; i++)
		rc = fsck_check_file(k, &k->files[i]);
	if (!rc) {
		fsck_check_catalog(k);
		fsck_check_archives(k);
		fsck_check_namespace(k);
	}
	fsck_log_drain(k);
	if (rc) {
		fatal(k, "reading the catalog: %s",
		      rc == -EIO ? k->why : strerror(-rc));
		return FSCK_FAILED;
	}
	fsck_fix_sql(k);
	return 0;
}

static void fsck_close(struct fsck *k)
{
	segstore_close(&k->seg);
	fsck_farm_remove(k);
	meta_close(&k->meta);
	store_close(&k->store);
	blkcache_destroy(&k->cache);
	blob_store_close(&k->cold_bs);
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
		"       tierfs-fsck --help | --version\n"
		"       tierfs-fsck --restore s3://BUCKET[/PREFIX] [options]"
		" STORE  (see --restore --help)\n"
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
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck k = { .store = { .lock_fd = -1 }, .log_fd = -1,
			  .err_fd = STDERR_FILENO };
	int c, rc;

	if (argc > 1 && !strncmp(argv[1], "--restore", 9))
		return fsck_s3_restore(argc, argv);
	while ((c = getopt_long(argc, argv, "vhV", opts, NULL)) != -1) {
		if (c == 'r') {
			k.repair = true;
		} else if (c == 'v') {
			k.verbose = true;
		} else if (c == 'h') {
			usage(stdout);
			return FSCK_CLEAN;
		} else if (c == 'V') {
			printf("tierfs-fsck %s\n", TIERFS_VERSION);
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
	fsck_log_drain(&k);
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
