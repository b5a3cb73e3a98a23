/*
 * tierctl_util.c - see tierctl.h: messages, mounts, xattrs, collecting the
 * files operands name, output helpers.
 *
 * A path is on tierfs when the mount holding it (found by st_dev in
 * /proc/self/mountinfo) is fuse.tierfs, or when it is a regular file whose
 * user.tierfs.tier reads. -r is a walk of our own (nftw(3) has no context
 * argument): it stays on the operand's device, takes regular files only and
 * skips a mount root's .tiers views (the same files again). Files are
 * collected first, so progress bars know the total.
 */
#include "tierctl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

const char *const tier_names[NTIERS] = { "hot", "warm", "cold" };

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

/* ---- mounts ---- */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
}

/* One line of /proc/self/mountinfo ("id parent maj:min root dir opts... -
 * type src"): its device, type, source and mount point. */
static bool parse_mountinfo(const char *line, dev_t *dev, char *type,
			    char *source, char *dir)
{
	const char *sep = strstr(line, " - ");
	unsigned int maj, mnr;
	char d[4096];

	if (!sep || sscanf(line, "%*s %*s %u:%u %*s %4095s", &maj, &mnr,
			   d) != 3 ||
	    sscanf(sep + 3, "%63s %4095s", type, source) != 2)
		return false;
	*dev = makedev(maj, mnr);
	unescape(source);
	if (dir) {
		unescape(d);
		strcpy(dir, d);
	}
	return true;
}

int mount_info(dev_t dev, char *type, char *source, char *dir)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	dev_t d;
	int rc = -ENOENT;

	if (!fp)
		return -errno;
	while (rc && getline(&line, &cap, fp) > 0)
		if (parse_mountinfo(line, &d, type, source, dir) && d == dev)
			rc = 0;
	free(line);
	fclose(fp);
	return rc;
}

bool on_tierfs(const char *path, const struct stat *st)
{
	char type[64], source[4096];

	if (!mount_info(st->st_dev, type, source, NULL) &&
	    !strcmp(type, FSTYPE))
		return true;
	return S_ISREG(st->st_mode) &&
	       getxattr(path, XA_PREFIX "tier", NULL, 0) >= 0;
}

bool operand(struct ctx *c, const char *path, struct stat *st)
{
	if (stat(path, st))
		report(c, EXIT_FAILED, path, "%s", strerror(errno));
	else if (!on_tierfs(path, st))
		report(c, EXIT_NOT_TIERFS, path, "not on a tierfs mount");
	else
		return true;
	return false;
}

int mount_root(const char *path, char **out)
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

int default_mount(struct ctx *c, char **out)
{
	FILE *fp;
	char *line = NULL, type[64], source[4096], dir[4096], *found = NULL;
	size_t cap = 0, n = 0;
	struct stat st;
	dev_t d;

	if (!stat(".", &st) && on_tierfs(".", &st))
		return mount_root(".", out) ? (report(c, EXIT_FAILED, ".",
			"%s", strerror(errno)), c->status) : 0;
	fp = fopen("/proc/self/mountinfo", "re");
	if (!fp) {
		report(c, EXIT_FAILED, "/proc/self/mountinfo", "%s",
		       strerror(errno));
		return c->status;
	}
	while (getline(&line, &cap, fp) > 0) {
		if (!parse_mountinfo(line, &d, type, source, dir) ||
		    strcmp(type, FSTYPE))
			continue;
		if (n++ == 0) {
			found = strdup(dir);
			continue;
		}
		if (n == 2)
			fprintf(stderr, "tierctl: several tierfs are mounted, "
				"name one:\n  %s\n", found ? found : "?");
		fprintf(stderr, "  %s\n", dir);
	}
	free(line);
	fclose(fp);
	if (n == 1 && found) {
		*out = found;
		return 0;
	}
	free(found);
	if (n == 0)
		report(c, EXIT_NOT_TIERFS, NULL, "no tierfs is mounted (and "
		       "the current directory is not on one)");
	else
		c->status = c->status > EXIT_USAGE ? c->status : EXIT_USAGE;
	return c->status;
}

int read_file(const char *path, char **text)
{
	FILE *fp = fopen(path, "re");
	size_t cap = 0;
	int rc = 0;

	*text = NULL;
	if (!fp)
		return -errno;
	/* the whole file: it holds no NUL */
	if (getdelim(text, &cap, 0, fp) < 0) {
		rc = ferror(fp) ? -EIO : 0;
		free(*text);
		*text = rc ? NULL : strdup("");
		if (!rc && !*text)
			rc = -ENOMEM;
	}
	fclose(fp);
	return rc;
}

/* ---- xattrs ---- */

int xa_get(const char *path, const char *what, char *buf, size_t size)
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

bool xa_stored(const char *path, uint64_t *v)
{
	char raw[32], *end;

	if (xa_get(path, "stored", raw, sizeof(raw)) ||
	    !isdigit((unsigned char)raw[0]))
		return false;
	*v = strtoull(raw, &end, 10);
	return !*end;
}

int tier_index(const char *name)
{
	for (int t = 0; t < NTIERS; t++)
		if (!strcmp(name, tier_names[t]))
			return t;
	return -1;
}

/* ---- collecting files ---- */

static void items_add(struct ctx *c, const char *path, const struct stat *st,
		      int arg, bool direct)
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
	it = &c->items[c->nitem++];
	it->path = copy;
	it->dev = st->st_dev;
	it->ino = st->st_ino;
	it->size = (uint64_t)st->st_size;
	it->arg = arg;
	it->direct = direct;
}

/* Add DIR's regular files and those of its subdirectories on device DEV
 * (one open directory per level). */
static void walk_dir(struct ctx *c, const char *dir, dev_t dev, int arg)
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
			items_add(c, path, &st, arg, false);
		else if (S_ISDIR(st.st_mode) && st.st_dev == dev &&
			 !(!strcmp(de->d_name, ".tiers") &&	/* at a root */
			   !fstatat(dirfd(d), "..", &pst, 0) &&
			   pst.st_dev != dev))
			walk_dir(c, path, dev, arg);
		free(path);
	}
	if (errno)
		report(c, EXIT_FAILED, dir, "%s", strerror(errno));
	closedir(d);
}

void collect(struct ctx *c, int n, char **paths, bool force_deep)
{
	struct stat st;

	for (int i = 0; i < n; i++) {
		if (!operand(c, paths[i], &st))
			continue;
		if (S_ISREG(st.st_mode))
			items_add(c, paths[i], &st, i, true);
		else if (!S_ISDIR(st.st_mode))
			report(c, EXIT_FAILED, paths[i], "not a regular file");
		else if (c->recursive || force_deep)
			walk_dir(c, paths[i], st.st_dev, i);
		else
			report(c, EXIT_FAILED, paths[i],
			       "is a directory (use -r)");
	}
}

void items_free(struct ctx *c)
{
	for (size_t i = 0; i < c->nitem; i++)
		free(c->items[i].path);
	free(c->items);
	c->items = NULL;
	c->nitem = c->capitem = 0;
}

/* ---- output ---- */

char *fmt_size(char *buf, size_t n, uint64_t v, bool bytes)
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

void json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

double now_sec(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
