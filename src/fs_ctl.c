/*
 * fs_ctl.c - the virtual .tiers control tree: the directory itself, its
 * files stats, metrics and config (contents in fs_ctl_render.c) and the
 * tier views under it (fs_view.c).
 *
 * .tiers is not in meta and not in the root's listing (unless
 * tierdirs=visible) but is found by name, like ZFS's .zfs. Its inodes live
 * from mount to unmount and ignore lookup counts.
 *
 * SIZE AND FRESHNESS. A control file is rendered whenever its attributes
 * are asked for (lookup, getattr, readdirplus): the size reported is the
 * true length of that rendering and its mtime the moment it was made, and
 * the rendering is kept as the file's current contents. An open takes a
 * private copy of the current rendering if it is younger than
 * FS_CTL_FRESH_MS (the lookup that resolved the path just made it), else
 * renders anew; reads of that open see exactly those bytes. Reads without
 * an open (fs_ctl_read) serve the current rendering, so what cp, rsync and
 * cat get matches the size stat reported. The kernel asks again every time
 * (zero attribute and entry timeouts under .tiers), so numbers are never
 * older than the last stat.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An open reuses a rendering this recent instead of rendering again. */
#define FS_CTL_FRESH_MS 1000

enum { CTL_STATS, CTL_METRICS, CTL_CONFIG, CTL_NFILES };

struct ctl_file {
	char *buf;              /* current rendering (malloc'd), or NULL */
	size_t len;
	tfs_ns at;              /* wall clock when it was made */
	uint64_t mono_ns;       /* stats_now_ns() when it was made */
};

struct fs_ctl {
	pthread_mutex_t lock;   /* leaf lock: nothing is taken under it */
	struct ctl_file file[CTL_NFILES];       /* protected by lock */
};

static struct tfs_inode *vnode(uint64_t ino, mode_t mode, enum inode_kind k,
			       tfs_ns t)
{
	struct meta_inode a = {
		.ino = ino,
		.mode = mode,
		.nlink = S_ISDIR(mode) ? 2 : 1,
		.uid = 0,
		.gid = 0,
		.atime = t, .mtime = t, .ctime = t,
		.tier = TFS_WARM,
		.pin = TFS_PIN_NONE,
	};

	return inode_alloc(&a, k);
}

int fs_ctl_init(struct fs *f)
{
	struct tfs_inode **files[] = { &f->vstats, &f->vmetrics, &f->vconfig };

	f->vtiers = vnode(FS_VINO_TIERS, S_IFDIR | 0555, INODE_TIERS_DIR,
			  f->mount_time);
	f->vstats = vnode(FS_VINO_STATS, S_IFREG | 0444, INODE_STATS,
			  f->mount_time);
	f->vmetrics = vnode(FS_VINO_METRICS, S_IFREG | 0444, INODE_METRICS,
			    f->mount_time);
	f->vconfig = vnode(FS_VINO_CONFIG, S_IFREG | 0444, INODE_CONFIG,
			   f->mount_time);
	f->ctl = calloc(1, sizeof(*f->ctl));
	if (!f->vtiers || !f->vstats || !f->vmetrics || !f->vconfig ||
	    !f->ctl)
		return -ENOMEM;
	pthread_mutex_init(&f->ctl->lock, NULL);
	f->vtiers->attr.uid = f->root->attr.uid;
	f->vtiers->attr.gid = f->root->attr.gid;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		(*files[i])->attr.uid = f->root->attr.uid;
		(*files[i])->attr.gid = f->root->attr.gid;
	}
	return 0;
}

void fs_ctl_destroy(struct fs *f)
{
	inode_free(f->vstats);
	inode_free(f->vmetrics);
	inode_free(f->vconfig);
	f->vstats = f->vmetrics = f->vconfig = NULL;
	if (f->ctl) {
		for (int i = 0; i < CTL_NFILES; i++)
			free(f->ctl->file[i].buf);
		pthread_mutex_destroy(&f->ctl->lock);
		free(f->ctl);
		f->ctl = NULL;
	}
	free(f->mount_info);
	f->mount_info = NULL;
}

int fs_set_mount_info(struct fs *f, const char *text)
{
	char *copy = text ? strdup(text) : NULL;

	if (text && !copy)
		return -ENOMEM;
	pthread_mutex_lock(&f->cfg_lock);
	free(f->mount_info);
	f->mount_info = copy;
	pthread_mutex_unlock(&f->cfg_lock);
	return 0;
}

