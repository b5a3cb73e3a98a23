/*
 * cold_store.c - the cold tier's blob store as cold_store= names it (see
 * cold_store.h), the mount-time checks, and the meta.db snapshot.
 *
 * STORE/cold_store holds the cold store in use ("local", or
 * "s3://BUCKET[/PREFIX]"), written whenever the catalog has no
 * archive yet. A mount naming another one while archives exist is refused:
 * their files would read as I/O errors, and the orphan sweep of the new
 * store would see none of them.
 *
 * The snapshot is taken with SQLite's backup API into a local temp file
 * (so the database is read consistently, under meta's lock) and uploaded
 * to PREFIX/meta/meta.db; a key that is no blob name, so no listing of the
 * archives (and no orphan sweep) ever sees it.
 */
#include "cold_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "blob_s3.h"
#include "config.h"
#include "diskcache.h"
#include "log.h"
#include "meta.h"
#include "s3.h"

#define KEY_MAX 256

static void describe(const struct tfs_config *cfg, char *out, size_t len)
{
	if (!cfg->s3.bucket[0])
		snprintf(out, len, "local");
	else
		snprintf(out, len, "s3://%s%s%s", cfg->s3.bucket,
			 cfg->s3.prefix[0] ? "/" : "", cfg->s3.prefix);
}

/* The keys: s3_credentials, else the environment. */
static int credentials(const struct tfs_config *cfg, char *key, char *secret,
		       char *err, size_t errlen)
{
	const char *k = getenv("AWS_ACCESS_KEY_ID");
	const char *s = getenv("AWS_SECRET_ACCESS_KEY");
	char why[600];
	int rc;

	if (cfg->s3.credentials[0]) {
		rc = s3_read_credentials(cfg->s3.credentials, NULL, key,
					 KEY_MAX, secret, KEY_MAX, why,
					 sizeof(why));
		if (rc)
			snprintf(err, errlen, "s3_credentials: %s", why);
		return rc;
	}
	if (k && *k && s && *s && strlen(k) < KEY_MAX && strlen(s) < KEY_MAX) {
		snprintf(key, KEY_MAX, "%s", k);
		snprintf(secret, KEY_MAX, "%s", s);
		return 0;
	}
	snprintf(err, errlen, "no S3 credentials: set s3_credentials=FILE (AWS "
		 "shared-credentials format, profile default) or "
		 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	return -EACCES;
}

int cold_store_open_s3(struct blob_store **out, const struct tfs_config *cfg,
		       const char *ends_dir, char *err, size_t errlen)
{
	char key[KEY_MAX], secret[KEY_MAX], endpoint[600], what[700];
	struct s3_config sc;
	struct s3 *s3 = NULL;
	int rc;

	*out = NULL;
	describe(cfg, what, sizeof(what));
	if (cfg->s3.endpoint[0])
		snprintf(endpoint, sizeof(endpoint), "%s", cfg->s3.endpoint);
	else
		snprintf(endpoint, sizeof(endpoint),
			 "https://s3.%s.amazonaws.com", cfg->s3.region);
	rc = credentials(cfg, key, secret, err, errlen);
	if (rc)
		return rc;
	sc = (struct s3_config){
		.endpoint = endpoint, .region = cfg->s3.region,
		.bucket = cfg->s3.bucket, .access_key = key,
		.secret_key = secret, .timeout_s = cfg->s3.timeout_s,
	};
	rc = s3_open(&s3, &sc);
	explicit_bzero(secret, sizeof(secret));
	if (rc) {
		snprintf(err, errlen, "cold_store %s: bad S3 settings (endpoint "
			 "%s): %s", what, endpoint, strerror(-rc));
		return rc;
	}
	rc = s3_check_bucket(s3);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		snprintf(err, errlen, "cold_store %s: bucket '%s' does not "
			 "exist at %s", what, cfg->s3.bucket, endpoint);
		break;
	case -EACCES:
		snprintf(err, errlen, "cold_store %s: %s refused the "
			 "credentials (access key %.8s...) for bucket '%s'",
			 what, endpoint, key, cfg->s3.bucket);
		break;
	case -ECONNREFUSED:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
		snprintf(err, errlen, "cold_store %s: cannot reach %s: %s",
			 what, endpoint, strerror(-rc));
		break;
	default:
		snprintf(err, errlen, "cold_store %s: %s did not accept a "
			 "listing of bucket '%s' (see the log)", what,
			 endpoint, cfg->s3.bucket);
		break;
	}
	if (!rc)
		rc = blob_s3_open(out, s3, cfg->s3.prefix, ends_dir);
	if (rc && s3) {
		if (!*out)
			s3_close(&s3);
		if (!err[0])
			snprintf(err, errlen, "cold_store %s: %s", what,
				 strerror(-rc));
	}
	return rc;
}

/* STORE/cold_store: the cold store in use (first line), then, for S3, the
 * settings offline tools need to reach it (tierfs-fsck), never a key. */
