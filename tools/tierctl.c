/*
 * tierctl.c - control of mounted tierfs filesystems: a status table, per-file
 * tier listings, moves, pins, a per-tier du. It talks to the daemon only through the user.tierfs.* xattrs of files and
 * the JSON file MNT/.tiers/stats, links nothing but libc and never opens a
 * store (offline work is tierfs-fsck's). A path is on tierfs when the mount
 * holding it (found by st_dev in /proc/self/mountinfo) is fuse.tierfs, or
 * when it is a regular file whose user.tierfs.tier reads. Facts the daemon
 * does not provide (ENODATA, EOPNOTSUPP) show as "-".
 *
 * -r is a walk of our own (nftw(3) has no context argument): it stays on the
 * operand's device, takes regular files only and skips a mount root's .tiers
 * views (the same files again). Files are collected first, so the progress
 * bar (on a terminal, for PROGRESS_MIN_FILES files or more) knows the total.
 * Exit status: 0 success; 1 an operation failed on some path (each one is
 * reported); 2 usage; 3 a path is not on a tierfs mount; the highest wins.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "tierctl_json.h"

#ifndef TIERFS_VERSION
#define TIERFS_VERSION "unknown"
#endif

#define FSTYPE "fuse.tierfs"
#define XA_PREFIX "user.tierfs."
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_TIERFS 3
#define PROGRESS_MIN_FILES 32
#define NTIERS 3
#define LS_FMT "%-4s  %-4s  %10s  %10s  %6s  %-20s  %-20s  %s%s\n"
#define LS_HEAD "TIER", "PIN", "SIZE", "STORED", "RATIO", "LAST ACCESS", \
	"REASON", "NAME", ""
#define DU_FMT "%-5s  %8s  %12s  %12s  %6s\n"
#define ST_FMT "%-4s  %6s  %10s  %10s  %6s  %8s  %8s  %8s  %10s  %9s  " \
	"%8s  %8s  %8s\n"

static const char *const tier_names[NTIERS] = { "hot", "warm", "cold" };

static const char usage_text[] =
	"usage: tierctl status [-b] [MNT]\n"
	"       tierctl ls [-b] [PATH...]\n"
	"       tierctl mv|pin --to hot|warm|cold [-r] PATH...\n"
	"       tierctl unpin [-r] PATH...\n"
	"       tierctl du [-rb] [PATH...]\n"
	"       tierctl --help | --version\n";
static const char options_text[] =
	"  -r, --recursive  descend into directories (same mount only)\n"
	"  -b, --bytes      exact byte counts instead of KiB/MiB/GiB\n"
	"exit status: 0 ok, 1 some path failed, 2 usage, 3 not on a tierfs mount\n";

struct item {
	char *path;
	dev_t dev;
	ino_t ino;
	uint64_t size;
};

struct ctx {
	struct item *items;	/* regular files collected by collect() */
	size_t nitem, capitem;
	const char *to;		/* options */
	bool recursive, bytes;
	int status;		/* exit status so far: the highest */
	bool bar_shown;		/* a progress line is on stderr */
	struct timespec bar_time; /* when it was drawn */
};

/* ---- messages, mounts, xattrs ---- */

static __attribute__((format(printf, 4, 5)))
void report(struct ctx *c, int status, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (c->bar_shown)
		fputs("\r\033[K", stderr);	/* redrawn by the next update */
	c->bar_shown = false;
	fprintf(stderr, "tierctl: %s%s", path ? path : "", path ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->status = status > c->status ? status : c->status;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("tierctl: ", stderr);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return EXIT_USAGE;
}

/* The type and source of the mount whose device is DEV, from
 * /proc/self/mountinfo ("id parent maj:min root dir opts... - type src"). */
static int mount_info(dev_t dev, char *type, char *source)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep;
	size_t cap = 0;
	unsigned int maj, mnr;
	int rc = -ENOENT;

	if (!fp)
		return -errno;
	while (rc && getline(&line, &cap, fp) > 0) {
		sep = strstr(line, " - ");
		if (sep && sscanf(line, "%*s %*s %u:%u", &maj, &mnr) == 2 &&
		    maj == major(dev) && mnr == minor(dev) &&
		    sscanf(sep + 3, "%63s %255s", type, source) == 2)
			rc = 0;
	}
	free(line);
	fclose(fp);
	return rc;
}

