/*
 * fs_ns.c - the namespace: lookup, create/mkdir/mknod/symlink, link,
 * unlink, rmdir, rename, readlink, setattr and directory listings.
 *
 * Every mutation takes f->ns_lock (so two renames cannot race into a loop),
 * then the io locks of the inodes whose rows it rewrites, and commits all of
 * its rows in one meta transaction. In-memory attributes are changed only
 * after the commit succeeded, so a failed transaction leaves memory and disk
 * agreeing. Attribute snapshots are taken under each inode's lock before
 * meta_begin() (meta's mutex is a leaf: no inode lock may be taken inside a
 * transaction).
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (n > TFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0 || strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EEXIST;
	return 0;
}

/* A real directory that still exists. */
static int check_dir(struct tfs_inode *dir)
{
	int rc = 0;

	if (dir->kind != INODE_REAL)
		return -EPERM;
	inode_lock(dir);
	if (!S_ISDIR(dir->attr.mode))
		rc = -ENOTDIR;
	else if (dir->attr.nlink == 0)
		rc = -ENOENT;
	inode_unlock(dir);
	return rc;
}

static bool is_reserved(struct fs *f, struct tfs_inode *parent,
			const char *name)
{
	return parent == f->root && !strcmp(name, FS_TIERS_NAME);
}

static struct meta_inode snap(struct tfs_inode *ino)
{
	struct meta_inode a;

	inode_lock(ino);
	a = inode_attr_durable(ino);
	inode_unlock(ino);
	return a;
}

/* After a commit: make the in-memory copy match the row written. Only the
 * fields namespace operations change are copied (a concurrent write may
 * have moved size/mtime of a regular file meanwhile). */
static void apply_ns(struct tfs_inode *ino, const struct meta_inode *a)
{
	inode_lock(ino);
	ino->attr.nlink = a->nlink;
	ino->attr.ctime = a->ctime;
	if (S_ISDIR(a->mode)) {
		ino->attr.mtime = a->mtime;
		ino->attr.size = a->size;
	}
	inode_unlock(ino);
}

int fs_lookup(struct fs *f, struct tfs_inode *parent, const char *name,
	      struct tfs_inode **out, struct stat *st)
{
	struct tfs_inode *child;
	uint64_t ino;
	int rc;

	if (strlen(name) > TFS_NAME_MAX)
		return -ENAMETOOLONG;
	rc = fs_ctl_lookup(f, parent, name, &child);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (parent->kind != INODE_REAL)
			return -ENOENT;
		rc = meta_dentry_lookup(f->meta, parent->ino, name, &ino);
		if (rc)
			return rc;
		rc = fs_iget(f, ino, &child);
		if (rc)
			return rc;
	}
	fs_ilookup(f, child, 1);
	fs_stat_of(f, child, st);
	if (child->kind == INODE_REAL)
		fs_iput(f, child);
	*out = child;
	return 0;
}

/* The default ACL of directory `dir` (*def NULL if it has none). Its lack
 * of one is remembered (dacl_absent, fs_xattr_known_absent), so creating
 * many files in a directory reads meta once, not per file. */
static int default_acl(struct fs *f, struct tfs_inode *dir, void **def,
		       size_t *len)
{
	uint64_t gen;
	int rc;

	*def = NULL;
	*len = 0;
	if (fs_xattr_known_absent(dir, &dir->dacl_absent, &gen))
		return 0;
	rc = fs_acl_get(f, dir->ino, FS_ACL_DEFAULT, def, len);
	if (!rc && !*def)
		fs_xattr_note_absent(dir, &dir->dacl_absent, gen);
	return rc;
}

/* Create a new inode named `name` in `parent`. */
static int ns_new(struct fs *f, const struct fs_caller *c,
		  struct tfs_inode *parent, const char *name, mode_t mode,
		  dev_t rdev, const char *target, struct tfs_inode **out,
		  struct stat *st)
{
	struct meta_inode a = { 0 }, p;
	struct tfs_inode *child;
	tfs_ns now = fs_now();
	void *def = NULL, *acl = NULL;
	size_t deflen = 0, acllen = 0;
	int rc;

	rc = check_name(name);
	if (rc)
		return rc;
	if (is_reserved(f, parent, name))
		return -EEXIST;
	rc = check_dir(parent);
	if (rc)
		return rc;

