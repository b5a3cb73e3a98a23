/*
 * test_fs_posix.c - the POSIX details of the filesystem core without FUSE:
 * fallocate punch/zero/grow with real holes in each tier (content, holes
 * found by SEEK_DATA/SEEK_HOLE, st_blocks, and the same after a remount),
 * POSIX ACLs (mode from an access ACL, chmod, default ACL inheritance,
 * bad input), directory sizes, ctime on attribute changes, and the set-id
 * bits and file capabilities a direct write clears (fs_write_kill_priv).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>

#include <check.h>

#include "fs.h"
#include "tierfs.h"

#define FS_TESTLIB_SEED 0x9e3779b97f4a7c15ull
#include "fs_testlib.h"

static void remount(void)
{
	fs_unmount(&f);
	do_mount();
}

static void setup(void)
{
	fixture_start();
	cfg.cache_size = 4 * MiB;
	do_mount();
}

static void expect_content(struct tfs_inode *ino, const uint8_t *want,
			   size_t len)
{
	uint8_t *got = malloc(len + 1);
	size_t pos = 0;

	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(size_of(ino), len);
	while (pos < len) {
		ssize_t n = fs_read(f, ino, NULL, got + pos, len - pos,
				    (off_t)pos);

		ck_assert_int_gt(n, 0);
		pos += (size_t)n;
	}
	ck_assert_int_eq(fs_read(f, ino, NULL, got, 1, (off_t)len), 0);
	if (memcmp(got, want, len)) {
		size_t i = 0;

		while (got[i] == want[i])
			i++;
		ck_abort_msg("byte %zu: %u, want %u", i, got[i], want[i]);
	}
	free(got);
}

static off_t seek(struct tfs_inode *ino, off_t off, int whence)
{
	off_t out = -1;
	int rc = fs_lseek(f, ino, off, whence, &out);

	return rc ? rc : out;
}

static uint64_t blocks_bytes(struct tfs_inode *ino)
{
	struct stat st;

	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* ---- holes ---- */

START_TEST(test_punch_each_tier)
{
	const size_t len = 16 * CH + 1000;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "p", data, len);
	uint64_t before;

	if (_i != TFS_HOT)
		ck_assert_int_eq(fs_set_tier(f, ino, _i), 0);
	before = blocks_bytes(ino);
	ck_assert_uint_eq(before, (len + 511) / 512 * 512);
	/* whole chunks 2..5, plus the partial edges of [2CH-100, 6CH+100) */
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, 2 * CH - 100,
				      4 * CH + 200), 0);
	memset(data + 2 * CH - 100, 0, 4 * CH + 200);
	/* zero a range inside one chunk, and one across a chunk border */
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_ZERO_RANGE |
				      FALLOC_FL_KEEP_SIZE, 9 * CH + 10, 100),
			 0);
	memset(data + 9 * CH + 10, 0, 100);
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_ZERO_RANGE,
				      11 * CH - 50, 100), 0);
	memset(data + 11 * CH - 50, 0, 100);
	expect_content(ino, data, len);
	ck_assert_int_eq(seek(ino, 0, SEEK_HOLE), 2 * CH);
	ck_assert_int_eq(seek(ino, 2 * CH, SEEK_DATA), 6 * CH);
	ck_assert_int_eq(seek(ino, 3 * CH, SEEK_HOLE), 3 * CH);
	ck_assert_int_eq(seek(ino, 6 * CH, SEEK_HOLE), (off_t)len);
	ck_assert_int_eq(seek(ino, (off_t)len, SEEK_DATA), -ENXIO);
	ck_assert_uint_le(blocks_bytes(ino), before - 4 * CH);
	/* punching past the end changes nothing */
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, (off_t)len, CH), 0);
	ck_assert_uint_eq(size_of(ino), len);
	put(ino);

	remount();
	ino = lookup(fs_root(f), "p");
	expect_content(ino, data, len);
	ck_assert_int_eq(seek(ino, 0, SEEK_HOLE), 2 * CH);
	ck_assert_int_eq(seek(ino, 2 * CH, SEEK_DATA), 6 * CH);
	put(ino);
	free(data);
}
END_TEST

