/*
 * tier_cold.c - the cold tier behind the tier interface (tier.h): a file's
 * bytes as one range of an xz archive, found through the inode's cold
 * extent and read through the archive catalog (cold.h).
 *
 * What it is: locating and reading a chunk's bytes in the archive,
 * forgetting the file's cold extent in memory and counting its share of
 * the archive. What it is not: writing archives (whole batches of files go
 * into new archives through the cold mover, fs_cold.c, and cold_arc_*),
 * the catalog itself (cold.c) or compaction (compact.c).
 */
#include "tier.h"

#include <errno.h>
#include <sys/types.h>

#include "cold.h"
#include "inode.h"

static bool cold_locate(const struct tfs_inode *ino, uint64_t k,
			uint32_t span, struct tier_loc *loc)
{
	uint64_t start = k << TFS_CHUNK_SHIFT;
	uint64_t n;

	if (!ino->has_cold || start >= ino->cold.len)
		return false;
	n = ino->cold.len - start;
	loc->u.arc.ext = ino->cold;
	loc->u.arc.off = start;
	loc->len = n > span ? span : (uint32_t)n;
	return true;
}

static int cold_read_chunk(const struct tier *t, const struct tier_loc *loc,
			   uint64_t ino, uint64_t k, uint8_t *buf)
{
	ssize_t got = cold_read(t->store, &loc->u.arc.ext, buf, loc->len,
				loc->u.arc.off);

	(void)ino;
	(void)k;
	if (got < 0)
		return (int)got;
	return (uint64_t)got == loc->len ? (int)got : -EIO;
}

static void cold_release(const struct tier *t, struct tfs_inode *ino)
{
	(void)t;
	ino->has_cold = false;
}

static uint64_t cold_stored_bytes_of(const struct tier *t,
				     const struct tfs_inode *ino)
{
	return ino->has_cold ? cold_stored_bytes(t->store, &ino->cold) : 0;
}

const struct tier_ops tier_cold_ops = {
	.name = "cold",
	.locate = cold_locate,
	.read_chunk = cold_read_chunk,
	.release = cold_release,
	.stored_bytes = cold_stored_bytes_of,
};
