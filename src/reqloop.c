/*
 * reqloop.c - the daemon's FUSE request loop (see reqloop.h).
 *
 * WHY NOT LIBFUSE'S LOOP. fuse_session_loop_mt() keeps every idle worker
 * blocked in read(2) of /dev/fuse. The kernel queues those readers in
 * order and hands each request to the one that has waited longest, so a
 * program that sends one request after another (a 3 KiB create is LOOKUP,
 * CREATE, WRITE and a GETATTR of the directory, each waiting for the
 * answer to the one before; fuse_ops.c) is served by a different thread every
 * time, and a woken thread runs where it ran last if that CPU is idle:
 * often the other CPU. On the 2-vCPU VM this was measured on, a request
 * that crosses CPUs costs some 50 us more (waking an idle vCPU), and
 * libfuse's loop made 4.1-4.5k 3 KiB creates/s where one thread (-s) made
 * 5.1-5.6k; with the program and the daemon pinned to one CPU 7.2-7.6k,
 * pinned to different CPUs 1.5k.
 *
 * HOW. At most one worker reads the device at a time (`reading`); the
 * others wait on a condition variable. The worker that took a quick
 * request (lookups, attributes, a create, a write of up to a chunk...:
 * quick()) answers it and then reads again, so a sequential program keeps
 * meeting the same thread, which the scheduler leaves on that program's
 * CPU. A request that may take long (a READ over 128 KiB, a big WRITE,
 * fsync, rename, readdir, an xattr that moves a file...) first calls
 * another worker to read (waking an idle one or starting one, up to
 * max_threads), so concurrent requests are served as before. A quick
 * request can still block (a WRITE waits for the file's I/O lock while a
 * migration holds it, a LOOKUP reads meta.db from disk, a small READ
 * decodes a cold block): the watchdog thread looks every
 * tick (2 ms) while requests come, and when a request is being answered,
 * nobody reads and no request was taken during the whole tick, it calls
 * another reader. So a slow request holds the others up by at most two
 * ticks; with nothing to do for 50 ticks the watchdog sleeps until the
 * next quick request.
 *
 * Locks: lp->lock protects every field marked so; it is never held
 * across a read of the device or a request's handler. Cancellation is
 * enabled only around the read (the only place a worker can wait for
 * ever), as in libfuse, so a cancelled worker holds nothing.
 *
 * Shutdown: unmount ends the read with ENODEV (libfuse then marks the
 * session exited and returns 0); a signal handler marks it exited and
 * interrupts the main thread's sem_wait (the workers block the signals).
 * The main thread then stops everything: exit flag, broadcast, cancel the
 * workers still reading, join.
 */
#include "reqloop.h"

#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* The watchdog's tick while requests come, and how many quiet ticks it
 * waits before it sleeps. */
#define REQLOOP_TICK_NS (2 * 1000 * 1000L)
#define REQLOOP_QUIET_TICKS 50
/* A WRITE up to this many bytes of data (one chunk) is quick, and so is
 * a READ of up to this many (a random read, the kernel's read-ahead
 * steps): answered from RAM or one warm record, or from one cold block,
 * which the watchdog covers when it must be decoded. */
#define REQLOOP_QUICK_WRITE (64 * 1024)
#define REQLOOP_QUICK_READ (128 * 1024)

struct reqloop;

struct worker {
	pthread_t tid;
	bool started;           /* tid is valid (join it) */
	struct reqloop *lp;
	struct fuse_buf buf;    /* this worker's; its mem is malloc'd by
				   libfuse at the first read */
};

struct reqloop {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t idle;    /* idle workers wait here */
	pthread_cond_t watch;   /* the watchdog's tick and sleep */
	sem_t finish;           /* posted when a worker ends the loop */
	unsigned max;           /* size of w[] */
	struct worker *w;       /* protected by lock: w[0..nworkers) */
	unsigned nworkers;      /* protected by lock */
	unsigned nidle;         /* protected by lock: waiting on idle */
	bool reading;           /* protected by lock: a worker is reading */
	unsigned busy;          /* protected by lock: requests in handlers */
	uint64_t taken;         /* protected by lock: requests read so far */
	bool watch_asleep;      /* protected by lock */
	bool exit;              /* protected by lock */
	int error;              /* protected by lock: first read error */
};

/* Requests answered from memory or by one small commit: the reader
 * answers them itself. Anything else first calls another reader. */
static bool quick(const struct fuse_buf *b)
{
	const struct fuse_in_header *in = b->mem;

	if ((b->flags & FUSE_BUF_IS_FD) || b->size < sizeof(*in))
		return false;
	switch (in->opcode) {
	case FUSE_LOOKUP:
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_GETATTR:
	case FUSE_GETXATTR:
	case FUSE_ACCESS:
	case FUSE_MKNOD:
	case FUSE_OPEN:
	case FUSE_CREATE:
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_INTERRUPT:
	case FUSE_STATFS:
		return true;
	case FUSE_WRITE:
		return in->len <= sizeof(*in) + sizeof(struct fuse_write_in) +
					  REQLOOP_QUICK_WRITE;
	case FUSE_READ: {
		const struct fuse_read_in *r = (const void *)(in + 1);

		return b->size >= sizeof(*in) + sizeof(*r) &&
		       r->size <= REQLOOP_QUICK_READ;
	}
	default:
		return false;
	}
}

/* Start a thread with the stop signals blocked: they go to the main
 * thread (its sem_wait), as in libfuse. 0 or -errno. */
