/*
 * compact.h - giving back the space of dead data: warm segments and cold
 * archives whose live fraction fell under compact_threshold are rewritten,
 * and the ones nothing points at are deleted.
 *
 * What it is: one pass, called by the policy thread every tick (and by
 * tests). Each rewrite follows the migration order: write the new copy,
 * sync it, commit the new locations in one meta transaction (only where
 * the old location is still the current one), then delete the old file.
 * What it is not: a scheduler; it does one pass when asked.
 */
#ifndef TIERFS_COMPACT_H
#define TIERFS_COMPACT_H

#include <stdint.h>

struct fs;

/* One compaction pass; *freed gets the bytes of store files deleted. */
int compact_run(struct fs *f, uint64_t *freed);
/* Only the first part of a pass: delete the segments and archives nothing
 * points at (no rewrites). Cheap; run soon after a big file is deleted. */
int compact_dead(struct fs *f, uint64_t *freed);

#endif
