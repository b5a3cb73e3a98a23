/*
 * seg.c - warm tier segment files: append-only LZ4 chunk records, objects
 * of the blob store the caller gives it (blob.h; the local directory
 * STORE/warm). This file: the segment table, creation, recovery, appends,
 * sync and removal; seg_append.c the appends, seg_read.c the read path;
 * seg_int.h what they share, including the on-disk structs this DESIGN
 * describes.
 *
 * DESIGN
 *
 * On disk (little-endian; the build refuses a big-endian host rather than
 * byte-swap). A segment file is a 64-byte struct seg_fhdr followed by
 * records, each a 40-byte struct seg_rhdr, the payload (LZ4 block, or the
 * raw chunk when flag SEG_RAW is set) and zero padding to a multiple of 8,
 * so every record header is 8-byte aligned in the mapping. The header CRC
 * is CRC32C of the header with its hdr_crc field zeroed; data_crc is
 * CRC32C of the raw (decoded) bytes, so it also catches a decoder bug.
 *
 * Appends (seg_append.c). A batch of records is framed outside any lock:
 * a compressed payload goes to a buffer from a small per-store pool, a raw
 * one stays where the caller has it (no copy); then the batch is written
 * with one in-place gathered write (blob wr_pwritev, a pwritev(2)) per
 * segment it lands in, at the active segment's tail under append_lock,
 * which covers only those writes, the tail bump and (rarely) starting a
 * new segment. A failed or short write is cut back (wr_truncate) to the
 * old tail, so the object never keeps half a record;
 * ENOSPC, EDQUOT and EFBIG all surface as -ENOSPC. A segment is never
 * appended to after it stops being active, and never after a remount:
 * recovery only opens old segments for reading, which keeps the crash
 * story to "truncate to the committed length".
 *
 * Reads. A segment's first read opens its read handle (blob_open), which
 * it keeps while fewer than SEG_OPEN_MAX segments hold one (beyond that a
 * read opens and closes its own); a read copies the record with one range
 * read (pread(2) on the local store) into a pooled buffer and decodes from
 * there. Nothing is mapped, so reading a
 * large warm file does not grow the daemon's RSS: the pages stay in the
 * kernel's page cache. A reader only reads bytes below seg_file.len: the
 * tail (published with a release store after the write) for the active
 * segment, the committed size for older ones. Readers never take
 * append_lock; they take tab_lock shared just long enough to find the
 * segment and take a reference, so segstore_remove() cannot close a
 * segment under a reader (the last reference closes).
 *
 * Descriptors. At most SEG_OPEN_MAX read handles, plus the active
 * segment's write handle, which segstore_sync() closes once the segment is
 * sealed (another became active) and synced.
 *
 * Lock order: append_lock before tab_lock. sync_lock serializes
 * segstore_sync() and guards the closing of sealed segments' write
 * handles. pool_lock is a leaf.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"
#include "seg_int.h"
#include "tierfs.h"

void seg_name(char *buf, size_t n, uint64_t id)
{
	snprintf(buf, n, "%08" PRIx64 ".seg", id);
}

/* Parse a segment file name; false for anything not exactly as
 * seg_name() would write it (so no sign, case, width or suffix games). */
static bool seg_parse_name(const char *name, uint64_t *id)
{
	char canon[32];
	uint64_t v;

	if (sscanf(name, "%16" SCNx64, &v) != 1)
		return false;
	seg_name(canon, sizeof(canon), v);
	if (strcmp(canon, name) != 0)
		return false;
	*id = v;
	return true;
}

static bool seg_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A write's -errno as the warm tier reports it: full, or -EIO. */
int seg_space_errno(int r)
{
	return (r == -ENOSPC || r == -EDQUOT || r == -EFBIG) ? -ENOSPC : -EIO;
}

/* Write all of buf at off of f; 0, -ENOSPC or -EIO (real cause logged). */
static int seg_write_all(struct segstore *s, struct seg_file *f,
			 const void *buf, size_t n, uint64_t off)
{
	int r = s->bs->ops->wr_pwrite(f->wr, buf, n, off);

	if (r < 0) {
		tfs_err("warm: write to segment %08" PRIx64 " at %" PRIu64
			": %s", f->id, off, strerror(-r));
		return seg_space_errno(r);
	}
	return 0;
}

