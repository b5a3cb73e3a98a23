/*
 * tierctl_ls.c - the read-only listings: `ls` (one row per file with its
 * tier, pin, sizes, last access and reason), `du` (per operand, the files
 * and bytes in each tier, recursively, and a total) and `pins` (the pinned
 * files below a path, and the directories whose policy pins). Each prints a table, or JSON with --json. Facts the
 * daemon does not provide (ENODATA, EOPNOTSUPP) show as "-" (null in JSON).
 */
#include "tierctl.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>

#define LS_FMT "%-4s  %-4s  %10s  %10s  %6s  %-20s  %-20s  %s%s\n"
#define LS_HEAD "TIER", "PIN", "SIZE", "STORED", "RATIO", "LAST ACCESS", \
	"REASON", "NAME", ""
#define DU_FMT "%8s  %12s  %12s  %6s  %12s  %12s  %12s  %s\n"

/* ---- ls ---- */

struct ls_state {
	bool head;		/* table: a header is due before the next row */
	bool first;		/* JSON: no entry printed yet */
};

/* "x" as a JSON string, or null for "-". */
static void json_opt(const char *v)
{
	if (strcmp(v, "-"))
		json_str(stdout, v);
	else
		fputs("null", stdout);
}

static void ls_row(struct ctx *c, struct ls_state *s, const char *path,
		   const char *name, const struct stat *st)
{
	char tier[16] = "-", pin[16] = "-", stored[32] = "-", ratio[32] = "-";
	char atime[48] = "-", reason[256] = "-", size[32] = "-", acc[32] = "-";
	uint64_t v = 0;
	bool have_stored = false;
	int rc;

	if (S_ISREG(st->st_mode)) {
		rc = xa_get(path, "tier", tier, sizeof(tier));
		if (rc && rc != -ENODATA && rc != -EOPNOTSUPP)
			report(c, EXIT_FAILED, path, "cannot read tier: %s",
			       strerror(-rc));
		xa_get(path, "pin", pin, sizeof(pin));
		have_stored = xa_stored(path, &v);
		if (have_stored)
			fmt_size(stored, sizeof(stored), v, c->bytes);
		xa_get(path, "ratio", ratio, sizeof(ratio));
		xa_get(path, "atime", atime, sizeof(atime));
		xa_get(path, "reason", reason, sizeof(reason));
		xa_get(path, "accesses", acc, sizeof(acc));
		fmt_size(size, sizeof(size), (uint64_t)st->st_size, c->bytes);
	}
	if (!c->json) {
		if (s->head)
			printf(LS_FMT, LS_HEAD);
		s->head = false;
		printf(LS_FMT, tier, pin, size, stored, ratio, atime, reason,
		       name, S_ISDIR(st->st_mode) ? "/" : "");
		return;
	}
	printf("%s\n  {\"path\": ", s->first ? "" : ",");
	s->first = false;
	json_str(stdout, path);
	printf(", \"name\": ");
	json_str(stdout, name);
	printf(", \"type\": \"%s\"", S_ISREG(st->st_mode) ? "file" :
	       S_ISDIR(st->st_mode) ? "directory" :
	       S_ISLNK(st->st_mode) ? "symlink" : "other");
	printf(", \"size\": %" PRIu64, (uint64_t)st->st_size);
	printf(", \"tier\": ");
	json_opt(tier);
	printf(", \"pin\": ");
	json_opt(pin);
	if (have_stored)
		printf(", \"stored\": %" PRIu64, v);
	else
		printf(", \"stored\": null");
	printf(", \"ratio\": %s", strcmp(ratio, "-") ? ratio : "null");
	printf(", \"last_access\": ");
	json_opt(atime);
	printf(", \"accesses\": %s", strcmp(acc, "-") ? acc : "null");
	printf(", \"reason\": ");
	json_opt(reason);
	putchar('}');
}

/* Like ls(1), names starting with '.' are left out unless -a ("." and
 * ".." always are). */
