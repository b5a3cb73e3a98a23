/*
 * store.c - see store.h.
 *
 * Opening a store, in this order, so that nothing is written into a
 * directory that turns out not to be ours:
 *   1. create the directory (mkdir -p, 0700) and check it is a directory
 *      we may read, write and search;
 *   2. read FORMAT. Present: its magic and version must match this build.
 *      Absent: the directory is a new store only if it holds no meta.db
 *      (else FORMAT was lost and the store is damaged) and nothing else
 *      we do not know (so `tierfs ~ /mnt` does not scatter files in $HOME);
 *   3. take the flock on STORE/lock (a second daemon gets -EBUSY naming
 *      the holder's pid, which the holder writes into the file). A mount
 *      waits a few seconds for it first: `fusermount3 -u` returns when the
 *      kernel let go, while the old daemon may still be writing back and
 *      closing the store, so a remount right after it would be refused;
 *   4. for a new store write FORMAT durably (temp file, fsync, rename,
 *      fsync dir), then create warm/ and cold/.
 *
 * The lock is an flock() on an open file description: it is held while any
 * descriptor for that description is open, so a fork() to daemonize keeps
 * it in the child (and the parent may exit). Two open()s of STORE/lock in
 * one process are two descriptions, so a second store_open() of the same
 * store in one process conflicts too. After forking, the child calls
 * store_note_pid() so the lock file names the daemon, not its parent.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Names a new store may already hold before its first mount. */
static const char *const store_known_names[] = {
	"lock", "tierfs.conf", "tierfs.log", "warm", "cold", "FORMAT.tmp",
	"lost+found",
};

static __attribute__((format(printf, 3, 4)))
void store_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* mkdir -p with mode for every created component; *created tells whether
 * the last component was created by us. */
static int store_mkdir_p(const char *path, mode_t mode, bool *created)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;
	struct stat st;

	*created = false;
	if (len == 0)
		return -ENOENT;
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if ((buf[i] != '/' && buf[i] != '\0') || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		*created = mkdir(buf, mode) == 0;
		/* An existing directory is fine whatever mkdir says (EEXIST,
		 * or EACCES/EROFS from a parent we cannot write). */
		if (!*created && errno != EEXIST) {
			int rc = -errno;

			if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode))
				return rc;
		}
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

