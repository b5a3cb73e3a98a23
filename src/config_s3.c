/*
 * config_s3.c - the S3 cold-store settings of config_s3.h.
 */
#include "config_s3.h"

#include <inttypes.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define DEFAULT_REGION "us-east-1"

static const char *const s3_keys[] = {
	"cold_store", "s3_endpoint", "s3_region", "s3_credentials",
	"s3_timeout", "cold_cache_dir", "cold_cache_max",
};

#define NS3KEYS (sizeof(s3_keys) / sizeof(s3_keys[0]))

static __attribute__((format(printf, 3, 4)))
int s3_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void config_s3_defaults(struct tfs_s3_config *c)
{
	*c = (struct tfs_s3_config){ .timeout_s = 30 };
	snprintf(c->region, sizeof(c->region), "%s", DEFAULT_REGION);
}

bool config_s3_is_key(const char *key)
{
	for (size_t i = 0; key && i < NS3KEYS; i++)
		if (!strcmp(key, s3_keys[i]))
			return true;
	return false;
}

/* S3 bucket naming: 3..63 of [a-z0-9.-], starting and ending with a letter
 * or digit. */
static bool bucket_ok(const char *b, size_t n)
{
	if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) ||
	    !isalnum((unsigned char)b[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) ||
		      isdigit((unsigned char)b[i]) || b[i] == '.' ||
		      b[i] == '-'))
			return false;
	return true;
}

/* A prefix: segments of [A-Za-z0-9._-] joined by single '/', no "." or
 * ".." segment. */
static bool prefix_ok(const char *p)
{
	const char *seg = p;

	for (;; p++) {
		if (*p == '/' || *p == 0) {
			size_t n = (size_t)(p - seg);

			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (*p == 0)
				return true;
			seg = p + 1;
		} else if (!isalnum((unsigned char)*p) && *p != '.' &&
			   *p != '_' && *p != '-') {
			return false;
		}
	}
}

static int set_store(struct tfs_s3_config *c, const char *v, char *err,
		     size_t errlen)
{
	const char *b, *slash;
	size_t bn;

	if (!strcmp(v, "local")) {
		c->bucket[0] = c->prefix[0] = 0;
		return 0;
	}
	if (strncmp(v, "s3://", 5))
		return s3_err(err, errlen, "cold_store: must be 'local' or "
			      "s3://BUCKET[/PREFIX], got '%s'", v);
	b = v + 5;
	slash = strchr(b, '/');
	bn = slash ? (size_t)(slash - b) : strlen(b);
	if (!bucket_ok(b, bn))
		return s3_err(err, errlen, "cold_store: bad bucket name in "
			      "'%s' (3-63 of a-z, 0-9, '.', '-')", v);
	if (slash && (strlen(slash + 1) >= sizeof(c->prefix) ||
		      !prefix_ok(slash + 1)))
		return s3_err(err, errlen, "cold_store: bad prefix in '%s' "
			      "(segments of A-Z a-z 0-9 . _ - joined by "
			      "single '/', no trailing '/')", v);
	snprintf(c->bucket, sizeof(c->bucket), "%.*s", (int)bn, b);
	snprintf(c->prefix, sizeof(c->prefix), "%s", slash ? slash + 1 : "");
	return 0;
}

static int set_endpoint(struct tfs_s3_config *c, const char *v, char *err,
			size_t errlen)
{
	const char *host;

	if (!strncmp(v, "http://", 7))
		host = v + 7;
	else if (!strncmp(v, "https://", 8))
		host = v + 8;
	else
		return s3_err(err, errlen, "s3_endpoint: must start with "
			      "http:// or https://, got '%s'", v);
	if (!*host || *host == '/' || strlen(v) >= sizeof(c->endpoint) ||
	    strpbrk(v, " \t\r\n?#@\"\\"))
		return s3_err(err, errlen, "s3_endpoint: bad URL '%s'", v);
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", v);
	return 0;
}

