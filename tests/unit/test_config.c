/* test_config.c - Check tests for config.c. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static char tmpdir[64];

/* Field-wise equality (memcmp would read struct padding). */
static bool same(const struct tfs_config *a, const struct tfs_config *b)
{
	return config_diff(a, b, NULL, 0) == 0;
}

static void tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/tfs_config_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write content to tmpdir/tierfs.conf, return its path (static buffer). */
static const char *write_conf(const char *content)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tierfs.conf", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(content, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

START_TEST(test_defaults)
{
	struct tfs_config c;
	uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) *
		       (uint64_t)sysconf(_SC_PAGESIZE);

	config_defaults(&c);
	ck_assert_uint_eq(c.hot_max, ram / 4 / (1 << 20) * (1 << 20));
	ck_assert_uint_eq(c.hot_age_ms, 3600 * 1000);
	ck_assert_uint_eq(c.warm_age_ms, UINT64_C(7) * 86400 * 1000);
	ck_assert_uint_eq(c.promote_after, 2);
	ck_assert_uint_eq(c.promote_window_ms, 600 * 1000);
	ck_assert_uint_eq(c.promote_max, 256 * MiB);
	ck_assert_uint_eq(c.cold_level, 6);
	ck_assert_uint_eq(c.cold_block, 256 * KiB);
	ck_assert_uint_eq(c.cold_min_saving, 10);
	ck_assert_uint_eq(c.archive_max, 256 * MiB);
	ck_assert_uint_eq(c.cache_size, 64 * MiB);
	ck_assert_uint_eq(c.interval_ms, 10 * 1000);
	ck_assert_uint_eq(c.compact_threshold, 50);
	ck_assert_uint_eq(c.seg_max, 64 * MiB);
	ck_assert(!c.tierdirs_visible);
}
END_TEST

