/*
 * test_fs.c - the filesystem core without FUSE: chunk edge cases of read,
 * write and truncate in each tier, write-back and durability across
 * remounts, the namespace (rename flavours, links, open-unlink, name
 * limits, the reserved .tiers name) and extended attributes.
 *
 * Tier moves, concurrency and compaction are in test_fs_tier.c.
 * Every test mounts a private store, calls fs_* directly with the root as
 * the parent, and remounts where persistence is the point.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <check.h>

#include "fs.h"
#include "fs_int.h"
#include "meta.h"
#include "tierfs.h"

#define FS_TESTLIB_SEED 88172645463325252ull
#include "fs_testlib.h"

/* ---- fixture ---- */

static void remount(void)
{
	fs_unmount(&f);
	ck_assert_ptr_null(f);
	do_mount();
}

static void setup(void)
{
	fixture_start();
	cfg.cache_size = 4 * MiB;
	do_mount();
}

/* ---- helpers ---- */

/* The file holds exactly want[0..len): size, every byte, EOF. */
static void expect_content(struct tfs_inode *ino, const uint8_t *want,
			   size_t len)
{
	uint8_t *got = malloc(len + 16);
	size_t done = 0;

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(size_of(ino), len);
	while (done < len) {
		ssize_t n = fs_read(f, ino, NULL, got + done, len - done,
				    (off_t)done);

		ck_assert_msg(n > 0, "read at %zu of %zu: %zd", done, len, n);
		done += (size_t)n;
	}
	ck_assert_int_eq(fs_read(f, ino, NULL, got, 16, (off_t)len), 0);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			ck_abort_msg("byte %zu of %zu: got 0x%02x want 0x%02x",
				     i, len, got[i], want[i]);
	free(got);
}

static void expect_named(const char *name, const uint8_t *want, size_t len)
{
	struct tfs_inode *ino = lookup(fs_root(f), name);

	expect_content(ino, want, len);
	put(ino);
}

static void set_tier(struct tfs_inode *ino, int tier)
{
	int rc = fs_set_tier(f, ino, tier);

	ck_assert_msg(rc == 0, "set_tier %s: %d", tfs_tier_name(tier), rc);
	ck_assert_int_eq(fs_get_tier(f, ino), tier);
}

static void truncate_to(struct tfs_inode *ino, uint64_t size)
{
	struct stat in = { .st_size = (off_t)size }, out;

	ck_assert_int_eq(fs_setattr(f, ino, &in, FS_SET_SIZE, &out), 0);
	ck_assert_uint_eq((uint64_t)out.st_size, size);
}

/* ---- chunk edge cases, in each tier (loop index = tier) ---- */

/* Write through the file and the model, then flush and put the file back
 * in `tier` (so the next write meets the tier's state). */
static void edit(struct tfs_inode *ino, uint8_t *model, size_t *mlen,
		 const void *buf, size_t len, uint64_t off, int tier)
{
	write_at(ino, buf, len, off);
	memcpy(model + off, buf, len);
	if (off + len > *mlen)
		*mlen = off + len;
	expect_content(ino, model, *mlen);
	ck_assert_int_eq(fs_flush(f, ino), 0);
	set_tier(ino, tier);
	expect_content(ino, model, *mlen);
}

START_TEST(test_rw_edges)
{
	const int tier = _i;
	const size_t far = 3 * MiB + 12345;
	uint8_t *model = calloc(1, far + 16), *big = random_buf(CH);
	uint8_t one = 'A', eleven[11], small[8], buf[128];
	struct tfs_inode *ino;
	size_t mlen = 0;

	ck_assert_ptr_nonnull(model);
	fill_random(eleven, sizeof(eleven));
	ino = new_file(fs_root(f), "e", NULL, 0);
	ck_assert_uint_eq(size_of(ino), 0);
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 10, 0), 0);

	/* One byte at 0. */
	edit(ino, model, &mlen, &one, 1, 0, tier);
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 100, 0), 1);  /* short */
	ck_assert_uint_eq(buf[0], 'A');
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 100, 1), 0);  /* EOF */
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 0, 0), 0);    /* 0 B */
	ck_assert_int_eq(fs_write(f, ino, NULL, buf, 0, 5), 0);
	ck_assert_uint_eq(size_of(ino), 1);     /* a 0-byte write grows nothing */

	/* Exactly one chunk, then exactly one byte more. */
	edit(ino, model, &mlen, big, CH, 0, tier);
	ck_assert_uint_eq(size_of(ino), CH);
	edit(ino, model, &mlen, &one, 1, CH, tier);
	ck_assert_uint_eq(size_of(ino), CH + 1);

	/* Across the chunk boundary: 65530..65540. */
	edit(ino, model, &mlen, eleven, sizeof(eleven), CH - 6, tier);
	ck_assert_uint_eq(size_of(ino), CH + 5);
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 11, CH - 6), 11);
	ck_assert_mem_eq(buf, eleven, 11);
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 100, CH - 6), 11);

	/* Far past EOF: a hole of zeros, the size right. */
	fill_random(small, sizeof(small));
	edit(ino, model, &mlen, small, sizeof(small), far, tier);
	ck_assert_uint_eq(size_of(ino), far + sizeof(small));
	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 100, 2 * MiB), 100);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(buf[i], 0);
	/* The old short tail of chunk 1 is followed by zeros too. */
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 20, CH + 2), 20);
	ck_assert_mem_eq(buf, model + CH + 2, 20);

	/* Overwrite the middle of chunk 0 (read-modify-write in the tier). */
	edit(ino, model, &mlen, small, sizeof(small), 30000, tier);
	/* A short write into the hole, mid-chunk. */
	edit(ino, model, &mlen, small, 3, 2 * MiB + 7, tier);

	put(ino);
	remount();
	/* The first access after a remount is a write (extents not loaded
	 * yet): read-modify-write must still keep the chunk's other bytes. */
	ino = lookup(fs_root(f), "e");
	write_at(ino, eleven, 5, 30005);
	memcpy(model + 30005, eleven, 5);
	expect_content(ino, model, mlen);
	put(ino);
	remount();
	expect_named("e", model, mlen);
	free(model);
	free(big);
}
END_TEST

