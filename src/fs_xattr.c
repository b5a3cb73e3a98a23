/*
 * fs_xattr.c - extended attributes: the user's own (stored in meta) and
 * tierfs's virtual user.tierfs.* ones, which show and steer a file's tier.
 *
 * The virtual names are computed on every get and never stored. Copy tools
 * (cp -a, rsync -X) read them from one tierfs file and write them to
 * another: setting `tier` moves the file (a valid move), and setting a
 * read-only fact to the value it already has, or any value, is ignored
 * rather than failed, so those copies succeed. system.* names (POSIX ACLs)
 * are not supported: -EOPNOTSUPP.
 */
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <linux/limits.h>
#include <sys/xattr.h>

#define XA_PREFIX "user.tierfs."
#define XA_TIER XA_PREFIX "tier"

static bool is_tierfs_name(const char *name)
{
	return !strncmp(name, XA_PREFIX, sizeof(XA_PREFIX) - 1);
}

static bool is_regular(struct tfs_inode *ino)
{
	bool r;

	if (ino->kind != INODE_REAL)
		return false;
	inode_lock(ino);
	r = S_ISREG(ino->attr.mode);
	inode_unlock(ino);
	return r;
}

/* Parse a tier name; the value is not NUL-terminated. */
static int parse_tier(const char *v, size_t size)
{
	for (int t = 0; t < TFS_NTIERS; t++) {
		const char *n = tfs_tier_name(t);

		if (size == strlen(n) && !memcmp(v, n, size))
			return t;
	}
	return -EINVAL;
}

int fs_setxattr(struct fs *f, struct tfs_inode *ino, const char *name,
		const void *value, size_t size, int flags)
{
	int t;

	if (ino->kind != INODE_REAL)
		return -EPERM;
	if (!strncmp(name, "system.", 7))
		return -EOPNOTSUPP;
	if (strlen(name) > XATTR_NAME_MAX)
		return -ERANGE;
	if (size > XATTR_SIZE_MAX)
		return -E2BIG;
	if (is_tierfs_name(name)) {
		if (flags & XATTR_CREATE)
			return -EEXIST;
		/* On a directory, tier moves every file below it at once
		 * (one batch: cold files share archives). */
		if (!strcmp(name, XA_TIER)) {
			t = parse_tier(value, size);
			if (t < 0)
				return t;
			return fs_set_tier(f, ino, t);
		}
		return -EINVAL;
	}
	return meta_xattr_set(f->meta, ino->ino, name, value, size, flags);
}

/* Copy a computed value out with getxattr(2) size semantics. */
static int put_value(const char *v, void *buf, size_t size)
{
	size_t n = strlen(v);

	if (size == 0)
		return (int)n;
	if (size < n)
		return -ERANGE;
	memcpy(buf, v, n);
	return (int)n;
}

int fs_getxattr(struct fs *f, struct tfs_inode *ino, const char *name,
		void *buf, size_t size)
{
	if (ino->kind != INODE_REAL)
		return -ENODATA;
	if (is_tierfs_name(name)) {
		if (!is_regular(ino))
			return -ENODATA;
		if (!strcmp(name, XA_TIER))
			return put_value(tfs_tier_name(fs_get_tier(f, ino)),
					 buf, size);
		return -ENODATA;
	}
	return meta_xattr_get(f->meta, ino->ino, name, buf, size);
}

int fs_listxattr(struct fs *f, struct tfs_inode *ino, char *buf, size_t size)
{
	static const char virt[] = XA_TIER;
	size_t vlen = 0;
	int n;

	if (ino->kind != INODE_REAL)
		return 0;
	if (is_regular(ino))
		vlen = sizeof(virt);
	n = meta_xattr_list(f->meta, ino->ino, NULL, 0);
	if (n < 0)
		return n;
	if (size == 0)
		return n + (int)vlen;
	if (size < (size_t)n + vlen)
		return -ERANGE;
	memcpy(buf, virt, vlen);
	n = meta_xattr_list(f->meta, ino->ino, buf + vlen, size - vlen);
	if (n < 0)
		return n;
	return n + (int)vlen;
}

int fs_removexattr(struct fs *f, struct tfs_inode *ino, const char *name)
{
	if (ino->kind != INODE_REAL)
		return -EPERM;
	if (is_tierfs_name(name))
		return -EPERM;
	return meta_xattr_remove(f->meta, ino->ino, name);
}
