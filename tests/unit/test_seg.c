/*
 * test_seg.c - warm segment store: round trips, rollover, reopen and
 * recovery, corruption (every damaged read is exactly -EIO, never a
 * crash), ENOSPC, concurrency, remove, stats, and a throughput printout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "blob.h"
#include "seg.h"
#include "tierfs.h"

/* ---- helpers ---- */

struct idgen {
	pthread_mutex_t m;
	uint64_t next;
	int calls;
};

static int next_id(void *ctx, uint64_t *id)
{
	struct idgen *g = ctx;

	pthread_mutex_lock(&g->m);
	*id = g->next++;
	g->calls++;
	pthread_mutex_unlock(&g->m);
	return 0;
}

static char tmpdir[64];
static char warm[128];

static void setup(void)
{
	strcpy(tmpdir, "/tmp/tfs_seg_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(warm, sizeof(warm), "%s/warm", tmpdir);
}

static void teardown(void)
{
	DIR *d = opendir(warm);
	struct dirent *de;
	char p[512];

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", warm, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(warm);
	rmdir(tmpdir);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Deterministic chunk content: kind 0 text (compressible), 1 random. */
static void chunk_fill(uint8_t *buf, uint32_t n, uint64_t ino,
		       uint64_t chunk, int kind)
{
	static const char *const words[] = { "warm ", "segment ", "tier\n",
		"chunk ", "lz4 ", "record ", "of ", "the " };
	uint64_t s = (ino * 1000003u + chunk) * 2654435761u + 1;
	uint32_t i = 0;

	if (kind == 1) {
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)(rng_next(&s) >> 40);
		return;
	}
	while (i < n) {
		const char *w = words[rng_next(&s) % 8];
		uint32_t l = (uint32_t)strlen(w);

		if (l > n - i)
			l = n - i;
		memcpy(buf + i, w, l);
		i += l;
	}
}

static struct segstore *open_store(struct idgen *g, uint64_t seg_max,
				   const struct seg_known *k, size_t nk)
{
	struct segstore *s = NULL;
	struct blob_store *bs = NULL;

	/* The segment store is given its blob store (and takes it over). */
	ck_assert_int_eq(blob_local_open(&bs, warm, 0600, 0), 0);
	ck_assert_int_eq(segstore_open(&s, bs, seg_max, k, nk, next_id, g),
			 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void seg_path(char *buf, size_t n, uint64_t id)
{
	snprintf(buf, n, "%s/%08" PRIx64 ".seg", warm, id);
}

static int64_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* One record the tests remember. */
struct rec {
	uint64_t ino, chunk;
	uint32_t len;
	int kind;
	struct seg_loc loc;
};

static void append_rec(struct segstore *s, struct rec *r)
{
	uint8_t *buf = malloc(TFS_CHUNK_SIZE);

	chunk_fill(buf, r->len, r->ino, r->chunk, r->kind);
	ck_assert_int_eq(segstore_append(s, r->ino, r->chunk, buf, r->len,
					 &r->loc), 0);
	ck_assert_uint_eq(r->loc.raw_len, r->len);
	ck_assert_uint_eq(r->loc.off % 8, 0);
	ck_assert_uint_eq(r->loc.rec_len % 8, 0);
	free(buf);
}

/* 1 when the record reads back intact, 0 when -EIO; fails otherwise. */
static int check_rec(struct segstore *s, const struct rec *r)
{
	uint8_t *want = malloc(TFS_CHUNK_SIZE);
	uint8_t *got = malloc(TFS_CHUNK_SIZE);
	int n, ok;

	chunk_fill(want, r->len, r->ino, r->chunk, r->kind);
	n = segstore_read(s, &r->loc, r->ino, r->chunk, got);
	ck_assert_msg(n == (int)r->len || n == -EIO, "read returned %d", n);
	ok = n == (int)r->len;
	if (ok)
		ck_assert_mem_eq(got, want, r->len);
	free(want);
	free(got);
	return ok;
}

/* Committed length of each segment the records landed in. */
static size_t known_of(const struct rec *v, size_t n, struct seg_known *k)
{
	size_t nk = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t end = v[i].loc.off + v[i].loc.rec_len;
		size_t j;

		for (j = 0; j < nk && k[j].id != v[i].loc.seg; j++)
			;
		if (j == nk) {
			k[nk].id = v[i].loc.seg;
			k[nk++].len = end;
		} else if (end > k[j].len) {
			k[j].len = end;
		}
	}
	return nk;
}

static void flip_byte(uint64_t seg, uint64_t off, uint8_t mask)
{
	char p[256];
	uint8_t b;
	int fd;

	seg_path(p, sizeof(p), seg);
	fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= mask;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---- */

START_TEST(test_roundtrip_sizes)
{
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec v[] = {
		{ 2, 0, 0, 0, { 0 } },
		{ 2, 1, 1, 0, { 0 } },
		{ 3, 0, 3072, 0, { 0 } },
		{ 4, 7, TFS_CHUNK_SIZE, 0, { 0 } },
		{ 5, 9, TFS_CHUNK_SIZE, 1, { 0 } },
		{ 6, 1, 4000, 1, { 0 } },
	};
	size_t n = sizeof(v) / sizeof(v[0]);
	struct seg_stats st;
	uint64_t in = 0, out = 0;
	struct segstore *s = open_store(&g, 1u << 20, NULL, 0);

	/* An idle store creates nothing. */
	ck_assert_uint_eq(segstore_active(s), 0);
	ck_assert_int_eq(count_entries(warm), 0);
	for (size_t i = 0; i < n; i++) {
		append_rec(s, &v[i]);
		in += v[i].len;
		out += v[i].loc.rec_len;
	}
	ck_assert_uint_eq(segstore_active(s), 1);
	ck_assert_int_eq(g.calls, 1);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(check_rec(s, &v[i]), 1);
	/* The compressible 64 KiB chunk shrank, the random one did not. */
	ck_assert_uint_lt(v[3].loc.rec_len, TFS_CHUNK_SIZE / 2);
	ck_assert_uint_gt(v[4].loc.rec_len, TFS_CHUNK_SIZE);
	segstore_get_stats(s, &st);
	ck_assert_uint_eq(st.appends, n);
	ck_assert_uint_eq(st.raw_records, 4); /* 0 B, 1 B, two random */
	ck_assert_uint_eq(st.bytes_in, in);
	ck_assert_uint_eq(st.bytes_out, out);
	ck_assert_uint_eq(st.reads, n);
	ck_assert_uint_eq(st.crc_errors, 0);
	ck_assert_uint_eq(segstore_disk_bytes(s), 64 + out);
	ck_assert_int_eq(segstore_sync(s), 0);
	segstore_close(&s);
	ck_assert_ptr_null(s);
	segstore_close(&s);
	{
		char p[256];

		seg_path(p, sizeof(p), 1);
		ck_assert_int_eq(file_size(p), (int64_t)(64 + out));
	}
}
END_TEST

START_TEST(test_many_segments_reopen)
{
	enum { N = 240 };
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 0x10, 0 };
	struct rec *v = calloc(N, sizeof(*v));
	struct seg_known k[N];
	struct rec extra = { 99, 0, 5000, 0, { 0 } };
	uint64_t s0 = 0, sum = 0;
	size_t nk;
	uint64_t sd = 1;
	struct segstore *s = open_store(&g, 256u << 10, NULL, 0);

	for (size_t i = 0; i < N; i++) {
		v[i].ino = i % 7 + 1;
		v[i].chunk = i;
		v[i].kind = (int)(i % 3 == 0);
		v[i].len = (uint32_t)(rng_next(&sd) % (TFS_CHUNK_SIZE + 1));
		append_rec(s, &v[i]);
		ck_assert_uint_le(v[i].loc.off + v[i].loc.rec_len,
				  (256u << 10) + TFS_CHUNK_SIZE + 64 + 48);
	}
	for (size_t i = 0; i < N; i++)
		ck_assert_int_eq(check_rec(s, &v[i]), 1);
	nk = known_of(v, N, k);
	ck_assert_uint_ge(nk, 4);
	for (size_t i = 0; i < nk; i++) {
		char p[256];

		seg_path(p, sizeof(p), k[i].id);
		ck_assert_int_eq(file_size(p), (int64_t)k[i].len);
		sum += k[i].len;
	}
	ck_assert_uint_eq(segstore_disk_bytes(s), sum);
	ck_assert_int_eq(segstore_sync(s), 0);
	segstore_close(&s);

	s = open_store(&g, 256u << 10, k, nk);
	ck_assert_uint_eq(segstore_active(s), 0);
	for (size_t i = 0; i < N; i++)
		ck_assert_int_eq(check_rec(s, &v[i]), 1);
	ck_assert_uint_eq(segstore_disk_bytes(s), sum);
	/* Appends after a reopen go to a fresh segment. */
	append_rec(s, &extra);
	for (size_t i = 0; i < nk; i++)
		ck_assert_uint_ne(extra.loc.seg, k[i].id);
	ck_assert_uint_eq(extra.loc.off, 64);
	ck_assert_int_eq(check_rec(s, &extra), 1);
	s0 = segstore_disk_bytes(s);
	ck_assert_uint_eq(s0, sum + 64 + extra.loc.rec_len);
	segstore_close(&s);
	free(v);
}
END_TEST

START_TEST(test_recovery)
{
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec v[6];
	struct seg_known k[6];
	char p[256];
	size_t nk;
	int fd;
	struct segstore *s = open_store(&g, 1u << 20, NULL, 0);

	for (int i = 0; i < 6; i++) {
		v[i] = (struct rec){ 10, (uint64_t)i, 20000, i % 2, { 0 } };
		append_rec(s, &v[i]);
	}
	segstore_close(&s);
	/* Commit only the first four records of segment 1. */
	nk = known_of(v, 4, k);
	ck_assert_uint_eq(nk, 1);
	seg_path(p, sizeof(p), 1);
	/* An uncommitted tail of garbage beyond the last record too. */
	fd = open(p, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "garbage!", 8), 8);
	close(fd);
	/* Orphans: an unknown segment, a non-canonical name, a temp file;
	 * and a file that is none of ours. */
	{
		static const char *const names[] = { "0000abcd.seg",
			"xyz.seg", "00000002.seg.tmp", "keep.txt" };

		for (int i = 0; i < 4; i++) {
			char q[256];

			snprintf(q, sizeof(q), "%s/%s", warm, names[i]);
			fd = open(q, O_WRONLY | O_CREAT, 0600);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(write(fd, "x", 1), 1);
			close(fd);
		}
	}
	s = open_store(&g, 1u << 20, k, nk);
	ck_assert_int_eq(file_size(p), (int64_t)k[0].len);
	ck_assert_int_eq(count_entries(warm), 2); /* 00000001.seg, keep.txt */
	snprintf(p, sizeof(p), "%s/keep.txt", warm);
	ck_assert_int_eq(file_size(p), 1);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(check_rec(s, &v[i]), 1);
	/* Records past the committed length are gone: -EIO. */
	for (int i = 4; i < 6; i++)
		ck_assert_int_eq(check_rec(s, &v[i]), 0);
	segstore_close(&s);
	unlink(p);

	/* A committed segment that is shorter than committed (lost tail)
	 * is kept; what is beyond its end reads as -EIO. A missing
	 * committed segment does not stop the open. */
	seg_path(p, sizeof(p), 1);
	ck_assert_int_eq(truncate(p, (off_t)(v[2].loc.off + 100)), 0);
	k[1] = (struct seg_known){ 0x77, 4096 };
	s = open_store(&g, 1u << 20, k, 2);
	ck_assert_int_eq(check_rec(s, &v[0]), 1);
	ck_assert_int_eq(check_rec(s, &v[1]), 1);
	ck_assert_int_eq(check_rec(s, &v[2]), 0);
	ck_assert_int_eq(check_rec(s, &v[3]), 0);
	{
		struct seg_loc l = { 0x77, 64, 48, 0 };
		uint8_t b[8];

		ck_assert_int_eq(segstore_read(s, &l, 1, 0, b), -EIO);
	}
	segstore_close(&s);
}
END_TEST

START_TEST(test_wrong_owner_and_loc)
{
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec r = { 42, 3, 9000, 0, { 0 } };
	uint8_t *buf = malloc(TFS_CHUNK_SIZE);
	struct seg_stats st;
	struct seg_loc l;
	struct segstore *s = open_store(&g, 1u << 20, NULL, 0);

	append_rec(s, &r);
	ck_assert_int_eq(segstore_read(s, &r.loc, 43, 3, buf), -EIO);
	ck_assert_int_eq(segstore_read(s, &r.loc, 42, 4, buf), -EIO);
	l = r.loc;
	l.raw_len = 8999;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	l = r.loc;
	l.rec_len += 8;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	l = r.loc;
	l.off += 8;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	l.off = r.loc.off + 1;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	l.off = 0;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	l.off = r.loc.off + r.loc.rec_len;   /* the tail: nothing there */
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	l.off = UINT64_MAX - 7;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	l = r.loc;
	l.seg = 999;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), -EIO);
	/* rec_len 0 means "not known"; the record still verifies. */
	l = r.loc;
	l.rec_len = 0;
	ck_assert_int_eq(segstore_read(s, &l, 42, 3, buf), 9000);
	segstore_get_stats(s, &st);
	ck_assert_uint_eq(st.crc_errors, 10);
	ck_assert_uint_eq(st.reads, 1);
	ck_assert_int_eq(segstore_append(s, 1, 1, buf, TFS_CHUNK_SIZE + 1,
					 &l), -EINVAL);
	segstore_close(&s);
	free(buf);
}
END_TEST