/* Shrink to mid-chunk then grow: the cut bytes read as zeros (loop index
 * = the tier the file is in when it is cut). */
START_TEST(test_truncate_tail_zero)
{
	const int tier = _i;
	const size_t len = 200000, cut = 70000;
	uint8_t *data = random_buf(len), *model = calloc(1, len);
	struct tfs_inode *ino;
	uint8_t buf[128];

	memcpy(model, data, cut);
	/* Grow right after the cut. */
	ino = new_file(fs_root(f), "t1", data, len);
	set_tier(ino, tier);
	truncate_to(ino, cut);
	ck_assert_int_eq(fs_read(f, ino, NULL, buf, 100, cut - 50), 50);
	ck_assert_mem_eq(buf, data + cut - 50, 50);
	expect_content(ino, data, cut);
	truncate_to(ino, len);
	expect_content(ino, model, len);
	put(ino);

	/* Cut, move back to the tier, then grow. */
	ino = new_file(fs_root(f), "t2", data, len);
	set_tier(ino, tier);
	truncate_to(ino, cut);
	set_tier(ino, tier);
	expect_content(ino, data, cut);
	truncate_to(ino, len);
	expect_content(ino, model, len);
	set_tier(ino, tier);
	expect_content(ino, model, len);
	put(ino);

	/* Cut, then grow by writing one byte at the old end. */
	ino = new_file(fs_root(f), "t3", data, len);
	set_tier(ino, tier);
	truncate_to(ino, cut);
	set_tier(ino, tier);
	write_at(ino, "Z", 1, len - 1);
	model[len - 1] = 'Z';
	expect_content(ino, model, len);
	ck_assert_int_eq(fs_flush(f, ino), 0);
	put(ino);
	model[len - 1] = 0;

	/* A chunk-aligned cut. */
	ino = new_file(fs_root(f), "t4", data, len);
	set_tier(ino, tier);
	truncate_to(ino, 2 * CH);
	truncate_to(ino, len);
	{
		uint8_t *m4 = calloc(1, len);

		memcpy(m4, data, 2 * CH);
		expect_content(ino, m4, len);
		put(ino);
		remount();
		expect_named("t4", m4, len);
		free(m4);
	}
	expect_named("t1", model, len);
	expect_named("t2", model, len);
	model[len - 1] = 'Z';
	expect_named("t3", model, len);
	free(data);
	free(model);
}
END_TEST

START_TEST(test_truncate_zero_and_grow)
{
	const int tier = _i;
	const size_t len = 150000;
	uint8_t *data = random_buf(len), *model = calloc(1, len);
	struct tfs_inode *ino;

	/* To 0, then grow: all zeros. */
	ino = new_file(fs_root(f), "z", data, len);
	set_tier(ino, tier);
	truncate_to(ino, 0);
	expect_content(ino, model, 0);
	truncate_to(ino, len);
	expect_content(ino, model, len);
	put(ino);

	/* Grow a short file: old bytes kept, new ones zero. */
	memcpy(model, data, 1000);
	ino = new_file(fs_root(f), "g", data, 1000);
	set_tier(ino, tier);
	truncate_to(ino, len);
	expect_content(ino, model, len);
	set_tier(ino, tier);
	expect_content(ino, model, len);
	put(ino);

	remount();
	/* A truncate as the first access after a remount. */
	ino = lookup(fs_root(f), "g");
	truncate_to(ino, 500);
	truncate_to(ino, len);
	memset(model + 500, 0, len - 500);
	expect_content(ino, model, len);
	put(ino);
	remount();
	expect_named("g", model, len);
	memset(model, 0, len);
	expect_named("z", model, len);
	free(data);
	free(model);
}
END_TEST

