/* test_meta.c - unit tests for meta.c (the SQLite metadata store). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "meta.h"

static char tmpdir[64];
static char dbpath[128];
static struct meta *m;

static void setup(void)
{
	strcpy(tmpdir, "/tmp/test_meta.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/meta.db", tmpdir);
	ck_assert_int_eq(meta_open(&m, dbpath), 0);
	ck_assert_ptr_nonnull(m);
}

static void teardown(void)
{
	char path[384];
	struct dirent *de;
	DIR *d;

	meta_close(&m);
	ck_assert_ptr_null(m);
	d = opendir(tmpdir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

static void reopen(void)
{
	meta_close(&m);
	ck_assert_int_eq(meta_open(&m, dbpath), 0);
}

static struct meta_inode mk_inode(uint32_t mode, uint64_t size)
{
	struct meta_inode in = {
		.mode = mode, .uid = 1000, .gid = 100, .nlink = 1,
		.size = size, .atime = 111, .mtime = 222, .ctime = 333,
		.tier = TFS_WARM, .pin = TFS_PIN_NONE,
	};
	return in;
}

static uint64_t new_file(uint64_t size)
{
	struct meta_inode in = mk_inode(S_IFREG | 0644, size);

	ck_assert_int_eq(meta_inode_create(m, &in), 0);
	return in.ino;
}

static uint64_t seg_live(uint64_t id, uint64_t *len)
{
	struct meta_seg *s;
	uint64_t live = UINT64_MAX;
	size_t n, i;

	ck_assert_int_eq(meta_seg_list(m, &s, &n), 0);
	for (i = 0; i < n; i++)
		if (s[i].id == id) {
			live = s[i].live;
			if (len)
				*len = s[i].len;
		}
	free(s);
	return live;
}

static uint64_t arc_live(uint64_t id, struct meta_arc *out)
{
	struct meta_arc *a;
	uint64_t live = UINT64_MAX;
	size_t n, i;

	ck_assert_int_eq(meta_arc_list(m, &a, &n), 0);
	for (i = 0; i < n; i++)
		if (a[i].id == id) {
			live = a[i].live;
			if (out)
				*out = a[i];
		}
	free(a);
	return live;
}

START_TEST(test_root_and_reopen)
{
	struct meta_inode in;
	uint64_t ino, f;

	ck_assert_int_eq(meta_inode_get(m, TFS_ROOT_INO, &in), 0);
	ck_assert_uint_eq(in.ino, TFS_ROOT_INO);
	ck_assert_uint_eq(in.mode, S_IFDIR | 0755);
	ck_assert_uint_eq(in.uid, geteuid());
	ck_assert_uint_eq(in.gid, getegid());
	ck_assert_uint_eq(in.nlink, 2);
	ck_assert_int_eq(in.tier, TFS_WARM);
	ck_assert_int_eq(in.pin, TFS_PIN_NONE);
	ck_assert_int_gt(in.mtime, (tfs_ns)1600000000 * 1000000000);
	ck_assert_int_eq(in.atime, in.mtime);

	f = new_file(42);
	ck_assert_uint_gt(f, TFS_ROOT_INO);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "a", f), 0);
	ck_assert_int_eq(meta_sync(m), 0);
	reopen();
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "a", &ino), 0);
	ck_assert_uint_eq(ino, f);
	ck_assert_int_eq(meta_inode_get(m, f, &in), 0);
	ck_assert_uint_eq(in.size, 42);
	ck_assert_int_eq(meta_sync(m), 0);
	meta_close(NULL);
}
END_TEST

START_TEST(test_inode_crud)
{
	struct meta_inode in = mk_inode(S_IFREG | 0600, 5), out;

	in.rdev = 0x0801;
	in.access_count = 9;
	in.last_access = -5;    /* before the epoch: signed survives */
	in.pin = TFS_COLD;
	in.tier = TFS_HOT;
	in.size = (uint64_t)1 << 40;
	ck_assert_int_eq(meta_inode_create(m, &in), 0);
	ck_assert_int_eq(meta_inode_get(m, in.ino, &out), 0);
	ck_assert_mem_eq(&in, &out, sizeof(in));

	in.mode = S_IFREG | 0755;
	in.uid = 4000000000u;   /* above INT32_MAX */
	in.nlink = 3;
	in.mtime = 999;
	in.size = 7;
	in.tier = TFS_COLD;
	in.pin = TFS_PIN_NONE;
	ck_assert_int_eq(meta_inode_update(m, &in), 0);
	ck_assert_int_eq(meta_inode_get(m, in.ino, &out), 0);
	ck_assert_mem_eq(&in, &out, sizeof(in));

	ck_assert_int_eq(meta_inode_delete(m, in.ino), 0);
	ck_assert_int_eq(meta_inode_get(m, in.ino, &out), -ENOENT);
	ck_assert_int_eq(meta_inode_update(m, &in), -ENOENT);
	ck_assert_int_eq(meta_inode_delete(m, in.ino), -ENOENT);
	ck_assert_int_eq(meta_inode_get(m, 123456, &out), -ENOENT);
}
END_TEST

