/*
 * test_fs_tier.c - the filesystem core's tier moves: every hot/warm/cold
 * transition with the RAM accounting and the store's catalogs it implies,
 * writes into cold files, directory moves in one batch, moves racing a
 * writer, concurrent cold reads, and compaction of warm segments and cold
 * archives; the tier interface (tier.h) tier by tier.
 *
 * Data edge cases, the namespace and xattrs are in test_fs.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "compact.h"
#include "fs.h"
#include "fs_int.h"
#include "meta.h"
#include "tierfs.h"

#define FS_TESTLIB_SEED 0x9E3779B97F4A7C15ull
#include "fs_testlib.h"

/* ---- fixture ---- */

static void remount(void)
{
	fs_unmount(&f);
	do_mount();
}

static void setup(void)
{
	fixture_start();
	cfg.cold_block = 64 * KiB;
	cfg.cache_size = 1 * MiB;
	cfg.seg_max = 1 * MiB;
	do_mount();
}

/* ---- helpers ---- */

/* Compare without asserting (usable from threads): 0 or the first bad
 * offset + 1; -1 on a read error. */
static long long compare_file(struct tfs_inode *ino, const uint8_t *want,
			      size_t len)
{
	uint8_t *got = malloc(len + 16);
	size_t done = 0;
	long long bad = 0;

	if (!got)
		return -1;
	while (done < len) {
		ssize_t n = fs_read(f, ino, NULL, got + done, len - done,
				    (off_t)done);

		if (n <= 0) {
			free(got);
			return -1;
		}
		done += (size_t)n;
	}
	for (size_t i = 0; i < len && !bad; i++)
		if (got[i] != want[i])
			bad = (long long)i + 1;
	free(got);
	return bad;
}

static void expect_content(struct tfs_inode *ino, const uint8_t *want,
			   size_t len)
{
	long long bad;

	ck_assert_uint_eq(size_of(ino), len);
	bad = compare_file(ino, want, len);
	ck_assert_msg(bad == 0, "content differs at byte %lld of %zu%s",
		      bad - 1, len, bad < 0 ? " (read error)" : "");
	{
		uint8_t x;

		ck_assert_int_eq(fs_read(f, ino, NULL, &x, 1, (off_t)len), 0);
	}
}

static void expect_named(struct tfs_inode *dir, const char *name,
			 const uint8_t *want, size_t len)
{
	struct tfs_inode *ino = lookup(dir, name);

	expect_content(ino, want, len);
	put(ino);
}

static void set_tier(struct tfs_inode *ino, int tier)
{
	int rc = fs_set_tier(f, ino, tier);

	ck_assert_msg(rc == 0, "set_tier %s: %d", tfs_tier_name(tier), rc);
	ck_assert_msg(fs_get_tier(f, ino) == tier, "tier is %s, not %s",
		      tfs_tier_name(fs_get_tier(f, ino)), tfs_tier_name(tier));
}

static bool resident(struct tfs_inode *ino)
{
	bool r;

	inode_lock(ino);
	r = ino->resident;
	inode_unlock(ino);
	return r;
}

static uint64_t ram_of(struct tfs_inode *ino)
{
	uint64_t r;

	inode_lock(ino);
	r = ino->ram_bytes;
	inode_unlock(ino);
	return r;
}

static uint64_t hot_bytes(void)
{
	return atomic_load(&f->hot.bytes);
}

static bool has_cold_row(uint64_t num)
{
	struct meta_cold c;
	int rc = meta_cold_get(f->meta, num, &c);

	ck_assert(rc == 0 || rc == -ENOENT);
	return rc == 0;
}

static size_t n_extents(uint64_t num)
{
	struct meta_extent *e = NULL;
	size_t n = 0;

	ck_assert_int_eq(meta_extent_list(f->meta, num, &e, &n), 0);
	free(e);
	return n;
}

