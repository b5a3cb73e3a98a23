/*
 * fuse_ops.h - the low-level FUSE operations table of tierfs. The session's
 * userdata must be the mounted struct fs (fs.h).
 */
#ifndef TIERFS_FUSE_OPS_H
#define TIERFS_FUSE_OPS_H

#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops tierfs_ops;

#endif
