/*
 * policy_rules.c - the rules one policy tick applies, and the restore of
 * the hot set after mount (policy_int.h). What it is not: the thread, its
 * wake-ups and the promotion queue (policy.c), or the mover (every move
 * goes through fs_move() and fs_cold_demote()).
 *
 *
 * Once after mount, the hot set is loaded back into RAM: files recorded
 * hot, pinned ones first, then most recently used first, while they fit in
 * 90% of hot_max; the rest are recorded warm.
 *
 * THE RULES, applied in this order on every tick (now = wall clock):
 *   1. Promote every queued file (opened for reading promote_after times
 *      within promote_window, not larger than promote_max, not pinned
 *      elsewhere) to hot.
 *   2. Demote to warm every hot file with now - last_access > hot_age,
 *      least recently used first, unless pinned hot.
 *   3. If the hot tier's RAM is over hot_max, demote least recently used
 *      unpinned hot files until it is under the low watermark (90%).
 *   4. Demote to cold, in one batch (archives in path order), every warm
 *      file with now - max(last_access, mtime) > warm_age, unless pinned
 *      hot or warm. In the same scan of the rows: move every pinned file
 *      that is not on its pinned tier back there (to hot only while it
 *      fits under 90% of hot_max).
 *   5. Write changed access times/counts to meta in one transaction.
 *   6. Compact segments and archives under compact_threshold live.
 * A failure in one step is logged and counted; the next step still runs.
 *
 * DIRECTORY POLICIES. At the start of each tick the map of directory
 * policies is rebuilt (dirpol.h: one query when none is set, one per
 * directory below a policy otherwise; never a walk up per file). In every
 * rule a file's hot_age, warm_age and pin are then its effective ones: a
 * hash lookup in the map, falling back to the mount's settings. Candidates
 * are gathered against the smallest age in force, then each one is checked
 * against its own.
 */
#include "policy_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dirpol.h"
#include "fs_int.h"
#include "log.h"

/* What applies to one file: the mount's ages unless a directory policy
 * above it sets them; its own pin, else a directory policy's. */
struct eff {
	uint64_t hot_ms, warm_ms;       /* DIRPOL_NEVER: never by age */
	int pin;
};

static void effective(const struct policy *p, const struct tfs_config *cfg,
		      uint64_t ino, int own_pin, struct eff *e)
{
	const struct dirpol *d = dirpol_map_get(p->dirpol, ino);

	e->hot_ms = d && (d->has & DIRPOL_HOT_AGE) ? d->hot_age_ms
						     : cfg->hot_age_ms;
	e->warm_ms = d && (d->has & DIRPOL_WARM_AGE) ? d->warm_age_ms
						       : cfg->warm_age_ms;
	e->pin = own_pin != TFS_PIN_NONE ? own_pin :
		 d && (d->has & DIRPOL_PIN) ? d->pin : TFS_PIN_NONE;
}

/* Has a file idle since `last` passed an age (ms)? */
static bool past(tfs_ns now, tfs_ns last, uint64_t age_ms)
{
	return age_ms != DIRPOL_NEVER &&
	       now - last > (tfs_ns)age_ms * 1000000;
}

/* The smallest age any file may have: candidates are scanned against it,
 * then each one against its own. */
static uint64_t min_age(uint64_t cfg_ms, uint64_t dir_ms)
{
	return dir_ms < cfg_ms ? dir_ms : cfg_ms;
}

/* Rule 1. */
void policy_promote(struct policy *p, const struct tfs_config *cfg)
{
	struct fs *f = p->fs;
	uint64_t *q;
	size_t n;

	pthread_mutex_lock(&p->lock);
	q = p->queue;
	n = p->nqueue;
	p->queue = NULL;
	p->nqueue = p->qcap = 0;
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n; i++) {
		struct tfs_inode *ino;
		uint32_t reads;
		bool go;

		if (fs_iget(f, q[i], &ino))
			continue;
		inode_lock(ino);
		reads = ino->promo_reads;
		go = !ino->resident && ino->attr.size <= cfg->promote_max &&
		     ino->attr.size <= cfg->hot_max / 2 &&
		     !fs_pinned_elsewhere(f, ino, TFS_HOT);
		ino->promo_queued = false;
		ino->promo_reads = 0;
		inode_unlock(ino);
		if (go && fs_move(f, ino, TFS_HOT, REASON_PROMOTED, reads,
				  cfg->promote_window_ms / 1000) == 0)
			tfs_debug("promoted inode %" PRIu64, q[i]);
		fs_iput(f, ino);
	}
	free(q);
}

