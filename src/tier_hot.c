/*
 * tier_hot.c - the hot tier behind the tier interface (tier.h): a file's
 * RAM chunks. Its store is struct hot (hot.h: chunk buffers, the budget,
 * the resident list).
 *
 * What it is: releasing a file's RAM copy (its clean chunks, its place on
 * the resident list) and counting its RAM. What it is not: reading (RAM
 * chunks are read by fs_read under the inode lock, whatever the file's
 * tier), the load into RAM (fs_make_resident, a move) or the budget's
 * eviction (fs_tier.c).
 */
#include "tier.h"

#include "hot.h"
#include "inode.h"

static void hot_release(const struct tier *t, struct tfs_inode *ino)
{
	struct hot *h = t->store;

	for (uint64_t k = 0; k < ino->nchunks_cap; k++)
		if (ino->chunks[k] && !ino->chunks[k]->dirty)
			hot_chunk_drop(h, ino, k);
	ino->resident = false;
	hot_list_remove(h, ino);
}

static uint64_t hot_stored_bytes(const struct tier *t,
				 const struct tfs_inode *ino)
{
	(void)t;
	return ino->ram_bytes;
}

const struct tier_ops tier_hot_ops = {
	.name = "hot",
	.release = hot_release,
	.stored_bytes = hot_stored_bytes,
};
