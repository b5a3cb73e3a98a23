/*
 * policy.c - see policy.h. This file holds the thread (its loop, a tick,
 * the wake-up, SIGHUP and inotify on tierfs.conf), the promotion queue and
 * the upcalls the filesystem is given; the rules a tick applies are
 * policy_rules.c's, struct policy is policy_int.h's.
 */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "compact.h"
#include "dirpol.h"
#include "fs_int.h"
#include "log.h"
#include "policy_int.h"

static void wake_with(struct policy *p, bool tick)
{
	uint64_t one = 1;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (tick)
		p->tick_now = true;
	else
		p->compact_now = true;
	pthread_mutex_unlock(&p->lock);
	if (write(p->wake_fd, &one, sizeof(one)) < 0)
		tfs_debug("policy wake: %s", strerror(errno));
}

void policy_wake(struct policy *p)
{
	wake_with(p, true);
}

void policy_wake_compact(struct policy *p)
{
	wake_with(p, false);
}

uint64_t policy_backlog(struct policy *p)
{
	uint64_t n;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	n = p->nqueue;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void policy_queue_promote(struct policy *p, uint64_t ino)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nqueue == p->qcap) {
		size_t cap = p->qcap ? p->qcap * 2 : 64;
		uint64_t *q = realloc(p->queue, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&p->lock);
			return; /* dropped: the next opens queue it again */
		}
		p->queue = q;
		p->qcap = cap;
	}
	p->queue[p->nqueue++] = ino;
	pthread_mutex_unlock(&p->lock);
	policy_wake(p);
}

int policy_dir_pin(struct policy *p, uint64_t ino)
{
	const struct dirpol *d;
	int pin = TFS_PIN_NONE;

	if (!p)
		return pin;
	pthread_mutex_lock(&p->lock);
	d = dirpol_map_get(p->dirpol, ino);
	if (d && (d->has & DIRPOL_PIN))
		pin = d->pin;
	pthread_mutex_unlock(&p->lock);
	return pin;
}

/* ---- configuration reload ---- */

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Did any inotify event name tierfs.conf? */
static bool conf_changed(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *e = (const void *)q;

			if (e->len && !strcmp(e->name, "tierfs.conf"))
				hit = true;
			q += sizeof(*e) + e->len;
		}
	}
	return hit;
}

/* The directory policies as they are now (one query when none is set). */
static void rebuild_dirpol(struct policy *p)
{
	struct dirpol_map *map = NULL, *old;
	int rc = dirpol_map_build(p->fs->meta, &map);

	if (rc) {
		tfs_err("policy: reading directory policies: %s",
			strerror(-rc));
		return;         /* the last map stays */
	}
	pthread_mutex_lock(&p->lock);
	old = p->dirpol;
	p->dirpol = map;
	pthread_mutex_unlock(&p->lock);
	dirpol_map_free(&old);
}

static void tick(struct policy *p)
{
	struct fs *f = p->fs;
	struct tfs_config cfg;
	uint64_t freed = 0;
	tfs_ns now = fs_now();

	fs_get_config(f, &cfg);
	rebuild_dirpol(p);
	policy_promote(p, &cfg);
	policy_hot_aging(p, &cfg, now);
	fs_hot_enforce(f, NULL);
	policy_warm_aging(p, &cfg, now);
	policy_persist_access(p);
	hot_trim(&f->hot);
	compact_run(f, &freed);
	if (freed)
		tfs_info("compaction freed %" PRIu64 " bytes", freed);
}

/* The wake eventfd fired: a tick now (policy_wake), or only the dead
 * pass of compaction (policy_wake_compact). */
static void woken(struct policy *p, tfs_ns *next)
{
	uint64_t freed = 0;
	bool tick, compact;

	pthread_mutex_lock(&p->lock);
	tick = p->tick_now;
	compact = p->compact_now;
	p->tick_now = p->compact_now = false;
	pthread_mutex_unlock(&p->lock);
	if (tick) {
		*next = 0;
	} else if (compact) {
		compact_dead(p->fs, &freed);
		if (freed)
			tfs_info("compaction freed %" PRIu64 " bytes", freed);
	}
}

