/* test_store.c - Check tests for store.c. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

static char tmpdir[256];

static void tmp_setup(void)
{
	char t[] = "/tmp/tfs_store_XXXXXX", real[PATH_MAX];

	ck_assert_ptr_nonnull(mkdtemp(t));
	/* The store reports realpath()s; compare against the same. */
	ck_assert_ptr_nonnull(realpath(t, real));
	ck_assert_uint_lt(strlen(real), sizeof(tmpdir));
	strcpy(tmpdir, real);
}

static void tmp_teardown(void)
{
	char cmd[2 * sizeof(tmpdir) + 64];

	ck_assert_int_eq(chdir("/"), 0);

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", tmpdir,
		 tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *tpath(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", tmpdir, rel);
	return b;
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(content, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static bool is_dir(const char *path, mode_t *mode)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (mode)
		*mode = st.st_mode & 07777;
	return true;
}

START_TEST(test_new_store)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "", buf[64], want[32];
	mode_t mode;

	ck_assert_msg(store_open(&s, tpath("a/b/store"), err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_str_eq(s.dir, tpath("a/b/store"));
	ck_assert_int_ge(s.lock_fd, 0);
	ck_assert(is_dir(tpath("a/b/store"), &mode));
	ck_assert_uint_eq(mode, 0700);
	ck_assert(is_dir(tpath("a/b/store/warm"), &mode));
	ck_assert_uint_eq(mode, 0700);
	ck_assert(is_dir(tpath("a/b/store/cold"), &mode));
	ck_assert_uint_eq(mode, 0700);
	read_file(tpath("a/b/store/FORMAT"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "tierfs-store 1\n");
	ck_assert_int_eq(access(tpath("a/b/store/FORMAT.tmp"), F_OK), -1);
	read_file(tpath("a/b/store/lock"), buf, sizeof(buf));
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	ck_assert_str_eq(buf, want);
	store_close(&s);
	ck_assert_ptr_null(s.dir);
	ck_assert_int_eq(s.lock_fd, -1);
	store_close(&s); /* twice is fine */

	/* Reopen: same store, FORMAT untouched. */
	ck_assert_msg(store_open(&s, tpath("a/b/store/"), err, sizeof(err)) ==
			      0, "%s", err);
	ck_assert_str_eq(s.dir, tpath("a/b/store"));
	read_file(tpath("a/b/store/FORMAT"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "tierfs-store 1\n");
	store_close(&s);
}
END_TEST

START_TEST(test_relative_and_existing_empty)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "";

	ck_assert_int_eq(mkdir(tpath("empty"), 0755), 0);
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_msg(store_open(&s, "./x/../empty", err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_str_eq(s.dir, tpath("empty"));
	ck_assert_int_eq(access(tpath("empty/FORMAT"), F_OK), 0);
	store_close(&s);

	/* A pre-written tierfs.conf does not stop a new store. */
	ck_assert_int_eq(mkdir(tpath("conf"), 0700), 0);
	write_file(tpath("conf/tierfs.conf"), "cold_level = 9\n");
	ck_assert_msg(store_open(&s, tpath("conf"), err, sizeof(err)) == 0,
		      "%s", err);
	store_close(&s);
}
END_TEST

START_TEST(test_busy)
{
	struct store a = { .lock_fd = -1 }, b = { .lock_fd = -1 };
	char err[512] = "", want[64];

	ck_assert_int_eq(store_open(&a, tpath("s"), err, sizeof(err)), 0);
	/* flock is per open file description: a second open in the same
	 * process conflicts. */
	ck_assert_int_eq(store_open(&b, tpath("s"), err, sizeof(err)),
			 -EBUSY);
	ck_assert_ptr_null(b.dir);
	ck_assert_int_eq(b.lock_fd, -1);
	ck_assert_msg(strstr(err, tpath("s")) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "already mounted") != NULL, "%s", err);
	snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	store_close(&b);
	store_close(&a);
	ck_assert_msg(store_open(&b, tpath("s"), err, sizeof(err)) == 0, "%s",
		      err);
	store_close(&b);
}
END_TEST

/* The lock stays held across fork() as long as the child lives, and the
 * child can put its own pid in the lock file. */
START_TEST(test_lock_survives_fork)
{
	struct store a = { .lock_fd = -1 }, b = { .lock_fd = -1 };
	char err[512] = "", want[64], c;
	int ready[2], go[2], status;
	pid_t pid;

	ck_assert_int_eq(store_open(&a, tpath("s"), err, sizeof(err)), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		if (store_note_pid(&a) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	store_close(&a); /* the "parent" lets go; the child still holds */
	ck_assert_int_eq(store_open(&b, tpath("s"), err, sizeof(err)),
			 -EBUSY);
	snprintf(want, sizeof(want), "(pid %ld)", (long)pid);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	close(go[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	ck_assert_msg(store_open(&b, tpath("s"), err, sizeof(err)) == 0, "%s",
		      err);
	store_close(&b);
}
END_TEST

START_TEST(test_wrong_version)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "";

	ck_assert_int_eq(mkdir(tpath("s"), 0700), 0);
	write_file(tpath("s/FORMAT"), "tierfs-store 2\n");
	ck_assert_int_eq(store_open(&s, tpath("s"), err, sizeof(err)),
			 -EPROTO);
	ck_assert_ptr_null(s.dir);
	ck_assert_int_eq(s.lock_fd, -1);
	ck_assert_msg(strstr(err, "version 2") && strstr(err, "version 1"),
		      "%s", err);
	ck_assert_msg(strstr(err, tpath("s")) != NULL, "%s", err);
	/* Refused before anything was written into it. */
	ck_assert_int_eq(access(tpath("s/lock"), F_OK), -1);
	ck_assert_int_eq(access(tpath("s/warm"), F_OK), -1);

	write_file(tpath("s/FORMAT"), "tierfs-store 0\n");
	ck_assert_int_eq(store_open(&s, tpath("s"), err, sizeof(err)),
			 -EPROTO);
}
END_TEST

START_TEST(test_garbage_format)
{
	static const char *const bad[] = {
		"hello world\n", "", "tierfs-store\n", "tierfs-store x\n",
		"tierfs-store 1 2\n", "tierfs-storey 1\n",
		"tierfs-store 99999999999999999999999\n",
	};
	struct store s = { .lock_fd = -1 };
	char err[512];
	size_t i;

	ck_assert_int_eq(mkdir(tpath("s"), 0700), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(tpath("s/FORMAT"), bad[i]);
		err[0] = '\0';
		ck_assert_msg(store_open(&s, tpath("s"), err, sizeof(err)) ==
				      -EPROTO, "'%s' accepted", bad[i]);
		ck_assert(err[0] != '\0');
		ck_assert_ptr_null(s.dir);
	}
	write_file(tpath("s/FORMAT"), "hello world\n");
	ck_assert_int_eq(store_open(&s, tpath("s"), err, sizeof(err)),
			 -EPROTO);
	ck_assert_msg(strstr(err, "not a tierfs store (FORMAT says 'hello world')"),
		      "%s", err);
	/* No trailing newline is fine. */
	write_file(tpath("s/FORMAT"), "tierfs-store 1");
	ck_assert_msg(store_open(&s, tpath("s"), err, sizeof(err)) == 0, "%s",
		      err);
	store_close(&s);
}
END_TEST

START_TEST(test_metadb_without_format)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "";

	ck_assert_int_eq(mkdir(tpath("s"), 0700), 0);
	write_file(tpath("s/meta.db"), "SQLite format 3");
	ck_assert_int_eq(store_open(&s, tpath("s"), err, sizeof(err)),
			 -EPROTO);
	ck_assert_msg(strstr(err, "meta.db") && strstr(err, "FORMAT") &&
			      strstr(err, "damaged"), "%s", err);
	ck_assert_int_eq(access(tpath("s/FORMAT"), F_OK), -1);
}
END_TEST

START_TEST(test_foreign_dir)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "";

	ck_assert_int_eq(mkdir(tpath("home"), 0700), 0);
	write_file(tpath("home/notes.txt"), "mine\n");
	ck_assert_int_eq(store_open(&s, tpath("home"), err, sizeof(err)),
			 -ENOTEMPTY);
	ck_assert_msg(strstr(err, "notes.txt") != NULL, "%s", err);
	ck_assert_int_eq(access(tpath("home/FORMAT"), F_OK), -1);
	ck_assert_int_eq(access(tpath("home/lock"), F_OK), -1);
}
END_TEST

START_TEST(test_not_a_directory)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "";

	write_file(tpath("file"), "x");
	ck_assert_int_eq(store_open(&s, tpath("file"), err, sizeof(err)),
			 -ENOTDIR);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
	ck_assert_ptr_null(s.dir);
	ck_assert_int_eq(store_open(&s, tpath("file/sub"), err, sizeof(err)),
			 -ENOTDIR);
	ck_assert_int_eq(store_open(&s, "", err, sizeof(err)), -EINVAL);
	store_close(&s);
}
END_TEST

static int open_as_nobody(const char *dir)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "";
	int rc;

	if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
		return 1000;
	rc = store_open(&s, dir, err, sizeof(err));
	if (rc == -EACCES && !strstr(err, dir))
		return 1001;
	store_close(&s);
	return -rc;
}

/* Not writable -> -EACCES. access() ignores modes for root, so as root the
 * check runs in a child that drops to nobody. */
START_TEST(test_not_writable)
{
	int status;
	pid_t pid;

	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
	ck_assert_int_eq(mkdir(tpath("ro"), 0500), 0);
	if (geteuid() != 0) {
		ck_assert_int_eq(open_as_nobody(tpath("ro")), EACCES);
		/* Not creatable: parent not writable. */
		ck_assert_int_eq(open_as_nobody(tpath("ro/sub")), EACCES);
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(open_as_nobody(tpath("ro")));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), EACCES);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(open_as_nobody(tpath("ro/sub")));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), EACCES);
}
END_TEST

START_TEST(test_close_zeroed)
{
	struct store s = { .lock_fd = -1 };

	store_close(&s);
	store_close(NULL);
	ck_assert_int_eq(store_note_pid(&s), -EBADF);
}
END_TEST

static void check_escape(const char *mnt, const char *want)
{
	char out[PATH_MAX], full[PATH_MAX];

	snprintf(full, sizeof(full), "/var/lib/tierfs/%s", want);
	ck_assert_int_eq(store_default_dir_for(0, mnt, out, sizeof(out)), 0);
	ck_assert_msg(strcmp(out, full) == 0, "%s -> %s, want %s", mnt, out,
		      full);
}

/* Expected values checked against systemd-escape --path. Mountpoints under
 * /nonexistent so realpath() cannot resolve them. */
START_TEST(test_default_dir_escape)
{
	char want[PATH_MAX], out[PATH_MAX], mnt[PATH_MAX];

	check_escape("/nonexistent/tiers", "nonexistent-tiers");
	check_escape("/nonexistent/a b/c", "nonexistent-a\\x20b-c");
	check_escape("/", "-");
	check_escape("//", "-");
	check_escape("/nonexistent/a-b/c", "nonexistent-a\\x2db-c");
	check_escape("/nonexistent/.hidden/x", "nonexistent-.hidden-x");
	check_escape("/.nonexistent/.b", "\\x2enonexistent-.b");
	check_escape("/nonexistent/\xc3\xa9", "nonexistent-\\xc3\\xa9");
	check_escape("/nonexistent/a:b_c.d", "nonexistent-a:b_c.d");
	check_escape("/nonexistent/x/./y/../z//", "nonexistent-x-z");
	check_escape("/nonexistent/../../..", "-");
	check_escape("/nonexistent/a\\b", "nonexistent-a\\x5cb");

	/* Relative to the cwd; an existing path goes through realpath(). */
	ck_assert_int_eq(mkdir(tpath("real"), 0700), 0);
	ck_assert_int_eq(symlink(tpath("real"), tpath("link")), 0);
	ck_assert_int_eq(chdir(tmpdir), 0);
	snprintf(mnt, sizeof(mnt), "%s/real/mnt", tmpdir);
	ck_assert_int_eq(store_default_dir_for(0, "link/../real/./mnt", out,
					       sizeof(out)), 0);
	ck_assert_int_eq(store_default_dir_for(0, mnt, want, sizeof(want)),
			 0);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(store_default_dir_for(0, "link", out, sizeof(out)),
			 0);
	ck_assert_int_eq(store_default_dir_for(0, tpath("real"), want,
					       sizeof(want)), 0);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(store_default_dir_for(0, "", out, sizeof(out)),
			 -EINVAL);
}
END_TEST

START_TEST(test_default_dir_user)
{
	char out[PATH_MAX];

	ck_assert_int_eq(setenv("XDG_DATA_HOME", "/xdg/data", 1), 0);
	ck_assert_int_eq(setenv("HOME", "/home/u", 1), 0);
	ck_assert_int_eq(store_default_dir_for(1000, "/nonexistent/tiers",
					       out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/xdg/data/tierfs/nonexistent-tiers");

	/* Relative XDG_DATA_HOME is ignored, as the XDG spec says. */
	ck_assert_int_eq(setenv("XDG_DATA_HOME", "rel", 1), 0);
	ck_assert_int_eq(store_default_dir_for(1000, "/nonexistent/tiers",
					       out, sizeof(out)), 0);
	ck_assert_str_eq(out,
		"/home/u/.local/share/tierfs/nonexistent-tiers");
	ck_assert_int_eq(unsetenv("XDG_DATA_HOME"), 0);
	ck_assert_int_eq(store_default_dir_for(1000, "/nonexistent/tiers",
					       out, sizeof(out)), 0);
	ck_assert_str_eq(out,
		"/home/u/.local/share/tierfs/nonexistent-tiers");
	/* Root ignores both. */
	ck_assert_int_eq(store_default_dir_for(0, "/nonexistent/tiers", out,
					       sizeof(out)), 0);
	ck_assert_str_eq(out, "/var/lib/tierfs/nonexistent-tiers");

	ck_assert_int_eq(unsetenv("HOME"), 0);
	ck_assert_int_eq(store_default_dir_for(1000, "/nonexistent/tiers",
					       out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(setenv("XDG_DATA_HOME", "/xdg", 1), 0);
	ck_assert_int_eq(store_default_dir_for(1000, "/nonexistent/tiers",
					       out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/xdg/tierfs/nonexistent-tiers");

	/* store_default_dir is the same for our own euid. */
	ck_assert_int_eq(setenv("HOME", "/home/u", 1), 0);
	{
		char mine[PATH_MAX];

		ck_assert_int_eq(store_default_dir("/nonexistent/m", out,
						   sizeof(out)), 0);
		ck_assert_int_eq(store_default_dir_for(geteuid(),
						       "/nonexistent/m", mine,
						       sizeof(mine)), 0);
		ck_assert_str_eq(out, mine);
	}
}
END_TEST

START_TEST(test_default_dir_too_long)
{
	char out[64], *mnt;
	size_t n = 3000;

	ck_assert_int_eq(store_default_dir_for(0, "/nonexistent/tiers", out,
					       sizeof("/var/lib/tierfs/nonexistent-tiers")),
			 0);
	ck_assert_int_eq(store_default_dir_for(0, "/nonexistent/tiers", out,
					       sizeof("/var/lib/tierfs/nonexistent-tiers") - 1),
			 -ENAMETOOLONG);
	/* 3000 spaces escape to 12000 bytes: more than any path. */
	mnt = malloc(n + 2);
	ck_assert_ptr_nonnull(mnt);
	mnt[0] = '/';
	memset(mnt + 1, ' ', n);
	mnt[n + 1] = '\0';
	{
		char big[PATH_MAX];

		ck_assert_int_eq(store_default_dir_for(0, mnt, big,
						       sizeof(big)),
				 -ENAMETOOLONG);
	}
	free(mnt);
}
END_TEST

START_TEST(test_store_path)
{
	struct store s = { .lock_fd = -1 };
	char err[512] = "", out[PATH_MAX], want[PATH_MAX];
	size_t need;

	ck_assert_int_eq(store_path(&s, out, sizeof(out), "x"), -EINVAL);
	ck_assert_int_eq(store_open(&s, tpath("s"), err, sizeof(err)), 0);
	ck_assert_int_eq(store_path(&s, out, sizeof(out), "warm/%08u.seg",
				    42u), 0);
	snprintf(want, sizeof(want), "%s/warm/00000042.seg", tpath("s"));
	ck_assert_str_eq(out, want);
	need = strlen(want) + 1;
	ck_assert_int_eq(store_path(&s, out, need, "warm/%08u.seg", 42u), 0);
	ck_assert_int_eq(store_path(&s, out, need - 1, "warm/%08u.seg", 42u),
			 -ENAMETOOLONG);
	ck_assert_int_eq(store_path(&s, out, 4, "x"), -ENAMETOOLONG);
	store_close(&s);
}
END_TEST

START_TEST(test_fsync_dir)
{
	ck_assert_int_eq(store_fsync_dir(tmpdir), 0);
	ck_assert_int_eq(store_fsync_dir(tpath("missing")), -ENOENT);
	write_file(tpath("f"), "x");
	ck_assert_int_eq(store_fsync_dir(tpath("f")), -ENOTDIR);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("open");
	TCase *td = tcase_create("paths");

	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_new_store);
	tcase_add_test(tc, test_relative_and_existing_empty);
	tcase_add_test(tc, test_busy);
	tcase_add_test(tc, test_lock_survives_fork);
	tcase_add_test(tc, test_wrong_version);
	tcase_add_test(tc, test_garbage_format);
	tcase_add_test(tc, test_metadb_without_format);
	tcase_add_test(tc, test_foreign_dir);
	tcase_add_test(tc, test_not_a_directory);
	tcase_add_test(tc, test_not_writable);
	tcase_add_test(tc, test_close_zeroed);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(td, tmp_setup, tmp_teardown);
	tcase_add_test(td, test_default_dir_escape);
	tcase_add_test(td, test_default_dir_user);
	tcase_add_test(td, test_default_dir_too_long);
	tcase_add_test(td, test_store_path);
	tcase_add_test(td, test_fsync_dir);
	suite_add_tcase(s, td);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
