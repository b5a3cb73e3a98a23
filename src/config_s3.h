/*
 * config_s3.h - the settings of a cold tier on an S3-compatible object
 * store (cold_store=s3://..., s3_endpoint, s3_region, s3_credentials,
 * s3_timeout, and the local cache of fetched blocks: cold_cache_dir,
 * cold_cache_max): their defaults, parsing and checks, as part of config.h's
 * struct tfs_config (field s3).
 *
 * What it is: string settings validated at parse time (a bad bucket name,
 * prefix, URL, region or a relative credentials path is refused with a
 * message naming the key). They are read once at mount; a reload of
 * tierfs.conf does not move a mounted store's cold tier.
 * What it is not: a holder of secrets. Keys come from the credentials file
 * or the environment when the store is opened (cold_store.c), never from
 * an option, so they never appear on the daemon's command line.
 */
#ifndef TIERFS_CONFIG_S3_H
#define TIERFS_CONFIG_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tfs_s3_config {
	char bucket[64];          /* "" when the cold tier is local */
	char prefix[512];         /* key prefix, no leading/trailing '/' */
	char endpoint[512];       /* http[s]://host[:port] */
	char region[64];
	char credentials[1024];   /* AWS shared-credentials file, or "" */
	uint32_t timeout_s;       /* one call's deadline, retries included */
	char cache_dir[1024];     /* cold_cache_dir: "" = STORE/cache */
	uint64_t cache_max;       /* cold_cache_max: bytes; 0 = no cache */
};

void config_s3_defaults(struct tfs_s3_config *c);
/* true for cold_store and the s3_* keys. */
bool config_s3_is_key(const char *key);
/* Set one of them: 0 or -EINVAL with a message in err. */
int config_s3_set(struct tfs_s3_config *c, const char *key,
		  const char *value, char *err, size_t errlen);
/* Call fn for each key with its value (as config_set accepts it back). */
void config_s3_each(const struct tfs_s3_config *c,
		    void (*fn)(void *ctx, const char *key, const char *value),
		    void *ctx);
/* true when the two differ in any S3 setting. */
bool config_s3_differ(const struct tfs_s3_config *a,
		      const struct tfs_s3_config *b);

#endif
