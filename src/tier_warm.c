/*
 * tier_warm.c - the warm tier behind the tier interface (tier.h): one
 * LZ4 record per chunk in the segment store (seg.h), found through the
 * inode's extent map (ext[k]). It is the write-back tier: dirty chunks are
 * stored here as batches.
 *
 * What it is: locating and reading a chunk's record, appending a batch of
 * records, syncing them, forgetting a file's extents in memory and counting
 * its record bytes. What it is not: the meta rows of the extents (the
 * caller commits them), segment space and compaction (seg*.c, compact.c).
 */
#include "tier.h"

#include "inode.h"

static bool warm_locate(const struct tfs_inode *ino, uint64_t k,
			uint32_t span, struct tier_loc *loc)
{
	const struct ext_slot *e;

	if (k >= ino->next || !ino->ext[k].seg)
		return false;
	e = &ino->ext[k];
	loc->u.rec = (struct seg_loc){
		.seg = e->seg, .off = e->off,
		.rec_len = e->rec_len, .raw_len = e->raw_len,
	};
	loc->len = span;
	return true;
}

static int warm_read_chunk(const struct tier *t, const struct tier_loc *loc,
			   uint64_t ino, uint64_t k, uint8_t *buf)
{
	return segstore_read(t->store, &loc->u.rec, ino, k, buf);
}

/* Records handed to the segment store at once (its gathered writes). */
#define WARM_BATCH 64

static int warm_store_batch(const struct tier *t, uint64_t ino,
			    struct tier_item *items, size_t n)
{
	struct seg_item si[WARM_BATCH];
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i += WARM_BATCH) {
		size_t m = n - i < WARM_BATCH ? n - i : WARM_BATCH;

		for (size_t j = 0; j < m; j++)
			si[j] = (struct seg_item){
				.chunk = items[i + j].k,
				.raw = items[i + j].data,
				.raw_len = items[i + j].len,
			};
		rc = segstore_append_batch(t->store, ino, si, m);
		for (size_t j = 0; j < m && !rc; j++)
			items[i + j].loc = si[j].loc;
	}
	return rc;
}

static int warm_sync(const struct tier *t)
{
	return segstore_sync(t->store);
}

static void warm_release(const struct tier *t, struct tfs_inode *ino)
{
	(void)t;
	for (uint64_t k = 0; k < ino->next; k++)
		ino->ext[k] = (struct ext_slot){ 0 };
}

static uint64_t warm_stored_bytes(const struct tier *t,
				  const struct tfs_inode *ino)
{
	uint64_t n = 0;

	(void)t;
	for (uint64_t k = 0; k < ino->next; k++)
		n += ino->ext[k].seg ? ino->ext[k].rec_len : 0;
	return n;
}

const struct tier_ops tier_warm_ops = {
	.name = "warm",
	.locate = warm_locate,
	.read_chunk = warm_read_chunk,
	.store_batch = warm_store_batch,
	.sync = warm_sync,
	.release = warm_release,
	.stored_bytes = warm_stored_bytes,
};