START_TEST(test_corruption)
{
	enum { N = 12 };
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec v[N];
	struct seg_known k[N];
	struct seg_stats st;
	uint64_t sd = 77;
	size_t nk;
	struct segstore *s = open_store(&g, 1u << 20, NULL, 0);

	for (int i = 0; i < N; i++) {
		v[i] = (struct rec){ 7, (uint64_t)i,
			i == 0 ? 1u : 30000u + (uint32_t)i * 100, i % 2,
			{ 0 } };
		append_rec(s, &v[i]);
	}
	/* Payload bit flips (compressed and raw), seen through the live
	 * mapping. */
	flip_byte(1, v[2].loc.off + 40 + 100, 0x10);
	flip_byte(1, v[3].loc.off + 40 + 100, 0x01);
	flip_byte(1, v[0].loc.off + 40, 0x80);      /* the 1-byte raw chunk */
	/* Header bit flips: ino, raw_len, the stored crc, the magic. */
	flip_byte(1, v[4].loc.off + 8, 0x02);
	flip_byte(1, v[5].loc.off + 24, 0x01);
	flip_byte(1, v[6].loc.off + 36, 0x40);
	flip_byte(1, v[7].loc.off + 0, 0xff);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(check_rec(s, &v[i]), i >= 8 || i == 1);
	segstore_get_stats(s, &st);
	ck_assert_uint_eq(st.crc_errors, 7);

	/* Random garbage over records, headers included, many times:
	 * every read is either right or exactly -EIO. */
	{
		char p[256];
		uint8_t junk[512];
		int fd;

		seg_path(p, sizeof(p), 1);
		fd = open(p, O_RDWR);
		ck_assert_int_ge(fd, 0);
		for (int it = 0; it < 60; it++) {
			int i = 8 + (int)(rng_next(&sd) % 4);
			uint32_t n = 1 + (uint32_t)(rng_next(&sd) % 512);
			uint64_t at = v[i].loc.off +
				rng_next(&sd) % v[i].loc.rec_len;

			for (uint32_t j = 0; j < n; j++)
				junk[j] = (uint8_t)rng_next(&sd);
			if (at + n > v[i].loc.off + v[i].loc.rec_len)
				n = (uint32_t)(v[i].loc.off +
					       v[i].loc.rec_len - at);
			ck_assert_int_eq(pwrite(fd, junk, n, (off_t)at),
					 (ssize_t)n);
			for (int j = 0; j < N; j++)
				check_rec(s, &v[j]);
		}
		/* Garbage locations over garbage. */
		for (int it = 0; it < 2000; it++) {
			struct seg_loc l = { 1, (rng_next(&sd) % 400000) & ~7ull,
					     0, (uint32_t)(rng_next(&sd) %
							  (TFS_CHUNK_SIZE + 1)) };
			uint8_t *b = malloc(TFS_CHUNK_SIZE);
			int r = segstore_read(s, &l, rng_next(&sd) % 8,
					      rng_next(&sd) % 16, b);

			ck_assert(r == -EIO || r == (int)l.raw_len);
			free(b);
		}
		close(fd);
	}
	nk = known_of(v, N, k);
	segstore_close(&s);

	/* A file truncated in the middle of record 10: reopen keeps it,
	 * records before read fine, the cut ones are -EIO. */
	{
		char p[256];
		struct rec ok = { 1, 1, 100, 0, { 0 } };

		seg_path(p, sizeof(p), 1);
		ck_assert_int_eq(truncate(p, (off_t)(v[10].loc.off + 77)), 0);
		s = open_store(&g, 1u << 20, k, nk);
		ck_assert_int_eq(check_rec(s, &v[1]), 1);
		ck_assert_int_eq(check_rec(s, &v[10]), 0);
		ck_assert_int_eq(check_rec(s, &v[11]), 0);
		append_rec(s, &ok);
		ck_assert_int_eq(check_rec(s, &ok), 1);
		segstore_close(&s);
	}
}
END_TEST