/* Files in STORE/<sub> and the sum of their sizes. */
static size_t dir_files(const char *sub, uint64_t *bytes)
{
	char p[256], q[600];
	DIR *d;
	struct dirent *e;
	struct stat st;
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/%s", storedir, sub);
	d = opendir(p);
	ck_assert_ptr_nonnull(d);
	if (bytes)
		*bytes = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(q, sizeof(q), "%s/%s", p, e->d_name);
		ck_assert_int_eq(stat(q, &st), 0);
		n++;
		if (bytes)
			*bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

/* ---- every transition ---- */

START_TEST(test_transitions)
{
	const size_t len = 5 * CH + 1234;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "t", data, len);
	uint64_t num = ino->ino, ram, before;

	/* New: hot and resident, RAM about its size. */
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_HOT);
	ck_assert(resident(ino));
	ram = ram_of(ino);
	ck_assert_uint_ge(ram, len);
	ck_assert_uint_le(ram, len + CH);
	ck_assert_uint_eq(n_extents(num), 6);   /* flushed: durable copy */

	/* hot -> warm: RAM given back. */
	before = hot_bytes();
	set_tier(ino, TFS_WARM);
	ck_assert(!resident(ino));
	ck_assert_uint_eq(ram_of(ino), 0);
	ck_assert_uint_eq(hot_bytes(), before - ram);
	expect_content(ino, data, len);
	ck_assert_uint_eq(ram_of(ino), 0);      /* reads do not cache */

	/* warm -> hot. */
	before = hot_bytes();
	set_tier(ino, TFS_HOT);
	ck_assert(resident(ino));
	ck_assert_uint_ge(ram_of(ino), len);
	ck_assert_uint_eq(hot_bytes(), before + ram_of(ino));
	expect_content(ino, data, len);

	/* hot -> cold: one archive, no warm extents, no RAM. */
	before = hot_bytes();
	ram = ram_of(ino);
	set_tier(ino, TFS_COLD);
	ck_assert(!resident(ino));
	ck_assert_uint_eq(ram_of(ino), 0);
	ck_assert_uint_eq(hot_bytes(), before - ram);
	ck_assert(has_cold_row(num));
	ck_assert_uint_eq(n_extents(num), 0);
	ck_assert_uint_eq(dir_files("cold", NULL), 1);
	expect_content(ino, data, len);

	/* cold -> warm: re-encoded, no cold extent left. */
	set_tier(ino, TFS_WARM);
	ck_assert(!has_cold_row(num));
	ck_assert_uint_eq(n_extents(num), 6);
	ck_assert_uint_eq(ram_of(ino), 0);
	expect_content(ino, data, len);
	put(ino);
	remount();
	ino = lookup(fs_root(f), "t");
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_WARM);
	expect_content(ino, data, len);
	put(ino);
	remount();
	ino = lookup(fs_root(f), "t");
	expect_content(ino, data, len);

	/* warm -> cold -> hot. */
	set_tier(ino, TFS_COLD);
	ck_assert_uint_eq(n_extents(num), 0);
	set_tier(ino, TFS_HOT);
	ck_assert(resident(ino));
	expect_content(ino, data, len);
	put(ino);
	remount();
	ino = lookup(fs_root(f), "t");
	expect_content(ino, data, len);
	put(ino);
	free(data);
}
END_TEST

/* A file promoted from cold to hot and demoted to cold again must leave
 * RAM (it has an up-to-date cold copy, so the move is only a RAM drop).
 * Fails as of this writing: cold.c dm_prepare() counts it "already cold"
 * and fs_set_tier() returns 0 with the file still resident. */
START_TEST(test_cold_hot_cold)
{
	const size_t len = 3 * CH;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "chc", data, len);
	uint64_t before;

	set_tier(ino, TFS_COLD);
	set_tier(ino, TFS_HOT);
	ck_assert(resident(ino));
	before = hot_bytes();
	ck_assert_int_eq(fs_set_tier(f, ino, TFS_COLD), 0);
	ck_assert_msg(fs_get_tier(f, ino) == TFS_COLD,
		      "cold->hot->cold: still %s, resident %d",
		      tfs_tier_name(fs_get_tier(f, ino)), resident(ino));
	ck_assert(!resident(ino));
	ck_assert_uint_eq(ram_of(ino), 0);
	ck_assert_uint_lt(hot_bytes(), before);
	expect_content(ino, data, len);
	put(ino);
	free(data);
}
END_TEST

/* hot -> warm of a file promoted from cold: falls back to warm records. */
START_TEST(test_cold_hot_warm)
{
	const size_t len = 2 * CH + 99;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "chw", data, len);
	uint64_t num = ino->ino;

	set_tier(ino, TFS_COLD);
	set_tier(ino, TFS_HOT);
	set_tier(ino, TFS_WARM);
	ck_assert(!resident(ino));
	ck_assert(!has_cold_row(num));
	ck_assert_uint_eq(n_extents(num), 3);
	expect_content(ino, data, len);
	put(ino);
	remount();
	expect_named(fs_root(f), "chw", data, len);
	free(data);
}
END_TEST

/* Bytes `tier` says ino occupies there. */
static uint64_t tier_stored(int tier, struct tfs_inode *ino)
{
	const struct tier *t = &f->tiers[tier];
	uint64_t n;

	inode_lock(ino);
	n = t->ops->stored_bytes(t, ino);
	inode_unlock(ino);
	return n;
}