struct idle { uint64_t ino; tfs_ns last; };

static int idle_cmp(const void *a, const void *b)
{
	const struct idle *x = a, *y = b;

	return (x->last > y->last) - (x->last < y->last);
}

/* Rule 2. */
void policy_hot_aging(struct policy *p, const struct tfs_config *cfg,
			 tfs_ns now)
{
	struct fs *f = p->fs;
	uint64_t dhot, dwarm;
	tfs_ns age;
	struct tfs_inode **inos;
	struct idle *v = NULL;
	uint64_t *ages = NULL;
	size_t n = 0, cap = 0, got = 0, moved = 0;

	dirpol_map_min_ages(p->dirpol, &dhot, &dwarm);
	if (min_age(cfg->hot_age_ms, dhot) == DIRPOL_NEVER)
		return;
	age = (tfs_ns)min_age(cfg->hot_age_ms, dhot) * 1000000;

	pthread_mutex_lock(&f->hot.lock);
	for (struct tfs_inode *i = f->hot.head; i; i = i->hot_next) {
		tfs_ns last = atomic_load(&i->last_access);

		if (now - last <= age)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct idle *nv = realloc(v, c * sizeof(*nv));

			if (!nv)
				break;
			v = nv;
			cap = c;
		}
		v[n++] = (struct idle){ i->ino, last };
	}
	pthread_mutex_unlock(&f->hot.lock);
	if (n)
		qsort(v, n, sizeof(*v), idle_cmp);
	inos = calloc(n ? n : 1, sizeof(*inos));
	ages = calloc(n ? n : 1, sizeof(*ages));
	for (size_t i = 0; inos && ages && i < n; i++) {
		struct tfs_inode *ino = fs_ifind(f, v[i].ino);
		struct eff e;
		int own;

		if (!ino)
			continue;
		inode_lock(ino);
		own = ino->attr.pin;
		inode_unlock(ino);
		effective(p, cfg, v[i].ino, own, &e);
		if (e.pin == TFS_HOT || !past(now, v[i].last, e.hot_ms)) {
			fs_iput(f, ino);
			continue;
		}
		inos[got] = ino;
		ages[got] = e.hot_ms;
		v[got++].last = v[i].last;
	}
	if (got)
		fs_warm_batch(f, inos, got, &moved);
	for (size_t i = 0; i < got; i++) {
		inode_lock(inos[i]);
		if (!inos[i]->resident)
			fs_set_reason(inos[i], REASON_IDLE,
				      (uint64_t)((now - v[i].last) / 1000000000),
				      ages[i] / 1000);
		inode_unlock(inos[i]);
		fs_iput(f, inos[i]);
	}
	free(ages);
	free(inos);
	free(v);
}

/* A growing list of inode numbers. */
struct ino_list {
	uint64_t *ino;
	size_t n, cap;
};

static void ino_list_add(struct ino_list *l, uint64_t ino)
{
	if (l->n == l->cap) {
		size_t c = l->cap ? l->cap * 2 : 256;
		uint64_t *p = realloc(l->ino, c * sizeof(*p));

		if (!p)
			return;	/* dropped: seen again next tick */
		l->ino = p;
		l->cap = c;
	}
	l->ino[l->n++] = ino;
}

/* Rule 4: collect warm files idle past warm_age; rule 0b: files pinned to
 * a tier they are not on (one scan of the rows for both). */
struct cold_scan {
	const struct policy *p;
	const struct tfs_config *cfg;
	tfs_ns now;
	struct ino_list idle, pinned;
};

static void scan_warm(void *ctx, const struct meta_inode *in)
{
	struct cold_scan *s = ctx;
	tfs_ns last = in->last_access > in->mtime ? in->last_access : in->mtime;
	struct eff e;

	if (!S_ISREG(in->mode) || in->nlink == 0)
		return;
	effective(s->p, s->cfg, in->ino, in->pin, &e);
	if (e.pin != TFS_PIN_NONE && e.pin != in->tier)
		ino_list_add(&s->pinned, in->ino);
	if (in->tier != TFS_WARM || e.pin == TFS_HOT || e.pin == TFS_WARM)
		return;
	if (!past(s->now, last, e.warm_ms))
		return;
	ino_list_add(&s->idle, in->ino);
}

/* Rule 0b: bring pinned files back to their pinned tier (a bulk move or
 * an eviction never moves them, but a remount over budget, or a pin set
 * while a move was in flight, can leave them elsewhere). Hot only while
 * they fit in the budget, so a pinned set larger than RAM does not
 * thrash. */