/* Copy s into out with non-printable bytes as '?', at most max bytes. */
static void store_printable(const char *s, size_t n, char *out, size_t max)
{
	size_t i;

	for (i = 0; i < n && i + 1 < max; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

/*
 * Check STORE/FORMAT. Returns 1 if it is absent and the store is new, 0 if
 * it is present and matches, or a negative errno with a message.
 */
static int store_check_format(int dfd, const char *dir, char *err,
			      size_t errlen)
{
	char buf[128], shown[64], magic[64], *end;
	unsigned long version;
	ssize_t n;
	int fd, rc;

	fd = openat(dfd, "FORMAT", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return 1;
		store_err(err, errlen, "cannot read %s/FORMAT: %s", dir,
			  strerror(-rc));
		return rc;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc < 0) {
		store_err(err, errlen, "cannot read %s/FORMAT: %s", dir,
			  strerror(-rc));
		return rc;
	}
	buf[n] = '\0';
	store_printable(buf, strcspn(buf, "\n"), shown, 48);
	if (sscanf(buf, "%63s", magic) != 1 ||
	    strcmp(magic, STORE_FORMAT_MAGIC) != 0) {
		store_err(err, errlen,
			  "%s is not a tierfs store (FORMAT says '%s')", dir,
			  shown);
		return -EPROTO;
	}
	end = buf + strlen(STORE_FORMAT_MAGIC);
	while (*end == ' ' || *end == '\t')
		end++;
	errno = 0;
	version = (*end >= '0' && *end <= '9') ? strtoul(end, &end, 10) : 0;
	if (errno || version == 0 || (*end != '\n' && *end != '\0')) {
		store_err(err, errlen,
			  "%s: damaged FORMAT file (says '%s', expected '%s %d')",
			  dir, shown, STORE_FORMAT_MAGIC, STORE_FORMAT_VERSION);
		return -EPROTO;
	}
	if (version != STORE_FORMAT_VERSION) {
		store_err(err, errlen,
			  "store %s has format version %lu; this tierfs supports version %d%s",
			  dir, version, STORE_FORMAT_VERSION,
			  version > STORE_FORMAT_VERSION ?
				  " (use a newer tierfs)" : "");
		return -EPROTO;
	}
	return 0;
}

/* A store without FORMAT: refuse if it has meta.db (damaged) or entries
 * we did not put there (not a store). */
static int store_check_new(int dfd, const char *dir, char *err,
			   size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;
	size_t i;

	if (faccessat(dfd, "meta.db", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		store_err(err, errlen,
			  "store %s has meta.db but no FORMAT file: damaged store (run tierfs-fsck, or restore FORMAT)",
			  dir);
		return -EPROTO;
	}
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out_errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		goto out_errno;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		for (i = 0; i < sizeof(store_known_names) /
				    sizeof(store_known_names[0]); i++)
			if (strcmp(de->d_name, store_known_names[i]) == 0)
				break;
		if (i == sizeof(store_known_names) /
			     sizeof(store_known_names[0])) {
			store_err(err, errlen,
				  "%s is not empty and has no FORMAT file (found '%s'): not a tierfs store; use an empty or new directory",
				  dir, de->d_name);
			rc = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	return rc;
out_errno:
	rc = -errno;
	store_err(err, errlen, "cannot list %s: %s", dir, strerror(-rc));
	return rc;
}

/* Write STORE/FORMAT durably: temp file, fsync, rename, fsync dir. */
static int store_write_format(int dfd, const char *dir, char *err,
			      size_t errlen)
{
	char line[64];
	int fd, n, rc = 0;

	n = snprintf(line, sizeof(line), "%s %d\n", STORE_FORMAT_MAGIC,
		     STORE_FORMAT_VERSION);
	fd = openat(dfd, "FORMAT.tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0644);
	if (fd < 0) {
		rc = -errno;
		goto out_msg;
	}
	if (write(fd, line, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	else if (fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dfd, "FORMAT.tmp", dfd, "FORMAT") < 0)
		rc = -errno;
	if (rc == 0 && fsync(dfd) < 0 && errno != EINVAL)
		rc = -errno;
	if (rc < 0)
		unlinkat(dfd, "FORMAT.tmp", 0);
out_msg:
	if (rc < 0)
		store_err(err, errlen, "cannot write %s/FORMAT: %s", dir,
			  strerror(-rc));
	return rc;
}

/* Read the pid a lock holder wrote; 0 if unknown. */
static long store_read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int store_note_pid(const struct store *s)
{
	char buf[32];
	int n;

	if (s->lock_fd < 0)
		return -EBADF;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(s->lock_fd, 0) < 0)
		return -errno;
	if (pwrite(s->lock_fd, buf, (size_t)n, 0) != n)
		return errno ? -errno : -EIO;
	return 0;
}

/* How often a waiting store_open_wait() tries the lock again. */
#define STORE_LOCK_POLL_MS 50

static int store_lock(struct store *s, int dfd, unsigned wait_ms, char *err,
		      size_t errlen)
{
	struct timespec start, now, nap = { 0, STORE_LOCK_POLL_MS * 1000000L };
	bool told = false;
	long pid, waited;
	int fd, rc;

	fd = openat(dfd, "lock", O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0) {
		rc = -errno;
		store_err(err, errlen, "cannot open %s/lock: %s", s->dir,
			  strerror(-rc));
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		if (rc == -EINTR)
			continue;
		if (rc != -EWOULDBLOCK) {
			store_err(err, errlen, "cannot lock %s/lock: %s",
				  s->dir, strerror(-rc));
			close(fd);
			return rc;
		}
		pid = store_read_pid(fd);
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited < (long)wait_ms) {
			/* Most likely a daemon still finishing its unmount
			 * (fusermount3 -u returns before it exits). */
			if (!told && pid > 0)
				tfs_info("store %s is locked by tierfs pid %ld;"
					 " waiting up to %u s for it to exit",
					 s->dir, pid, (wait_ms + 999) / 1000);
			told = true;
			nanosleep(&nap, NULL);
			continue;
		}
		if (pid > 0)
			store_err(err, errlen,
				  "store %s is already mounted by another tierfs (pid %ld%s)",
				  s->dir, pid, wait_ms ?
				  ", which did not exit in time" : "");
		else
			store_err(err, errlen,
				  "store %s is already mounted by another tierfs",
				  s->dir);
		close(fd);
		return -EBUSY;
	}
	s->lock_fd = fd;
	rc = store_note_pid(s);
	if (rc < 0)
		tfs_warn("cannot write pid into %s/lock: %s", s->dir,
			 strerror(-rc));
	return 0;
}

static int store_subdir(int dfd, const char *dir, const char *name,
			char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (mkdirat(dfd, name, 0700) == 0)
		return 0;
	rc = -errno;
	if (rc == -EEXIST) {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode))
			return 0;
		rc = -ENOTDIR;
	}
	store_err(err, errlen, "cannot create %s/%s: %s", dir, name,
		  strerror(-rc));
	return rc;
}

int store_open(struct store *s, const char *dir, char *err, size_t errlen)
{
	return store_open_wait(s, dir, 0, err, errlen);
}

int store_open_wait(struct store *s, const char *dir, unsigned wait_ms,
		    char *err, size_t errlen)
{
	bool created = false, is_new;
	char *parent, *slash;
	struct stat st;
	int dfd, rc;

	s->dir = NULL;
	s->lock_fd = -1;
	if (!dir || !*dir) {
		store_err(err, errlen, "empty store path");
		return -EINVAL;
	}
	rc = store_mkdir_p(dir, 0700, &created);
	if (rc < 0) {
		store_err(err, errlen, "cannot create store %s: %s", dir,
			  strerror(-rc));
		return rc;
	}
	if (stat(dir, &st) < 0) {
		rc = -errno;
		store_err(err, errlen, "store %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		store_err(err, errlen, "store %s is not a directory", dir);
		return -ENOTDIR;
	}
	s->dir = realpath(dir, NULL);
	if (!s->dir) {
		rc = -errno;
		store_err(err, errlen, "store %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (faccessat(AT_FDCWD, s->dir, R_OK | W_OK | X_OK, AT_EACCESS) < 0) {
		rc = -errno;
		store_err(err, errlen, "store %s is not writable: %s", s->dir,
			  strerror(-rc));
		goto out_free;
	}
	dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		store_err(err, errlen, "cannot open store %s: %s", s->dir,
			  strerror(-rc));
		goto out_free;
	}
	rc = store_check_format(dfd, s->dir, err, errlen);
	if (rc < 0)
		goto out_close_dir;
	is_new = rc == 1;
	if (is_new) {
		rc = store_check_new(dfd, s->dir, err, errlen);
		if (rc < 0)
			goto out_close_dir;
	}
	rc = store_lock(s, dfd, wait_ms, err, errlen);
	if (rc < 0)
		goto out_close_dir;
	if (is_new) {
		/* Another daemon may have created it before we locked. */
		rc = store_check_format(dfd, s->dir, err, errlen);
		if (rc == 1)
			rc = store_write_format(dfd, s->dir, err, errlen);
		if (rc < 0)
			goto out_unlock;
	}
	rc = store_subdir(dfd, s->dir, "warm", err, errlen);
	if (rc == 0)
		rc = store_subdir(dfd, s->dir, "cold", err, errlen);
	if (rc < 0)
		goto out_unlock;
	if (is_new) {
		if (fsync(dfd) < 0 && errno != EINVAL)
			tfs_warn("fsync %s: %s", s->dir, strerror(errno));
		if (created && (parent = strdup(s->dir))) {
			slash = strrchr(parent, '/');
			if (slash)
				slash[slash == parent] = '\0';
			store_fsync_dir(parent);
			free(parent);
		}
		tfs_info("created store %s", s->dir);
	}
	close(dfd);
	return 0;

out_unlock:
	close(s->lock_fd);
	s->lock_fd = -1;
out_close_dir:
	close(dfd);
out_free:
	free(s->dir);
	s->dir = NULL;
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	free(s->dir);
	s->dir = NULL;
}

/* Absolute, lexically normalised form of path (no ".", "..", "//"). */
static int store_abs_path(const char *path, char *out, size_t outlen)
{
	char cwd[PATH_MAX], tmp[2 * PATH_MAX + 2];
	char *real, *seg, *save;
	size_t len = 0;

	real = realpath(path, NULL);
	if (real) {
		len = strlen(real);
		if (len >= outlen) {
			free(real);
			return -ENAMETOOLONG;
		}
		memcpy(out, real, len + 1);
		free(real);
		return 0;
	}
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(tmp))
			return -ENAMETOOLONG;
		strcpy(tmp, path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path) >=
		    sizeof(tmp))
			return -ENAMETOOLONG;
	}
	if (outlen < 2)
		return -ENAMETOOLONG;
	out[0] = '\0';
	for (seg = strtok_r(tmp, "/", &save); seg;
	     seg = strtok_r(NULL, "/", &save)) {
		size_t sl = strlen(seg);

		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
			continue;
		}
		if (len + 1 + sl >= outlen)
			return -ENAMETOOLONG;
		out[len++] = '/';
		memcpy(out + len, seg, sl + 1);
		len += sl;
	}
	if (len == 0)
		strcpy(out, "/");
	return 0;
}