START_TEST(test_inode_delete_cascades)
{
	struct meta_extent e = { .chunk = 0, .seg = 3, .off = 0,
				 .rec_len = 100, .raw_len = 65536 };
	struct meta_cold c = { .archive = 8, .off = 0, .len = 50,
			       .orig_len = 60 };
	struct meta_extent *list;
	struct meta_cold cg;
	uint64_t a = new_file(1), b = new_file(1);
	char buf[64];
	size_t n;

	ck_assert_int_eq(meta_xattr_set(m, a, "user.x", "1", 1, 0), 0);
	ck_assert_int_eq(meta_xattr_set(m, b, "user.x", "2", 1, 0), 0);
	ck_assert_int_eq(meta_symlink_set(m, a, "target"), 0);
	ck_assert_int_eq(meta_extent_put(m, a, &e), 0);
	e.chunk = 1;
	ck_assert_int_eq(meta_extent_put(m, a, &e), 0);
	ck_assert_int_eq(meta_extent_put(m, b, &e), 0);
	ck_assert_int_eq(meta_cold_put(m, a, &c), 0);
	ck_assert_int_eq(meta_cold_put(m, b, &c), 0);
	ck_assert_uint_eq(seg_live(3, NULL), 300);
	ck_assert_uint_eq(arc_live(8, NULL), 120);

	ck_assert_int_eq(meta_inode_delete(m, a), 0);
	ck_assert_int_eq(meta_xattr_get(m, a, "user.x", buf, sizeof(buf)),
			 -ENODATA);
	ck_assert_int_eq(meta_xattr_list(m, a, NULL, 0), 0);
	ck_assert_int_eq(meta_symlink_get(m, a, buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(meta_extent_list(m, a, &list, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);
	ck_assert_int_eq(meta_cold_get(m, a, &cg), -ENOENT);
	ck_assert_uint_eq(seg_live(3, NULL), 100);
	ck_assert_uint_eq(arc_live(8, NULL), 60);
	/* b is untouched */
	ck_assert_int_eq(meta_xattr_get(m, b, "user.x", buf, sizeof(buf)), 1);
	ck_assert_int_eq(meta_cold_get(m, b, &cg), 0);
}
END_TEST

START_TEST(test_inode_numbers_never_reused)
{
	uint64_t a = new_file(0), b = new_file(0), c, d;

	ck_assert_uint_gt(b, a);
	ck_assert_int_eq(meta_inode_delete(m, b), 0);
	c = new_file(0);
	ck_assert_uint_gt(c, b);
	ck_assert_int_eq(meta_inode_delete(m, c), 0);
	reopen();
	d = new_file(0);
	ck_assert_uint_gt(d, c);
}
END_TEST

/* Numbers come from blocks reserved ahead (meta_inode.c): across block
 * ends, rolled-back reservations and reopens they still only grow. */
START_TEST(test_inode_numbers_blocks)
{
	uint64_t last = new_file(0), x;
	int i;

	for (i = 0; i < 2500; i++) {
		x = new_file(0);
		ck_assert_uint_eq(x, last + 1);  /* no gaps within a mount */
		last = x;
		if (i == 1200) {
			/* A group that created one and rolled back. */
			ck_assert_int_eq(meta_begin(m), 0);
			x = new_file(0);
			ck_assert_uint_gt(x, last);
			meta_rollback(m);
			x = new_file(0);
			ck_assert_uint_gt(x, last);
			last = x;
		}
	}
	/* The reservation is durable with the first create that made it. */
	reopen();
	x = new_file(0);
	ck_assert_uint_gt(x, last);
	ck_assert_int_eq(meta_inode_get(m, last, &(struct meta_inode){ 0 }), 0);
}
END_TEST

START_TEST(test_dentries)
{
	uint64_t f = new_file(0), g = new_file(0), ino;
	struct meta_inode din = mk_inode(S_IFDIR | 0755, 0);
	char longname[TFS_NAME_MAX + 2];
	const char *odd = "caf\xc3\xa9 \xff\x01 name";

	ck_assert_int_eq(meta_inode_create(m, &din), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "f", f), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "f", g), -EEXIST);
	ck_assert_int_eq(meta_dentry_add(m, din.ino, "f", g), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, odd, g), 0);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, odd, &ino), 0);
	ck_assert_uint_eq(ino, g);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "F", &ino),
			 -ENOENT);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "f", &ino), 0);
	ck_assert_uint_eq(ino, f);
	ck_assert_int_eq(meta_dentry_lookup(m, din.ino, "f", &ino), 0);
	ck_assert_uint_eq(ino, g);

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, longname, f),
			 -ENAMETOOLONG);
	longname[TFS_NAME_MAX] = '\0';
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, longname, f), 0);

	/* set */
	ck_assert_int_eq(meta_dentry_set(m, TFS_ROOT_INO, "f", g), 0);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "f", &ino), 0);
	ck_assert_uint_eq(ino, g);
	ck_assert_int_eq(meta_dentry_set(m, TFS_ROOT_INO, "nope", g), -ENOENT);

	/* move */
	ck_assert_int_eq(meta_dentry_move(m, TFS_ROOT_INO, "f", din.ino, "f"),
			 -EEXIST);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "f", &ino), 0);
	ck_assert_int_eq(meta_dentry_move(m, TFS_ROOT_INO, "f", din.ino, "h"),
			 0);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "f", &ino),
			 -ENOENT);
	ck_assert_int_eq(meta_dentry_lookup(m, din.ino, "h", &ino), 0);
	ck_assert_uint_eq(ino, g);
	ck_assert_int_eq(meta_dentry_move(m, din.ino, "h", din.ino, "h"), 0);
	ck_assert_int_eq(meta_dentry_move(m, TFS_ROOT_INO, "gone", din.ino,
					  "x"), -ENOENT);

	/* remove */
	ck_assert_int_eq(meta_dentry_remove(m, din.ino, "h"), 0);
	ck_assert_int_eq(meta_dentry_remove(m, din.ino, "h"), -ENOENT);
	ck_assert_int_eq(meta_dentry_lookup(m, din.ino, "h", &ino), -ENOENT);
}
END_TEST

