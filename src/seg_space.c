/*
 * seg_space.c - the warm tier and the store disk's free space: the reserve
 * appends leave free (seg_check_space(), called by segstore_append), giving
 * dead records' space back by punching holes, and trimming the active
 * segment at a clean close. See seg.h for the contracts; seg_int.h for the
 * structures shared with seg.c.
 *
 * What it is not: a policy. The filesystem decides the reserve and when to
 * punch (fs_mount.c's SPACE comment, compact.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "seg_int.h"

/* Far from the reserve, the disk is looked at once per SPACE_LOOK_COUNT
 * appends or SPACE_LOOK_BYTES appended, not at every append: a statvfs
 * per WRITE was one system call in fourteen of a 3 KiB create. "Far"
 * means more than SPACE_MARGIN above the reserve at the last look, so
 * even another program filling the disk meanwhile leaves the reserve
 * (at least 4 MiB) all but SPACE_LOOK_BYTES of it; near the reserve every
 * append looks. */
#define SPACE_MARGIN (64ULL << 20)
#define SPACE_LOOK_BYTES (1ULL << 20)
#define SPACE_LOOK_COUNT 64

/* -ENOSPC if appending `need` bytes would leave less than the reserve
 * free on the store disk; said once when it starts and once when it ends. */
int seg_check_space(struct segstore *s, uint64_t need)
{
	uint64_t reserve = atomic_load_explicit(&s->reserve,
						memory_order_relaxed);
	uint64_t seen = atomic_load_explicit(&s->space_seen,
					     memory_order_relaxed);
	uint64_t spent, avail;
	uint32_t checks;
	bool full;

	if (reserve == 0)
		return 0;
	spent = atomic_fetch_add(&s->space_spent, need) + need;
	checks = atomic_fetch_add(&s->space_checks, 1) + 1;
	if (seen > reserve + SPACE_MARGIN && spent <= SPACE_LOOK_BYTES &&
	    checks < SPACE_LOOK_COUNT)
		return 0;       /* looked lately, far from the reserve */
	if (segstore_avail(s, &avail) < 0)
		return 0;       /* the write itself will tell */
	atomic_store(&s->space_spent, 0);
	atomic_store(&s->space_checks, 0);
	atomic_store(&s->space_seen, avail);
	full = avail < reserve + need;
	if (atomic_exchange(&s->full, full) != full) {
		if (full)
			tfs_warn("warm: store disk nearly full (%" PRIu64
				 " KiB free, %" PRIu64 " KiB are kept for "
				 "metadata): new data is refused with ENOSPC "
				 "until space is freed", avail >> 10,
				 reserve >> 10);
		else
			tfs_info("warm: store disk has space again (%" PRIu64
				 " KiB free): writes accepted", avail >> 10);
	}
	return full ? -ENOSPC : 0;
}

int segstore_trim_active(struct segstore *s, uint64_t committed)
{
	struct seg_file *f;
	char name[32];
	uint64_t len;
	int r = 0;

	pthread_mutex_lock(&s->append_lock);
	f = s->active;
	if (f == NULL)
		goto out_unlock;
	len = atomic_load(&f->len);
	seg_name(name, sizeof(name), f->id);
	if (committed == 0) {
		uint64_t id = f->id;

		tfs_debug("warm: segment %s: nothing committed, deleted at "
			  "close", name);
		atomic_store_explicit(&f->sealed, true, memory_order_release);
		s->active = NULL;
		atomic_store(&s->active_id, 0);
		pthread_mutex_unlock(&s->append_lock);
		return segstore_remove(s, id);
	}
	if (committed < len) {
		tfs_debug("warm: segment %s: cutting %" PRIu64 " uncommitted "
			  "bytes at close", name, len - committed);
		r = s->bs->ops->wr_truncate(f->wr, committed);
		if (r < 0) {
			tfs_warn("warm: truncate segment %s: %s", name,
				 strerror(-r));
		} else {
			atomic_store(&f->len, committed);
		}
	}
out_unlock:
	pthread_mutex_unlock(&s->append_lock);
	return r;
}

void segstore_set_reserve(struct segstore *s, uint64_t bytes)
{
	atomic_store(&s->reserve, bytes);
}

int segstore_avail(struct segstore *s, uint64_t *avail)
{
	if (s->bs->ops->avail == NULL)
		return -EOPNOTSUPP;
	return s->bs->ops->avail(s->bs, avail);
}

bool segstore_punch_wanted(struct segstore *s, uint64_t id, uint64_t live)
{
	struct seg_file *f = seg_get(s, id);
	bool want;

	if (f == NULL)
		return false;
	want = atomic_load(&f->punched_live) != live;
	seg_put(f);
	return want;
}

/* Punch [from, to) of object `name` rounded inwards to whole pages; 0 or
 * -errno. */
static int seg_punch_range(struct segstore *s, const char *name,
			   uint64_t from, uint64_t to, uint64_t *punched)
{
	uint64_t a = (from + s->page - 1) / s->page * s->page;
	uint64_t b = to / s->page * s->page;
	int r;

	if (b <= a)
		return 0;
	if (s->bs->ops->punch == NULL)
		return -EOPNOTSUPP;
	r = s->bs->ops->punch(s->bs, name, a, b - a);
	if (r < 0)
		return r;
	*punched += b - a;
	return 0;
}

int segstore_punch_dead(struct segstore *s, uint64_t id,
			const struct seg_loc *live, size_t n, uint64_t live_bytes,
			uint64_t *punched)
{
	struct seg_file *f = seg_get(s, id);
	uint64_t pos = SEG_FHDR, len;
	char name[32];
	int r = 0;

	*punched = 0;
	if (f == NULL)
		return -ENOENT;
	seg_name(name, sizeof(name), id);
	len = atomic_load_explicit(&f->len, memory_order_acquire);
	for (size_t i = 0; i <= n && r == 0; i++) {
		uint64_t end = i < n ? live[i].off : len;

		if (end > len)
			end = len;
		if (end > pos)
			r = seg_punch_range(s, name, pos, end, punched);
		if (i < n && live[i].off + live[i].rec_len > pos)
			pos = live[i].off + live[i].rec_len;
	}
	if (r == 0)
		atomic_store(&f->punched_live, live_bytes);
	else if (r != -EOPNOTSUPP)
		tfs_warn("warm: punching dead records out of segment %s: %s",
			 name, strerror(-r));
	seg_put(f);
	return r;
}

