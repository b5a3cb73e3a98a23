/*
 * test_blob.c - the blob store contract (blob.h) on the local directory
 * store: whole-object puts, range reads, stat, list with a prefix, remove,
 * names, in-place objects, the streaming writer both in place and staged
 * (the staged path is the one a store without in-place ops takes), crash
 * leftovers, and concurrent readers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "blob.h"

static char tmpdir[64];
static char dir[128];

static void setup(void)
{
	strcpy(tmpdir, "/tmp/tfs_blob_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dir, sizeof(dir), "%s/objs", tmpdir);
}

static void rm_dir(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	char p[512];

	if (dd == NULL)
		return;
	while ((de = readdir(dd)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
		unlink(p);
	}
	closedir(dd);
	rmdir(d);
}

static void teardown(void)
{
	rm_dir(dir);
	rmdir(tmpdir);
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131u + seed * 7u + (i >> 9));
	return p;
}

static void expect_object(struct blob_store *s, const char *name,
			  const uint8_t *want, size_t n)
{
	struct blob *b = NULL;
	uint64_t size = 0;
	uint8_t *got = malloc(n + 1);

	ck_assert_int_eq(blob_open(s, name, &b, &size), 0);
	ck_assert_uint_eq(size, n);
	ck_assert_int_eq(blob_read(s, b, got, n, 0), 0);
	ck_assert_mem_eq(got, want, n);
	blob_close(s, &b);
	ck_assert_ptr_null(b);
	free(got);
}

START_TEST(test_put_read_ranges)
{
	struct blob_store *s = NULL;
	size_t n = 3 * 1024 * 1024 + 17;
	uint8_t *data = pattern(n, 1), buf[8192];
	struct blob *b = NULL;
	uint64_t size = 0;

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	ck_assert_int_eq(blob_put(s, "00000012.xz", data, n), 0);
	ck_assert_int_eq(blob_stat(s, "00000012.xz", &size), 0);
	ck_assert_uint_eq(size, n);
	expect_object(s, "00000012.xz", data, n);

	/* ranges anywhere, including the last byte */
	ck_assert_int_eq(blob_open(s, "00000012.xz", &b, NULL), 0);
	for (uint64_t off = 0; off + sizeof(buf) <= n; off += 777777) {
		ck_assert_int_eq(blob_read(s, b, buf, sizeof(buf), off), 0);
		ck_assert_mem_eq(buf, data + off, sizeof(buf));
	}
	ck_assert_int_eq(blob_read(s, b, buf, 1, n - 1), 0);
	ck_assert_uint_eq(buf[0], data[n - 1]);
	ck_assert_int_eq(blob_read(s, b, buf, 0, n), 0);
	/* past the end: -EIO, never a short read */
	ck_assert_int_eq(blob_read(s, b, buf, 2, n - 1), -EIO);
	ck_assert_int_eq(blob_read(s, b, buf, 1, n + 100), -EIO);
	blob_close(s, &b);

	/* an empty object is an object */
	ck_assert_int_eq(blob_put(s, "empty", "", 0), 0);
	ck_assert_int_eq(blob_stat(s, "empty", &size), 0);
	ck_assert_uint_eq(size, 0);

	/* immutable: a second put of the name is refused, bytes unchanged */
	ck_assert_int_eq(blob_put(s, "00000012.xz", "x", 1), -EEXIST);
	expect_object(s, "00000012.xz", data, n);
	blob_store_close(&s);
	ck_assert_ptr_null(s);

	/* and still there after reopening */
	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	expect_object(s, "00000012.xz", data, n);
	blob_store_close(&s);
	free(data);
}
END_TEST

START_TEST(test_names_and_missing)
{
	static const char *const bad[] = {
		"", ".hidden", "a/b", "../x", "sp ace", "nl\n", "a\\b", "é",
	};
	struct blob_store *s = NULL;
	struct blob *b = NULL;
	char longname[BLOB_NAME_MAX + 2];
	uint64_t size;

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert(!blob_name_ok(bad[i]));
		ck_assert_int_eq(blob_put(s, bad[i], "x", 1), -EINVAL);
		ck_assert_int_eq(blob_open(s, bad[i], &b, NULL), -EINVAL);
		ck_assert_int_eq(blob_stat(s, bad[i], &size), -EINVAL);
		ck_assert_int_eq(blob_remove(s, bad[i]), -EINVAL);
	}
	memset(longname, 'a', sizeof(longname));
	longname[BLOB_NAME_MAX] = '\0';
	ck_assert(blob_name_ok(longname));
	longname[BLOB_NAME_MAX] = 'a';
	longname[BLOB_NAME_MAX + 1] = '\0';
	ck_assert(!blob_name_ok(longname));
	ck_assert(blob_name_ok("0000002a.seg"));
	ck_assert(blob_name_ok("A-b_c.d"));

	ck_assert_int_eq(blob_open(s, "nope.xz", &b, NULL), -ENOENT);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(blob_stat(s, "nope.xz", &size), -ENOENT);
	ck_assert_int_eq(blob_remove(s, "nope.xz"), -ENOENT);
	blob_store_close(&s);
	blob_store_close(&s);   /* tolerates NULL */
}
END_TEST