static void *policy_main(void *arg)
{
	struct policy *p = arg;
	struct fs *f = p->fs;
	struct tfs_config first;
	tfs_ns next = 0;

	fs_get_config(f, &first);
	policy_restore(p, &first);

	for (;;) {
		struct pollfd pfd[3];
		struct tfs_config cfg;
		int nfd = 0, timeout;
		bool reload = false, stop;
		tfs_ns now = fs_now();

		pthread_mutex_lock(&p->lock);
		stop = p->stop;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
		fs_get_config(f, &cfg);
		if (now >= next) {
			tick(p);
			next = fs_now() + (tfs_ns)cfg.interval_ms * 1000000;
		}
		timeout = (int)((next - fs_now()) / 1000000);
		if (timeout < 0)
			timeout = 0;
		pfd[nfd++] = (struct pollfd){ .fd = p->wake_fd,
					      .events = POLLIN };
		if (p->inotify_fd >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = p->inotify_fd,
						      .events = POLLIN };
		if (p->sig_fd >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = p->sig_fd,
						      .events = POLLIN };
		if (poll(pfd, (nfds_t)nfd, timeout) <= 0)
			continue;
		for (int i = 0; i < nfd; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (pfd[i].fd == p->inotify_fd) {
				reload |= conf_changed(p->inotify_fd);
				continue;
			}
			drain(pfd[i].fd);
			if (pfd[i].fd == p->wake_fd)
				woken(p, &next);
			else
				reload = true;  /* SIGHUP */
		}
		if (reload) {
			fs_reload_config(f);
			next = 0;
		}
	}
	return NULL;
}

static void up_queue_promote(void *ctx, uint64_t ino)
{
	policy_queue_promote(ctx, ino);
}

static uint64_t up_backlog(void *ctx)
{
	return policy_backlog(ctx);
}

static int up_dir_pin(void *ctx, uint64_t ino)
{
	return policy_dir_pin(ctx, ino);
}

static void up_wake(void *ctx)
{
	policy_wake(ctx);
}

static void up_compact(void *ctx)
{
	policy_wake_compact(ctx);
}

int policy_start(struct policy **out, struct fs *f)
{
	struct policy *p = calloc(1, sizeof(*p));
	sigset_t hup;
	int rc;

	if (!p)
		return -ENOMEM;
	p->fs = f;
	pthread_mutex_init(&p->lock, NULL);
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->wake_fd < 0) {
		rc = -errno;
		goto out_free;
	}
	p->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->inotify_fd >= 0 &&
	    inotify_add_watch(p->inotify_fd, f->store.dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE |
			      IN_CREATE | IN_ONLYDIR) < 0) {
		tfs_warn("cannot watch %s for tierfs.conf changes: %s",
			 f->store.dir, strerror(errno));
		close(p->inotify_fd);
		p->inotify_fd = -1;
	}
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	p->sig_fd = signalfd(-1, &hup, SFD_NONBLOCK | SFD_CLOEXEC);
	rc = -pthread_create(&p->thread, NULL, policy_main, p);
	if (rc)
		goto out_close;
	fs_set_upcalls(f, &(struct fs_upcalls){
		.ctx = p, .queue_promote = up_queue_promote,
		.backlog = up_backlog, .dir_pin = up_dir_pin, .wake = up_wake,
		.compact = up_compact,
	});
	*out = p;
	return 0;

out_close:
	if (p->sig_fd >= 0)
		close(p->sig_fd);
	if (p->inotify_fd >= 0)
		close(p->inotify_fd);
	close(p->wake_fd);
out_free:
	pthread_mutex_destroy(&p->lock);
	free(p);
	return rc;
}

void policy_stop(struct policy **pp)
{
	struct policy *p = *pp;

	if (!p)
		return;
	fs_set_upcalls(p->fs, NULL);
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_mutex_unlock(&p->lock);
	policy_wake(p);
	pthread_join(p->thread, NULL);
	/* Last save of access times for the next mount. */
	policy_persist_access(p);
	if (p->sig_fd >= 0)
		close(p->sig_fd);
	if (p->inotify_fd >= 0)
		close(p->inotify_fd);
	close(p->wake_fd);
	pthread_mutex_destroy(&p->lock);
	dirpol_map_free(&p->dirpol);
	free(p->queue);
	free(p);
	*pp = NULL;
}