START_TEST(test_dir_is_empty)
{
	struct meta_inode din = mk_inode(S_IFDIR | 0755, 0);
	uint64_t f = new_file(0);
	bool empty = false;

	ck_assert_int_eq(meta_inode_create(m, &din), 0);
	ck_assert_int_eq(meta_dir_is_empty(m, din.ino, &empty), 0);
	ck_assert(empty);
	ck_assert_int_eq(meta_dentry_add(m, din.ino, "x", f), 0);
	ck_assert_int_eq(meta_dir_is_empty(m, din.ino, &empty), 0);
	ck_assert(!empty);
	ck_assert_int_eq(meta_dir_is_empty(m, TFS_ROOT_INO, &empty), 0);
	ck_assert(empty);
	ck_assert_int_eq(meta_dentry_remove(m, din.ino, "x"), 0);
	ck_assert_int_eq(meta_dir_is_empty(m, din.ino, &empty), 0);
	ck_assert(empty);
}
END_TEST

struct listed {
	char names[8][TFS_NAME_MAX + 1];
	uint64_t inos[8];
	uint64_t sizes[8];
	int n;
	int stop_at;            /* return 77 after this many entries */
};

static int list_cb(void *ctx, const char *name, const struct meta_inode *in)
{
	struct listed *l = ctx;

	ck_assert_int_lt(l->n, 8);
	strcpy(l->names[l->n], name);
	l->inos[l->n] = in->ino;
	l->sizes[l->n] = in->size;
	l->n++;
	return l->n == l->stop_at ? 77 : 0;
}

START_TEST(test_dir_list)
{
	/* bytewise order: "B" (0x42) < "a" (0x61) < "ab" < "\xc3..." */
	const char *names[] = { "ab", "\xc3\xa9t\xc3\xa9", "B", "a" };
	const char *sorted[] = { "B", "a", "ab", "\xc3\xa9t\xc3\xa9" };
	uint64_t inos[4];
	struct listed l = { .stop_at = -1 };
	int i, j;

	for (i = 0; i < 4; i++) {
		inos[i] = new_file(100 + (uint64_t)i);
		ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, names[i],
						 inos[i]), 0);
	}
	ck_assert_int_eq(meta_dir_list(m, TFS_ROOT_INO, list_cb, &l), 0);
	ck_assert_int_eq(l.n, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_str_eq(l.names[i], sorted[i]);
		for (j = 0; j < 4; j++)
			if (!strcmp(names[j], sorted[i]))
				break;
		ck_assert_uint_eq(l.inos[i], inos[j]);
		ck_assert_uint_eq(l.sizes[i], 100 + (uint64_t)j);
	}
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	ck_assert_int_eq(meta_dir_list(m, TFS_ROOT_INO, list_cb, &l), 77);
	ck_assert_int_eq(l.n, 2);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(meta_dir_list(m, inos[0], list_cb, &l), 0);
	ck_assert_int_eq(l.n, 0);
	/* the lock was released after the early stop */
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "z", inos[0]), 0);
}
END_TEST

START_TEST(test_dentry_parent)
{
	struct meta_inode din = mk_inode(S_IFDIR | 0755, 0);
	char name[TFS_NAME_MAX + 1];
	uint64_t f = new_file(0), parent = 0;

	ck_assert_int_eq(meta_inode_create(m, &din), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "d", din.ino), 0);
	ck_assert_int_eq(meta_dentry_add(m, din.ino, "file", f), 0);
	ck_assert_int_eq(meta_dentry_parent(m, f, &parent, name), 0);
	ck_assert_uint_eq(parent, din.ino);
	ck_assert_str_eq(name, "file");
	ck_assert_int_eq(meta_dentry_parent(m, din.ino, &parent, name), 0);
	ck_assert_uint_eq(parent, TFS_ROOT_INO);
	ck_assert_str_eq(name, "d");
	ck_assert_int_eq(meta_dentry_parent(m, TFS_ROOT_INO, &parent, name),
			 -ENOENT);
	ck_assert_int_eq(meta_dentry_remove(m, din.ino, "file"), 0);
	ck_assert_int_eq(meta_dentry_parent(m, f, &parent, name), -ENOENT);
}
END_TEST

