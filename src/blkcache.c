/*
 * blkcache.c - see blkcache.h.
 *
 * DESIGN
 *
 * The map is split into BLKCACHE_SHARDS shards chosen by a hash of
 * (arc, block). Each shard has its own mutex, a chained hash table and an
 * LRU list (head = most recently used). The byte bound is global: `bytes`
 * is an atomic sum over all shards, and whoever pushes it over `capacity`
 * evicts until it is back under.
 *
 * Global LRU without a global lock: every get or insert stamps the entry
 * with a tick from one atomic counter, so each shard's list is ordered by
 * tick and the globally least recently used entry is the oldest of the
 * shards' list tails. Eviction peeks at the 16 tails one shard lock at a
 * time, then locks the shard with the oldest and unlinks its tail (if the
 * tail changed in between, the new tail is still old: good enough). No code
 * ever holds two shard locks, so there is no lock order to keep.
 *
 * Lifetime: the map holds one reference to each entry it contains, and each
 * pinned user holds one. Eviction only removes the map's reference, so a
 * pinned entry stays readable; whoever drops the last reference frees it.
 * References are atomic so that blkcache_put() needs no lock (an entry in
 * the map has at least the map's reference, so taking one more under the
 * shard lock is always safe).
 *
 * Buffers: a block buffer of BLKCACHE_MAP_MIN or more is its own mapping,
 * populated when made. A freed one goes to a small pool (BLKCACHE_POOL
 * buffers, BLKCACHE_POOL_BYTES at most) that the next allocation of the
 * same size takes from: in a sequential cold read every new block evicts
 * an old one, and an munmap per block cost a TLB shootdown on every CPU
 * running the daemon plus a fresh populate (together ~37 % of the
 * daemon's time reading a stored archive, perf, 2 vCPUs). The pool is a
 * stack of free buffers linked through their own first bytes.
 *
 * Warm buffers: on this project's VMs (page tables shadowed by the
 * host) the first store to each page of a fresh mapping traps to the
 * host even though MAP_POPULATE mapped it: 3.5-5.5 us a page, 0.11-0.18
 * ms of a 128 KiB block decoded into a new buffer, the decode itself
 * then as fast as into a reused one (measured: per-block decode 1.65-2.0
 * ms into a fresh buffer against 1.50-1.57 into a used one). A cold miss
 * right after mount, its cache empty, took a fresh buffer every time. So
 * blkcache_buf_alloc remembers the size it handed out last (`want`) and
 * blkcache_buf_prepare_later, called after a reply, puts one buffer of that
 * size whose pages were already written into the pool if it holds none:
 * the next miss decodes into warm memory and the stores' cost is paid
 * off the request's path. BLKCACHE_WARM such buffers are kept ready (of
 * at most BLKCACHE_WARM_MAX bytes each): with one, the next miss often
 * arrived on another thread while the first was still writing it. So an
 * idle daemon holds two blocks more. blkcache_buf_prepare_later hands
 * that work to a thread of the cache's own (started at the first call):
 * done by the thread that had just replied, it held up the next request,
 * which that thread would have read (the daemon's request loop keeps one
 * reader at a time), by the 0.1-0.3 ms the stores take.
 *
 * An insert that cannot be kept (capacity 0, or one block larger than the
 * whole capacity) returns an entry that is in no map, referenced only by
 * the caller, freed by its put.
 *
 * Single flight: a block being decoded has a claim record in its shard's
 * `claims` list (few at a time: one per decoding thread). A thread missing
 * a claimed block waits on the shard's condition variable; insert and
 * abandon remove the claim and broadcast, and every waiter looks again
 * (finding the block, or claiming it itself if the decode was abandoned).
 * A claim record that cannot be allocated only loses the single flight:
 * the caller decodes without one.
 */
#include "blkcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLKCACHE_SHARDS 16
#define BLKCACHE_MIN_BUCKETS 16
#define BLKCACHE_MAP_MIN (64 * 1024)    /* buffers this big are mmap'd */
#define BLKCACHE_POOL 16                /* free buffers kept for reuse */
#define BLKCACHE_POOL_BYTES (8u << 20)  /* ... and their bytes at most */
#define BLKCACHE_WARM 2                 /* buffers kept ready ... */
#define BLKCACHE_WARM_MAX (1u << 20)    /* ... of at most this size */