START_TEST(test_punch_cold_tail)
{
	const size_t len = 8 * CH;
	uint8_t *data = random_buf(len);
	struct tfs_inode *ino = new_file(fs_root(f), "c", data, len);

	ck_assert_int_eq(fs_set_tier(f, ino, TFS_COLD), 0);
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE, 5 * CH, 3 * CH), 0);
	memset(data + 5 * CH, 0, 3 * CH);
	ck_assert_int_eq(fs_get_tier(f, ino), TFS_COLD);
	expect_content(ino, data, len);
	ck_assert_int_eq(seek(ino, 0, SEEK_HOLE), 5 * CH);
	ck_assert_uint_eq(blocks_bytes(ino), 5 * CH);
	put(ino);
	remount();
	ino = lookup(fs_root(f), "c");
	ck_assert_uint_eq(blocks_bytes(ino), 5 * CH);
	expect_content(ino, data, len);
	put(ino);
	free(data);
}
END_TEST

START_TEST(test_fallocate_modes)
{
	uint8_t data[100];
	struct tfs_inode *ino, *d;

	memset(data, 7, sizeof(data));
	ino = new_file(fs_root(f), "g", data, sizeof(data));
	ck_assert_int_eq(fs_fallocate(f, ino, 0, 0, 10 * CH), 0);
	ck_assert_uint_eq(size_of(ino), 10 * CH);
	ck_assert_uint_le(blocks_bytes(ino), CH);     /* nothing reserved */
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_KEEP_SIZE, 0,
				      20 * CH), 0);
	ck_assert_uint_eq(size_of(ino), 10 * CH);
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_COLLAPSE_RANGE, 0, CH),
			 -EOPNOTSUPP);
	ck_assert_int_eq(fs_fallocate(f, ino, FALLOC_FL_PUNCH_HOLE, 0, CH),
			 -EOPNOTSUPP);          /* needs KEEP_SIZE */
	ck_assert_int_eq(fs_fallocate(f, ino, 0, -1, CH), -EINVAL);
	ck_assert_int_eq(fs_fallocate(f, ino, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(fs_fallocate(f, ino, 0, 0, INT64_MAX), -EFBIG);
	ck_assert_int_eq(fs_fallocate(f, ino, 0, 0, (off_t)1 << 45), -ENOSPC);
	ck_assert_uint_eq(size_of(ino), 10 * CH);
	put(ino);
	d = new_dir(fs_root(f), "dir");
	ck_assert_int_eq(fs_fallocate(f, d, 0, 0, CH), -EISDIR);
	ck_assert_int_eq(seek(d, 0, SEEK_DATA), -EINVAL);
	put(d);
}
END_TEST

/* ---- ACLs ---- */

/* An ACL in the kernel's xattr format from (tag, perm, id) triples. */
static size_t make_acl(uint8_t *buf, const uint32_t (*e)[3], size_t n)
{
	buf[0] = 2;
	buf[1] = buf[2] = buf[3] = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + 4 + 8 * i;

		p[0] = (uint8_t)e[i][0];
		p[1] = (uint8_t)(e[i][0] >> 8);
		p[2] = (uint8_t)e[i][1];
		p[3] = 0;
		memcpy(p + 4, &e[i][2], 4);     /* little endian host */
	}
	return 4 + 8 * n;
}

static mode_t mode_of(struct tfs_inode *ino)
{
	struct stat st;

	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	return st.st_mode & 07777;
}

