/*
 * fs_tier.c - moving a file between tiers, and keeping RAM under budget.
 *
 * MIGRATION. Every move follows one order: write the new copy, sync it,
 * commit the new location in one meta transaction, then release the old
 * copy. It runs under the file's io lock, so one file has at most one move
 * (or write-back, or truncate) at a time, while reads and writes of the
 * file go on under its short inode lock:
 *   - to hot:  decode every chunk not in RAM (outside the inode lock),
 *              install each one unless a writer installed its own meanwhile,
 *              then mark the file resident. The durable copy stays.
 *   - to warm: write back dirty chunks (sync), then free the RAM chunks -
 *              but only while holding the inode lock and only if no chunk
 *              became dirty again; otherwise write back once more.
 *              A cold-backed file is first re-encoded into warm records.
 *   - to cold: see cold.c.
 *
 * EVICTION. When the chunk memory passes hot_max, the writer that pushed
 * it over evicts the least recently used clean hot files (never waiting for
 * one whose io lock is busy) down to the low watermark; if that is not
 * enough it writes its own dirty chunks back and lets them go.
 */
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cold.h"
#include "log.h"

void fs_set_reason(struct tfs_inode *ino, enum fs_reason r, uint64_t a0,
		   uint64_t a1)
{
	ino->reason = (uint8_t)r;
	ino->reason_arg[0] = a0;
	ino->reason_arg[1] = a1;
}

void fs_touch(struct fs *f, struct tfs_inode *ino, enum fs_access a)
{
	struct tfs_config cfg;
	tfs_ns now = fs_now();
	tfs_ns window;
	bool queue = false;

	atomic_store_explicit(&ino->last_access, now, memory_order_relaxed);
	if (a != ACCESS_READ_START)
		return;
	atomic_fetch_add_explicit(&ino->access_count, 1,
				  memory_order_relaxed);
	fs_get_config(f, &cfg);
	window = (tfs_ns)cfg.promote_window_ms * 1000000;
	inode_lock(ino);
	if (!ino->resident && !ino->promo_queued &&
	    ino->attr.size <= cfg.promote_max &&
	    !fs_pinned_elsewhere(f, ino, TFS_HOT)) {
		if (now - ino->promo_start > window) {
			ino->promo_start = now;
			ino->promo_reads = 0;
		}
		if (++ino->promo_reads >= cfg.promote_after) {
			ino->promo_queued = true;
			queue = true;
		}
	}
	inode_unlock(ino);
	if (queue)
		fs_queue_promote(f, ino->ino);
}

int fs_get_tier(struct fs *f, struct tfs_inode *ino)
{
	int t;

	inode_lock(ino);
	/* A file recorded hot but not in RAM yet (just after a remount) is
	 * hot: the policy thread loads the hot set back in the background
	 * (and its first open does at once). */
	t = ino->resident ? TFS_HOT : ino->attr.tier;
	inode_unlock(ino);
	return t;
}

/* Decode chunk k of ino into a new RAM chunk (*out) if it is durable and
 * not in RAM (else *out = NULL). Takes ino->lock only to look; decodes
 * without it. */
static int load_chunk(struct fs *f, struct tfs_inode *ino, uint64_t k,
		      struct hchunk **out)
{
	struct hchunk *c;
	bool need;
	uint32_t len;
	int rc;

	*out = NULL;
	inode_lock(ino);
	need = k < ino->nchunks_cap && !ino->chunks[k] &&
	       fs_chunk_durable(f, ino, k);
	inode_unlock(ino);
	if (!need)
		return 0;       /* in RAM already, or a hole */
	c = hot_chunk_new(&f->hot, TFS_CHUNK_SIZE);
	if (!c)
		return -ENOMEM;
	rc = fs_read_durable_chunk(f, ino, k, c->data, &len);
	if (rc) {
		hot_chunk_free(&f->hot, c);
		return rc;
	}
	c->len = len;
	/* Shrink a short last chunk to its size. */
	if (len < TFS_CHUNK_SIZE / 2) {
		struct hchunk *s = hot_chunk_new(&f->hot, len);

		if (s) {
			memcpy(s->data, c->data, len);
			s->len = len;
			hot_chunk_free(&f->hot, c);
			c = s;
		}
	}
	*out = c;
	return 0;
}

