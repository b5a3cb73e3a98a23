/*
 * fs_ctl_render.c - what the .tiers control files say: MNT/.tiers/stats
 * (JSON), MNT/.tiers/metrics (Prometheus text exposition format, also
 * served over HTTP by the daemon) and MNT/.tiers/config (the settings in
 * force, in tierfs.conf syntax).
 *
 * The numbers: per-tier file counts and logical bytes come from meta's
 * inode rows, corrected by the in-memory state of loaded inodes (a hot file
 * is hot only while it is in RAM); stored bytes are RAM held for hot, live
 * record bytes for warm, and the live share of archive bytes for cold, in
 * both cases without the durable copies of hot files. Counters come from
 * struct stats (monotonic since mount).
 *
 * What it is not: the tree or the caching of renderings (fs_ctl.c).
 */
#include "blkcache.h"
#include "cold.h"
#include "diskcache.h"
#include "s3.h"
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- gathering ---- */

struct tier_totals {
	uint64_t files[TFS_NTIERS];
	uint64_t bytes[TFS_NTIERS];
	uint64_t stored[TFS_NTIERS];
};

struct row { uint64_t ino, size; int tier; };
struct rows { struct row *r; size_t n, cap; int rc; };

static void collect_row(void *ctx, const struct meta_inode *in)
{
	struct rows *rs = ctx;

	if (!S_ISREG(in->mode) || in->nlink == 0)
		return;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 256;
		struct row *r = realloc(rs->r, cap * sizeof(*r));

		if (!r) {
			rs->rc = -ENOMEM;
			return;
		}
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->n++] = (struct row){ in->ino, in->size, in->tier };
}

/* Loaded inodes, and those of them the kernel holds references to. */
struct icounts { uint64_t loaded, referenced; };

static int gather(struct fs *f, struct tier_totals *t, struct icounts *ic)
{
	struct rows rs = { 0 };
	struct meta_seg *segs = NULL;
	struct meta_arc *arcs = NULL;
	struct meta_cold *hot_cold = NULL;      /* archive copies of hot files */
	size_t nseg = 0, narc = 0, nhc = 0, caphc = 0;
	uint64_t hot_warm = 0;                  /* warm records of hot files */
	int rc;

	memset(t, 0, sizeof(*t));
	rc = meta_inode_scan(f->meta, collect_row, &rs);
	if (!rc)
		rc = rs.rc;
	if (rc)
		goto out_free;
	pthread_mutex_lock(&f->hot.lock);
	caphc = f->hot.nresident + 16;
	pthread_mutex_unlock(&f->hot.lock);
	hot_cold = calloc(caphc, sizeof(*hot_cold));
	if (!hot_cold)
		caphc = 0;
	pthread_mutex_lock(&f->itable.lock);
	ic->loaded = f->itable.count;
	ic->referenced = 0;
	for (uint64_t b = 0; b < f->itable.nbuckets; b++)
		for (struct tfs_inode *n = f->itable.buckets[b]; n;
		     n = n->hnext)
			ic->referenced += n->nlookup > 0;
	for (size_t i = 0; i < rs.n; i++) {
		struct tfs_inode *ino = itable_find(&f->itable, rs.r[i].ino);

		if (ino) {
			inode_lock(ino);
			rs.r[i].tier = ino->resident ? TFS_HOT : ino->attr.tier;
			rs.r[i].size = ino->attr.size;
			/* A hot file's durable copy is not the lower tier's. */
			if (ino->resident && ino->ext_loaded) {
				for (uint64_t k = 0; k < ino->next; k++)
					if (ino->ext[k].seg)
						hot_warm += ino->ext[k].rec_len;
				if (ino->has_cold && nhc < caphc)
					hot_cold[nhc++] = ino->cold;
			}
			inode_unlock(ino);
		}
		if (rs.r[i].tier >= 0 && rs.r[i].tier < TFS_NTIERS) {
			t->files[rs.r[i].tier]++;
			t->bytes[rs.r[i].tier] += rs.r[i].size;
		}
	}
	pthread_mutex_unlock(&f->itable.lock);

	t->stored[TFS_HOT] = atomic_load(&f->hot.bytes);
	rc = meta_seg_list(f->meta, &segs, &nseg);
	if (rc)
		goto out_free;
	for (size_t i = 0; i < nseg; i++)
		t->stored[TFS_WARM] += segs[i].live;
	t->stored[TFS_WARM] -= hot_warm < t->stored[TFS_WARM]
				       ? hot_warm : t->stored[TFS_WARM];
	rc = meta_arc_list(f->meta, &arcs, &narc);
	if (rc)
		goto out_free;
	for (size_t i = 0; i < narc; i++)
		if (arcs[i].total)
			t->stored[TFS_COLD] += (uint64_t)((double)arcs[i].size *
				(double)arcs[i].live / (double)arcs[i].total);
	for (size_t i = 0; i < nhc; i++) {
		uint64_t b = cold_stored_bytes(f->cold, &hot_cold[i]);

		t->stored[TFS_COLD] -= b < t->stored[TFS_COLD]
					       ? b : t->stored[TFS_COLD];
	}
out_free:
	free(hot_cold);
	free(rs.r);
	free(segs);
	free(arcs);
	return rc;
}

