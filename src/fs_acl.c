/*
 * fs_acl.c - POSIX ACLs: the filesystem's half of FUSE_CAP_POSIX_ACL.
 *
 * With that capability the kernel enforces ACLs itself (with
 * default_permissions), caches them, validates what setfacl sends and
 * checks who may set them. It leaves to the filesystem what only the
 * filesystem can do, and that is this file:
 *   - store system.posix_acl_access / system.posix_acl_default as ordinary
 *     attributes in meta (fs_xattr.c), in the kernel's xattr format:
 *     a little-endian u32 version (2), then {u16 tag, u16 perm, u32 id}
 *     entries;
 *   - keep the mode and the access ACL in step: setting an access ACL sets
 *     the mode's rwx bits from its owner, mask (or group) and other
 *     entries, and an ACL with only those three entries is not stored at
 *     all (it is the mode); chmod rewrites those entries of a stored ACL;
 *   - inherit a directory's default ACL on create: the new inode's access
 *     ACL is the default ACL masked by the mode asked for (the umask is
 *     not applied then), and a new directory also gets it as its own
 *     default ACL.
 * Each of these commits the ACL and the inode row in one transaction.
 *
 * What it is not: a permission checker (the kernel is), and not the
 * setgid clearing on ACL changes by non-members (libfuse 3.14 does not
 * pass FUSE_SETXATTR_ACL_KILL_SGID on).
 */
#include "fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ACL_VERSION 2
#define TAG_USER_OBJ 0x01
#define TAG_USER 0x02
#define TAG_GROUP_OBJ 0x04
#define TAG_GROUP 0x08
#define TAG_MASK 0x10
#define TAG_OTHER 0x20
#define ACL_MAX_ENTRIES 1024

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Entries of a well-formed ACL, or -EINVAL. */
static int acl_count(const void *value, size_t size)
{
	const uint8_t *v = value;
	size_t n;
	unsigned seen = 0;

	if (!v || size < 4 || (size - 4) % 8 || get32(v) != ACL_VERSION)
		return -EINVAL;
	n = (size - 4) / 8;
	if (n < 3 || n > ACL_MAX_ENTRIES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = get16(v + 4 + 8 * i);
		uint16_t perm = get16(v + 6 + 8 * i);

		if (perm & ~7)
			return -EINVAL;
		switch (tag) {
		case TAG_USER_OBJ:
		case TAG_GROUP_OBJ:
		case TAG_MASK:
		case TAG_OTHER:
			if (seen & tag)
				return -EINVAL; /* twice */
			seen |= tag;
			break;
		case TAG_USER:
		case TAG_GROUP:
			seen |= tag;
			break;
		default:
			return -EINVAL;
		}
	}
	if (!(seen & TAG_USER_OBJ) || !(seen & TAG_GROUP_OBJ) ||
	    !(seen & TAG_OTHER))
		return -EINVAL;
	/* Named entries need a mask. */
	if ((seen & (TAG_USER | TAG_GROUP)) && !(seen & TAG_MASK))
		return -EINVAL;
	return (int)n;
}

/* Perm of the entry with `tag` (-1 if none). */
static int acl_perm(const void *value, size_t n, uint16_t tag)
{
	const uint8_t *v = value;

	for (size_t i = 0; i < n; i++)
		if (get16(v + 4 + 8 * i) == tag)
			return get16(v + 6 + 8 * i);
	return -1;
}

void fs_set_acl(struct fs *f, bool on)
{
	f->acl = on;
}

int fs_acl_check(const void *value, size_t size)
{
	int n = acl_count(value, size);

	return n < 0 ? n : 0;
}

int fs_acl_access_mode(const void *value, size_t size, mode_t old,
		       mode_t *mode, bool *store)
{
	int n = acl_count(value, size);
	int g;

	if (n < 0)
		return n;
	g = acl_perm(value, (size_t)n, TAG_MASK);
	if (g < 0)
		g = acl_perm(value, (size_t)n, TAG_GROUP_OBJ);
	*mode = (old & ~(mode_t)0777) |
		(mode_t)acl_perm(value, (size_t)n, TAG_USER_OBJ) << 6 |
		(mode_t)g << 3 | (mode_t)acl_perm(value, (size_t)n, TAG_OTHER);
	*store = n > 3;
	return 0;
}