START_TEST(test_enospc)
{
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec a = { 1, 0, TFS_CHUNK_SIZE, 1, { 0 } };
	struct rec b = { 1, 1, TFS_CHUNK_SIZE, 1, { 0 } };
	struct rec c = { 1, 2, 1000, 1, { 0 } };
	struct rec d = { 1, 3, TFS_CHUNK_SIZE, 1, { 0 } };
	uint8_t *buf = malloc(TFS_CHUNK_SIZE);
	struct rlimit old, lim;
	struct seg_loc l;
	char p[256];
	int64_t before, after;
	int r1, r2[3];
	struct segstore *s = open_store(&g, 140u << 10, NULL, 0);

	/* RLIMIT_FSIZE with SIGXFSZ ignored makes writes fail with EFBIG.
	 * No ck_assert while the limit is low: Check itself writes files. */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	append_rec(s, &a);
	seg_path(p, sizeof(p), a.loc.seg);
	before = file_size(p);
	chunk_fill(buf, b.len, b.ino, b.chunk, b.kind);
	/* Room for part of the next record only: a short write, then
	 * EFBIG. Nothing half-written may stay. */
	lim = old;
	lim.rlim_cur = (rlim_t)before + 30000;
	setrlimit(RLIMIT_FSIZE, &lim);
	r1 = segstore_append(s, b.ino, b.chunk, buf, b.len, &l);
	after = file_size(p);
	setrlimit(RLIMIT_FSIZE, &old);
	ck_assert_int_eq(r1, -ENOSPC);
	ck_assert_int_eq(after, before);
	ck_assert_int_eq(check_rec(s, &a), 1);
	/* The segment goes on where it was. */
	append_rec(s, &c);
	ck_assert_uint_eq(c.loc.seg, a.loc.seg);
	ck_assert_uint_eq(c.loc.off, a.loc.off + a.loc.rec_len);
	append_rec(s, &d);
	ck_assert_uint_eq(d.loc.seg, a.loc.seg);
	/* The next record needs a new segment, which cannot even take
	 * its header. */
	lim.rlim_cur = 32;
	setrlimit(RLIMIT_FSIZE, &lim);
	for (int i = 0; i < 3; i++)
		r2[i] = segstore_append(s, b.ino, b.chunk, buf, b.len, &l);
	setrlimit(RLIMIT_FSIZE, &old);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(r2[i], -ENOSPC);
	ck_assert_int_eq(count_entries(warm), 1);
	ck_assert_uint_eq(segstore_active(s), a.loc.seg);
	/* Space comes back: appends work again. */
	append_rec(s, &b);
	ck_assert_uint_ne(b.loc.seg, a.loc.seg);
	ck_assert_int_eq(check_rec(s, &b), 1);
	ck_assert_int_eq(check_rec(s, &a), 1);
	ck_assert_int_eq(check_rec(s, &c), 1);
	ck_assert_int_eq(check_rec(s, &d), 1);
	segstore_close(&s);
	free(buf);
}
END_TEST