START_TEST(test_symlink)
{
	uint64_t s = new_file(0);
	char buf[16];

	ck_assert_int_eq(meta_symlink_get(m, s, buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(meta_symlink_set(m, s, "../some/target"), 0);
	memset(buf, 'Z', sizeof(buf));
	ck_assert_int_eq(meta_symlink_get(m, s, buf, sizeof(buf)), 14);
	ck_assert_str_eq(buf, "../some/target");
	ck_assert_int_eq(meta_symlink_get(m, s, buf, 5), 14);
	ck_assert_str_eq(buf, "../s");
	ck_assert_int_eq(meta_symlink_get(m, s, buf, 0), 14);
	ck_assert_int_eq(meta_symlink_set(m, s, "x"), 0);
	ck_assert_int_eq(meta_symlink_get(m, s, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "x");
}
END_TEST

START_TEST(test_xattr)
{
	uint64_t f = new_file(0), g = new_file(0);
	char buf[64], big[65537];
	const char bin[] = { 0, 1, 2, 0, (char)0xff };

	ck_assert_int_eq(meta_xattr_list(m, f, NULL, 0), 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", buf, sizeof(buf)),
			 -ENODATA);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", NULL, 0), -ENODATA);
	ck_assert_int_eq(meta_xattr_remove(m, f, "user.a"), -ENODATA);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.a", "v", 1, XATTR_REPLACE),
			 -ENODATA);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.a", "one", 3,
					XATTR_CREATE), 0);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.a", "two", 3,
					XATTR_CREATE), -EEXIST);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", buf, sizeof(buf)), 3);
	ck_assert_mem_eq(buf, "one", 3);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.a", "three", 5,
					XATTR_REPLACE), 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", NULL, 0), 5);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", buf, 4), -ERANGE);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", buf, 5), 5);
	ck_assert_mem_eq(buf, "three", 5);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.a", "4", 1, 0), 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", buf, sizeof(buf)), 1);
	ck_assert_mem_eq(buf, "4", 1);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.a", "x", 1,
					XATTR_CREATE | XATTR_REPLACE), -EEXIST);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.q", "x", 1,
					XATTR_CREATE | XATTR_REPLACE), -ENODATA);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.a", "x", 1, 0x100),
			 -EINVAL);

	/* binary and empty values */
	ck_assert_int_eq(meta_xattr_set(m, f, "user.bin", bin, sizeof(bin), 0),
			 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.bin", buf, sizeof(buf)),
			 (int)sizeof(bin));
	ck_assert_mem_eq(buf, bin, sizeof(bin));
	ck_assert_int_eq(meta_xattr_set(m, f, "user.empty", NULL, 0, 0), 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.empty", NULL, 0), 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.empty", buf, sizeof(buf)),
			 0);

	/* names */
	ck_assert_int_eq(meta_xattr_set(m, f, "", "x", 1, 0), -ERANGE);
	memset(big, 'n', 256);
	big[256] = '\0';
	ck_assert_int_eq(meta_xattr_set(m, f, big, "x", 1, 0), -ERANGE);
	memset(big, 'v', sizeof(big));
	ck_assert_int_eq(meta_xattr_set(m, f, "user.big", big, 65537, 0),
			 -E2BIG);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.big", big, 65536, 0), 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.big", NULL, 0), 65536);
	ck_assert_int_eq(meta_xattr_remove(m, f, "user.big"), 0);

	/* list: sorted, NUL-separated; per inode */
	ck_assert_int_eq(meta_xattr_set(m, g, "user.other", "x", 1, 0), 0);
	ck_assert_int_eq(meta_xattr_list(m, f, NULL, 0),
			 7 + 9 + 11);   /* user.a user.bin user.empty */
	ck_assert_int_eq(meta_xattr_list(m, f, buf, 26), -ERANGE);
	memset(buf, 'Z', sizeof(buf));
	ck_assert_int_eq(meta_xattr_list(m, f, buf, sizeof(buf)), 27);
	ck_assert_mem_eq(buf, "user.a\0user.bin\0user.empty\0", 27);
	ck_assert_int_eq(buf[27], 'Z');

	ck_assert_int_eq(meta_xattr_remove(m, f, "user.a"), 0);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.a", NULL, 0), -ENODATA);
	ck_assert_int_eq(meta_xattr_list(m, f, buf, sizeof(buf)), 20);
	ck_assert_int_eq(meta_xattr_list(m, g, buf, sizeof(buf)), 11);
	ck_assert_mem_eq(buf, "user.other\0", 11);
}
END_TEST

