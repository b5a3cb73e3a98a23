/*
 * coldra.c - see coldra.h.
 *
 * DESIGN
 *
 * Streams. A direct-mapped table of RA_SLOTS slots, indexed by a hash of
 * (archive, file start), remembers for each recently read file where its
 * last read ended. A read that starts at most RA_BACK before that end (FUSE
 * serves the kernel's read-ahead on several threads, so reads of one
 * sequential stream arrive slightly out of order) and at most RA_GAP after
 * it continues the stream; anything else resets the slot to the new
 * position. Only a stream of RA_STREAK continuing reads queues work, so the
 * first reads of a file, and random reads (which land near the last one
 * now and then), cost only the table update.
 *
 * Jobs. A sequential read queues "from the end of this read, `depth`
 * blocks, not past the file's end", at most once per RA_STEP bytes read.
 * A queued job of the same stream is updated in place rather than queued
 * twice. The queue is a ring of RA_QUEUE jobs; when it is full the job is
 * dropped (counted): read-ahead is an optimisation, the reader decodes what
 * is missing itself.
 *
 * Workers take the oldest job and walk its blocks through the fetch
 * callback. A block already cached or being decoded costs one hash lookup
 * (blkcache_try_claim), so overlapping jobs do not decode twice.
 *
 * Locking: one mutex (ra->lock) guards the table, the ring and the
 * counters; it is never held across the callback.
 */
#include "coldra.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define RA_SLOTS 64
#define RA_QUEUE 32
#define RA_BACK ((uint64_t)1 << 20)
#define RA_GAP ((uint64_t)128 << 10)
#define RA_STREAK 2
#define RA_STEP ((uint64_t)64 << 10)

struct ra_slot {
	uint64_t arc;
	uint64_t file_start;
	uint64_t end;           /* furthest end of its sequential reads */
	uint64_t queued_at;     /* `end` when a job was last queued */
	unsigned streak;        /* continuing reads in a row */
	bool used;
};

struct ra_job {
	uint64_t arc;
	uint64_t file_start;
	uint64_t from;
	uint64_t limit;
};

struct coldra {
	coldra_fetch_fn fetch;
	void *ctx;
	unsigned depth;
	unsigned nworkers;
	pthread_t *workers;

	pthread_mutex_t lock;
	pthread_cond_t more;            /* a job arrived, or stop */
	struct ra_slot slots[RA_SLOTS]; /* protected by lock */
	struct ra_job ring[RA_QUEUE];   /* protected by lock */
	unsigned head, count;           /* protected by lock */
	bool stop;                      /* protected by lock */
	uint64_t jobs, dropped;         /* protected by lock */
};

static unsigned ra_slot_of(uint64_t arc, uint64_t file_start)
{
	uint64_t h = arc * 0x9e3779b97f4a7c15ULL ^ file_start;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (unsigned)(h % RA_SLOTS);
}

static void *ra_worker(void *arg)
{
	struct coldra *ra = arg;

	for (;;) {
		struct ra_job j;
		uint64_t off;

		pthread_mutex_lock(&ra->lock);
		while (!ra->stop && ra->count == 0)
			pthread_cond_wait(&ra->more, &ra->lock);
		if (ra->stop) {
			pthread_mutex_unlock(&ra->lock);
			return NULL;
		}
		j = ra->ring[ra->head];
		ra->head = (ra->head + 1) % RA_QUEUE;
		ra->count--;
		pthread_mutex_unlock(&ra->lock);

		off = j.from;
		for (unsigned n = 0; n < ra->depth && off < j.limit; n++) {
			uint64_t end = ra->fetch(ra->ctx, j.arc, off);

			if (end <= off)
				break;
			off = end;
		}
	}
}

int coldra_start(struct coldra **out, coldra_fetch_fn fetch, void *ctx,
		 unsigned workers, unsigned depth)
{
	struct coldra *ra;
	int rc;

	*out = NULL;
	ra = calloc(1, sizeof(*ra));
	if (!ra)
		return -ENOMEM;
	ra->workers = calloc(workers ? workers : 1, sizeof(*ra->workers));
	if (!ra->workers) {
		free(ra);
		return -ENOMEM;
	}
	ra->fetch = fetch;
	ra->ctx = ctx;
	ra->depth = depth ? depth : 1;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->more, NULL);
	for (unsigned i = 0; i < (workers ? workers : 1); i++) {
		rc = pthread_create(&ra->workers[i], NULL, ra_worker, ra);
		if (rc) {
			coldra_stop(&ra);
			return -rc;
		}
		ra->nworkers++;
	}
	*out = ra;
	return 0;
}

void coldra_stop(struct coldra **rap)
{
	struct coldra *ra = rap ? *rap : NULL;

	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra->stop = true;
	pthread_cond_broadcast(&ra->more);
	pthread_mutex_unlock(&ra->lock);
	for (unsigned i = 0; i < ra->nworkers; i++)
		pthread_join(ra->workers[i], NULL);
	pthread_cond_destroy(&ra->more);
	pthread_mutex_destroy(&ra->lock);
	free(ra->workers);
	free(ra);
	*rap = NULL;
}

/* Caller holds ra->lock. */
static void ra_queue(struct coldra *ra, const struct ra_job *j)
{
	for (unsigned i = 0; i < ra->count; i++) {
		struct ra_job *q = &ra->ring[(ra->head + i) % RA_QUEUE];

		if (q->arc == j->arc && q->file_start == j->file_start) {
			q->from = j->from;      /* not started yet: move it */
			return;
		}
	}
	if (ra->count == RA_QUEUE) {
		ra->dropped++;
		return;
	}
	ra->ring[(ra->head + ra->count) % RA_QUEUE] = *j;
	ra->count++;
	ra->jobs++;
	pthread_cond_signal(&ra->more);
}

void coldra_note(struct coldra *ra, uint64_t arc, uint64_t file_start,
		 uint64_t start, uint64_t end, uint64_t file_end)
{
	struct ra_slot *s;
	bool seq;

	if (!ra || end >= file_end)
		return;
	s = &ra->slots[ra_slot_of(arc, file_start)];
	pthread_mutex_lock(&ra->lock);
	seq = s->used && s->arc == arc && s->file_start == file_start &&
	      start + RA_BACK >= s->end && start <= s->end + RA_GAP;
	if (!seq) {
		*s = (struct ra_slot){
			.arc = arc, .file_start = file_start, .end = end,
			.queued_at = 0, .used = true,
		};
	} else {
		if (end > s->end)
			s->end = end;
		if (s->streak < RA_STREAK)
			s->streak++;
		if (s->streak >= RA_STREAK &&
		    (s->queued_at == 0 || s->end >= s->queued_at + RA_STEP)) {
			struct ra_job j = {
				.arc = arc, .file_start = file_start,
				.from = s->end, .limit = file_end,
			};

			s->queued_at = s->end;
			ra_queue(ra, &j);
		}
	}
	pthread_mutex_unlock(&ra->lock);
}

void coldra_get_stats(struct coldra *ra, struct coldra_stats *out)
{
	pthread_mutex_lock(&ra->lock);
	out->jobs = ra->jobs;
	out->dropped = ra->dropped;
	pthread_mutex_unlock(&ra->lock);
}