uint32_t seg_rhdr_crc(const struct seg_rhdr *h)
{
	struct seg_rhdr t = *h;

	t.hdr_crc = 0;
	return codec_crc32c(0, &t, sizeof(t));
}

/* ---- segment objects and the table ---- */

static void seg_file_free(struct seg_file *f)
{
	struct blob *b = atomic_load(&f->obj);

	if (b != NULL) {
		blob_close(f->s->bs, &b);
		atomic_fetch_sub(&f->s->nopen, 1);
	}
	if (f->wr != NULL)
		f->s->bs->ops->wr_close(f->wr, false);
	free(f);
}

struct blob *seg_handle(struct segstore *s, struct seg_file *f, bool *own)
{
	struct blob *b = atomic_load_explicit(&f->obj, memory_order_acquire);
	struct blob *none = NULL;
	char name[32];

	*own = false;
	if (b != NULL)
		return b;
	seg_name(name, sizeof(name), f->id);
	if (blob_open(s->bs, name, &b, NULL) < 0)
		return NULL;
	if (atomic_fetch_add(&s->nopen, 1) >= SEG_OPEN_MAX) {
		atomic_fetch_sub(&s->nopen, 1);
		*own = true;
		return b;
	}
	if (atomic_compare_exchange_strong(&f->obj, &none, b))
		return b;
	/* another reader installed one first */
	atomic_fetch_sub(&s->nopen, 1);
	blob_close(s->bs, &b);
	return none;
}

void seg_put(struct seg_file *f)
{
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
		seg_file_free(f);
}

