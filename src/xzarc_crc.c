/*
 * xzarc_crc.c - CRC-32 (the xz check type CRC32: IEEE 802.3, reflected,
 * as lzma_crc32 computes it) by carry-less multiplication, for verifying
 * blocks on the cold read path. See xzarc_int.h.
 *
 * Why: a stored (uncompressed) block costs a read, a check and a copy;
 * liblzma's table-driven lzma_crc32 (slice-by-8, ~1.5 GB/s here) was a
 * fifth of the daemon's time in a sequential read of stored blocks.
 * Folding with PCLMULQDQ checks 16 bytes per multiply pair, several times
 * faster.
 *
 * How (the folding method of Gopal et al., Intel, "Fast CRC computation
 * for generic polynomials using PCLMULQDQ", 2009): the message is a
 * polynomial over GF(2); four 128-bit lanes are folded forward 64 bytes at
 * a time (each lane's two 64-bit halves multiplied by x^(512+64) and
 * x^512 mod P, bit-reflected), then folded into one lane, reduced to 64
 * and then 32 bits, and a Barrett reduction gives the remainder. The
 * constants below are those powers of x mod P (P = 0x104C11DB7), bit
 * reflected and shifted as the reflected domain needs; mu is
 * floor(x^64 / P). The unit test compares against lzma_crc32 on every
 * length from 0 to 1 KiB at every alignment and on large buffers.
 *
 * What it is not: a general CRC library. Lengths under 64 bytes and the
 * tail after the last 16-byte step, and CPUs without PCLMULQDQ/SSE4.1, go
 * to lzma_crc32, which has the last word on the result's format.
 */
#include "xzarc_int.h"

#include <lzma.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define XC_TARGET __attribute__((target("pclmul,sse4.1")))

/* Fold lane x forward over 128 bits' distance (k = x^(d+64), x^d). */
XC_TARGET static inline __m128i xc_fold(__m128i x, __m128i k, __m128i next)
{
	__m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
	__m128i hi = _mm_clmulepi64_si128(x, k, 0x11);

	return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The CRC state (not inverted) after n bytes at p, n >= 64 and a multiple
 * of 16. */
XC_TARGET static uint32_t xc_clmul(uint32_t state, const uint8_t *p,
				   size_t n)
{
	const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
	const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
	const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
	const __m128i poly = _mm_set_epi64x(0x1f7011641LL, 0x1db710641LL);
	const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
	__m128i x0, x1, x2, x3, t;

	x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
	x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
	x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)state));
	p += 64;
	n -= 64;
	for (; n >= 64; p += 64, n -= 64) {
		const __m128i *q = (const __m128i *)(const void *)p;

		x0 = xc_fold(x0, k1k2, _mm_loadu_si128(q));
		x1 = xc_fold(x1, k1k2, _mm_loadu_si128(q + 1));
		x2 = xc_fold(x2, k1k2, _mm_loadu_si128(q + 2));
		x3 = xc_fold(x3, k1k2, _mm_loadu_si128(q + 3));
	}
	/* Four lanes into one, then the remaining 16-byte steps. */
	x0 = xc_fold(x0, k3k4, x1);
	x0 = xc_fold(x0, k3k4, x2);
	x0 = xc_fold(x0, k3k4, x3);
	for (; n >= 16; p += 16, n -= 16)
		x0 = xc_fold(x0, k3k4,
			     _mm_loadu_si128((const __m128i *)(const void *)p));
	/* 128 -> 64 bits (appending 32 zero bits), 64 -> 32... */
	t = _mm_clmulepi64_si128(x0, k3k4, 0x10);
	x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
	t = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), k5, 0x00);
	x0 = _mm_xor_si128(_mm_srli_si128(x0, 4), t);
	/* ... and Barrett's reduction to the remainder. */
	t = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), poly, 0x10);
	t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
	x0 = _mm_xor_si128(x0, t);
	return (uint32_t)_mm_extract_epi32(x0, 1);
}

bool xzarc_crc32_has_clmul(void)
{
	return __builtin_cpu_supports("pclmul") &&
	       __builtin_cpu_supports("sse4.1");
}

uint32_t xzarc_crc32(const uint8_t *buf, size_t size, uint32_t crc)
{
	size_t n = size & ~(size_t)15;
	uint32_t state;

	if (size < 64 || !xzarc_crc32_has_clmul())
		return lzma_crc32(buf, size, crc);
	state = xc_clmul(~crc, buf, n);
	return lzma_crc32(buf + n, size - n, ~state);
}

#else

bool xzarc_crc32_has_clmul(void)
{
	return false;
}

uint32_t xzarc_crc32(const uint8_t *buf, size_t size, uint32_t crc)
{
	return lzma_crc32(buf, size, crc);
}

#endif
