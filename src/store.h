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
 * writable), -EPROTO (FORMAT of another version or not a tierfs store, or
 * meta.db without FORMAT: a damaged store), -ENOTEMPTY (no FORMAT and
 * files that are not a store's: refusing to turn e.g. $HOME into a store),
 * -EBUSY (mounted by another daemon).
 *
 * The lock is an flock() on the open file description of lock_fd, so it
 * survives fork(): main may store_open() before daemonizing; the child
 * keeps the lock when the parent exits, and should then call
 * store_note_pid() so the lock file names the daemon's pid.
 */
#ifndef TIERFS_STORE_H
#define TIERFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define STORE_FORMAT_MAGIC "tierfs-store"
#define STORE_FORMAT_VERSION 1

struct store {
	char *dir;      /* absolute path, malloc'd */
	int lock_fd;    /* flock'ed STORE/lock, -1 when closed */
};

int store_open(struct store *s, const char *dir, char *err, size_t errlen);
/* The same, but if another process holds the lock, try again for up to
 * wait_ms (a daemon still finishing its unmount) before -EBUSY; the
 * message names the holder's pid. */
int store_open_wait(struct store *s, const char *dir, unsigned wait_ms,
		    char *err, size_t errlen);
/* How long a mount waits for the previous daemon's lock. */
#define STORE_MOUNT_WAIT_MS 10000
/* Release the lock, free; tolerates a half-open store (initialise with
 * `struct store s = { .lock_fd = -1 };`). */
void store_close(struct store *s);
/* Write getpid() into STORE/lock (store_open does it; call again in the
 * child after a daemonizing fork). 0, -EBADF if not open, or -errno. */
int store_note_pid(const struct store *s);

/* The default store for a mountpoint: /var/lib/tierfs/<escaped> for root,
 * $XDG_DATA_HOME/tierfs/<escaped> (or ~/.local/share/...) otherwise, where
 * <escaped> is the absolute mountpoint path escaped as systemd does
 * ("/mnt/tiers" -> "mnt-tiers"). */
int store_default_dir(const char *mountpoint, char *out, size_t outlen);
/* The same for a given effective uid (store_default_dir passes geteuid());
 * -ENOENT if a non-root uid has neither XDG_DATA_HOME nor HOME,
 * -ENAMETOOLONG if the result does not fit. */
int store_default_dir_for(uid_t euid, const char *mountpoint, char *out,
			  size_t outlen);

/* snprintf a path under the store; -ENAMETOOLONG if it does not fit. */
int store_path(const struct store *s, char *out, size_t outlen,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* fsync a directory by path. */
int store_fsync_dir(const char *path);

/* The clean-stop marker, STORE/clean: an empty file a daemon writes
 * (durably: file and directory fsynced) as the very last step of a clean
 * unmount, after meta.db is closed, and that the next mount removes
 * (durably) before it changes anything. Its absence means the last daemon
 * did not stop cleanly (killed, crashed, power lost, or a mount that
 * never finished), so the mount checks meta.db in full before using it.
 * store_clean_get: is the marker there (false on any error). */
bool store_clean_get(const struct store *s);
/* Write (clean) or remove (!clean) the marker, durably: 0 or -errno. */
int store_clean_set(const struct store *s, bool clean);

#endif
