/*
 * codec.c - the codec table (codec_by_id) and CRC32C.
 *
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78, pre- and
 * post-inverted, so the check value of "123456789" is 0xE3069283):
 * - hardware: the SSE4.2 crc32 instruction, 8 bytes per step, on three
 *   independent 4 KiB streams at once (the instruction's latency is three
 *   times its throughput), joined by CRC linearity: the CRC of A||B is
 *   that of B alone XOR that of A followed by |B| zero bytes, and appending
 *   4096 zero bytes is a constant 32x32 GF(2) matrix (crc_zeros_4k, its
 *   32 columns computed offline; the unit test compares every length with
 *   a bitwise CRC). About three times the single-stream speed. Compiled with
 *   a per-function target attribute so the rest of the file (and the build)
 *   needs no -msse4.2; chosen at run time by __builtin_cpu_supports(), which
 *   only reads the CPU model libgcc filled in at startup (no state here).
 * - software: slice-by-8. The eight 256-entry tables are const and built by
 *   the preprocessor: CRC tables are linear over GF(2), so entry n of table
 *   k is the XOR of the entries for n's set bits, and only those 8x8 single
 *   bit entries (T_k[1 << i], computed once offline, checked by the unit
 *   test against a bitwise CRC) are written out below.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"

/* ---- the table: one line per codec ---- */

static const struct codec *const codecs[] = {
	&codec_raw,
	&codec_lz4,
};

const struct codec *codec_by_id(uint32_t id)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i]->id == id)
			return codecs[i];
	return NULL;
}

/* ---- CRC32C, software slice-by-8 ---- */

/* Entry n of a table whose single-bit entries are c0..c7. */
#define CRC_E(n, c0, c1, c2, c3, c4, c5, c6, c7)                         \
	((((n) & 1u) ? c0 : 0u) ^ (((n) & 2u) ? c1 : 0u) ^               \
	 (((n) & 4u) ? c2 : 0u) ^ (((n) & 8u) ? c3 : 0u) ^               \
	 (((n) & 16u) ? c4 : 0u) ^ (((n) & 32u) ? c5 : 0u) ^             \
	 (((n) & 64u) ? c6 : 0u) ^ (((n) & 128u) ? c7 : 0u))
#define CRC_K0(n) CRC_E(n, 0xf26b8303u, 0xe13b70f7u, 0xc79a971fu, \
	0x8ad958cfu, 0x105ec76fu, 0x20bd8edeu, 0x417b1dbcu, 0x82f63b78u)
#define CRC_K1(n) CRC_E(n, 0x13a29877u, 0x274530eeu, 0x4e8a61dcu, \
	0x9d14c3b8u, 0x3fc5f181u, 0x7f8be302u, 0xff17c604u, 0xfbc3faf9u)
#define CRC_K2(n) CRC_E(n, 0xa541927eu, 0x4f6f520du, 0x9edea41au, \
	0x38513ec5u, 0x70a27d8au, 0xe144fb14u, 0xc76580d9u, 0x8b277743u)
#define CRC_K3(n) CRC_E(n, 0xdd45aab8u, 0xbf672381u, 0x7b2231f3u, \
	0xf64463e6u, 0xe964b13du, 0xd725148bu, 0xaba65fe7u, 0x52a0c93fu)
#define CRC_K4(n) CRC_E(n, 0x38116facu, 0x7022df58u, 0xe045beb0u, \
	0xc5670b91u, 0x8f2261d3u, 0x1ba8b557u, 0x37516aaeu, 0x6ea2d55cu)
#define CRC_K5(n) CRC_E(n, 0xef306b19u, 0xdb8ca0c3u, 0xb2f53777u, \
	0x6006181fu, 0xc00c303eu, 0x85f4168du, 0x0e045bebu, 0x1c08b7d6u)
#define CRC_K6(n) CRC_E(n, 0x68032cc8u, 0xd0065990u, 0xa5e0c5d1u, \
	0x4e2dfd53u, 0x9c5bfaa6u, 0x3d5b83bdu, 0x7ab7077au, 0xf56e0ef4u)
#define CRC_K7(n) CRC_E(n, 0x493c7d27u, 0x9278fa4eu, 0x211d826du, \
	0x423b04dau, 0x847609b4u, 0x0d006599u, 0x1a00cb32u, 0x34019664u)