struct worker {
	struct segstore *s;
	int id;
	int n;
	struct rec *v;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t sd = (uint64_t)w->id * 7919 + 1;

	for (int i = 0; i < w->n; i++) {
		struct rec *r = &w->v[i];

		r->ino = 100 + (uint64_t)w->id;
		r->chunk = (uint64_t)i;
		r->kind = (int)(rng_next(&sd) % 2);
		r->len = (uint32_t)(rng_next(&sd) % (TFS_CHUNK_SIZE + 1));
		append_rec(w->s, r);
		ck_assert_int_eq(check_rec(w->s, r), 1);
		ck_assert_int_eq(check_rec(w->s, &w->v[rng_next(&sd) %
						       (uint64_t)(i + 1)]), 1);
		if (i % 25 == 0)
			ck_assert_int_eq(segstore_sync(w->s), 0);
	}
	return NULL;
}

static int loc_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->loc.seg != y->loc.seg)
		return x->loc.seg < y->loc.seg ? -1 : 1;
	return x->loc.off < y->loc.off ? -1 : x->loc.off > y->loc.off;
}

START_TEST(test_concurrent)
{
	enum { T = 4, N = 80 };
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec *all = calloc(T * N, sizeof(*all));
	struct worker w[T];
	pthread_t th[T];
	struct seg_stats st;
	struct segstore *s = open_store(&g, 512u << 10, NULL, 0);

	for (int t = 0; t < T; t++) {
		w[t] = (struct worker){ s, t, N, all + t * N };
		ck_assert_int_eq(pthread_create(&th[t], NULL, worker_main,
						&w[t]), 0);
	}
	for (int t = 0; t < T; t++)
		pthread_join(th[t], NULL);
	for (int i = 0; i < T * N; i++)
		ck_assert_int_eq(check_rec(s, &all[i]), 1);
	/* Records never overlap. */
	qsort(all, T * N, sizeof(*all), loc_cmp);
	for (int i = 1; i < T * N; i++)
		if (all[i].loc.seg == all[i - 1].loc.seg)
			ck_assert_uint_le(all[i - 1].loc.off +
					  all[i - 1].loc.rec_len,
					  all[i].loc.off);
	ck_assert_uint_gt(all[T * N - 1].loc.seg, 3);
	segstore_get_stats(s, &st);
	ck_assert_uint_eq(st.appends, T * N);
	ck_assert_uint_eq(st.crc_errors, 0);
	ck_assert_uint_eq(st.reads, 3 * T * N);
	segstore_close(&s);
	free(all);
}
END_TEST

