/*
 * compact.c - see compact.h: one driver for both families of containers,
 * warm segments and cold archives. Each family says how to list its units
 * (id, live bytes, total bytes, bytes freed by deleting it), re-read one
 * unit's row, rewrite one and delete a dead one; the driver makes one pass
 * deleting dead units (that needs no space, so it never waits behind a
 * rewrite on a full disk) and one rewriting units under the threshold,
 * reading back only the rewritten unit's row (catalog work O(n), not a
 * re-list of the whole catalog per rewrite). An archive is rewritten by the
 * cold mover (fs_cold_rewrite: its live files go to a new archive, hot
 * files stay hot).
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
		/* A pending rewrite's shadow extents are the file's content
		 * in memory (fs_replace.c). */
		ino = fs_ifind(f, mv[i].ino & ~META_SHADOW_BIT);
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
			/* mv.ino is meta's key: a shadow extent's has the
			 * top bit set, its record the file's number. */
			got = segstore_read(f->seg, &old,
					    mv[i].ino & ~META_SHADOW_BIT,
					    e->chunk, buf);
			if (got < 0) {
				tfs_err("compaction: inode %" PRIu64 " chunk %"
					PRIu64 " unreadable in segment %"
					PRIu64 "; left in place", mv[i].ino,
					e->chunk, seg);
				continue;
			}
			rc = segstore_append(f->seg,
					     mv[i].ino & ~META_SHADOW_BIT,
					     e->chunk, buf, (uint32_t)got,
					     &mv[i].loc);
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

/* A container compaction looks at: a segment or an archive. */
struct unit {
	uint64_t id;
	uint64_t live;          /* bytes still pointed at */
	uint64_t total;         /* live is compared with this */
	uint64_t bytes;         /* what deleting it frees */
};

/* How one family of containers is listed, rewritten and deleted. */
struct family {
	int (*list)(struct fs *f, struct unit **out, size_t *n);
	int (*get)(struct fs *f, uint64_t id, struct unit *out);
	bool (*busy)(struct fs *f, uint64_t id);  /* never touch it */
	int (*rewrite)(struct fs *f, uint64_t id);
	/* delete a dead unit, adding what it frees to *freed and the stats
	 * (it may find the unit alive after all and leave it) */
	int (*drop)(struct fs *f, const struct unit *u, uint64_t *freed);
	/* between the dead pass and the rewrites (may be NULL) */
	int (*tidy)(struct fs *f, const struct unit *u, size_t n,
		    uint64_t *freed);
};

static struct unit unit_of_seg(const struct meta_seg *s)
{
	return (struct unit){ s->id, s->live, s->len, s->len };
}

static struct unit unit_of_arc(const struct meta_arc *a)
{
	return (struct unit){ a->id, a->live, a->total, a->size };
}

static int seg_units(struct fs *f, struct unit **out, size_t *n)
{
	struct meta_seg *v = NULL;
	int rc = meta_seg_list(f->meta, &v, n);

	*out = NULL;
	if (!rc && *n && !(*out = malloc(*n * sizeof(**out))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < *n; i++)
		(*out)[i] = unit_of_seg(&v[i]);
	free(v);
	return rc;
}

static int seg_unit(struct fs *f, uint64_t id, struct unit *out)
{
	struct meta_seg s;
	int rc = meta_seg_get(f->meta, id, &s);

	if (!rc)
		*out = unit_of_seg(&s);
	return rc;
}

static bool seg_busy(struct fs *f, uint64_t id)
{
	return id == segstore_active(f->seg);
}

static int seg_drop(struct fs *f, const struct unit *u, uint64_t *freed)
{
	const struct meta_seg s = { .id = u->id, .len = u->total,
				    .live = u->live };

	return drop_dead_segment(f, &s, freed);
}

/* When the disk is nearly full, punch the dead records of segments out
 * rather than wait for a rewrite. */
static int seg_tidy(struct fs *f, const struct unit *u, size_t n,
		    uint64_t *freed)
{
	int rc = 0;

	if (!low_on_space(f))
		return 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct meta_seg s = { .id = u[i].id, .len = u[i].total,
					    .live = u[i].live };

		if (s.live < s.len &&
		    segstore_punch_wanted(f->seg, s.id, s.live))
			rc = punch_segment(f, &s, freed);
	}
	return rc;
}