struct listed {
	char names[16][32];
	uint64_t sizes[16];
	int n;
	int stop_after;
};

static int collect(void *ctx, const char *name, uint64_t size)
{
	struct listed *l = ctx;

	ck_assert_int_lt(l->n, 16);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->sizes[l->n] = size;
	l->n++;
	return l->stop_after && l->n >= l->stop_after ? 42 : 0;
}

static uint64_t listed_size(const struct listed *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return l->sizes[i];
	return UINT64_MAX;
}

START_TEST(test_list_remove_sync)
{
	struct blob_store *s = NULL;
	struct listed l = { .n = 0 };
	char p[256];

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	ck_assert_int_eq(blob_put(s, "00000001.xz", "aa", 2), 0);
	ck_assert_int_eq(blob_put(s, "00000002.xz", "bbb", 3), 0);
	ck_assert_int_eq(blob_put(s, "00000001.seg", "c", 1), 0);
	/* not objects: a directory, a dot file */
	snprintf(p, sizeof(p), "%s/subdir", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.other", dir);
	close(open(p, O_CREAT | O_WRONLY, 0600));

	ck_assert_int_eq(blob_list(s, "", collect, &l), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_uint_eq(listed_size(&l, "00000001.xz"), 2);
	ck_assert_uint_eq(listed_size(&l, "00000002.xz"), 3);
	ck_assert_uint_eq(listed_size(&l, "00000001.seg"), 1);

	l.n = 0;
	ck_assert_int_eq(blob_list(s, "00000001", collect, &l), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_uint_eq(listed_size(&l, "00000002.xz"), UINT64_MAX);

	/* the callback's nonzero return stops the listing */
	l.n = 0;
	l.stop_after = 1;
	ck_assert_int_eq(blob_list(s, "", collect, &l), 42);
	ck_assert_int_eq(l.n, 1);

	ck_assert_int_eq(blob_remove(s, "00000002.xz"), 0);
	ck_assert_int_eq(blob_sync(s), 0);
	ck_assert_int_eq(blob_sync(s), 0);
	l.n = 0;
	l.stop_after = 0;
	ck_assert_int_eq(blob_list(s, "", collect, &l), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_uint_eq(listed_size(&l, "00000002.xz"), UINT64_MAX);
	snprintf(p, sizeof(p), "%s/subdir", dir);
	rmdir(p);
	blob_store_close(&s);
}
END_TEST

START_TEST(test_remove_while_open)
{
	struct blob_store *s = NULL;
	uint8_t *data = pattern(100000, 3), buf[1000];
	struct blob *b = NULL;

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	ck_assert_int_eq(blob_put(s, "x.xz", data, 100000), 0);
	ck_assert_int_eq(blob_open(s, "x.xz", &b, NULL), 0);
	ck_assert_int_eq(blob_remove(s, "x.xz"), 0);
	ck_assert_int_eq(blob_read(s, b, buf, sizeof(buf), 5000), 0);
	ck_assert_mem_eq(buf, data + 5000, sizeof(buf));
	blob_close(s, &b);
	/* the name is free again */
	ck_assert_int_eq(blob_put(s, "x.xz", "new", 3), 0);
	expect_object(s, "x.xz", (const uint8_t *)"new", 3);
	blob_store_close(&s);
	free(data);
}
END_TEST

START_TEST(test_put_fd)
{
	struct blob_store *s = NULL;
	size_t n = 2 * 1024 * 1024 + 5;
	uint8_t *data = pattern(n, 4);
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/src", tmpdir);
	fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	/* the fd's offset is at the end: put_fd reads from 0 regardless */
	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	ck_assert_int_eq(blob_put_fd(s, "00000003.xz", fd, n), 0);
	expect_object(s, "00000003.xz", data, n);
	/* the first len bytes only */
	ck_assert_int_eq(blob_put_fd(s, "part", fd, 1000), 0);
	expect_object(s, "part", data, 1000);
	/* a file shorter than len: error, nothing left under the name */
	ck_assert_int_lt(blob_put_fd(s, "short", fd, n + 10), 0);
	{
		uint64_t size;

		ck_assert_int_eq(blob_stat(s, "short", &size), -ENOENT);
	}
	ck_assert_int_eq(blob_put_fd(s, "00000003.xz", fd, n), -EEXIST);
	ck_assert_int_eq(blob_put_fd(s, "bad", -1, 1), -EBADF);
	close(fd);
	unlink(p);
	blob_store_close(&s);
	free(data);
}
END_TEST

START_TEST(test_in_place)
{
	struct blob_store *s = NULL;
	struct blob_wr *w = NULL;
	struct blob *b = NULL;
	uint8_t buf[16];
	uint64_t size;

	ck_assert_int_eq(blob_local_open(&s, dir, 0600, 0), 0);
	ck_assert(blob_can_append(s));
	ck_assert_int_eq(s->ops->create(s, "0000002a.seg", &w), 0);
	ck_assert_int_eq(s->ops->create(s, "0000002a.seg", &w), -EEXIST);
	ck_assert_int_eq(s->ops->wr_pwrite(w, "hello", 5, 0), 0);
	/* readable while it grows */
	ck_assert_int_eq(blob_open(s, "0000002a.seg", &b, &size), 0);
	ck_assert_uint_eq(size, 5);
	ck_assert_int_eq(s->ops->wr_pwrite(w, " world", 6, 5), 0);
	ck_assert_int_eq(blob_read(s, b, buf, 11, 0), 0);
	ck_assert_mem_eq(buf, "hello world", 11);
	/* a failed append's remains are cut back */
	ck_assert_int_eq(s->ops->wr_pwrite(w, "XXXX", 4, 11), 0);
	ck_assert_int_eq(s->ops->wr_truncate(w, 11), 0);
	ck_assert_int_eq(blob_read(s, b, buf, 12, 0), -EIO);
	ck_assert_int_eq(s->ops->wr_sync(w), 0);
	ck_assert_int_eq(s->ops->wr_close(w, true), 0);
	ck_assert_int_eq(blob_stat(s, "0000002a.seg", &size), 0);
	ck_assert_uint_eq(size, 11);
	/* recovery may cut an uncommitted tail */
	ck_assert_int_eq(s->ops->truncate(s, "0000002a.seg", 5), 0);
	ck_assert_int_eq(blob_stat(s, "0000002a.seg", &size), 0);
	ck_assert_uint_eq(size, 5);
	ck_assert_int_eq(s->ops->truncate(s, "nope", 5), -ENOENT);
	blob_close(s, &b);
	{
		char p[256];
		struct stat st;

		snprintf(p, sizeof(p), "%s/0000002a.seg", dir);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_uint_eq(st.st_mode & 0777, 0600);
	}
	blob_store_close(&s);
}
END_TEST

/* The writer both ways: in place (local), and staged, as on a store
 * without in-place ops (the same local store with those ops taken away). */
static void writer_roundtrip(struct blob_store *s, const char *name)
{
	size_t n = 5 * 1024 * 1024 + 3;
	uint8_t *data = pattern(n, 5);
	struct blob_writer *w = NULL;
	struct listed l = { .n = 0 };
	uint64_t size;

	ck_assert_int_eq(blob_writer_open(s, name, tmpdir, &w), 0);
	for (size_t off = 0; off < n; off += 65536) {
		size_t k = n - off < 65536 ? n - off : 65536;

		ck_assert_int_eq(blob_writer_write(w, data + off, k), 0);
	}
	ck_assert_uint_eq(blob_writer_size(w), n);
	ck_assert_int_eq(blob_writer_finish(&w), 0);
	ck_assert_ptr_null(w);
	expect_object(s, name, data, n);

	/* a name that exists is refused at open */
	ck_assert_int_eq(blob_writer_open(s, name, tmpdir, &w), -EEXIST);
	ck_assert_int_eq(blob_writer_open(s, "a/b", tmpdir, &w), -EINVAL);

	/* abort leaves nothing */
	ck_assert_int_eq(blob_writer_open(s, "aborted", tmpdir, &w), 0);
	ck_assert_int_eq(blob_writer_write(w, data, 1000), 0);
	blob_writer_abort(&w);
	ck_assert_ptr_null(w);
	blob_writer_abort(&w);
	ck_assert_int_eq(blob_stat(s, "aborted", &size), -ENOENT);
	ck_assert_int_eq(blob_list(s, "", collect, &l), 0);
	ck_assert_int_eq(l.n, 1);
	free(data);
}

START_TEST(test_writer_in_place)
{
	struct blob_store *s = NULL;

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	writer_roundtrip(s, "00000007.xz");
	blob_store_close(&s);
}
END_TEST

START_TEST(test_writer_staged)
{
	struct blob_store *s = NULL;
	struct blob_ops ops;
	const struct blob_ops *orig;

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	orig = s->ops;
	ops = *orig;
	ops.create = NULL;
	ops.wr_pwrite = NULL;
	ops.wr_truncate = NULL;
	ops.wr_sync = NULL;
	ops.wr_close = NULL;
	ops.truncate = NULL;
	s->ops = &ops;
	ck_assert(!blob_can_append(s));
	writer_roundtrip(s, "00000008.xz");
	s->ops = orig;
	blob_store_close(&s);
}
END_TEST

START_TEST(test_crash_leftovers)
{
	struct blob_store *s = NULL;
	struct listed l = { .n = 0 };
	char p[256];
	struct stat st;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(p, sizeof(p), "%s/.put-123-0", dir);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	ck_assert_int_eq(stat(p, &st), -1);
	ck_assert_int_eq(blob_list(s, "", collect, &l), 0);
	ck_assert_int_eq(l.n, 0);
	blob_store_close(&s);
}
END_TEST

START_TEST(test_readonly)
{
	struct blob_store *s = NULL;
	struct blob_wr *w = NULL;
	char p[256];
	struct stat st;
	uint64_t size;

	/* a read-only store is never created */
	ck_assert_int_eq(blob_local_open(&s, dir, 0644, BLOB_LOCAL_READONLY),
			 -ENOENT);
	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	ck_assert_int_eq(blob_put(s, "a.xz", "abc", 3), 0);
	blob_store_close(&s);
	snprintf(p, sizeof(p), "%s/.put-1-1", dir);
	close(open(p, O_CREAT | O_WRONLY, 0600));

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, BLOB_LOCAL_READONLY),
			 0);
	ck_assert_int_eq(stat(p, &st), 0);      /* nothing swept */
	expect_object(s, "a.xz", (const uint8_t *)"abc", 3);
	ck_assert_int_eq(blob_put(s, "b.xz", "x", 1), -EROFS);
	ck_assert_int_eq(blob_remove(s, "a.xz"), -EROFS);
	ck_assert_int_eq(s->ops->create(s, "c.seg", &w), -EROFS);
	ck_assert_int_eq(s->ops->truncate(s, "a.xz", 1), -EROFS);
	ck_assert_int_eq(blob_stat(s, "a.xz", &size), 0);
	ck_assert_uint_eq(size, 3);
	blob_store_close(&s);
}
END_TEST

struct reader_arg {
	struct blob_store *s;
	struct blob *b;
	const uint8_t *data;
	size_t n;
	unsigned seed;
	int bad;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	uint8_t buf[4096];
	unsigned x = a->seed;

	for (int i = 0; i < 2000; i++) {
		uint64_t off;

		x = x * 1103515245u + 12345u;
		off = (uint64_t)x % (a->n - sizeof(buf));
		if (blob_read(a->s, a->b, buf, sizeof(buf), off) != 0 ||
		    memcmp(buf, a->data + off, sizeof(buf)) != 0)
			a->bad++;
	}
	return NULL;
}

START_TEST(test_concurrent_readers)
{
	struct blob_store *s = NULL;
	size_t n = 1 << 20;
	uint8_t *data = pattern(n, 6);
	struct reader_arg a[4];
	pthread_t t[4];
	struct blob *b = NULL;

	ck_assert_int_eq(blob_local_open(&s, dir, 0644, 0), 0);
	ck_assert_int_eq(blob_put(s, "c.xz", data, n), 0);
	ck_assert_int_eq(blob_open(s, "c.xz", &b, NULL), 0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct reader_arg){ s, b, data, n, (unsigned)i + 1, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].bad, 0);
	}
	blob_close(s, &b);
	blob_store_close(&s);
	free(data);
}
END_TEST

static Suite *blob_suite(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("local");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_put_read_ranges);
	tcase_add_test(tc, test_names_and_missing);
	tcase_add_test(tc, test_list_remove_sync);
	tcase_add_test(tc, test_remove_while_open);
	tcase_add_test(tc, test_put_fd);
	tcase_add_test(tc, test_in_place);
	tcase_add_test(tc, test_writer_in_place);
	tcase_add_test(tc, test_writer_staged);
	tcase_add_test(tc, test_crash_leftovers);
	tcase_add_test(tc, test_readonly);
	tcase_add_test(tc, test_concurrent_readers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(blob_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