START_TEST(test_parse_size_good)
{
	static const struct { const char *s; uint64_t v; } cases[] = {
		{ "0", 0 }, { "512", 512 }, { "512B", 512 }, { "512b", 512 },
		{ "64K", 64 * KiB }, { "64k", 64 * KiB }, { "64KB", 64 * KiB },
		{ "64KiB", 64 * KiB }, { "64kib", 64 * KiB },
		{ "2G", 2 * GiB }, { "2GiB", 2 * GiB }, { "2gb", 2 * GiB },
		{ "3M", 3 * MiB }, { "1T", UINT64_C(1) << 40 },
		{ "16777215T", UINT64_C(16777215) << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;

		ck_assert_msg(config_parse_size(cases[i].s, &v) == 0, "%s",
			      cases[i].s);
		ck_assert_msg(v == cases[i].v, "%s -> %llu", cases[i].s,
			      (unsigned long long)v);
	}
}
END_TEST

START_TEST(test_parse_size_bad)
{
	static const char *const bad[] = {
		"", "abc", "-1", "-0", "+5", " 5", "5 ", "5X", "5KK", "5KiBB",
		"5iB", "5Bi", "K", "1.5G", "0x10", "16777216T",
		"99999999999999999999G", "18446744073709551616",
		"99999999999999999999", "5 K",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 777;

		ck_assert_msg(config_parse_size(bad[i], &v) == -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 777);
	}
	ck_assert_int_eq(config_parse_size(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_parse_duration)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "0", 0 }, { "30", 30000 }, { "30s", 30000 },
		{ "250ms", 250 }, { "10m", 600000 }, { "1h", 3600000 },
		{ "7d", UINT64_C(604800000) }, { "2H", 7200000 },
		{ "18446744073709551615ms", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "x", "-5s", "5x", "5 s", "5sec", "1.5h", "s", "5mss",
		"99999999999999999999d", "213503982335d", "18446744073709552s",
	};
	size_t i;
	uint64_t v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(config_parse_duration_ms(good[i].s, &v) == 0,
			      "%s", good[i].s);
		ck_assert_msg(v == good[i].v, "%s -> %llu", good[i].s,
			      (unsigned long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 777;
		ck_assert_msg(config_parse_duration_ms(bad[i], &v) == -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 777);
	}
}
END_TEST

START_TEST(test_set_every_key)
{
	struct tfs_config c;
	char err[256];

	config_defaults(&c);
#define SET_OK(k, v) \
	ck_assert_msg(config_set(&c, k, v, err, sizeof(err)) == 0, \
		      "%s=%s: %s", k, v, err)
	SET_OK("hot_max", "2G");
	ck_assert_uint_eq(c.hot_max, 2 * GiB);
	SET_OK("hot_age", "30m");
	ck_assert_uint_eq(c.hot_age_ms, 1800000);
	SET_OK("warm_age", "2d");
	ck_assert_uint_eq(c.warm_age_ms, 2 * 86400000ULL);
	SET_OK("promote_after", "3");
	ck_assert_uint_eq(c.promote_after, 3);
	SET_OK("promote_window", "90s");
	ck_assert_uint_eq(c.promote_window_ms, 90000);
	SET_OK("promote_max", "1G");
	ck_assert_uint_eq(c.promote_max, GiB);
	SET_OK("cold_level", "9");
	ck_assert_uint_eq(c.cold_level, 9);
	SET_OK("cold_level", "0");
	ck_assert_uint_eq(c.cold_level, 0);
	SET_OK("cold_block", "1M");
	ck_assert_uint_eq(c.cold_block, MiB);
	SET_OK("cold_min_saving", "15%");
	ck_assert_uint_eq(c.cold_min_saving, 15);
	SET_OK("archive_max", "1G");
	ck_assert_uint_eq(c.archive_max, GiB);
	SET_OK("cache_size", "0");
	ck_assert_uint_eq(c.cache_size, 0);
	SET_OK("interval", "10ms");
	ck_assert_uint_eq(c.interval_ms, 10);
	SET_OK("compact_threshold", "100");
	ck_assert_uint_eq(c.compact_threshold, 100);
	SET_OK("seg_max", "1M");
	ck_assert_uint_eq(c.seg_max, MiB);
	SET_OK("tierdirs", "visible");
	ck_assert(c.tierdirs_visible);
	SET_OK("tierdirs", "hidden");
	ck_assert(!c.tierdirs_visible);
	ck_assert(!c.list_tier_xattrs);
	SET_OK("list_tier_xattrs", "yes");
	ck_assert(c.list_tier_xattrs);
	SET_OK("list_tier_xattrs", "off");
	ck_assert(!c.list_tier_xattrs);
	SET_OK("list_tier_xattrs", "1");
	ck_assert(c.list_tier_xattrs);
#undef SET_OK
}
END_TEST

START_TEST(test_set_ranges)
{
	static const struct { const char *k, *v, *msg; } bad[] = {
		{ "cold_level", "10", "cold_level: must be 0..9, got '10'" },
		{ "cold_level", "-1", "cold_level: bad number '-1'" },
		{ "cold_block", "2K", "cold_block: must be 4K..64M, got '2K'" },
		{ "cold_block", "65M", "cold_block: must be 4K..64M, got '65M'" },
		{ "promote_after", "0",
		  "promote_after: must be 1..4294967295, got '0'" },
		{ "promote_after", "4294967296", NULL },
		{ "interval", "9ms", "interval: must be at least 10ms, got '9ms'" },
		{ "interval", "0", NULL },
		{ "compact_threshold", "101",
		  "compact_threshold: must be 0..100, got '101'" },
		{ "cold_min_saving", "200", NULL },
		{ "seg_max", "1023K", "seg_max: must be at least 1M, got '1023K'" },
		{ "hot_max", "0", "hot_max: must be at least 1M, got '0'" },
		{ "hot_max", "abc",
		  "hot_max: bad size 'abc' (use e.g. 512M, 2G)" },
		{ "hot_age", "1y", NULL },
		{ "archive_max", "128K",
		  "archive_max: must be at least cold_block (256K), got '128K'" },
		{ "tierdirs", "shown",
		  "tierdirs: must be hidden or visible, got 'shown'" },
		{ "tierdirs", "", "tierdirs: missing value" },
		{ "list_tier_xattrs", "maybe",
		  "list_tier_xattrs: must be yes or no, got 'maybe'" },
		{ "foo", "1", "unknown option 'foo'" },
		{ "cold_level", NULL, "cold_level: missing value" },
	};
	struct tfs_config c, orig;
	char err[256];
	size_t i;

	config_defaults(&orig);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = orig;
		err[0] = '\0';
		ck_assert_msg(config_set(&c, bad[i].k, bad[i].v, err,
					 sizeof(err)) == -EINVAL,
			      "%s=%s accepted", bad[i].k, bad[i].v);
		ck_assert_msg(same(&c, &orig),
			      "%s changed the config", bad[i].k);
		ck_assert_msg(strstr(err, bad[i].k) != NULL, "%s: '%s'",
			      bad[i].k, err);
		if (bad[i].v && config_is_key(bad[i].k))
			ck_assert_msg(strstr(err, bad[i].v) != NULL, "'%s'",
				      err);
		if (bad[i].msg)
			ck_assert_str_eq(err, bad[i].msg);
	}
	/* The cross-key rule holds from the other side too. */
	c = orig;
	ck_assert_int_eq(config_set(&c, "archive_max", "1M", err,
				    sizeof(err)), 0);
	ck_assert_int_eq(config_set(&c, "cold_block", "2M", err,
				    sizeof(err)), -EINVAL);
	ck_assert_str_eq(err,
		"cold_block: must be at most archive_max (1M), got '2M'");
	ck_assert_uint_eq(c.cold_block, 256 * KiB);
	ck_assert_int_eq(config_set(&c, "cold_block", "1M", err,
				    sizeof(err)), 0);
	/* A NULL or tiny err buffer is tolerated. */
	ck_assert_int_eq(config_set(&c, "x", "1", NULL, 0), -EINVAL);
	ck_assert_int_eq(config_set(&c, "x", "1", err, 1), -EINVAL);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_is_key)
{
	ck_assert(config_is_key("hot_max"));
	ck_assert(config_is_key("tierdirs"));
	ck_assert(config_is_key("compact_threshold"));
	ck_assert(config_is_key("list_tier_xattrs"));
	ck_assert(config_is_flag("list_tier_xattrs"));
	ck_assert(!config_is_flag("tierdirs"));
	ck_assert(!config_is_key("hot_max "));
	ck_assert(!config_is_key("HOT_MAX"));
	ck_assert(!config_is_key("allow_other"));
	ck_assert(!config_is_key(""));
	ck_assert(!config_is_key(NULL));
}
END_TEST

START_TEST(test_load_file_good)
{
	struct tfs_config c, want;
	char err[256] = "";
	const char *path = write_conf(
		"# tierfs settings\n"
		"\n"
		"hot_max = 2G\n"
		"   cold_level=9   # strongest\n"
		"\thot_age\t=\t15m\t\n"
		"tierdirs = visible\n"
		"   # indented comment\n"
		"interval=250ms");
	config_defaults(&c);
	want = c;
	want.hot_max = 2 * GiB;
	want.cold_level = 9;
	want.hot_age_ms = 15 * 60000;
	want.tierdirs_visible = true;
	want.interval_ms = 250;
	ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert(same(&c, &want));
	/* An empty file changes nothing. */
	path = write_conf("");
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)), 0);
	ck_assert(same(&c, &want));
}
END_TEST

