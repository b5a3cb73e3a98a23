/* Unit tests for xzarc_crc.c: xzarc_crc32 must equal lzma_crc32 on every
 * input (the xz check of every cold block is verified with it). */
#include "xzarc_int.h"

#include <check.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>

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

static Suite *crc_suite(void)
{
	Suite *s = suite_create("xzarc_crc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_crc32_small);
	tcase_add_test(tc, test_crc32_large);
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
