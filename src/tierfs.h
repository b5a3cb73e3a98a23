/*
 * tierfs.h - constants and small types shared by every core module.
 *
 * This is not a module: it has no .c file and holds no state. Anything that
 * needs a lock or an allocation lives in its own module.
 */
#ifndef TIERFS_H
#define TIERFS_H

#include <stdint.h>

/* A file's data is cut into chunks of this size; the last one is short. */
#define TFS_CHUNK_SIZE  (64u * 1024u)
#define TFS_CHUNK_SHIFT 16

/* The root directory's inode number (FUSE_ROOT_ID). */
#define TFS_ROOT_INO 1u

/* Longest file name (one path component) in bytes. */
#define TFS_NAME_MAX 255

/* Where a file's bytes live. The order matters: lower is faster. */
enum tfs_tier {
	TFS_HOT = 0,
	TFS_WARM = 1,
	TFS_COLD = 2,
};
#define TFS_NTIERS 3
#define TFS_PIN_NONE (-1)

/* "hot"/"warm"/"cold" for a tier, "?" for anything else. */
static inline const char *tfs_tier_name(int t)
{
	static const char *const names[] = { "hot", "warm", "cold" };
	return (t >= 0 && t < TFS_NTIERS) ? names[t] : "?";
}

/* Nanoseconds since the epoch, as stored in metadata. */
typedef int64_t tfs_ns;

#endif