START_TEST(test_load_file_comment_hash_in_value)
{
	struct tfs_config c, orig;
	char err[256] = "";
	/* '#' not preceded by whitespace is part of the value: refused. */
	const char *path = write_conf("cold_level = 5#x\n");

	config_defaults(&c);
	orig = c;
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, ":1: cold_level: bad number '5#x'"), "%s",
		      err);
	ck_assert(same(&c, &orig));
}
END_TEST

START_TEST(test_load_file_errors)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "hot_max = 1G\n# ok\ncold_level = 12\n",
		  ":3: cold_level: must be 0..9, got '12'" },
		{ "hot_max = 1G\nbogus = 1\n", ":2: unknown option 'bogus'" },
		{ "hot_max 1G\n", ":1: expected 'key = value', got 'hot_max 1G'" },
		{ "\n\n = 5\n", ":3: missing key before '='" },
		{ "cold_level =\n", ":1: cold_level: missing value" },
		{ "hot_max = 1G\nhot_age = soon\n",
		  ":2: hot_age: bad duration 'soon'" },
	};
	struct tfs_config c, orig;
	char err[256], want[300];
	const char *path;
	size_t i;

	config_defaults(&orig);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = orig;
		path = write_conf(cases[i].text);
		err[0] = '\0';
		ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)),
				 -EINVAL);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].want);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
			      "got '%s' want '%s'", err, want);
		/* All-or-nothing: hot_max=1G of line 1 was not applied. */
		ck_assert(same(&c, &orig));
	}
}
END_TEST

