/*
 * fs_replace.c - rewrites in place published whole: a file truncated to 0
 * and written again (O_TRUNC, ": > file") reads, after a crash at any
 * moment, as its complete old content or its complete new one.
 *
 * REPLACING A FILE. A program that rewrites a file in place opens it with
 * O_TRUNC and writes the new content; a crash between the two must not
 * leave the file empty or half written (ext4 does the same at close with
 * auto_da_alloc). So a truncation to 0 of a file with content starts a
 * pending rewrite (fs_truncate): the file reads as empty at once and takes
 * the new writes, every WRITE is still made durable before its reply
 * (records in the warm segments, as always, so a huge rewrite holds no
 * more RAM than any write), but its extents are committed as shadow
 * extents (meta.h META_SHADOW) while meta keeps the old size, extents and
 * cold copy. Publishing swaps them in one transaction: the old extents and
 * cold row go, the shadows become the file's extents, the new size and
 * times are written.
 *
 * When. Under zero-message open the daemon is not told of a close, so the
 * replacer thread (below) looks every FS_REPLACE_POLL_NS whether the thread
 * that last wrote the file still has it open (/proc/PID/fdinfo,
 * writer_holds): a rewrite is published within milliseconds of its
 * writer's close (once the writer is known to have held the file: it
 * wrote after the truncation or was seen holding it), and at once when
 * the writer exits (wait_exits polls a
 * pidfd per writer between passes). Also when that thread changes another file or
 * the namespace (fs_replace_note: it has moved on, as a copy or a script's
 * loop does), or when it has quiesced: no WRITE or truncation for
 * FS_REPLACE_QUIET_NS (a writer that keeps the file open and pauses, or
 * one whose descriptors cannot be read); at once by fsync(2), by the next O_TRUNC of the same file
 * (the previous rewrite was closed: a program rewriting a file again and
 * again publishes each version), by a user's move to another tier, a hole
 * punch, and at unmount. A program that rewrites two files at once
 * through one thread, interleaving their writes, has each published early
 * (a crash then may show one partly written). A writer that
 * is killed mid-rewrite leaves its partial content, published once its
 * exit is seen, as ext4 leaves what a killed process wrote; a daemon that
 * dies first leaves the old content (mount-time recovery drops the
 * shadows, fs_mount.c).
 *
 * Meanwhile stat shows the new size; reads see the new bytes (the extent
 * map in memory holds the shadows); the policy's cold demotion and archive
 * rewrites skip the file (fs_cold.c); budget eviction and warm/hot moves
 * work as usual, since they keep the shadow state.
 *
 * Lock order: the pending list's replace_lock is a leaf; an inode's
 * replace_* fields are under ino->lock; publishing holds ino->io.
 */
#include "fs_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int fs_replace_queue(struct fs *f, struct tfs_inode *ino)
{
	int rc = 0;

	pthread_mutex_lock(&f->replace_lock);
	if (f->nreplace == f->replace_cap) {
		size_t cap = f->replace_cap ? f->replace_cap * 2 : 16;
		struct fs_replace_entry *v = realloc(f->replace,
						     cap * sizeof(*v));

		if (!v)
			rc = -ENOMEM;
		else {
			f->replace = v;
			f->replace_cap = cap;
		}
	}
	if (!rc) {
		f->replace[f->nreplace++] = (struct fs_replace_entry){
			.ino = ino,
		};
		atomic_store(&f->replace_count, f->nreplace);
		pthread_cond_signal(&f->replace_cond);
	}
	pthread_mutex_unlock(&f->replace_lock);
	if (!rc)
		fs_iref(f, ino);
	return rc;
}

int fs_replace_publish(struct fs *f, struct tfs_inode *ino)
{
	struct meta_inode attr;
	uint64_t version;
	bool pending;
	int rc;

	inode_lock(ino);
	pending = ino->replace_since != 0;
	inode_unlock(ino);
	if (!pending)
		return 0;
	/* Chunks still dirty become shadows first. */
	rc = fs_writeback(f, ino, false);
	if (rc)
		return rc;
	inode_lock(ino);
	attr = ino->attr;
	attr.last_access = atomic_load(&ino->last_access);
	attr.access_count = atomic_load(&ino->access_count);
	version = ino->data_version;
	inode_unlock(ino);

	rc = meta_begin(f->meta);
	if (rc)
		return rc;
	rc = meta_extent_publish(f->meta, ino->ino);
	if (!rc)
		rc = meta_cold_clear(f->meta, ino->ino);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc)
		rc = meta_inode_update(f->meta, &attr);
	rc = meta_finish(f->meta, rc);
	if (rc) {
		tfs_err("inode %" PRIu64 ": rewrite not published: %s",
			ino->ino, strerror(-rc));
		return rc;
	}
	inode_lock(ino);
	ino->replace_since = 0;
	/* The old cold copy is gone; the new content never had one. */
	ino->has_cold = false;
	ino->cold = (struct meta_cold){ 0 };
	if (ino->data_version == version && ino->ndirty == 0)
		ino->meta_dirty = false;
	inode_unlock(ino);
	return 0;
}

