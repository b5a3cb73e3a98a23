/*
 * fs_dir.c - reading the tree: directory listings, directory sizes and the
 * path of an inode (for archive ordering and reports).
 *
 * A listing is a snapshot, so the offsets handed to the kernel stay stable
 * however the directory changes while it is read. It is taken at opendir
 * and taken again by fs_dir_rewind() (a readdir at offset 0 after entries
 * were read: rewinddir(3)), so names created since opendir appear after a
 * rewind, as POSIX asks.
 *
 * A directory's size counts its entries (FS_DIRENT_BYTES each, like
 * tmpfs). The count is taken from meta once per load and then kept by
 * fs_dir_changed() from the namespace operations; a generation keeps a
 * count taken while an entry changed from being stored.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fs_path(struct fs *f, uint64_t ino, char *buf, size_t len)
{
	char name[TFS_NAME_MAX + 1];
	size_t pos = len - 1;
	int depth = 0;

	if (len == 0)
		return -ENAMETOOLONG;
	buf[pos] = 0;
	/* Built backwards from the end of buf, then moved to the front. */
	while (ino != TFS_ROOT_INO) {
		uint64_t up;
		size_t n;
		int rc = meta_dentry_parent(f->meta, ino, &up, name);

		if (rc)
			return rc;
		n = strlen(name);
		if (n + 1 > pos)
			return -ENAMETOOLONG;
		if (pos != len - 1)
			buf[--pos] = '/';
		pos -= n;
		memcpy(buf + pos, name, n);
		ino = up;
		if (++depth > 100000)
			return -ELOOP;
	}
	memmove(buf, buf + pos, len - pos);
	return 0;
}

/* ---- directory listings ---- */

struct fs_dir {
	struct tfs_inode *dir;
	struct fs_dirent *ents;
	int *tiers;             /* the row's tier of each entry */
	size_t n, cap;
	int rc;
	bool read;              /* entries handed out since the snapshot */
};

static int count_one(void *ctx, const char *name, const struct meta_inode *in)
{
	(void)name;
	(void)in;
	(*(uint64_t *)ctx)++;
	return 0;
}

void fs_dir_count(struct fs *f, struct tfs_inode *dir)
{
	uint64_t n = 0, gen;
	bool need;

	if (dir->kind != INODE_REAL)
		return;
	inode_lock(dir);
	need = S_ISDIR(dir->attr.mode) && dir->dir_count == 0;
	gen = dir->dir_gen;
	inode_unlock(dir);
	if (!need || meta_dir_list(f->meta, dir->ino, count_one, &n))
		return;
	inode_lock(dir);
	if (dir->dir_gen == gen && dir->dir_count == 0)
		dir->dir_count = n + 1;
	inode_unlock(dir);
}

void fs_dir_changed(struct tfs_inode *dir, int delta)
{
	inode_lock(dir);
	dir->dir_gen++;
	if (dir->dir_count && (delta > 0 || dir->dir_count > 1))
		dir->dir_count += (uint64_t)(int64_t)delta;
	inode_unlock(dir);
}

static int dir_push(struct fs_dir *d, const char *name, uint64_t ino,
		    mode_t mode)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct fs_dirent *e = realloc(d->ents, cap * sizeof(*e));
		int *t;

		if (!e)
			return -ENOMEM;
		d->ents = e;
		t = realloc(d->tiers, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		d->tiers = t;
		d->cap = cap;
	}
	d->tiers[d->n] = TFS_WARM;
	d->ents[d->n].name = strdup(name);
	if (!d->ents[d->n].name)
		return -ENOMEM;
	d->ents[d->n].ino = ino;
	d->ents[d->n].mode = mode & S_IFMT;
	d->n++;
	return 0;
}

static int dir_collect(void *ctx, const char *name, const struct meta_inode *in)
{
	struct fs_dir *d = ctx;
	int rc = dir_push(d, name, in->ino, in->mode);

	if (!rc)
		d->tiers[d->n - 1] = in->tier;
	return rc;
}

/* Drop the snapshot's entries (keeps the arrays). */
static void dir_clear(struct fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free((char *)d->ents[i].name);
	d->n = 0;
	d->read = false;
}

