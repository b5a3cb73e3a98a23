/*
 * test_codec.c - LZ4 codec round trips and CRC32C against a bitwise
 * reference, on both the SSE4.2 and the table implementation.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "codec.h"
#include "tierfs.h"

/* Bit-at-a-time CRC32C: the definition, slow and obviously right. */
static uint32_t crc_ref(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	while (n-- > 0) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
	}
	return ~c;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void fill_random(void *buf, size_t n, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t s = seed | 1;

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(rng_next(&s) >> 32);
}

static void fill_text(char *buf, size_t n)
{
	static const char *const words[] = {
		"tier", "warm ", "cold\n", "segment ", "record", " chunk",
		"the ", "of ", "compress", "vector ",
	};
	uint64_t s = 42;
	size_t i = 0;

	while (i < n) {
		const char *w = words[rng_next(&s) % 10];
		size_t l = strlen(w);

		if (l > n - i)
			l = n - i;
		memcpy(buf + i, w, l);
		i += l;
	}
}

START_TEST(test_crc_check_value)
{
	ck_assert_uint_eq(codec_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(codec_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(crc_ref(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(codec_crc32c(0, "", 0), 0u);
	ck_assert_uint_eq(codec_crc32c(0, NULL, 0), 0u);
	/* 32 zero bytes: a published iSCSI test vector (RFC 3720 B.4). */
	uint8_t z[32] = { 0 };
	ck_assert_uint_eq(codec_crc32c(0, z, 32), 0x8A9136AAu);
	ck_assert_uint_eq(codec_crc32c_sw(0, z, 32), 0x8A9136AAu);
	memset(z, 0xff, sizeof(z));
	ck_assert_uint_eq(codec_crc32c(0, z, 32), 0x62A8AB43u);
	if (codec_crc32c_has_hw())
		ck_assert_uint_eq(codec_crc32c_hw(0, "123456789", 9),
				  0xE3069283u);
}
END_TEST

START_TEST(test_crc_random_lengths_alignments)
{
	/* Past three 4 KiB streams twice: the hardware path's joined
	 * streams, and what follows them. */
	enum { MAXN = 7 * 4096 + 64 };
	uint8_t *buf = malloc(MAXN + 16);
	bool hw = codec_crc32c_has_hw();
	uint64_t s = 7;

	ck_assert_ptr_nonnull(buf);
	fill_random(buf, MAXN + 16, 99);
	if (!hw)
		fprintf(stderr, "note: no SSE4.2, hw path not exercised\n");
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = iter < 300 ? (size_t)iter : rng_next(&s) % MAXN;
		size_t a = rng_next(&s) % 16;
		uint32_t seed = iter % 3 ? (uint32_t)rng_next(&s) : 0;
		uint32_t want = crc_ref(seed, buf + a, n);

		ck_assert_uint_eq(codec_crc32c_sw(seed, buf + a, n), want);
		ck_assert_uint_eq(codec_crc32c(seed, buf + a, n), want);
		if (hw)
			ck_assert_uint_eq(codec_crc32c_hw(seed, buf + a, n),
					  want);
	}
	free(buf);
}
END_TEST

START_TEST(test_crc_incremental)
{
	uint8_t buf[1000];

	fill_random(buf, sizeof(buf), 3);
	uint32_t whole = codec_crc32c(0, buf, sizeof(buf));

	for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
		uint32_t c = codec_crc32c(0, buf, cut);

		ck_assert_uint_eq(codec_crc32c(c, buf + cut,
					       sizeof(buf) - cut), whole);
		c = codec_crc32c_sw(0, buf, cut);
		ck_assert_uint_eq(codec_crc32c_sw(c, buf + cut,
						  sizeof(buf) - cut), whole);
	}
}
END_TEST

START_TEST(test_lz4_roundtrip)
{
	static const size_t sizes[] = { 1, 2, 100, 3072, 4096, 65535,
					TFS_CHUNK_SIZE };
	size_t cap = codec_lz4.bound(TFS_CHUNK_SIZE);
	char *raw = malloc(TFS_CHUNK_SIZE);
	char *cmp = malloc(cap);
	char *out = malloc(TFS_CHUNK_SIZE);

	ck_assert_str_eq(codec_lz4.name, "lz4");
	ck_assert_uint_ge(cap, TFS_CHUNK_SIZE);
	for (int kind = 0; kind < 2; kind++) {
		if (kind == 0)
			fill_text(raw, TFS_CHUNK_SIZE);
		else
			fill_random(raw, TFS_CHUNK_SIZE, 5);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			int c = codec_lz4.compress(raw, n, cmp, cap);

			ck_assert_int_gt(c, 0);
			ck_assert_uint_le((size_t)c, codec_lz4.bound(n));
			if (kind == 0 && n >= 3072)
				ck_assert_int_lt(c, (int)n / 2);
			memset(out, 0xAA, TFS_CHUNK_SIZE);
			ck_assert_int_eq(codec_lz4.decompress(cmp, (size_t)c,
							      out, n), (int)n);
			ck_assert_mem_eq(out, raw, n);
		}
	}
	free(raw);
	free(cmp);
	free(out);
}
END_TEST

START_TEST(test_lz4_errors)
{
	char *raw = malloc(TFS_CHUNK_SIZE);
	size_t cap = codec_lz4.bound(TFS_CHUNK_SIZE);
	char *cmp = malloc(cap);
	char *out = malloc(TFS_CHUNK_SIZE + 16);
	int c;

	fill_random(raw, TFS_CHUNK_SIZE, 11);
	/* Incompressible data into a buffer smaller than the input. */
	ck_assert_int_eq(codec_lz4.compress(raw, TFS_CHUNK_SIZE, cmp,
					    TFS_CHUNK_SIZE - 1), -ENOSPC);
	ck_assert_int_eq(codec_lz4.compress(raw, 10, cmp, 0), -ENOSPC);

	fill_text(raw, TFS_CHUNK_SIZE);
	c = codec_lz4.compress(raw, TFS_CHUNK_SIZE, cmp, cap);
	ck_assert_int_gt(c, 0);
	/* Wrong expected length, either way: -EIO. */
	ck_assert_int_eq(codec_lz4.decompress(cmp, (size_t)c, out,
					      TFS_CHUNK_SIZE - 1), -EIO);
	ck_assert_int_eq(codec_lz4.decompress(cmp, (size_t)c, out,
					      TFS_CHUNK_SIZE + 16), -EIO);
	/* Truncated input. */
	ck_assert_int_eq(codec_lz4.decompress(cmp, (size_t)c / 2, out,
					      TFS_CHUNK_SIZE), -EIO);
	ck_assert_int_eq(codec_lz4.decompress(cmp, 0, out, TFS_CHUNK_SIZE),
			 -EIO);
	/* Garbage input never crashes and never reports success with
	 * the wrong length. */
	for (int i = 0; i < 200; i++) {
		int r;

		fill_random(cmp, 2048, (uint64_t)i + 1);
		r = codec_lz4.decompress(cmp, 1 + (size_t)i * 10, out,
					 TFS_CHUNK_SIZE);
		ck_assert(r == -EIO || r == (int)TFS_CHUNK_SIZE);
	}
	free(raw);
	free(cmp);
	free(out);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_speed_report)
{
	enum { N = 4u << 20 };
	uint8_t *buf = malloc(N);
	uint32_t sink = 0;
	double t;

	fill_random(buf, N, 1);
	t = now_s();
	for (int i = 0; i < 8; i++)
		sink ^= codec_crc32c(0, buf, N);
	t = now_s() - t;
	fprintf(stderr, "crc32c (%s): %.0f MB/s\n",
		codec_crc32c_has_hw() ? "sse4.2" : "table",
		8.0 * N / t / 1e6);
	t = now_s();
	for (int i = 0; i < 8; i++)
		sink ^= codec_crc32c_sw(0, buf, N);
	t = now_s() - t;
	fprintf(stderr, "crc32c (table): %.0f MB/s\n", 8.0 * N / t / 1e6);
	ck_assert_uint_eq(sink, 0u); /* eight equal values XOR to 0 */
	free(buf);
}
END_TEST

/* The table: every codec is found by its id and round-trips through the
 * one signature; an unknown id is NULL. */
START_TEST(test_table)
{
	static const uint8_t text[] = "abcabcabcabcabcabcabcabcabcabcabc";
	const uint32_t ids[] = { CODEC_RAW, CODEC_LZ4 };
	uint8_t enc[256], dec[sizeof(text)];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct codec *c = codec_by_id(ids[i]);
		int n;

		ck_assert_ptr_nonnull(c);
		ck_assert_uint_eq(c->id, ids[i]);
		ck_assert_uint_ge(c->bound(sizeof(text)), 1);
		n = c->compress(text, sizeof(text), enc, sizeof(enc));
		if (n == -ENOSPC) {     /* raw: stored as is */
			memcpy(enc, text, sizeof(text));
			n = (int)sizeof(text);
		}
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(c->decompress(enc, (size_t)n, dec,
					       sizeof(text)),
				 (int)sizeof(text));
		ck_assert_mem_eq(dec, text, sizeof(text));
		/* the wrong length is corrupt input */
		ck_assert_int_eq(c->decompress(enc, (size_t)n, dec,
					       sizeof(text) - 1), -EIO);
	}
	ck_assert_ptr_eq(codec_by_id(CODEC_LZ4), &codec_lz4);
	ck_assert_ptr_eq(codec_by_id(CODEC_RAW), &codec_raw);
	ck_assert_ptr_null(codec_by_id(77));
	ck_assert_str_eq(codec_by_id(CODEC_LZ4)->name, "lz4");
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_crc_check_value);
	tcase_add_test(tc, test_crc_random_lengths_alignments);
	tcase_add_test(tc, test_crc_incremental);
	tcase_add_test(tc, test_lz4_roundtrip);
	tcase_add_test(tc, test_lz4_errors);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_speed_report);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
