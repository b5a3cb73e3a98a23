/*
 * store.h - the store directory: its FORMAT marker, its lock, its layout.
 *
 * What it is: opening a STORE/ directory for a daemon: create it (and
 * warm/, cold/) on first use, check it is a writable directory, check or
 * write STORE/FORMAT (magic + version; a mismatch is refused), and take an
 * exclusive flock on STORE/lock so that a second daemon cannot mount the
 * same store. Also the default store path for a mountpoint and small
 * durable-file helpers.
 * What it is not: the owner of anything inside warm/ or cold/ or meta.db.
 *
 * Errors: 0 or negative errno, with a one-line human message in err:
 * -ENOENT (missing and not creatable), -ENOTDIR, -EACCES/-EROFS (not
 * writable), -EPROTO (FORMAT of another version or not a tierfs store),
 * -EBUSY (mounted by another daemon).
 */
#ifndef TIERFS_STORE_H
#define TIERFS_STORE_H

#include <stddef.h>

#define STORE_FORMAT_MAGIC "tierfs-store"
#define STORE_FORMAT_VERSION 1

struct store {
	char *dir;      /* absolute path, malloc'd */
	int lock_fd;    /* flock'ed STORE/lock, -1 when closed */
};

int store_open(struct store *s, const char *dir, char *err, size_t errlen);
/* Release the lock, free; tolerates a half-open store. */
void store_close(struct store *s);

/* The default store for a mountpoint: /var/lib/tierfs/<escaped> for root,
 * $XDG_DATA_HOME/tierfs/<escaped> (or ~/.local/share/...) otherwise, where
 * <escaped> is the absolute mountpoint path escaped as systemd does
 * ("/mnt/tiers" -> "mnt-tiers"). */
int store_default_dir(const char *mountpoint, char *out, size_t outlen);

/* snprintf a path under the store; -ENAMETOOLONG if it does not fit. */
int store_path(const struct store *s, char *out, size_t outlen,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* fsync a directory by path. */
int store_fsync_dir(const char *path);

#endif