	/* A default ACL of the parent replaces the umask (fs_acl.c). */
	if (f->acl && !S_ISLNK(mode)) {
		rc = default_acl(f, parent, &def, &deflen);
		if (!rc && def)
			rc = fs_acl_inherit(def, deflen, &mode, &acl, &acllen);
		if (rc)
			goto out_free;
	}
	if (!def && !S_ISLNK(mode))
		mode &= ~(c->umask & 0777);
	a.mode = mode;
	a.uid = c->uid;
	a.gid = c->gid;
	a.nlink = S_ISDIR(mode) ? 2 : 1;
	a.rdev = rdev;
	a.size = target ? strlen(target) : 0;
	a.atime = a.mtime = a.ctime = now;
	a.last_access = now;    /* creating a file is using it */
	a.tier = S_ISREG(mode) ? TFS_HOT : TFS_WARM;
	a.pin = TFS_PIN_NONE;

	pthread_mutex_lock(&f->ns_lock);
	inode_io_lock(parent);
	p = snap(parent);
	if (p.nlink == 0) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (p.mode & S_ISGID) {
		a.gid = p.gid;
		if (S_ISDIR(mode))
			a.mode |= S_ISGID;
	}
	p.mtime = p.ctime = now;
	if (S_ISDIR(mode))
		p.nlink++;

	/* Committed before the reply, on its own: a file whose creat(2)
	 * returned still exists after a kill -9 of the daemon, even if it
	 * was never written. So a create costs two commits when it is
	 * written (this one and the WRITE's); each is one pwrite of the
	 * WAL (meta_vfs.c). */
	rc = meta_begin(f->meta);
	if (rc)
		goto out_unlock;
	/* A name that exists fails the entry's primary key (-EEXIST) and
	 * the inode row goes with the rollback: no lookup first. */
	rc = meta_inode_create(f->meta, &a);
	if (!rc)
		rc = meta_dentry_add(f->meta, parent->ino, name, a.ino);
	if (!rc && target)
		rc = meta_symlink_set(f->meta, a.ino, target);
	if (!rc && acl)
		rc = meta_xattr_set(f->meta, a.ino, FS_ACL_ACCESS, acl, acllen,
				    0);
	if (!rc && def && S_ISDIR(a.mode))
		rc = meta_xattr_set(f->meta, a.ino, FS_ACL_DEFAULT, def, deflen,
				    0);
	if (!rc)
		rc = meta_inode_update(f->meta, &p);
	rc = meta_finish(f->meta, rc);
	if (rc)
		goto out_unlock;
	apply_ns(parent, &p);
	fs_dir_changed(parent, 1);

	rc = fs_iadd(f, &a, &child);
	if (rc)
		goto out_unlock;        /* exists on disk; a lookup finds it */
	if (S_ISDIR(a.mode)) {
		inode_lock(child);
		child->dir_count = 1;   /* empty */
		child->dacl_absent = !def;
		inode_unlock(child);
	}
	if (S_ISREG(a.mode)) {
		/* A new file is hot: all of its (zero) chunks are in RAM. */
		inode_lock(child);
		child->resident = true;
		child->caps_absent = true;      /* fs_xattr.c get_caps() */
		fs_set_reason(child, REASON_WRITTEN, 0, 0);
		inode_unlock(child);
		hot_list_add(&f->hot, child);
	}
	fs_ilookup(f, child, 1);
	fs_stat_of(f, child, st);
	*out = child;
out_unlock:
	inode_io_unlock(parent);
	pthread_mutex_unlock(&f->ns_lock);
	/* The creation reference becomes the kernel's (nlookup) reference. */
	if (!rc)
		fs_iput(f, child);
out_free:
	free(def);
	free(acl);
	return rc;
}

int fs_mknod(struct fs *f, const struct fs_caller *c,
	     struct tfs_inode *parent, const char *name, mode_t mode,
	     dev_t rdev, struct tfs_inode **out, struct stat *st)
{
	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) &&
	    !S_ISCHR(mode) && !S_ISBLK(mode))
		return -EINVAL;
	return ns_new(f, c, parent, name, mode, rdev, NULL, out, st);
}

