/*
 * stats.h - counters and latency histograms for .tiers/stats and
 * .tiers/metrics.
 *
 * What it is: lock-free counters (C11 atomics) bumped on the I/O paths, and
 * a fixed log-scale latency histogram per tier from which p50/p95/p99 are
 * estimated. Monotonic since mount.
 * What it is not: per-tier file/byte totals (those are computed on demand
 * from the inode table and meta) nor a formatter (fs_ctl.c writes JSON and
 * Prometheus text).
 */
#ifndef TIERFS_STATS_H
#define TIERFS_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "tierfs.h"

/* Buckets: [0] < 1 us, [i] < 2^i us ... last is +Inf. */
#define STATS_LAT_BUCKETS 28

struct stats_hist {
	_Atomic uint64_t bucket[STATS_LAT_BUCKETS];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
};

struct stats {
	_Atomic uint64_t reads[TFS_NTIERS];        /* read requests served */
	_Atomic uint64_t read_bytes[TFS_NTIERS];
	_Atomic uint64_t hits[TFS_NTIERS];         /* served without decode */
	_Atomic uint64_t misses[TFS_NTIERS];       /* needed a decode */
	_Atomic uint64_t promotions[TFS_NTIERS];   /* moved up into tier */
	_Atomic uint64_t demotions[TFS_NTIERS];    /* moved down into tier */
	_Atomic uint64_t errors[TFS_NTIERS];       /* EIO served */
	_Atomic uint64_t writes;
	_Atomic uint64_t write_bytes;
	_Atomic uint64_t writebacks;               /* chunks written to warm */
	_Atomic uint64_t writeback_bytes;
	_Atomic uint64_t evictions;                /* files dropped for budget */
	_Atomic uint64_t migration_errors;
	_Atomic uint64_t compactions;
	_Atomic uint64_t compacted_bytes;
	_Atomic uint64_t config_reloads;           /* tierfs.conf applied */
	_Atomic uint64_t config_reload_failures;   /* refused, old kept */
	uint64_t started_ns;                       /* stats_now_ns() at init */
	struct stats_hist lat[TFS_NTIERS];         /* read latency */
};

void stats_init(struct stats *s);
void stats_add(_Atomic uint64_t *c, uint64_t n);
void stats_record_latency(struct stats_hist *h, uint64_t ns);
/* Estimated q-quantile (0 < q < 1) in nanoseconds; 0 if empty. */
uint64_t stats_quantile(const struct stats_hist *h, double q);
/* Upper bound of bucket i in nanoseconds (UINT64_MAX for the last). */
uint64_t stats_bucket_le_ns(int i);
/* Monotonic clock in nanoseconds. */
uint64_t stats_now_ns(void);

#endif