START_TEST(test_extents)
{
	struct meta_extent e = { .chunk = 0, .seg = 1, .off = 0,
				 .rec_len = 1000, .raw_len = 65536 };
	struct meta_extent got, *list, *el;
	uint64_t f = new_file(0), g = new_file(0), *inos, len;
	size_t n;

	ck_assert_int_eq(meta_extent_get(m, f, 0, &got), -ENOENT);
	/* extent first, segment row created by the trigger */
	ck_assert_int_eq(meta_extent_put(m, f, &e), 0);
	ck_assert_uint_eq(seg_live(1, &len), 1000);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(meta_seg_commit_len(m, 1, 5000), 0);
	ck_assert_uint_eq(seg_live(1, &len), 1000);
	ck_assert_uint_eq(len, 5000);
	ck_assert_int_eq(meta_seg_commit_len(m, 1, 3000), 0);  /* never lower */
	ck_assert_uint_eq(seg_live(1, &len), 1000);
	ck_assert_uint_eq(len, 5000);

	/* segment first */
	ck_assert_int_eq(meta_seg_commit_len(m, 2, 800), 0);
	ck_assert_uint_eq(seg_live(2, NULL), 0);

	e = (struct meta_extent){ 1, 1, 1000, 2000, 65536 };
	ck_assert_int_eq(meta_extent_put(m, f, &e), 0);
	e = (struct meta_extent){ 2, 1, 3000, 500, 100 };
	ck_assert_int_eq(meta_extent_put(m, f, &e), 0);
	e = (struct meta_extent){ 0, 1, 3500, 300, 300 };
	ck_assert_int_eq(meta_extent_put(m, g, &e), 0);
	ck_assert_uint_eq(seg_live(1, NULL), 3800);

	/* replace chunk 1 of f: moves from segment 1 to segment 2 */
	e = (struct meta_extent){ 1, 2, 0, 700, 65536 };
	ck_assert_int_eq(meta_extent_put(m, f, &e), 0);
	ck_assert_uint_eq(seg_live(1, NULL), 1800);
	ck_assert_uint_eq(seg_live(2, NULL), 700);
	ck_assert_int_eq(meta_extent_get(m, f, 1, &got), 0);
	ck_assert_mem_eq(&got, &e, sizeof(e));
	/* replace in place with a different length */
	e = (struct meta_extent){ 1, 2, 0, 650, 65000 };
	ck_assert_int_eq(meta_extent_put(m, f, &e), 0);
	ck_assert_uint_eq(seg_live(2, NULL), 650);

	ck_assert_int_eq(meta_extent_list(m, f, &list, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(list[0].chunk, 0);
	ck_assert_uint_eq(list[0].rec_len, 1000);
	ck_assert_uint_eq(list[1].chunk, 1);
	ck_assert_uint_eq(list[1].seg, 2);
	ck_assert_uint_eq(list[1].raw_len, 65000);
	ck_assert_uint_eq(list[2].chunk, 2);
	ck_assert_uint_eq(list[2].off, 3000);
	free(list);

	ck_assert_int_eq(meta_extent_list_seg(m, 1, &inos, &el, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(inos[0], f);
	ck_assert_uint_eq(el[0].off, 0);
	ck_assert_uint_eq(inos[1], f);
	ck_assert_uint_eq(el[1].off, 3000);
	ck_assert_uint_eq(el[1].chunk, 2);
	ck_assert_uint_eq(inos[2], g);
	ck_assert_uint_eq(el[2].off, 3500);
	free(inos);
	free(el);

	/* truncate f to one chunk */
	ck_assert_int_eq(meta_extent_truncate(m, f, 1), 0);
	ck_assert_uint_eq(seg_live(1, NULL), 1300);
	ck_assert_uint_eq(seg_live(2, NULL), 0);
	ck_assert_int_eq(meta_extent_get(m, f, 1, &got), -ENOENT);
	ck_assert_int_eq(meta_extent_get(m, f, 0, &got), 0);
	ck_assert_int_eq(meta_extent_truncate(m, f, UINT64_MAX), 0);
	ck_assert_int_eq(meta_extent_get(m, f, 0, &got), 0);
	ck_assert_int_eq(meta_extent_truncate(m, f, 0), 0);
	ck_assert_uint_eq(seg_live(1, NULL), 300);

	ck_assert_int_eq(meta_extent_list_seg(m, 2, &inos, &el, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(meta_seg_delete(m, 2), 0);
	ck_assert_uint_eq(seg_live(2, NULL), UINT64_MAX);
	ck_assert_uint_eq(seg_live(1, NULL), 300);
}
END_TEST

/* A rewrite's shadow extents (meta.h META_SHADOW): live in the catalog,
 * invisible under the file's number, swapped in by meta_extent_publish,
 * dropped by meta_extent_drop_shadows and with the inode. */
START_TEST(test_extent_shadows)
{
	struct meta_extent old = { 0, 20, 0, 100, 100 };
	struct meta_extent new0 = { 0, 21, 0, 70, 70 };
	struct meta_extent new1 = { 1, 21, 70, 30, 30 };
	struct meta_extent *el = NULL, got;
	uint64_t f = new_file(0), g = new_file(0), n64;
	size_t n;

	ck_assert_int_eq(meta_extent_put(m, f, &old), 0);
	ck_assert_int_eq(meta_extent_put(m, META_SHADOW(f), &new0), 0);
	ck_assert_int_eq(meta_extent_put(m, META_SHADOW(f), &new1), 0);
	ck_assert_uint_eq(seg_live(20, NULL), 100);
	ck_assert_uint_eq(seg_live(21, NULL), 100);
	ck_assert_int_eq(meta_extent_list(m, f, &el, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(el[0].seg, 20);
	free(el);

	ck_assert_int_eq(meta_extent_publish(m, f), 0);
	ck_assert_int_eq(meta_extent_list(m, f, &el, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(el[0].seg, 21);
	ck_assert_uint_eq(el[1].off, 70);
	free(el);
	ck_assert_int_eq(meta_extent_list(m, META_SHADOW(f), &el, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(el);
	ck_assert_uint_eq(seg_live(20, NULL), 0);
	ck_assert_uint_eq(seg_live(21, NULL), 100);

	/* recovery drops every shadow; the file keeps its extents */
	new0.seg = new1.seg = 22;
	ck_assert_int_eq(meta_extent_put(m, META_SHADOW(f), &new0), 0);
	ck_assert_int_eq(meta_extent_put(m, META_SHADOW(g), &new1), 0);
	ck_assert_uint_eq(seg_live(22, NULL), 100);
	ck_assert_int_eq(meta_extent_drop_shadows(m, &n64), 0);
	ck_assert_uint_eq(n64, 2);
	ck_assert_uint_eq(seg_live(22, NULL), 0);
	ck_assert_int_eq(meta_extent_get(m, f, 1, &got), 0);
	ck_assert_uint_eq(got.seg, 21);

	/* deleting the inode deletes its shadows */
	ck_assert_int_eq(meta_extent_put(m, META_SHADOW(g), &new1), 0);
	ck_assert_int_eq(meta_inode_delete(m, g), 0);
	ck_assert_uint_eq(seg_live(22, NULL), 0);
}
END_TEST

START_TEST(test_extent_seg_order_in_txn)
{
	struct meta_extent e = { 0, 10, 0, 400, 400 };
	uint64_t f = new_file(0), len;

	/* extent before the segment row, in one transaction */
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_extent_put(m, f, &e), 0);
	ck_assert_int_eq(meta_seg_commit_len(m, 10, 400), 0);
	ck_assert_int_eq(meta_commit(m), 0);
	ck_assert_uint_eq(seg_live(10, &len), 400);
	ck_assert_uint_eq(len, 400);
	/* segment row before the extent */
	e = (struct meta_extent){ 1, 11, 0, 250, 250 };
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_seg_commit_len(m, 11, 250), 0);
	ck_assert_int_eq(meta_extent_put(m, f, &e), 0);
	ck_assert_int_eq(meta_commit(m), 0);
	ck_assert_uint_eq(seg_live(11, &len), 250);
	ck_assert_uint_eq(len, 250);
}
END_TEST

START_TEST(test_cold)
{
	struct meta_cold c = { .archive = 4, .off = 0, .len = 1000,
			       .orig_len = 1000 }, got, *cl;
	struct meta_arc a = { .id = 4, .size = 300, .total = 1500, .live = 9 };
	struct meta_arc ga;
	uint64_t f = new_file(1000), g = new_file(500), *inos;
	size_t n;

	ck_assert_int_eq(meta_cold_get(m, f, &got), -ENOENT);
	ck_assert_int_eq(meta_arc_add(m, &a), 0);
	ck_assert_uint_eq(arc_live(4, &ga), 0);         /* live is ours */
	ck_assert_uint_eq(ga.size, 300);
	ck_assert_uint_eq(ga.total, 1500);
	ck_assert_int_eq(meta_cold_put(m, g, &(struct meta_cold){ 4, 1000,
							500, 500 }), 0);
	ck_assert_int_eq(meta_cold_put(m, f, &c), 0);
	ck_assert_uint_eq(arc_live(4, NULL), 1500);
	ck_assert_int_eq(meta_cold_get(m, f, &got), 0);
	ck_assert_mem_eq(&got, &c, sizeof(c));

	/* truncate-like update keeps orig_len */
	c.len = 10;
	ck_assert_int_eq(meta_cold_put(m, f, &c), 0);
	ck_assert_uint_eq(arc_live(4, NULL), 1500);
	ck_assert_int_eq(meta_cold_get(m, f, &got), 0);
	ck_assert_uint_eq(got.len, 10);

	/* re-adding the archive row keeps live */
	a.size = 320;
	ck_assert_int_eq(meta_arc_add(m, &a), 0);
	ck_assert_uint_eq(arc_live(4, &ga), 1500);
	ck_assert_uint_eq(ga.size, 320);

	ck_assert_int_eq(meta_cold_list_arc(m, 4, &inos, &cl, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(inos[0], f);
	ck_assert_uint_eq(cl[0].off, 0);
	ck_assert_uint_eq(inos[1], g);
	ck_assert_uint_eq(cl[1].off, 1000);
	ck_assert_uint_eq(cl[1].orig_len, 500);
	free(inos);
	free(cl);

	/* move f to another archive (cold extent put before arc_add) */
	ck_assert_int_eq(meta_cold_put(m, f, &(struct meta_cold){ 5, 0, 10,
							10 }), 0);
	ck_assert_uint_eq(arc_live(4, NULL), 500);
	ck_assert_uint_eq(arc_live(5, &ga), 10);
	ck_assert_uint_eq(ga.size, 0);

	ck_assert_int_eq(meta_cold_clear(m, g), 0);
	ck_assert_int_eq(meta_cold_get(m, g, &got), -ENOENT);
	ck_assert_uint_eq(arc_live(4, NULL), 0);
	ck_assert_int_eq(meta_cold_list_arc(m, 4, &inos, &cl, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(meta_arc_delete(m, 4), 0);
	ck_assert_uint_eq(arc_live(4, NULL), UINT64_MAX);
	ck_assert_uint_eq(arc_live(5, NULL), 10);
}
END_TEST

START_TEST(test_counters)
{
	uint64_t v;

	ck_assert_int_eq(meta_next_id(m, "seg", &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(meta_next_id(m, "seg", &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(meta_next_id(m, "arc", &v), 0);
	ck_assert_uint_eq(v, 1);
	reopen();
	ck_assert_int_eq(meta_next_id(m, "seg", &v), 0);
	ck_assert_uint_eq(v, 3);
	/* rolled back ids are handed out again: nothing used them */
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_next_id(m, "arc", &v), 0);
	ck_assert_uint_eq(v, 2);
	meta_rollback(m);
	ck_assert_int_eq(meta_next_id(m, "arc", &v), 0);
	ck_assert_uint_eq(v, 2);
}
END_TEST

START_TEST(test_txn)
{
	struct meta_inode in = mk_inode(S_IFREG | 0644, 0), out;
	uint64_t ino, f;

	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_inode_create(m, &in), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "rb", in.ino), 0);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "rb", &ino), 0);
	meta_rollback(m);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "rb", &ino),
			 -ENOENT);
	ck_assert_int_eq(meta_inode_get(m, in.ino, &out), -ENOENT);

	/* an error inside a group leaves the group usable */
	f = new_file(0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "x", f), 0);
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "x", f), -EEXIST);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "y", f), 0);
	ck_assert_int_eq(meta_commit(m), 0);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "y", &ino), 0);

	/* nesting: the inner group is a savepoint */
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "outer", f), 0);
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "inner", f), 0);
	meta_rollback(m);
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "inner2", f), 0);
	ck_assert_int_eq(meta_inode_delete(m, 999999), -ENOENT); /* nested */
	ck_assert_int_eq(meta_commit(m), 0);
	ck_assert_int_eq(meta_commit(m), 0);
	ck_assert_int_eq(meta_commit(m), -EINVAL);      /* unbalanced */
	reopen();
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "outer", &ino), 0);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "inner2", &ino),
			 0);
	ck_assert_int_eq(meta_dentry_lookup(m, TFS_ROOT_INO, "inner", &ino),
			 -ENOENT);

	/* a whole group rolled back, across tables and triggers */
	ck_assert_int_eq(meta_begin(m), 0);
	ck_assert_int_eq(meta_extent_put(m, f, &(struct meta_extent){ 0, 7,
							0, 90, 90 }), 0);
	ck_assert_int_eq(meta_xattr_set(m, f, "user.t", "v", 1, 0), 0);
	meta_rollback(m);
	ck_assert_uint_eq(seg_live(7, NULL), UINT64_MAX);
	ck_assert_int_eq(meta_xattr_get(m, f, "user.t", NULL, 0), -ENODATA);
}
END_TEST

