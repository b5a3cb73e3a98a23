/*
 * policy.h - the background thread that makes tierfs manage itself.
 *
 * What it is: one thread per mount. Every `interval`, and whenever woken,
 * it: promotes the files queued by fs_touch(); demotes hot files idle for
 * longer than hot_age to warm; keeps the hot tier under hot_max; demotes
 * warm files idle for longer than warm_age to cold, batched into archives
 * in path order; writes access times and counts back to meta in one
 * transaction; runs a compaction pass. It also re-reads STORE/tierfs.conf
 * when it changes (inotify) or on SIGHUP, and logs what changed.
 * Pinned files are never moved off their pinned tier.
 *
 * What it is not: the mover. Every move goes through fs_move() and
 * fs_cold_demote(), the same paths the xattrs use, so the policy needs no
 * locking rules of its own beyond theirs.
 */
#ifndef TIERFS_POLICY_H
#define TIERFS_POLICY_H

#include <stdint.h>

struct fs;
struct policy;

/* Start the thread and plug the policy into the filesystem (fs.h
 * fs_set_upcalls: queued promotions, backlog). Start after daemonizing
 * (threads do not survive fork), before the FUSE loop serves requests,
 * with SIGHUP blocked in every thread (the policy thread takes it through
 * a signalfd); stop after the loop, before fs_unmount(). */
int policy_start(struct policy **out, struct fs *f);
/* Stop and join the thread; tolerates NULL; sets *p = NULL. */
void policy_stop(struct policy **p);
/* Ask for file `ino` to be promoted to hot soon (reads within the window
 * reached promote_after). Never blocks. */
void policy_queue_promote(struct policy *p, uint64_t ino);
/* Moves waiting for the policy thread (queued promotions). */
uint64_t policy_backlog(struct policy *p);
/* Run a tick now. */
void policy_wake(struct policy *p);
/* Delete dead segments and archives now (compact_dead), without a tick. */
void policy_wake_compact(struct policy *p);
/* The pin a directory policy (user.tierfs.policy, dirpol.h) sets for file
 * `ino`, as of the last tick; TFS_PIN_NONE if none (or p is NULL). Takes
 * the policy's lock (a leaf). */
int policy_dir_pin(struct policy *p, uint64_t ino);

#endif
