/*
 * test_s3.c - unit tests for s3.c / s3_ops.c against a real S3 server
 * (Ceph RGW started by scripts/s3-server.sh; its DIR/env gives S3_ENDPOINT
 * and the keys). Without S3_ENDPOINT the test skips (exit 77), unless
 * TIERFS_REQUIRE_S3=1 (CI sets it), where it fails.
 */
#include "s3.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char bucket[64];

static struct s3 *client(const char *bkt, const char *secret,
			 const char *endpoint, uint32_t timeout)
{
	struct s3_config cfg = {
		.endpoint = endpoint ? endpoint : getenv("S3_ENDPOINT"),
		.region = "us-east-1",
		.bucket = bkt,
		.access_key = getenv("AWS_ACCESS_KEY_ID"),
		.secret_key = secret ? secret : getenv("AWS_SECRET_ACCESS_KEY"),
		.timeout_s = timeout,
	};
	struct s3 *s = NULL;

	ck_assert_int_eq(s3_open(&s, &cfg), 0);
	return s;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

START_TEST(test_bucket_checks)
{
	struct s3 *s = client(bucket, NULL, NULL, 10), *bad;
	char other[80];

	ck_assert_int_eq(s3_check_bucket(s), 0);
	snprintf(other, sizeof(other), "%s-missing", bucket);
	bad = client(other, NULL, NULL, 10);
	ck_assert_int_eq(s3_check_bucket(bad), -ENOENT);
	s3_close(&bad);
	bad = client(bucket, "not-the-secret", NULL, 10);
	ck_assert_int_eq(s3_check_bucket(bad), -EACCES);
	s3_close(&bad);
	s3_close(&s);
}
END_TEST

START_TEST(test_put_head_get_delete)
{
	struct s3 *s = client(bucket, NULL, NULL, 10);
	char etag[S3_ETAG_MAX], etag2[S3_ETAG_MAX];
	uint8_t data[100000], out[100000];
	struct s3_stats st;
	uint64_t size = 0;

	fill(data, sizeof(data), 7);
	ck_assert_int_eq(s3_put(s, "pfx/a b+c.bin", data, sizeof(data), etag),
			 0);
	ck_assert(etag[0]);
	ck_assert_int_eq(s3_head(s, "pfx/a b+c.bin", &size, etag2), 0);
	ck_assert_uint_eq(size, sizeof(data));
	ck_assert_str_eq(etag, etag2);
	/* a range in the middle */
	ck_assert_int_eq(s3_get_range(s, "pfx/a b+c.bin", out, 5000, 12345),
			 5000);
	ck_assert(!memcmp(out, data + 12345, 5000));
	/* a range running past the end is short */
	ck_assert_int_eq(s3_get_range(s, "pfx/a b+c.bin", out, 5000,
				      sizeof(data) - 100), 100);
	ck_assert(!memcmp(out, data + sizeof(data) - 100, 100));
	/* past the end: nothing */
	ck_assert_int_eq(s3_get_range(s, "pfx/a b+c.bin", out, 10,
				      sizeof(data) + 10), 0);
	ck_assert_int_eq(s3_get_range(s, "pfx/none", out, 10, 0), -ENOENT);
	ck_assert_int_eq(s3_delete(s, "pfx/a b+c.bin"), 0);
	ck_assert_int_eq(s3_head(s, "pfx/a b+c.bin", &size, NULL), -ENOENT);
	ck_assert_int_eq(s3_delete(s, "pfx/a b+c.bin"), 0);
	s3_get_stats(s, &st);
	ck_assert_uint_ge(st.requests, 8);
	ck_assert_uint_ge(st.bytes_up, sizeof(data));
	ck_assert_uint_ge(st.bytes_down, 5100);
	ck_assert_uint_eq(st.retries, 0);
	s3_close(&s);
}
END_TEST

START_TEST(test_multipart)
{
	struct s3 *s = client(bucket, NULL, NULL, 30);
	size_t n = (size_t)(2 * S3_PART_SIZE + 12345);
	uint8_t *data = malloc(n), *out = malloc(1 << 20);
	char path[] = "/tmp/tfs-s3-XXXXXX", etag[S3_ETAG_MAX],
	     etag2[S3_ETAG_MAX];
	uint64_t size = 0, got = 0;
	int fd = mkstemp(path);

	ck_assert(data && out && fd >= 0);
	unlink(path);
	fill(data, n, 99);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	ck_assert_int_eq(s3_put_file(s, "big/obj", fd, n, etag), 0);
	/* a multipart ETag ends in -<parts> */
	ck_assert_ptr_nonnull(strstr(etag, "-3"));
	ck_assert_int_eq(s3_head(s, "big/obj", &size, etag2), 0);
	ck_assert_uint_eq(size, n);
	ck_assert_str_eq(etag, etag2);
	/* across the first part boundary */
	ck_assert_int_eq(s3_get_range(s, "big/obj", out, 1 << 20,
				      S3_PART_SIZE - 4096), 1 << 20);
	ck_assert(!memcmp(out, data + S3_PART_SIZE - 4096, 1 << 20));
	/* the whole object into a file */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(s3_get_file(s, "big/obj", fd, &got), 0);
	ck_assert_uint_eq(got, n);
	for (size_t off = 0; off < n; off += 1 << 20) {
		size_t len = n - off < (1 << 20) ? n - off : (1 << 20);

		ck_assert_int_eq(pread(fd, out, len, (off_t)off), (ssize_t)len);
		ck_assert(!memcmp(out, data + off, len));
	}
	close(fd);
	free(data);
	free(out);
	s3_close(&s);
}
END_TEST

struct listing {
	int n;
	uint64_t bytes;
	char last[200];
	bool sorted;
};

static int count_key(void *arg, const char *key, uint64_t size,
		     const char *etag)
{
	struct listing *l = arg;

	l->sorted &= strcmp(l->last, key) < 0;
	snprintf(l->last, sizeof(l->last), "%s", key);
	l->n++;
	l->bytes += size;
	return etag[0] ? 0 : -1;
}

START_TEST(test_list_continuation)
{
	struct s3 *s = client(bucket, NULL, NULL, 30);
	struct listing l = { .sorted = true };
	char key[64];
	int n = 1010; /* more than one page of 1000 */

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "many/k%05d", i);
		ck_assert_int_eq(s3_put(s, key, key, strlen(key), NULL), 0);
	}
	ck_assert_int_eq(s3_put(s, "manyother", "x", 1, NULL), 0);
	ck_assert_int_eq(s3_list(s, "many/", count_key, &l), 0);
	ck_assert_int_eq(l.n, n);
	ck_assert(l.sorted);
	ck_assert_uint_eq(l.bytes, (uint64_t)n * strlen("many/k00000"));
	s3_close(&s);
}
END_TEST

