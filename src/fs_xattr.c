/*
 * fs_xattr.c - extended attributes: the user's own (stored in meta) and
 * tierfs's virtual user.tierfs.* ones, which show and steer a file's tier.
 *
 * The virtual names are computed on every get and never stored. They are
 * readable and writable by name but not listed by listxattr (unless
 * list_tier_xattrs is set), so cp -a, rsync -X and tar --xattrs copy only
 * the user's own attributes (the Linux AFS client unlisted its synthetic
 * names for the same reason). Old copies that do carry them still go back
 * in: setting `tier` or `pin` moves the file (a valid move), and setting
 * a read-only fact is ignored rather than failed.
 *
 * system.posix_acl_access/default are stored like the user's own names
 * when ACLs are on (fs_acl.c keeps the mode in step); any other system.*
 * name, and those when ACLs are off, is -EOPNOTSUPP.
 *
 * One user.tierfs.* name is stored, not computed: a directory's
 * user.tierfs.policy (dirpol.h), an ordinary xattr row validated on the
 * way in (-EINVAL for a bad value or a non-directory) that the policy
 * thread reads; setting or removing it wakes the policy thread.
 */
#include "dirpol.h"
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/limits.h>
#include <sys/xattr.h>

/* The file capability xattr (linux/capability.h XATTR_NAME_CAPS). */
#define XATTR_CAPS "security.capability"
#define XA_PREFIX "user.tierfs."

/* The virtual attributes, in listing order. */
enum xa_id { XA_TIER, XA_PIN, XA_STORED, XA_RATIO, XA_ATIME, XA_ACCESSES,
	     XA_REASON, XA_N };
static const char *const xa_names[XA_N] = {
	XA_PREFIX "tier", XA_PREFIX "pin", XA_PREFIX "stored",
	XA_PREFIX "ratio", XA_PREFIX "atime", XA_PREFIX "accesses",
	XA_PREFIX "reason",
};

static bool is_tierfs_name(const char *name)
{
	return !strncmp(name, XA_PREFIX, sizeof(XA_PREFIX) - 1);
}