/* ---- a growing text buffer ---- */

struct sbuf { char *p; size_t len, cap; int rc; };

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->rc)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->rc = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->rc = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static uint64_t hot_resident_files(struct fs *f)
{
	uint64_t n;

	pthread_mutex_lock(&f->hot.lock);
	n = f->hot.nresident;
	pthread_mutex_unlock(&f->hot.lock);
	return n;
}

static double ratio(uint64_t logical, uint64_t stored)
{
	return stored ? (double)logical / (double)stored : 0.0;
}

/* The remote cold store's counters (cold_store.h), if there is one. */
static void render_json_remote(struct fs *f, struct sbuf *b)
{
	struct diskcache_stats dc;
	struct s3_stats st;

	if (!cold_remote_stats(f->cold, &st)) {
		sb_printf(b, ",\n  \"cold_store\": {\"kind\": \"local\"}");
		return;
	}
	if (cold_disk_cache_stats(f->cold, &dc))
		sb_printf(b, ",\n  \"cold_disk_cache\": {\"hits\": %" PRIu64
			  ", \"misses\": %" PRIu64 ", \"bad\": %" PRIu64
			  ", \"puts\": %" PRIu64 ", \"evictions\": %" PRIu64
			  ", \"entries\": %" PRIu64 ", \"bytes\": %" PRIu64
			  ", \"max\": %" PRIu64 "}", dc.hits, dc.misses, dc.bad,
			  dc.puts, dc.evictions, dc.entries, dc.bytes, dc.max);
	sb_printf(b, ",\n  \"cold_store\": {\"kind\": \"s3\", \"requests\": %"
		  PRIu64 ", \"bytes_up\": %" PRIu64 ", \"bytes_down\": %"
		  PRIu64 ", \"errors\": %" PRIu64 ", \"retries\": %" PRIu64
		  ", \"latency_us_avg\": %.1f, \"latency_us_max\": %" PRIu64
		  "}", st.requests, st.bytes_up, st.bytes_down, st.errors,
		  st.retries, st.requests ? (double)st.latency_us /
		  (double)st.requests : 0.0, st.latency_max_us);
}