/* Index of id in the table, or where it would go. Caller holds tab_lock. */
static bool seg_tab_find(const struct segstore *s, uint64_t id, size_t *idx)
{
	size_t lo = 0, hi = s->ntab;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->tab[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*idx = lo;
	return lo < s->ntab && s->tab[lo]->id == id;
}

/* Insert f (whose reference passes to the table); -EEXIST or -ENOMEM. */
static int seg_tab_insert(struct segstore *s, struct seg_file *f)
{
	size_t idx;
	int r = 0;

	pthread_rwlock_wrlock(&s->tab_lock);
	if (seg_tab_find(s, f->id, &idx)) {
		r = -EEXIST;
		goto out_unlock;
	}
	if (s->ntab == s->captab) {
		size_t cap = s->captab ? s->captab * 2 : 16;
		struct seg_file **t = realloc(s->tab, cap * sizeof(*t));

		if (t == NULL) {
			r = -ENOMEM;
			goto out_unlock;
		}
		s->tab = t;
		s->captab = cap;
	}
	memmove(&s->tab[idx + 1], &s->tab[idx],
		(s->ntab - idx) * sizeof(s->tab[0]));
	s->tab[idx] = f;
	s->ntab++;
out_unlock:
	pthread_rwlock_unlock(&s->tab_lock);
	return r;
}

/* A referenced segment, or NULL (seg_int.h). */
struct seg_file *seg_get(struct segstore *s, uint64_t id)
{
	struct seg_file *f = NULL;
	size_t idx;

	pthread_rwlock_rdlock(&s->tab_lock);
	if (seg_tab_find(s, id, &idx)) {
		f = s->tab[idx];
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	}
	pthread_rwlock_unlock(&s->tab_lock);
	return f;
}

/* ---- creating a segment (under append_lock) ---- */

static int seg_create(struct segstore *s, uint64_t id, struct seg_file **out)
{
	struct seg_fhdr h = { .version = SEG_FVERSION,
			      .hdr_size = sizeof(struct seg_fhdr), .id = id };
	struct seg_file *f;
	char name[32];
	int r;

	seg_name(name, sizeof(name), id);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->id = id;
	f->s = s;
	r = s->bs->ops->create(s->bs, name, &f->wr);
	if (r < 0) {
		free(f);
		if (r == -EEXIST)
			return -EEXIST;
		tfs_err("warm: create segment %s: %s", name, strerror(-r));
		return seg_space_errno(r);
	}
	memcpy(h.magic, SEG_FMAGIC, sizeof(h.magic));
	r = seg_write_all(s, f, &h, sizeof(h), 0);
	if (r < 0)
		goto out_remove;
	atomic_init(&f->len, SEG_FHDR);
	atomic_init(&f->dirty, true);
	atomic_init(&f->sealed, false);
	atomic_init(&f->punched_live, UINT64_MAX);
	atomic_init(&f->refs, 1);
	*out = f;
	return 0;

out_remove:
	seg_file_free(f);
	blob_remove(s->bs, name);
	return r;
}

/* Start a new active segment (seg_int.h). Caller holds append_lock. */
int seg_roll(struct segstore *s, struct seg_file **out)
{
	struct seg_file *f = NULL;
	char name[32];
	uint64_t id = 0;
	int r = -EIO;

	for (int attempt = 0; attempt < 8; attempt++) {
		r = s->next_id(s->ctx, &id);
		if (r != 0) {
			tfs_err("warm: no id for a new segment: %s",
				strerror(r < 0 ? -r : EIO));
			return r < 0 ? r : -EIO;
		}
		r = seg_create(s, id, &f);
		if (r != -EEXIST)
			break;
		tfs_warn("warm: segment %08" PRIx64 " already exists, "
			 "asking for another id", id);
	}
	if (r == -EEXIST) {
		tfs_err("warm: every new segment id offered already exists");
		return -EIO;
	}
	if (r < 0)
		return r;
	r = seg_tab_insert(s, f);
	if (r < 0) {
		seg_name(name, sizeof(name), id);
		seg_file_free(f);
		blob_remove(s->bs, name);
		return r == -EEXIST ? -EIO : r;
	}
	if (s->active != NULL)
		atomic_store_explicit(&s->active->sealed, true,
				      memory_order_release);
	s->active = f;
	*out = f;
	atomic_store(&s->active_id, id);
	tfs_debug("warm: started segment %08" PRIx64, id);
	return 0;
}

/* ---- recovery ---- */

/* Open one committed segment, for reading only from now on. Only resource
 * exhaustion is an error: a missing segment is logged and left out, a
 * damaged one logged and kept (reads of bad records then fail with -EIO). */
static int seg_open_known(struct segstore *s, uint64_t id, uint64_t len)
{
	struct seg_fhdr h;
	struct seg_file *f;
	char name[32];
	uint64_t size;
	int r;

	struct blob *b = NULL;

	seg_name(name, sizeof(name), id);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->id = id;
	f->s = s;
	r = blob_open(s->bs, name, &b, &size);
	if (r < 0) {
		tfs_err("warm: segment %s (committed length %" PRIu64
			"): %s", name, len, strerror(-r));
		free(f);
		return (r == -EMFILE || r == -ENFILE || r == -ENOMEM) ? r : 0;
	}
	r = size < sizeof(h) ? -EIO : blob_read(s->bs, b, &h, sizeof(h), 0);
	blob_close(s->bs, &b);
	if (r < 0 ||
	    memcmp(h.magic, SEG_FMAGIC, sizeof(h.magic)) != 0 ||
	    h.version != SEG_FVERSION || h.hdr_size != SEG_FHDR || h.id != id)
		tfs_err("warm: segment %s has a bad file header", name);
	if (len < SEG_FHDR) {
		tfs_warn("warm: segment %s committed length %" PRIu64
			 " is shorter than its header", name, len);
		len = SEG_FHDR;
	}
	if (size > len) {
		tfs_info("warm: segment %s: dropping %" PRIu64
			 " uncommitted bytes", name, size - len);
		r = s->bs->ops->truncate(s->bs, name, len);
		if (r < 0)
			tfs_err("warm: truncate segment %s: %s", name,
				strerror(-r));
		size = len;
	} else if (size < len) {
		tfs_err("warm: segment %s is %" PRIu64 " bytes but %" PRIu64
			" are committed; records past the end are lost",
			name, size, len);
	}
	atomic_init(&f->len, size);
	atomic_init(&f->dirty, false);
	atomic_init(&f->sealed, true);
	atomic_init(&f->punched_live, UINT64_MAX);
	atomic_init(&f->refs, 1);
	r = seg_tab_insert(s, f);
	if (r < 0) {
		seg_file_free(f);
		r = r == -EEXIST ? 0 : r;
	}
	return r;
}

struct seg_sweep {
	struct segstore *s;
	char (*names)[BLOB_NAME_MAX + 1];
	size_t n, cap;
};

/* blob_list callback: note every object that is an orphan. */
static int seg_note_orphan(void *ctx, const char *n, uint64_t size)
{
	struct seg_sweep *w = ctx;
	uint64_t id;
	size_t idx;
	bool known;

	if (seg_parse_name(n, &id)) {
		pthread_rwlock_rdlock(&w->s->tab_lock);
		known = seg_tab_find(w->s, id, &idx);
		pthread_rwlock_unlock(&w->s->tab_lock);
		if (known)
			return 0;
	} else if (!seg_ends_with(n, ".seg") && !seg_ends_with(n, ".tmp")) {
		tfs_warn("warm: leaving unknown file %s alone", n);
		return 0;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		void *p = realloc(w->names, cap * sizeof(*w->names));

		if (p == NULL)
			return -ENOMEM;
		w->names = p;
		w->cap = cap;
	}
	snprintf(w->names[w->n++], sizeof(w->names[0]), "%s", n);
	return 0;
}

/* Delete every segment object not in the table, and stray temp files. */
static int seg_sweep(struct segstore *s)
{
	struct seg_sweep w = { .s = s };
	int r;

	r = blob_list(s->bs, "", seg_note_orphan, &w);
	for (size_t i = 0; r == 0 && i < w.n; i++) {
		int e;

		tfs_info("warm: deleting orphan %s", w.names[i]);
		e = blob_remove(s->bs, w.names[i]);
		if (e < 0)
			tfs_warn("warm: delete %s: %s", w.names[i],
				 strerror(-e));
	}
	free(w.names);
	return r;
}

int segstore_open(struct segstore **out, struct blob_store *bs,
		  uint64_t seg_max,
		  const struct seg_known *known, size_t nknown,
		  int (*next_id)(void *ctx, uint64_t *id), void *ctx)
{
	struct segstore *s;
	int r;

	*out = NULL;
	if (bs == NULL || next_id == NULL || seg_max == 0 ||
	    (known == NULL && nknown > 0)) {
		blob_store_close(&bs);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		blob_store_close(&bs);
		return -ENOMEM;
	}
	s->bs = bs;
	s->seg_max = seg_max;
	s->page = (size_t)sysconf(_SC_PAGESIZE);
	s->next_id = next_id;
	s->ctx = ctx;
	pthread_mutex_init(&s->append_lock, NULL);
	pthread_mutex_init(&s->sync_lock, NULL);
	pthread_mutex_init(&s->pool_lock, NULL);
	{
		pthread_rwlockattr_t a;

		/* Writers (new segment, remove) must not starve behind a
		 * stream of readers. */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&s->tab_lock, &a);
		pthread_rwlockattr_destroy(&a);
	}
	for (size_t i = 0; i < nknown; i++) {
		r = seg_open_known(s, known[i].id, known[i].len);
		if (r < 0)
			goto out_close;
	}
	r = seg_sweep(s);
	if (r < 0) {
		tfs_err("warm: scan of the segments: %s", strerror(-r));
		goto out_close;
	}
	*out = s;
	return 0;

out_close:
	segstore_close(&s);
	return r;
}