static int xa_lookup(const char *name)
{
	for (int i = 0; i < XA_N; i++)
		if (!strcmp(name, xa_names[i]))
			return i;
	return -1;
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

/* Parse a tier name (or "none" when allowed); the value is not
 * NUL-terminated. */
static int parse_tier(const char *v, size_t size, bool allow_none)
{
	if (allow_none && size == 4 && !memcmp(v, "none", 4))
		return TFS_PIN_NONE;
	for (int t = 0; t < TFS_NTIERS; t++) {
		const char *n = tfs_tier_name(t);

		if (size == strlen(n) && !memcmp(v, n, size))
			return t;
	}
	return -EINVAL - 1000;  /* below TFS_PIN_NONE: an error */
}

/*
 * Set (value != NULL) or remove one of the stored attributes and move the
 * inode's ctime (and set its mode, if `mode`), in one transaction: an
 * attribute change is an inode change (stat(2) ctime), and the kernel
 * re-reads our attributes after every setxattr/removexattr. absent_ok: a
 * removal of a missing name is not an error.
 */
static int xattr_store(struct fs *f, struct tfs_inode *ino, const char *name,
		       const void *value, size_t size, int flags,
		       const mode_t *mode, bool absent_ok)
{
	struct meta_inode a;
	tfs_ns now = fs_now();
	int rc;

	inode_io_lock(ino);
	inode_lock(ino);
	a = inode_attr_durable(ino);
	inode_unlock(ino);
	a.ctime = now;
	if (mode)
		a.mode = (a.mode & S_IFMT) | (*mode & 07777);
	a.last_access = atomic_load(&ino->last_access);
	a.access_count = atomic_load(&ino->access_count);
	rc = meta_begin(f->meta);
	if (rc)
		goto out_unlock;
	rc = value ? meta_xattr_set(f->meta, ino->ino, name, value, size,
				    flags)
		   : meta_xattr_remove(f->meta, ino->ino, name);
	if (rc == -ENODATA && !value && absent_ok)
		rc = 0;
	if (!rc)
		rc = meta_inode_update(f->meta, &a);
	rc = meta_finish(f->meta, rc);
	inode_lock(ino);
	ino->xattr_gen++;       /* after the commit: fs_xattr_note_absent */
	ino->caps_absent = false;
	ino->dacl_absent = false;
	if (!rc) {
		ino->attr.ctime = now;
		if (mode)
			ino->attr.mode = a.mode;
	}
	inode_unlock(ino);
out_unlock:
	inode_io_unlock(ino);
	return rc;
}

static bool is_acl_name(const char *name)
{
	return !strcmp(name, FS_ACL_ACCESS) || !strcmp(name, FS_ACL_DEFAULT);
}

/* setxattr of system.posix_acl_* (the kernel checked who may, and the
 * format; we check the format again: this is outside input). */
static int set_acl(struct fs *f, struct tfs_inode *ino, const char *name,
		   const void *value, size_t size, int flags)
{
	mode_t old, mode;
	bool store;
	int rc;

	inode_lock(ino);
	old = ino->attr.mode;
	inode_unlock(ino);
	if (!strcmp(name, FS_ACL_DEFAULT)) {
		if (!S_ISDIR(old))
			return -EACCES;
		rc = fs_acl_check(value, size);
		return rc ? rc : xattr_store(f, ino, name, value, size, flags,
					     NULL, false);
	}
	rc = fs_acl_access_mode(value, size, old, &mode, &store);
	if (rc)
		return rc;
	/* An ACL that is just the mode is not stored: the mode is it. */
	return xattr_store(f, ino, name, store ? value : NULL, size, flags,
			   &mode, true);
}

static int set_pin(struct fs *f, struct tfs_inode *ino, int pin)
{
	int rc;

	inode_io_lock(ino);
	inode_lock(ino);
	ino->attr.pin = pin;
	ino->attr.ctime = fs_now();
	inode_unlock(ino);
	rc = fs_persist_attr(f, ino);
	inode_io_unlock(ino);
	if (rc || pin == TFS_PIN_NONE || fs_get_tier(f, ino) == pin)
		return rc;
	return fs_move(f, ino, pin, REASON_PIN, 0, 0);
}

static bool is_dir(struct tfs_inode *ino)
{
	bool r;

	inode_lock(ino);
	r = S_ISDIR(ino->attr.mode);
	inode_unlock(ino);
	return r;
}

static int set_policy(struct fs *f, struct tfs_inode *ino, const void *value,
		      size_t size, int flags)
{
	struct dirpol p;
	int rc;

	if (!is_dir(ino) || dirpol_parse(value, size, &p))
		return -EINVAL;
	rc = xattr_store(f, ino, DIRPOL_XATTR, value, size, flags, NULL,
			 false);
	if (!rc)
		fs_policy_wake(f);
	return rc;
}

/* A move the user asked for that a writer keeps beating (-EAGAIN: the file
 * changed while it moved) is tried again, pausing 1 ms, 2 ms, ... up to
 * 256 ms, for this long; then -EBUSY. The policy itself just tries again
 * at its next tick. */
#define USER_MOVE_RETRY_MS 60000

static int user_move(struct fs *f, struct tfs_inode *ino, int id, int t)
{
	struct timespec nap = { 0, 1000000 };
	long waited_ms = 0;
	int rc;

	for (;;) {
		rc = id == XA_TIER ? fs_set_tier(f, ino, t) : set_pin(f, ino, t);
		if (rc != -EAGAIN || waited_ms >= USER_MOVE_RETRY_MS)
			break;
		nanosleep(&nap, NULL);
		waited_ms += nap.tv_nsec / 1000000;
		if (nap.tv_nsec < 256000000)
			nap.tv_nsec *= 2;
	}
	return rc == -EAGAIN ? -EBUSY : rc;
}

int fs_user_set_tier(struct fs *f, struct tfs_inode *ino, int tier)
{
	return user_move(f, ino, XA_TIER, tier);
}

int fs_setxattr(struct fs *f, struct tfs_inode *ino, const char *name,
		const void *value, size_t size, int flags)
{
	int id, t;

	if (ino->kind != INODE_REAL)
		return -EPERM;
	if (!strncmp(name, "system.", 7))
		return f->acl && is_acl_name(name)
			       ? set_acl(f, ino, name, value, size, flags)
			       : -EOPNOTSUPP;
	if (strlen(name) > XATTR_NAME_MAX)
		return -ERANGE;
	if (size > XATTR_SIZE_MAX)
		return -E2BIG;
	if (!is_tierfs_name(name))
		return xattr_store(f, ino, name, value ? value : "", size,
				   flags, NULL, false);
	if (!strcmp(name, DIRPOL_XATTR))
		return set_policy(f, ino, value, size, flags);
	id = xa_lookup(name);
	if (id < 0)
		return -EINVAL;
	if (flags & XATTR_CREATE)
		return -EEXIST;
	if (id == XA_TIER) {
		/* On a directory, tier moves every file below it at once
		 * (one batch: cold files share archives). */
		t = parse_tier(value, size, false);
		return t < 0 ? -EINVAL : user_move(f, ino, id, t);
	}
	if (!is_regular(ino))
		return -EINVAL;
	if (id == XA_PIN) {
		t = parse_tier(value, size, true);
		return t < TFS_PIN_NONE ? -EINVAL : user_move(f, ino, id, t);
	}
	/* A read-only fact: ignored, so that copy tools carrying xattrs
	 * from one tierfs file to another succeed. */
	return 0;
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

/* Bytes the file occupies on the tier it is in: its RAM if it is in RAM,
 * else what the durable tiers hold of it (tier.h stored_bytes). */
static uint64_t stored_bytes(struct fs *f, struct tfs_inode *ino)
{
	uint64_t n = 0;

	if (fs_load_extents(f, ino))
		return 0;
	inode_lock(ino);
	if (ino->resident)
		n = f->tiers[TFS_HOT].ops->stored_bytes(&f->tiers[TFS_HOT],
							ino);
	else
		for (int i = 0; i < TFS_NTIERS; i++)
			if (i != TFS_HOT)
				n += f->tiers[i].ops->stored_bytes(
					&f->tiers[i], ino);
	inode_unlock(ino);
	return n;
}

static void reason_base(int r, uint64_t a0, uint64_t a1, char *out,
			size_t len);

/* Why the file is where it is. A file on its pinned tier says "pinned
 * TIER" (and "by a directory policy" when the pin is not its own);
 * one pinned elsewhere and not there yet says why it is where it is and
 * ", pinned TIER" (the policy brings it back on its next tick). */
static void reason_text(struct fs *f, struct tfs_inode *ino, char *out,
			size_t len)
{
	uint64_t a0, a1;
	int r, pin, tier;
	bool own;
	size_t n;

	inode_lock(ino);
	r = ino->reason;
	a0 = ino->reason_arg[0];
	a1 = ino->reason_arg[1];
	own = ino->attr.pin != TFS_PIN_NONE;
	pin = fs_pin_of(f, ino);
	tier = ino->resident ? TFS_HOT : ino->attr.tier;
	inode_unlock(ino);
	if (pin != TFS_PIN_NONE && pin == tier) {
		snprintf(out, len, "pinned %s%s", tfs_tier_name(pin),
			 own ? "" : " by a directory policy");
		return;
	}
	reason_base(r, a0, a1, out, len);
	n = strlen(out);
	if (pin != TFS_PIN_NONE && pin != tier && n < len)
		snprintf(out + n, len - n, ", pinned %s", tfs_tier_name(pin));
}

static void reason_base(int r, uint64_t a0, uint64_t a1, char *out,
			size_t len)
{
	switch (r) {
	case REASON_WRITTEN:
		snprintf(out, len, "written");
		break;
	case REASON_SETFATTR:
		snprintf(out, len, "setfattr");
		break;
	case REASON_PIN:
		snprintf(out, len, "pinned");
		break;
	case REASON_IDLE:
		snprintf(out, len, "idle %" PRIu64 "s > age %" PRIu64 "s", a0,
			 a1);
		break;
	case REASON_BUDGET:
		snprintf(out, len, "hot budget (LRU)");
		break;
	case REASON_PROMOTED:
		snprintf(out, len, "read %" PRIu64 " times in %" PRIu64 "s",
			 a0, a1);
		break;
	case REASON_RESTORED:
		snprintf(out, len, "hot before remount");
		break;
	default:
		snprintf(out, len, "as found at mount");
		break;
	}
}

static int get_virtual(struct fs *f, struct tfs_inode *ino, int id,
		       void *buf, size_t size)
{
	char v[128];
	uint64_t stored, sz;
	tfs_ns t;
	int pin;

	switch (id) {
	case XA_TIER:
		return put_value(tfs_tier_name(fs_get_tier(f, ino)), buf, size);
	case XA_PIN:
		inode_lock(ino);
		pin = ino->attr.pin;
		inode_unlock(ino);
		return put_value(pin == TFS_PIN_NONE ? "none"
						     : tfs_tier_name(pin),
				 buf, size);
	case XA_STORED:
		snprintf(v, sizeof(v), "%" PRIu64, stored_bytes(f, ino));
		break;
	case XA_RATIO:
		stored = stored_bytes(f, ino);
		inode_lock(ino);
		sz = ino->attr.size;
		inode_unlock(ino);
		snprintf(v, sizeof(v), "%.2f",
			 stored ? (double)sz / (double)stored : 0.0);
		break;
	case XA_ATIME:
		t = atomic_load(&ino->last_access);
		if (t <= 0) {
			snprintf(v, sizeof(v), "never");
		} else {
			time_t sec = (time_t)(t / 1000000000);
			struct tm tm;

			gmtime_r(&sec, &tm);
			strftime(v, sizeof(v), "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		break;
	case XA_ACCESSES:
		snprintf(v, sizeof(v), "%" PRIu64,
			 (uint64_t)atomic_load(&ino->access_count));
		break;
	default:
		reason_text(f, ino, v, sizeof(v));
		break;
	}
	return put_value(v, buf, size);
}

bool fs_xattr_known_absent(struct tfs_inode *ino, const bool *flag,
			   uint64_t *gen)
{
	bool absent;

	inode_lock(ino);
	absent = *flag;
	*gen = ino->xattr_gen;
	inode_unlock(ino);
	return absent;
}

void fs_xattr_note_absent(struct tfs_inode *ino, bool *flag, uint64_t gen)
{
	inode_lock(ino);
	if (ino->xattr_gen == gen)
		*flag = true;
	inode_unlock(ino);
}

/* The kernel asks for security.capability before every write(2) (the
 * connection cannot tell it to cache the answer: that is
 * FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14 does not know), so a file's
 * lack of one is remembered (caps_absent): set for every file created
 * here (fs_ns.c) and after a lookup that found none. */
static int get_caps(struct fs *f, struct tfs_inode *ino, void *buf,
		    size_t size)
{
	uint64_t gen;
	int rc;

	if (fs_xattr_known_absent(ino, &ino->caps_absent, &gen))
		return -ENODATA;
	rc = meta_xattr_get(f->meta, ino->ino, XATTR_CAPS, buf, size);
	if (rc == -ENODATA)
		fs_xattr_note_absent(ino, &ino->caps_absent, gen);
	return rc;
}

int fs_xattr_kill_caps(struct fs *f, struct tfs_inode *ino)
{
	int rc = get_caps(f, ino, NULL, 0);     /* -ENODATA is remembered */

	if (rc == -ENODATA)
		return 0;
	if (rc < 0)
		return rc;
	rc = xattr_store(f, ino, XATTR_CAPS, NULL, 0, 0, NULL, true);
	return rc ? rc : 1;
}

int fs_getxattr(struct fs *f, struct tfs_inode *ino, const char *name,
		void *buf, size_t size)
{
	int id;

	if (ino->kind != INODE_REAL)
		return -ENODATA;
	if (!strcmp(name, XATTR_CAPS))
		return get_caps(f, ino, buf, size);
	if (!strcmp(name, DIRPOL_XATTR))
		return meta_xattr_get(f->meta, ino->ino, name, buf, size);
	if (is_tierfs_name(name)) {
		id = xa_lookup(name);
		if (id < 0 || !is_regular(ino))
			return -ENODATA;
		return get_virtual(f, ino, id, buf, size);
	}
	return meta_xattr_get(f->meta, ino->ino, name, buf, size);
}

int fs_listxattr(struct fs *f, struct tfs_inode *ino, char *buf, size_t size)
{
	struct tfs_config cfg;
	size_t vlen = 0;
	int n;

	if (ino->kind != INODE_REAL)
		return 0;
	fs_get_config(f, &cfg);
	/* Synthetic names are unlisted unless asked for: copy tools would
	 * carry them to other filesystems as real attributes. */
	if (cfg.list_tier_xattrs && is_regular(ino))
		for (int i = 0; i < XA_N; i++)
			vlen += strlen(xa_names[i]) + 1;
	n = meta_xattr_list(f->meta, ino->ino, NULL, 0);
	if (n < 0)
		return n;
	if (size == 0)
		return n + (int)vlen;
	if (size < (size_t)n + vlen)
		return -ERANGE;
	if (vlen) {
		char *p = buf;

		for (int i = 0; i < XA_N; i++) {
			size_t l = strlen(xa_names[i]) + 1;

			memcpy(p, xa_names[i], l);
			p += l;
		}
	}
	n = meta_xattr_list(f->meta, ino->ino, buf + vlen, size - vlen);
	if (n < 0)
		return n;
	return n + (int)vlen;
}

int fs_removexattr(struct fs *f, struct tfs_inode *ino, const char *name)
{
	if (ino->kind != INODE_REAL)
		return -EPERM;
	if (!strcmp(name, DIRPOL_XATTR)) {
		/* back to the policy of the directories above */
		int rc = xattr_store(f, ino, name, NULL, 0, 0, NULL, false);

		if (!rc)
			fs_policy_wake(f);
		return rc;
	}
	if (is_tierfs_name(name)) {
		/* Removing the pin unpins. The others are facts, not data:
		 * removing them changes nothing and succeeds, because rsync -X
		 * removes every attribute its source file does not have. */
		if (xa_lookup(name) == XA_PIN && is_regular(ino))
			return set_pin(f, ino, TFS_PIN_NONE);
		return xa_lookup(name) < 0 ? -ENODATA : 0;
	}
	if (!strncmp(name, "system.", 7) && !(f->acl && is_acl_name(name)))
		return -EOPNOTSUPP;
	return xattr_store(f, ino, name, NULL, 0, 0, NULL, false);
}