/* Read chunk k of ino through `tier` alone; -ENOENT if it is not there. */
static int tier_read(int tier, struct tfs_inode *ino, uint64_t k,
		     uint8_t *buf)
{
	const struct tier *t = &f->tiers[tier];
	struct tier_loc loc;
	bool there;

	ck_assert_int_eq(fs_load_extents(f, ino), 0);
	inode_lock(ino);
	there = t->ops->locate &&
		t->ops->locate(ino, k, inode_chunk_span(ino->attr.size, k),
			       &loc);
	inode_unlock(ino);
	return there ? t->ops->read_chunk(t, &loc, ino->ino, k, buf)
		     : -ENOENT;
}

/* The tier interface (tier.h), tier by tier: each is registered under its
 * name; the durable tiers locate and read back exactly the bytes written;
 * stored bytes and release follow the file from hot to warm to cold. */
START_TEST(test_tier_interface)
{
	const size_t len = 2 * CH + 1000;
	uint8_t *data = random_buf(len), *buf = malloc(CH);
	struct tfs_inode *ino = new_file(fs_root(f), "t", data, len);

	for (int i = 0; i < TFS_NTIERS; i++) {
		ck_assert_ptr_nonnull(f->tiers[i].ops);
		ck_assert_str_eq(f->tiers[i].ops->name, tfs_tier_name(i));
		ck_assert_ptr_nonnull(f->tiers[i].ops->stored_bytes);
		ck_assert_ptr_nonnull(f->tiers[i].ops->release);
	}
	/* hot: its RAM; every write was written back to warm records */
	ck_assert(resident(ino));
	ck_assert_uint_eq(tier_stored(TFS_HOT, ino), ram_of(ino));
	ck_assert_uint_ge(tier_stored(TFS_HOT, ino), len);
	ck_assert_uint_gt(tier_stored(TFS_WARM, ino), 0);
	ck_assert_uint_eq(tier_stored(TFS_COLD, ino), 0);

	set_tier(ino, TFS_WARM);
	ck_assert_uint_eq(tier_stored(TFS_HOT, ino), 0);
	ck_assert_uint_gt(tier_stored(TFS_WARM, ino), 0);
	for (uint64_t k = 0; k < 3; k++) {
		uint32_t span = k < 2 ? CH : 1000;

		ck_assert_int_eq(tier_read(TFS_WARM, ino, k, buf), (int)span);
		ck_assert(memcmp(buf, data + k * CH, span) == 0);
		ck_assert_int_eq(tier_read(TFS_COLD, ino, k, buf), -ENOENT);
		ck_assert_int_eq(tier_read(TFS_HOT, ino, k, buf), -ENOENT);
	}

	set_tier(ino, TFS_COLD);
	ck_assert_uint_eq(tier_stored(TFS_WARM, ino), 0);
	ck_assert_uint_gt(tier_stored(TFS_COLD, ino), 0);
	for (uint64_t k = 0; k < 3; k++) {
		uint32_t span = k < 2 ? CH : 1000;

		memset(buf, 0, CH);
		ck_assert_int_eq(tier_read(TFS_COLD, ino, k, buf), (int)span);
		ck_assert(memcmp(buf, data + k * CH, span) == 0);
		ck_assert_int_eq(tier_read(TFS_WARM, ino, k, buf), -ENOENT);
	}
	/* past the end: no tier holds it */
	ck_assert_int_eq(tier_read(TFS_COLD, ino, 3, buf), -ENOENT);
	expect_content(ino, data, len);
	put(ino);
	free(buf);
	free(data);
}
END_TEST

/* After a remount a hot file is not in RAM until it is opened (or the
 * policy reloads it); it still reports hot, the same before and after
 * anything loaded its extents. */
START_TEST(test_remount_hot_file)
{
	const size_t len = 2 * CH + 10;
	uint8_t *data = random_buf(len), x;
	struct tfs_inode *w = new_file(fs_root(f), "was_warm", data, len);
	struct tfs_inode *c = new_file(fs_root(f), "was_cold", data, len);
	struct fs_file *fh = NULL;
	bool direct;

	set_tier(c, TFS_COLD);
	set_tier(c, TFS_HOT);          /* hot, backed by its archive */
	ck_assert(resident(w));
	put(w);
	put(c);
	remount();
	w = lookup(fs_root(f), "was_warm");
	c = lookup(fs_root(f), "was_cold");
	ck_assert(!resident(w));
	ck_assert(!resident(c));
	ck_assert_int_eq(fs_get_tier(f, w), TFS_HOT);
	ck_assert_int_eq(fs_get_tier(f, c), TFS_HOT);
	/* The first read (the kernel opens without telling us) brings it
	 * back into RAM, and so does an open. */
	ck_assert_int_eq(fs_read(f, c, NULL, &x, 1, 0), 1);
	ck_assert_uint_eq(x, data[0]);
	ck_assert_int_eq(fs_get_tier(f, c), TFS_HOT);
	ck_assert(resident(c));
	ck_assert_int_eq(fs_open(f, w, O_RDONLY, &fh, &direct), 0);
	ck_assert(resident(w));
	ck_assert_int_eq(fs_get_tier(f, w), TFS_HOT);
	expect_content(w, data, len);
	ck_assert_int_eq(fs_release(f, w, fh), 0);
	put(w);
	put(c);
	free(data);
}
END_TEST

