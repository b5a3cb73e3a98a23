/*
 * fs_view.c - the tier views MNT/.tiers/hot, warm and cold: each mirrors
 * the tree and lists only the regular files that are in that tier now.
 *
 * A file seen through a view is the very same inode as in the tree (same
 * node id, same st_ino: like a hard link), so opening it there is opening
 * it. A directory seen through a view is a virtual inode of its own (two
 * directories may not share an inode number: find and du would call it a
 * loop), numbered FS_VINO_BASE | (tier + 1) << 56 | real inode, created
 * on first lookup and kept until unmount (there is one per directory and
 * tier at most). Views are read-only except for one operation: renaming a
 * file from one view to the same path in another view moves it to that
 * tier (as a setfattr of its user.tierfs.tier would: a pin goes along);
 * renaming a directory that way moves its tree (pinned files stay). The kernel may not cache names in views (they change as files
 * move); the FUSE adapter replies with zero entry timeouts there.
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_INO(tier, dir) \
	(FS_VINO_BASE | ((uint64_t)(tier) + 1) << 56 | (dir))

int fs_view_get(struct fs *f, int tier, uint64_t dir, struct tfs_inode **out)
{
	uint64_t vino = VIEW_INO(tier, dir);
	struct meta_inode a;
	struct tfs_inode *v;
	int rc = 0;

	pthread_mutex_lock(&f->vtable.lock);
	v = itable_find(&f->vtable, vino);
	if (!v) {
		rc = meta_inode_get(f->meta, dir, &a);
		if (!rc) {
			a.ino = vino;
			a.mode = S_IFDIR | 0555;
			a.nlink = 2;
			v = inode_alloc(&a, INODE_VIEW);
			if (v) {
				v->view_tier = tier;
				v->view_real = dir;
				itable_insert(&f->vtable, v);
			} else {
				rc = -ENOMEM;
			}
		}
	}
	pthread_mutex_unlock(&f->vtable.lock);
	if (!rc)
		*out = v;
	return rc;
}

/* The tier a file shows in, by its row when it is not loaded. */
static int row_tier(struct fs *f, uint64_t ino, int tier)
{
	struct tfs_inode *n;

	n = fs_ifind(f, ino);
	/* Not loaded: the recorded tier, which is what fs_get_tier() says
	 * of the same file once it is loaded (a file recorded hot that is
	 * not in RAM yet, such as an empty one the mount-time restore skips,
	 * is hot), so listing and lookup agree. */
	if (!n)
		return tier;
	tier = fs_get_tier(f, n);
	fs_iput(f, n);
	return tier;
}

int fs_view_lookup(struct fs *f, struct tfs_inode *parent, const char *name,
		   struct tfs_inode **out)
{
	struct tfs_inode *child;
	uint64_t ino;
	mode_t mode;
	int rc;

	rc = meta_dentry_lookup(f->meta, parent->view_real, name, &ino);
	if (rc)
		return rc;
	rc = fs_iget(f, ino, &child);
	if (rc)
		return rc;
	inode_lock(child);
	mode = child->attr.mode;
	inode_unlock(child);
	if (S_ISDIR(mode)) {
		fs_iput(f, child);
		return fs_view_get(f, parent->view_tier, ino, out);
	}
	if (S_ISREG(mode) && fs_get_tier(f, child) == parent->view_tier) {
		*out = child;   /* referenced */
		return 0;
	}
	fs_iput(f, child);
	return -ENOENT;
}

/* Filter a listing of the real directory down to the view's tier. */
int fs_view_filter(struct fs *f, struct tfs_inode *view, struct fs_dirent *e,
		   size_t n, const int *tiers, size_t *kept)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (S_ISDIR(e[i].mode)) {
			e[i].ino = VIEW_INO(view->view_tier, e[i].ino);
		} else if (!S_ISREG(e[i].mode) ||
			   row_tier(f, e[i].ino, tiers[i]) != view->view_tier) {
			free((char *)e[i].name);
			continue;
		}
		e[k++] = e[i];
	}
	*kept = k;
	return 0;
}

int fs_view_rename(struct fs *f, struct tfs_inode *parent, const char *name,
		   struct tfs_inode *newparent, const char *newname,
		   unsigned int flags)
{
	struct tfs_inode *file;
	int rc;

	if (parent->kind != INODE_VIEW || newparent->kind != INODE_VIEW ||
	    parent->view_real != newparent->view_real || strcmp(name, newname)
	    || (flags & FS_RENAME_EXCHANGE))
		return -EPERM;  /* views only move files between tiers */
	rc = fs_view_lookup(f, parent, name, &file);
	if (rc)
		return rc;
	if (file->kind == INODE_VIEW) {
		/* A directory: its tree moves, as by a setfattr of its tier
		 * (pinned files stay). View directories hold no reference. */
		struct tfs_inode *dir;

		rc = fs_iget(f, file->view_real, &dir);
		if (rc)
			return rc;
		rc = fs_user_set_tier(f, dir, newparent->view_tier);
		fs_iput(f, dir);
		return rc;
	}
	/* A file: as by a setfattr of its tier (a pin goes along). */
	rc = fs_user_set_tier(f, file, newparent->view_tier);
	fs_iput(f, file);
	return rc;
}
