/*
 * fuse_ops.h - the low-level FUSE operations table of tierfs. The session's
 * userdata must be the mounted struct fs (fs.h).
 */
#ifndef TIERFS_FUSE_OPS_H
#define TIERFS_FUSE_OPS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>

extern const struct fuse_lowlevel_ops tierfs_ops;

/* The session the ops answer on (for notifications to the kernel) and
 * whether its loop is multi-threaded; call once after fuse_session_new(),
 * before the loop starts. */
void fuse_ops_set_session(struct fuse_session *se, bool threaded);

#endif
