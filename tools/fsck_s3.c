/*
 * fsck_s3.c - tierfs-fsck --restore: rebuild a store on a new machine from
 * what a store with cold_store=s3://... keeps in its bucket.
 *
 *   tierfs-fsck --restore s3://BUCKET[/PREFIX] [--s3-endpoint URL]
 *               [--s3-region R] [--s3-credentials FILE] STORE
 *
 * STORE must not hold a store yet. The restore creates it (as a first
 * mount would), downloads the last meta.db snapshot (PREFIX/meta/meta.db)
 * into it, checks the catalog in full (integrity_check), drops its warm
 * segment rows (restore_catalog), checks that every archive it names
 * is in the bucket, records the cold store (STORE/cold_store) and writes
 * the S3 settings to STORE/tierfs.conf, so `tierfs STORE MOUNTPOINT` mounts
 * it, and writes the clean-stop marker last. The keys come from
 * --s3-credentials, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
 * are not written anywhere).
 *
 * What it does not bring back: the bytes that were hot or warm when the
 * snapshot was taken (they lived on the old machine's disk), and anything
 * written after the snapshot. Such files keep their names and attributes
 * and read as I/O errors; tierfs-fsck STORE lists them.
 *
 * Exit status: 0 restored, 1 restored but archives are missing, 2 usage,
 * 4 could not restore.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "blob_s3.h"
#include "cold_store.h"
#include "config.h"
#include "fsck.h"
#include "meta.h"
#include "s3.h"
#include "store.h"

static void restore_usage(FILE *out)
{
	fprintf(out,
		"usage: tierfs-fsck --restore s3://BUCKET[/PREFIX]"
		" [--s3-endpoint URL] [--s3-region REGION]\n"
		"                   [--s3-credentials FILE] STORE\n"
		"Rebuild a new STORE from the meta.db snapshot and cold archives"
		" a store keeps\nin its S3 cold store. Files that were hot or"
		" warm at the snapshot are not\nbrought back (they read as I/O"
		" errors).\n");
}

static int set(struct tfs_config *cfg, const char *key, const char *v)
{
	char err[512];

	if (config_set(cfg, key, v, err, sizeof(err))) {
		fprintf(stderr, "tierfs-fsck: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* Download the snapshot to path (written, synced, checked). */
static int fetch_snapshot(struct blob_store *bs, const char *path)
{
	char key[1300];
	uint64_t size = 0;
	struct meta *m = NULL;
	int fd, rc;

	rc = blob_s3_key(bs, "meta", key, sizeof(key));
	if (rc)
		return rc;
	snprintf(key + strlen(key) - 4, sizeof(key) - strlen(key) + 4, "%s",
		 COLD_SNAPSHOT_NAME);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = s3_get_file(blob_s3_client(bs), key, fd, &size);
	if (!rc && fsync(fd))
		rc = -errno;
	close(fd);
	if (rc == -ENOENT)
		fprintf(stderr, "tierfs-fsck: no snapshot %s in the bucket\n",
			key);
	if (!rc)
		rc = meta_open(&m, path);
	meta_close(&m);
	return rc;
}

static int keep_first(void *ctx, const char *problem)
{
	snprintf(ctx, 200, "%s", problem);
	return 1;       /* one is enough to refuse */
}

/* Make the downloaded catalog the new store's: refuse a damaged one
 * (SQLite integrity_check), and forget the warm segments. They were on the
 * old machine's disk and this store has none: a row kept would have every
 * mount log the segment as missing and compaction try to delete it. The
 * extents into them stay, so the files whose bytes were hot or warm keep
 * reading EIO and tierfs-fsck STORE lists them; the segment id counter
 * stays too, so no new segment reuses an id those extents name. */