static int ls_filter_all(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

static int ls_filter(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* DIR's entries; with -r, then each subdirectory's (same device, not a
 * root's .tiers), under a "DIR:" line. */
static void ls_dir(struct ctx *c, struct ls_state *s, const char *dir,
		   dev_t dev, bool title, bool *sep)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, c->all ? ls_filter_all : ls_filter,
			alphasort);
	struct stat st, root;
	char *path, *up = NULL;

	if (n < 0) {
		report(c, EXIT_FAILED, dir, "%s", strerror(errno));
		return;
	}
	if (title && !c->json)
		printf("%s%s:\n", *sep ? "\n" : "", dir);
	*sep = true;
	s->head = true;
	for (int i = 0; i < n; i++) {
		if (asprintf(&path, "%s/%s", dir, ents[i]->d_name) < 0)
			continue;
		if (lstat(path, &st))
			report(c, EXIT_FAILED, path, "%s", strerror(errno));
		else
			ls_row(c, s, path, ents[i]->d_name, &st);
		free(path);
	}
	if (s->head && !c->json)
		printf(LS_FMT, LS_HEAD);	/* an empty directory */
	for (int i = 0; c->recursive && i < n; i++) {
		if (asprintf(&path, "%s/%s", dir, ents[i]->d_name) < 0)
			continue;
		/* not a root's .tiers: the same files again */
		if (!lstat(path, &st) && S_ISDIR(st.st_mode) &&
		    st.st_dev == dev &&
		    !(!strcmp(ents[i]->d_name, ".tiers") &&
		      asprintf(&up, "%s/..", dir) >= 0 &&
		      !stat(up, &root) && root.st_dev != dev))
			ls_dir(c, s, path, dev, true, sep);
		free(up);
		up = NULL;
		free(path);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

/* Like ls(1): the files among the operands first, then each directory's
 * entries, under a "DIR:" line when there are several or with -r. */
int cmd_ls(struct ctx *c, int n, char **paths)
{
	struct ls_state s = { .head = true, .first = true };
	bool sep = false;
	struct stat st;

	if (c->json)
		putchar('[');
	for (int i = 0; i < n; i++) {
		if (operand(c, paths[i], &st) && !S_ISDIR(st.st_mode)) {
			ls_row(c, &s, paths[i], paths[i], &st);
			sep = true;
		}
	}
	for (int i = 0; i < n; i++) {
		if (stat(paths[i], &st) || !S_ISDIR(st.st_mode) ||
		    !on_tierfs(paths[i], &st))
			continue;
		ls_dir(c, &s, paths[i], st.st_dev, sep || n > 1 ||
		       c->recursive, &sep);
	}
	if (c->json)
		printf("%s]\n", s.first ? "" : "\n");
	return c->status;
}

/* ---- du ---- */

struct du_sum {
	uint64_t files, logical, stored;
	bool unknown;		/* some stored size could not be read */
};

struct du_row {
	struct du_sum all, tier[NTIERS];
};

struct du_file {
	dev_t dev;
	ino_t ino;
	int arg, tier;
	uint64_t size, stored;
	bool known;
};

static int du_cmp(const void *a, const void *b)
{
	const struct du_file *x = a, *y = b;

	if (x->dev != y->dev)
		return (x->dev > y->dev) - (x->dev < y->dev);
	return (x->ino > y->ino) - (x->ino < y->ino);
}

static void du_add(struct du_row *r, const struct du_file *f)
{
	struct du_sum *s[2] = { &r->all, &r->tier[f->tier] };

	for (int i = 0; i < 2; i++) {
		s[i]->files++;
		s[i]->logical += f->size;
		s[i]->stored += f->known ? f->stored : 0;
		s[i]->unknown |= !f->known;
	}
}

static void du_print(const struct ctx *c, const struct du_row *r,
		     const char *name)
{
	char files[24], lo[32], st[32], ratio[24], t[NTIERS][32];

	snprintf(files, sizeof(files), "%" PRIu64, r->all.files);
	fmt_size(lo, sizeof(lo), r->all.logical, c->bytes);
	fmt_size(st, sizeof(st), r->all.stored, c->bytes);
	snprintf(ratio, sizeof(ratio), "%.2f", (double)r->all.logical /
		 (double)(r->all.stored ? r->all.stored : 1));
	for (int i = 0; i < NTIERS; i++)
		fmt_size(t[i], sizeof(t[i]), r->tier[i].logical, c->bytes);
	printf(DU_FMT, files, lo, r->all.unknown ? "-" : st,
	       r->all.unknown || !r->all.stored ? "-" : ratio, t[0], t[1],
	       t[2], name);
}

static void du_json_sum(const struct du_sum *s)
{
	printf("{\"files\": %" PRIu64 ", \"logical_bytes\": %" PRIu64
	       ", \"stored_bytes\": ", s->files, s->logical);
	if (s->unknown)
		printf("null}");
	else
		printf("%" PRIu64 "}", s->stored);
}

static void du_json(const struct du_row *r, const char *name)
{
	printf("{\"path\": ");
	json_str(stdout, name);
	printf(", \"files\": %" PRIu64 ", \"logical_bytes\": %" PRIu64
	       ", \"stored_bytes\": ", r->all.files, r->all.logical);
	if (r->all.unknown)
		printf("null");
	else
		printf("%" PRIu64, r->all.stored);
	printf(", \"tiers\": {");
	for (int i = 0; i < NTIERS; i++) {
		printf("%s\"%s\": ", i ? ", " : "", tier_names[i]);
		du_json_sum(&r->tier[i]);
	}
	printf("}}");
}

/* Per operand (recursively), the files and bytes in each tier, each file
 * once however many links name it; then the total over all operands. */
int cmd_du(struct ctx *c, int n, char **paths)
{
	struct du_row *rows = calloc((size_t)n + 1, sizeof(*rows));
	struct du_file *fs;
	char tier[16];
	size_t nf = 0;
	int rc;

	if (!rows)
		return report(c, EXIT_FAILED, NULL, "%s", strerror(ENOMEM)),
		       c->status;
	collect(c, n, paths, true);
	fs = calloc(c->nitem ? c->nitem : 1, sizeof(*fs));
	for (size_t i = 0; fs && i < c->nitem; i++) {
		const struct item *it = &c->items[i];
		struct du_file *f = &fs[nf];

		rc = xa_get(it->path, "tier", tier, sizeof(tier));
		f->tier = rc ? -1 : tier_index(tier);
		if (f->tier < 0) {
			report(c, EXIT_FAILED, it->path, "cannot read tier: %s",
			       rc ? strerror(-rc) : tier);
			continue;
		}
		f->dev = it->dev;
		f->ino = it->ino;
		f->arg = it->arg;
		f->size = it->size;
		f->known = xa_stored(it->path, &f->stored);
		nf++;
	}
	if (nf)		/* qsort(NULL, 0) is undefined */
		qsort(fs, nf, sizeof(*fs), du_cmp);
	for (int a = 0; fs && a < n; a++)	/* each operand's links once */
		for (size_t i = 0, last = SIZE_MAX; i < nf; i++) {
			if (fs[i].arg != a || (last != SIZE_MAX &&
					       !du_cmp(&fs[i], &fs[last])))
				continue;
			du_add(&rows[a], &fs[i]);
			last = i;
		}
	for (size_t i = 0; fs && i < nf; i++)		/* the total */
		if (!i || du_cmp(&fs[i], &fs[i - 1]))
			du_add(&rows[n], &fs[i]);
	if (c->json) {
		printf("{\"paths\": [");
		for (int a = 0; a < n; a++) {
			printf("%s\n  ", a ? "," : "");
			du_json(&rows[a], paths[a]);
		}
		printf("\n], \"total\": ");
		du_json(&rows[n], "total");
		printf("}\n");
	} else {
		printf(DU_FMT, "FILES", "LOGICAL", "STORED", "RATIO", "HOT",
		       "WARM", "COLD", "PATH");
		for (int a = 0; a < n; a++)
			du_print(c, &rows[a], paths[a]);
		du_print(c, &rows[n], "total");
	}
	free(fs);
	free(rows);
	return c->status;
}

/* ---- pins ---- */

static void pins_row(const struct ctx *c, size_t *shown, const char *path,
		     const char *pin, const char *tier, bool policy)
{
	if (!c->json) {
		printf("%-4s  %-4s  %s%s\n", pin, tier, path,
		       policy ? "/ (directory policy)" : "");
		return;
	}
	printf("%s\n  {\"path\": ", (*shown)++ ? "," : "");
	json_str(stdout, path);
	printf(", \"pin\": ");
	json_str(stdout, pin);
	printf(", \"tier\": ");
	json_opt(tier);
	printf(", \"policy\": %s}", policy ? "true" : "false");
}

/* The pin=TIER of a directory's policy in pin (16 bytes); false if none. */
static bool policy_pin(const char *dir, char *pin)
{
	char v[1025], *save, *tok;
	ssize_t n = getxattr(dir, XA_PREFIX "policy", v, sizeof(v) - 1);

	if (n < 0)
		return false;
	v[n] = 0;
	for (tok = strtok_r(v, " \t\n,", &save); tok;
	     tok = strtok_r(NULL, " \t\n,", &save))
		if (!strncmp(tok, "pin=", 4) && strlen(tok + 4) < 16) {
			strcpy(pin, tok + 4);
			return true;
		}
	return false;
}

/* The directories at and below DIR (same device, not a root's .tiers)
 * whose policy pins. */
static void pins_dirs(struct ctx *c, size_t *shown, const char *dir,
		      dev_t dev)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st, up;
	char pin[16], *path;

	if (policy_pin(dir, pin))
		pins_row(c, shown, dir, pin, "-", true);
	if (!d)
		return;		/* reported by the file walk */
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode) || st.st_dev != dev ||
		    (!strcmp(de->d_name, ".tiers") &&
		     !fstatat(dirfd(d), "..", &up, 0) && up.st_dev != dev) ||
		    asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			continue;
		pins_dirs(c, shown, path, dev);
		free(path);
	}
	closedir(d);
}