START_TEST(test_open_trunc)
{
	const int tier = _i;
	const size_t len = 100000;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "o", data, len);
	struct fs_file *fh = NULL;
	bool direct = true;

	set_tier(ino, tier);
	/* Without O_TRUNC nothing changes. */
	ck_assert_int_eq(fs_open(f, ino, O_RDONLY, &fh, &direct), 0);
	ck_assert(!direct);
	ck_assert_uint_eq(size_of(ino), len);
	ck_assert_int_eq(fs_release(f, ino, fh), 0);

	ck_assert_int_eq(fs_open(f, ino, O_WRONLY | O_TRUNC, &fh, &direct), 0);
	ck_assert_uint_eq(size_of(ino), 0);
	{
		struct meta_inode a;

		/* The truncation waits for the new content: a crash now
		 * leaves the old content (fs_replace.c, REPLACING A FILE). */
		ck_assert_int_eq(meta_inode_get(f->meta, ino->ino, &a), 0);
		ck_assert_uint_eq(a.size, len);
	}
	write_at(ino, "xyz", 3, 0);
	{
		struct meta_extent *e = NULL;
		struct meta_inode a;
		size_t n = 9;

		/* The new bytes are durable, as shadow extents, but not
		 * published: a crash now still leaves the old content. */
		ck_assert_int_eq(meta_inode_get(f->meta, ino->ino, &a), 0);
		ck_assert_uint_eq(a.size, len);
		ck_assert_int_eq(meta_extent_list(f->meta,
						  META_SHADOW(ino->ino), &e,
						  &n), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(e[0].raw_len, 3);
		free(e);
	}
	/* A close the kernel tells of (FLUSH) publishes the rewrite. */
	ck_assert_int_eq(fs_flush(f, ino), 0);
	{
		struct meta_extent *e = NULL;
		struct meta_cold c;
		struct meta_inode a;
		size_t n = 9;

		/* Published: nothing durable of the old bytes is referenced
		 * any more. */
		ck_assert_int_eq(meta_inode_get(f->meta, ino->ino, &a), 0);
		ck_assert_uint_eq(a.size, 3);
		ck_assert_int_eq(meta_cold_get(f->meta, ino->ino, &c), -ENOENT);
		ck_assert_int_eq(meta_extent_list(f->meta, ino->ino, &e, &n), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_eq(e[0].chunk, 0);
		ck_assert_uint_eq(e[0].raw_len, 3);
		free(e);
		ck_assert_int_eq(meta_extent_list(f->meta,
						  META_SHADOW(ino->ino), &e,
						  &n), 0);
		ck_assert_uint_eq(n, 0);
		free(e);
	}
	ck_assert_int_eq(fs_release(f, ino, fh), 0);
	expect_content(ino, (const uint8_t *)"xyz", 3);
	put(ino);
	remount();
	expect_named("o", (const uint8_t *)"xyz", 3);
	free(data);
}
END_TEST

/* ---- write-back and durability ---- */

START_TEST(test_durability)
{
	const size_t len = 300 * KiB + 17;
	uint8_t *a = random_buf(len), *b = random_buf(len), *c = random_buf(len);
	struct tfs_inode *ino;
	struct fs_file *fh = NULL;
	struct stat st;

	/* Flushed and closed. */
	put(new_file(fs_root(f), "flushed", a, len));

	/* Fsync'ed, still open. */
	ck_assert_int_eq(fs_create(f, &caller, fs_root(f), "synced", 0600,
				   O_RDWR, &ino, &st, &fh), 0);
	write_at(ino, b, len, 0);
	ck_assert_int_eq(fs_fsync(f, ino, false), 0);

	/* Written, never flushed nor released: every write is durable when
	 * it returns (nothing tells the core of a close). */
	ck_assert_int_eq(fs_create(f, &caller, fs_root(f), "dirty", 0600,
				   O_RDWR, &ino, &st, &fh), 0);
	write_at(ino, c, len, 0);
	inode_lock(ino);
	ck_assert_uint_eq(ino->ndirty, 0);
	ck_assert(!ino->meta_dirty);
	inode_unlock(ino);

	remount();
	expect_named("flushed", a, len);
	expect_named("synced", b, len);
	expect_named("dirty", c, len);
	ino = lookup(fs_root(f), "dirty");
	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	put(ino);
	/* Twice, for whatever the first remount may have rewritten. */
	remount();
	expect_named("flushed", a, len);
	expect_named("dirty", c, len);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_release_writes_back)
{
	const size_t len = 2 * CH + 5;
	uint8_t *a = random_buf(len);
	struct tfs_inode *ino;
	struct fs_file *fh = NULL;
	struct meta_extent *ext = NULL;
	size_t n = 0;
	struct stat st;

	ck_assert_int_eq(fs_create(f, &caller, fs_root(f), "r", 0644, O_RDWR,
				   &ino, &st, &fh), 0);
	write_at(ino, a, len, 0);
	ck_assert_int_eq(fs_release(f, ino, fh), 0);   /* no flush before */
	inode_lock(ino);
	ck_assert_uint_eq(ino->ndirty, 0);
	inode_unlock(ino);
	/* Every chunk has its durable warm record. */
	ck_assert_int_eq(meta_extent_list(f->meta, ino->ino, &ext, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ext[2].raw_len, 5);
	free(ext);
	put(ino);
	remount();
	expect_named("r", a, len);
	free(a);
}
END_TEST

/* ---- namespace ---- */

static bool inode_row_exists(uint64_t num)
{
	struct meta_inode a;
	int rc = meta_inode_get(f->meta, num, &a);

	ck_assert(rc == 0 || rc == -ENOENT);
	return rc == 0;
}

static void count_orphan(void *ctx, uint64_t ino)
{
	(*(int *)ctx)++;
}

static int orphans(void)
{
	int n = 0;

	ck_assert_int_eq(meta_inode_scan_orphans(f->meta, count_orphan, &n),
			 0);
	return n;
}

START_TEST(test_rename_replace)
{
	uint8_t a[100], b[200];
	struct tfs_inode *ia, *ib, *x;
	struct stat st;
	uint64_t bnum;

	fill_random(a, sizeof(a));
	fill_random(b, sizeof(b));
	ia = new_file(fs_root(f), "a", a, sizeof(a));
	ib = new_file(fs_root(f), "b", b, sizeof(b));
	set_tier(ib, TFS_WARM);   /* it has durable data to delete */
	bnum = ib->ino;

	ck_assert_int_eq(fs_rename(f, fs_root(f), "a", fs_root(f), "b",
				   FS_RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(fs_rename(f, fs_root(f), "a", fs_root(f), "b", 0), 0);
	ck_assert_int_eq(fs_lookup(f, fs_root(f), "a", &x, &st), -ENOENT);
	x = lookup(fs_root(f), "b");
	ck_assert_ptr_eq(x, ia);
	expect_content(x, a, sizeof(a));
	put(x);
	/* The replaced inode: no links, still readable while referenced. */
	ck_assert_int_eq(fs_getattr(f, ib, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 0);
	expect_content(ib, b, sizeof(b));
	ck_assert(inode_row_exists(bnum));
	put(ib);
	ck_assert(!inode_row_exists(bnum));
	put(ia);

	/* NOREPLACE to a free name works. */
	ck_assert_int_eq(fs_rename(f, fs_root(f), "b", fs_root(f), "c",
				   FS_RENAME_NOREPLACE), 0);
	/* EXCHANGE with a missing name. */
	ck_assert_int_eq(fs_rename(f, fs_root(f), "c", fs_root(f), "nope",
				   FS_RENAME_EXCHANGE), -ENOENT);
	ck_assert_int_eq(fs_rename(f, fs_root(f), "c", fs_root(f), "d",
				   FS_RENAME_EXCHANGE | FS_RENAME_NOREPLACE),
			 -EINVAL);
	remount();
	expect_named("c", a, sizeof(a));
	ck_assert(!inode_row_exists(bnum));
	ck_assert_int_eq(orphans(), 0);
}
END_TEST

START_TEST(test_rename_exchange_and_loops)
{
	struct tfs_inode *file, *dir, *sub, *x, *y;
	struct stat st, root0, root1;
	uint8_t data[50];

	fill_random(data, sizeof(data));
	ck_assert_int_eq(fs_getattr(f, fs_root(f), &root0), 0);
	file = new_file(fs_root(f), "x", data, sizeof(data));
	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), "y", 0755, &dir,
				  &st), 0);
	put(new_file(dir, "child", data, 10));
	ck_assert_int_eq(fs_rename(f, fs_root(f), "x", fs_root(f), "y",
				   FS_RENAME_EXCHANGE), 0);
	x = lookup(fs_root(f), "x");
	y = lookup(fs_root(f), "y");
	ck_assert_ptr_eq(x, dir);
	ck_assert_ptr_eq(y, file);
	ck_assert_int_eq(fs_getattr(f, x, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	expect_content(y, data, sizeof(data));
	put(lookup(x, "child"));
	put(x);
	put(y);

	/* Plain rename of a file over a dir and back: type errors. */
	ck_assert_int_eq(fs_rename(f, fs_root(f), "y", fs_root(f), "x", 0),
			 -EISDIR);
	ck_assert_int_eq(fs_rename(f, fs_root(f), "x", fs_root(f), "y", 0),
			 -ENOTDIR);

	/* A directory into its own subdirectory. */
	ck_assert_int_eq(fs_mkdir(f, &caller, dir, "sub", 0755, &sub, &st), 0);
	ck_assert_int_eq(fs_rename(f, fs_root(f), "x", sub, "z", 0), -EINVAL);
	ck_assert_int_eq(fs_rename(f, fs_root(f), "x", dir, "z", 0), -EINVAL);
	/* And with EXCHANGE (the other dir is the ancestor). */
	ck_assert_int_eq(fs_rename(f, dir, "sub", fs_root(f), "x",
				   FS_RENAME_EXCHANGE), -EINVAL);
	/* A move between dirs adjusts the parents' link counts. */
	ck_assert_int_eq(fs_getattr(f, fs_root(f), &st), 0);
	ck_assert_uint_eq(st.st_nlink, root0.st_nlink + 1);
	ck_assert_int_eq(fs_rename(f, dir, "sub", fs_root(f), "sub2", 0), 0);
	ck_assert_int_eq(fs_getattr(f, fs_root(f), &root1), 0);
	ck_assert_uint_eq(root1.st_nlink, root0.st_nlink + 2);
	ck_assert_int_eq(fs_getattr(f, dir, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	put(sub);
	put(dir);
	put(file);
	remount();
	x = lookup(fs_root(f), "x");
	put(lookup(x, "child"));
	ck_assert_int_eq(fs_getattr(f, x, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	put(x);
	put(lookup(fs_root(f), "sub2"));
	ck_assert_int_eq(fs_getattr(f, fs_root(f), &st), 0);
	ck_assert_uint_eq(st.st_nlink, root0.st_nlink + 2);
}
END_TEST

START_TEST(test_rmdir_and_links)
{
	struct tfs_inode *d, *ino, *x;
	struct stat st;
	uint8_t data[300];

	fill_random(data, sizeof(data));
	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), "d", 0755, &d, &st),
			 0);
	ino = new_file(d, "f", data, sizeof(data));
	/* A second create of an existing name fails whole (no inode row is
	 * left behind) and leaves the entry and the parent as they were. */
	{
		struct tfs_inode *dup = NULL;
		struct stat before, after;
		uint64_t files0, files1, bytes;

		ck_assert_int_eq(fs_getattr(f, d, &before), 0);
		ck_assert_int_eq(meta_inode_count(f->meta, &files0, &bytes), 0);
		ck_assert_int_eq(fs_mknod(f, &caller, d, "f", S_IFREG | 0600, 0,
					  &dup, &st), -EEXIST);
		ck_assert_int_eq(fs_mkdir(f, &caller, d, "f", 0755, &dup, &st),
				 -EEXIST);
		ck_assert_int_eq(meta_inode_count(f->meta, &files1, &bytes), 0);
		ck_assert_uint_eq(files1, files0);
		ck_assert_int_eq(fs_getattr(f, d, &after), 0);
		ck_assert_uint_eq(after.st_nlink, before.st_nlink);
		ck_assert_uint_eq(after.st_size, before.st_size);
		x = lookup(d, "f");
		ck_assert_ptr_eq(x, ino);
		put(x);
	}
	ck_assert_int_eq(fs_rmdir(f, fs_root(f), "d"), -ENOTEMPTY);
	ck_assert_int_eq(fs_unlink(f, fs_root(f), "d"), -EISDIR);
	ck_assert_int_eq(fs_rmdir(f, d, "f"), -ENOTDIR);

	/* Hard links. */
	ck_assert_int_eq(fs_link(f, ino, fs_root(f), "l1", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(fs_link(f, ino, fs_root(f), "l2", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 3);
	ck_assert_int_eq(fs_link(f, ino, fs_root(f), "l2", &st), -EEXIST);
	ck_assert_int_eq(fs_link(f, d, fs_root(f), "dl", &st), -EPERM);
	ck_assert_int_eq(fs_unlink(f, d, "f"), 0);
	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(fs_rmdir(f, fs_root(f), "d"), 0);
	ck_assert_int_eq(fs_lookup(f, fs_root(f), "d", &x, &st), -ENOENT);
	/* Renaming one link over another of the same inode: nothing. */
	ck_assert_int_eq(fs_rename(f, fs_root(f), "l1", fs_root(f), "l2", 0),
			 0);
	put(lookup(fs_root(f), "l1"));
	ck_assert_int_eq(fs_unlink(f, fs_root(f), "l2"), 0);
	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 1);
	put(ino);
	put(d);   /* fs_link took three nlookups on ino; two still held */
	fs_forget(f, ino, 2);
	remount();
	ino = lookup(fs_root(f), "l1");
	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 1);
	expect_content(ino, data, sizeof(data));
	put(ino);
	ck_assert_int_eq(fs_lookup(f, fs_root(f), "l2", &x, &st), -ENOENT);
	ck_assert_int_eq(orphans(), 0);
}
END_TEST

START_TEST(test_unlink_while_open)
{
	const size_t len = 3 * CH + 100;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino;
	struct fs_file *fh = NULL;
	struct meta_extent *ext = NULL;
	struct stat st;
	size_t n = 99;
	uint64_t num;

	ck_assert_int_eq(fs_create(f, &caller, fs_root(f), "u", 0644, O_RDWR,
				   &ino, &st, &fh), 0);
	num = ino->ino;
	write_at(ino, data, len, 0);
	ck_assert_int_eq(fs_flush(f, ino), 0);   /* has warm records now */
	ck_assert_int_eq(fs_unlink(f, fs_root(f), "u"), 0);
	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 0);
	/* Still readable and writable through the inode. */
	expect_content(ino, data, len);
	write_at(ino, "hello", 5, 10);
	memcpy(data + 10, "hello", 5);
	expect_content(ino, data, len);
	ck_assert_int_eq(fs_flush(f, ino), 0);
	set_tier(ino, TFS_WARM);
	expect_content(ino, data, len);
	ck_assert(inode_row_exists(num));
	ck_assert_int_eq(orphans(), 1);
	ck_assert_int_eq(fs_release(f, ino, fh), 0);
	ck_assert(inode_row_exists(num));        /* nlookup still held */
	put(ino);
	ck_assert(!inode_row_exists(num));
	ck_assert_int_eq(meta_extent_list(f->meta, num, &ext, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(ext);
	ck_assert_int_eq(orphans(), 0);
	remount();
	ck_assert(!inode_row_exists(num));
	ck_assert_int_eq(orphans(), 0);
	free(data);
}
END_TEST

/* A hot file nobody references stays loaded (its RAM); unlinking it
 * frees the RAM and deletes its rows at once. */
START_TEST(test_unlink_hot_unreferenced)
{
	const size_t len = 100000;
	uint8_t *data = random_buf(len);
	uint64_t before = atomic_load(&f->hot.bytes), num;
	struct tfs_inode *ino = new_file(fs_root(f), "h", data, len);

	num = ino->ino;
	put(ino);       /* nlookup 0: kept for its RAM */
	ck_assert_uint_ge(atomic_load(&f->hot.bytes), before + len);
	ck_assert_int_eq(fs_unlink(f, fs_root(f), "h"), 0);
	ck_assert(!inode_row_exists(num));
	ck_assert_uint_eq(atomic_load(&f->hot.bytes), before);
	ck_assert_int_eq(orphans(), 0);
	free(data);
}
END_TEST

/* A file unlinked while open when the daemon stops is gone after the
 * remount (not an orphan that survives). */
START_TEST(test_unlink_open_at_unmount)
{
	struct tfs_inode *ino;
	struct fs_file *fh = NULL;
	struct stat st;
	uint64_t num;

	ck_assert_int_eq(fs_create(f, &caller, fs_root(f), "u2", 0644, O_RDWR,
				   &ino, &st, &fh), 0);
	num = ino->ino;
	write_at(ino, "data", 4, 0);
	ck_assert_int_eq(fs_unlink(f, fs_root(f), "u2"), 0);
	remount();
	ck_assert(!inode_row_exists(num));
	ck_assert_int_eq(orphans(), 0);
}
END_TEST

START_TEST(test_names)
{
	char name[300];
	struct tfs_inode *ino, *d, *t;
	struct fs_file *fh = NULL;
	struct stat st;

	memset(name, 'n', 256);
	name[256] = 0;
	ck_assert_int_eq(fs_create(f, &caller, fs_root(f), name, 0644, O_RDWR,
				   &ino, &st, &fh), -ENAMETOOLONG);
	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), name, 0755, &ino,
				  &st), -ENAMETOOLONG);
	ck_assert_int_eq(fs_lookup(f, fs_root(f), name, &ino, &st),
			 -ENAMETOOLONG);
	ck_assert_int_eq(fs_unlink(f, fs_root(f), name), -ENAMETOOLONG);
	ck_assert_int_eq(fs_symlink(f, &caller, fs_root(f), name, "t", &ino,
				    &st), -ENAMETOOLONG);
	/* 255 bytes is fine. */
	name[255] = 0;
	put(new_file(fs_root(f), name, "x", 1));
	memset(name, 'm', 256);
	name[256] = 0;
	{
		char ok[256];

		memset(ok, 'n', 255);
		ok[255] = 0;
		ck_assert_int_eq(fs_rename(f, fs_root(f), ok, fs_root(f), name,
					   0), -ENAMETOOLONG);
		ino = lookup(fs_root(f), ok);
		ck_assert_int_eq(fs_link(f, ino, fs_root(f), name, &st),
				 -ENAMETOOLONG);
		put(ino);
	}

	/* .tiers is reserved at the root only. */
	ck_assert_int_eq(fs_create(f, &caller, fs_root(f), ".tiers", 0644,
				   O_RDWR, &ino, &st, &fh), -EEXIST);
	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), ".tiers", 0755, &ino,
				  &st), -EEXIST);
	t = lookup(fs_root(f), ".tiers");
	ck_assert_int_eq(fs_getattr(f, t, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	put(lookup(t, "stats"));
	ck_assert_int_eq(fs_unlink(f, fs_root(f), ".tiers"), -EPERM);
	ck_assert_int_eq(fs_rmdir(f, fs_root(f), ".tiers"), -EPERM);
	put(t);
	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), "sub", 0755, &d,
				  &st), 0);
	put(new_file(d, ".tiers", "y", 1));
	put(d);
	/* . and .. */
	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), ".", 0755, &ino,
				  &st), -EEXIST);
	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), "", 0755, &ino,
				  &st), -EINVAL);
	/* Symlinks round-trip. */
	ck_assert_int_eq(fs_symlink(f, &caller, fs_root(f), "ln", "sub/.tiers",
				    &ino, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_uint_eq(st.st_size, 10);
	put(ino);
	remount();
	ino = lookup(fs_root(f), "ln");
	ck_assert_int_eq(fs_readlink(f, ino, name, sizeof(name)), 10);
	ck_assert_str_eq(name, "sub/.tiers");
	put(ino);
}
END_TEST

/* ---- xattrs ---- */

static int getx(struct tfs_inode *ino, const char *name, char *buf,
		size_t size)
{
	int n = fs_getxattr(f, ino, name, buf, size);

	if (n >= 0 && (size_t)n < size)
		buf[n] = 0;
	return n;
}

static bool list_has(const char *list, int n, const char *name)
{
	for (int i = 0; i < n; i += (int)strlen(list + i) + 1)
		if (!strcmp(list + i, name))
			return true;
	return false;
}

START_TEST(test_xattr_user)
{
	struct tfs_inode *ino = new_file(fs_root(f), "x", "abc", 3);
	char buf[512], list[1024];
	int n;

	ck_assert_int_eq(fs_getxattr(f, ino, "user.model", buf, sizeof(buf)),
			 -ENODATA);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.model", "bge-m3", 6, 0), 0);
	ck_assert_int_eq(fs_getxattr(f, ino, "user.model", NULL, 0), 6);
	ck_assert_int_eq(getx(ino, "user.model", buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "bge-m3");
	ck_assert_int_eq(fs_getxattr(f, ino, "user.model", buf, 3), -ERANGE);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.model", "e5", 2,
				     XATTR_CREATE), -EEXIST);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.dim", "1024", 4,
				     XATTR_REPLACE), -ENODATA);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.model", "e5", 2,
				     XATTR_REPLACE), 0);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.dim", "1024", 4,
				     XATTR_CREATE), 0);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.empty", "", 0, 0), 0);
	ck_assert_int_eq(getx(ino, "user.empty", buf, sizeof(buf)), 0);
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_access", "x",
				     1, 0), -EOPNOTSUPP);

	n = fs_listxattr(f, ino, NULL, 0);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(fs_listxattr(f, ino, list, (size_t)n), n);
	ck_assert_int_eq(fs_listxattr(f, ino, list, (size_t)n - 1), -ERANGE);
	ck_assert(list_has(list, n, "user.model"));
	ck_assert(list_has(list, n, "user.dim"));
	ck_assert(list_has(list, n, "user.empty"));
	/* Synthetic names are readable by name but unlisted by default. */
	ck_assert(!list_has(list, n, "user.tierfs.tier"));
	ck_assert(!list_has(list, n, "user.tierfs.pin"));
	ck_assert_int_eq(getx(ino, "user.tierfs.tier", buf, sizeof(buf)), 3);

	ck_assert_int_eq(fs_removexattr(f, ino, "user.dim"), 0);
	ck_assert_int_eq(fs_removexattr(f, ino, "user.dim"), -ENODATA);
	ck_assert_int_eq(fs_getxattr(f, ino, "user.dim", buf, sizeof(buf)),
			 -ENODATA);
	n = fs_listxattr(f, ino, list, sizeof(list));
	ck_assert(!list_has(list, n, "user.dim"));
	put(ino);

	remount();
	ino = lookup(fs_root(f), "x");
	ck_assert_int_eq(getx(ino, "user.model", buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "e5");
	ck_assert_int_eq(fs_getxattr(f, ino, "user.dim", buf, sizeof(buf)),
			 -ENODATA);
	put(ino);

	/* list_tier_xattrs lists them. */
	cfg.list_tier_xattrs = true;
	remount();
	ino = lookup(fs_root(f), "x");
	n = fs_listxattr(f, ino, list, sizeof(list));
	ck_assert_int_gt(n, 0);
	ck_assert(list_has(list, n, "user.model"));
	ck_assert(list_has(list, n, "user.tierfs.tier"));
	ck_assert(list_has(list, n, "user.tierfs.reason"));
	put(ino);
}
END_TEST

