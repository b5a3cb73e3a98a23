/*
 * fs_testlib.h - the fixture and helpers shared by test_fs.c and
 * test_fs_tier.c: a private store under a per-test temp dir, the mounted
 * `f` with a root `caller`, a seeded xorshift byte stream, and thin
 * asserting wrappers over fs_* (lookup, put, write_at, new_file, new_dir,
 * size_of).
 *
 * It is not a module and not a library: everything is static, so each test
 * program that includes it (once, from its one .c file) gets its own copy
 * of the state. Define FS_TESTLIB_SEED (a uint64_t constant) before the
 * include to choose the program's random stream. Each program still writes
 * its own setup() (the cfg it wants, then do_mount()), remount() and the
 * helpers only it needs.
 */
#ifndef TFS_FS_TESTLIB_H
#define TFS_FS_TESTLIB_H

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>

#include "fs.h"
#include "tierfs.h"

#ifndef FS_TESTLIB_SEED
#error "define FS_TESTLIB_SEED before including fs_testlib.h"
#endif

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define CH TFS_CHUNK_SIZE

/* ---- fixture ---- */

static char basedir[64];         /* made by run_suite(), removed at exit */
static char tmpdir[128];          /* one per test, inside basedir */
static char storedir[160];
static struct tfs_config cfg;
static struct fs *f;
static const struct fs_caller caller = { .uid = 0, .gid = 0, .umask = 022 };

static void do_mount(void)
{
	char err[512] = "";
	int rc = fs_mount(&f, storedir, &cfg, err, sizeof(err));

	ck_assert_msg(rc == 0, "fs_mount: %d %s", rc, err);
}

/* The first half of a setup(): a fresh temp dir and store path, cfg at
 * its defaults with a 64 MiB hot tier and cold level 0. The caller tunes
 * cfg further, then calls do_mount(). */
static void fixture_start(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/t_XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(storedir, sizeof(storedir), "%s/store", tmpdir);
	config_defaults(&cfg);
	cfg.hot_max = 64 * MiB;
	cfg.cold_level = 0;
}

static int rm_one(const char *p, const struct stat *st, int type,
		  struct FTW *ftw)
{
	return remove(p);
}

static void teardown(void)
{
	fs_unmount(&f);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A test case run between `setup_fn` and teardown(), with a 120 s
 * timeout. */
static TCase *fixture_tcase(const char *name, void (*setup_fn)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup_fn, teardown);
	tcase_set_timeout(tc, 120);
	return tc;
}

/* The body of main(): make basedir from `tmpl` (ending in XXXXXX), run the
 * suite, remove basedir. EXIT_SUCCESS only when every test passed. */
static int run_suite(const char *tmpl, Suite *(*make_suite)(void))
{
	SRunner *sr;
	int failed;

	/* Tests that fail skip their teardown: everything lives under one
	 * base directory that goes away here. */
	snprintf(basedir, sizeof(basedir), "%s", tmpl);
	if (!mkdtemp(basedir))
		return EXIT_FAILURE;
	sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(basedir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- helpers ---- */

/* xorshift64 over the caller's state (usable from threads). */
static void fill_random_r(uint64_t *st, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		*st ^= *st << 13;
		*st ^= *st >> 7;
		*st ^= *st << 17;
		b[i] = (uint8_t)(*st >> 24);
	}
}

static uint64_t rng_state = FS_TESTLIB_SEED;

static void fill_random(uint8_t *b, size_t n)
{
	fill_random_r(&rng_state, b, n);
}

static uint8_t *random_buf(size_t n)
{
	uint8_t *b = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(b);
	fill_random(b, n);
	return b;
}

static struct tfs_inode *lookup(struct tfs_inode *dir, const char *name)
{
	struct tfs_inode *ino = NULL;
	struct stat st;
	int rc = fs_lookup(f, dir, name, &ino, &st);

	ck_assert_msg(rc == 0, "lookup %s: %d", name, rc);
	return ino;
}

static void put(struct tfs_inode *ino)
{
	fs_forget(f, ino, 1);
}

static void write_at(struct tfs_inode *ino, const void *buf, size_t len,
		     uint64_t off)
{
	ssize_t n = fs_write(f, ino, NULL, buf, len, (off_t)off);

	ck_assert_msg(n == (ssize_t)len, "write %zu at %" PRIu64 ": %zd", len,
		      off, n);
}

/* A new file with `len` bytes of `data`, flushed and closed; the lookup
 * reference is the caller's. */
static struct tfs_inode *new_file(struct tfs_inode *dir, const char *name,
				  const void *data, size_t len)
{
	struct tfs_inode *ino = NULL;
	struct fs_file *fh = NULL;
	struct stat st;
	int rc;

	rc = fs_create(f, &caller, dir, name, 0644, O_RDWR, &ino, &st, &fh);
	ck_assert_msg(rc == 0, "create %s: %d", name, rc);
	if (len)
		write_at(ino, data, len, 0);
	ck_assert_int_eq(fs_flush(f, ino), 0);
	ck_assert_int_eq(fs_release(f, ino, fh), 0);
	return ino;
}

/* A new directory; the lookup reference is the caller's. (Unused by some
 * includers.) */
__attribute__((unused))
static struct tfs_inode *new_dir(struct tfs_inode *dir, const char *name)
{
	struct tfs_inode *ino = NULL;
	struct stat st;

	ck_assert_int_eq(fs_mkdir(f, &caller, dir, name, 0755, &ino, &st), 0);
	return ino;
}

static uint64_t size_of(struct tfs_inode *ino)
{
	struct stat st;

	ck_assert_int_eq(fs_getattr(f, ino, &st), 0);
	return (uint64_t)st.st_size;
}

#endif /* TFS_FS_TESTLIB_H */