static int restore_catalog(const char *db, size_t *nsegs)
{
	struct meta_seg *segs = NULL;
	struct meta *m = NULL;
	char first[200] = "";
	unsigned bad = 0;
	int rc;

	*nsegs = 0;
	rc = meta_open(&m, db);
	if (!rc)
		rc = meta_check(m, false, keep_first, first, &bad);
	if (!rc && bad) {
		fprintf(stderr, "tierfs-fsck: the snapshot's meta.db is "
			"damaged (SQLite integrity_check: %s)\n", first);
		rc = -EIO;
	}
	if (!rc)
		rc = meta_seg_list(m, &segs, nsegs);
	if (!rc && *nsegs) {
		rc = meta_begin(m);
		if (!rc) {
			for (size_t i = 0; !rc && i < *nsegs; i++)
				rc = meta_seg_delete(m, segs[i].id);
			rc = meta_finish(m, rc);
		}
	}
	free(segs);
	meta_close(&m);
	return rc;
}

struct have {
	uint64_t *ids;
	size_t n;
};

static int note_obj(void *ctx, const char *name, uint64_t size)
{
	struct have *h = ctx;
	char *end;
	uint64_t id = strtoull(name, &end, 16);
	uint64_t *p;

	(void)size;
	if (end == name || strcmp(end, ".xz"))
		return 0;
	p = realloc(h->ids, (h->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	h->ids = p;
	h->ids[h->n++] = id;
	return 0;
}

/* Every archive the catalog names must be in the bucket. */
static int check_archives(struct blob_store *bs, const char *db,
			  size_t *narcs, size_t *missing)
{
	struct meta_arc *arcs = NULL;
	struct have h = { 0 };
	struct meta *m = NULL;
	int rc;

	*narcs = *missing = 0;
	rc = meta_open(&m, db);
	if (!rc)
		rc = meta_arc_list(m, &arcs, narcs);
	if (!rc)
		rc = blob_list(bs, "", note_obj, &h);
	for (size_t i = 0; !rc && i < *narcs; i++) {
		bool found = false;

		for (size_t j = 0; j < h.n && !found; j++)
			found = h.ids[j] == arcs[i].id;
		if (!found) {
			fprintf(stderr, "tierfs-fsck: archive %08llx.xz named "
				"by the snapshot is not in the bucket\n",
				(unsigned long long)arcs[i].id);
			(*missing)++;
		}
	}
	free(h.ids);
	free(arcs);
	meta_close(&m);
	return rc;
}

static int write_conf(const char *store, const char *url,
		      const struct tfs_config *cfg)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tierfs.conf", store);
	f = fopen(path, "wx");
	if (!f)
		return errno == EEXIST ? 0 : -errno;
	fprintf(f, "# written by tierfs-fsck --restore\ncold_store = %s\n",
		url);
	if (cfg->s3.endpoint[0])
		fprintf(f, "s3_endpoint = %s\n", cfg->s3.endpoint);
	fprintf(f, "s3_region = %s\n", cfg->s3.region);
	if (cfg->s3.credentials[0])
		fprintf(f, "s3_credentials = %s\n", cfg->s3.credentials);
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

/* What the directory a restore goes into held before it. */
struct restore_before {
	bool existed;           /* the directory */
	bool had_format;        /* a store's FORMAT */
	bool had_conf;          /* a tierfs.conf */
};

static bool exists_in(const char *dir, const char *name)
{
	char p[4200];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &sb) == 0;
}

/* A failed restore takes back what it made, so no half-made store stays
 * behind: the files a new store gets and the fetched ends, the store's
 * directories when empty, and the directory itself if it made it. It
 * never removes what was there before, and says what it left. */
static void restore_undo(const char *dir, const struct restore_before *b)
{
	static const char *const made[] = {
		"meta.db.restore", "meta.db", "meta.db-wal", "meta.db-shm",
		"cold_store", "cold_store.tmp", "FORMAT", "lock", "clean",
	};
	char p[4200];
	struct dirent *de;
	DIR *d;

	if (b->had_format) {
		snprintf(p, sizeof(p), "%s/meta.db.restore", dir);
		unlink(p);
		fprintf(stderr, "tierfs-fsck: %s held a store before the "
			"restore; left as it was\n", dir);
		return;
	}
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, made[i]);
		unlink(p);
	}
	if (!b->had_conf) {
		snprintf(p, sizeof(p), "%s/tierfs.conf", dir);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/s3-ends", dir);
	d = opendir(p);
	while (d && (de = readdir(d)) != NULL) {
		char f[4500];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
		unlink(f);
	}
	if (d)
		closedir(d);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/warm", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/cold", dir);
	rmdir(p);
	if (!b->existed && rmdir(dir) == 0)
		fprintf(stderr, "tierfs-fsck: removed the partly made store "
			"%s\n", dir);
	else if (!b->existed)
		fprintf(stderr, "tierfs-fsck: could not remove the partly made "
			"store %s: %s\n", dir, strerror(errno));
	else
		fprintf(stderr, "tierfs-fsck: %s is as it was before the "
			"restore\n", dir);
}

