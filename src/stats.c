/* stats.c - see stats.h. */
#include "stats.h"

#include <string.h>
#include <time.h>

void stats_init(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	s->started_ns = stats_now_ns();
}

void stats_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

uint64_t stats_bucket_le_ns(int i)
{
	if (i >= STATS_LAT_BUCKETS - 1)
		return UINT64_MAX;
	return 1000ull << i;
}

void stats_record_latency(struct stats_hist *h, uint64_t ns)
{
	int i = 0;

	while (i < STATS_LAT_BUCKETS - 1 && ns >= stats_bucket_le_ns(i))
		i++;
	stats_add(&h->bucket[i], 1);
	stats_add(&h->count, 1);
	stats_add(&h->sum_ns, ns);
}

uint64_t stats_quantile(const struct stats_hist *h, double q)
{
	uint64_t total = atomic_load(&h->count), seen = 0;

	if (!total)
		return 0;
	for (int i = 0; i < STATS_LAT_BUCKETS; i++) {
		uint64_t b = atomic_load(&h->bucket[i]);

		if (b && seen + b >= (uint64_t)(q * (double)total + 0.5)) {
			/* Interpolate inside the bucket. */
			uint64_t lo = i ? stats_bucket_le_ns(i - 1) : 0;
			uint64_t hi = stats_bucket_le_ns(i);
			double frac;

			if (hi == UINT64_MAX)
				return lo;
			frac = (q * (double)total - (double)seen) / (double)b;
			if (frac < 0)
				frac = 0;
			return lo + (uint64_t)((double)(hi - lo) * frac);
		}
		seen += b;
	}
	return stats_bucket_le_ns(STATS_LAT_BUCKETS - 2);
}

uint64_t stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