#define CRC_R4(K, n)   K(n), K((n) + 1), K((n) + 2), K((n) + 3)
#define CRC_R16(K, n)  CRC_R4(K, n), CRC_R4(K, (n) + 4), \
	CRC_R4(K, (n) + 8), CRC_R4(K, (n) + 12)
#define CRC_R64(K, n)  CRC_R16(K, n), CRC_R16(K, (n) + 16), \
	CRC_R16(K, (n) + 32), CRC_R16(K, (n) + 48)
#define CRC_R256(K)    { CRC_R64(K, 0u), CRC_R64(K, 64u), \
	CRC_R64(K, 128u), CRC_R64(K, 192u) }

static const uint32_t crc_tab[8][256] = {
	CRC_R256(CRC_K0), CRC_R256(CRC_K1), CRC_R256(CRC_K2),
	CRC_R256(CRC_K3), CRC_R256(CRC_K4), CRC_R256(CRC_K5),
	CRC_R256(CRC_K6), CRC_R256(CRC_K7),
};

uint32_t codec_crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	while (n > 0 && ((uintptr_t)p & 7u) != 0) {
		c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xffu];
		n--;
	}
	while (n >= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = crc_tab[7][lo & 0xffu] ^ crc_tab[6][(lo >> 8) & 0xffu] ^
		    crc_tab[5][(lo >> 16) & 0xffu] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xffu] ^ crc_tab[2][(hi >> 8) & 0xffu] ^
		    crc_tab[1][(hi >> 16) & 0xffu] ^ crc_tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xffu];
	return ~c;
}

/* ---- CRC32C, SSE4.2 ---- */

#if defined(__x86_64__)

/* Column i: the CRC state 1 << i after 4096 zero bytes (no inversion). */
static const uint32_t crc_zeros_4k[32] = {
	0xc2a5b65eu, 0x80a71a4du, 0x04a2426bu, 0x094484d6u,
	0x128909acu, 0x25121358u, 0x4a2426b0u, 0x94484d60u,
	0x2d7cec31u, 0x5af9d862u, 0xb5f3b0c4u, 0x6e0b1779u,
	0xdc162ef2u, 0xbdc02b15u, 0x7e6c20dbu, 0xfcd841b6u,
	0xfc5cf59du, 0xfd559dcbu, 0xff474d67u, 0xfb62ec3fu,
	0xf329ae8fu, 0xe3bf2befu, 0xc292212fu, 0x80c834afu,
	0x047c1fafu, 0x08f83f5eu, 0x11f07ebcu, 0x23e0fd78u,
	0x47c1faf0u, 0x8f83f5e0u, 0x1aeb9d31u, 0x35d73a62u,
};
#define CRC_STREAM 4096

static uint32_t crc_shift_4k(uint32_t c)
{
	uint32_t r = 0;

	for (int i = 0; c; i++, c >>= 1)
		if (c & 1u)
			r ^= crc_zeros_4k[i];
	return r;
}

__attribute__((target("sse4.2")))
uint32_t codec_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (n > 0 && ((uintptr_t)p & 7u) != 0) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 3 * CRC_STREAM) {
		uint64_t c1 = 0, c2 = 0;

		for (size_t i = 0; i < CRC_STREAM; i += 8) {
			uint64_t v0, v1, v2;

			memcpy(&v0, p + i, 8);
			memcpy(&v1, p + CRC_STREAM + i, 8);
			memcpy(&v2, p + 2 * CRC_STREAM + i, 8);
			c = __builtin_ia32_crc32di(c, v0);
			c1 = __builtin_ia32_crc32di(c1, v1);
			c2 = __builtin_ia32_crc32di(c2, v2);
		}
		c = crc_shift_4k((uint32_t)c) ^ (uint32_t)c1;
		c = crc_shift_4k((uint32_t)c) ^ (uint32_t)c2;
		p += 3 * CRC_STREAM;
		n -= 3 * CRC_STREAM;
	}
	while (n >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

bool codec_crc32c_has_hw(void)
{
	return __builtin_cpu_supports("sse4.2");
}

#else

uint32_t codec_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	return codec_crc32c_sw(crc, buf, n);
}

bool codec_crc32c_has_hw(void)
{
	return false;
}

#endif

uint32_t codec_crc32c(uint32_t crc, const void *buf, size_t n)
{
	if (codec_crc32c_has_hw())
		return codec_crc32c_hw(crc, buf, n);
	return codec_crc32c_sw(crc, buf, n);
}