/* Rewrite the owner, mask-or-group and other entries to match mode. */
static void acl_set_base(uint8_t *v, size_t n, mode_t mode)
{
	bool has_mask = acl_perm(v, n, TAG_MASK) >= 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t *e = v + 4 + 8 * i;

		switch (get16(e)) {
		case TAG_USER_OBJ:
			put16(e + 2, (uint16_t)((mode >> 6) & 7));
			break;
		case TAG_MASK:
			put16(e + 2, (uint16_t)((mode >> 3) & 7));
			break;
		case TAG_GROUP_OBJ:
			if (!has_mask)
				put16(e + 2, (uint16_t)((mode >> 3) & 7));
			break;
		case TAG_OTHER:
			put16(e + 2, (uint16_t)(mode & 7));
			break;
		default:
			break;
		}
	}
}

int fs_acl_inherit(const void *def, size_t size, mode_t *mode,
		   void **access, size_t *alen)
{
	int n = acl_count(def, size);
	uint8_t *v;
	bool has_mask;

	*access = NULL;
	*alen = 0;
	if (n < 0)
		return n;
	v = malloc(size);
	if (!v)
		return -ENOMEM;
	memcpy(v, def, size);
	has_mask = acl_perm(v, (size_t)n, TAG_MASK) >= 0;
	/* posix_acl_create_masq(): each base entry masked by the mode
	 * asked for; the mode becomes what is left. */
	for (int i = 0; i < n; i++) {
		uint8_t *e = v + 4 + 8 * i;
		uint16_t tag = get16(e), perm = get16(e + 2);

		if (tag == TAG_USER_OBJ)
			perm &= (*mode >> 6) & 7;
		else if (tag == TAG_MASK ||
			 (tag == TAG_GROUP_OBJ && !has_mask))
			perm &= (*mode >> 3) & 7;
		else if (tag == TAG_OTHER)
			perm &= *mode & 7;
		put16(e + 2, perm);
	}
	{
		int g = has_mask ? acl_perm(v, (size_t)n, TAG_MASK)
				 : acl_perm(v, (size_t)n, TAG_GROUP_OBJ);

		*mode = (*mode & ~(mode_t)0777) |
			(mode_t)acl_perm(v, (size_t)n, TAG_USER_OBJ) << 6 |
			(mode_t)g << 3 |
			(mode_t)acl_perm(v, (size_t)n, TAG_OTHER);
	}
	if (n == 3) {
		free(v);        /* the mode says it all */
		return 0;
	}
	*access = v;
	*alen = size;
	return 0;
}

int fs_acl_get(struct fs *f, uint64_t ino, const char *name, void **out,
	       size_t *len)
{
	void *buf;
	int n;

	*out = NULL;
	*len = 0;
	for (int tries = 0; tries < 4; tries++) {
		n = meta_xattr_get(f->meta, ino, name, NULL, 0);
		if (n == -ENODATA)
			return 0;
		if (n < 0)
			return n;
		buf = malloc(n ? (size_t)n : 1);
		if (!buf)
			return -ENOMEM;
		n = meta_xattr_get(f->meta, ino, name, buf, (size_t)n);
		if (n >= 0) {
			*out = buf;
			*len = (size_t)n;
			return 0;
		}
		free(buf);
		if (n == -ENODATA)
			return 0;
		if (n != -ERANGE)
			return n;       /* -ERANGE: it grew; again */
	}
	return -EIO;
}

int fs_acl_chmod(struct fs *f, struct tfs_inode *ino)
{
	struct meta_inode a;
	void *acl = NULL;
	size_t len = 0;
	int n, rc;

	if (!f->acl)
		return fs_persist_attr(f, ino);
	rc = fs_acl_get(f, ino->ino, FS_ACL_ACCESS, &acl, &len);
	if (rc || !acl) {
		free(acl);
		return rc ? rc : fs_persist_attr(f, ino);
	}
	n = acl_count(acl, len);
	inode_lock(ino);
	a = inode_attr_durable(ino);
	ino->meta_dirty = false;
	inode_unlock(ino);
	a.last_access = atomic_load(&ino->last_access);
	a.access_count = atomic_load(&ino->access_count);
	if (n > 0)
		acl_set_base(acl, (size_t)n, a.mode);
	rc = meta_begin(f->meta);
	if (!rc) {
		if (n > 0)
			rc = meta_xattr_set(f->meta, ino->ino, FS_ACL_ACCESS,
					    acl, len, 0);
		if (!rc)
			rc = meta_inode_update(f->meta, &a);
		rc = meta_finish(f->meta, rc);
	}
	if (rc) {
		inode_lock(ino);
		ino->meta_dirty = true;
		inode_unlock(ino);
	}
	free(acl);
	return rc;
}
