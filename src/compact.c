/*
 * compact.c - see compact.h. The warm half is here; the cold half is
 * cold_compact() in cold.c, which reuses the demotion machinery.
 *
 * A warm segment is rewritten record by record: each live record is read
 * (checksum verified), appended to the active segment, and after a sync its
 * extent is switched in a transaction that first checks the extent still
 * points at the old place (a write-back may have replaced it meanwhile).
 * Loaded inodes get the same conditional switch in memory. A record that
 * fails its checksum is left where it is (and keeps the segment alive) so
 * that corruption is reported, never silently dropped.
 */
#include "compact.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cold.h"
#include "fault.h"
#include "fs_int.h"
#include "log.h"

#define BATCH 256

struct move {
	uint64_t ino;
	struct meta_extent old;
	struct seg_loc loc;
	bool ok;
};

static bool same(const struct meta_extent *a, const struct meta_extent *b)
{
	return a->seg == b->seg && a->off == b->off;
}

static int commit_moves(struct fs *f, struct move *mv, size_t n)
{
	int rc = segstore_sync(f->seg);

	if (!rc)
		rc = meta_begin(f->meta);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		struct meta_extent cur, e;

		if (!mv[i].ok)
			continue;
		rc = meta_extent_get(f->meta, mv[i].ino, mv[i].old.chunk, &cur);
		if (rc == -ENOENT || (!rc && !same(&cur, &mv[i].old))) {
			mv[i].ok = false;       /* replaced meanwhile */
			rc = 0;
			continue;
		}
		e = (struct meta_extent){
			.chunk = mv[i].old.chunk, .seg = mv[i].loc.seg,
			.off = mv[i].loc.off, .rec_len = mv[i].loc.rec_len,
			.raw_len = mv[i].loc.raw_len,
		};
		if (!rc)
			rc = meta_extent_put(f->meta, mv[i].ino, &e);
		if (!rc)
			rc = meta_seg_commit_len(f->meta, e.seg,
						 e.off + e.rec_len);
	}
	return meta_finish(f->meta, rc);
}

static void publish_moves(struct fs *f, const struct move *mv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tfs_inode *ino;
		uint64_t k = mv[i].old.chunk;

		if (!mv[i].ok)
			continue;
		pthread_mutex_lock(&f->itable.lock);
		ino = itable_find(&f->itable, mv[i].ino);
		if (ino)
			ino->ref++;
		pthread_mutex_unlock(&f->itable.lock);
		if (!ino)
			continue;
		inode_lock(ino);
		if (ino->ext_loaded && k < ino->next &&
		    ino->ext[k].seg == mv[i].old.seg &&
		    ino->ext[k].off == mv[i].old.off) {
			ino->ext[k].seg = mv[i].loc.seg;
			ino->ext[k].off = mv[i].loc.off;
			ino->ext[k].rec_len = mv[i].loc.rec_len;
			ino->ext[k].raw_len = mv[i].loc.raw_len;
			ino->reloc_gen++;
		}
		inode_unlock(ino);
		fs_iput(f, ino);
	}
}

static int rewrite_segment(struct fs *f, uint64_t seg)
{
	struct meta_extent *exts = NULL;
	uint64_t *inos = NULL;
	struct move *mv;
	uint8_t *buf;
	size_t n = 0;
	int rc;

	rc = meta_extent_list_seg(f->meta, seg, &inos, &exts, &n);
	if (rc)
		return rc;
	mv = calloc(BATCH, sizeof(*mv));
	buf = malloc(TFS_CHUNK_SIZE);
	if (!mv || !buf) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (size_t start = 0; start < n && !rc; start += BATCH) {
		size_t m = n - start < BATCH ? n - start : BATCH;

		for (size_t i = 0; i < m && !rc; i++) {
			const struct meta_extent *e = &exts[start + i];
			struct seg_loc old = {
				.seg = e->seg, .off = e->off,
				.rec_len = e->rec_len, .raw_len = e->raw_len,
			};
			int got;

			mv[i] = (struct move){ .ino = inos[start + i],
					       .old = *e };
			got = segstore_read(f->seg, &old, mv[i].ino, e->chunk,
					    buf);
			if (got < 0) {
				tfs_err("compaction: inode %" PRIu64 " chunk %"
					PRIu64 " unreadable in segment %"
					PRIu64 "; left in place", mv[i].ino,
					e->chunk, seg);
				continue;
			}
			rc = segstore_append(f->seg, mv[i].ino, e->chunk, buf,
					     (uint32_t)got, &mv[i].loc);
			mv[i].ok = rc == 0;
		}
		if (!rc)
			fault_point("compact-before-commit");
		if (!rc)
			rc = commit_moves(f, mv, m);
		if (!rc)
			publish_moves(f, mv, m);
	}
out_free:
	free(buf);
	free(mv);
	free(inos);
	free(exts);
	return rc;
}

/* Delete one segment nothing points at: no space is needed for that.
 * Under seg_lock, with its row read again: the active segment, or one a
 * write-back appended to and has not committed yet, is not dead. */
