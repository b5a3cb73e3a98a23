/* test_blkcache.c - unit tests for blkcache.c (LRU, bounds, pins, threads). */
#include "blkcache.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t pat(uint64_t arc, uint64_t block, size_t i)
{
	return (uint8_t)(arc * 31 + block * 7 + i);
}

static uint8_t *mkdata(uint64_t arc, uint64_t block, size_t len)
{
	uint8_t *d = blkcache_buf_alloc(NULL, len);
	size_t i;

	ck_assert_ptr_nonnull(d);
	for (i = 0; i < len; i++)
		d[i] = pat(arc, block, i);
	return d;
}

static bool check_data(const struct blkcache_ent *e, uint64_t arc,
		       uint64_t block, size_t len)
{
	size_t i;

	if (e->len != len)
		return false;
	for (i = 0; i < len; i++)
		if (e->data[i] != pat(arc, block, i))
			return false;
	return true;
}

/* Insert and unpin at once. */
static void add(struct blkcache *c, uint64_t arc, uint64_t block, size_t len)
{
	const struct blkcache_ent *e;

	e = blkcache_insert(c, arc, block, mkdata(arc, block, len), len);
	ck_assert_ptr_nonnull(e);
	ck_assert(check_data(e, arc, block, len));
	blkcache_put(c, e);
}

static bool present(struct blkcache *c, uint64_t arc, uint64_t block)
{
	const struct blkcache_ent *e = blkcache_get(c, arc, block);

	if (e)
		blkcache_put(c, e);
	return e != NULL;
}

static uint64_t cached_bytes(struct blkcache *c)
{
	struct blkcache_stats st;

	blkcache_get_stats(c, &st);
	return st.bytes;
}

/* After a big buffer was handed out, prepare_later fills the pool with
 * two of its size on the cache's own thread; the caller does not wait. */