static bool on_tierfs(const char *path, const struct stat *st)
{
	char type[64], source[256];

	if (!mount_info(st->st_dev, type, source) && !strcmp(type, FSTYPE))
		return true;
	return S_ISREG(st->st_mode) &&
	       getxattr(path, XA_PREFIX "tier", NULL, 0) >= 0;
}

/* stat(2) an operand; false, reported, when that fails or it is not on a
 * tierfs mount. */
static bool operand(struct ctx *c, const char *path, struct stat *st)
{
	if (stat(path, st))
		report(c, EXIT_FAILED, path, "%s", strerror(errno));
	else if (!on_tierfs(path, st))
		report(c, EXIT_NOT_TIERFS, path, "not on a tierfs mount");
	else
		return true;
	return false;
}

/* The root of the mount holding PATH, malloc'd in *out: its real path cut
 * back while the parent is on the same device. */
static int mount_root(const char *path, char **out)
{
	struct stat st, pst;
	char *p = realpath(path, NULL), *slash;
	int r;

	if (!p || stat(p, &st)) {
		r = -errno;
		free(p);
		return r;
	}
	while (strcmp(p, "/") && (slash = strrchr(p, '/'))) {
		*slash = 0;
		r = stat(slash == p ? "/" : p, &pst);
		*slash = '/';
		if (r || pst.st_dev != st.st_dev)
			break;
		slash[slash == p] = 0;	/* "/a" becomes "/" */
	}
	*out = p;
	return 0;
}

/* Read user.tierfs.WHAT as a printable string; "-" on failure. */
static int xa_get(const char *path, const char *what, char *buf, size_t size)
{
	char name[64];
	ssize_t n;

	snprintf(name, sizeof(name), XA_PREFIX "%s", what);
	n = getxattr(path, name, buf, size - 1);
	if (n < 0) {
		snprintf(buf, size, "-");
		return -errno;
	}
	buf[n] = 0;
	while (n-- > 0)
		buf[n] = isprint((unsigned char)buf[n]) ? buf[n] : '?';
	return 0;
}

/* user.tierfs.stored as a number; false when unknown. */
static bool xa_stored(const char *path, uint64_t *v)
{
	char raw[32], *end;

	if (xa_get(path, "stored", raw, sizeof(raw)) ||
	    !isdigit((unsigned char)raw[0]))
		return false;
	*v = strtoull(raw, &end, 10);
	return !*end;
}

static char *fmt_size(char *buf, size_t n, uint64_t v, bool bytes)
{
	double d = (double)v;
	int u = 0;

	for (; d >= 1024.0 && !bytes && u < 6; u++)
		d /= 1024.0;
	if (u == 0)
		snprintf(buf, n, bytes ? "%" PRIu64 : "%" PRIu64 " B", v);
	else
		snprintf(buf, n, "%.1f %ciB", d, "KMGTPE"[u - 1]);
	return buf;
}

static int tier_index(const char *name)
{
	for (int t = 0; t < NTIERS; t++)
		if (!strcmp(name, tier_names[t]))
			return t;
	return -1;
}

/* ---- ls ---- */

static void ls_row(struct ctx *c, const char *path, const char *name,
		   const struct stat *st)
{
	char tier[16] = "-", pin[16] = "-", stored[32] = "-", ratio[32] = "-";
	char atime[48] = "-", reason[256] = "-", size[32] = "-";
	uint64_t v;
	int rc;

	if (S_ISREG(st->st_mode)) {
		rc = xa_get(path, "tier", tier, sizeof(tier));
		if (rc && rc != -ENODATA && rc != -EOPNOTSUPP)
			report(c, EXIT_FAILED, path, "cannot read tier: %s",
			       strerror(-rc));
		xa_get(path, "pin", pin, sizeof(pin));
		if (xa_stored(path, &v))
			fmt_size(stored, sizeof(stored), v, c->bytes);
		xa_get(path, "ratio", ratio, sizeof(ratio));
		xa_get(path, "atime", atime, sizeof(atime));
		xa_get(path, "reason", reason, sizeof(reason));
		fmt_size(size, sizeof(size), (uint64_t)st->st_size, c->bytes);
	}
	printf(LS_FMT, tier, pin, size, stored, ratio, atime, reason, name,
	       S_ISDIR(st->st_mode) ? "/" : "");
}