int config_s3_set(struct tfs_s3_config *c, const char *key,
		  const char *v, char *err, size_t errlen)
{
	if (!v || !*v)
		return s3_err(err, errlen, "%s: missing value", key);
	if (!strcmp(key, "cold_store"))
		return set_store(c, v, err, errlen);
	if (!strcmp(key, "s3_endpoint"))
		return set_endpoint(c, v, err, errlen);
	if (!strcmp(key, "s3_region")) {
		for (const char *p = v; *p; p++)
			if (!islower((unsigned char)*p) &&
			    !isdigit((unsigned char)*p) && *p != '-')
				return s3_err(err, errlen, "s3_region: bad "
					      "region '%s'", v);
		if (strlen(v) >= sizeof(c->region))
			return s3_err(err, errlen, "s3_region: too long");
		snprintf(c->region, sizeof(c->region), "%s", v);
		return 0;
	}
	if (!strcmp(key, "s3_credentials")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->credentials))
			return s3_err(err, errlen, "s3_credentials: must be "
				      "an absolute path, got '%s'", v);
		snprintf(c->credentials, sizeof(c->credentials), "%s", v);
		return 0;
	}
	if (!strcmp(key, "s3_timeout")) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, 10);
		if (end == v || errno || (*end && strcmp(end, "s")) || n < 1 ||
		    n > 3600)
			return s3_err(err, errlen, "s3_timeout: must be 1..3600"
				      " seconds (e.g. 30s), got '%s'", v);
		c->timeout_s = (uint32_t)n;
		return 0;
	}
	if (!strcmp(key, "cold_cache_dir")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->cache_dir))
			return s3_err(err, errlen, "cold_cache_dir: must be "
				      "an absolute path, got '%s'", v);
		snprintf(c->cache_dir, sizeof(c->cache_dir), "%s", v);
		return 0;
	}
	if (!strcmp(key, "cold_cache_max")) {
		uint64_t n;

		if (config_parse_size(v, &n))
			return s3_err(err, errlen, "cold_cache_max: bad size "
				      "'%s'", v);
		if (n != 0 && n < ((uint64_t)1 << 20))
			return s3_err(err, errlen, "cold_cache_max: 0 (no "
				      "cache) or at least 1M, got '%s'", v);
		c->cache_max = n;
		return 0;
	}
	return s3_err(err, errlen, "unknown option '%s'", key);
}

void config_s3_each(const struct tfs_s3_config *c,
		    void (*fn)(void *ctx, const char *key, const char *value),
		    void *ctx)
{
	char v[700];

	if (c->bucket[0])
		snprintf(v, sizeof(v), "s3://%s%s%s", c->bucket,
			 c->prefix[0] ? "/" : "", c->prefix);
	else
		snprintf(v, sizeof(v), "local");
	fn(ctx, "cold_store", v);
	if (c->endpoint[0])
		fn(ctx, "s3_endpoint", c->endpoint);
	fn(ctx, "s3_region", c->region);
	if (c->credentials[0])
		fn(ctx, "s3_credentials", c->credentials);
	snprintf(v, sizeof(v), "%us", c->timeout_s);
	fn(ctx, "s3_timeout", v);
	if (c->cache_dir[0])
		fn(ctx, "cold_cache_dir", c->cache_dir);
	snprintf(v, sizeof(v), "%" PRIu64, c->cache_max);
	fn(ctx, "cold_cache_max", v);
}

bool config_s3_differ(const struct tfs_s3_config *a,
		      const struct tfs_s3_config *b)
{
	return strcmp(a->bucket, b->bucket) || strcmp(a->prefix, b->prefix) ||
	       strcmp(a->endpoint, b->endpoint) ||
	       strcmp(a->region, b->region) ||
	       strcmp(a->credentials, b->credentials) ||
	       a->timeout_s != b->timeout_s ||
	       strcmp(a->cache_dir, b->cache_dir) ||
	       a->cache_max != b->cache_max;
}