static int arc_units(struct fs *f, struct unit **out, size_t *n)
{
	struct meta_arc *v = NULL;
	int rc = meta_arc_list(f->meta, &v, n);

	*out = NULL;
	if (!rc && *n && !(*out = malloc(*n * sizeof(**out))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < *n; i++)
		(*out)[i] = unit_of_arc(&v[i]);
	free(v);
	return rc;
}

static int arc_unit(struct fs *f, uint64_t id, struct unit *out)
{
	struct meta_arc a;
	int rc = meta_arc_get(f->meta, id, &a);

	if (!rc)
		*out = unit_of_arc(&a);
	return rc;
}

static bool arc_busy(struct fs *f, uint64_t id)
{
	return false;
}

static int arc_drop(struct fs *f, const struct unit *u, uint64_t *freed)
{
	int rc = cold_arc_delete(f->cold, u->id);

	if (!rc) {
		*freed += u->bytes;
		stats_add(&f->stats.compactions, 1);
		stats_add(&f->stats.compacted_bytes, u->bytes);
	}
	return rc;
}

static const struct family compact_segments = {
	seg_units, seg_unit, seg_busy, rewrite_segment, seg_drop, seg_tidy,
};

static const struct family compact_archives = {
	arc_units, arc_unit, arc_busy, fs_cold_rewrite, arc_drop, NULL,
};

/*
 * Two passes over the catalog: first every dead unit is deleted outright
 * (on a full disk that is what gives space back, so it must not wait behind
 * a rewrite that needs space), then the family may tidy (segments punch
 * dead records out when the disk is nearly full); then units under the
 * threshold are rewritten, unless `rewrite` is false (backing off after
 * ENOSPC), and deleted if nothing points at them any more (a file changed
 * meanwhile keeps one alive a while). Only the rewritten unit's row is read
 * again: the catalog work is O(n), not a re-list per rewrite.
 */
static int compact_family(struct fs *f, const struct family *fam,
			  uint32_t threshold, bool rewrite, uint64_t *freed)
{
	struct unit *u = NULL;
	size_t n = 0;
	int rc;

	*freed = 0;
	rc = fam->list(f, &u, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		if (u[i].live == 0 && !fam->busy(f, u[i].id))
			rc = fam->drop(f, &u[i], freed);
	if (!rc && fam->tidy)
		rc = fam->tidy(f, u, n, freed);
	for (size_t i = 0; i < n && !rc && rewrite; i++) {
		struct unit now;

		if (u[i].live == 0 || !u[i].total || fam->busy(f, u[i].id) ||
		    u[i].live * 100 >= (uint64_t)threshold * u[i].total)
			continue;
		rc = fam->rewrite(f, u[i].id);
		if (!rc)
			rc = fam->get(f, u[i].id, &now);
		if (rc == -ENOENT) {
			rc = 0;         /* gone meanwhile */
			continue;
		}
		if (!rc && now.live == 0)
			rc = fam->drop(f, &now, freed);
	}
	free(u);
	return rc;
}

int compact_dead(struct fs *f, uint64_t *freed)
{
	uint64_t cold_freed = 0;
	int rc = compact_family(f, &compact_segments, 0, false, freed);

	if (!rc)
		rc = compact_family(f, &compact_archives, 0, false,
				    &cold_freed);
	*freed += cold_freed;
	if (rc)
		tfs_err("compaction: %s", strerror(-rc));
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
	rc = compact_family(f, &compact_segments, cfg.compact_threshold,
			    rewrite, freed);
	if (!rc)
		rc = compact_family(f, &compact_archives, cfg.compact_threshold,
				    rewrite, &cold_freed);
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