/* Escape an absolute path as `systemd-escape --path` does. */
static int store_escape_path(const char *abs, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const char *p = abs, *end = abs + strlen(abs);
	size_t o = 0;

	while (*p == '/')
		p++;
	while (end > p && end[-1] == '/')
		end--;
	if (p == end) {
		if (outlen < 2)
			return -ENAMETOOLONG;
		strcpy(out, "-");
		return 0;
	}
	for (; p < end; p++) {
		unsigned char ch = (unsigned char)*p;
		bool plain = (ch >= 'a' && ch <= 'z') ||
			     (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || ch == ':' ||
			     ch == '_' || (ch == '.' && o > 0);

		if (ch == '/' || plain) {
			if (o + 2 > outlen)
				return -ENAMETOOLONG;
			out[o++] = ch == '/' ? '-' : (char)ch;
		} else {
			if (o + 5 > outlen)
				return -ENAMETOOLONG;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int store_default_dir_for(uid_t euid, const char *mountpoint, char *out,
			  size_t outlen)
{
	char abs[PATH_MAX], esc[4 * PATH_MAX];
	const char *xdg, *home;
	int rc, n;

	if (!mountpoint || !*mountpoint)
		return -EINVAL;
	rc = store_abs_path(mountpoint, abs, sizeof(abs));
	if (rc < 0)
		return rc;
	rc = store_escape_path(abs, esc, sizeof(esc));
	if (rc < 0)
		return rc;
	if (euid == 0) {
		n = snprintf(out, outlen, "/var/lib/tierfs/%s", esc);
	} else {
		xdg = getenv("XDG_DATA_HOME");
		home = getenv("HOME");
		/* The XDG spec says a relative XDG_DATA_HOME is ignored. */
		if (xdg && xdg[0] == '/')
			n = snprintf(out, outlen, "%s/tierfs/%s", xdg, esc);
		else if (home && *home)
			n = snprintf(out, outlen, "%s/.local/share/tierfs/%s",
				     home, esc);
		else
			return -ENOENT;
	}
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int store_default_dir(const char *mountpoint, char *out, size_t outlen)
{
	return store_default_dir_for(geteuid(), mountpoint, out, outlen);
}

int store_path(const struct store *s, char *out, size_t outlen,
	       const char *fmt, ...)
{
	va_list ap;
	int n, m;

	if (!s->dir)
		return -EINVAL;
	n = snprintf(out, outlen, "%s/", s->dir);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(out + n, outlen - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= outlen - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

int store_fsync_dir(const char *path)
{
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Some filesystems cannot fsync a directory; that is not an error. */
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

bool store_clean_get(const struct store *s)
{
	char path[PATH_MAX];
	struct stat st;

	if (store_path(s, path, sizeof(path), "clean") < 0)
		return false;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int store_clean_set(const struct store *s, bool clean)
{
	char path[PATH_MAX];
	int fd, rc;

	rc = store_path(s, path, sizeof(path), "clean");
	if (rc < 0)
		return rc;
	if (!clean) {
		if (unlink(path) < 0)
			return errno == ENOENT ? 0 : -errno;
		return store_fsync_dir(s->dir);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc ? rc : store_fsync_dir(s->dir);
}