static int start_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	sigset_t block, old;
	int r;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	r = pthread_create(tid, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

static void *worker_main(void *arg);

/* Start one more worker; lp->lock held. 0 or -errno. */
static int start_worker(struct reqloop *lp)
{
	struct worker *w;
	int r;

	if (lp->nworkers >= lp->max)
		return -EAGAIN;
	w = &lp->w[lp->nworkers];
	memset(w, 0, sizeof(*w));
	w->lp = lp;
	r = start_thread(&w->tid, worker_main, w);
	if (r)
		return r;
	w->started = true;
	lp->nworkers++;
	return 0;
}

/* Make sure someone reads soon: wake an idle worker, or start one.
 * lp->lock held. */
static void want_reader(struct reqloop *lp)
{
	int r;

	if (lp->reading || lp->exit)
		return;
	if (lp->nidle > 0) {
		pthread_cond_signal(&lp->idle);
		return;
	}
	r = start_worker(lp);
	if (r && r != -EAGAIN)
		tfs_warn("request loop: cannot start a worker: %s",
			 strerror(-r));
}

/* The loop ends (unmount or a read error); lp->lock held. */
static void end_loop(struct reqloop *lp, int err)
{
	if (err && !lp->error)
		lp->error = err;
	if (!lp->exit) {
		lp->exit = true;
		pthread_cond_broadcast(&lp->idle);
		pthread_cond_signal(&lp->watch);
	}
	fuse_session_exit(lp->se);
	sem_post(&lp->finish);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct reqloop *lp = w->lp;
	int res;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&lp->lock);
	while (!lp->exit) {
		if (lp->reading) {
			lp->nidle++;
			pthread_cond_wait(&lp->idle, &lp->lock);
			lp->nidle--;
			continue;
		}
		lp->reading = true;
		pthread_mutex_unlock(&lp->lock);

		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(lp->se, &w->buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);

		pthread_mutex_lock(&lp->lock);
		lp->reading = false;
		if (fuse_session_exited(lp->se)) {
			end_loop(lp, 0);
			break;
		}
		if (res == -EINTR || res == -EAGAIN)
			continue;
		if (res <= 0) {
			end_loop(lp, res);
			break;
		}
		lp->taken++;
		if (!quick(&w->buf)) {
			want_reader(lp);
		} else if (lp->watch_asleep) {
			lp->watch_asleep = false;
			pthread_cond_signal(&lp->watch);
		}
		lp->busy++;
		pthread_mutex_unlock(&lp->lock);

		fuse_session_process_buf(lp->se, &w->buf);

		pthread_mutex_lock(&lp->lock);
		lp->busy--;
	}
	pthread_mutex_unlock(&lp->lock);
	return NULL;
}

static void *watchdog_main(void *arg)
{
	struct reqloop *lp = arg;
	unsigned quiet = 0;
	uint64_t last;

	pthread_mutex_lock(&lp->lock);
	last = lp->taken;
	while (!lp->exit) {
		struct timespec t;

		if (quiet >= REQLOOP_QUIET_TICKS) {
			lp->watch_asleep = true;
			while (lp->watch_asleep && !lp->exit)
				pthread_cond_wait(&lp->watch, &lp->lock);
			quiet = 0;
			last = lp->taken;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += REQLOOP_TICK_NS;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&lp->watch, &lp->lock, &t);
		if (lp->taken != last) {
			last = lp->taken;
			quiet = 0;
			continue;
		}
		quiet++;
		/* A request has been in a handler for a whole tick and
		 * nobody reads: the next ones wait for it. */
		if (lp->busy > 0 && !lp->reading)
			want_reader(lp);
	}
	pthread_mutex_unlock(&lp->lock);
	return NULL;
}

int reqloop_run(struct fuse_session *se, unsigned max_threads)
{
	struct reqloop lp;
	pthread_condattr_t ca;
	pthread_t watchdog;
	bool have_watchdog = false;
	int r;

	memset(&lp, 0, sizeof(lp));
	lp.se = se;
	lp.max = max_threads ? max_threads : 1;
	lp.w = calloc(lp.max, sizeof(*lp.w));
	if (!lp.w)
		return -ENOMEM;
	pthread_mutex_init(&lp.lock, NULL);
	pthread_cond_init(&lp.idle, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lp.watch, &ca);
	pthread_condattr_destroy(&ca);
	sem_init(&lp.finish, 0, 0);

	pthread_mutex_lock(&lp.lock);
	r = start_worker(&lp);
	pthread_mutex_unlock(&lp.lock);
	if (r)
		goto out_stop;
	r = start_thread(&watchdog, watchdog_main, &lp);
	if (r)
		goto out_stop;
	have_watchdog = true;

	/* A signal interrupts sem_wait (libfuse's handlers do not restart)
	 * after marking the session exited. */
	while (!fuse_session_exited(se))
		sem_wait(&lp.finish);

out_stop:
	pthread_mutex_lock(&lp.lock);
	lp.exit = true;
	pthread_cond_broadcast(&lp.idle);
	pthread_cond_signal(&lp.watch);
	if (!r)
		r = lp.error;
	pthread_mutex_unlock(&lp.lock);
	/* No worker starts once exit is set; the ones still reading are
	 * cancelled there (the only place cancellation is enabled). */
	for (unsigned i = 0; i < lp.max; i++)
		if (lp.w[i].started)
			pthread_cancel(lp.w[i].tid);
	for (unsigned i = 0; i < lp.max; i++) {
		if (!lp.w[i].started)
			continue;
		pthread_join(lp.w[i].tid, NULL);
		free(lp.w[i].buf.mem);
	}
	if (have_watchdog)
		pthread_join(watchdog, NULL);
	sem_destroy(&lp.finish);
	pthread_cond_destroy(&lp.watch);
	pthread_cond_destroy(&lp.idle);
	pthread_mutex_destroy(&lp.lock);
	free(lp.w);
	fuse_session_reset(se);
	return r;
}
