/*
 * config.h - tierfs settings: defaults, parsing and validation of the keys
 * shared by `-o` options and STORE/tierfs.conf.
 *
 * What it is: a plain struct and pure functions. Sizes take K/M/G/T suffixes
 * (powers of 1024, optional trailing "B"/"iB"); durations take
 * ms/s/m/h/d (a bare number means seconds). A bad key or value is refused
 * with a message that names it; the struct is left unchanged for that key.
 * What it is not: a watcher (reloading on change is the policy's job) and
 * not thread-safe: the owner copies it under its own lock.
 */
#ifndef TIERFS_CONFIG_H
#define TIERFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_s3.h"

struct tfs_config {
	uint64_t hot_max;         /* bytes of file data kept in RAM */
	uint64_t hot_age_ms;      /* idle time before hot -> warm */
	uint64_t warm_age_ms;     /* idle time before warm -> cold */
	uint32_t promote_after;   /* reads (within promote_window) to promote */
	uint64_t promote_window_ms;
	uint64_t promote_max;     /* files larger than this are never promoted */
	uint32_t cold_level;      /* xz preset 0..9 */
	uint64_t cold_block;      /* xz block size */
	uint32_t cold_min_saving; /* percent; below it a cold block is stored raw */
	uint64_t archive_max;     /* uncompressed bytes per cold archive */
	uint64_t cache_size;      /* decoded cold block cache */
	uint64_t interval_ms;     /* policy tick */
	uint32_t compact_threshold; /* percent live under which a segment or
				       archive is rewritten */
	uint64_t seg_max;         /* warm segment size */
	bool tierdirs_visible;    /* show .tiers in the root's readdir */
	bool list_tier_xattrs;    /* listxattr lists the user.tierfs.* names */
	/* ops: daemon settings */
	uint32_t log_level;       /* LOG_ERR..LOG_DEBUG (log.h) */
	/* the cold tier on an object store (config_s3.h; read at mount) */
	struct tfs_s3_config s3;
};

/* Fill with defaults; hot_max defaults to 1/4 of physical RAM. */
void config_defaults(struct tfs_config *c);

/*
 * Set one key. Returns 0, or -EINVAL with a message in err (e.g.
 * "hot_max: bad size 'abc'" or "unknown option 'foo'"). Keys: hot_max,
 * hot_age, warm_age, promote_after, promote_window, promote_max, cold_level,
 * cold_block, cold_min_saving, archive_max, cache_size, interval,
 * compact_threshold, seg_max, tierdirs (hidden|visible), list_tier_xattrs
 * (yes|no; also 1/0, true/false, on/off), log_level (error|warn|info|debug).
 */
int config_set(struct tfs_config *c, const char *key, const char *value,
	       char *err, size_t errlen);
/* true if `key` is one of ours. */
bool config_is_key(const char *key);
/* true if `key` is a yes/no key that may be given bare (`-o key` means
 * `-o key=yes`). */
bool config_is_flag(const char *key);

/*
 * Read a tierfs.conf: lines "key = value", '#' comments, blank lines.
 * All-or-nothing: on any error returns -EINVAL, names the line and key in
 * err, and leaves *c unchanged. A missing file is -ENOENT.
 */
int config_load_file(struct tfs_config *c, const char *path, char *err,
		     size_t errlen);

/* Parsers, exposed for tests and tools. 0 or -EINVAL. */
int config_parse_size(const char *s, uint64_t *out);
int config_parse_duration_ms(const char *s, uint64_t *out);

/* Call fn once per key, in a fixed order, with its value in the form
 * config_set() accepts back ("256M", "7d", "hidden", "info"). */
void config_each(const struct tfs_config *c,
		 void (*fn)(void *ctx, const char *key, const char *value),
		 void *ctx);

/* Write a human-readable "key=value" line per key differing between a and
 * b into buf (for "config changed" logs); returns the number of keys that
 * differ. */
int config_diff(const struct tfs_config *a, const struct tfs_config *b,
		char *buf, size_t len);

#endif