START_TEST(test_xattr_tier)
{
	const size_t len = 200000;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "t", data, len);
	char buf[128];

	ck_assert_int_eq(getx(ino, "user.tierfs.tier", buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "hot");
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.tier", "warm", 4, 0),
			 0);
	ck_assert_int_eq(getx(ino, "user.tierfs.tier", buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "warm");
	ck_assert(!ino->resident);
	for (int i = 0; i < 4; i++) {
		static const char *const bad[] = { "bogus", "", "war", "hot\n" };

		ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.tier", bad[i],
					     strlen(bad[i]), 0), -EINVAL);
	}
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.tier", "cold", 4, 0),
			 0);
	ck_assert_int_eq(getx(ino, "user.tierfs.tier", buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "cold");
	expect_content(ino, data, len);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.tier", "hot", 3, 0),
			 0);
	ck_assert_str_eq((getx(ino, "user.tierfs.tier", buf, sizeof(buf)),
			  buf), "hot");
	ck_assert(ino->resident);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.nosuch", "x", 1, 0),
			 -EINVAL);
	ck_assert_int_eq(fs_getxattr(f, ino, "user.tierfs.nosuch", buf,
				     sizeof(buf)), -ENODATA);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.tier", "warm", 4,
				     XATTR_CREATE), -EEXIST);
	expect_content(ino, data, len);
	put(ino);
	free(data);
}
END_TEST

