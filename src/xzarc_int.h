/*
 * xzarc_int.h - private to xzarc.c (writer) and xzarc_read.c (reader):
 * the limits both sides must agree on, so that every archive the writer
 * accepts to produce is one the reader accepts to decode.
 *
 * What it is not: an API. Everybody else uses xzarc.h.
 */
#ifndef TIERFS_XZARC_INT_H
#define TIERFS_XZARC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest block (uncompressed) we agree to decode: bounds one malloc. */
#define XZARC_MAX_BLOCK ((uint64_t)256 << 20)

/* CRC-32 as lzma_crc32(buf, size, crc) computes it (the same result for
 * every input), by carry-less multiplication where the CPU has it
 * (xzarc_crc.c). */
uint32_t xzarc_crc32(const uint8_t *buf, size_t size, uint32_t crc);
/* True if xzarc_crc32 uses PCLMULQDQ on this CPU. */
bool xzarc_crc32_has_clmul(void);

#endif