int fs_ctl_lookup(struct fs *f, struct tfs_inode *parent, const char *name,
		  struct tfs_inode **out)
{
	if (parent == f->root && !strcmp(name, FS_TIERS_NAME)) {
		*out = f->vtiers;
		return 1;
	}
	if (parent == f->vtiers) {
		int rc = 0;

		if (!strcmp(name, "stats"))
			*out = f->vstats;
		else if (!strcmp(name, "metrics"))
			*out = f->vmetrics;
		else if (!strcmp(name, "config"))
			*out = f->vconfig;
		else if (!strcmp(name, "hot"))
			rc = fs_view_get(f, TFS_HOT, TFS_ROOT_INO, out);
		else if (!strcmp(name, "warm"))
			rc = fs_view_get(f, TFS_WARM, TFS_ROOT_INO, out);
		else if (!strcmp(name, "cold"))
			rc = fs_view_get(f, TFS_COLD, TFS_ROOT_INO, out);
		else
			return -ENOENT;
		return rc ? rc : 1;
	}
	if (parent->kind == INODE_VIEW) {
		int rc = fs_view_lookup(f, parent, name, out);

		return rc ? rc : 1;
	}
	return 0;
}

bool fs_ctl_is_file(const struct tfs_inode *ino)
{
	return ino->kind == INODE_STATS || ino->kind == INODE_METRICS ||
	       ino->kind == INODE_CONFIG;
}

static struct ctl_file *ctl_slot(struct fs *f, const struct tfs_inode *ino)
{
	switch (ino->kind) {
	case INODE_STATS: return &f->ctl->file[CTL_STATS];
	case INODE_METRICS: return &f->ctl->file[CTL_METRICS];
	default: return &f->ctl->file[CTL_CONFIG];
	}
}

/* Render now and make it the current contents; with copy, also hand back
 * a private copy. The rendering itself runs without ctl->lock. */
static int ctl_refresh(struct fs *f, struct tfs_inode *ino, char **copy,
		       size_t *copy_len, size_t *len, tfs_ns *at)
{
	struct ctl_file *cf = ctl_slot(f, ino);
	char *buf = NULL, *dup = NULL;
	size_t n = 0;
	int rc;

	rc = fs_ctl_render(f, ino, &buf, &n);
	if (rc)
		return rc;
	if (copy) {
		dup = malloc(n ? n : 1);
		if (!dup) {
			free(buf);
			return -ENOMEM;
		}
		memcpy(dup, buf, n);
		*copy = dup;
		*copy_len = n;
	}
	pthread_mutex_lock(&f->ctl->lock);
	free(cf->buf);
	cf->buf = buf;
	cf->len = n;
	cf->at = fs_now();
	cf->mono_ns = stats_now_ns();
	if (len)
		*len = n;
	if (at)
		*at = cf->at;
	pthread_mutex_unlock(&f->ctl->lock);
	return 0;
}

void fs_ctl_stat(struct fs *f, struct tfs_inode *ino, struct stat *st)
{
	size_t len;
	tfs_ns at;

	/* Without memory for a rendering the size stays 0 (reads still
	 * work: they render on their own). */
	if (ctl_refresh(f, ino, NULL, NULL, &len, &at))
		return;
	st->st_size = (off_t)len;
	st->st_blocks = (blkcnt_t)((len + 511) / 512);
	st->st_mtim.tv_sec = (time_t)(at / 1000000000);
	st->st_mtim.tv_nsec = (long)(at % 1000000000);
	st->st_ctim = st->st_mtim;
}

int fs_ctl_snapshot(struct fs *f, struct tfs_inode *ino, char **buf,
		    size_t *len)
{
	struct ctl_file *cf = ctl_slot(f, ino);
	uint64_t now = stats_now_ns();
	char *copy = NULL;

	pthread_mutex_lock(&f->ctl->lock);
	if (cf->buf && now - cf->mono_ns < FS_CTL_FRESH_MS * UINT64_C(1000000)) {
		copy = malloc(cf->len ? cf->len : 1);
		if (copy) {
			memcpy(copy, cf->buf, cf->len);
			*len = cf->len;
		}
	}
	pthread_mutex_unlock(&f->ctl->lock);
	if (copy) {
		*buf = copy;
		return 0;
	}
	return ctl_refresh(f, ino, buf, len, NULL, NULL);
}

ssize_t fs_ctl_read(struct fs *f, struct tfs_inode *ino, void *buf,
		    size_t size, off_t off)
{
	struct ctl_file *cf = ctl_slot(f, ino);
	ssize_t n = 0;
	int rc;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&f->ctl->lock);
	if (!cf->buf) {
		pthread_mutex_unlock(&f->ctl->lock);
		rc = ctl_refresh(f, ino, NULL, NULL, NULL, NULL);
		if (rc)
			return rc;
		pthread_mutex_lock(&f->ctl->lock);
	}
	if (cf->buf && (uint64_t)off < cf->len) {
		n = (ssize_t)(cf->len - (size_t)off < size ?
			      cf->len - (size_t)off : size);
		memcpy(buf, cf->buf + off, (size_t)n);
	}
	pthread_mutex_unlock(&f->ctl->lock);
	return n;
}

int fs_metrics_text(struct fs *f, char **buf, size_t *len)
{
	return fs_ctl_render(f, f->vmetrics, buf, len);
}