START_TEST(test_xattr_pin)
{
	const size_t len = 200000;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "t", data, len);
	char buf[128], list[1024];
	int n;

	ck_assert_str_eq((getx(ino, "user.tierfs.pin", buf, sizeof(buf)), buf),
			 "none");
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.pin", "sideways", 8,
				     0), -EINVAL);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.pin", "cold", 4, 0),
			 0);
	ck_assert_str_eq((getx(ino, "user.tierfs.pin", buf, sizeof(buf)), buf),
			 "cold");
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_COLD);   /* moved now */
	expect_content(ino, data, len);
	put(ino);
	remount();
	ino = lookup(fs_root(f), "t");
	ck_assert_str_eq((getx(ino, "user.tierfs.pin", buf, sizeof(buf)), buf),
			 "cold");
	ck_assert_str_eq((getx(ino, "user.tierfs.tier", buf, sizeof(buf)), buf),
			 "cold");
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.pin", "none", 4, 0),
			 0);
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_COLD);   /* unpin: stays */
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.pin", "warm", 4, 0),
			 0);
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_WARM);
	ck_assert_int_eq(fs_removexattr(f, ino, "user.tierfs.pin"), 0);
	ck_assert_str_eq((getx(ino, "user.tierfs.pin", buf, sizeof(buf)), buf),
			 "none");
	/* Removing the tier (rsync -X does) succeeds and moves nothing. */
	ck_assert_int_eq(fs_removexattr(f, ino, "user.tierfs.tier"), 0);
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_WARM);

	/* Read-only facts: a set is accepted and ignored. */
	n = getx(ino, "user.tierfs.stored", buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_uint_ge(strtoull(buf, NULL, 10), len); /* random: raw */
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.stored", "1", 1, 0),
			 0);
	ck_assert_int_eq(fs_setxattr(f, ino, "user.tierfs.ratio", "9.99", 4, 0),
			 0);
	ck_assert_int_eq(getx(ino, "user.tierfs.stored", list, sizeof(list)),
			 n);
	ck_assert_str_eq(list, buf);
	ck_assert_int_eq(getx(ino, "user.tierfs.ratio", buf, sizeof(buf)) > 0,
			 1);
	ck_assert_str_ne(buf, "9.99");
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_WARM);
	expect_content(ino, data, len);

	/* The list names the user's own attributes only. */
	ck_assert_int_eq(fs_setxattr(f, ino, "user.a", "1", 1, 0), 0);
	n = fs_listxattr(f, ino, list, sizeof(list));
	ck_assert_int_gt(n, 0);
	ck_assert(!list_has(list, n, "user.tierfs.tier"));
	ck_assert(list_has(list, n, "user.a"));
	put(ino);
	free(data);
}
END_TEST

