/*
 * policy_int.h - private to policy.c and policy_rules.c: the policy's
 * state and the rules a tick runs, in the order tick() calls them (the
 * rules themselves are described at the top of policy_rules.c).
 *
 * What it is not: an API. Everybody else uses policy.h.
 */
#ifndef TIERFS_POLICY_INT_H
#define TIERFS_POLICY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "tierfs.h"

struct dirpol_map;
struct tfs_config;

struct policy {
	struct fs *fs;
	pthread_t thread;
	int wake_fd;                    /* eventfd */
	int inotify_fd;                 /* -1 if unavailable */
	int sig_fd;                     /* signalfd for SIGHUP, or -1 */

	pthread_mutex_t lock;           /* a leaf lock */
	bool stop;                      /* protected by lock */
	bool tick_now;                  /* protected by lock: policy_wake */
	bool compact_now;               /* protected by lock: only the dead
					   pass of compaction is wanted */
	/* Directory policies, rebuilt every tick by the policy thread, which
	 * reads it without the lock (it is the only writer); other threads
	 * read it under lock. */
	struct dirpol_map *dirpol;      /* protected by lock (writes) */
	uint64_t *queue;                /* protected by lock: to promote */
	size_t nqueue, qcap;            /* protected by lock */
};

/* Once after mount: load the hot set back into RAM. */
void policy_restore(struct policy *p, const struct tfs_config *cfg);
/* Rule 1: promote the queued files. */
void policy_promote(struct policy *p, const struct tfs_config *cfg);
/* Rule 2: demote idle hot files to warm. */
void policy_hot_aging(struct policy *p, const struct tfs_config *cfg,
		      tfs_ns now);
/* Rule 4: demote idle warm files to cold; move pinned files home. */
void policy_warm_aging(struct policy *p, const struct tfs_config *cfg,
		       tfs_ns now);
/* Rule 5: write changed access times and counts to meta. */
void policy_persist_access(struct policy *p);

#endif
