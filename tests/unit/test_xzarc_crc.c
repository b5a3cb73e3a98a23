/* Unit tests for xzarc_crc.c: xzarc_crc32 must equal lzma_crc32 on every
 * input (the xz check of every cold block is verified with it); and the
 * reader verifies the checks of archives liblzma itself wrote, CRC32,
 * CRC64 and SHA-256 (xzarc_read.c compares CRCs itself). */
#include "xzarc_int.h"

#include "blob.h"
#include "blkcache.h"
#include "xzarc.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t *random_bytes(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n);
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)(x >> 24);
	}
	return b;
}

/* Every length 0..1 KiB at every alignment 0..15, from several running
 * CRCs: the short path, the 64-byte folds, the 16-byte steps and the
 * tail all meet lzma_crc32. */
START_TEST(test_crc32_small)
{
	uint8_t *b = random_bytes(1024 + 16, 1);
	const uint32_t starts[] = { 0, 0xffffffffu, 0x12345678u };

	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++)
		for (size_t a = 0; a < 16; a++)
			for (size_t n = 0; n <= 1024; n++)
				ck_assert_uint_eq(
					xzarc_crc32(b + a, n, starts[s]),
					lzma_crc32(b + a, n, starts[s]));
	free(b);
}
END_TEST

/* Large buffers (a cold block and more), a few odd lengths, all zeros and
 * all ones, and a CRC continued over pieces equals the one-shot CRC. */
START_TEST(test_crc32_large)
{
	size_t n = (4u << 20) + 13;
	uint8_t *b = random_bytes(n, 2);
	const size_t lens[] = { 65536, 65536 + 7, 262144, 1u << 20, n };
	uint32_t c = 0;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		ck_assert_uint_eq(xzarc_crc32(b, lens[i], 0),
				  lzma_crc32(b, lens[i], 0));
	for (size_t off = 0; off < n; off += 100003)
		c = xzarc_crc32(b + off, off + 100003 <= n ? 100003 : n - off,
				c);
	ck_assert_uint_eq(c, lzma_crc32(b, n, 0));
	for (size_t i = 0; i < n; i++)
		b[i] = 0;
	ck_assert_uint_eq(xzarc_crc32(b, 65536, 0), lzma_crc32(b, 65536, 0));
	for (size_t i = 0; i < n; i++)
		b[i] = 0xff;
	c = xzarc_crc32(b, 65536, 0);
	ck_assert_uint_eq(c, lzma_crc32(b, 65536, 0));
	/* One flipped bit changes it (the check catches damage). */
	b[30000] ^= 4;
	ck_assert_uint_ne(xzarc_crc32(b, 65536, 0), c);
	ck_assert_uint_eq(xzarc_crc32(b, 65536, 0), lzma_crc32(b, 65536, 0));
	free(b);
}
END_TEST

/* One .xz of `len` bytes of text from lzma_easy_buffer_encode with check
 * `chk`, as file `name` in dir. Returns its length; *check_end gets the
 * offset just past the block's check. */
static size_t write_xz(const char *dir, const char *name, lzma_check chk,
		       const uint8_t *data, size_t len, size_t *check_end)
{
	size_t cap = lzma_stream_buffer_bound(len), n = 0;
	uint8_t *x = malloc(cap);
	lzma_stream_flags ff;
	char path[256];
	int fd;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(lzma_easy_buffer_encode(6, chk, NULL, data, len, x,
						 &n, cap), LZMA_OK);
	ck_assert_int_eq(lzma_stream_footer_decode(&ff, x + n - 12), LZMA_OK);
	*check_end = n - 12 - (size_t)ff.backward_size;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, x, n), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
	free(x);
	return n;
}

/* Archives with each check read back right, through the cache and
 * without, on two blocks sizes in turn (the reader keeps one decoder per
 * thread); a flipped byte of the check is EIO, not wrong bytes. */
START_TEST(test_foreign_checks)
{
	const lzma_check chks[] = { LZMA_CHECK_CRC32, LZMA_CHECK_CRC64,
				    LZMA_CHECK_SHA256 };
	size_t len = 200 * 1024 + 17, end;
	uint8_t *data = malloc(len), *buf = malloc(len);
	char dir[] = "/tmp/test_xzarc_crc.XXXXXX", path[256];
	struct blob_store *bs = NULL;
	struct blkcache *c = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(blob_local_open(&bs, dir, 0644, 0), 0);
	ck_assert_int_eq(blkcache_create(&c, 4u << 20), 0);
	for (size_t i = 0; i < len; i++)        /* compressible, not trivial */
		data[i] = (uint8_t)("tierfs cold block "[i % 18] + i / 4096);
	for (size_t k = 0; k < sizeof(chks) / sizeof(chks[0]); k++) {
		for (size_t part = len / 3; part <= len; part += len - len / 3) {
			struct xzarc *a = NULL;
			int fd;
			char b;

			write_xz(dir, "a.xz", chks[k], data, part, &end);
			ck_assert_int_eq(xzarc_open(&a, bs, "a.xz", 10 * k +
						    (part == len)), 0);
			ck_assert_int_eq(xzarc_pread(a, c, buf, part, 0),
					 (ssize_t)part);
			ck_assert(memcmp(buf, data, part) == 0);
			ck_assert_int_eq(xzarc_pread(a, NULL, buf, 100,
						     part - 100), 100);
			ck_assert(memcmp(buf, data + part - 100, 100) == 0);
			xzarc_close(&a);
			/* the check's last byte, flipped */
			snprintf(path, sizeof(path), "%s/a.xz", dir);
			fd = open(path, O_RDWR);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(pread(fd, &b, 1, (off_t)end - 1), 1);
			b ^= 0x10;
			ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)end - 1), 1);
			ck_assert_int_eq(close(fd), 0);
			ck_assert_int_eq(xzarc_open(&a, bs, "a.xz", 100 + k),
					 0);
			ck_assert_int_eq(xzarc_pread(a, c, buf, 100, 0), -EIO);
			ck_assert_int_eq(xzarc_pread(a, NULL, buf, 100, 0),
					 -EIO);
			xzarc_close(&a);
			ck_assert_int_eq(unlink(path), 0);
		}
	}
	blkcache_destroy(&c);
	blob_store_close(&bs);
	ck_assert_int_eq(rmdir(dir), 0);
	free(data);
	free(buf);
}
END_TEST

static Suite *crc_suite(void)
{
	Suite *s = suite_create("xzarc_crc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_crc32_small);
	tcase_add_test(tc, test_crc32_large);
	tcase_add_test(tc, test_foreign_checks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