START_TEST(test_acl)
{
	static const uint32_t ext[][3] = {
		{ 0x01, 6, 0 }, { 0x02, 4, 1000 }, { 0x04, 4, 0 },
		{ 0x10, 6, 0 }, { 0x20, 0, 0 },
	};
	static const uint32_t base[][3] = {
		{ 0x01, 7, 0 }, { 0x04, 5, 0 }, { 0x20, 1, 0 },
	};
	static const uint32_t nomask[][3] = {
		{ 0x01, 7, 0 }, { 0x02, 4, 1000 }, { 0x04, 5, 0 },
		{ 0x20, 1, 0 },
	};
	uint8_t acl[128], got[128];
	struct tfs_inode *ino, *d, *child, *sub;
	struct stat in = { 0 }, st;
	size_t n;

	ino = new_file(fs_root(f), "a", "x", 1);
	n = make_acl(acl, ext, 5);
	/* ACLs off: system.* is not supported */
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_access", acl,
				     n, 0), -EOPNOTSUPP);
	fs_set_acl(f, true);
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_access", acl,
				     n, 0), 0);
	ck_assert_uint_eq(mode_of(ino), 0660);  /* group bits = mask */
	ck_assert_int_eq(fs_getxattr(f, ino, "system.posix_acl_access", got,
				     sizeof(got)), (int)n);
	ck_assert_mem_eq(got, acl, n);
	/* chmod rewrites the base entries: mask r--, other r-x */
	in.st_mode = 0645;
	ck_assert_int_eq(fs_setattr(f, ino, &in, FS_SET_MODE, &st), 0);
	ck_assert_int_eq(fs_getxattr(f, ino, "system.posix_acl_access", got,
				     sizeof(got)), (int)n);
	ck_assert_uint_eq(got[4 + 8 * 3 + 2], 4);       /* mask */
	ck_assert_uint_eq(got[4 + 8 * 4 + 2], 5);       /* other */
	ck_assert_uint_eq(got[4 + 8 * 1 + 2], 4);       /* named: kept */
	/* a three-entry ACL is the mode: not stored */
	n = make_acl(acl, base, 3);
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_access", acl,
				     n, 0), 0);
	ck_assert_uint_eq(mode_of(ino), 0751);
	ck_assert_int_eq(fs_getxattr(f, ino, "system.posix_acl_access", got,
				     sizeof(got)), -ENODATA);
	/* bad input: named entry without a mask, bad version, truncated */
	n = make_acl(acl, nomask, 4);
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_access", acl,
				     n, 0), -EINVAL);
	acl[0] = 3;
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_access", acl,
				     n, 0), -EINVAL);
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_access", acl,
				     7, 0), -EINVAL);
	ck_assert_uint_eq(mode_of(ino), 0751);
	ck_assert_int_eq(fs_setxattr(f, ino, "system.other", "x", 1, 0),
			 -EOPNOTSUPP);
	/* a default ACL only on directories */
	n = make_acl(acl, ext, 5);
	ck_assert_int_eq(fs_setxattr(f, ino, "system.posix_acl_default", acl,
				     n, 0), -EACCES);

	/* inheritance: the mode asked for masks the default ACL, no umask */
	d = new_dir(fs_root(f), "d");
	ck_assert_int_eq(fs_setxattr(f, d, "system.posix_acl_default", acl, n,
				     0), 0);
	ck_assert_int_eq(fs_create(f, &caller, d, "c", 0666, O_RDWR, &child,
				   &st, &(struct fs_file *){ NULL }), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	ck_assert_int_eq(fs_getxattr(f, child, "system.posix_acl_access", got,
				     sizeof(got)), (int)n);
	ck_assert_int_eq(fs_getxattr(f, child, "system.posix_acl_default", got,
				     sizeof(got)), -ENODATA);
	ck_assert_int_eq(fs_mkdir(f, &caller, d, "s", 0750, &sub, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640); /* rw- & rwx, mask rw- & r-x */
	ck_assert_int_eq(fs_getxattr(f, sub, "system.posix_acl_default", got,
				     sizeof(got)), (int)n);
	put(sub);
	put(child);
	put(d);
	put(ino);

	remount();
	fs_set_acl(f, true);
	d = lookup(fs_root(f), "d");
	sub = lookup(d, "s");
	ck_assert_int_eq(fs_getxattr(f, sub, "system.posix_acl_access", got,
				     sizeof(got)), (int)n);
	ck_assert_uint_eq(mode_of(sub), 0640);
	put(sub);
	put(d);
}
END_TEST

/* ---- directory sizes and ctime ---- */

START_TEST(test_dir_size_and_ctime)
{
	struct tfs_inode *d, *x;
	struct stat st, st2;
	char name[16];

	d = new_dir(fs_root(f), "d");
	ck_assert_int_eq(fs_getattr(f, d, &st), 0);
	ck_assert_int_eq(st.st_size, 40);
	ck_assert_int_eq(st.st_blksize, 4096);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		put(new_file(d, name, "x", 1));
	}
	ck_assert_int_eq(fs_getattr(f, d, &st), 0);
	ck_assert_int_eq(st.st_size, 7 * 20);
	ck_assert_int_eq(fs_unlink(f, d, "f0"), 0);
	ck_assert_int_eq(fs_rename(f, d, "f1", fs_root(f), "moved", 0), 0);
	ck_assert_int_eq(fs_rename(f, d, "f2", d, "f3", 0), 0);
	ck_assert_int_eq(fs_getattr(f, d, &st), 0);
	ck_assert_int_eq(st.st_size, 4 * 20);

	x = lookup(d, "f3");
	ck_assert_int_eq(fs_getattr(f, x, &st), 0);
	usleep(20000);
	ck_assert_int_eq(fs_setxattr(f, x, "user.a", "1", 1, 0), 0);
	ck_assert_int_eq(fs_getattr(f, x, &st2), 0);
	ck_assert_int_gt(st2.st_ctim.tv_sec * 1000000000L + st2.st_ctim.tv_nsec,
			 st.st_ctim.tv_sec * 1000000000L + st.st_ctim.tv_nsec);
	usleep(20000);
	ck_assert_int_eq(fs_removexattr(f, x, "user.a"), 0);
	ck_assert_int_eq(fs_getattr(f, x, &st), 0);
	ck_assert_int_gt(st.st_ctim.tv_sec * 1000000000L + st.st_ctim.tv_nsec,
			 st2.st_ctim.tv_sec * 1000000000L + st2.st_ctim.tv_nsec);
	put(x);
	put(d);

	remount();
	d = lookup(fs_root(f), "d");
	ck_assert_int_eq(fs_getattr(f, d, &st), 0);
	ck_assert_int_eq(st.st_size, 4 * 20);
	put(d);
}
END_TEST