START_TEST(test_prepare_later)
{
	struct blkcache *c;
	struct blkcache_stats st;
	const size_t len = 128 * 1024;
	uint8_t *a, *b;
	int i;

	ck_assert_int_eq(blkcache_create(&c, 16u << 20), 0);
	blkcache_buf_prepare_later(c);  /* nothing handed out: nothing */
	blkcache_get_stats(c, &st);
	ck_assert_uint_eq(st.pool_buffers, 0);
	a = blkcache_buf_alloc(c, len);
	ck_assert_ptr_nonnull(a);
	blkcache_buf_prepare_later(c);
	for (i = 0; i < 500; i++) {
		blkcache_get_stats(c, &st);
		if (st.pool_buffers >= 2)
			break;
		usleep(10000);
	}
	ck_assert_uint_eq(st.pool_buffers, 2);
	b = blkcache_buf_alloc(c, len);         /* one from the pool */
	ck_assert_ptr_nonnull(b);
	memset(b, 1, len);
	blkcache_get_stats(c, &st);
	ck_assert_uint_eq(st.pool_buffers, 1);
	blkcache_buf_free(c, a, len);
	blkcache_buf_free(c, b, len);
	blkcache_buf_prepare_later(c);  /* the thread is joined below */
	blkcache_destroy(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_lru_order)
{
	struct blkcache *c;
	struct blkcache_stats st;

	ck_assert_int_eq(blkcache_create(&c, 300), 0);
	add(c, 1, 1, 100);
	add(c, 1, 2, 100);
	add(c, 1, 3, 100);
	ck_assert_uint_eq(cached_bytes(c), 300);
	ck_assert(present(c, 1, 1));    /* 1 is now the most recent */
	add(c, 1, 4, 100);              /* evicts 2, the least recent */
	ck_assert(!present(c, 1, 2));
	ck_assert(present(c, 1, 3));    /* order now: 1 4 3 -> 3 is recent */
	add(c, 1, 5, 100);              /* evicts 1 */
	ck_assert(!present(c, 1, 1));
	ck_assert(present(c, 1, 3));
	ck_assert(present(c, 1, 4));
	ck_assert(present(c, 1, 5));
	ck_assert_uint_eq(cached_bytes(c), 300);
	/* A big block pushes out as many old ones as needed. */
	add(c, 2, 0, 250);
	ck_assert(present(c, 2, 0));
	ck_assert(!present(c, 1, 3));
	ck_assert(!present(c, 1, 4));
	ck_assert(!present(c, 1, 5));
	ck_assert_uint_eq(cached_bytes(c), 250);

	blkcache_count_decode(c);
	blkcache_count_decode(c);
	blkcache_get_stats(c, &st);
	ck_assert_uint_eq(st.decodes, 2);
	ck_assert_uint_eq(st.capacity, 300);
	ck_assert_uint_eq(st.hits, 6);
	ck_assert_uint_eq(st.misses, 5);
	blkcache_destroy(&c);
	ck_assert_ptr_null(c);
	blkcache_destroy(&c);           /* tolerates NULL */
}
END_TEST

START_TEST(test_byte_bound)
{
	struct blkcache *c;
	uint64_t i, sum = 0;
	unsigned seed = 1;

	ck_assert_int_eq(blkcache_create(&c, 10000), 0);
	for (i = 0; i < 500; i++) {
		size_t len = (size_t)(rand_r(&seed) % 3000) + 1;

		add(c, i % 3, i, len);
		ck_assert_uint_le(cached_bytes(c), 10000);
	}
	/* The most recent block is always kept. */
	ck_assert(present(c, 499 % 3, 499));
	/* Shrinking evicts at once; growing keeps what is there. */
	blkcache_set_capacity(c, 2000);
	ck_assert_uint_le(cached_bytes(c), 2000);
	blkcache_set_capacity(c, 0);
	ck_assert_uint_eq(cached_bytes(c), 0);
	blkcache_set_capacity(c, 1 << 20);
	for (i = 0; i < 100; i++) {
		add(c, 7, i, 1000);
		sum += 1000;
	}
	ck_assert_uint_eq(cached_bytes(c), sum);
	for (i = 0; i < 100; i++)
		ck_assert(present(c, 7, i));
	blkcache_destroy(&c);
}
END_TEST

START_TEST(test_pinned_survives_eviction)
{
	struct blkcache *c;
	const struct blkcache_ent *a, *a2, *b;

	ck_assert_int_eq(blkcache_create(&c, 100), 0);
	a = blkcache_insert(c, 1, 1, mkdata(1, 1, 100), 100);
	a2 = blkcache_get(c, 1, 1);     /* a second pin on the same entry */
	ck_assert_ptr_eq(a, a2);
	b = blkcache_insert(c, 1, 2, mkdata(1, 2, 100), 100);
	/* a was evicted from the map but both pins still read it. */
	ck_assert(!present(c, 1, 1));
	ck_assert_uint_eq(cached_bytes(c), 100);
	ck_assert(check_data(a, 1, 1, 100));
	blkcache_put(c, a);
	ck_assert(check_data(a2, 1, 1, 100));
	blkcache_put(c, a2);            /* the last put frees it (asan) */
	ck_assert(check_data(b, 1, 2, 100));
	/* Eviction of b while pinned, then drop_arc of nothing left. */
	blkcache_drop_arc(c, 1);
	ck_assert_uint_eq(cached_bytes(c), 0);
	ck_assert(check_data(b, 1, 2, 100));
	blkcache_put(c, b);
	blkcache_destroy(&c);
}
END_TEST

START_TEST(test_duplicate_insert)
{
	struct blkcache *c;
	const struct blkcache_ent *e1, *e2;
	uint8_t *other;

	ck_assert_int_eq(blkcache_create(&c, 1000), 0);
	e1 = blkcache_insert(c, 3, 9, mkdata(3, 9, 64), 64);
	other = blkcache_buf_alloc(NULL, 64);
	memset(other, 0, 64);
	e2 = blkcache_insert(c, 3, 9, other, 64);       /* frees other */
	ck_assert_ptr_eq(e1, e2);
	ck_assert_ptr_eq(e1->data, e2->data);
	ck_assert(check_data(e2, 3, 9, 64));
	ck_assert_uint_eq(cached_bytes(c), 64);
	blkcache_put(c, e2);
	blkcache_put(c, e1);
	ck_assert(present(c, 3, 9));
	blkcache_destroy(&c);
}
END_TEST

/* A block kept inside a larger buffer (a stored xz block used where it
 * was read): the entry shows the bytes at the offset, counts only them,
 * and frees the whole buffer when evicted (ASan checks the free). */
START_TEST(test_insert_in)
{
	struct blkcache *c;
	struct blkcache_stats st;
	const struct blkcache_ent *e;
	size_t len = 70000, off = 19, mem_len = len + 40;
	uint8_t *mem;

	ck_assert_int_eq(blkcache_create(&c, 3 * len), 0);
	for (uint64_t b = 0; b < 8; b++) {
		mem = blkcache_buf_alloc(c, mem_len);
		ck_assert_ptr_nonnull(mem);
		memset(mem, 0xee, mem_len);
		for (size_t i = 0; i < len; i++)
			mem[off + i] = pat(1, b, i);
		e = blkcache_insert_in(c, 1, b, mem, mem_len, off, len);
		ck_assert_ptr_nonnull(e);
		ck_assert_ptr_eq(e->data, mem + off);
		ck_assert(check_data(e, 1, b, len));
		blkcache_put(c, e);
	}
	blkcache_get_stats(c, &st);
	ck_assert_uint_eq(st.bytes, 3 * len);
	e = blkcache_get(c, 1, 7);
	ck_assert_ptr_nonnull(e);
	ck_assert(check_data(e, 1, 7, len));
	blkcache_put(c, e);
	ck_assert_ptr_null(blkcache_get(c, 1, 0));
	blkcache_destroy(&c);
}
END_TEST

START_TEST(test_drop_arc)
{
	struct blkcache *c;
	const struct blkcache_ent *pinned;
	uint64_t b;

	ck_assert_int_eq(blkcache_create(&c, 1 << 20), 0);
	for (b = 0; b < 40; b++) {
		add(c, 10, b, 100);
		add(c, 11, b, 50);
	}
	pinned = blkcache_get(c, 10, 5);
	ck_assert_ptr_nonnull(pinned);
	ck_assert_uint_eq(cached_bytes(c), 40 * 150);
	blkcache_drop_arc(c, 10);
	ck_assert_uint_eq(cached_bytes(c), 40 * 50);
	for (b = 0; b < 40; b++) {
		ck_assert(!present(c, 10, b));
		ck_assert(present(c, 11, b));
	}
	ck_assert(check_data(pinned, 10, 5, 100));
	blkcache_put(c, pinned);
	blkcache_drop_arc(c, 99);       /* unknown arc: nothing happens */
	ck_assert_uint_eq(cached_bytes(c), 40 * 50);
	blkcache_destroy(&c);           /* frees the remaining (asan/leak) */
}
END_TEST

START_TEST(test_capacity_zero)
{
	struct blkcache *c;
	const struct blkcache_ent *e;
	struct blkcache_stats st;

	ck_assert_int_eq(blkcache_create(&c, 0), 0);
	e = blkcache_insert(c, 1, 1, mkdata(1, 1, 4096), 4096);
	ck_assert_ptr_nonnull(e);
	ck_assert(check_data(e, 1, 1, 4096));
	ck_assert_uint_eq(cached_bytes(c), 0);
	ck_assert(!present(c, 1, 1));
	blkcache_put(c, e);             /* freed here */
	/* A block larger than the capacity is not kept either. */
	blkcache_set_capacity(c, 1000);
	e = blkcache_insert(c, 1, 2, mkdata(1, 2, 1001), 1001);
	ck_assert(check_data(e, 1, 2, 1001));
	blkcache_put(c, e);
	ck_assert(!present(c, 1, 2));
	blkcache_get_stats(c, &st);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.hits, 0);
	ck_assert_uint_eq(st.misses, 2);
	blkcache_destroy(&c);
}
END_TEST