/* A free pooled buffer, written into its own first bytes. */
struct bc_free {
	struct bc_free *next;
	size_t len;
};

struct bc_entry {
	struct blkcache_ent pub;        /* immutable once inserted */
	uint8_t *mem;                   /* the buffer pub.data lies in */
	size_t mem_len;                 /* ... and its length */
	uint64_t arc;
	uint64_t block;
	atomic_uint refs;
	/* The fields below are protected by the owning shard's lock. */
	uint64_t tick;
	bool in_map;
	struct bc_entry *hnext;         /* hash chain */
	struct bc_entry *prev, *next;   /* LRU list, head = most recent */
};

struct bc_claim {
	uint64_t arc;
	uint64_t block;
	struct bc_claim *next;
};

struct bc_shard {
	pthread_mutex_t lock;
	pthread_cond_t done;            /* a claim was released */
	struct bc_claim *claims;        /* protected by lock */
	struct bc_entry **buckets;      /* protected by lock */
	size_t nbuckets;                /* protected by lock; a power of 2 */
	size_t count;                   /* protected by lock */
	struct bc_entry *head, *tail;   /* protected by lock */
};

struct blkcache {
	struct bc_shard shards[BLKCACHE_SHARDS];
	_Atomic uint64_t capacity;
	_Atomic uint64_t bytes;         /* sum of len of entries in maps */
	_Atomic uint64_t tick;
	_Atomic uint64_t hits;
	_Atomic uint64_t misses;
	_Atomic uint64_t decodes;
	_Atomic uint64_t joins;
	pthread_mutex_t pool_lock;      /* a leaf */
	struct bc_free *pool;           /* protected by pool_lock */
	unsigned npool;                 /* protected by pool_lock */
	size_t pool_bytes;              /* protected by pool_lock */
	_Atomic size_t want;            /* len of a buffer handed out since
					   the last buf_prepare */
	size_t page;                    /* immutable: the page size */
	/* The preparing thread (blkcache_buf_prepare_later). prep_lock is a
	 * leaf: never held while preparing. */
	pthread_mutex_t prep_lock;
	pthread_cond_t prep_cond;
	pthread_t prep_tid;             /* valid when prep_started */
	bool prep_started;              /* protected by prep_lock */
	bool prep_failed;               /* protected by prep_lock: no thread,
					   prepare in the caller */
	bool prep_kick;                 /* protected by prep_lock */
	bool prep_stop;                 /* protected by prep_lock */
};