/* Like ls(1), names starting with '.' are left out (name them to see). */
static int ls_filter(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static void ls_dir(struct ctx *c, const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, ls_filter, alphasort);
	char *path;
	struct stat st;

	if (n < 0) {
		report(c, EXIT_FAILED, dir, "%s", strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		if (asprintf(&path, "%s/%s", dir, ents[i]->d_name) >= 0) {
			if (lstat(path, &st))
				report(c, EXIT_FAILED, path, "%s",
				       strerror(errno));
			else
				ls_row(c, path, ents[i]->d_name, &st);
			free(path);
		}
		free(ents[i]);
	}
	free(ents);
}

/* Like ls(1): the files among the operands first, then each directory's
 * entries, under a "DIR:" line when there are several operands. */
static int cmd_ls(struct ctx *c, int n, char **paths)
{
	int head = 0, dirs = 0;
	struct stat st;

	for (int i = 0; i < n; i++) {
		if (operand(c, paths[i], &st) && !S_ISDIR(st.st_mode)) {
			if (!head++)
				printf(LS_FMT, LS_HEAD);
			ls_row(c, paths[i], paths[i], &st);
		}
	}
	for (int i = 0; i < n; i++) {
		if (stat(paths[i], &st) || !S_ISDIR(st.st_mode) ||
		    !on_tierfs(paths[i], &st))
			continue;
		if (head || dirs || n > 1)
			printf("%s%s:\n", head || dirs ? "\n" : "", paths[i]);
		printf(LS_FMT, LS_HEAD);
		ls_dir(c, paths[i]);
		dirs++;
	}
	return c->status;
}

/* ---- collecting files ---- */

static void items_add(struct ctx *c, const char *path, const struct stat *st)
{
	size_t cap = c->capitem ? c->capitem * 2 : 64;
	struct item *it = c->items;
	char *copy = NULL;

	if (c->nitem == c->capitem && (it = realloc(c->items,
						    cap * sizeof(*it)))) {
		c->items = it;
		c->capitem = cap;
	}
	if (!it || !(copy = strdup(path))) {
		report(c, EXIT_FAILED, path, "%s", strerror(ENOMEM));
		return;
	}
	c->items[c->nitem++] = (struct item){ copy, st->st_dev, st->st_ino,
					      (uint64_t)st->st_size };
}

/* Add DIR's regular files; with RECURSE, those of its subdirectories on
 * device DEV too (one open directory per level). */
static void walk_dir(struct ctx *c, const char *dir, dev_t dev, bool recurse)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st, pst;
	char *path;

	if (!d) {
		report(c, EXIT_FAILED, dir, "%s", strerror(errno));
		return;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			report(c, EXIT_FAILED, path, "%s", strerror(errno));
		else if (S_ISREG(st.st_mode))
			items_add(c, path, &st);
		else if (S_ISDIR(st.st_mode) && recurse && st.st_dev == dev &&
			 !(!strcmp(de->d_name, ".tiers") &&	/* at a root */
			   !fstatat(dirfd(d), "..", &pst, 0) &&
			   pst.st_dev != dev))
			walk_dir(c, path, dev, recurse);
		free(path);
	}
	if (errno)
		report(c, EXIT_FAILED, dir, "%s", strerror(errno));
	closedir(d);
}

/* Collect the regular files the operands name. A directory contributes
 * its files with -r, its direct files when DIR_DIRECT (du), and is an error
 * otherwise. */
static void collect(struct ctx *c, int n, char **paths, bool dir_direct)
{
	struct stat st;

	for (int i = 0; i < n; i++) {
		if (!operand(c, paths[i], &st))
			continue;
		if (S_ISREG(st.st_mode))
			items_add(c, paths[i], &st);
		else if (!S_ISDIR(st.st_mode))
			report(c, EXIT_FAILED, paths[i], "not a regular file");
		else if (c->recursive || dir_direct)
			walk_dir(c, paths[i], st.st_dev, c->recursive);
		else
			report(c, EXIT_FAILED, paths[i],
			       "is a directory (use -r)");
	}
}