START_TEST(test_unreachable)
{
	struct s3 *s;
	struct s3_stats st;
	char buf[16];
	time_t t0 = time(NULL);

	/* port 9 on loopback: nothing listens (connection refused) */
	s = client(bucket, NULL, "http://127.0.0.1:9", 2);
	ck_assert_int_eq(s3_get_range(s, "x", buf, sizeof(buf), 0),
			 -ECONNREFUSED);
	ck_assert_int_le(time(NULL) - t0, 10);
	s3_get_stats(s, &st);
	ck_assert_uint_ge(st.retries, 2);
	ck_assert_uint_eq(st.errors, 1);
	s3_close(&s);
}
END_TEST

START_TEST(test_credentials_file)
{
	char path[] = "/tmp/tfs-cred-XXXXXX", key[128], sec[128], why[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "[other]\naws_access_key_id = NO\n"
		"aws_secret_access_key = NO\n\n# comment\n[default]\n"
		"  aws_access_key_id=AKID \naws_secret_access_key = s/e+c\n");
	fclose(f);
	ck_assert_int_eq(s3_read_credentials(path, NULL, key, sizeof(key), sec,
					     sizeof(sec), why, sizeof(why)), 0);
	ck_assert_str_eq(key, "AKID");
	ck_assert_str_eq(sec, "s/e+c");
	ck_assert_int_eq(s3_read_credentials(path, "nope", key, sizeof(key),
					     sec, sizeof(sec), why,
					     sizeof(why)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(why, "[nope]"));
	unlink(path);
	ck_assert_int_eq(s3_read_credentials(path, NULL, key, sizeof(key), sec,
					     sizeof(sec), why, sizeof(why)),
			 -ENOENT);
}
END_TEST

START_TEST(test_bad_config)
{
	struct s3_config cfg = {
		.endpoint = "ftp://x", .region = "us-east-1", .bucket = "b",
		.access_key = "k", .secret_key = "s",
	};
	struct s3 *s = NULL;

	ck_assert_int_eq(s3_open(&s, &cfg), -EINVAL);
	cfg.endpoint = "http://x";
	cfg.bucket = "";
	ck_assert_int_eq(s3_open(&s, &cfg), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("s3");
	TCase *tc = tcase_create("rgw");
	const char *req = getenv("TIERFS_REQUIRE_S3");
	struct s3_config cfg;
	struct s3 *s = NULL;
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_credentials_file);
	tcase_add_test(tc, test_bad_config);
	if (!getenv("S3_ENDPOINT") || !getenv("AWS_ACCESS_KEY_ID")) {
		if (req && !strcmp(req, "1")) {
			fprintf(stderr, "test_s3: TIERFS_REQUIRE_S3=1 but no "
				"S3 server (S3_ENDPOINT unset)\n");
			return EXIT_FAILURE;
		}
		fprintf(stderr, "test_s3: no S3 server (source the env of "
			"scripts/s3-server.sh start DIR); skipped\n");
		return 77;
	}
	snprintf(bucket, sizeof(bucket), "tfs-unit-%d-%ld", (int)getpid(),
		 (long)time(NULL));
	cfg = (struct s3_config){
		.endpoint = getenv("S3_ENDPOINT"), .region = "us-east-1",
		.bucket = bucket, .access_key = getenv("AWS_ACCESS_KEY_ID"),
		.secret_key = getenv("AWS_SECRET_ACCESS_KEY"), .timeout_s = 30,
	};
	if (s3_open(&s, &cfg) || s3_create_bucket(s)) {
		fprintf(stderr, "test_s3: cannot create bucket %s\n", bucket);
		return EXIT_FAILURE;
	}
	s3_close(&s);
	tcase_add_test(tc, test_bucket_checks);
	tcase_add_test(tc, test_put_head_get_delete);
	tcase_add_test(tc, test_multipart);
	tcase_add_test(tc, test_list_continuation);
	tcase_add_test(tc, test_unreachable);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