int fs_mkdir(struct fs *f, const struct fs_caller *c,
	     struct tfs_inode *parent, const char *name, mode_t mode,
	     struct tfs_inode **out, struct stat *st)
{
	return ns_new(f, c, parent, name, S_IFDIR | (mode & 07777), 0, NULL,
		      out, st);
}

int fs_symlink(struct fs *f, const struct fs_caller *c,
	       struct tfs_inode *parent, const char *name, const char *target,
	       struct tfs_inode **out, struct stat *st)
{
	if (strlen(target) >= 4096)
		return -ENAMETOOLONG;
	return ns_new(f, c, parent, name, S_IFLNK | 0777, 0, target, out, st);
}

int fs_ns_create_file(struct fs *f, const struct fs_caller *c,
		      struct tfs_inode *parent, const char *name, mode_t mode,
		      struct tfs_inode **out, struct stat *st)
{
	return ns_new(f, c, parent, name, S_IFREG | (mode & 07777), 0, NULL,
		      out, st);
}

int fs_link(struct fs *f, struct tfs_inode *ino, struct tfs_inode *newparent,
	    const char *newname, struct stat *st)
{
	struct meta_inode a, p;
	tfs_ns now = fs_now();
	int rc;

	rc = check_name(newname);
	if (rc)
		return rc;
	if (ino->kind != INODE_REAL || is_reserved(f, newparent, newname))
		return -EPERM;
	rc = check_dir(newparent);
	if (rc)
		return rc;

	pthread_mutex_lock(&f->ns_lock);
	inode_io_lock(newparent);
	inode_io_lock(ino);
	a = snap(ino);
	p = snap(newparent);
	if (S_ISDIR(a.mode)) {
		rc = -EPERM;
		goto out_unlock;
	}
	if (a.nlink == 0) {
		rc = -ENOENT;
		goto out_unlock;
	}
	if (a.nlink >= 65000) {
		rc = -EMLINK;
		goto out_unlock;
	}
	a.nlink++;
	a.ctime = now;
	p.mtime = p.ctime = now;
	rc = meta_begin(f->meta);
	if (rc)
		goto out_unlock;
	rc = meta_dentry_add(f->meta, newparent->ino, newname, ino->ino);
	if (!rc)
		rc = meta_inode_update(f->meta, &a);
	if (!rc)
		rc = meta_inode_update(f->meta, &p);
	rc = meta_finish(f->meta, rc);
	if (!rc) {
		apply_ns(ino, &a);
		apply_ns(newparent, &p);
		fs_dir_changed(newparent, 1);
		fs_ilookup(f, ino, 1);
		fs_stat_of(f, ino, st);
	}
out_unlock:
	inode_io_unlock(ino);
	inode_io_unlock(newparent);
	pthread_mutex_unlock(&f->ns_lock);
	return rc;
}