/* ---- mv, pin, unpin ---- */

/* "[#####     ] 123/456 files 1.2 GiB of 3.4 GiB", at most every 100 ms
 * unless FORCE. */
static void progress(struct ctx *c, size_t done, uint64_t bytes,
		     uint64_t total_bytes, bool force)
{
	static const char full[] = "##############################";
	int width = (int)sizeof(full) - 1;
	int fill = c->nitem ? (int)(done * (size_t)width / c->nitem) : width;
	char b1[32], b2[32];
	struct timespec now, *t = &c->bar_time;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && c->bar_shown && (now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000 < 100)
		return;
	*t = now;
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu files %s of %s\033[K", fill, full,
		width - fill, "", done, c->nitem,
		fmt_size(b1, sizeof(b1), bytes, false),
		fmt_size(b2, sizeof(b2), total_bytes, false));
	c->bar_shown = true;
}

/* mv, pin, unpin: set user.tierfs.WHAT = VALUE on the operands' files. */
static int cmd_set(struct ctx *c, int n, char **paths, const char *what,
		   const char *value)
{
	uint64_t bytes = 0, total = 0;
	bool bar;
	char name[64];
	int left = 0;

	/* `mv -r --to cold DIR`: one setxattr on the directory moves its
	 * whole tree in one batch inside the daemon, so the files share
	 * archives instead of getting one archive each (no progress bar: it
	 * is one request). Files named directly, and moves to hot or warm,
	 * go one by one. */
	if (c->recursive && !strcmp(what, "tier") && !strcmp(value, "cold")) {
		for (int i = 0; i < n; i++) {
			struct stat st;

			if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode) &&
			    setxattr(paths[i], XA_PREFIX "tier", value,
				     strlen(value), 0) == 0)
				continue;       /* done, whole tree */
			paths[left++] = paths[i];
		}
		n = left;
	}
	collect(c, n, paths, false);
	snprintf(name, sizeof(name), XA_PREFIX "%s", what);
	bar = c->nitem >= PROGRESS_MIN_FILES && isatty(STDERR_FILENO);
	for (size_t i = 0; i < c->nitem; i++)
		total += c->items[i].size;
	for (size_t i = 0; i < c->nitem; i++) {
		if (bar)
			progress(c, i, bytes, total, i == 0);
		if (setxattr(c->items[i].path, name, value, strlen(value), 0))
			report(c, EXIT_FAILED, c->items[i].path, "cannot set %s "
			       "to %s: %s", name, value, strerror(errno));
		bytes += c->items[i].size;
	}
	if (bar) {
		progress(c, c->nitem, bytes, total, true);
		fputc('\n', stderr);
	}
	c->bar_shown = false;
	return c->status;
}

/* ---- du ---- */

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return x->dev != y->dev ? (x->dev > y->dev) - (x->dev < y->dev) :
				  (x->ino > y->ino) - (x->ino < y->ino);
}

/* Logical and stored bytes per tier over the operands' files, each file
 * once however many links name it. */
static int cmd_du(struct ctx *c, int n, char **paths)
{
	struct { uint64_t files, logical, stored; bool unknown; } sum[NTIERS + 1];
	char tier[16], files[24], lo[32], st[32], ratio[24];
	uint64_t v = 0;
	bool known;
	int rc, ti;

	memset(sum, 0, sizeof(sum));
	collect(c, n, paths, true);
	if (!c->nitem && c->status)	/* nothing to count */
		return c->status;
	if (c->nitem)		/* qsort(NULL, 0) is undefined */
		qsort(c->items, c->nitem, sizeof(*c->items), item_cmp);
	for (size_t i = 0; i < c->nitem; i++) {
		const struct item *it = &c->items[i];

		if (i && !item_cmp(it, it - 1))
			continue;	/* another link to a file counted */
		rc = xa_get(it->path, "tier", tier, sizeof(tier));
		ti = rc ? -1 : tier_index(tier);
		if (ti < 0) {
			report(c, EXIT_FAILED, it->path, "cannot read tier: %s",
			       rc ? strerror(-rc) : tier);
			continue;
		}
		known = xa_stored(it->path, &v);
		/* its tier's row, then the total's */
		for (int s = ti; s <= NTIERS; s += NTIERS - ti) {
			sum[s].files++;
			sum[s].logical += it->size;
			sum[s].stored += known ? v : 0;
			sum[s].unknown |= !known;
		}
	}
	printf(DU_FMT, "TIER", "FILES", "LOGICAL", "STORED", "RATIO");
	for (int s = 0; s <= NTIERS; s++) {
		snprintf(files, sizeof(files), "%" PRIu64, sum[s].files);
		fmt_size(lo, sizeof(lo), sum[s].logical, c->bytes);
		fmt_size(st, sizeof(st), sum[s].stored, c->bytes);
		snprintf(ratio, sizeof(ratio), "%.2f", (double)sum[s].logical /
			 (double)(sum[s].stored ? sum[s].stored : 1));
		printf(DU_FMT, s < NTIERS ? tier_names[s] : "total", files, lo,
		       sum[s].unknown ? "-" : st,
		       sum[s].unknown || !sum[s].stored ? "-" : ratio);
	}
	return c->status;
}