static void do_pins(struct policy *p, const struct tfs_config *cfg,
		    const struct ino_list *l)
{
	struct fs *f = p->fs;
	struct tfs_inode **cold = calloc(l->n ? l->n : 1, sizeof(*cold));
	size_t ncold = 0, moved = 0, skipped = 0;

	for (size_t i = 0; cold && i < l->n; i++) {
		struct tfs_inode *ino;
		uint64_t size;
		int pin, tier;

		if (fs_iget(f, l->ino[i], &ino))
			continue;
		tier = fs_get_tier(f, ino);
		inode_lock(ino);
		pin = fs_pin_of(f, ino);
		size = ino->attr.size;
		inode_unlock(ino);
		if (pin == TFS_COLD && tier != TFS_COLD) {
			cold[ncold++] = ino;
			continue;
		}
		if (pin == TFS_WARM && tier != TFS_WARM)
			fs_move(f, ino, TFS_WARM, REASON_PIN, 0, 0);
		else if (pin == TFS_HOT && tier != TFS_HOT &&
			 size <= cfg->hot_max / 2 &&
			 atomic_load(&f->hot.bytes) + size <=
			 cfg->hot_max / 10 * 9)
			fs_move(f, ino, TFS_HOT, REASON_PIN, 0, 0);
		fs_iput(f, ino);
	}
	if (ncold && fs_cold_demote(f, cold, ncold, &moved, &skipped))
		tfs_err("policy: moving pinned files to cold failed");
	for (size_t i = 0; i < ncold; i++) {
		inode_lock(cold[i]);
		if (cold[i]->attr.tier == TFS_COLD)
			fs_set_reason(cold[i], REASON_PIN, 0, 0);
		inode_unlock(cold[i]);
		fs_iput(f, cold[i]);
	}
	if (moved)
		tfs_info("policy: %zu pinned file(s) back to cold", moved);
	free(cold);
}

void policy_warm_aging(struct policy *p, const struct tfs_config *cfg,
			  tfs_ns now)
{
	struct fs *f = p->fs;
	struct cold_scan s = { .p = p, .cfg = cfg, .now = now };
	struct tfs_inode **inos;
	size_t got = 0, moved = 0, skipped = 0;
	int rc;

	rc = meta_inode_scan(f->meta, scan_warm, &s);
	if (rc)
		goto out_free;
	if (s.pinned.n)
		do_pins(p, cfg, &s.pinned);
	if (!s.idle.n)
		goto out_free;
	inos = calloc(s.idle.n, sizeof(*inos));
	if (!inos)
		goto out_free;
	for (size_t i = 0; i < s.idle.n; i++) {
		struct tfs_inode *ino;
		struct eff e;
		tfs_ns last;
		bool ok;

		if (fs_iget(f, s.idle.ino[i], &ino))
			continue;
		/* The in-memory view is newer than the row. */
		last = atomic_load(&ino->last_access);
		inode_lock(ino);
		if (ino->attr.mtime > last)
			last = ino->attr.mtime;
		effective(p, cfg, ino->ino, ino->attr.pin, &e);
		ok = !ino->resident && ino->attr.tier == TFS_WARM &&
		     e.pin != TFS_HOT && e.pin != TFS_WARM &&
		     past(now, last, e.warm_ms);
		inode_unlock(ino);
		if (ok)
			inos[got++] = ino;
		else
			fs_iput(f, ino);
	}
	rc = fs_cold_demote(f, inos, got, &moved, &skipped);
	if (rc)
		tfs_err("policy: demotion to cold: %s", strerror(-rc));
	for (size_t i = 0; i < got; i++) {
		struct eff e;

		inode_lock(inos[i]);
		effective(p, cfg, inos[i]->ino, inos[i]->attr.pin, &e);
		if (inos[i]->attr.tier == TFS_COLD)
			fs_set_reason(inos[i], REASON_IDLE,
				      (uint64_t)((now - atomic_load(
					&inos[i]->last_access)) / 1000000000),
				      e.warm_ms / 1000);
		inode_unlock(inos[i]);
		fs_iput(f, inos[i]);
	}
	free(inos);
	if (moved)
		tfs_info("policy: %zu file(s) idle over warm_age moved to cold"
			 " (%zu skipped)", moved, skipped);
out_free:
	free(s.idle.ino);
	free(s.pinned.ino);
}