/* RAM over hot_max: least recently used clean files go to warm, a file
 * pinned hot stays, a file larger than hot_max cannot be made hot. */
START_TEST(test_hot_budget)
{
	enum { N = 16 };
	const size_t len = 512 * KiB;
	uint8_t *data[N], *big;
	struct tfs_inode *pinned;
	char name[16];
	int warm = 0;

	fs_unmount(&f);
	cfg.hot_max = 2 * MiB;
	do_mount();
	data[0] = random_buf(len);
	pinned = new_file(fs_root(f), "f00", data[0], len);
	ck_assert_int_eq(fs_setxattr(f, pinned, "user.tierfs.pin", "hot", 3,
				     0), 0);
	for (int i = 1; i < N; i++) {
		data[i] = random_buf(len);
		snprintf(name, sizeof(name), "f%02d", i);
		put(new_file(fs_root(f), name, data[i], len));
		ck_assert_uint_le(hot_bytes(), cfg.hot_max + len);
	}
	ck_assert_uint_le(hot_bytes(), cfg.hot_max);
	ck_assert(resident(pinned));
	for (int i = 0; i < N; i++) {
		struct tfs_inode *ino;

		snprintf(name, sizeof(name), "f%02d", i);
		ino = lookup(fs_root(f), name);
		warm += fs_get_tier(f, ino) == TFS_WARM;
		expect_content(ino, data[i], len);
		put(ino);
		free(data[i]);
	}
	ck_assert_int_ge(warm, N - 4);
	ck_assert_int_eq(fs_get_tier(f, pinned), TFS_HOT);
	put(pinned);

	big = random_buf(3 * MiB);
	pinned = new_file(fs_root(f), "big", big, 3 * MiB);
	ck_assert_int_eq(fs_get_tier(f, pinned), TFS_WARM);  /* evicted */
	ck_assert_int_eq(fs_set_tier(f, pinned, TFS_HOT), -EFBIG);
	ck_assert(!resident(pinned));
	expect_content(pinned, big, 3 * MiB);
	put(pinned);
	free(big);
}
END_TEST

static size_t pool_free(void)
{
	size_t n;

	pthread_mutex_lock(&f->hot.pool_lock);
	n = f->hot.npool;
	pthread_mutex_unlock(&f->hot.pool_lock);
	return n;
}

/* After a WRITE that took full-size chunk buffers, buffers for the next
 * ones are mapped ahead - never past hot_max - and go back to the system
 * with the policy's trims when nobody takes them. */
START_TEST(test_write_prefill)
{
	const size_t len = 2 * MiB;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino;
	size_t n;

	fs_unmount(&f);
	cfg.hot_max = 64 * MiB;
	do_mount();
	fs_write_after_reply(f);        /* nothing written: nothing mapped */
	ck_assert_uint_eq(pool_free(), 0);
	ino = new_file(fs_root(f), "a", data, len);
	fs_write_after_reply(f);
	n = pool_free();
	ck_assert_uint_ge(n, 32);
	ck_assert_uint_le(hot_bytes() + n * TFS_CHUNK_SIZE, cfg.hot_max);
	fs_write_after_reply(f);        /* no new demand: no new slab */
	ck_assert_uint_eq(pool_free(), n);
	expect_content(ino, data, len);
	put(ino);
	for (int i = 0; i < 8 && pool_free(); i++)
		hot_trim(&f->hot);
	ck_assert_uint_eq(pool_free(), 0);

	/* A budget that is nearly full gets nothing ahead. */
	fs_unmount(&f);
	cfg.hot_max = 3 * MiB;
	do_mount();
	ino = new_file(fs_root(f), "b", data, len);
	fs_write_after_reply(f);
	ck_assert_uint_le(hot_bytes() + pool_free() * TFS_CHUNK_SIZE,
			  cfg.hot_max);
	expect_content(ino, data, len);
	put(ino);
	free(data);
}
END_TEST

