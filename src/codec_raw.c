/*
 * codec_raw.c - the identity codec (codec.h): what a warm record whose
 * chunk LZ4 could not shrink holds. "Compressing" never pays (-ENOSPC, so
 * a caller falls back to storing raw); decoding is a length check and a
 * copy.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "codec.h"

static size_t raw_bound(size_t n)
{
	return n;
}

static int raw_compress(const void *src, size_t n, void *dst, size_t dst_cap)
{
	return -ENOSPC;
}

static int raw_decompress(const void *src, size_t n, void *dst,
			  size_t raw_len)
{
	if (n != raw_len || raw_len > INT32_MAX)
		return -EIO;
	if (n > 0)
		memcpy(dst, src, n);
	return (int)n;
}

const struct codec codec_raw = {
	.id = CODEC_RAW,
	.name = "raw",
	.bound = raw_bound,
	.compress = raw_compress,
	.decompress = raw_decompress,
};
