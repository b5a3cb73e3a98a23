/*
 * fs_dir.c - reading the tree: directory listings (snapshotted at opendir,
 * so a listing is consistent however the directory changes while it is
 * read) and the path of an inode (for archive ordering and reports).
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
};

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

int fs_opendir(struct fs *f, struct tfs_inode *dir, struct fs_dir **out)
{
	char name[TFS_NAME_MAX + 1];
	struct fs_dir *d;
	uint64_t up = dir->ino;
	int rc;

	if (dir->kind != INODE_REAL && dir->kind != INODE_TIERS_DIR &&
	    dir->kind != INODE_VIEW)
		return -ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dir = dir;
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
		goto out_done;
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
		goto out_done;
	}
	if (dir->ino != TFS_ROOT_INO) {
		rc = meta_dentry_parent(f->meta, dir->ino, &up, name);
		if (rc == -ENOENT)
			up = dir->ino;
		else if (rc)
			goto out_done;
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
out_done:
	if (rc) {
		fs_closedir(f, d);
		return rc;
	}
	*out = d;
	return 0;
}

const struct fs_dirent *fs_dir_entry(struct fs_dir *d, uint64_t idx)
{
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
	for (size_t i = 0; i < d->n; i++)
		free((char *)d->ents[i].name);
	free(d->ents);
	free(d->tiers);
	free(d);
}