/* Install c as chunk k unless a writer put its own there meanwhile; true
 * if it was installed. Caller holds ino->lock. */
static bool install_chunk(struct tfs_inode *ino, uint64_t k, struct hchunk *c)
{
	if (!c || k >= ino->nchunks_cap || ino->chunks[k])
		return false;
	ino->chunks[k] = c;
	ino->ram_bytes += c->cap;
	return true;
}

int fs_make_resident(struct fs *f, struct tfs_inode *ino)
{
	uint64_t n, k;
	int rc;

	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	if (ino->resident) {
		inode_unlock(ino);
		return 0;
	}
	n = inode_nchunks(ino->attr.size);
	rc = n ? inode_reserve_chunks(ino, n - 1) : 0;
	inode_unlock(ino);
	if (rc)
		return rc;

	for (k = 0; k < n; k++) {
		struct hchunk *c;

		rc = load_chunk(f, ino, k, &c);
		if (rc)
			return rc;
		if (!c)
			continue;
		inode_lock(ino);
		if (install_chunk(ino, k, c))
			c = NULL;
		inode_unlock(ino);
		hot_chunk_free(&f->hot, c);
	}
	inode_lock(ino);
	ino->resident = true;
	ino->attr.tier = TFS_HOT;
	ino->meta_dirty = true;
	inode_unlock(ino);
	hot_list_add(&f->hot, ino);
	return fs_persist_attr(f, ino);
}

/*
 * RESTORE ON FIRST USE. After a remount a file recorded hot is not in RAM;
 * its first open or read brings it back (the policy thread also restores
 * the hot set in the background). The whole file is decoded here WITHOUT
 * any lock of the inode (neither ino->lock nor ino->io): only installing
 * the decoded chunks takes ino->io and ino->lock, and only if nothing
 * moved the file's durable bytes meanwhile (ext_gen + reloc_gen, which
 * every write-back, truncation, move and compaction bumps); otherwise the
 * decoded copy is dropped and the file stays on its durable copy until its
 * next use tries again. One restore per file at a time (ino->restoring):
 * a concurrent reader does not wait, it reads the durable copy.
 */
int fs_restore_hot(struct fs *f, struct tfs_inode *ino)
{
	struct tfs_config cfg;
	struct hchunk **got = NULL;
	uint64_t n = 0, gen = 0;
	bool go, done = false;
	int rc;

	fs_get_config(f, &cfg);
	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	go = !ino->resident && !ino->restoring &&
	     ino->attr.tier == TFS_HOT &&
	     ino->attr.size <= cfg.promote_max &&
	     ino->attr.size <= cfg.hot_max / 2;
	if (go) {
		n = inode_nchunks(ino->attr.size);
		rc = n ? inode_reserve_chunks(ino, n - 1) : 0;
		gen = ino->ext_gen + ino->reloc_gen;
		ino->restoring = !rc;
	}
	inode_unlock(ino);
	if (!go || rc)
		return rc;
	got = calloc(n ? n : 1, sizeof(*got));
	if (!got)
		rc = -ENOMEM;
	for (uint64_t k = 0; k < n && !rc; k++)
		rc = load_chunk(f, ino, k, &got[k]);
	if (!rc) {
		inode_io_lock(ino);
		inode_lock(ino);
		done = !ino->resident && ino->attr.tier == TFS_HOT &&
		       ino->ext_gen + ino->reloc_gen == gen;
		for (uint64_t k = 0; done && k < n; k++)
			if (install_chunk(ino, k, got[k]))
				got[k] = NULL;
		if (done) {
			ino->resident = true;
			ino->meta_dirty = true;
			fs_set_reason(ino, REASON_RESTORED, 0, 0);
		}
		inode_unlock(ino);
		if (done) {
			hot_list_add(&f->hot, ino);
			rc = fs_persist_attr(f, ino);
		}
		inode_io_unlock(ino);
	}
	inode_lock(ino);
	ino->restoring = false;
	inode_unlock(ino);
	for (uint64_t k = 0; got && k < n; k++)
		hot_chunk_free(&f->hot, got[k]);
	free(got);
	if (done)
		fs_hot_enforce(f, ino);
	return rc;
}

