/* test_dirpol.c - Check tests for dirpol.c: the policy syntax, and the map
 * built from a real meta store (inheritance key by key, the closest policy
 * winning, files outside any policy, hard links, no policy at all). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dirpol.h"
#include "meta.h"

static char tmpdir[64];
static char dbpath[128];
static struct meta *m;

static void setup(void)
{
	strcpy(tmpdir, "/tmp/test_dirpol.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/meta.db", tmpdir);
	ck_assert_int_eq(meta_open(&m, dbpath), 0);
}

static void teardown(void)
{
	char cmd[160];

	meta_close(&m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int parse(const char *v, struct dirpol *p)
{
	return dirpol_parse(v, strlen(v), p);
}

START_TEST(test_parse)
{
	struct dirpol p;

	ck_assert_int_eq(parse("hot_age=10m warm_age=1d", &p), 0);
	ck_assert_uint_eq(p.has, DIRPOL_HOT_AGE | DIRPOL_WARM_AGE);
	ck_assert_uint_eq(p.hot_age_ms, 600000);
	ck_assert_uint_eq(p.warm_age_ms, 86400000);
	ck_assert_int_eq(parse("warm_age=never,pin=cold", &p), 0);
	ck_assert_uint_eq(p.has, DIRPOL_WARM_AGE | DIRPOL_PIN);
	ck_assert_uint_eq(p.warm_age_ms, DIRPOL_NEVER);
	ck_assert_int_eq(p.pin, TFS_COLD);
	ck_assert_int_eq(parse("  pin=none\n", &p), 0);
	ck_assert_int_eq(p.pin, TFS_PIN_NONE);
	ck_assert_uint_eq(p.has, DIRPOL_PIN);
	ck_assert_int_eq(parse("hot_age=500ms", &p), 0);
	ck_assert_uint_eq(p.hot_age_ms, 500);

	static const char *const bad[] = { "", " ", ",", "hot_age",
		"hot_age=", "hot_age=x", "hot_age=1y", "cold_age=1s",
		"pin=tepid", "pin=", "hot_age=1s hot_age=2s", "=1s",
		"hot_age=-1", "hot_age=1s;pin=hot" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &p) == -EINVAL, "accepted '%s'",
			      bad[i]);
	ck_assert_int_eq(dirpol_parse("pin=hot\0x", 9, &p), -EINVAL);
	{
		char big[DIRPOL_MAX + 2];

		memset(big, ' ', sizeof(big));
		memcpy(big, "pin=hot", 7);
		big[sizeof(big) - 1] = 0;
		ck_assert_int_eq(parse(big, &p), -EINVAL);
	}
}
END_TEST

static uint64_t mk(uint64_t parent, const char *name, mode_t mode)
{
	struct meta_inode in = {
		.mode = mode, .nlink = 1, .tier = TFS_WARM,
		.pin = TFS_PIN_NONE,
	};

	ck_assert_int_eq(meta_inode_create(m, &in), 0);
	ck_assert_int_eq(meta_dentry_add(m, parent, name, in.ino), 0);
	return in.ino;
}

static void setpol(uint64_t dir, const char *v)
{
	ck_assert_int_eq(meta_xattr_set(m, dir, DIRPOL_XATTR, v, strlen(v),
					0), 0);
}

START_TEST(test_map)
{
	struct dirpol_map *map = NULL;
	const struct dirpol *p;
	uint64_t a, b, c, fa, fb, fc, top, bdeep, fdeep, hot, warm;

	/* no policy anywhere: no map */
	a = mk(TFS_ROOT_INO, "a", S_IFDIR | 0755);
	fa = mk(a, "fa", S_IFREG | 0644);
	top = mk(TFS_ROOT_INO, "top", S_IFREG | 0644);
	ck_assert_int_eq(dirpol_map_build(m, &map), 0);
	ck_assert_ptr_null(map);
	ck_assert_ptr_null(dirpol_map_get(map, fa));

	/* a: hot_age=1s pin=warm; a/b: warm_age=never; a/b/deep inherits;
	 * a/c: pin=none */
	b = mk(a, "b", S_IFDIR | 0755);
	c = mk(a, "c", S_IFDIR | 0755);
	bdeep = mk(b, "deep", S_IFDIR | 0755);
	fb = mk(b, "fb", S_IFREG | 0644);
	fc = mk(c, "fc", S_IFREG | 0644);
	fdeep = mk(bdeep, "fdeep", S_IFREG | 0644);
	ck_assert_int_eq(meta_dentry_add(m, TFS_ROOT_INO, "link", fb), 0);
	setpol(a, "hot_age=1s pin=warm");
	setpol(b, "warm_age=never");
	setpol(c, "pin=none");
	ck_assert_int_eq(dirpol_map_build(m, &map), 0);
	ck_assert_ptr_nonnull(map);

	p = dirpol_map_get(map, fa);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->has, DIRPOL_HOT_AGE | DIRPOL_PIN);
	ck_assert_uint_eq(p->hot_age_ms, 1000);
	ck_assert_int_eq(p->pin, TFS_WARM);
	for (int i = 0; i < 2; i++) {
		p = dirpol_map_get(map, i ? fdeep : fb);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(p->has, DIRPOL_HOT_AGE | DIRPOL_WARM_AGE |
					  DIRPOL_PIN);
		ck_assert_uint_eq(p->hot_age_ms, 1000);
		ck_assert_uint_eq(p->warm_age_ms, DIRPOL_NEVER);
		ck_assert_int_eq(p->pin, TFS_WARM);
	}
	p = dirpol_map_get(map, fc);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->pin, TFS_PIN_NONE);
	ck_assert_uint_eq(p->hot_age_ms, 1000);
	ck_assert_ptr_nonnull(dirpol_map_get(map, bdeep));
	ck_assert_ptr_null(dirpol_map_get(map, top));
	ck_assert_ptr_null(dirpol_map_get(map, TFS_ROOT_INO));
	dirpol_map_min_ages(map, &hot, &warm);
	ck_assert_uint_eq(hot, 1000);
	ck_assert_uint_eq(warm, DIRPOL_NEVER);
	dirpol_map_free(&map);
	ck_assert_ptr_null(map);

	/* a policy on the root covers everything; removing b's restores
	 * a's keys below b */
	setpol(TFS_ROOT_INO, "warm_age=2h");
	ck_assert_int_eq(meta_xattr_remove(m, b, DIRPOL_XATTR), 0);
	ck_assert_int_eq(dirpol_map_build(m, &map), 0);
	p = dirpol_map_get(map, top);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->has, DIRPOL_WARM_AGE);
	ck_assert_uint_eq(p->warm_age_ms, 7200000);
	p = dirpol_map_get(map, fdeep);
	ck_assert_uint_eq(p->warm_age_ms, 7200000);
	ck_assert_uint_eq(p->hot_age_ms, 1000);
	ck_assert_int_eq(p->pin, TFS_WARM);
	dirpol_map_free(&map);
}
END_TEST

START_TEST(test_many)
{
	struct dirpol_map *map = NULL;
	uint64_t d = mk(TFS_ROOT_INO, "d", S_IFDIR | 0755), first = 0, last;
	char name[32];

	ck_assert_int_eq(meta_begin(m), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		last = mk(d, name, S_IFREG | 0644);
		first = first ? first : last;
	}
	ck_assert_int_eq(meta_commit(m), 0);
	setpol(d, "pin=cold");
	ck_assert_int_eq(dirpol_map_build(m, &map), 0);
	ck_assert_int_eq(dirpol_map_get(map, first)->pin, TFS_COLD);
	ck_assert_int_eq(dirpol_map_get(map, last)->pin, TFS_COLD);
	dirpol_map_free(&map);
}
END_TEST

static Suite *dirpol_suite(void)
{
	Suite *s = suite_create("dirpol");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dirpol_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