int fsck_s3_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "restore", required_argument, NULL, 'R' },
		{ "s3-endpoint", required_argument, NULL, 'e' },
		{ "s3-region", required_argument, NULL, 'g' },
		{ "s3-credentials", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tfs_config cfg;
	struct store st = { .lock_fd = -1 };
	struct blob_store *bs = NULL;
	const char *url = NULL, *dir;
	char err[1024], path[4200], tmp[4300];
	size_t narcs = 0, missing = 0, nsegs = 0;
	struct restore_before before = { 0 };
	struct stat sb;
	int c, rc;

	config_defaults(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = 0;
		if (c == 'R') {
			url = optarg;
			rc = set(&cfg, "cold_store", optarg);
		} else if (c == 'e') {
			rc = set(&cfg, "s3_endpoint", optarg);
		} else if (c == 'g') {
			rc = set(&cfg, "s3_region", optarg);
		} else if (c == 'c') {
			rc = set(&cfg, "s3_credentials", optarg);
		} else if (c == 'h') {
			restore_usage(stdout);
			return FSCK_CLEAN;
		} else {
			rc = -EINVAL;
		}
		if (rc) {
			restore_usage(stderr);
			return FSCK_USAGE;
		}
	}
	if (!url || !cfg.s3.bucket[0] || optind != argc - 1) {
		fprintf(stderr, "tierfs-fsck: --restore needs s3://BUCKET"
			"[/PREFIX] and one STORE\n");
		restore_usage(stderr);
		return FSCK_USAGE;
	}
	dir = argv[optind];
	snprintf(path, sizeof(path), "%s/meta.db", dir);
	if (stat(path, &sb) == 0) {
		fprintf(stderr, "tierfs-fsck: %s already holds a store; restore"
			" into a new directory\n", dir);
		return FSCK_FAILED;
	}
	before.existed = stat(dir, &sb) == 0;
	before.had_format = before.existed && exists_in(dir, "FORMAT");
	before.had_conf = before.existed && exists_in(dir, "tierfs.conf");
	rc = store_open(&st, dir, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "tierfs-fsck: %s\n", err);
		restore_undo(dir, &before);
		return FSCK_FAILED;
	}
	snprintf(tmp, sizeof(tmp), "%s/s3-ends", st.dir);
	rc = cold_store_open_s3(&bs, &cfg, tmp, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "tierfs-fsck: %s\n", err);
		goto out_close;
	}
	snprintf(path, sizeof(path), "%s/meta.db", st.dir);
	snprintf(tmp, sizeof(tmp), "%s/meta.db.restore", st.dir);
	unlink(tmp);
	rc = fetch_snapshot(bs, tmp);
	if (!rc)
		rc = restore_catalog(tmp, &nsegs);
	if (!rc)
		rc = check_archives(bs, tmp, &narcs, &missing);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		fprintf(stderr, "tierfs-fsck: restoring %s: %s\n", url,
			strerror(-rc));
		goto out_close;
	}
	store_fsync_dir(st.dir);
	rc = cold_store_mark(st.dir, &cfg, err, sizeof(err));
	if (rc)
		fprintf(stderr, "tierfs-fsck: %s\n", err);
	if (!rc)
		rc = write_conf(st.dir, url, &cfg);
	/* Last, as a clean unmount does: the catalog is a consistent
	 * snapshot checked in full above, so the first mount has no stop to
	 * distrust. Without the marker it checks in full and says so. */
	if (!rc && store_clean_set(&st, true))
		fprintf(stderr, "tierfs-fsck: cannot write %s/clean; the first "
			"mount checks meta.db in full\n", st.dir);
	if (!rc)
		printf("tierfs-fsck: restored %s from %s: %zu archive%s, %zu "
		       "missing, %zu warm segment%s left behind. Files that "
		       "were hot or warm at the snapshot read as I/O errors "
		       "(tierfs-fsck %s lists them).\n", st.dir, url, narcs,
		       narcs == 1 ? "" : "s", missing, nsegs,
		       nsegs == 1 ? "" : "s", st.dir);
