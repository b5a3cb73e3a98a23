/*
 * reqloop.h - the daemon's multi-threaded FUSE request loop: one reader at
 * a time, and the thread that answered the last quick request reads the
 * next one.
 *
 * What it is: a replacement for libfuse's fuse_session_loop_mt() built on
 * its public fuse_session_receive_buf() / fuse_session_process_buf(). A
 * program that sends one request after another (create, write, stat) is
 * served by one thread, which the scheduler keeps on the program's CPU;
 * libfuse's loop keeps every idle worker blocked in read(2) of /dev/fuse,
 * where the kernel wakes the one that waited longest, so consecutive
 * requests went to different threads, often on the other CPU (see
 * reqloop.c). Requests that may take long, and any request that is still
 * being answered after a tick with nobody reading, get another reader, so
 * a slow request never holds up the others for more than a tick or two.
 * What it is not: a scheduler, a thread pool for the core, or a change of
 * what a request does; handlers run exactly as under libfuse's loop.
 */
#ifndef TIERFS_REQLOOP_H
#define TIERFS_REQLOOP_H

#include <fuse_lowlevel.h>

/* Serve `se` with up to max_threads worker threads until the session ends
 * (unmount: 0) or a signal handler installed by
 * fuse_set_signal_handlers() calls fuse_session_exit() (0). Returns
 * -errno when the loop could not start (no memory, no thread) or reading
 * the device failed. Resets the session before it returns, as
 * fuse_session_loop_mt() does. */
int reqloop_run(struct fuse_session *se, unsigned max_threads);

#endif