/* unlink and rmdir. */
static int ns_remove(struct fs *f, struct tfs_inode *parent, const char *name,
		     bool dir)
{
	struct tfs_inode *child = NULL;
	struct meta_inode a, p;
	tfs_ns now = fs_now();
	uint64_t ino;
	bool empty;
	int rc;

	if (strlen(name) > TFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (is_reserved(f, parent, name))
		return -EPERM;
	if (parent->kind != INODE_REAL)
		return -EPERM;
	if (dir && !strcmp(name, "."))
		return -EINVAL;
	if (dir && !strcmp(name, ".."))
		return -ENOTEMPTY;

	pthread_mutex_lock(&f->ns_lock);
	rc = meta_dentry_lookup(f->meta, parent->ino, name, &ino);
	if (!rc)
		rc = fs_iget(f, ino, &child);
	if (rc)
		goto out_ns;
	inode_io_lock(parent);
	inode_io_lock(child);
	a = snap(child);
	p = snap(parent);
	if (dir && !S_ISDIR(a.mode)) {
		rc = -ENOTDIR;
		goto out_unlock;
	}
	if (!dir && S_ISDIR(a.mode)) {
		rc = -EISDIR;
		goto out_unlock;
	}
	if (dir) {
		rc = meta_dir_is_empty(f->meta, child->ino, &empty);
		if (!rc && !empty)
			rc = -ENOTEMPTY;
		if (rc)
			goto out_unlock;
		a.nlink = 0;
		p.nlink--;
	} else {
		a.nlink--;
	}
	a.ctime = now;
	p.mtime = p.ctime = now;
	rc = meta_begin(f->meta);
	if (rc)
		goto out_unlock;
	rc = meta_dentry_remove(f->meta, parent->ino, name);
	if (!rc)
		rc = meta_inode_update(f->meta, &a);
	if (!rc)
		rc = meta_inode_update(f->meta, &p);
	rc = meta_finish(f->meta, rc);
	if (!rc) {
		apply_ns(child, &a);
		apply_ns(parent, &p);
		fs_dir_changed(parent, -1);
	}
out_unlock:
	inode_io_unlock(child);
	inode_io_unlock(parent);
out_ns:
	pthread_mutex_unlock(&f->ns_lock);
	if (child)
		fs_iput(f, child);      /* may delete it: last link gone */
	return rc;
}

int fs_unlink(struct fs *f, struct tfs_inode *parent, const char *name)
{
	return ns_remove(f, parent, name, false);
}

int fs_rmdir(struct fs *f, struct tfs_inode *parent, const char *name)
{
	return ns_remove(f, parent, name, true);
}

/* Is `anc` an ancestor of (or equal to) directory `ino`? Walks parents in
 * meta. Caller holds ns_lock, so the tree does not change meanwhile. */
static int is_ancestor(struct fs *f, uint64_t anc, uint64_t ino, bool *yes)
{
	char name[TFS_NAME_MAX + 1];
	int depth = 0;

	*yes = false;
	while (ino != TFS_ROOT_INO) {
		uint64_t up;
		int rc;

		if (ino == anc) {
			*yes = true;
			return 0;
		}
		rc = meta_dentry_parent(f->meta, ino, &up, name);
		if (rc)
			return rc == -ENOENT ? 0 : rc;
		ino = up;
		if (++depth > 100000)
			return -ELOOP;
	}
	*yes = (anc == TFS_ROOT_INO);
	return 0;
}

struct rename_set {
	struct tfs_inode *ino[4];       /* parent, newparent, src, dst */
	struct meta_inode a[4];
	int n;
};

static void rs_add(struct rename_set *s, struct tfs_inode *ino)
{
	for (int i = 0; i < s->n; i++)
		if (s->ino[i] == ino)
			return;
	s->ino[s->n] = ino;
	s->a[s->n] = snap(ino);
	s->n++;
}

static struct meta_inode *rs_get(struct rename_set *s, struct tfs_inode *ino)
{
	for (int i = 0; i < s->n; i++)
		if (s->ino[i] == ino)
			return &s->a[i];
	return NULL;
}

static int rename_locked(struct fs *f, struct tfs_inode *parent,
			 const char *name, struct tfs_inode *newparent,
			 const char *newname, unsigned int flags,
			 struct tfs_inode *src, struct tfs_inode *dst)
{
	struct rename_set s = { .n = 0 };
	struct meta_inode *sa, *da = NULL, *pa, *npa;
	tfs_ns now = fs_now();
	bool src_dir, dst_dir = false, loop, empty;
	int rc;

	rs_add(&s, parent);
	rs_add(&s, newparent);
	rs_add(&s, src);
	if (dst)
		rs_add(&s, dst);
	for (int i = 0; i < s.n; i++)
		inode_io_lock(s.ino[i]);
	pa = rs_get(&s, parent);
	npa = rs_get(&s, newparent);
	sa = rs_get(&s, src);
	src_dir = S_ISDIR(sa->mode);
	if (dst) {
		da = rs_get(&s, dst);
		dst_dir = S_ISDIR(da->mode);
	}

	/* A directory may not move below itself. */
	if (src_dir && parent != newparent) {
		rc = is_ancestor(f, src->ino, newparent->ino, &loop);
		if (!rc && loop)
			rc = -EINVAL;
		if (rc)
			goto out_unlock;
	}
	if ((flags & FS_RENAME_EXCHANGE) && dst_dir &&
	    parent != newparent) {
		rc = is_ancestor(f, dst->ino, parent->ino, &loop);
		if (!rc && loop)
			rc = -EINVAL;
		if (rc)
			goto out_unlock;
	}

	rc = meta_begin(f->meta);
	if (rc)
		goto out_unlock;
	if (flags & FS_RENAME_EXCHANGE) {
		rc = meta_dentry_set(f->meta, parent->ino, name, dst->ino);
		if (!rc)
			rc = meta_dentry_set(f->meta, newparent->ino, newname,
					     src->ino);
		if (parent != newparent && src_dir != dst_dir) {
			int d = src_dir ? 1 : -1;

			npa->nlink += d;
			pa->nlink -= d;
		}
		da->ctime = now;
	} else if (dst) {
		if (src_dir && !dst_dir) {
			rc = -ENOTDIR;
		} else if (!src_dir && dst_dir) {
			rc = -EISDIR;
		} else if (dst_dir) {
			rc = meta_dir_is_empty(f->meta, dst->ino, &empty);
			if (!rc && !empty)
				rc = -ENOTEMPTY;
		}
		if (!rc)
			rc = meta_dentry_set(f->meta, newparent->ino, newname,
					     src->ino);
		if (!rc)
			rc = meta_dentry_remove(f->meta, parent->ino, name);
		if (dst_dir) {
			da->nlink = 0;
			npa->nlink--;   /* the replaced dir's ".." */
		} else {
			da->nlink--;
		}
		da->ctime = now;
		if (src_dir && parent != newparent) {
			pa->nlink--;
			npa->nlink++;
		}
	} else {
		rc = meta_dentry_move(f->meta, parent->ino, name,
				      newparent->ino, newname);
		if (src_dir && parent != newparent) {
			pa->nlink--;
			npa->nlink++;
		}
	}
	sa->ctime = now;
	pa->mtime = pa->ctime = now;
	npa->mtime = npa->ctime = now;
	for (int i = 0; !rc && i < s.n; i++)
		rc = meta_inode_update(f->meta, &s.a[i]);
	rc = meta_finish(f->meta, rc);
	if (!rc) {
		for (int i = 0; i < s.n; i++)
			apply_ns(s.ino[i], &s.a[i]);
		/* The source name leaves parent; newname is new in newparent
		 * unless it replaced (or was exchanged with) an entry. */
		fs_dir_changed(parent, (flags & FS_RENAME_EXCHANGE) ? 0 : -1);
		fs_dir_changed(newparent, dst ? 0 : 1);
	}
out_unlock:
	for (int i = s.n - 1; i >= 0; i--)
		inode_io_unlock(s.ino[i]);
	return rc;
}

int fs_rename(struct fs *f, struct tfs_inode *parent, const char *name,
	      struct tfs_inode *newparent, const char *newname,
	      unsigned int flags)
{
	struct tfs_inode *src = NULL, *dst = NULL;
	uint64_t sino, dino;
	int rc;

	if (flags & ~(FS_RENAME_NOREPLACE | FS_RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & FS_RENAME_NOREPLACE) && (flags & FS_RENAME_EXCHANGE))
		return -EINVAL;
	rc = check_name(newname);
	if (rc)
		return rc == -EEXIST ? -EBUSY : rc;
	if (strlen(name) > TFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (is_reserved(f, parent, name) || is_reserved(f, newparent, newname))
		return -EPERM;
	if (parent->kind == INODE_VIEW || newparent->kind == INODE_VIEW)
		return fs_view_rename(f, parent, name, newparent, newname,
				      flags);
	if (parent->kind != INODE_REAL || newparent->kind != INODE_REAL)
		return -EPERM;
	rc = check_dir(newparent);
	if (rc)
		return rc;

	pthread_mutex_lock(&f->ns_lock);
	rc = meta_dentry_lookup(f->meta, parent->ino, name, &sino);
	if (!rc)
		rc = fs_iget(f, sino, &src);
	if (rc)
		goto out_ns;
	rc = meta_dentry_lookup(f->meta, newparent->ino, newname, &dino);
	if (rc == 0) {
		if (flags & FS_RENAME_NOREPLACE) {
			rc = -EEXIST;
			goto out_ns;
		}
		rc = fs_iget(f, dino, &dst);
		if (rc)
			goto out_ns;
	} else if (rc == -ENOENT) {
		if (flags & FS_RENAME_EXCHANGE)
			goto out_ns;
		rc = 0;
	} else {
		goto out_ns;
	}
	if (dst == src) {
		rc = 0; /* two links to one inode: POSIX says do nothing */
		goto out_ns;
	}
	rc = rename_locked(f, parent, name, newparent, newname, flags, src,
			   dst);
out_ns:
	pthread_mutex_unlock(&f->ns_lock);
	if (dst)
		fs_iput(f, dst);        /* may delete it: replaced */
	if (src)
		fs_iput(f, src);
	return rc;
}

int fs_readlink(struct fs *f, struct tfs_inode *ino, char *buf, size_t size)
{
	if (ino->kind != INODE_REAL)
		return -EINVAL;
	inode_lock(ino);
	if (!S_ISLNK(ino->attr.mode)) {
		inode_unlock(ino);
		return -EINVAL;
	}
	inode_unlock(ino);
	return meta_symlink_get(f->meta, ino->ino, buf, size);
}

static tfs_ns ns_of(const struct timespec *ts)
{
	return (tfs_ns)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

int fs_setattr(struct fs *f, struct tfs_inode *ino, const struct stat *in,
	       int set, struct stat *out)
{
	tfs_ns now = fs_now();
	int rc = 0;

	if (ino->kind != INODE_REAL)
		return (set & ~(FS_SET_ATIME | FS_SET_MTIME | FS_SET_ATIME_NOW |
				FS_SET_MTIME_NOW | FS_SET_CTIME)) ? -EPERM : 0;
	inode_io_lock(ino);
	if (set & FS_SET_SIZE) {
		inode_lock(ino);
		if (S_ISDIR(ino->attr.mode))
			rc = -EISDIR;
		else if (!S_ISREG(ino->attr.mode))
			rc = -EINVAL;
		inode_unlock(ino);
		if (!rc)
			rc = fs_truncate(f, ino, (uint64_t)in->st_size);
		if (rc)
			goto out_unlock;
	}
	if (set & ~FS_SET_SIZE) {
		inode_lock(ino);
		if (set & FS_SET_MODE)
			ino->attr.mode = (ino->attr.mode & S_IFMT) |
					 (in->st_mode & 07777);
		if (set & FS_SET_UID)
			ino->attr.uid = in->st_uid;
		if (set & FS_SET_GID)
			ino->attr.gid = in->st_gid;
		if (set & FS_SET_ATIME_NOW)
			ino->attr.atime = now;
		else if (set & FS_SET_ATIME)
			ino->attr.atime = ns_of(&in->st_atim);
		if (set & FS_SET_MTIME_NOW)
			ino->attr.mtime = now;
		else if (set & FS_SET_MTIME)
			ino->attr.mtime = ns_of(&in->st_mtim);
		if (set & FS_SET_CTIME)
			ino->attr.ctime = ns_of(&in->st_ctim);
		else
			ino->attr.ctime = now;
		inode_unlock(ino);
		/* A chmod rewrites the access ACL's base entries too. */
		rc = (set & FS_SET_MODE) ? fs_acl_chmod(f, ino)
					 : fs_persist_attr(f, ino);
	}
out_unlock:
	inode_io_unlock(ino);
	if (!rc)
		fs_stat_of(f, ino, out);
	return rc;
}

int fs_write_kill_priv(struct fs *f, struct tfs_inode *ino,
		       const struct fs_caller *c)
{
	struct stat in, out;
	mode_t mode, kill = 0;
	gid_t gid;
	int caps, rc;

	if (ino->kind != INODE_REAL)
		return 0;
	caps = fs_xattr_kill_caps(f, ino);
	if (caps < 0)
		return caps;
	if (c->uid == 0)
		return caps;
	inode_lock(ino);
	mode = ino->attr.mode;
	gid = ino->attr.gid;
	inode_unlock(ino);
	if (!S_ISREG(mode))
		return caps;
	if (mode & S_ISUID)
		kill |= S_ISUID;
	if ((mode & S_ISGID) && ((mode & S_IXGRP) || c->gid != gid))
		kill |= S_ISGID;
	if (!kill)
		return caps;
	memset(&in, 0, sizeof(in));
	in.st_mode = mode & ~kill;
	rc = fs_setattr(f, ino, &in, FS_SET_MODE, &out);
	return rc ? rc : 1;
}