/* Free the RAM copy of a file whose data is durable and clean. Caller
 * holds ino->io. -EAGAIN if a chunk became dirty again. */
static int release_ram(struct fs *f, struct tfs_inode *ino)
{
	inode_lock(ino);
	if (ino->ndirty) {
		inode_unlock(ino);
		return -EAGAIN;
	}
	/* No chunk is dirty: the hot tier lets every chunk go. */
	f->tiers[TFS_HOT].ops->release(&f->tiers[TFS_HOT], ino);
	/* Clean chunks of a cold-backed file need no re-encoding: it falls
	 * back to its archive. */
	if (ino->attr.tier == TFS_HOT)
		ino->attr.tier = ino->has_cold ? TFS_COLD : TFS_WARM;
	inode_unlock(ino);
	return 0;
}

static int persist_tier(struct fs *f, struct tfs_inode *ino)
{
	int tier;

	inode_lock(ino);
	tier = ino->attr.tier;
	inode_unlock(ino);
	return meta_inode_set_tier(f->meta, ino->ino, tier);
}

int fs_drop_ram(struct fs *f, struct tfs_inode *ino, bool sync)
{
	int rc = -EAGAIN;

	/* Write back (and sync, for a move that promises durability), then
	 * release: a writer racing us makes a chunk dirty again and we go
	 * round once more. Budget eviction does not sync: the RAM copy it
	 * drops was never more durable than the written-back one. */
	for (int tries = 0; tries < 4 && rc == -EAGAIN; tries++) {
		rc = fs_writeback(f, ino, sync);
		if (!rc)
			rc = release_ram(f, ino);
	}
	if (rc)
		return rc;      /* -EAGAIN: written faster than written back */
	return persist_tier(f, ino);
}

/*
 * Many files to warm at once: write every one back (re-encoding the ones
 * backed by cold data), sync once, then release their RAM and commit their
 * new tier in one transaction. A file written to meanwhile takes the
 * one-file path.
 */
static int cold_to_warm(struct fs *f, struct tfs_inode *ino, bool sync);

int fs_warm_batch(struct fs *f, struct tfs_inode **inos, size_t n,
		  size_t *moved)
{
	/* 0: take the one-file path, 1: done here, 2: pinned elsewhere */
	uint8_t *done = calloc(n ? n : 1, sizeof(*done));
	int rc = 0, first = 0;

	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool simple;

		inode_lock(inos[i]);
		simple = S_ISREG(inos[i]->attr.mode);
		if (fs_pinned_elsewhere(f, inos[i], TFS_WARM))
			done[i] = 2;
		inode_unlock(inos[i]);
		if (!simple || done[i] || fs_load_extents(f, inos[i]))
			continue;
		/* Cold-backed files are re-encoded into warm records. */
		inode_io_lock(inos[i]);
		done[i] = cold_to_warm(f, inos[i], false) == 0 &&
			  fs_writeback(f, inos[i], false) == 0;
		inode_io_unlock(inos[i]);
	}
	rc = fs_sync_store(f);
	if (rc)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		if (done[i] != 1)
			continue;
		inode_io_lock(inos[i]);
		done[i] = release_ram(f, inos[i]) == 0;
		if (done[i]) {
			inode_lock(inos[i]);
			fs_set_reason(inos[i], REASON_SETFATTR, 0, 0);
			inode_unlock(inos[i]);
		}
		inode_io_unlock(inos[i]);
	}
	rc = meta_begin(f->meta);
	if (rc)
		goto out_free;
	for (size_t i = 0; i < n && !rc; i++)
		if (done[i] == 1)
			rc = persist_tier(f, inos[i]);
	rc = meta_finish(f->meta, rc);
	if (rc)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		int r;

		if (done[i] == 2)
			continue;	/* pinned elsewhere */
		if (done[i]) {
			(*moved)++;
			stats_add(&f->stats.demotions[TFS_WARM], 1);
			continue;
		}
		r = fs_move(f, inos[i], TFS_WARM, REASON_SETFATTR, 0, 0);
		if (!r)
			(*moved)++;
		else if (!first)
			first = r;
	}
	rc = first;