static uint64_t bc_hash(uint64_t arc, uint64_t block)
{
	uint64_t h = arc * 0x9e3779b97f4a7c15ULL ^ block;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static struct bc_shard *bc_shard_of(struct blkcache *c, uint64_t h)
{
	return &c->shards[h % BLKCACHE_SHARDS];
}

static size_t bc_bucket(const struct bc_shard *s, uint64_t h)
{
	return (size_t)(h >> 8) & (s->nbuckets - 1);
}

static void bc_entry_unref(struct blkcache *c, struct bc_entry *e)
{
	if (atomic_fetch_sub(&e->refs, 1) == 1) {
		blkcache_buf_free(c, e->mem, e->mem_len);
		free(e);
	}
}

/* The functions below, up to bc_evict_one, run under s->lock. */

static struct bc_entry *bc_lookup(struct bc_shard *s, uint64_t h,
				  uint64_t arc, uint64_t block)
{
	struct bc_entry *e;

	for (e = s->buckets[bc_bucket(s, h)]; e; e = e->hnext)
		if (e->arc == arc && e->block == block)
			return e;
	return NULL;
}

static struct bc_claim **bc_claim_find(struct bc_shard *s, uint64_t arc,
				       uint64_t block)
{
	struct bc_claim **pp = &s->claims;

	while (*pp && ((*pp)->arc != arc || (*pp)->block != block))
		pp = &(*pp)->next;
	return pp;
}

/* Record a claim; false if out of memory (then there is none). */
static bool bc_claim_add(struct bc_shard *s, uint64_t arc, uint64_t block)
{
	struct bc_claim *cl = malloc(sizeof(*cl));

	if (!cl)
		return false;
	cl->arc = arc;
	cl->block = block;
	cl->next = s->claims;
	s->claims = cl;
	return true;
}

static void bc_claim_release(struct bc_shard *s, uint64_t arc,
			     uint64_t block)
{
	struct bc_claim **pp = bc_claim_find(s, arc, block), *cl = *pp;

	if (!cl)
		return;
	*pp = cl->next;
	free(cl);
	pthread_cond_broadcast(&s->done);
}

static void bc_lru_unlink(struct bc_shard *s, struct bc_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NULL;
}

static void bc_lru_push_head(struct bc_shard *s, struct bc_entry *e)
{
	e->prev = NULL;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	else
		s->tail = e;
	s->head = e;
}

static void bc_touch(struct blkcache *c, struct bc_shard *s,
		     struct bc_entry *e)
{
	e->tick = atomic_fetch_add(&c->tick, 1);
	if (s->head != e) {
		bc_lru_unlink(s, e);
		bc_lru_push_head(s, e);
	}
}

/* Grow the table when it gets crowded; a failed allocation just leaves
 * longer chains. */
static void bc_maybe_grow(struct bc_shard *s)
{
	struct bc_entry **nb;
	size_t n, i;

	if (s->count < s->nbuckets)
		return;
	n = s->nbuckets * 2;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (i = 0; i < s->nbuckets; i++) {
		struct bc_entry *e = s->buckets[i], *next;

		for (; e; e = next) {
			size_t b = (size_t)(bc_hash(e->arc, e->block) >> 8) &
				   (n - 1);

			next = e->hnext;
			e->hnext = nb[b];
			nb[b] = e;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

/* Remove e from the map and the LRU; the caller then drops the map's
 * reference (outside the lock). */
static void bc_remove(struct blkcache *c, struct bc_shard *s,
		      struct bc_entry *e)
{
	struct bc_entry **pp;

	pp = &s->buckets[bc_bucket(s, bc_hash(e->arc, e->block))];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->hnext = NULL;
	bc_lru_unlink(s, e);
	e->in_map = false;
	s->count--;
	atomic_fetch_sub(&c->bytes, e->pub.len);
}

/* Evict the globally least recently used entry. False if the cache is
 * empty. */
static bool bc_evict_one(struct blkcache *c)
{
	struct bc_shard *best = NULL;
	struct bc_entry *victim = NULL;
	uint64_t best_tick = UINT64_MAX;
	int i;

	for (i = 0; i < BLKCACHE_SHARDS; i++) {
		struct bc_shard *s = &c->shards[i];

		pthread_mutex_lock(&s->lock);
		if (s->tail && s->tail->tick <= best_tick) {
			best_tick = s->tail->tick;
			best = s;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (!best)
		return false;
	pthread_mutex_lock(&best->lock);
	victim = best->tail;
	if (victim)
		bc_remove(c, best, victim);
	pthread_mutex_unlock(&best->lock);
	if (victim)
		bc_entry_unref(c, victim);
	return true;
}

static void bc_evict(struct blkcache *c)
{
	while (atomic_load(&c->bytes) > atomic_load(&c->capacity))
		if (!bc_evict_one(c))
			break;
}

uint8_t *blkcache_buf_alloc(struct blkcache *c, size_t len)
{
	void *p;

	if (len < BLKCACHE_MAP_MIN)
		return malloc(len ? len : 1);
	if (c) {
		struct bc_free **pp, *f = NULL;

		if (len <= BLKCACHE_WARM_MAX)
			atomic_store_explicit(&c->want, len,
					      memory_order_relaxed);
		pthread_mutex_lock(&c->pool_lock);
		for (pp = &c->pool; *pp; pp = &(*pp)->next)
			if ((*pp)->len == len) {
				f = *pp;
				*pp = f->next;
				c->npool--;
				c->pool_bytes -= len;
				break;
			}
		pthread_mutex_unlock(&c->pool_lock);
		if (f)
			return (uint8_t *)f;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void blkcache_buf_free(struct blkcache *c, uint8_t *p, size_t len)
{
	if (!p)
		return;
	if (len < BLKCACHE_MAP_MIN) {
		free(p);
		return;
	}
	if (c) {
		struct bc_free *f = (struct bc_free *)(void *)p;
		bool kept = false;

		pthread_mutex_lock(&c->pool_lock);
		if (c->npool < BLKCACHE_POOL &&
		    c->pool_bytes + len <= BLKCACHE_POOL_BYTES) {
			f->len = len;
			f->next = c->pool;
			c->pool = f;
			c->npool++;
			c->pool_bytes += len;
			kept = true;
		}
		pthread_mutex_unlock(&c->pool_lock);
		if (kept)
			return;
	}
	munmap(p, len);
}

/* blkcache_buf_prepare_later's work, on the cache's thread. */
static void buf_prepare(struct blkcache *c)
{
	size_t len;

	if (!c)
		return;
	len = atomic_exchange_explicit(&c->want, 0, memory_order_relaxed);
	if (len == 0)
		return;
	for (;;) {
		unsigned have = 0;
		uint8_t *p;

		pthread_mutex_lock(&c->pool_lock);
		for (struct bc_free *f = c->pool; f; f = f->next)
			have += f->len == len;
		pthread_mutex_unlock(&c->pool_lock);
		if (have >= BLKCACHE_WARM)
			return;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return;
		for (size_t off = 0; off < len; off += c->page)
			((volatile uint8_t *)p)[off] = 0;
		blkcache_buf_free(c, p, len);   /* pooled, or unmapped if full */
		pthread_mutex_lock(&c->pool_lock);
		have = c->npool >= BLKCACHE_POOL ||
		       c->pool_bytes + len > BLKCACHE_POOL_BYTES;
		pthread_mutex_unlock(&c->pool_lock);
		if (have)
			return;         /* the pool is full: it has enough */
	}
}

static void *prep_main(void *arg)
{
	struct blkcache *c = arg;

	pthread_mutex_lock(&c->prep_lock);
	for (;;) {
		while (!c->prep_kick && !c->prep_stop)
			pthread_cond_wait(&c->prep_cond, &c->prep_lock);
		if (c->prep_stop)
			break;
		c->prep_kick = false;
		pthread_mutex_unlock(&c->prep_lock);
		buf_prepare(c);
		pthread_mutex_lock(&c->prep_lock);
	}
	pthread_mutex_unlock(&c->prep_lock);
	return NULL;
}

void blkcache_buf_prepare_later(struct blkcache *c)
{
	bool here = false;

	if (!c || atomic_load_explicit(&c->want, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&c->prep_lock);
	if (c->prep_stop) {
		pthread_mutex_unlock(&c->prep_lock);
		return;
	}
	if (!c->prep_started && !c->prep_failed) {
		if (pthread_create(&c->prep_tid, NULL, prep_main, c) == 0)
			c->prep_started = true;
		else
			c->prep_failed = true;
	}
	if (c->prep_started) {
		c->prep_kick = true;
		pthread_cond_signal(&c->prep_cond);
	} else {
		here = true;
	}
	pthread_mutex_unlock(&c->prep_lock);
	if (here)
		buf_prepare(c);
}

int blkcache_create(struct blkcache **out, uint64_t capacity)
{
	struct blkcache *c;
	int i;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < BLKCACHE_SHARDS; i++) {
		struct bc_shard *s = &c->shards[i];

		s->buckets = calloc(BLKCACHE_MIN_BUCKETS, sizeof(*s->buckets));
		if (!s->buckets)
			goto out_free;
		s->nbuckets = BLKCACHE_MIN_BUCKETS;
		pthread_mutex_init(&s->lock, NULL);
		pthread_cond_init(&s->done, NULL);
	}
	atomic_init(&c->capacity, capacity);
	pthread_mutex_init(&c->pool_lock, NULL);
	pthread_mutex_init(&c->prep_lock, NULL);
	pthread_cond_init(&c->prep_cond, NULL);
	c->page = sysconf(_SC_PAGESIZE) > 0 ? (size_t)sysconf(_SC_PAGESIZE)
					    : 4096;
	*out = c;
	return 0;

out_free:
	while (i-- > 0) {
		free(c->shards[i].buckets);
		pthread_mutex_destroy(&c->shards[i].lock);
		pthread_cond_destroy(&c->shards[i].done);
	}
	free(c);
	return -ENOMEM;
}

/* Entries still pinned by a caller at this point are that caller's bug;
 * only the map's references are dropped, so they leak rather than dangle. */
void blkcache_destroy(struct blkcache **cp)
{
	struct blkcache *c = cp ? *cp : NULL;
	int i;

	if (!c)
		return;
	pthread_mutex_lock(&c->prep_lock);
	c->prep_stop = true;
	pthread_cond_signal(&c->prep_cond);
	pthread_mutex_unlock(&c->prep_lock);
	if (c->prep_started)    /* only this thread sets it now */
		pthread_join(c->prep_tid, NULL);
	pthread_mutex_destroy(&c->prep_lock);
	pthread_cond_destroy(&c->prep_cond);
	for (i = 0; i < BLKCACHE_SHARDS; i++) {
		struct bc_shard *s = &c->shards[i];
		struct bc_entry *e, *next;

		for (e = s->head; e; e = next) {
			next = e->next;
			bc_entry_unref(c, e);
		}
		while (s->claims) {
			struct bc_claim *cl = s->claims;

			s->claims = cl->next;
			free(cl);
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->done);
	}
	while (c->pool) {
		struct bc_free *f = c->pool;

		c->pool = f->next;
		munmap(f, f->len);
	}
	pthread_mutex_destroy(&c->pool_lock);
	free(c);
	*cp = NULL;
}

void blkcache_set_capacity(struct blkcache *c, uint64_t capacity)
{
	atomic_store(&c->capacity, capacity);
	bc_evict(c);
}

const struct blkcache_ent *blkcache_get(struct blkcache *c, uint64_t arc,
					uint64_t block)
{
	uint64_t h = bc_hash(arc, block);
	struct bc_shard *s = bc_shard_of(c, h);
	struct bc_entry *e;

	pthread_mutex_lock(&s->lock);
	e = bc_lookup(s, h, arc, block);
	if (e) {
		atomic_fetch_add(&e->refs, 1);
		bc_touch(c, s, e);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(e ? &c->hits : &c->misses, 1);
	return e ? &e->pub : NULL;
}

const struct blkcache_ent *blkcache_get_or_claim(struct blkcache *c,
						 uint64_t arc, uint64_t block,
						 bool *claimed)
{
	uint64_t h = bc_hash(arc, block);
	struct bc_shard *s = bc_shard_of(c, h);
	struct bc_entry *e;
	bool waited = false;

	*claimed = false;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		e = bc_lookup(s, h, arc, block);
		if (e) {
			atomic_fetch_add(&e->refs, 1);
			bc_touch(c, s, e);
			break;
		}
		if (!*bc_claim_find(s, arc, block))
			break;
		waited = true;
		pthread_cond_wait(&s->done, &s->lock);
	}
	if (!e)
		*claimed = bc_claim_add(s, arc, block);
	pthread_mutex_unlock(&s->lock);
	if (waited && e)
		atomic_fetch_add(&c->joins, 1);
	atomic_fetch_add(e && !waited ? &c->hits : &c->misses, 1);
	return e ? &e->pub : NULL;
}

bool blkcache_try_claim(struct blkcache *c, uint64_t arc, uint64_t block)
{
	uint64_t h = bc_hash(arc, block);
	struct bc_shard *s = bc_shard_of(c, h);
	bool ok = false;

	pthread_mutex_lock(&s->lock);
	if (!bc_lookup(s, h, arc, block) && !*bc_claim_find(s, arc, block))
		ok = bc_claim_add(s, arc, block);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void blkcache_abandon(struct blkcache *c, uint64_t arc, uint64_t block)
{
	struct bc_shard *s = bc_shard_of(c, bc_hash(arc, block));

	pthread_mutex_lock(&s->lock);
	bc_claim_release(s, arc, block);
	pthread_mutex_unlock(&s->lock);
}

const struct blkcache_ent *blkcache_insert(struct blkcache *c, uint64_t arc,
					   uint64_t block, uint8_t *data,
					   size_t len)
{
	return blkcache_insert_in(c, arc, block, data, len, 0, len);
}

const struct blkcache_ent *blkcache_insert_in(struct blkcache *c,
					      uint64_t arc, uint64_t block,
					      uint8_t *mem, size_t mem_len,
					      size_t off, size_t len)
{
	uint64_t h = bc_hash(arc, block);
	struct bc_shard *s = bc_shard_of(c, h);
	struct bc_entry *e, *old;

	e = calloc(1, sizeof(*e));
	if (!e) {
		blkcache_buf_free(c, mem, mem_len);
		blkcache_abandon(c, arc, block);
		return NULL;
	}
	e->mem = mem;
	e->mem_len = mem_len;
	e->pub.data = mem + off;
	e->pub.len = len;
	e->arc = arc;
	e->block = block;
	if (len > atomic_load(&c->capacity)) {
		/* Cannot be kept: the caller's pin is the only reference. */
		atomic_init(&e->refs, 1);
		blkcache_abandon(c, arc, block);
		return &e->pub;
	}
	atomic_init(&e->refs, 2);       /* the map's and the caller's */

	pthread_mutex_lock(&s->lock);
	bc_claim_release(s, arc, block);
	old = bc_lookup(s, h, arc, block);
	if (old) {
		atomic_fetch_add(&old->refs, 1);
		bc_touch(c, s, old);
		pthread_mutex_unlock(&s->lock);
		blkcache_buf_free(c, mem, mem_len);
		free(e);
		return &old->pub;
	}
	bc_maybe_grow(s);
	e->hnext = s->buckets[bc_bucket(s, h)];
	s->buckets[bc_bucket(s, h)] = e;
	e->in_map = true;
	s->count++;
	bc_lru_push_head(s, e);
	e->tick = atomic_fetch_add(&c->tick, 1);
	atomic_fetch_add(&c->bytes, len);
	pthread_mutex_unlock(&s->lock);

	bc_evict(c);
	return &e->pub;
}

void blkcache_put(struct blkcache *c, const struct blkcache_ent *pub)
{
	if (pub)
		/* pub is the first member of its bc_entry. */
		bc_entry_unref(c, (struct bc_entry *)(uintptr_t)pub);
}

void blkcache_drop_arc(struct blkcache *c, uint64_t arc)
{
	int i;

	for (i = 0; i < BLKCACHE_SHARDS; i++) {
		struct bc_shard *s = &c->shards[i];
		struct bc_entry *e, *next, *dropped = NULL;

		pthread_mutex_lock(&s->lock);
		for (e = s->head; e; e = next) {
			next = e->next;
			if (e->arc != arc)
				continue;
			bc_remove(c, s, e);
			e->hnext = dropped;     /* reuse the chain link */
			dropped = e;
		}
		pthread_mutex_unlock(&s->lock);
		for (e = dropped; e; e = next) {
			next = e->hnext;
			bc_entry_unref(c, e);
		}
	}
}

void blkcache_count_decode(struct blkcache *c)
{
	if (c)
		atomic_fetch_add(&c->decodes, 1);
}

void blkcache_count_miss(struct blkcache *c)
{
	if (c)
		atomic_fetch_add(&c->misses, 1);
}

void blkcache_get_stats(struct blkcache *c, struct blkcache_stats *out)
{
	out->hits = atomic_load(&c->hits);
	out->misses = atomic_load(&c->misses);
	out->decodes = atomic_load(&c->decodes);
	out->joins = atomic_load(&c->joins);
	out->bytes = atomic_load(&c->bytes);
	out->capacity = atomic_load(&c->capacity);
	pthread_mutex_lock(&c->pool_lock);
	out->pool_buffers = c->npool;
	pthread_mutex_unlock(&c->pool_lock);
}