static int drop_dead_segment(struct fs *f, const struct meta_seg *s,
			     uint64_t *freed)
{
	struct meta_seg now;
	int rc;

	pthread_rwlock_wrlock(&f->seg_lock);
	rc = meta_seg_get(f->meta, s->id, &now);
	if (rc || now.live || segstore_active(f->seg) == s->id) {
		pthread_rwlock_unlock(&f->seg_lock);
		return rc == -ENOENT ? 0 : rc;
	}
	fault_point("compact-before-delete");
	rc = meta_seg_delete(f->meta, s->id);
	if (!rc)
		rc = segstore_remove(f->seg, s->id);
	pthread_rwlock_unlock(&f->seg_lock);
	if (!rc) {
		*freed += now.len;
		stats_add(&f->stats.compactions, 1);
		stats_add(&f->stats.compacted_bytes, now.len);
	}
	return rc;
}

/* Punch the dead records of segment s out (see segstore_punch_dead), under
 * seg_lock so that no appended-but-uncommitted record sits in a gap. */
static int punch_segment(struct fs *f, const struct meta_seg *s,
			 uint64_t *freed)
{
	struct meta_extent *exts = NULL;
	struct seg_loc *live = NULL;
	uint64_t *inos = NULL, got = 0;
	struct meta_seg now;
	size_t n = 0;
	int rc;

	pthread_rwlock_wrlock(&f->seg_lock);
	rc = meta_seg_get(f->meta, s->id, &now);
	if (!rc)
		rc = meta_extent_list_seg(f->meta, s->id, &inos, &exts, &n);
	if (!rc && !(live = calloc(n ? n : 1, sizeof(*live))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		live[i] = (struct seg_loc){ .seg = s->id, .off = exts[i].off,
					    .rec_len = exts[i].rec_len };
	if (!rc)
		rc = segstore_punch_dead(f->seg, s->id, live, n, now.live,
					 &got);
	pthread_rwlock_unlock(&f->seg_lock);
	free(live);
	free(inos);
	free(exts);
	if (got) {
		tfs_debug("compaction: %" PRIu64 " dead bytes of segment %"
			  PRIu64 " given back", got, s->id);
		*freed += got;
	}
	return rc == -ENOENT || rc == -EOPNOTSUPP ? 0 : rc;
}

/* Is the store disk nearly full (under four times the reserve)? Then dead
 * records are punched out at once rather than waiting for a rewrite. */
static bool low_on_space(struct fs *f)
{
	uint64_t avail;

	return f->space_reserve &&
	       segstore_avail(f->seg, &avail) == 0 &&
	       avail < 4 * f->space_reserve;
}

/*
 * Two passes over the catalog: first every dead segment is deleted outright
 * (on a full disk that is what gives space back, so it must not wait behind
 * a rewrite that needs space), and when the disk is nearly full the dead
 * records of the others are punched out; then segments under the threshold
 * are rewritten, unless `rewrite` is false (backing off after ENOSPC).
 */
static int compact_warm(struct fs *f, uint32_t threshold, bool rewrite,
			uint64_t *freed)
{
	struct meta_seg *segs = NULL;
	uint64_t active = segstore_active(f->seg);
	size_t n = 0;
	int rc;

	rc = meta_seg_list(f->meta, &segs, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		if (segs[i].id != active && segs[i].live == 0)
			rc = drop_dead_segment(f, &segs[i], freed);
	if (!rc && low_on_space(f))
		for (size_t i = 0; i < n && !rc; i++)
			if (segs[i].live < segs[i].len &&
			    segstore_punch_wanted(f->seg, segs[i].id,
						  segs[i].live))
				rc = punch_segment(f, &segs[i], freed);
	for (size_t i = 0; i < n && !rc && rewrite; i++) {
		struct meta_seg s = segs[i];

		if (s.id == active || s.live == 0 ||
		    s.live * 100 >= (uint64_t)threshold * s.len)
			continue;
		rc = rewrite_segment(f, s.id);
		if (rc)
			break;
		/* What is still live after the rewrite? */
		struct meta_seg *now = NULL;
		size_t m = 0;

		rc = meta_seg_list(f->meta, &now, &m);
		for (size_t j = 0; j < m; j++)
			if (now[j].id == s.id)
				s.live = now[j].live;
		free(now);
		if (!rc && s.live == 0)
			rc = drop_dead_segment(f, &s, freed);
	}
	free(segs);
	return rc;
}

/* Longest wait between rewrite attempts on a full store. */
#define BACKOFF_MAX_S 300

int compact_run(struct fs *f, uint64_t *freed)
{
	struct tfs_config cfg;
	uint64_t cold_freed = 0;
	tfs_ns now = fs_now();
	bool rewrite = now >= f->compact_retry_at;
	int rc;

	*freed = 0;
	fs_get_config(f, &cfg);
	rc = compact_warm(f, cfg.compact_threshold, rewrite, freed);
	if (!rc)
		rc = cold_compact(f->cold, cfg.compact_threshold, rewrite,
				  &cold_freed);
	*freed += cold_freed;
	if (rc == -ENOSPC) {
		/* Deleting dead files goes on every pass; rewrites wait,
		 * longer each time, and say so once per wait. */
		f->compact_backoff = f->compact_backoff ?
			f->compact_backoff * 2 : 10;
		if (f->compact_backoff > BACKOFF_MAX_S)
			f->compact_backoff = BACKOFF_MAX_S;
		f->compact_retry_at = now +
			(tfs_ns)f->compact_backoff * 1000000000;
		tfs_warn("compaction: store disk full; rewrites paused for "
			 "%us (dead segments and archives are still deleted)",
			 f->compact_backoff);
		return rc;
	}
	if (rc)
		tfs_err("compaction: %s", strerror(-rc));
	else if (rewrite)
		f->compact_backoff = 0;
	return rc;
}