int fs_replace_publish_now(struct fs *f, struct tfs_inode *ino)
{
	int rc;

	inode_io_lock(ino);
	rc = fs_replace_publish(f, ino);
	inode_io_unlock(ino);
	return rc;
}

/*
 * The close the daemon is not told of, seen: whether thread `pid` (the one
 * that last wrote the file) still has a descriptor open on inode `ino`,
 * from /proc/PID/fdinfo (its "ino:" lines; no request to this mount). A
 * writer that closed it, or exited, is done: its rewrite is published at
 * the replacer's next pass (milliseconds), not a quiet second later. When
 * it cannot be told (no such lines on an old kernel, another user's
 * process, an inode number that some other file of the writer shares) the
 * answer is "still open": the quiet timer decides, as before.
 */
enum holder { HOLDS, CLOSED, GONE };

static enum holder writer_holds(uint32_t pid, uint64_t ino)
{
	char path[64];
	bool known = false, holds = false;
	unsigned fds = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/fdinfo", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT || errno == ESRCH ? GONE : HOLDS;
	while (!holds && (de = readdir(d))) {
		char buf[512];
		const char *p;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fds++;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		p = strstr(buf, "\nino:");
		if (!p)
			continue;
		known = true;
		holds = strtoull(p + 5, NULL, 10) == ino;
	}
	closedir(d);
	if (!fds)
		return GONE;    /* exited (a zombie has no descriptors) */
	return holds || !known ? HOLDS : CLOSED;
}

/* Publish the rewrites that are due (all of them with `all`); returns the
 * time the next one falls due, or 0 if none is pending. */
static tfs_ns replace_pass(struct fs *f, bool all)
{
	tfs_ns next = 0;

	for (size_t i = 0;;) {
		struct tfs_inode *ino;
		tfs_ns since, last, seen, now = fs_now();
		bool done, due, closed;
		uint32_t pid;
		int rc = 0;

		pthread_mutex_lock(&f->replace_lock);
		if (i >= f->nreplace) {
			pthread_mutex_unlock(&f->replace_lock);
			return next;
		}
		ino = f->replace[i].ino;
		due = f->replace[i].due;
		pid = f->replace[i].pid;
		seen = f->replace[i].seen;
		pthread_mutex_unlock(&f->replace_lock);

		inode_lock(ino);
		since = ino->replace_since;
		last = ino->replace_last;
		inode_unlock(ino);
		/* A descriptor not held counts as a close only once the
		 * writer is known to have had one for this rewrite: it wrote
		 * after the truncation (a WRITE comes through an open file),
		 * or a pass saw it holding the file. An open with O_TRUNC
		 * sends the truncation before it installs its descriptor, and
		 * under load that gap is longer than any fixed grace: taken
		 * for a close, it published the empty file and left the
		 * writes after it unprotected (test_replace.sh, 3 of 6 runs at
		 * load 8). A truncation no write follows is published by the
		 * quiet timer, as documented. */
		closed = false;
		if (since && !due && pid && !all) {
			enum holder h = writer_holds(pid, ino->ino);

			if (h == HOLDS && seen != since) {
				pthread_mutex_lock(&f->replace_lock);
				f->replace[i].seen = since;     /* slot i is ino */
				pthread_mutex_unlock(&f->replace_lock);
				seen = since;
			}
			closed = h == GONE ||
				 (h == CLOSED && (last > since || seen == since) &&
				  now - last >= FS_REPLACE_POLL_NS / 2);
		}
		if (closed) {
			/* Seen closed after `since` was read: publish only
			 * that rewrite (the writer may have started the next
			 * one meanwhile, with the next O_TRUNC). */
			inode_io_lock(ino);
			inode_lock(ino);
			closed = ino->replace_since == since;
			inode_unlock(ino);
			if (closed)
				rc = fs_replace_publish(f, ino);
			inode_io_unlock(ino);
		} else if (since &&
			   (all || due || now - last >= FS_REPLACE_QUIET_NS)) {
			rc = fs_replace_publish_now(f, ino);
			if (rc && all)
				tfs_err("inode %" PRIu64 ": the old content "
					"stays (the rewrite could not be "
					"published)", ino->ino);
		}
		/* Leave the list when nothing is pending (a new truncation
		 * queues the file again), or at unmount whatever happened. */
		inode_lock(ino);
		done = ino->replace_since == 0 || all;
		if (done)
			ino->replace_queued = false;
		else if (!next || ino->replace_last + FS_REPLACE_QUIET_NS < next)
			next = ino->replace_last + FS_REPLACE_QUIET_NS;
		inode_unlock(ino);
		if (!done) {
			if (rc)         /* retry in a while, not at once */
				next = now + FS_REPLACE_QUIET_NS;
			i++;
			continue;
		}
		/* Only this thread (or the unmount, after it stopped) removes
		 * entries: slot i is still ino. */
		pthread_mutex_lock(&f->replace_lock);
		f->replace[i] = f->replace[--f->nreplace];
		atomic_store(&f->replace_count, f->nreplace);
		pthread_mutex_unlock(&f->replace_lock);
		fs_iput(f, ino);
	}
}