static int count_fds(void)
{
	return count_entries("/proc/self/fd");
}

START_TEST(test_remove_and_sync)
{
	enum { N = 40 };
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec v[N];
	int fds0 = count_fds();
	uint64_t before;
	char p[256];
	struct segstore *s = open_store(&g, 64u << 10, NULL, 0);

	for (int i = 0; i < N; i++) {
		v[i] = (struct rec){ 5, (uint64_t)i, 40000, 1, { 0 } };
		append_rec(s, &v[i]);
	}
	/* 40000 raw bytes each and a 64 KiB seg_max: one per segment. */
	ck_assert_uint_eq(v[N - 1].loc.seg, N);
	ck_assert_int_eq(segstore_sync(s), 0);
	/* Synced sealed segments hold no descriptor. */
	ck_assert_int_le(count_fds(), fds0 + 3);
	ck_assert_int_eq(segstore_remove(s, segstore_active(s)), -EBUSY);
	before = segstore_disk_bytes(s);
	ck_assert_int_eq(segstore_remove(s, v[3].loc.seg), 0);
	ck_assert_int_eq(segstore_remove(s, v[3].loc.seg), -ENOENT);
	seg_path(p, sizeof(p), v[3].loc.seg);
	ck_assert_int_eq(file_size(p), -1);
	ck_assert_uint_eq(segstore_disk_bytes(s),
			  before - v[3].loc.off - v[3].loc.rec_len);
	ck_assert_int_eq(check_rec(s, &v[3]), 0);
	ck_assert_int_eq(check_rec(s, &v[4]), 1);
	ck_assert_int_eq(count_entries(warm), N - 1);
	segstore_close(&s);
}
END_TEST