START_TEST(test_load_file_long_line)
{
	struct tfs_config c, orig;
	char err[256], *text;
	const char *path;
	size_t n = 5000;

	text = malloc(n + 32);
	ck_assert_ptr_nonnull(text);
	strcpy(text, "hot_max = 1G\n");
	memset(text + 13, '#', n);
	strcpy(text + 13 + n, "\n");
	path = write_conf(text);
	config_defaults(&c);
	orig = c;
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, ":2: line longer than"), "%s", err);
	ck_assert(same(&c, &orig));
	/* A 4000-byte comment line is fine. */
	text[13 + 4000] = '\n';
	text[13 + 4001] = '\0';
	path = write_conf(text);
	ck_assert_msg(config_load_file(&c, path, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(c.hot_max, GiB);
	free(text);
}
END_TEST

START_TEST(test_load_file_missing)
{
	struct tfs_config c, orig;
	char err[256] = "", path[128];

	snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
	config_defaults(&c);
	orig = c;
	ck_assert_int_eq(config_load_file(&c, path, err, sizeof(err)),
			 -ENOENT);
	ck_assert(strstr(err, "nope.conf") != NULL);
	ck_assert(same(&c, &orig));
}
END_TEST

START_TEST(test_diff)
{
	struct tfs_config a, b;
	char buf[512];

	config_defaults(&a);
	b = a;
	ck_assert_int_eq(config_diff(&a, &b, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	b.cold_level = 9;
	ck_assert_int_eq(config_diff(&a, &b, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "cold_level=6->9");
	a.hot_max = 2 * GiB;
	b.hot_max = 512 * MiB;
	b.hot_age_ms = 90 * 1000;
	b.interval_ms = 1500;
	b.tierdirs_visible = true;
	b.cache_size = 1000;
	ck_assert_int_eq(config_diff(&a, &b, buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "hot_max=2G->512M, hot_age=1h->90s, "
			      "cold_level=6->9, cache_size=64M->1000, "
			      "interval=10s->1500ms, tierdirs=hidden->visible");
	/* Truncation is safe and the count is still right. */
	ck_assert_int_eq(config_diff(&a, &b, buf, 10), 6);
	ck_assert_str_eq(buf, "hot_max=2");
	ck_assert_int_eq(config_diff(&a, &b, NULL, 0), 6);

	/* Every field is compared (same() relies on it). */
	b = a;
	b.hot_max++; b.hot_age_ms++; b.warm_age_ms++; b.promote_after++;
	b.promote_window_ms++; b.promote_max++; b.cold_level++;
	b.cold_block++; b.cold_min_saving++; b.archive_max++;
	b.cache_size++; b.interval_ms++; b.compact_threshold++;
	b.seg_max++; b.tierdirs_visible = !b.tierdirs_visible;
	ck_assert_int_eq(config_diff(&a, &b, NULL, 0), 15);
}
END_TEST

/* config_each() prints every key in a form config_set() takes back. */
struct each_ctx { struct tfs_config *dst; int n, bad; };

static void each_apply(void *ctx, const char *key, const char *value)
{
	struct each_ctx *e = ctx;
	char err[256];

	e->n++;
	if (config_set(e->dst, key, value, err, sizeof(err)))
		e->bad++;
}

START_TEST(test_each_round_trip)
{
	struct tfs_config a, b;
	struct each_ctx e = { &b, 0, 0 };
	char err[256];

	config_defaults(&a);
	ck_assert_int_eq(config_set(&a, "hot_max", "1536M", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&a, "hot_age", "90s", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&a, "interval", "250ms", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&a, "tierdirs", "visible", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&a, "log_level", "debug", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(&a, "warm_age", "0", err, sizeof(err)), 0);
	config_defaults(&b);
	b.hot_max = UINT64_C(12345) << 20;
	config_each(&a, each_apply, &e);
	ck_assert_int_eq(e.bad, 0);
	ck_assert_int_ge(e.n, 17);
	ck_assert_int_eq(config_diff(&a, &b, NULL, 0), 0);
}
END_TEST

START_TEST(test_log_level)
{
	struct tfs_config c;
	char err[256];

	config_defaults(&c);
	ck_assert_uint_eq(c.log_level, LOG_INFO);
	ck_assert_int_eq(config_set(&c, "log_level", "warn", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.log_level, LOG_WARNING);
	ck_assert_int_eq(config_set(&c, "log_level", "error", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.log_level, LOG_ERR);
	ck_assert_int_eq(config_set(&c, "log_level", "loud", err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "log_level"));
	ck_assert_uint_eq(c.log_level, LOG_ERR);
	ck_assert_int_eq(config_set(&c, "log_level", "", err, sizeof(err)),
			 -EINVAL);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	TCase *tf = tcase_create("file");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_parse_size_good);
	tcase_add_test(tc, test_parse_size_bad);
	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_set_every_key);
	tcase_add_test(tc, test_set_ranges);
	tcase_add_test(tc, test_is_key);
	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_each_round_trip);
	tcase_add_test(tc, test_log_level);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tf, tmp_setup, tmp_teardown);
	tcase_add_test(tf, test_load_file_good);
	tcase_add_test(tf, test_load_file_comment_hash_in_value);
	tcase_add_test(tf, test_load_file_errors);
	tcase_add_test(tf, test_load_file_long_line);
	tcase_add_test(tf, test_load_file_missing);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