struct worker_arg {
	struct blkcache *c;
	unsigned seed;
	int iters;
	int bad;
	uint64_t lookups;
};

static size_t key_len(uint64_t block)
{
	return 512 + (size_t)(block % 7) * 300;
}

static void *worker(void *p)
{
	struct worker_arg *a = p;
	int i;

	for (i = 0; i < a->iters; i++) {
		uint64_t arc = (uint64_t)rand_r(&a->seed) % 3;
		uint64_t block = (uint64_t)rand_r(&a->seed) % 64;
		const struct blkcache_ent *e;

		e = blkcache_get(a->c, arc, block);
		a->lookups++;
		if (!e) {
			size_t len = key_len(block);

			blkcache_count_decode(a->c);
			e = blkcache_insert(a->c, arc, block,
					    mkdata(arc, block, len), len);
		}
		if (!e || !check_data(e, arc, block, key_len(block)))
			a->bad++;
		blkcache_put(a->c, e);
		if (i % 1000 == 999 && arc == 0)
			blkcache_drop_arc(a->c, 2);
	}
	return NULL;
}

START_TEST(test_concurrent)
{
	enum { NT = 4 };
	struct worker_arg args[NT];
	pthread_t th[NT];
	struct blkcache *c;
	struct blkcache_stats st;
	uint64_t lookups = 0;
	int i;

	ck_assert_int_eq(blkcache_create(&c, 40 * 1024), 0);
	for (i = 0; i < NT; i++) {
		args[i] = (struct worker_arg){ .c = c, .seed = 17u * i + 1,
					       .iters = 20000 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker,
						&args[i]), 0);
	}
	for (i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].bad, 0);
		lookups += args[i].lookups;
	}
	blkcache_get_stats(c, &st);
	ck_assert_uint_eq(st.hits + st.misses, lookups);
	ck_assert_uint_eq(st.decodes, st.misses);
	ck_assert_uint_gt(st.hits, 0);
	ck_assert_uint_le(st.bytes, 40 * 1024);
	blkcache_destroy(&c);
}
END_TEST

