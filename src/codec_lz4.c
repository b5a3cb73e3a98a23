/*
 * codec_lz4.c - the LZ4 block codec (codec.h): a dozen lines around liblz4's
 * one-shot block calls. Decoding insists on exactly raw_len output bytes: a
 * record that decodes to anything else is corrupt (-EIO), whatever LZ4
 * itself thinks of it.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include <lz4.h>

#include "codec.h"

static size_t lz4_bound(size_t n)
{
	if (n > LZ4_MAX_INPUT_SIZE)
		return 0;
	return (size_t)LZ4_compressBound((int)n);
}

static int lz4_compress(const void *src, size_t n, void *dst, size_t dst_cap)
{
	int r;

	if (n > LZ4_MAX_INPUT_SIZE)
		return -ENOSPC;
	if (dst_cap > INT_MAX)
		dst_cap = INT_MAX;
	if (dst_cap == 0)
		return -ENOSPC;
	r = LZ4_compress_default(src, dst, (int)n, (int)dst_cap);
	if (r <= 0)
		return -ENOSPC;
	return r;
}

static int lz4_decompress(const void *src, size_t n, void *dst,
			  size_t raw_len)
{
	int r;

	if (n > INT_MAX || raw_len > INT_MAX || n == 0)
		return -EIO;
	r = LZ4_decompress_safe(src, dst, (int)n, (int)raw_len);
	if (r < 0 || (size_t)r != raw_len)
		return -EIO;
	return r;
}

const struct codec codec_lz4 = {
	.id = CODEC_LZ4,
	.name = "lz4",
	.bound = lz4_bound,
	.compress = lz4_compress,
	.decompress = lz4_decompress,
};