static void render_json(struct fs *f, const struct tier_totals *t,
			const struct icounts *ic, struct sbuf *b)
{
	struct stats *s = &f->stats;
	struct blkcache_stats bc;

	cold_cache_stats(f->cold, &bc);
	sb_printf(b, "{\n  \"tiers\": {\n");
	for (int i = 0; i < TFS_NTIERS; i++) {
		const struct stats_hist *h = &s->lat[i];

		sb_printf(b,
			  "    \"%s\": {\"files\": %" PRIu64
			  ", \"logical_bytes\": %" PRIu64
			  ", \"stored_bytes\": %" PRIu64
			  ", \"ratio\": %.3f, \"reads\": %" PRIu64
			  ", \"read_bytes\": %" PRIu64 ", \"hits\": %" PRIu64
			  ", \"misses\": %" PRIu64
			  ", \"promotions\": %" PRIu64
			  ", \"demotions\": %" PRIu64 ", \"errors\": %" PRIu64
			  ", \"read_latency_us\": {\"p50\": %.1f, \"p95\": %.1f"
			  ", \"p99\": %.1f}}%s\n",
			  tfs_tier_name(i), t->files[i], t->bytes[i],
			  t->stored[i], ratio(t->bytes[i], t->stored[i]),
			  atomic_load(&s->reads[i]),
			  atomic_load(&s->read_bytes[i]),
			  atomic_load(&s->hits[i]), atomic_load(&s->misses[i]),
			  atomic_load(&s->promotions[i]),
			  atomic_load(&s->demotions[i]),
			  atomic_load(&s->errors[i]),
			  (double)stats_quantile(h, 0.50) / 1000.0,
			  (double)stats_quantile(h, 0.95) / 1000.0,
			  (double)stats_quantile(h, 0.99) / 1000.0,
			  i + 1 < TFS_NTIERS ? "," : "");
	}
	sb_printf(b,
		  "  },\n  \"hot_bytes\": %" PRIu64 ",\n  \"hot_max\": %" PRIu64
		  ",\n  \"hot_resident_files\": %" PRIu64
		  ",\n  \"inodes_loaded\": %" PRIu64
		  ",\n  \"inodes_referenced\": %" PRIu64
		  ",\n  \"writes\": %" PRIu64 ",\n  \"write_bytes\": %" PRIu64
		  ",\n  \"writeback_chunks\": %" PRIu64
		  ",\n  \"writeback_bytes\": %" PRIu64
		  ",\n  \"evictions\": %" PRIu64
		  ",\n  \"migration_errors\": %" PRIu64
		  ",\n  \"migration_backlog\": %" PRIu64
		  ",\n  \"compactions\": %" PRIu64
		  ",\n  \"compacted_bytes\": %" PRIu64
		  ",\n  \"config_reloads\": %" PRIu64
		  ",\n  \"config_reload_failures\": %" PRIu64
		  ",\n  \"uptime_seconds\": %.3f"
		  ",\n  \"version\": \"%s\""
		  ",\n  \"cold_cache\": {\"hits\": %" PRIu64
		  ", \"misses\": %" PRIu64 ", \"decodes\": %" PRIu64
		  ", \"joins\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"capacity\": %" PRIu64
		  ", \"hit_rate\": %.3f}",
		  atomic_load(&f->hot.bytes), atomic_load(&f->hot.max),
		  hot_resident_files(f), ic->loaded, ic->referenced,
		  atomic_load(&s->writes),
		  atomic_load(&s->write_bytes), atomic_load(&s->writebacks),
		  atomic_load(&s->writeback_bytes),
		  atomic_load(&s->evictions),
		  atomic_load(&s->migration_errors),
		  fs_backlog(f),
		  atomic_load(&s->compactions),
		  atomic_load(&s->compacted_bytes),
		  atomic_load(&s->config_reloads),
		  atomic_load(&s->config_reload_failures),
		  (double)(stats_now_ns() - s->started_ns) / 1e9,
		  TIERFS_VERSION, bc.hits, bc.misses,
		  bc.decodes, bc.joins, bc.bytes, bc.capacity,
		  bc.hits + bc.misses ? (double)bc.hits /
			  (double)(bc.hits + bc.misses) : 0.0);
	render_json_remote(f, b);
	sb_printf(b, "\n}\n");
}

static void prom_family(struct sbuf *b, const char *name, const char *type,
			const char *help)
{
	sb_printf(b, "# HELP tierfs_%s %s\n# TYPE tierfs_%s %s\n", name, help,
		  name, type);
}

static void prom_scalar(struct sbuf *b, const char *name, const char *type,
			const char *help, uint64_t v)
{
	prom_family(b, name, type, help);
	sb_printf(b, "tierfs_%s %" PRIu64 "\n", name, v);
}

static void prom_per_tier(struct sbuf *b, const char *name, const char *type,
			  const char *help, _Atomic uint64_t *v)
{
	prom_family(b, name, type, help);
	for (int i = 0; i < TFS_NTIERS; i++)
		sb_printf(b, "tierfs_%s{tier=\"%s\"} %" PRIu64 "\n", name,
			  tfs_tier_name(i), atomic_load(&v[i]));
}