static void orphan_cb(void *ctx, uint64_t ino)
{
	uint64_t *found = ctx;

	found[++found[0]] = ino;
}

struct scan {
	uint64_t n, bytes;
};

static void scan_cb(void *ctx, const struct meta_inode *in)
{
	struct scan *s = ctx;

	ck_assert(S_ISREG(in->mode));
	s->n++;
	s->bytes += in->size;
}

START_TEST(test_orphans_scan_count)
{
	struct meta_inode in = mk_inode(S_IFREG | 0644, 10);
	struct meta_inode dir = mk_inode(S_IFDIR | 0755, 4096);
	struct meta_inode lnk = mk_inode(S_IFLNK | 0777, 6);
	uint64_t found[8] = { 0 }, files, bytes, o1, o2;
	struct scan s = { 0, 0 };

	ck_assert_int_eq(meta_inode_create(m, &in), 0);     /* nlink 1 */
	in.nlink = 0;
	in.size = 20;
	ck_assert_int_eq(meta_inode_create(m, &in), 0);
	o1 = in.ino;
	ck_assert_int_eq(meta_inode_create(m, &dir), 0);
	ck_assert_int_eq(meta_inode_create(m, &lnk), 0);
	in.size = 30;
	ck_assert_int_eq(meta_inode_create(m, &in), 0);
	o2 = in.ino;

	ck_assert_int_eq(meta_inode_scan_orphans(m, orphan_cb, found), 0);
	ck_assert_uint_eq(found[0], 2);
	ck_assert((found[1] == o1 && found[2] == o2) ||
		  (found[1] == o2 && found[2] == o1));

	ck_assert_int_eq(meta_inode_scan(m, scan_cb, &s), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.bytes, 60);

	ck_assert_int_eq(meta_inode_count(m, &files, &bytes), 0);
	ck_assert_uint_eq(files, 6);    /* root, 3 files, dir, link */
	ck_assert_uint_eq(bytes, 60);
}
END_TEST