/* Take the snapshot of d->dir. */
static int dir_fill(struct fs *f, struct fs_dir *d)
{
	char name[TFS_NAME_MAX + 1];
	struct tfs_inode *dir = d->dir;
	uint64_t up = dir->ino;
	int rc;

	if (dir->kind == INODE_TIERS_DIR) {
		rc = dir_push(d, ".", dir->ino, S_IFDIR);
		if (!rc)
			rc = dir_push(d, "..", TFS_ROOT_INO, S_IFDIR);
		if (!rc)
			rc = dir_push(d, "stats", FS_VINO_STATS, S_IFREG);
		if (!rc)
			rc = dir_push(d, "metrics", FS_VINO_METRICS, S_IFREG);
		if (!rc)
			rc = dir_push(d, "config", FS_VINO_CONFIG, S_IFREG);
		for (int t = 0; !rc && t < TFS_NTIERS; t++) {
			struct tfs_inode *v;

			rc = fs_view_get(f, t, TFS_ROOT_INO, &v);
			if (!rc)
				rc = dir_push(d, tfs_tier_name(t), v->ino,
					      S_IFDIR);
		}
		return rc;
	}
	if (dir->kind == INODE_VIEW) {
		struct tfs_inode *vup = f->vtiers;
		char nm[TFS_NAME_MAX + 1];
		uint64_t pino;
		size_t kept;

		if (dir->view_real != TFS_ROOT_INO &&
		    meta_dentry_parent(f->meta, dir->view_real, &pino, nm) == 0)
			fs_view_get(f, dir->view_tier, pino, &vup);
		rc = dir_push(d, ".", dir->ino, S_IFDIR);
		if (!rc)
			rc = dir_push(d, "..", vup->ino, S_IFDIR);
		if (!rc)
			rc = meta_dir_list(f->meta, dir->view_real,
					   dir_collect, d);
		if (!rc)
			rc = fs_view_filter(f, dir, d->ents + 2, d->n - 2,
					    d->tiers + 2, &kept);
		if (!rc)
			d->n = kept + 2;
		return rc;
	}
	if (dir->ino != TFS_ROOT_INO) {
		rc = meta_dentry_parent(f->meta, dir->ino, &up, name);
		if (rc == -ENOENT)
			up = dir->ino;
		else if (rc)
			return rc;
	}
	rc = dir_push(d, ".", dir->ino, S_IFDIR);
	if (!rc)
		rc = dir_push(d, "..", up, S_IFDIR);
	if (!rc && dir == f->root) {
		struct tfs_config cfg;

		fs_get_config(f, &cfg);
		if (cfg.tierdirs_visible)
			rc = dir_push(d, FS_TIERS_NAME, FS_VINO_TIERS,
				      S_IFDIR);
	}
	if (!rc)
		rc = meta_dir_list(f->meta, dir->ino, dir_collect, d);
	return rc;
}

int fs_opendir(struct fs *f, struct tfs_inode *dir, struct fs_dir **out)
{
	struct fs_dir *d;
	int rc;

	if (dir->kind != INODE_REAL && dir->kind != INODE_TIERS_DIR &&
	    dir->kind != INODE_VIEW)
		return -ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dir = dir;
	rc = dir_fill(f, d);
	if (rc) {
		fs_closedir(f, d);
		return rc;
	}
	*out = d;
	return 0;
}

int fs_dir_rewind(struct fs *f, struct fs_dir *d)
{
	int rc;

	if (!d->read)
		return 0;       /* the snapshot is fresh: opendir's own */
	dir_clear(d);
	rc = dir_fill(f, d);
	if (rc)
		dir_clear(d);   /* an empty listing, and the error */
	return rc;
}

const struct fs_dirent *fs_dir_entry(struct fs_dir *d, uint64_t idx)
{
	d->read = true;
	return idx < d->n ? &d->ents[idx] : NULL;
}

int fs_dir_entry_plus(struct fs *f, struct fs_dir *d, uint64_t idx,
		      struct tfs_inode **out, struct stat *st)
{
	const struct fs_dirent *e = fs_dir_entry(d, idx);
	struct tfs_inode *ino;
	int rc;

	if (!e)
		return -ENOENT;
	if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
		return -EAGAIN;
	if (e->ino >= FS_VINO_BASE) {
		rc = fs_lookup(f, d->dir, e->name, out, st);
		return rc;
	}
	rc = fs_iget(f, e->ino, &ino);
	if (rc)
		return rc;
	fs_ilookup(f, ino, 1);
	fs_stat_of(f, ino, st);
	fs_iput(f, ino);
	*out = ino;
	return 0;
}

void fs_closedir(struct fs *f, struct fs_dir *d)
{
	if (!d)
		return;
	dir_clear(d);
	free(d->ents);
	free(d->tiers);
	free(d);
}