START_TEST(test_xattr_dir)
{
	struct tfs_inode *d, *a;
	struct stat st;
	char buf[64];

	ck_assert_int_eq(fs_mkdir(f, &caller, fs_root(f), "d", 0755, &d, &st),
			 0);
	a = new_file(d, "a", "hello", 5);
	ck_assert_int_eq(fs_setxattr(f, d, "user.note", "n", 1, 0), 0);
	ck_assert_int_eq(getx(d, "user.note", buf, sizeof(buf)), 1);
	/* Setting tier on a directory moves what is below it. */
	ck_assert_int_eq(fs_setxattr(f, d, "user.tierfs.tier", "warm", 4, 0),
			 0);
	ck_assert_int_eq(fs_get_tier(f, a), TFS_WARM);
	ck_assert_int_eq(fs_setxattr(f, d, "user.tierfs.tier", "frozen", 6, 0),
			 -EINVAL);
	expect_content(a, (const uint8_t *)"hello", 5);
	put(a);
	put(d);
}
END_TEST

static Suite *fs_suite(void)
{
	Suite *s = suite_create("fs");
	TCase *tc;

	tc = fixture_tcase("data", setup);
	tcase_add_loop_test(tc, test_rw_edges, TFS_HOT, TFS_NTIERS);
	tcase_add_loop_test(tc, test_truncate_tail_zero, TFS_HOT, TFS_NTIERS);
	tcase_add_loop_test(tc, test_truncate_zero_and_grow, TFS_HOT,
			    TFS_NTIERS);
	tcase_add_loop_test(tc, test_open_trunc, TFS_HOT, TFS_NTIERS);
	tcase_add_test(tc, test_durability);
	tcase_add_test(tc, test_release_writes_back);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("namespace", setup);
	tcase_add_test(tc, test_rename_replace);
	tcase_add_test(tc, test_rename_exchange_and_loops);
	tcase_add_test(tc, test_rmdir_and_links);
	tcase_add_test(tc, test_unlink_while_open);
	tcase_add_test(tc, test_unlink_open_at_unmount);
	tcase_add_test(tc, test_unlink_hot_unreferenced);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("xattr", setup);
	tcase_add_test(tc, test_xattr_user);
	tcase_add_test(tc, test_xattr_tier);
	tcase_add_test(tc, test_xattr_pin);
	tcase_add_test(tc, test_xattr_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite("/tmp/tfs_fs_XXXXXX", fs_suite);
}