out_close:
	blob_store_close(&bs);
	store_close(&st);
	if (rc) {
		restore_undo(dir, &before);
		return FSCK_FAILED;
	}
	return missing ? FSCK_PROBLEMS : FSCK_CLEAN;
}

/* ---- checking a store whose cold tier is on S3 ---- */

int fsck_s3_open(struct fsck *k)
{
	char path[PATH_MAX], line[1300], err[1024];
	struct tfs_config cfg;
	FILE *f;
	int rc;

	if (!fsck_pathf(path, sizeof(path), "%s/cold_store", k->store.dir))
		return FSCK_FAILED;
	f = fopen(path, "re");
	if (!f)
		return 0;               /* local: the cold/ directory */
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	line[strcspn(line, "\n")] = 0;
	if (!strcmp(line, "local")) {
		fclose(f);
		return 0;
	}
	/* The settings the daemon last mounted it with (key = value lines
	 * after the first), keys from the environment or s3_credentials. */
	config_defaults(&cfg);
	rc = config_set(&cfg, "cold_store", line, err, sizeof(err));
	while (!rc && fgets(line, sizeof(line), f)) {
		char *eq = strstr(line, " = ");

		line[strcspn(line, "\n")] = 0;
		if (!eq)
			continue;
		*eq = 0;
		rc = config_set(&cfg, line, eq + 3, err, sizeof(err));
	}
	fclose(f);
	if (rc) {
		fatal(k, "%s/cold_store: %s", k->store.dir, err);
		return FSCK_FAILED;
	}
	if (!fsck_pathf(path, sizeof(path), "%s/s3-ends", k->store.dir))
		return FSCK_FAILED;
	rc = cold_store_open_s3(&k->cold_bs, &cfg, path, err, sizeof(err));
	if (rc) {
		fatal(k, "%s (the S3 settings come from %s/cold_store, the "
		      "keys from there or the environment)", err,
		      k->store.dir);
		return FSCK_FAILED;
	}
	note(k, "cold archives in %s", line);
	return 0;
}

static int report_orphan(void *ctx, const char *name, uint64_t size)
{
	struct fsck *k = ctx;
	char *end;
	uint64_t id = strtoull(name, &end, 16);
	char canon[32];

	(void)size;
	snprintf(canon, sizeof(canon), "%08llx.xz", (unsigned long long)id);
	if (end != name && !strcmp(canon, name) &&
	    find_id(k->arcs, k->narcs, sizeof(*k->arcs), id))
		return 0;
	problem(k, "s3 object %s: orphan (not in the catalog; the next mount "
		"deletes it)", name);
	return 0;
}

void fsck_s3_orphans(struct fsck *k)
{
	int rc = blob_list(k->cold_bs, "", report_orphan, k);

	if (rc)
		problem(k, "cannot list the S3 cold store: %s", strerror(-rc));
}
