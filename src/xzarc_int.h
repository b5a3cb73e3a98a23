/*
 * xzarc_int.h - private to xzarc.c (writer) and xzarc_read.c (reader):
 * the limits both sides must agree on, so that every archive the writer
 * accepts to produce is one the reader accepts to decode.
 *
 * What it is not: an API. Everybody else uses xzarc.h.
 */
#ifndef TIERFS_XZARC_INT_H
#define TIERFS_XZARC_INT_H

#include <stdint.h>

/* Largest block (uncompressed) we agree to decode: bounds one malloc. */
#define XZARC_MAX_BLOCK ((uint64_t)256 << 20)

#endif
