/*
 * test_blob_s3.c - the S3 blob store (blob_s3.c) against a real S3 server
 * (scripts/s3-server.sh's env). Skips (77) without S3_ENDPOINT unless
 * TIERFS_REQUIRE_S3=1, where it fails.
 */
#include "blob.h"
#include "blob_s3.h"
#include "diskcache.h"
#include "s3.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char bucket[64];

static struct s3 *client(void)
{
	struct s3_config cfg = {
		.endpoint = getenv("S3_ENDPOINT"), .region = "us-east-1",
		.bucket = bucket, .access_key = getenv("AWS_ACCESS_KEY_ID"),
		.secret_key = getenv("AWS_SECRET_ACCESS_KEY"), .timeout_s = 30,
	};
	struct s3 *s = NULL;

	if (s3_open(&s, &cfg))
		return NULL;
	return s;
}

static struct blob_store *store(const char *prefix, char *ends_dir)
{
	struct blob_store *bs = NULL;
	struct s3 *s = client();

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(blob_s3_open(&bs, s, prefix, ends_dir), 0);
	return bs;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static uint64_t requests(struct blob_store *bs)
{
	struct s3_stats st;

	s3_get_stats(blob_s3_client(bs), &st);
	return st.requests;
}

static int add_name(void *ctx, const char *name, uint64_t size)
{
	char *acc = ctx;

	sprintf(acc + strlen(acc), "%s:%llu;", name, (unsigned long long)size);
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove a test's temp directory and what is in it. */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

START_TEST(test_put_open_read)
{
	char dir[] = "/tmp/tfs-ends-XXXXXX", path[300];
	struct blob_store *bs;
	struct blob *b = NULL;
	size_t n = 300000;
	uint8_t *data = malloc(n), *out = malloc(n);
	uint64_t size = 0, r0;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	fill(data, n, 3);
	bs = store("t1/p", dir);
	ck_assert_int_eq(blob_put(bs, "00000001.xz", data, n), 0);
	snprintf(path, sizeof(path), "%s/00000001.xz.ends", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	/* open and reading the ends cost no request */
	r0 = requests(bs);
	ck_assert_int_eq(blob_open(bs, "00000001.xz", &b, &size), 0);
	ck_assert_uint_eq(size, n);
	ck_assert_int_eq(blob_read(bs, b, out, 12, 0), 0);
	ck_assert_int_eq(blob_read(bs, b, out + n - 5000, 5000, n - 5000), 0);
	ck_assert_uint_eq(requests(bs), r0);
	/* a block in the middle is one ranged GET */
	ck_assert_int_eq(blob_read(bs, b, out, 100000, 100000), 0);
	ck_assert_uint_eq(requests(bs), r0 + 1);
	ck_assert(!memcmp(out, data + 100000, 100000));
	ck_assert_int_eq(blob_read(bs, b, out, 10, n - 5), -EIO);
	blob_close(bs, &b);
	/* without its ends file (a restored store): fetched once */
	unlink(path);
	ck_assert_int_eq(blob_open(bs, "00000001.xz", &b, &size), 0);
	ck_assert_uint_eq(size, n);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(blob_read(bs, b, out, n, 0), 0);
	ck_assert(!memcmp(out, data, n));
	blob_close(bs, &b);
	ck_assert_int_eq(blob_open(bs, "nope.xz", &b, &size), -ENOENT);
	ck_assert_int_eq(blob_stat(bs, "00000001.xz", &size), 0);
	ck_assert_uint_eq(size, n);
	ck_assert_int_eq(blob_remove(bs, "00000001.xz"), 0);
	ck_assert_int_ne(stat(path, &st), 0);
	ck_assert_int_eq(blob_stat(bs, "00000001.xz", &size), -ENOENT);
	blob_store_close(&bs);
	rm_tree(dir);
	free(data);
	free(out);
}
END_TEST

/* A run of pieces is one GET; with a disk cache each piece is kept on its
 * own: read again alone or in a run, no request. */
START_TEST(test_pieces_and_disk_cache)
{
	char dir[] = "/tmp/tfs-ends-XXXXXX", cdir[300];
	const size_t n = 1 << 20;
	uint8_t *data = malloc(n), *out = malloc(n);
	uint64_t ends[4], r0, size;
	struct diskcache_stats st;
	struct blob_store *bs;
	struct diskcache *dc;
	struct blob *b = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cdir, sizeof(cdir), "%s/cache", dir);
	fill(data, n, 9);
	bs = store("t4", dir);
	ck_assert_int_eq(blob_put(bs, "00000004.xz", data, n), 0);
	/* without a cache: one GET for the run */
	ck_assert_int_eq(blob_open(bs, "00000004.xz", &b, &size), 0);
	for (int i = 0; i < 4; i++)
		ends[i] = 100000 + (uint64_t)(i + 1) * 70000;
	r0 = requests(bs);
	ck_assert_int_eq(blob_read_pieces(bs, b, out, 100000, ends, 4), 0);
	ck_assert_uint_eq(requests(bs), r0 + 1);
	ck_assert(!memcmp(out, data + 100000, 280000));
	blob_close(bs, &b);

	ck_assert_int_eq(diskcache_open(&dc, cdir, 8 << 20), 0);
	blob_s3_set_cache(bs, dc, "test/bucket");
	ck_assert_int_eq(blob_open(bs, "00000004.xz", &b, &size), 0);
	/* piece 1 alone first: cached on its own */
	r0 = requests(bs);
	ck_assert_int_eq(blob_read(bs, b, out, 70000, 170000), 0);
	ck_assert_uint_eq(requests(bs), r0 + 1);
	/* the run: pieces 0, 2, 3 in one GET, piece 1 from the cache */
	memset(out, 0, n);
	ck_assert_int_eq(blob_read_pieces(bs, b, out, 100000, ends, 4), 0);
	ck_assert_uint_eq(requests(bs), r0 + 2);
	ck_assert(!memcmp(out, data + 100000, 280000));
	/* every piece is now on disk: alone or as a run, no request */
	memset(out, 0, n);
	ck_assert_int_eq(blob_read(bs, b, out, 70000, 310000), 0);
	ck_assert(!memcmp(out, data + 310000, 70000));
	ck_assert_int_eq(blob_read_pieces(bs, b, out, 100000, ends, 4), 0);
	ck_assert(!memcmp(out, data + 100000, 280000));
	ck_assert_uint_eq(requests(bs), r0 + 2);
	ck_assert(blob_s3_cache_stats(bs, &st));
	ck_assert_uint_eq(st.entries, 4);
	ck_assert_uint_ge(st.hits, 5);
	blob_close(bs, &b);
	ck_assert_int_eq(blob_remove(bs, "00000004.xz"), 0);
	blob_store_close(&bs);
	rm_tree(dir);
	free(data);
	free(out);
}
END_TEST

START_TEST(test_list_prefixes)
{
	char dir[] = "/tmp/tfs-ends-XXXXXX", acc[4096] = "";
	struct blob_store *a, *a2;
	struct s3 *raw = client();

	ck_assert_ptr_nonnull(mkdtemp(dir));
	a = store("shared/a", dir);
	a2 = store("shared/a2", dir);
	ck_assert_int_eq(blob_put(a, "x1.xz", "one", 3), 0);
	ck_assert_int_eq(blob_put(a, "x2.xz", "two!", 4), 0);
	ck_assert_int_eq(blob_put(a2, "y.xz", "other", 5), 0);
	/* a key under the prefix that is no blob name is not listed */
	ck_assert_int_eq(s3_put(raw, "shared/a/meta/meta.db", "m", 1, NULL),
			 0);
	ck_assert_int_eq(blob_list(a, "", add_name, acc), 0);
	ck_assert_str_eq(acc, "x1.xz:3;x2.xz:4;");
	acc[0] = 0;
	ck_assert_int_eq(blob_list(a, "x2", add_name, acc), 0);
	ck_assert_str_eq(acc, "x2.xz:4;");
	blob_store_close(&a);
	blob_store_close(&a2);
	s3_close(&raw);
	rm_tree(dir);
}
END_TEST

START_TEST(test_writer_multipart)
{
	char dir[] = "/tmp/tfs-ends-XXXXXX";
	struct blob_store *bs;
	struct blob_writer *w = NULL;
	struct blob *b = NULL;
	size_t n = (size_t)(S3_PART_SIZE + 777777), chunk = 1 << 20;
	uint8_t *data = malloc(n), *out = malloc(n);
	uint64_t size = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	fill(data, n, 11);
	bs = store("", dir);
	ck_assert(!blob_can_append(bs));
	ck_assert_int_eq(blob_writer_open(bs, "big.xz", NULL, &w), 0);
	for (size_t off = 0; off < n; off += chunk)
		ck_assert_int_eq(blob_writer_write(w, data + off,
						   n - off < chunk ? n - off :
						   chunk), 0);
	/* nothing under the name before finish */
	ck_assert_int_eq(blob_stat(bs, "big.xz", &size), -ENOENT);
	ck_assert_int_eq(blob_writer_finish(&w), 0);
	ck_assert_int_eq(blob_open(bs, "big.xz", &b, &size), 0);
	ck_assert_uint_eq(size, n);
	ck_assert_int_eq(blob_read(bs, b, out, n, 0), 0);
	ck_assert(!memcmp(out, data, n));
	blob_close(bs, &b);
	blob_store_close(&bs);
	rm_tree(dir);
	free(data);
	free(out);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("blob_s3");
	TCase *tc = tcase_create("rgw");
	const char *req = getenv("TIERFS_REQUIRE_S3");
	struct s3 *s;
	SRunner *sr;
	int failed;

	if (!getenv("S3_ENDPOINT") || !getenv("AWS_ACCESS_KEY_ID")) {
		if (req && !strcmp(req, "1")) {
			fprintf(stderr, "test_blob_s3: TIERFS_REQUIRE_S3=1 "
				"but S3_ENDPOINT is unset\n");
			return EXIT_FAILURE;
		}
		fprintf(stderr, "test_blob_s3: no S3 server; skipped\n");
		return 77;
	}
	snprintf(bucket, sizeof(bucket), "tfs-blob-%d-%ld", (int)getpid(),
		 (long)time(NULL));
	s = client();
	if (!s || s3_create_bucket(s)) {
		fprintf(stderr, "test_blob_s3: cannot create %s\n", bucket);
		return EXIT_FAILURE;
	}
	s3_close(&s);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_put_open_read);
	tcase_add_test(tc, test_list_prefixes);
	tcase_add_test(tc, test_writer_multipart);
	tcase_add_test(tc, test_pieces_and_disk_cache);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