static void render_prom(struct fs *f, const struct tier_totals *t,
			const struct icounts *ic, struct sbuf *b)
{
	struct stats *s = &f->stats;

	prom_family(b, "files", "gauge", "Files resident in each tier.");
	for (int i = 0; i < TFS_NTIERS; i++)
		sb_printf(b, "tierfs_files{tier=\"%s\"} %" PRIu64 "\n",
			  tfs_tier_name(i), t->files[i]);
	prom_family(b, "logical_bytes", "gauge",
		    "Logical bytes of the files in each tier.");
	for (int i = 0; i < TFS_NTIERS; i++)
		sb_printf(b, "tierfs_logical_bytes{tier=\"%s\"} %" PRIu64 "\n",
			  tfs_tier_name(i), t->bytes[i]);
	prom_family(b, "stored_bytes", "gauge",
		    "Bytes the files of each tier occupy there.");
	for (int i = 0; i < TFS_NTIERS; i++)
		sb_printf(b, "tierfs_stored_bytes{tier=\"%s\"} %" PRIu64 "\n",
			  tfs_tier_name(i), t->stored[i]);
	prom_per_tier(b, "reads_total", "counter", "Read requests served.",
		      s->reads);
	prom_per_tier(b, "read_bytes_total", "counter", "Bytes read.",
		      s->read_bytes);
	prom_per_tier(b, "hits_total", "counter",
		      "Reads served without decoding.", s->hits);
	prom_per_tier(b, "misses_total", "counter",
		      "Reads that needed a decode.", s->misses);
	prom_per_tier(b, "promotions_total", "counter",
		      "Files moved up into the tier.", s->promotions);
	prom_per_tier(b, "demotions_total", "counter",
		      "Files moved down into the tier.", s->demotions);
	prom_per_tier(b, "errors_total", "counter",
		      "Reads that failed with EIO.", s->errors);

	prom_family(b, "read_latency_seconds", "histogram",
		    "Latency of read requests inside the daemon.");
	for (int i = 0; i < TFS_NTIERS; i++) {
		const struct stats_hist *h = &s->lat[i];
		uint64_t cum = 0;

		for (int k = 0; k < STATS_LAT_BUCKETS - 1; k++) {
			cum += atomic_load(&h->bucket[k]);
			sb_printf(b,
				  "tierfs_read_latency_seconds_bucket{tier=\"%s\","
				  "le=\"%g\"} %" PRIu64 "\n",
				  tfs_tier_name(i),
				  (double)stats_bucket_le_ns(k) / 1e9, cum);
		}
		sb_printf(b,
			  "tierfs_read_latency_seconds_bucket{tier=\"%s\","
			  "le=\"+Inf\"} %" PRIu64 "\n",
			  tfs_tier_name(i), atomic_load(&h->count));
		sb_printf(b, "tierfs_read_latency_seconds_sum{tier=\"%s\"} %.9f\n",
			  tfs_tier_name(i),
			  (double)atomic_load(&h->sum_ns) / 1e9);
		sb_printf(b, "tierfs_read_latency_seconds_count{tier=\"%s\"} %"
			  PRIu64 "\n", tfs_tier_name(i),
			  atomic_load(&h->count));
	}
	prom_scalar(b, "hot_bytes", "gauge",
		    "RAM held by file data.",
		    atomic_load(&f->hot.bytes));
	prom_scalar(b, "hot_max_bytes", "gauge",
		    "The hot tier's RAM budget.",
		    atomic_load(&f->hot.max));
	prom_scalar(b, "inodes_loaded", "gauge",
		    "Inodes held in memory.",
		    ic->loaded);
	prom_scalar(b, "inodes_referenced", "gauge",
		    "Loaded inodes the kernel holds references to.",
		    ic->referenced);
	prom_scalar(b, "writeback_bytes_total", "counter",
		    "Bytes written back to warm segments.",
		    atomic_load(&s->writeback_bytes));
	prom_scalar(b, "evictions_total", "counter",
		    "Files dropped from RAM to keep the budget.",
		    atomic_load(&s->evictions));
	prom_scalar(b, "migration_errors_total", "counter",
		    "Tier moves that failed.",
		    atomic_load(&s->migration_errors));
	{
		struct blkcache_stats bc;

		cold_cache_stats(f->cold, &bc);
		prom_scalar(b, "cold_cache_hits_total", "counter",
			    "Cold reads served from the decoded block cache.",
			    bc.hits);
		prom_scalar(b, "cold_cache_misses_total", "counter",
			    "Cold reads that had to decode a block.",
			    bc.misses);
		prom_scalar(b, "cold_block_decodes_total", "counter",
			    "xz blocks decoded.",
			    bc.decodes);
		prom_scalar(b, "cold_cache_bytes", "gauge",
			    "Bytes of decoded blocks cached.",
			    bc.bytes);
	}
	{
		struct diskcache_stats dc;
		struct s3_stats st;

		if (cold_remote_stats(f->cold, &st)) {
			prom_scalar(b, "s3_requests_total", "counter",
				    "HTTP requests to the S3 cold store.",
				    st.requests);
			prom_scalar(b, "s3_sent_bytes_total", "counter",
				    "Bytes uploaded to the S3 cold store.",
				    st.bytes_up);
			prom_scalar(b, "s3_received_bytes_total", "counter",
				    "Object bytes read from the S3 cold store.",
				    st.bytes_down);
			prom_scalar(b, "s3_errors_total", "counter",
				    "S3 calls that failed after retries.",
				    st.errors);
			prom_scalar(b, "s3_retries_total", "counter",
				    "S3 requests repeated after a transient "
				    "error.", st.retries);
			prom_scalar(b, "s3_request_microseconds_total",
				    "counter", "Time spent in S3 requests.",
				    st.latency_us);
		}
		if (cold_disk_cache_stats(f->cold, &dc)) {
			prom_scalar(b, "cold_disk_cache_hits_total", "counter",
				    "Cold blocks read from the local disk "
				    "cache instead of S3.", dc.hits);
			prom_scalar(b, "cold_disk_cache_misses_total",
				    "counter", "Cold blocks not in the local "
				    "disk cache.", dc.misses);
			prom_scalar(b, "cold_disk_cache_bad_total", "counter",
				    "Damaged disk cache files (deleted, read "
				    "from S3).", dc.bad);
			prom_scalar(b, "cold_disk_cache_bytes", "gauge",
				    "Bytes in the local disk cache.",
				    dc.bytes);
		}
	}
	prom_scalar(b, "migration_backlog", "gauge",
		    "Moves waiting for the policy thread.",
		    fs_backlog(f));
	prom_scalar(b, "compacted_bytes_total", "counter",
		    "Bytes of store files released by compaction.",
		    atomic_load(&s->compacted_bytes));
	prom_scalar(b, "compactions_total", "counter",
		    "Segments and archives rewritten by compaction.",
		    atomic_load(&s->compactions));
	prom_scalar(b, "writes_total", "counter",
		    "Write requests served.",
		    atomic_load(&s->writes));
	prom_scalar(b, "write_bytes_total", "counter",
		    "Bytes written by write requests.",
		    atomic_load(&s->write_bytes));
	prom_scalar(b, "writeback_chunks_total", "counter",
		    "Chunks written back to warm segments.",
		    atomic_load(&s->writebacks));
	prom_scalar(b, "hot_resident_files", "gauge",
		    "Files whose data is held in RAM.",
		    hot_resident_files(f));
	prom_scalar(b, "config_reloads_total", "counter",
		    "Reloads of tierfs.conf that were applied.",
		    atomic_load(&s->config_reloads));
	prom_scalar(b, "config_reload_failures_total", "counter",
		    "Reloads of tierfs.conf refused (old settings kept).",
		    atomic_load(&s->config_reload_failures));
	prom_family(b, "uptime_seconds", "gauge",
		    "Seconds since the file system was mounted.");
	sb_printf(b, "tierfs_uptime_seconds %.3f\n",
		  (double)(stats_now_ns() - s->started_ns) / 1e9);
	prom_family(b, "build_info", "gauge",
		    "Always 1; the version of the running daemon as a label.");
	sb_printf(b, "tierfs_build_info{version=\"%s\"} 1\n", TIERFS_VERSION);
}

