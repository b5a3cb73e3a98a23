/*
 * codec.h - stateless block codecs behind one signature, and the checksum
 * every on-disk record uses.
 *
 * What it is: a table of codecs, each one file (codec_raw.c, codec_lz4.c)
 * exporting one const struct codec, found by its id with codec_by_id();
 * a new codec is its file, an id below, and one line in codec.c's table.
 * Ids are stable (they may be stored). xz blocks stay in xzarc.c, because
 * liblzma's block API needs more than a buffer pair. And CRC32C (hardware
 * SSE4.2 when the CPU has it, table otherwise).
 * What it is not: a stream API; every call encodes or decodes one whole
 * buffer and keeps no state between calls.
 */
#ifndef TIERFS_CODEC_H
#define TIERFS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Codec ids. */
enum {
	CODEC_RAW = 0,          /* stored as is */
	CODEC_LZ4 = 1,          /* LZ4 block */
};

struct codec {
	uint32_t id;            /* CODEC_* */
	const char *name;
	/* Worst-case compressed size of n input bytes. */
	size_t (*bound)(size_t n);
	/* Compress src into dst (capacity dst_cap); returns the compressed
	 * length, or -ENOSPC if it does not fit (caller then stores raw). */
	int (*compress)(const void *src, size_t n, void *dst, size_t dst_cap);
	/* Decompress exactly raw_len bytes; returns raw_len, or -EIO when the
	 * input is corrupt or does not decode to exactly raw_len bytes. */
	int (*decompress)(const void *src, size_t n, void *dst, size_t raw_len);
};

extern const struct codec codec_raw;
extern const struct codec codec_lz4;

/* The codec with this id, or NULL (an id nobody knows: corrupt input). */
const struct codec *codec_by_id(uint32_t id);

/* CRC32C (Castagnoli) of buf, continuing from crc (start with 0). */
uint32_t codec_crc32c(uint32_t crc, const void *buf, size_t n);

/* The two implementations codec_crc32c() picks from, for tests and
 * benchmarks: table-driven (always available) and SSE4.2, which may only
 * be called when codec_crc32c_has_hw() (elsewhere it is the table code). */
uint32_t codec_crc32c_sw(uint32_t crc, const void *buf, size_t n);
uint32_t codec_crc32c_hw(uint32_t crc, const void *buf, size_t n);
bool codec_crc32c_has_hw(void);

#endif