/* ---- single flight ---- */

struct sf_ctx {
	struct blkcache *c;
	int decodes;                    /* protected by lock */
	pthread_mutex_t lock;
	pthread_barrier_t go;
	int ok;                         /* protected by lock */
};

/* What a reader does: get or claim, decode (slowly) if claimed. */
static void *sf_reader(void *arg)
{
	struct sf_ctx *x = arg;
	const struct blkcache_ent *e;
	bool claimed;

	pthread_barrier_wait(&x->go);
	e = blkcache_get_or_claim(x->c, 7, 3, &claimed);
	if (!e) {
		if (!claimed)
			return NULL;
		pthread_mutex_lock(&x->lock);
		x->decodes++;
		pthread_mutex_unlock(&x->lock);
		usleep(50000);  /* a slow decode: the others must wait */
		e = blkcache_insert(x->c, 7, 3, mkdata(7, 3, 4096), 4096);
	}
	if (e && check_data(e, 7, 3, 4096)) {
		pthread_mutex_lock(&x->lock);
		x->ok++;
		pthread_mutex_unlock(&x->lock);
	}
	blkcache_put(x->c, e);
	return NULL;
}

START_TEST(test_single_flight)
{
	enum { N = 6 };
	struct sf_ctx x = { .ok = 0 };
	struct blkcache_stats st;
	pthread_t t[N];

	ck_assert_int_eq(blkcache_create(&x.c, 1 << 20), 0);
	pthread_mutex_init(&x.lock, NULL);
	pthread_barrier_init(&x.go, NULL, N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, sf_reader, &x),
				 0);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	/* Six threads missed one block at once: it was decoded once. */
	ck_assert_int_eq(x.decodes, 1);
	ck_assert_int_eq(x.ok, N);     /* and every reader got its bytes */
	blkcache_get_stats(x.c, &st);
	ck_assert_uint_eq(st.hits + st.misses, N);
	ck_assert_uint_eq(st.joins + 1 + st.hits, N);
	pthread_barrier_destroy(&x.go);
	pthread_mutex_destroy(&x.lock);
	blkcache_destroy(&x.c);
}
END_TEST

static void *abandon_later(void *arg)
{
	struct blkcache *c = arg;

	usleep(30000);
	blkcache_abandon(c, 1, 1);
	return NULL;
}

START_TEST(test_claims)
{
	struct blkcache *c;
	const struct blkcache_ent *e;
	pthread_t t;
	bool claimed;

	ck_assert_int_eq(blkcache_create(&c, 1 << 20), 0);
	/* try_claim: only a block neither cached nor claimed */
	ck_assert(blkcache_try_claim(c, 1, 1));
	ck_assert(!blkcache_try_claim(c, 1, 1));
	/* a waiter whose decoder gives up claims the block itself */
	ck_assert_int_eq(pthread_create(&t, NULL, abandon_later, c), 0);
	e = blkcache_get_or_claim(c, 1, 1, &claimed);
	pthread_join(t, NULL);
	ck_assert_ptr_null(e);
	ck_assert(claimed);
	ck_assert(!blkcache_try_claim(c, 1, 1));
	e = blkcache_insert(c, 1, 1, mkdata(1, 1, 100), 100);
	ck_assert_ptr_nonnull(e);
	blkcache_put(c, e);
	/* cached: no claim, a hit */
	ck_assert(!blkcache_try_claim(c, 1, 1));
	e = blkcache_get_or_claim(c, 1, 1, &claimed);
	ck_assert_ptr_nonnull(e);
	ck_assert(!claimed);
	ck_assert(check_data(e, 1, 1, 100));
	blkcache_put(c, e);
	/* capacity 0: an insert is not kept but still releases the claim */
	blkcache_set_capacity(c, 0);
	ck_assert(blkcache_try_claim(c, 2, 2));
	e = blkcache_insert(c, 2, 2, mkdata(2, 2, 10), 10);
	ck_assert_ptr_nonnull(e);
	blkcache_put(c, e);
	ck_assert(blkcache_try_claim(c, 2, 2));
	blkcache_abandon(c, 2, 2);
	blkcache_destroy(&c);
}
END_TEST

static Suite *blkcache_suite(void)
{
	Suite *s = suite_create("blkcache");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_prepare_later);
	tcase_add_test(tc, test_lru_order);
	tcase_add_test(tc, test_byte_bound);
	tcase_add_test(tc, test_pinned_survives_eviction);
	tcase_add_test(tc, test_duplicate_insert);
	tcase_add_test(tc, test_insert_in);
	tcase_add_test(tc, test_drop_arc);
	tcase_add_test(tc, test_capacity_zero);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_single_flight);
	tcase_add_test(tc, test_claims);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(blkcache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