START_TEST(test_refuse_newer_schema)
{
	sqlite3 *db;

	meta_close(&m);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(meta_open(&m, dbpath), -EPROTO);
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_refuse_garbage)
{
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/junk.db", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 1000; i++)
		fputs("this is not a database ", f);
	fclose(f);
	meta_close(&m);
	ck_assert_int_eq(meta_open(&m, path), -EIO);
	ck_assert_ptr_null(m);
	snprintf(path, sizeof(path), "%s/no/such/dir/meta.db", tmpdir);
	ck_assert_int_eq(meta_open(&m, path), -EIO);
	ck_assert_ptr_null(m);
}
END_TEST

static int count_problem(void *ctx, const char *problem)
{
	ck_assert_ptr_nonnull(problem);
	(*(int *)ctx)++;
	return 0;
}

struct ro_seen {
	uint64_t dangling_parent, dangling_ino;
	char dangling_name[64];
	int ndangling;
	struct meta_links root, dir, file;
};

static int dangling_cb(void *ctx, uint64_t parent, const char *name,
		       uint64_t ino)
{
	struct ro_seen *s = ctx;

	s->dangling_parent = parent;
	s->dangling_ino = ino;
	snprintf(s->dangling_name, sizeof(s->dangling_name), "%s", name);
	s->ndangling++;
	return 0;
}

static uint64_t ro_dir_ino, ro_file_ino;

static int links_cb(void *ctx, const struct meta_links *l)
{
	struct ro_seen *s = ctx;

	if (l->ino == TFS_ROOT_INO)
		s->root = *l;
	else if (l->ino == ro_dir_ino)
		s->dir = *l;
	else if (l->ino == ro_file_ino)
		s->file = *l;
	return 0;
}

/* The checker's calls (meta_ro.c): integrity, dangling entries, link
 * facts, segment use, and the two catalog repairs. */