/* Dead records punched out: the file's blocks shrink, live records still
 * read, and nothing happens again until something else dies. */
START_TEST(test_punch_dead)
{
	enum { N = 30 };
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct seg_loc live[N];
	uint64_t punched = 0, live_bytes = 0;
	struct rec v[N];
	struct stat before, after;
	size_t n = 0;
	char p[256];
	struct segstore *s = open_store(&g, 8u << 20, NULL, 0);

	for (int i = 0; i < N; i++) {
		v[i] = (struct rec){ 9, (uint64_t)i, TFS_CHUNK_SIZE, 1, { 0 } };
		append_rec(s, &v[i]);
		ck_assert_uint_eq(v[i].loc.seg, 1);
	}
	ck_assert_int_eq(segstore_sync(s), 0);
	for (int i = 0; i < N; i += 3) {
		live[n++] = v[i].loc;
		live_bytes += v[i].loc.rec_len;
	}
	seg_path(p, sizeof(p), 1);
	ck_assert_int_eq(stat(p, &before), 0);
	ck_assert(segstore_punch_wanted(s, 1, live_bytes));
	ck_assert_int_eq(segstore_punch_dead(s, 1, live, n, live_bytes,
					     &punched), 0);
	ck_assert_int_eq(stat(p, &after), 0);
	/* 20 of 30 records died: at least 18 records' worth of whole pages. */
	ck_assert_uint_ge(punched, 18ull * TFS_CHUNK_SIZE);
	ck_assert_int_le(after.st_blocks * 512,
			 before.st_blocks * 512 - (blkcnt_t)punched + 4096);
	ck_assert_int_eq(after.st_size, before.st_size);
	for (int i = 0; i < N; i += 3)
		ck_assert_int_eq(check_rec(s, &v[i]), 1);
	ck_assert(!segstore_punch_wanted(s, 1, live_bytes));
	ck_assert(segstore_punch_wanted(s, 1, live_bytes - 1));
	ck_assert_int_eq(segstore_punch_dead(s, 77, live, 0, 0, &punched),
			 -ENOENT);
	/* Still appendable after the punch; the new record reads back. */
	v[0] = (struct rec){ 9, 100, 3000, 0, { 0 } };
	append_rec(s, &v[0]);
	ck_assert_int_eq(check_rec(s, &v[0]), 1);
	segstore_close(&s);
}
END_TEST