/* Rule 0, once after mount: load the hot set back into RAM. */
struct restore_row { uint64_t ino, size; tfs_ns last; bool pinned; };
struct restore_scan { struct restore_row *r; size_t n, cap; };

static void scan_hot(void *ctx, const struct meta_inode *in)
{
	struct restore_scan *s = ctx;

	if (!S_ISREG(in->mode) || in->nlink == 0 || in->tier != TFS_HOT)
		return;
	/* An empty file has no bytes to bring back: loading it would only
	 * keep its inode object (~450 bytes) in the table for good, which
	 * made an idle store of a million empty files cost 470 MiB. */
	if (in->size == 0)
		return;
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 256;
		struct restore_row *p = realloc(s->r, c * sizeof(*p));

		if (!p)
			return;
		s->r = p;
		s->cap = c;
	}
	s->r[s->n++] = (struct restore_row){
		in->ino, in->size, in->last_access, in->pin == TFS_HOT,
	};
}

/* Pinned first, then most recently used first. */
static int restore_cmp(const void *a, const void *b)
{
	const struct restore_row *x = a, *y = b;

	if (x->pinned != y->pinned)
		return x->pinned ? -1 : 1;
	return (x->last < y->last) - (x->last > y->last);
}

void policy_restore(struct policy *p, const struct tfs_config *cfg)
{
	struct fs *f = p->fs;
	struct restore_scan s = { 0 };
	uint64_t budget = cfg->hot_max / 10 * 9, used;
	size_t loaded = 0, dropped = 0;

	if (meta_inode_scan(f->meta, scan_hot, &s) || !s.n)
		goto out_free;
	qsort(s.r, s.n, sizeof(*s.r), restore_cmp);
	for (size_t i = 0; i < s.n; i++) {
		struct tfs_inode *ino;
		bool fits, done = false;

		if (fs_iget(f, s.r[i].ino, &ino))
			continue;
		used = atomic_load(&f->hot.bytes);
		fits = s.r[i].size <= cfg->promote_max &&
		       used + s.r[i].size <= budget;
		inode_io_lock(ino);
		inode_lock(ino);
		done = ino->resident || ino->attr.tier != TFS_HOT;
		if (!done && !fits) {
			/* No room: say so rather than claim it is hot. */
			ino->attr.tier = TFS_WARM;
			fs_set_reason(ino, REASON_BUDGET, 0, 0);
		}
		inode_unlock(ino);
		if (!done && fits && fs_make_resident(f, ino) == 0) {
			inode_lock(ino);
			fs_set_reason(ino, REASON_RESTORED, 0, 0);
			inode_unlock(ino);
			loaded++;
		} else if (!done && !fits) {
			fs_persist_attr(f, ino);
			dropped++;
		}
		inode_io_unlock(ino);
		fs_iput(f, ino);
	}
	if (loaded || dropped)
		tfs_info("policy: hot set restored: %zu file(s) back in RAM, "
			 "%zu left warm (hot_max)", loaded, dropped);
out_free:
	free(s.r);
}

/* Rule 5. */
void policy_persist_access(struct policy *p)
{
	struct fs *f = p->fs;
	struct { uint64_t ino, count; tfs_ns last; } *v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	pthread_mutex_lock(&f->itable.lock);
	for (uint64_t b = 0; b < f->itable.nbuckets; b++)
		for (struct tfs_inode *i = f->itable.buckets[b]; i;
		     i = i->hnext) {
			uint64_t c = atomic_load(&i->access_count);
			tfs_ns l = atomic_load(&i->last_access);

			if (i->kind != INODE_REAL ||
			    (c == i->persisted_count &&
			     l == i->persisted_last))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 256;
				void *nv = realloc(v, nc * sizeof(*v));

				if (!nv)
					goto out_unlock;
				v = nv;
				cap = nc;
			}
			v[n].ino = i->ino;
			v[n].count = c;
			v[n].last = l;
			i->persisted_count = c;
			i->persisted_last = l;
			n++;
		}
out_unlock:
	pthread_mutex_unlock(&f->itable.lock);
	if (!n)
		goto out_free;
	rc = meta_begin(f->meta);
	if (!rc) {
		for (size_t i = 0; i < n && !rc; i++) {
			rc = meta_inode_set_access(f->meta, v[i].ino,
						   v[i].count, v[i].last);
			if (rc == -ENOENT)
				rc = 0;         /* deleted meanwhile */
		}
		rc = meta_finish(f->meta, rc);
	}
	if (rc)
		tfs_err("policy: saving access times: %s", strerror(-rc));
out_free:
	free(v);
}
