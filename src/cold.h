/*
 * cold.h - the cold tier as the filesystem sees it: the catalog of archives
 * in STORE/cold, reading a file's bytes out of them, and demoting batches
 * of files into new archives.
 *
 * What it is: the glue between fs and xzarc/blkcache. It opens the
 * archives meta knows (deleting orphans at mount), keeps them open, serves
 * cold reads through one shared block cache, and writes new archives with
 * the write-sync-commit-release order.
 * What it is not: the archive format (xzarc.h) nor the policy deciding what
 * to demote (policy.c).
 */
#ifndef TIERFS_COLD_H
#define TIERFS_COLD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "meta.h"

struct cold;
struct fs;

/* Open STORE/cold: open every archive meta lists, delete the others. */
int cold_open(struct cold **out, struct fs *f, const struct tfs_config *cfg);
void cold_close(struct cold **c);

/* Read `len` bytes at file offset `off` of a file whose cold extent is
 * `ext` (off + len <= ext->len). Returns bytes read or -EIO. Thread-safe;
 * decodes only the xz blocks covering the range. */
ssize_t cold_read(struct cold *c, const struct meta_cold *ext, void *dst,
		  size_t len, uint64_t off);

#endif