/* ---- set-id bits on a write the kernel did not clear them for ---- */

START_TEST(test_write_kill_priv)
{
	static const struct {
		mode_t mode;
		uid_t uid;
		gid_t gid;
		int ret;
		mode_t after;
	} cases[] = {
		{ 04755, 1000, 1000, 1, 0755 },  /* suid: always */
		{ 02775, 1000, 1000, 1, 0775 },  /* sgid, group-executable */
		{ 02764, 1000, 1000, 0, 02764 }, /* sgid, no g+x, in group */
		{ 02764, 1000, 2000, 1, 0764 },  /* sgid, no g+x, not in group */
		{ 06755, 1000, 1000, 1, 0755 },
		{ 06755, 0, 0, 0, 06755 },       /* root keeps them */
		{ 0755, 1000, 1000, 0, 0755 },
	};
	struct stat in;
	char name[16];

	memset(&in, 0, sizeof(in));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fs_caller c = { .uid = cases[i].uid,
					     .gid = cases[i].gid };
		struct tfs_inode *x;
		struct stat st;

		snprintf(name, sizeof(name), "s%zu", i);
		x = new_file(fs_root(f), name, "data", 4);
		in.st_mode = cases[i].mode;
		in.st_gid = 1000;
		ck_assert_int_eq(fs_setattr(f, x, &in, FS_SET_MODE | FS_SET_GID,
					    &st), 0);
		ck_assert_int_eq(mode_of(x), cases[i].mode);
		ck_assert_int_eq(fs_write_kill_priv(f, x, &c), cases[i].ret);
		ck_assert_msg(mode_of(x) == cases[i].after,
			      "case %zu: mode %o, want %o", i, mode_of(x),
			      cases[i].after);
		put(x);
	}
	/* File capabilities go whoever writes (root too), once. */
	for (int uid = 0; uid <= 1000; uid += 1000) {
		const struct fs_caller c = { .uid = (uid_t)uid, .gid = 0 };
		static const uint8_t cap[20] = { 1, 0, 0, 2, 1 };
		struct tfs_inode *x;
		char v[32];

		snprintf(name, sizeof(name), "cap%d", uid);
		x = new_file(fs_root(f), name, "data", 4);
		ck_assert_int_eq(fs_write_kill_priv(f, x, &c), 0);
		ck_assert_int_eq(fs_setxattr(f, x, "security.capability", cap,
					     sizeof(cap), 0), 0);
		ck_assert_int_eq(fs_getxattr(f, x, "security.capability", v,
					     sizeof(v)), (int)sizeof(cap));
		ck_assert_int_eq(fs_write_kill_priv(f, x, &c), 1);
		ck_assert_int_eq(fs_getxattr(f, x, "security.capability", v,
					     sizeof(v)), -ENODATA);
		ck_assert_int_eq(fs_write_kill_priv(f, x, &c), 0);
		put(x);
	}
	remount();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tfs_inode *x;

		snprintf(name, sizeof(name), "s%zu", i);
		x = lookup(fs_root(f), name);
		ck_assert_int_eq(mode_of(x), cases[i].after);
		put(x);
	}
	{
		struct tfs_inode *x = lookup(fs_root(f), "cap1000");
		char v[32];

		ck_assert_int_eq(fs_getxattr(f, x, "security.capability", v,
					     sizeof(v)), -ENODATA);
		put(x);
	}
}
END_TEST

static Suite *posix_suite(void)
{
	Suite *s = suite_create("fs_posix");
	TCase *tc = fixture_tcase("posix", setup);

	tcase_add_loop_test(tc, test_punch_each_tier, TFS_HOT, TFS_NTIERS);
	tcase_add_test(tc, test_punch_cold_tail);
	tcase_add_test(tc, test_fallocate_modes);
	tcase_add_test(tc, test_acl);
	tcase_add_test(tc, test_dir_size_and_ctime);
	tcase_add_test(tc, test_write_kill_priv);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite("/tmp/tfs_posix_XXXXXX", posix_suite);
}