/* A write into a cold file changes that chunk only. */
START_TEST(test_write_into_cold)
{
	const size_t len = 300000;
	uint8_t *data = random_buf(len), patch[100];
	struct tfs_inode *ino = new_file(fs_root(f), "wc", data, len);
	uint64_t num = ino->ino;
	struct meta_extent *e = NULL;
	size_t n = 0;

	set_tier(ino, TFS_COLD);
	fill_random(patch, sizeof(patch));
	write_at(ino, patch, sizeof(patch), CH + 1000);
	memcpy(data + CH + 1000, patch, sizeof(patch));
	expect_content(ino, data, len);
	ck_assert_int_eq(fs_flush(f, ino), 0);
	expect_content(ino, data, len);
	/* One warm record for chunk 1; the rest still in the archive. */
	ck_assert_int_eq(meta_extent_list(f->meta, num, &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(e[0].chunk, 1);
	ck_assert_uint_eq(e[0].raw_len, CH);
	free(e);
	ck_assert(has_cold_row(num));
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_COLD);
	/* Half cold, half warm -> warm, and back to cold. */
	set_tier(ino, TFS_WARM);
	ck_assert(!has_cold_row(num));
	ck_assert_uint_eq(n_extents(num), 5);
	expect_content(ino, data, len);
	set_tier(ino, TFS_COLD);
	expect_content(ino, data, len);

	/* A write extending the file past the archived length. */
	write_at(ino, patch, 10, len + 5);
	put(ino);
	{
		uint8_t *m = calloc(1, len + 15);

		memcpy(m, data, len);
		memcpy(m + len + 5, patch, 10);
		remount();
		expect_named(fs_root(f), "wc", m, len + 15);
		ino = lookup(fs_root(f), "wc");
		/* Re-archived whole, it reads the same. */
		set_tier(ino, TFS_COLD);
		ck_assert_uint_eq(n_extents(num), 0);
		expect_content(ino, m, len + 15);
		put(ino);
		remount();
		expect_named(fs_root(f), "wc", m, len + 15);
		free(m);
	}
	free(data);
}
END_TEST

/* fs_set_tier on a directory: every file below, one archive. */
START_TEST(test_dir_move_one_batch)
{
	enum { N = 24, M = 6 };
	uint8_t *data[N + M];
	size_t len[N + M];
	struct tfs_inode *d, *sub, *ino;
	char name[32];

	d = new_dir(fs_root(f), "vec");
	sub = new_dir(d, "sub");
	for (int i = 0; i < N + M; i++) {
		len[i] = 1000 + (size_t)i * 700;
		data[i] = random_buf(len[i]);
		snprintf(name, sizeof(name), "f%02d", i);
		put(new_file(i < N ? d : sub, name, data[i], len[i]));
	}
	/* Something outside the directory stays where it is. */
	put(new_file(fs_root(f), "outside", data[0], len[0]));
	ck_assert_uint_eq(dir_files("cold", NULL), 0);

	ck_assert_int_eq(fs_set_tier(f, d, TFS_COLD), 0);
	ck_assert_uint_eq(dir_files("cold", NULL), 1);
	for (int i = 0; i < N + M; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		ino = lookup(i < N ? d : sub, name);
		ck_assert_int_eq(fs_get_tier(f, ino), TFS_COLD);
		expect_content(ino, data[i], len[i]);
		put(ino);
	}
	ino = lookup(fs_root(f), "outside");
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_HOT);
	put(ino);

	/* Again: already cold, no new archive. */
	ck_assert_int_eq(fs_set_tier(f, d, TFS_COLD), 0);
	ck_assert_uint_eq(dir_files("cold", NULL), 1);

	/* The subdirectory to warm, then all back to hot. */
	ck_assert_int_eq(fs_set_tier(f, sub, TFS_WARM), 0);
	ino = lookup(sub, "f24");
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_WARM);
	put(ino);
	ino = lookup(d, "f00");
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_COLD);
	put(ino);
	put(sub);
	put(d);
	remount();
	d = lookup(fs_root(f), "vec");
	sub = lookup(d, "sub");
	ck_assert_int_eq(fs_set_tier(f, d, TFS_HOT), 0);
	for (int i = 0; i < N + M; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		ino = lookup(i < N ? d : sub, name);
		ck_assert_int_eq(fs_get_tier(f, ino), TFS_HOT);
		expect_content(ino, data[i], len[i]);
		put(ino);
		free(data[i]);
	}
	put(sub);
	put(d);
}
END_TEST

/* ---- concurrency ---- */

struct writer {
	struct tfs_inode *ino;
	uint8_t *model;
	size_t mlen, cap;
	atomic_bool stop;
	atomic_bool pause, paused;      /* the mover asks for quiet spells */
	long writes, truncs;
	int err;                /* first failure, 0 if none */
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t st = 0x1234567ull;
	uint8_t buf[4096];