out_free:
	free(done);
	return rc;
}

int fs_cold_to_warm(struct fs *f, struct tfs_inode *ino, bool sync)
{
	return cold_to_warm(f, ino, sync);
}

/* Re-encode a cold-backed file's bytes into warm records (to warm). */
static int cold_to_warm(struct fs *f, struct tfs_inode *ino, bool sync)
{
	bool has_cold;
	int rc;

	rc = fs_load_extents(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	has_cold = ino->has_cold;
	inode_unlock(ino);
	if (!has_cold)
		return 0;
	/* Bring every chunk into RAM and mark it dirty, so the write-back
	 * stores all of them as warm records. */
	rc = fs_make_resident(f, ino);
	if (rc)
		return rc;
	inode_lock(ino);
	for (uint64_t k = 0; k < ino->nchunks_cap; k++) {
		struct hchunk *c = ino->chunks[k];

		if (c && !c->dirty) {
			c->dirty = true;
			c->gen++;
			ino->ndirty++;
		}
	}
	ino->dirty_lo = 0;
	/* has_cold with len 0: the write-back clears the cold extent in the
	 * same transaction that commits the warm ones. */
	ino->cold.len = 0;
	ino->ext_gen++;
	inode_unlock(ino);
	rc = fs_writeback(f, ino, sync);
	if (!rc) {
		inode_lock(ino);
		f->tiers[TFS_COLD].ops->release(&f->tiers[TFS_COLD], ino);
		inode_unlock(ino);
	}
	return rc;
}

static int set_tier_file(struct fs *f, struct tfs_inode *ino, int tier)
{
	struct tfs_config cfg;
	size_t moved = 0, skipped = 0;
	int from, rc = 0;

	fs_get_config(f, &cfg);
	from = fs_get_tier(f, ino);
	if (tier == TFS_COLD) {
		rc = fs_cold_demote(f, &ino, 1, &moved, &skipped);
		if (!rc && skipped)
			rc = -EAGAIN;   /* changed while being archived */
		return rc;
	}
	inode_io_lock(ino);
	if (tier == TFS_HOT) {
		inode_lock(ino);
		if (ino->attr.size > cfg.hot_max)
			rc = -EFBIG;
		inode_unlock(ino);
		if (!rc)
			rc = fs_make_resident(f, ino);
	} else {
		rc = cold_to_warm(f, ino, true);
		if (!rc)
			rc = fs_drop_ram(f, ino, true);
	}
	inode_io_unlock(ino);
	if (rc)
		return rc;
	if (tier < from)
		stats_add(&f->stats.promotions[tier], 1);
	else if (tier > from)
		stats_add(&f->stats.demotions[tier], 1);
	/* Full chunks were unmapped as they were freed; the small ones go
	 * back to the system at the policy's next tick (hot_trim). */
	if (tier == TFS_HOT)
		fs_hot_enforce(f, ino);
	return 0;
}

/* Every regular file below directory `dir`, referenced. */
struct tree { struct tfs_inode **ino; size_t n, cap; uint64_t *dirs;
	      size_t ndirs, dcap; int rc; };

static int tree_add_dir(struct tree *t, uint64_t ino)
{
	if (t->ndirs == t->dcap) {
		size_t cap = t->dcap ? t->dcap * 2 : 16;
		uint64_t *d = realloc(t->dirs, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		t->dirs = d;
		t->dcap = cap;
	}
	t->dirs[t->ndirs++] = ino;
	return 0;
}

static int tree_visit(void *ctx, const char *name,
		      const struct meta_inode *in)
{
	struct tree *t = ctx;

	if (S_ISDIR(in->mode))
		return tree_add_dir(t, in->ino);
	if (!S_ISREG(in->mode))
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tfs_inode **p = realloc(t->ino, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->ino = p;
		t->cap = cap;
	}
	/* Only the number for now: meta's callback may not call back. */
	t->ino[t->n++] = (struct tfs_inode *)(uintptr_t)in->ino;
	return 0;
}

static int set_tier_tree(struct fs *f, struct tfs_inode *dir, int tier)
{
	struct tree t = { 0 };
	size_t got = 0, keep = 0, npinned = 0, moved, skipped;
	int rc, first = 0;

	rc = tree_add_dir(&t, dir->ino);
	for (size_t d = 0; !rc && d < t.ndirs; d++)
		rc = meta_dir_list(f->meta, t.dirs[d], tree_visit, &t);
	for (size_t i = 0; !rc && i < t.n; i++) {
		uint64_t num = (uint64_t)(uintptr_t)t.ino[i];

		if (fs_iget(f, num, &t.ino[got]) == 0)
			got++;
	}
	if (rc)
		goto out_put;
	/* A bulk move never moves a pinned file off its pin. */
	for (size_t i = 0; i < got; i++) {
		bool pinned;

		inode_lock(t.ino[i]);
		pinned = fs_pinned_elsewhere(f, t.ino[i], tier);
		inode_unlock(t.ino[i]);
		if (!pinned) {
			t.ino[keep++] = t.ino[i];
			continue;
		}
		fs_iput(f, t.ino[i]);
		npinned++;
	}
	got = keep;
	if (npinned)
		tfs_info("moving a directory tree to %s: %zu pinned file(s) "
			 "skipped", tfs_tier_name(tier), npinned);
	if (tier == TFS_COLD) {
		for (size_t i = 0; i < got && !rc; i++)
			rc = fs_replace_publish_now(f, t.ino[i]);
		if (!rc)
			rc = fs_cold_demote(f, t.ino, got, &moved, &skipped);
		if (!rc && skipped)
			rc = -EAGAIN;   /* some changed while archived */
		for (size_t i = 0; i < got; i++) {
			inode_lock(t.ino[i]);
			if (t.ino[i]->attr.tier == TFS_COLD)
				fs_set_reason(t.ino[i], REASON_SETFATTR, 0, 0);
			inode_unlock(t.ino[i]);
		}
	} else if (tier == TFS_WARM) {
		for (size_t i = 0; i < got; i++)
			fs_load_extents(f, t.ino[i]);
		rc = fs_warm_batch(f, t.ino, got, &moved);
		hot_trim(&f->hot);
	} else {
		for (size_t i = 0; i < got; i++) {
			int r = fs_move(f, t.ino[i], tier, REASON_SETFATTR, 0,
					0);

			if (r && !first)
				first = r;
		}
		rc = first;
	}
out_put:
	for (size_t i = 0; i < got; i++)
		fs_iput(f, t.ino[i]);
	free(t.ino);
	free(t.dirs);
	return rc;
}

int fs_move(struct fs *f, struct tfs_inode *ino, int tier,
	    enum fs_reason r, uint64_t a0, uint64_t a1)
{
	int rc = set_tier_file(f, ino, tier);

	if (!rc) {
		inode_lock(ino);
		fs_set_reason(ino, r, a0, a1);
		inode_unlock(ino);
	} else if (rc != -EAGAIN) {
		stats_add(&f->stats.migration_errors, 1);
	}
	return rc;
}

int fs_pin_of(struct fs *f, const struct tfs_inode *ino)
{
	if (ino->attr.pin != TFS_PIN_NONE)
		return ino->attr.pin;
	return fs_dir_pin(f, ino->ino);
}

bool fs_pinned_elsewhere(struct fs *f, const struct tfs_inode *ino, int tier)
{
	int pin = fs_pin_of(f, ino);

	return pin != TFS_PIN_NONE && pin != tier;
}

/* A pinned file moved by hand takes its pin along (its own pin := tier,
 * also when the pin came from a directory policy), so the policy does not
 * bring it straight back. */
static int move_by_hand(struct fs *f, struct tfs_inode *ino, int tier)
{
	bool repin;
	int rc = 0;

	inode_io_lock(ino);
	/* A user's move is a point where a rewrite is done (fs_replace.c);
	 * a pending one would keep the file out of cold. */
	rc = fs_replace_publish(f, ino);
	inode_lock(ino);
	repin = !rc && fs_pinned_elsewhere(f, ino, tier);
	if (repin)
		ino->attr.pin = tier;
	inode_unlock(ino);
	if (repin)
		rc = fs_persist_attr(f, ino);
	inode_io_unlock(ino);
	if (rc)
		return rc;
	return fs_move(f, ino, tier, repin ? REASON_PIN : REASON_SETFATTR, 0,
		       0);
}

int fs_set_tier(struct fs *f, struct tfs_inode *ino, int tier)
{
	mode_t mode;

	if (ino->kind != INODE_REAL)
		return -EPERM;
	if (tier < 0 || tier >= TFS_NTIERS)
		return -EINVAL;
	inode_lock(ino);
	mode = ino->attr.mode;
	inode_unlock(ino);
	if (S_ISDIR(mode))
		return set_tier_tree(f, ino, tier);
	if (!S_ISREG(mode))
		return -EINVAL;
	return move_by_hand(f, ino, tier);
}

/* ---- eviction ---- */

struct victim {
	uint64_t ino;
	tfs_ns last;
};

static int victim_cmp(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	return (x->last > y->last) - (x->last < y->last);
}

#define EVICT_SCAN 256

void fs_hot_enforce(struct fs *f, struct tfs_inode *self)
{
	struct victim v[EVICT_SCAN];
	size_t n = 0;
	bool freed = false;

	if (!hot_over(&f->hot))
		return;
	pthread_mutex_lock(&f->hot.lock);
	for (struct tfs_inode *i = f->hot.head; i && n < EVICT_SCAN;
	     i = i->hot_next) {
		if (i == self)
			continue;
		v[n].ino = i->ino;
		v[n].last = atomic_load(&i->last_access);
		n++;
	}
	pthread_mutex_unlock(&f->hot.lock);
	qsort(v, n, sizeof(*v), victim_cmp);

	for (size_t i = 0; i < n && hot_excess_low(&f->hot); i++) {
		struct tfs_inode *ino;

		ino = fs_ifind(f, v[i].ino);
		if (!ino)
			continue;
		if (pthread_mutex_trylock(&ino->io) == 0) {
			bool pinned;

			inode_lock(ino);
			pinned = fs_pin_of(f, ino) == TFS_HOT;
			inode_unlock(ino);
			if (!pinned && fs_drop_ram(f, ino, false) == 0) {
				inode_lock(ino);
				fs_set_reason(ino, REASON_BUDGET, 0, 0);
				inode_unlock(ino);
				stats_add(&f->stats.evictions, 1);
				stats_add(&f->stats.demotions[TFS_WARM], 1);
				freed = true;
			}
			inode_io_unlock(ino);
		}
		fs_iput(f, ino);
	}
	if (hot_excess_low(&f->hot) && self && self->kind == INODE_REAL) {
		/* Still over: the writer's own data goes to warm. */
		inode_io_lock(self);
		if (fs_drop_ram(f, self, false) == 0) {
			inode_lock(self);
			fs_set_reason(self, REASON_BUDGET, 0, 0);
			inode_unlock(self);
			stats_add(&f->stats.evictions, 1);
			freed = true;
		}
		inode_io_unlock(self);
	}
	if (freed)
		hot_trim(&f->hot);
}