/* A clean close cuts the active segment to its committed length, or
 * deletes it when nothing in it was committed. */
START_TEST(test_trim_active)
{
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct rec a = { 3, 0, 5000, 1, { 0 } }, b = { 3, 1, 5000, 1, { 0 } };
	char p[256];
	struct segstore *s = open_store(&g, 8u << 20, NULL, 0);

	ck_assert_int_eq(segstore_trim_active(s, 0), 0);   /* none active */
	append_rec(s, &a);
	append_rec(s, &b);
	seg_path(p, sizeof(p), a.loc.seg);
	ck_assert_int_eq(segstore_trim_active(s, a.loc.off + a.loc.rec_len),
			 0);
	ck_assert_int_eq(file_size(p), (int64_t)(a.loc.off + a.loc.rec_len));
	ck_assert_int_eq(check_rec(s, &a), 1);
	/* Told that nothing in it is committed: it goes, file and all. */
	ck_assert_int_eq(segstore_trim_active(s, 0), 0);
	ck_assert_int_eq(file_size(p), -1);
	ck_assert_uint_eq(segstore_active(s), 0);
	append_rec(s, &b);
	ck_assert_uint_ne(b.loc.seg, a.loc.seg);
	ck_assert_int_eq(check_rec(s, &b), 1);
	segstore_close(&s);
}
END_TEST