	while (!atomic_load(&w->stop) || w->writes < 200) {
		uint64_t r;
		size_t off, len;
		ssize_t n;

		if (atomic_load(&w->pause)) {
			atomic_store(&w->paused, true);
			while (atomic_load(&w->pause))
				usleep(100);
			atomic_store(&w->paused, false);
		}
		fill_random_r(&st, (uint8_t *)&r, sizeof(r));
		if (r % 64 == 0) {
			/* Truncate somewhere in the file. */
			struct stat in = { 0 }, out;
			size_t to = (size_t)((r >> 8) % (w->mlen + 1));
			int rc;

			in.st_size = (off_t)to;
			rc = fs_setattr(f, w->ino, &in, FS_SET_SIZE, &out);
			if (rc) {
				w->err = rc;
				break;
			}
			if (to < w->mlen)
				memset(w->model + to, 0, w->mlen - to);
			w->mlen = to;
			w->truncs++;
			continue;
		}
		len = 1 + (size_t)((r >> 8) % sizeof(buf));
		off = (size_t)((r >> 24) % (w->cap - sizeof(buf)));
		if (off > w->mlen + 2 * CH)
			off = w->mlen;
		fill_random_r(&st, buf, len);
		n = fs_write(f, w->ino, NULL, buf, len, (off_t)off);
		if (n != (ssize_t)len) {
			w->err = n < 0 ? (int)n : -EIO;
			break;
		}
		memcpy(w->model + off, buf, len);
		if (off + len > w->mlen)
			w->mlen = off + len;
		w->writes++;
	}
	return NULL;
}

START_TEST(test_moves_race_writer)
{
	const size_t len = 512 * KiB;
	struct writer w = { .cap = 1 * MiB };
	int ok[TFS_NTIERS] = { 0 }, again = 0;
	pthread_t th;

	w.model = calloc(1, w.cap);
	ck_assert_ptr_nonnull(w.model);
	fill_random(w.model, len);
	w.mlen = len;
	w.ino = new_file(fs_root(f), "race", w.model, len);
	ck_assert_int_eq(pthread_create(&th, NULL, writer_main, &w), 0);
	/* Even rounds race the writer (a move may give up with -EAGAIN);
	 * odd rounds run while it is paused, mid-stream, and must succeed. */
	for (int i = 0; i < 20; i++) {
		static const int order[] = { TFS_WARM, TFS_COLD, TFS_HOT };
		bool quiet = i % 2;

		if (quiet) {
			atomic_store(&w.pause, true);
			while (!atomic_load(&w.paused) && w.err == 0)
				usleep(100);
		}
		for (int j = 0; j < 3; j++) {
			int rc = fs_set_tier(f, w.ino, order[j]);

			if (rc == 0)
				ok[order[j]]++;
			else if (rc == -EAGAIN && !quiet)
				again++;
			else
				ck_abort_msg("move %d to %s%s: %d", i,
					     tfs_tier_name(order[j]),
					     quiet ? " (writer paused)" : "",
					     rc);
			if (quiet)
				ck_assert_int_eq(fs_get_tier(f, w.ino),
						 order[j]);
		}
		if (quiet) {
			/* Paused: the file must read as the model now. */
			expect_content(w.ino, w.model, w.mlen);
			atomic_store(&w.pause, false);
		}
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	ck_assert_msg(w.err == 0, "writer failed: %d", w.err);
	fprintf(stderr, "race: %ld writes, %ld truncates; moves ok "
		"warm %d cold %d hot %d, EAGAIN %d\n", w.writes, w.truncs,
		ok[TFS_WARM], ok[TFS_COLD], ok[TFS_HOT], again);
	ck_assert_int_ge(ok[TFS_COLD], 10);
	expect_content(w.ino, w.model, w.mlen);
	/* Settle in each tier and check again. */
	set_tier(w.ino, TFS_COLD);
	expect_content(w.ino, w.model, w.mlen);
	set_tier(w.ino, TFS_WARM);
	expect_content(w.ino, w.model, w.mlen);
	put(w.ino);
	remount();
	expect_named(fs_root(f), "race", w.model, w.mlen);
	free(w.model);
}
END_TEST

struct reader {
	struct tfs_inode *ino;
	const uint8_t *want;
	size_t len;
	uint64_t seed;
	long reads;
	long long bad;          /* 0, or first bad offset + 1, or -errno */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = malloc(128 * KiB);

	for (int i = 0; i < 300 && !r->bad; i++) {
		uint64_t x;
		size_t off, n;
		ssize_t got;

		fill_random_r(&r->seed, (uint8_t *)&x, sizeof(x));
		off = (size_t)(x % r->len);
		n = 1 + (size_t)((x >> 32) % (128 * KiB));
		if (n > r->len - off)
			n = r->len - off;
		got = fs_read(f, r->ino, NULL, buf, n, (off_t)off);
		if (got != (ssize_t)n) {
			r->bad = got < 0 ? got : -EIO;
			break;
		}
		for (size_t k = 0; k < n; k++)
			if (buf[k] != r->want[off + k]) {
				r->bad = (long long)(off + k) + 1;
				break;
			}
		r->reads++;
	}
	free(buf);
	return NULL;
}

START_TEST(test_concurrent_cold_reads)
{
	const size_t len = 1 * MiB + 4321;
	struct reader r[2];
	pthread_t th[2];
	struct tfs_inode *d[2];
	uint8_t *data[2];

	for (int i = 0; i < 2; i++) {
		struct fs_file *fh = NULL;
		bool direct;

		data[i] = random_buf(len);
		d[i] = new_dir(fs_root(f), i ? "b" : "a");
		r[i] = (struct reader){ .want = data[i], .len = len,
					.seed = 77 + (uint64_t)i };
		r[i].ino = new_file(d[i], "v", data[i], len);
		set_tier(r[i].ino, TFS_COLD);
		ck_assert_int_eq(fs_open(f, r[i].ino, O_RDONLY, &fh, &direct),
				 0);
		ck_assert_int_eq(fs_release(f, r[i].ino, fh), 0);
	}
	ck_assert_uint_eq(dir_files("cold", NULL), 2);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader_main,
						&r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(r[i].bad == 0, "reader %d: %lld after %ld reads",
			      i, r[i].bad, r[i].reads);
		ck_assert_int_eq(r[i].reads, 300);
		ck_assert_int_eq(fs_get_tier(f, r[i].ino), TFS_COLD);
		expect_content(r[i].ino, data[i], len);
		put(r[i].ino);
		put(d[i]);
		free(data[i]);
	}
}
END_TEST