/* tierfs.conf syntax: "key = value" per key, every key. */
static void config_line(void *ctx, const char *key, const char *value)
{
	sb_printf(ctx, "%s = %s\n", key, value);
}

static void render_config(struct fs *f, struct sbuf *b)
{
	struct tfs_config cfg;

	fs_get_config(f, &cfg);
	sb_printf(b, "# tierfs settings in force (defaults < STORE/tierfs.conf"
		  " < -o options)\n");
	config_each(&cfg, config_line, b);
	pthread_mutex_lock(&f->cfg_lock);
	if (f->mount_info)
		sb_printf(b, "# mount-time options (-o only)\n%s",
			  f->mount_info);
	pthread_mutex_unlock(&f->cfg_lock);
}

int fs_ctl_render(struct fs *f, struct tfs_inode *ino, char **buf,
		  size_t *len)
{
	struct tier_totals t;
	struct sbuf b = { 0 };
	struct icounts ic = { 0, 0 };
	int rc;

	if (ino->kind == INODE_CONFIG) {
		render_config(f, &b);
	} else {
		rc = gather(f, &t, &ic);
		if (rc)
			return rc;
		if (ino->kind == INODE_STATS)
			render_json(f, &t, &ic, &b);
		else
			render_prom(f, &t, &ic, &b);
	}
	if (b.rc) {
		free(b.p);
		return b.rc;
	}
	*buf = b.p;
	*len = b.len;
	return 0;
}