void segstore_close(struct segstore **sp)
{
	struct segstore *s = sp ? *sp : NULL;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ntab; i++)
		seg_file_free(s->tab[i]);
	free(s->tab);
	while (s->pool != NULL) {
		struct seg_buf *b = s->pool;

		s->pool = b->next;
		free(b);
	}
	pthread_rwlock_destroy(&s->tab_lock);
	pthread_mutex_destroy(&s->append_lock);
	pthread_mutex_destroy(&s->sync_lock);
	pthread_mutex_destroy(&s->pool_lock);
	blob_store_close(&s->bs);
	free(s);
	*sp = NULL;
}

/* ---- sync, remove, stats ---- */

int segstore_sync(struct segstore *s)
{
	struct seg_file **v = NULL;
	size_t n = 0;
	int r = 0;

	pthread_mutex_lock(&s->sync_lock);
	pthread_rwlock_rdlock(&s->tab_lock);
	if (s->ntab > 0)
		v = malloc(s->ntab * sizeof(*v));
	if (v == NULL && s->ntab > 0) {
		pthread_rwlock_unlock(&s->tab_lock);
		r = -ENOMEM;
		goto out_unlock;
	}
	for (size_t i = 0; i < s->ntab; i++) {
		struct seg_file *f = s->tab[i];

		if (atomic_load(&f->dirty) || (f->wr != NULL &&
					       atomic_load(&f->sealed))) {
			atomic_fetch_add(&f->refs, 1);
			v[n++] = f;
		}
	}
	pthread_rwlock_unlock(&s->tab_lock);

	for (size_t i = 0; i < n; i++) {
		struct seg_file *f = v[i];
		/* Sealed first: then every append to f happened before. */
		bool sealed = atomic_load_explicit(&f->sealed,
						   memory_order_acquire);

		int e = 0;

		if (atomic_exchange(&f->dirty, false) &&
		    (e = s->bs->ops->wr_sync(f->wr)) < 0) {
			/* Linux may forget a writeback error once reported,
			 * so a later sync passing proves nothing; the caller
			 * must treat this failure as data loss. */
			tfs_err("warm: fdatasync segment %08" PRIx64 ": %s",
				f->id, strerror(-e));
			atomic_store(&f->dirty, true);
			if (r == 0)
				r = e;
		} else if (sealed && f->wr != NULL) {
			s->bs->ops->wr_close(f->wr, false);
			f->wr = NULL;
		}
		seg_put(f);
	}
	{
		int e = blob_sync(s->bs);

		if (e < 0) {
			tfs_err("warm: fsync segment directory: %s",
				strerror(-e));
			if (r == 0)
				r = -EIO;
		}
	}
out_unlock:
	pthread_mutex_unlock(&s->sync_lock);
	free(v);
	return r;
}