START_TEST(test_throughput)
{
	enum { N = 256 };
	struct idgen g = { PTHREAD_MUTEX_INITIALIZER, 1, 0 };
	struct seg_loc *loc = calloc(N, sizeof(*loc));
	uint8_t *src = malloc((size_t)N * TFS_CHUNK_SIZE);
	uint8_t *dst = malloc(TFS_CHUNK_SIZE);
	struct segstore *s = open_store(&g, 64u << 20, NULL, 0);
	double mb = (double)N * TFS_CHUNK_SIZE / 1e6;

	for (int kind = 0; kind < 2; kind++) {
		double t;

		for (int i = 0; i < N; i++)
			chunk_fill(src + (size_t)i * TFS_CHUNK_SIZE,
				   TFS_CHUNK_SIZE, 9, (uint64_t)i, kind);
		t = now_s();
		for (int i = 0; i < N; i++)
			ck_assert_int_eq(segstore_append(s, 9, (uint64_t)i,
				src + (size_t)i * TFS_CHUNK_SIZE,
				TFS_CHUNK_SIZE, &loc[i]), 0);
		t = now_s() - t;
		fprintf(stderr, "seg append %s: %.0f MB/s (%.0f us/chunk)\n",
			kind ? "random" : "text", mb / t, t / N * 1e6);
		t = now_s();
		for (int r = 0; r < 2; r++)
			for (int i = 0; i < N; i++)
				ck_assert_int_eq(segstore_read(s, &loc[i], 9,
					(uint64_t)i, dst), TFS_CHUNK_SIZE);
		t = now_s() - t;
		fprintf(stderr, "seg read   %s: %.0f MB/s (%.0f us/chunk)\n",
			kind ? "random" : "text", 2 * mb / t,
			t / (2 * N) * 1e6);
		ck_assert_mem_eq(dst, src + (size_t)(N - 1) * TFS_CHUNK_SIZE,
				 TFS_CHUNK_SIZE);
	}
	segstore_close(&s);
	free(loc);
	free(src);
	free(dst);
}
END_TEST

static Suite *seg_suite(void)
{
	Suite *s = suite_create("seg");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip_sizes);
	tcase_add_test(tc, test_many_segments_reopen);
	tcase_add_test(tc, test_recovery);
	tcase_add_test(tc, test_wrong_owner_and_loc);
	tcase_add_test(tc, test_corruption);
	tcase_add_test(tc, test_enospc);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_remove_and_sync);
	tcase_add_test(tc, test_punch_dead);
	tcase_add_test(tc, test_trim_active);
	tcase_add_test(tc, test_throughput);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(seg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