static int marker_check(const char *store_dir, const struct tfs_config *cfg,
			uint64_t narcs, char *err, size_t errlen)
{
	char path[4200], tmp[4300], want[3000], what[700], have[3000] = "";
	size_t n = 0, first;
	FILE *f;
	int rc = 0;

	describe(cfg, what, sizeof(what));
	first = (size_t)snprintf(want, sizeof(want), "%s\n", what);
	if (cfg->s3.bucket[0])
		snprintf(want + first, sizeof(want) - first,
			 "s3_region = %s\ns3_timeout = %us\n%s%s%s%s%s%s",
			 cfg->s3.region, cfg->s3.timeout_s,
			 cfg->s3.endpoint[0] ? "s3_endpoint = " : "",
			 cfg->s3.endpoint,
			 cfg->s3.endpoint[0] ? "\n" : "",
			 cfg->s3.credentials[0] ? "s3_credentials = " : "",
			 cfg->s3.credentials,
			 cfg->s3.credentials[0] ? "\n" : "");
	snprintf(path, sizeof(path), "%s/cold_store", store_dir);
	f = fopen(path, "re");
	if (f) {
		n = fread(have, 1, sizeof(have) - 1, f);
		fclose(f);
	} else {
		n = (size_t)snprintf(have, sizeof(have), "local\n");
	}
	have[n] = 0;
	if (!strcmp(have, want))
		return 0;
	if (narcs > 0 && (strncmp(have, want, first) ||
			  strchr(have, '\n') != have + first - 1)) {
		have[strcspn(have, "\n")] = 0;
		snprintf(err, errlen, "this store's %llu cold archives are in "
			 "'%s'; mount it with that cold_store, not '%s'",
			 (unsigned long long)narcs, have, what);
		return -EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f || fputs(want, f) < 0 || fflush(f) || fsync(fileno(f)))
		rc = errno ? -errno : -EIO;
	if (f && fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	}
	return rc;
}

/* The local cache of fetched blocks (cold_cache_dir, cold_cache_max). */
static int open_cache(struct blob_store *bs, const struct tfs_config *cfg,
		      const char *store_dir, char *err, size_t errlen)
{
	char dir[4200], origin[1200];
	struct diskcache *dc;
	int rc;

	if (cfg->s3.cache_dir[0])
		snprintf(dir, sizeof(dir), "%s", cfg->s3.cache_dir);
	else
		snprintf(dir, sizeof(dir), "%s/cache", store_dir);
	rc = diskcache_open(&dc, dir, cfg->s3.cache_max);
	if (rc) {
		snprintf(err, errlen, "cold_cache_dir %s: %s", dir,
			 strerror(-rc));
		return rc;
	}
	snprintf(origin, sizeof(origin), "%s/%s", cfg->s3.endpoint[0] ?
		 cfg->s3.endpoint : cfg->s3.region, cfg->s3.bucket);
	blob_s3_set_cache(bs, dc, origin);
	tfs_info("cold cache: %s, at most %llu bytes", dir,
		 (unsigned long long)cfg->s3.cache_max);
	return 0;
}

int cold_store_open(struct blob_store **out, const struct tfs_config *cfg,
		    const char *store_dir, uint64_t narcs, char *err,
		    size_t errlen)
{
	char dir[4200];
	int rc;

	*out = NULL;
	err[0] = 0;
	rc = marker_check(store_dir, cfg, narcs, err, errlen);
	if (rc)
		return rc;
	if (!cfg->s3.bucket[0]) {
		if (cfg->s3.cache_max)
			tfs_info("cold_cache_max ignored: the cold tier is "
				 "local (STORE/cold)");
		snprintf(dir, sizeof(dir), "%s/cold", store_dir);
		rc = blob_local_open(out, dir, 0644, 0);
		if (rc)
			snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s/s3-ends", store_dir);
	rc = cold_store_open_s3(out, cfg, dir, err, errlen);
	if (!rc)
		tfs_info("cold store: s3://%s/%s", cfg->s3.bucket,
			 cfg->s3.prefix);
	if (!rc && cfg->s3.cache_max)
		rc = open_cache(*out, cfg, store_dir, err, errlen);
	if (rc)
		blob_store_close(out);
	return rc;
}

int cold_store_mark(const char *store_dir, const struct tfs_config *cfg,
		    char *err, size_t errlen)
{
	return marker_check(store_dir, cfg, 0, err, errlen);
}

bool cold_store_cache_stats(struct blob_store *bs, struct diskcache_stats *st)
{
	return blob_s3_cache_stats(bs, st);
}

bool cold_store_remote_stats(struct blob_store *bs, struct s3_stats *st)
{
	struct s3 *s3 = blob_s3_client(bs);

	if (!s3)
		return false;
	s3_get_stats(s3, st);
	return true;
}

int cold_store_snapshot(struct blob_store *bs, struct meta *m,
			const char *tmp_dir)
{
	struct s3 *s3 = blob_s3_client(bs);
	char path[4200], key[1300];
	struct stat st;
	int fd, rc;

	if (!s3)
		return 0;
	snprintf(path, sizeof(path), "%s/.meta-snapshot.tmp", tmp_dir);
	unlink(path);
	rc = meta_backup(m, path);
	if (rc)
		goto out_unlink;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out_unlink;
	}
	rc = fstat(fd, &st) ? -errno : 0;
	if (!rc)
		rc = blob_s3_key(bs, "meta", key, sizeof(key));
	if (!rc) {
		/* PREFIX/meta -> PREFIX/meta/meta.db */
		snprintf(key + strlen(key) - 4, sizeof(key) - strlen(key) + 4,
			 "%s", COLD_SNAPSHOT_NAME);
		rc = s3_put_file(s3, key, fd, (uint64_t)st.st_size, NULL);
	}
	close(fd);
out_unlink:
	unlink(path);
	if (rc)
		tfs_err("cold store: cannot upload the meta.db snapshot: %s",
			strerror(-rc));
	return rc;
}