int segstore_remove(struct segstore *s, uint64_t id)
{
	struct seg_file *f = NULL;
	char name[32];
	size_t idx;
	int r = 0;

	pthread_mutex_lock(&s->append_lock);
	if (s->active != NULL && s->active->id == id) {
		pthread_mutex_unlock(&s->append_lock);
		return -EBUSY;
	}
	pthread_rwlock_wrlock(&s->tab_lock);
	if (seg_tab_find(s, id, &idx)) {
		f = s->tab[idx];
		memmove(&s->tab[idx], &s->tab[idx + 1],
			(s->ntab - idx - 1) * sizeof(s->tab[0]));
		s->ntab--;
	}
	pthread_rwlock_unlock(&s->tab_lock);
	pthread_mutex_unlock(&s->append_lock);
	if (f == NULL)
		return -ENOENT;
	seg_name(name, sizeof(name), id);
	r = blob_remove(s->bs, name);
	if (r == -ENOENT)
		r = 0;
	if (r < 0)
		tfs_err("warm: delete segment %s: %s", name, strerror(-r));
	seg_put(f);
	return r;
}

uint64_t segstore_active(struct segstore *s)
{
	return atomic_load(&s->active_id);
}

uint64_t segstore_disk_bytes(struct segstore *s)
{
	uint64_t sum = 0;

	pthread_rwlock_rdlock(&s->tab_lock);
	for (size_t i = 0; i < s->ntab; i++)
		sum += atomic_load_explicit(&s->tab[i]->len,
					    memory_order_relaxed);
	pthread_rwlock_unlock(&s->tab_lock);
	return sum;
}

void segstore_get_stats(struct segstore *s, struct seg_stats *out)
{
	out->appends = atomic_load(&s->n_appends);
	out->raw_records = atomic_load(&s->n_raw);
	out->bytes_in = atomic_load(&s->n_bytes_in);
	out->bytes_out = atomic_load(&s->n_bytes_out);
	out->reads = atomic_load(&s->n_reads);
	out->crc_errors = atomic_load(&s->n_crc_errors);
}