/*
 * The close the daemon is not told of, guessed: a thread that rewrote a
 * file and now changes another one (or the namespace) has most likely
 * closed the first, as cp, tar, rsync and a script's loop do. Its pending
 * rewrite is marked due and the replacer publishes it at once. Only
 * pointers and numbers are compared under the leaf lock.
 */
void fs_replace_note(struct fs *f, uint32_t pid, struct tfs_inode *ino)
{
	bool wake = false;

	if (!atomic_load_explicit(&f->replace_count, memory_order_relaxed) ||
	    !pid)
		return;
	pthread_mutex_lock(&f->replace_lock);
	for (size_t i = 0; i < f->nreplace; i++) {
		struct fs_replace_entry *e = &f->replace[i];

		if (e->ino == ino) {
			e->pid = pid;
			e->due = false;
		} else if (e->pid == pid && !e->due) {
			e->due = true;
			wake = true;
		}
	}
	if (wake)
		pthread_cond_signal(&f->replace_cond);
	pthread_mutex_unlock(&f->replace_lock);
}

void fs_replace_commit(struct fs *f, bool all)
{
	replace_pass(f, all);
}

/* Called and returning with replace_lock held: when pending rewrites have
 * writers, wait up to FS_REPLACE_POLL_NS for one of them to exit (a pidfd
 * is readable at once when its process has exited and closed its files),
 * so a writer that exits is seen at once rather than at the next pass.
 * false when there is no writer to wait on (the caller waits on the
 * condition instead). */
static bool wait_exits(struct fs *f)
{
	struct pollfd pfd[8];
	uint32_t pids[8];
	size_t n = 0;

	for (size_t i = 0; i < f->nreplace && n < 8; i++) {
		uint32_t pid = f->replace[i].pid;
		size_t j = 0;

		while (j < n && pids[j] != pid)
			j++;
		if (pid && j == n)
			pids[n++] = pid;
	}
	if (!n)
		return false;
	pthread_mutex_unlock(&f->replace_lock);
	for (size_t i = 0; i < n; i++) {
		pfd[i].fd = (int)syscall(SYS_pidfd_open, (pid_t)pids[i], 0);
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	/* fds < 0 (gone already, or no pidfd on this kernel) are skipped by
	 * poll; the pass after it sees a gone writer anyway */
	poll(pfd, n, (int)(FS_REPLACE_POLL_NS / 1000000));
	for (size_t i = 0; i < n; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	pthread_mutex_lock(&f->replace_lock);
	return true;
}

/* The replacer: sleeps until the first pending rewrite falls due. */
static void *replace_main(void *arg)
{
	struct fs *f = arg;

	pthread_mutex_lock(&f->replace_lock);
	while (!f->replace_stop) {
		struct timespec ts;
		tfs_ns next, wait;

		if (!f->nreplace) {
			pthread_cond_wait(&f->replace_cond, &f->replace_lock);
			continue;
		}
		pthread_mutex_unlock(&f->replace_lock);
		next = replace_pass(f, false);
		pthread_mutex_lock(&f->replace_lock);
		if (f->replace_stop || !next)
			continue;
		if (wait_exits(f))
			continue;
		wait = next - fs_now();
		/* Every few milliseconds while rewrites are pending: a pass
		 * sees a writer's close (writer_holds) that soon. */
		if (wait > FS_REPLACE_POLL_NS)
			wait = FS_REPLACE_POLL_NS;
		if (wait < FS_REPLACE_POLL_NS / 2)
			wait = FS_REPLACE_POLL_NS / 2;
		if (wait > FS_REPLACE_QUIET_NS)
			wait = FS_REPLACE_QUIET_NS;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait / 1000000000LL;
		ts.tv_nsec += wait % 1000000000LL;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->replace_cond, &f->replace_lock, &ts);
	}
	pthread_mutex_unlock(&f->replace_lock);
	return NULL;
}

int fs_replace_init(struct fs *f)
{
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&f->replace_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&f->replace_cond, &ca);
	pthread_condattr_destroy(&ca);
	return -rc;
}

int fs_replace_start(struct fs *f)
{
	int rc = pthread_create(&f->replace_thread, NULL, replace_main, f);

	if (rc)
		return -rc;
	f->replace_running = true;
	return 0;
}

void fs_replace_stop(struct fs *f)
{
	if (!f->replace_running)
		return;
	pthread_mutex_lock(&f->replace_lock);
	f->replace_stop = true;
	pthread_cond_signal(&f->replace_cond);
	pthread_mutex_unlock(&f->replace_lock);
	pthread_join(f->replace_thread, NULL);
	f->replace_running = false;
}

void fs_replace_destroy(struct fs *f)
{
	pthread_cond_destroy(&f->replace_cond);
	pthread_mutex_destroy(&f->replace_lock);
	free(f->replace);
	f->replace = NULL;
}