/* ---- status ---- */

/* Field KEY of the stats formatted into BUF (64 bytes) as a count, Size,
 * Ratio or Latency (F is 'c', 's', 'r' or 'l'); "-" when missing. */
static const char *jfmt(const struct ctx *c, const char *text,
			const char *key, char f, char *buf)
{
	const char *v = json_get(text, key, buf);
	char *end;
	double d = v ? strtod(v, &end) : 0;

	if (!v || *end || end == v || d < 0)
		return v ? v : strcpy(buf, "-");
	if (f == 'c')
		snprintf(buf, 64, "%.0f", d);
	else if (f == 's')
		fmt_size(buf, 64, (uint64_t)d, c->bytes);
	else if (f == 'r')
		snprintf(buf, 64, d > 0 ? "%.2f" : "-", d);
	else
		snprintf(buf, 64, d < 1000 ? "%.1fus" : d < 1e6 ? "%.2fms" :
			 "%.2fs", d < 1000 ? d : d < 1e6 ? d / 1e3 : d / 1e6);
	return buf;
}

static void status_print(const struct ctx *c, const char *text)
{
	/* the format letter (see jfmt), then the key under tiers.TIER */
	static const char *const col[] = { "cfiles", "slogical_bytes",
		"sstored_bytes", "rratio", "creads", "chits", "cmisses",
		"cpromotions", "cdemotions", "lread_latency_us.p50",
		"lread_latency_us.p95", "lread_latency_us.p99" };
	char v[12][64], key[128], b1[64], b2[64];
	double rerr = 0;

	printf(ST_FMT, "TIER", "FILES", "LOGICAL", "STORED", "RATIO", "READS",
	       "HITS", "MISSES", "PROMOTIONS", "DEMOTIONS", "P50", "P95",
	       "P99");
	for (int ti = 0; ti < NTIERS; ti++) {
		for (int k = 0; k < 12; k++) {
			snprintf(key, sizeof(key), "tiers.%s.%s", tier_names[ti],
				 col[k] + 1);
			jfmt(c, text, key, col[k][0], v[k]);
		}
		printf(ST_FMT, tier_names[ti], v[0], v[1], v[2], v[3], v[4],
		       v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
		snprintf(key, sizeof(key), "tiers.%s.errors", tier_names[ti]);
		if (json_get(text, key, b1))
			rerr += strtod(b1, NULL);
	}
	printf("\nhot budget:  %s of %s", jfmt(c, text, "hot_bytes", 's', b1),
	       jfmt(c, text, "hot_max", 's', b2));
	if (json_get(text, "hot_bytes", b1) && json_get(text, "hot_max", b2) &&
	    strtod(b2, NULL) > 0)
		printf(" (%.1f%%)", 100.0 * strtod(b1, NULL) / strtod(b2, NULL));
	printf(", %s files resident\n",
	       jfmt(c, text, "hot_resident_files", 'c', b1));
	printf("evictions:   %s\n", jfmt(c, text, "evictions", 'c', b1));
	printf("errors:      %.0f read, %s migration\n", rerr,
	       jfmt(c, text, "migration_errors", 'c', b2));
}

static int cmd_status(struct ctx *c, int n, char **paths)
{
	char type[64], source[256] = "?", v[64], *path = paths[0];
	char *root = NULL, *stats = NULL, *text = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *fp = NULL;
	int rc;

	if (n > 1)
		return usage_error("status: %s", "at most one MNT");
	if (!operand(c, path, &st))
		return c->status;
	(void)mount_info(st.st_dev, type, source);
	rc = mount_root(path, &root);
	if (!rc && asprintf(&stats, "%s/.tiers/stats", root) < 0)
		rc = -ENOMEM;
	if (!rc && !(fp = fopen(stats, "re")))
		rc = -errno;
	/* the whole file: it holds no NUL */
	if (!rc && getdelim(&text, &cap, 0, fp) < 0)
		rc = ferror(fp) ? -EIO : -ENODATA;
	if (rc) {
		report(c, EXIT_FAILED, stats ? stats : path, "%s",
		       strerror(-rc));
	} else if (!json_get(text, "tiers.hot.files", v)) {
		report(c, EXIT_FAILED, stats, "not the JSON expected");
	} else {
		printf("tierfs on %s (store %s)\n\n", root, source);
		status_print(c, text);
	}
	if (fp)
		fclose(fp);
	free(text);
	free(stats);
	free(root);
	return c->status;
}

/* ---- main ---- */

/* Parse the options of a command; ALLOWED lists its short options. Returns
 * 0, EXIT_USAGE after a message, or -1 after printing help. */
static int parse_opts(int argc, char **argv, const char *allowed,
		      struct ctx *c)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	char bad[3] = "-?";
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":t:rbh", lo, NULL)) != -1) {
		bad[1] = (char)(ch == '?' ? optopt : ch);
		if (ch == 'h')
			return printf("%s%s", usage_text, options_text), -1;
		if (ch == ':')
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		if (ch == '?' || !strchr(allowed, ch))
			return usage_error("%s: unknown option", ch == '?' &&
					   !optopt ? argv[optind - 1] : bad);
		c->to = ch == 't' ? optarg : c->to;
		c->recursive |= ch == 'r';
		c->bytes |= ch == 'b';
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const cmds[][2] = {
		{ "status", "b" }, { "ls", "b" }, { "mv", "tr" },
		{ "pin", "tr" }, { "unpin", "r" }, { "du", "rb" } };
	char *def[] = { (char *)"." }, **paths;
	struct ctx c = { 0 };
	const char *cmd = argc > 1 ? argv[1] : "";
	int ci = -1, rc, n;

	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return printf("%s%s", usage_text, options_text), 0;
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V"))
		return printf("tierctl %s\n", TIERFS_VERSION), 0;
	for (int i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++)
		ci = strcmp(cmd, cmds[i][0]) ? ci : i;
	if (ci < 0)
		return usage_error(*cmd ? "unknown command '%s'" :
				   "missing command%s", cmd);
	rc = parse_opts(argc - 1, argv + 1, cmds[ci][1], &c);
	if (rc)
		return rc < 0 ? 0 : rc;
	n = argc - 1 - optind;
	paths = argv + 1 + optind;
	if ((ci == 2 || ci == 3) && !c.to)
		return usage_error("%s: --to hot|warm|cold is required", cmd);
	if (c.to && tier_index(c.to) < 0)
		return usage_error("invalid tier '%s' (hot, warm or cold)",
				   c.to);
	if (n == 0 && ci >= 2 && ci <= 4)
		return usage_error("%s: missing PATH", cmd);
	if (n == 0) {		/* status, ls, du: like ls(1), du(1) */
		n = 1;
		paths = def;
	}
	if (ci == 0)
		rc = cmd_status(&c, n, paths);
	else if (ci == 1)
		rc = cmd_ls(&c, n, paths);
	else if (ci == 5)
		rc = cmd_du(&c, n, paths);
	else
		rc = cmd_set(&c, n, paths, ci == 2 ? "tier" : "pin",
			     ci == 4 ? "none" : c.to);
	for (size_t i = 0; i < c.nitem; i++)
		free(c.items[i].path);
	free(c.items);
	if (fflush(stdout) && rc < EXIT_FAILED)
		rc = EXIT_FAILED;
	return rc;
}