/* ---- compaction ---- */

enum { NCOMP = 40, KEEP_EVERY = 4 };

static void compaction_case(int tier)
{
	const size_t len = 256 * KiB;
	uint8_t *data[NCOMP];
	struct tfs_inode *d;
	const char *sub = tier == TFS_COLD ? "cold" : "warm";
	uint64_t before, after, freed = 0;
	char name[32];

	d = new_dir(fs_root(f), "c");
	for (int i = 0; i < NCOMP; i++) {
		data[i] = random_buf(len);
		snprintf(name, sizeof(name), "f%02d", i);
		put(new_file(d, name, data[i], len));
	}
	ck_assert_int_eq(fs_set_tier(f, d, tier), 0);
	if (tier == TFS_COLD) {
		ck_assert_uint_eq(dir_files("cold", &before), 1);
		/* The warm copies went with the move. */
		ck_assert_int_eq(compact_run(f, &freed), 0);
		ck_assert_uint_gt(freed, 0);
		ck_assert_uint_lt(dir_files("warm", NULL), 3);
	} else {
		ck_assert_uint_ge(dir_files("warm", NULL), 8);
	}
	dir_files(sub, &before);
	ck_assert_uint_ge(before, NCOMP * len);

	/* Keep one file in KEEP_EVERY, so every segment/archive is mostly
	 * dead but not empty. */
	for (int i = 0; i < NCOMP; i++) {
		if (i % KEEP_EVERY == 0)
			continue;
		snprintf(name, sizeof(name), "f%02d", i);
		ck_assert_int_eq(fs_unlink(f, d, name), 0);
	}
	ck_assert_int_eq(compact_run(f, &freed), 0);
	ck_assert_uint_gt(freed, 0);
	dir_files(sub, &after);
	ck_assert_msg(after < before, "%s: %" PRIu64 " -> %" PRIu64, sub,
		      before, after);
	ck_assert_uint_le(after, before / 2);
	ck_assert_uint_ge(after, NCOMP / KEEP_EVERY * len);
	for (int i = 0; i < NCOMP; i += KEEP_EVERY) {
		snprintf(name, sizeof(name), "f%02d", i);
		expect_named(d, name, data[i], len);
	}
	/* A second pass may free what the first left in the segment that
	 * was active then; it breaks nothing. */
	ck_assert_int_eq(compact_run(f, &freed), 0);
	dir_files(sub, &after);
	put(d);
	remount();
	d = lookup(fs_root(f), "c");
	for (int i = 0; i < NCOMP; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		if (i % KEEP_EVERY == 0) {
			struct tfs_inode *ino = lookup(d, name);

			ck_assert_int_eq(fs_get_tier(f, ino), tier);
			expect_content(ino, data[i], len);
			put(ino);
		}
		free(data[i]);
	}
	dir_files(sub, &freed);
	ck_assert_uint_eq(freed, after);   /* recovery deleted nothing live */
	put(d);
}

START_TEST(test_compact_cold)
{
	compaction_case(TFS_COLD);
}
END_TEST

START_TEST(test_compact_warm)
{
	compaction_case(TFS_WARM);
}
END_TEST

/* Reads of a warm or cold file while compaction keeps moving its bytes
 * to a new segment/archive and deleting the old one: a reader must never
 * see EIO or stale bytes (loop index = the file's tier). Fails as of this
 * writing, most runs: fs_read_durable_chunk() copies the extent, drops
 * the inode lock, and the segment/archive it names is deleted before the
 * read reaches it ("no such segment" / "cold archive ... is missing"). */
