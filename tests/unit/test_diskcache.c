/* test_diskcache.c - unit tests for diskcache.c: round trip, keys that
 * differ, the byte bound and LRU order, damaged files are misses, and what
 * survives a reopen. */
#include "diskcache.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_diskcache.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[600];

	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (!de->d_name[1] ||
		    (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void fill(uint8_t *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* Sum of the sizes of the files in dir, and their number. */
static uint64_t dir_bytes(size_t *nfiles)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t sum = 0;
	struct stat st;
	char p[600];

	*nfiles = 0;
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			sum += (uint64_t)st.st_size;
			(*nfiles)++;
		}
	}
	closedir(d);
	return sum;
}

#define LEN (60u << 10)

START_TEST(test_round_trip)
{
	struct diskcache *dc;
	struct diskcache_stats st;
	static uint8_t a[LEN], b[LEN];

	ck_assert_int_eq(diskcache_open(&dc, dir, 1 << 20), 0);
	fill(a, LEN, 1);
	ck_assert_int_eq(diskcache_get(dc, "k1", b, LEN), -ENOENT);
	ck_assert_int_eq(diskcache_put(dc, "k1", a, LEN), 0);
	memset(b, 0, LEN);
	ck_assert_int_eq(diskcache_get(dc, "k1", b, LEN), 0);
	ck_assert(memcmp(a, b, LEN) == 0);
	/* another key, another length: misses */
	ck_assert_int_eq(diskcache_get(dc, "k2", b, LEN), -ENOENT);
	ck_assert_int_eq(diskcache_get(dc, "k1", b, LEN - 1), -ENOENT);
	diskcache_get_stats(dc, &st);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.misses, 3);
	ck_assert_uint_eq(st.entries, 1);
	diskcache_close(&dc);
	ck_assert_ptr_null(dc);
}
END_TEST

START_TEST(test_bound_and_lru)
{
	struct diskcache *dc;
	struct diskcache_stats st;
	static uint8_t a[LEN], b[LEN];
	const uint64_t max = 1 << 20;
	char key[32];
	size_t n;

	ck_assert_int_eq(diskcache_open(&dc, dir, max), 0);
	for (unsigned i = 0; i < 40; i++) {
		fill(a, LEN, i);
		snprintf(key, sizeof(key), "key-%u", i);
		ck_assert_int_eq(diskcache_put(dc, key, a, LEN), 0);
		/* key-0 is read after every put: the most recent */
		ck_assert_int_eq(diskcache_get(dc, "key-0", b, LEN), 0);
		ck_assert_uint_le(dir_bytes(&n), max);
	}
	diskcache_get_stats(dc, &st);
	ck_assert_uint_le(st.bytes, max);
	ck_assert_uint_gt(st.evictions, 0);
	ck_assert_uint_eq(st.entries, n);
	usleep(50000);  /* past the coarse clock: these two are the newest */
	fill(a, LEN, 0);
	ck_assert_int_eq(diskcache_get(dc, "key-0", b, LEN), 0);
	ck_assert(memcmp(a, b, LEN) == 0);
	ck_assert_int_eq(diskcache_get(dc, "key-1", b, LEN), -ENOENT);
	fill(a, LEN, 39);
	ck_assert_int_eq(diskcache_get(dc, "key-39", b, LEN), 0);
	ck_assert(memcmp(a, b, LEN) == 0);
	/* larger than the whole cache: not kept */
	{
		uint8_t *big = calloc(1, 2 << 20);

		ck_assert_int_eq(diskcache_put(dc, "big", big, 2 << 20), 0);
		ck_assert_int_eq(diskcache_get(dc, "big", big, 2 << 20),
				 -ENOENT);
		free(big);
	}
	diskcache_close(&dc);

	/* reopen: the entries are there, and a smaller max evicts the
	 * least recently used down to it */
	ck_assert_int_eq(diskcache_open(&dc, dir, 200 << 10), 0);
	diskcache_get_stats(dc, &st);
	ck_assert_uint_le(st.bytes, 200 << 10);
	ck_assert_uint_ge(st.entries, 2);
	ck_assert_uint_le(dir_bytes(&n), 200 << 10);
	ck_assert_uint_eq(n, st.entries);
	fill(a, LEN, 0);
	ck_assert_int_eq(diskcache_get(dc, "key-0", b, LEN), 0);
	ck_assert(memcmp(a, b, LEN) == 0);
	diskcache_close(&dc);
}
END_TEST

/* Flip one byte of the only cache file at offset off from its end. */
static void damage_only_file(long from_end)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[600];
	int fd = -1;
	uint8_t c;
	off_t sz;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			fd = open(p, O_RDWR);
			break;
		}
	closedir(d);
	ck_assert_int_ge(fd, 0);
	sz = lseek(fd, 0, SEEK_END);
	ck_assert_int_eq(pread(fd, &c, 1, sz - from_end), 1);
	c ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &c, 1, sz - from_end), 1);
	close(fd);
}

START_TEST(test_damaged_is_miss)
{
	struct diskcache *dc;
	struct diskcache_stats st;
	static uint8_t a[LEN], b[LEN];
	size_t n;

	ck_assert_int_eq(diskcache_open(&dc, dir, 1 << 20), 0);
	fill(a, LEN, 5);
	ck_assert_int_eq(diskcache_put(dc, "k", a, LEN), 0);
	damage_only_file(100);
	ck_assert_int_eq(diskcache_get(dc, "k", b, LEN), -ENOENT);
	diskcache_get_stats(dc, &st);
	ck_assert_uint_eq(st.bad, 1);
	ck_assert_uint_eq(st.entries, 0);
	dir_bytes(&n);
	ck_assert_uint_eq(n, 0);        /* the damaged file is gone */

	/* truncated */
	ck_assert_int_eq(diskcache_put(dc, "k", a, LEN), 0);
	{
		char p[600];
		DIR *d = opendir(dir);
		struct dirent *de;

		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				snprintf(p, sizeof(p), "%s/%s", dir,
					 de->d_name);
				ck_assert_int_eq(truncate(p, 1000), 0);
			}
		closedir(d);
	}
	ck_assert_int_eq(diskcache_get(dc, "k", b, LEN), -ENOENT);
	ck_assert_int_eq(diskcache_put(dc, "k", a, LEN), 0);
	ck_assert_int_eq(diskcache_get(dc, "k", b, LEN), 0);
	ck_assert(memcmp(a, b, LEN) == 0);
	diskcache_close(&dc);
}
END_TEST

START_TEST(test_leftover_temp_files)
{
	struct diskcache *dc;
	char p[600];
	size_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/.tmp-0123456789abcdef-7", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(diskcache_open(&dc, dir, 1 << 20), 0);
	ck_assert_int_ne(access(p, F_OK), 0);
	dir_bytes(&n);
	ck_assert_uint_eq(n, 0);
	diskcache_close(&dc);
	ck_assert_int_eq(diskcache_open(&dc, dir, 0), -EINVAL);
}
END_TEST

static Suite *diskcache_suite(void)
{
	Suite *s = suite_create("diskcache");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_bound_and_lru);
	tcase_add_test(tc, test_damaged_is_miss);
	tcase_add_test(tc, test_leftover_temp_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(diskcache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