/* Every regular file below the operands (or the default mount) whose own
 * pin is set, then every directory whose policy pins: PIN, TIER, PATH. */
int cmd_pins(struct ctx *c, int n, char **paths)
{
	char pin[16], tier[16], *def = NULL;
	size_t shown = 0;
	struct stat st;

	if (n == 0) {
		if (default_mount(c, &def))
			return c->status;
		n = 1;
		paths = &def;
	}
	collect(c, n, paths, true);
	if (c->json)
		putchar('[');
	else
		printf("%-4s  %-4s  %s\n", "PIN", "TIER", "PATH");
	for (size_t i = 0; i < c->nitem; i++) {
		const char *p = c->items[i].path;
		int rc = xa_get(p, "pin", pin, sizeof(pin));

		if (rc == -ENODATA || rc == -EOPNOTSUPP || !strcmp(pin, "none"))
			continue;
		if (rc) {
			report(c, EXIT_FAILED, p, "cannot read pin: %s",
			       strerror(-rc));
			continue;
		}
		xa_get(p, "tier", tier, sizeof(tier));
		pins_row(c, &shown, p, pin, tier, false);
	}
	for (int i = 0; i < n; i++)
		if (!stat(paths[i], &st) && S_ISDIR(st.st_mode) &&
		    on_tierfs(paths[i], &st))
			pins_dirs(c, &shown, paths[i], st.st_dev);
	if (c->json)
		printf("%s]\n", shown ? "\n" : "");
	free(def);
	return c->status;
}