struct cr_reader {
	struct tfs_inode *ino;
	const uint8_t *want;
	size_t len;
	atomic_bool *stop;
	uint64_t seed;
	long reads;
	long long bad;
};

static void *cr_main(void *arg)
{
	struct cr_reader *r = arg;
	uint8_t buf[8192];

	while (!atomic_load(r->stop) && !r->bad) {
		uint64_t x;
		size_t off, n;
		ssize_t got;

		fill_random_r(&r->seed, (uint8_t *)&x, sizeof(x));
		off = (size_t)(x % r->len);
		n = sizeof(buf) < r->len - off ? sizeof(buf) : r->len - off;
		got = fs_read(f, r->ino, NULL, buf, n, (off_t)off);
		if (got != (ssize_t)n) {
			r->bad = got < 0 ? got : -1000000;
			break;
		}
		if (memcmp(buf, r->want + off, n))
			r->bad = (long long)off + 1;
		r->reads++;
	}
	return NULL;
}

START_TEST(test_reads_race_compaction)
{
	const int tier = _i;
	const size_t len = 2 * CH + 100, flen = 400 * KiB;
	uint8_t *data = random_buf(len), *filler = random_buf(flen);
	struct cr_reader r[2];
	pthread_t th[2];
	atomic_bool stop = false;
	struct tfs_inode *d, *ino;
	uint64_t freed, total = 0;
	int rounds = 0, moved = 0;
	struct timespec t0, t1;

	d = new_dir(fs_root(f), "d");
	ino = new_file(d, "k", data, len);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct cr_reader){ .ino = ino, .want = data,
					   .len = len, .stop = &stop,
					   .seed = 5 + (uint64_t)i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, cr_main, &r[i]),
				 0);
	}
	/* The race window is narrow: up to 120 rounds or ~2.5 s. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (; rounds < 120 && !r[0].bad && !r[1].bad; rounds++) {
		char name[16];

		uint64_t where[2];

		/* Rewrite the file's first chunk (same bytes) so that it
		 * moves again, next to dead weight, then compact that away. */
		write_at(ino, data, CH, 0);
		ck_assert_int_eq(fs_flush(f, ino), 0);
		for (int j = 0; j < 3; j++) {
			snprintf(name, sizeof(name), "x%d", j);
			put(new_file(d, name, filler, flen));
		}
		ck_assert_int_eq(fs_set_tier(f, d, tier), 0);
		for (int j = 0; j < 3; j++) {
			snprintf(name, sizeof(name), "x%d", j);
			ck_assert_int_eq(fs_unlink(f, d, name), 0);
		}
		inode_lock(ino);
		where[0] = tier == TFS_COLD ? ino->cold.archive : ino->ext[1].seg;
		inode_unlock(ino);
		ck_assert_int_eq(compact_run(f, &freed), 0);
		inode_lock(ino);
		where[1] = tier == TFS_COLD ? ino->cold.archive : ino->ext[1].seg;
		inode_unlock(ino);
		moved += where[0] != where[1];
		total += freed;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 > 2500)
			break;
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "reads/compaction (%s): %d rounds, %d moves of the "
		"file, %ld+%ld reads, %" PRIu64 " bytes freed\n",
		tfs_tier_name(tier), rounds, moved, r[0].reads, r[1].reads,
		total);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(r[i].bad == 0, "reader %d during compaction of "
			      "%s: %lld (negative: errno; positive: first bad "
			      "offset + 1) after %ld reads", i,
			      tfs_tier_name(tier), r[i].bad, r[i].reads);
	ck_assert_uint_gt(total, 0);
	expect_content(ino, data, len);
	put(ino);
	put(d);
	free(data);
	free(filler);
}
END_TEST

static Suite *fs_tier_suite(void)
{
	Suite *s = suite_create("fs_tier");
	TCase *tc;

	tc = fixture_tcase("moves", setup);
	tcase_add_test(tc, test_transitions);
	tcase_add_test(tc, test_cold_hot_cold);
	tcase_add_test(tc, test_cold_hot_warm);
	tcase_add_test(tc, test_write_into_cold);
	tcase_add_test(tc, test_remount_hot_file);
	tcase_add_test(tc, test_tier_interface);
	tcase_add_test(tc, test_hot_budget);
	tcase_add_test(tc, test_write_prefill);
	tcase_add_test(tc, test_dir_move_one_batch);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("concurrency", setup);
	tcase_add_test(tc, test_moves_race_writer);
	tcase_add_test(tc, test_concurrent_cold_reads);
	tcase_add_loop_test(tc, test_reads_race_compaction, TFS_WARM,
			    TFS_COLD + 1);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("compaction", setup);
	tcase_add_test(tc, test_compact_cold);
	tcase_add_test(tc, test_compact_warm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite("/tmp/tfs_fst_XXXXXX", fs_tier_suite);
}