START_TEST(test_checker_calls)
{
	struct meta_inode d = mk_inode(S_IFDIR | 0755, 0);
	struct meta_extent e = { .chunk = 0, .seg = 7, .off = 64,
				 .rec_len = 100, .raw_len = 90 };
	struct ro_seen seen = { 0 };
	unsigned bad = 99;
	int calls = 0;
	uint64_t len;
	bool used = true;

	ck_assert_int_eq(meta_check(m, true, count_problem, &calls, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(meta_check(m, false, count_problem, &calls, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(calls, 0);

	d.nlink = 2;
	ck_assert_int_eq(meta_inode_create(m, &d), 0);
	ro_dir_ino = d.ino;
	ro_file_ino = new_file(100);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "d", d.ino), 0);
	ck_assert_int_eq(meta_dentry_add(m, d.ino, "f", ro_file_ino), 0);
	ck_assert_int_eq(meta_dentry_add(m, d.ino, "hl", ro_file_ino), 0);
	ck_assert_int_eq(meta_dentry_add(m, d.ino, "ghost", 999999), 0);

	ck_assert_int_eq(meta_ro_dangling(m, dangling_cb, &seen), 0);
	ck_assert_int_eq(seen.ndangling, 1);
	ck_assert_uint_eq(seen.dangling_parent, d.ino);
	ck_assert_uint_eq(seen.dangling_ino, 999999);
	ck_assert_str_eq(seen.dangling_name, "ghost");

	ck_assert_int_eq(meta_ro_links(m, links_cb, &seen), 0);
	ck_assert_uint_eq(seen.root.subdirs, 1);
	ck_assert_uint_eq(seen.dir.entries, 1);
	ck_assert_uint_eq(seen.dir.subdirs, 0);
	ck_assert_uint_eq(seen.file.entries, 2);
	ck_assert_uint_eq(seen.file.nlink, 1);
	ck_assert(S_ISREG(seen.file.mode));

	ck_assert_int_eq(meta_ro_seg_used(m, 7, &used), 0);
	ck_assert(!used);
	ck_assert_int_eq(meta_extent_put(m, ro_file_ino, &e), 0);
	ck_assert_int_eq(meta_ro_seg_used(m, 7, &used), 0);
	ck_assert(used);

	ck_assert_int_eq(meta_seg_set_len(m, 8, 1000), -ENOENT);
	ck_assert_int_eq(meta_seg_commit_len(m, 7, 164), 0);
	ck_assert_int_eq(meta_seg_set_len(m, 7, 120), 0);
	ck_assert_uint_eq(seg_live(7, &len), 100);
	ck_assert_uint_eq(len, 120);
	ck_assert_int_eq(meta_fix_live(m), 0);
	ck_assert_uint_eq(seg_live(7, NULL), 100);
}
END_TEST

/* meta_open_existing() never creates a schema. */
START_TEST(test_open_existing)
{
	struct meta *x = NULL;
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/empty.db", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(meta_open_existing(&x, path), -ENODATA);
	ck_assert_ptr_null(x);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fgetc(f), EOF);        /* still empty */
	fclose(f);
	snprintf(path, sizeof(path), "%s/absent.db", tmpdir);
	ck_assert_int_ne(meta_open_existing(&x, path), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	meta_close(&m);
	ck_assert_int_eq(meta_open_existing(&m, dbpath), 0);
}
END_TEST

#define THREAD_TXNS 300

static void *thread_main(void *arg)
{
	char name[32];
	uint64_t ino;
	int i;

	for (i = 0; i < THREAD_TXNS; i++) {
		struct meta_inode in = mk_inode(S_IFREG | 0644, 1);

		snprintf(name, sizeof(name), "t%lu-%d", (unsigned long)arg, i);
		if (meta_begin(m) || meta_inode_create(m, &in) ||
		    meta_dentry_add(m, TFS_ROOT_INO, name, in.ino) ||
		    meta_dentry_lookup(m, TFS_ROOT_INO, name, &ino) ||
		    ino != in.ino || meta_commit(m))
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t t[3];
	uint64_t files, bytes;
	void *ret;
	unsigned long i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main,
						(void *)i), 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	ck_assert_int_eq(meta_inode_count(m, &files, &bytes), 0);
	ck_assert_uint_eq(files, 1 + 3 * THREAD_TXNS);
	ck_assert_uint_eq(bytes, 3 * THREAD_TXNS);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints rates, never asserts on them (the machine is shared). */
START_TEST(test_perf)
{
	enum { N = 10000 };
	static uint64_t inos[N];
	struct meta_extent e = { 0, 1, 0, 4000, 65536 };
	uint64_t files, bytes, seg_off = 0;
	char name[32];
	double t0, t1;
	int i, err = 0;

	/* No ck_assert inside the timed loops: each one costs a write(2). */
	t0 = now_s();
	for (i = 0; i < N; i++) {
		struct meta_inode in = mk_inode(S_IFREG | 0644, 0);

		snprintf(name, sizeof(name), "file%06d", i);
		err |= meta_begin(m);
		err |= meta_inode_create(m, &in);
		err |= meta_dentry_add(m, TFS_ROOT_INO, name, in.ino);
		err |= meta_commit(m);
		inos[i] = in.ino;
	}
	t1 = now_s();
	ck_assert_int_eq(err, 0);
	printf("meta perf: %d create txns: %.1f us each\n", N,
	       (t1 - t0) * 1e6 / N);

	t0 = now_s();
	for (i = 0; i < N; i++) {
		struct meta_inode in = mk_inode(S_IFREG | 0644, 2 * 65536);

		in.ino = inos[i];
		err |= meta_begin(m);
		for (e.chunk = 0; e.chunk < 2; e.chunk++) {
			e.off = seg_off;
			seg_off += e.rec_len;
			err |= meta_extent_put(m, in.ino, &e);
		}
		err |= meta_inode_update(m, &in);
		err |= meta_seg_commit_len(m, 1, seg_off);
		err |= meta_commit(m);
	}
	t1 = now_s();
	ck_assert_int_eq(err, 0);
	printf("meta perf: %d close txns (2 extents): %.1f us each\n", N,
	       (t1 - t0) * 1e6 / N);
	ck_assert_uint_eq(seg_live(1, NULL), seg_off);

	t0 = now_s();
	for (i = 0; i < N; i++) {
		struct meta_inode in;

		err |= meta_inode_get(m, inos[i], &in);
	}
	t1 = now_s();
	ck_assert_int_eq(err, 0);
	printf("meta perf: %d inode_get: %.2f us each\n", N,
	       (t1 - t0) * 1e6 / N);

	/* grow the store to 10 * N files in one transaction, then remount */
	ck_assert_int_eq(meta_begin(m), 0);
	for (i = N; i < 10 * N; i++) {
		struct meta_inode in = mk_inode(S_IFREG | 0644, 1);

		snprintf(name, sizeof(name), "file%06d", i);
		err |= meta_inode_create(m, &in);
		err |= meta_dentry_add(m, TFS_ROOT_INO, name, in.ino);
	}
	ck_assert_int_eq(meta_commit(m), 0);
	ck_assert_int_eq(err, 0);
	meta_close(&m);
	t0 = now_s();
	ck_assert_int_eq(meta_open(&m, dbpath), 0);
	t1 = now_s();
	printf("meta perf: open of a store with %d files: %.1f ms\n", 10 * N,
	       (t1 - t0) * 1e3);
	t0 = now_s();
	ck_assert_int_eq(meta_inode_count(m, &files, &bytes), 0);
	t1 = now_s();
	printf("meta perf: inode_count over %d files: %.2f ms\n", 10 * N,
	       (t1 - t0) * 1e3);
	ck_assert_uint_eq(files, 10 * N + 1);
	ck_assert_uint_eq(bytes, (uint64_t)N * 2 * 65536 + 9 * N);
}
END_TEST

static Suite *meta_suite(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_root_and_reopen);
	tcase_add_test(tc, test_inode_crud);
	tcase_add_test(tc, test_inode_delete_cascades);
	tcase_add_test(tc, test_inode_numbers_never_reused);
	tcase_add_test(tc, test_inode_numbers_blocks);
	tcase_add_test(tc, test_dentries);
	tcase_add_test(tc, test_dir_is_empty);
	tcase_add_test(tc, test_dir_list);
	tcase_add_test(tc, test_dentry_parent);
	tcase_add_test(tc, test_symlink);
	tcase_add_test(tc, test_xattr);
	tcase_add_test(tc, test_extents);
	tcase_add_test(tc, test_extent_seg_order_in_txn);
	tcase_add_test(tc, test_extent_shadows);
	tcase_add_test(tc, test_cold);
	tcase_add_test(tc, test_checker_calls);
	tcase_add_test(tc, test_open_existing);
	tcase_add_test(tc, test_counters);
	tcase_add_test(tc, test_txn);
	tcase_add_test(tc, test_orphans_scan_count);
	tcase_add_test(tc, test_refuse_newer_schema);
	tcase_add_test(tc, test_refuse_garbage);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_perf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(meta_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
