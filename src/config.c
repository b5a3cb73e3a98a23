/*
 * config.c - see config.h.
 *
 * Every key is one row of a const table: its name, its kind (size,
 * duration, integer, tierdirs, yes/no), where it lives in struct tfs_config and
 * its bounds. config_set() parses the value into a 64-bit number, checks
 * the bounds and only then stores it, so a refused value never touches the
 * struct. The one rule that ties two keys together (archive_max must hold
 * at least one cold_block) is checked against the other key's current
 * value whichever of the two is set.
 *
 * config_load_file() applies a file's lines to a private copy and copies
 * it back only when every line was accepted.
 */
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

#define SEC_MS (UINT64_C(1000))
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

/* Longest accepted tierfs.conf line, without its newline. */
#define CONFIG_LINE_MAX 4096

enum config_kind {
	CONFIG_SIZE,
	CONFIG_DURATION,
	CONFIG_UINT,    /* plain decimal integer */
	CONFIG_PERCENT, /* integer 0..100, optional trailing '%' */
	CONFIG_TIERDIRS,
	CONFIG_BOOL,    /* yes/no, 1/0, true/false, on/off */
	CONFIG_LOGLEVEL, /* error|warn|info|debug */
};

struct config_key {
	const char *name;
	enum config_kind kind;
	size_t off;     /* offsetof the field in struct tfs_config */
	size_t width;   /* sizeof the field: 4 or 8 (or 1 for the bool) */
	uint64_t min;
	uint64_t max;
};

#define FIELD(f) offsetof(struct tfs_config, f), \
	sizeof(((struct tfs_config *)0)->f)

static const struct config_key config_keys[] = {
	{ "hot_max", CONFIG_SIZE, FIELD(hot_max), MiB, UINT64_MAX },
	{ "hot_age", CONFIG_DURATION, FIELD(hot_age_ms), 0, UINT64_MAX },
	{ "warm_age", CONFIG_DURATION, FIELD(warm_age_ms), 0, UINT64_MAX },
	{ "promote_after", CONFIG_UINT, FIELD(promote_after), 1, UINT32_MAX },
	{ "promote_window", CONFIG_DURATION, FIELD(promote_window_ms), 0,
	  UINT64_MAX },
	{ "promote_max", CONFIG_SIZE, FIELD(promote_max), 0, UINT64_MAX },
	{ "cold_level", CONFIG_UINT, FIELD(cold_level), 0, 9 },
	{ "cold_block", CONFIG_SIZE, FIELD(cold_block), 4 * KiB, 64 * MiB },
	{ "cold_min_saving", CONFIG_PERCENT, FIELD(cold_min_saving), 0, 100 },
	{ "archive_max", CONFIG_SIZE, FIELD(archive_max), 0, UINT64_MAX },
	{ "cache_size", CONFIG_SIZE, FIELD(cache_size), 0, UINT64_MAX },
	{ "interval", CONFIG_DURATION, FIELD(interval_ms), 10, UINT64_MAX },
	{ "compact_threshold", CONFIG_PERCENT, FIELD(compact_threshold), 0,
	  100 },
	{ "seg_max", CONFIG_SIZE, FIELD(seg_max), MiB, UINT64_MAX },
	{ "tierdirs", CONFIG_TIERDIRS, FIELD(tierdirs_visible), 0, 1 },
	{ "list_tier_xattrs", CONFIG_BOOL, FIELD(list_tier_xattrs), 0, 1 },
	/* ops: daemon settings */
	{ "log_level", CONFIG_LOGLEVEL, FIELD(log_level), LOG_ERR, LOG_DEBUG },
};

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_hint[] = {
	[CONFIG_SIZE] = " (use e.g. 512M, 2G)",
	[CONFIG_DURATION] = " (use e.g. 500ms, 30s, 10m, 1h, 7d)",
	[CONFIG_UINT] = "",
	[CONFIG_PERCENT] = "",
	[CONFIG_TIERDIRS] = "",
	[CONFIG_BOOL] = "",
	[CONFIG_LOGLEVEL] = "",
};

static const char *const config_what[] = {
	[CONFIG_SIZE] = "size",
	[CONFIG_DURATION] = "duration",
	[CONFIG_UINT] = "number",
	[CONFIG_PERCENT] = "percentage",
	[CONFIG_TIERDIRS] = "value",
	[CONFIG_BOOL] = "value",
	[CONFIG_LOGLEVEL] = "value",
};

void config_defaults(struct tfs_config *c)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);
	uint64_t ram = 4 * GiB;

	if (pages > 0 && psize > 0)
		ram = (uint64_t)pages * (uint64_t)psize;
	*c = (struct tfs_config){
		/* whole MiB, so that it reads back as e.g. "6026M" */
		.hot_max = ram / 4 < MiB ? MiB : ram / 4 / MiB * MiB,
		.hot_age_ms = HOUR_MS,
		.warm_age_ms = 7 * DAY_MS,
		.promote_after = 2,
		.promote_window_ms = 10 * MIN_MS,
		.promote_max = 256 * MiB,
		.cold_level = 6,
		.cold_block = 256 * KiB,
		.cold_min_saving = 10,
		.archive_max = 256 * MiB,
		.cache_size = 64 * MiB,
		.interval_ms = 10 * SEC_MS,
		.compact_threshold = 50,
		.seg_max = 64 * MiB,
		.tierdirs_visible = false,
		.list_tier_xattrs = false,
		.log_level = LOG_INFO,
	};
	config_s3_defaults(&c->s3);
}

static __attribute__((format(printf, 3, 4)))
void config_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Parse leading decimal digits at *s (at least one); advance *s. */
static int config_parse_digits(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*s = p;
	*out = v;
	return 0;
}

static int config_mul(uint64_t v, uint64_t unit, uint64_t *out)
{
	if (unit != 0 && v > UINT64_MAX / unit)
		return -EINVAL;
	*out = v * unit;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, unit = 1;
	int shift = 0;

	if (!s || config_parse_digits(&s, &v) < 0)
		return -EINVAL;
	switch (tolower((unsigned char)*s)) {
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	case 't': shift = 40; break;
	default: break;
	}
	if (shift) {
		unit = UINT64_C(1) << shift;
		s++;
		if (tolower((unsigned char)s[0]) == 'i' &&
		    tolower((unsigned char)s[1]) == 'b')
			s += 2;
		else if (tolower((unsigned char)s[0]) == 'b')
			s++;
	} else if (tolower((unsigned char)*s) == 'b') {
		s++;
	}
	if (*s != '\0')
		return -EINVAL;
	return config_mul(v, unit, out);
}

int config_parse_duration_ms(const char *s, uint64_t *out)
{
	uint64_t v, unit;

	if (!s || config_parse_digits(&s, &v) < 0)
		return -EINVAL;
	if (*s == '\0' || strcasecmp(s, "s") == 0)
		unit = SEC_MS;
	else if (strcasecmp(s, "ms") == 0)
		unit = 1;
	else if (strcasecmp(s, "m") == 0)
		unit = MIN_MS;
	else if (strcasecmp(s, "h") == 0)
		unit = HOUR_MS;
	else if (strcasecmp(s, "d") == 0)
		unit = DAY_MS;
	else
		return -EINVAL;
	return config_mul(v, unit, out);
}

static int config_parse_uint(const char *s, bool percent, uint64_t *out)
{
	if (!s || config_parse_digits(&s, out) < 0)
		return -EINVAL;
	if (percent && *s == '%')
		s++;
	return *s == '\0' ? 0 : -EINVAL;
}

static const struct config_key *config_find(const char *key)
{
	size_t i;

	if (!key)
		return NULL;
	for (i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].name, key) == 0)
			return &config_keys[i];
	return NULL;
}

bool config_is_key(const char *key)
{
	return config_find(key) != NULL || config_s3_is_key(key);
}

bool config_is_flag(const char *key)
{
	const struct config_key *k = config_find(key);

	return k && k->kind == CONFIG_BOOL;
}

/* yes/no and friends: 1 or 0, -1 if neither. */
static int config_parse_bool(const char *s)
{
	static const char *const yes[] = { "yes", "1", "true", "on" };
	static const char *const no[] = { "no", "0", "false", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static uint64_t config_get(const struct tfs_config *c,
			   const struct config_key *k)
{
	const char *p = (const char *)c + k->off;

	switch (k->width) {
	case sizeof(uint64_t): return *(const uint64_t *)(const void *)p;
	case sizeof(uint32_t): return *(const uint32_t *)(const void *)p;
	default: return *(const bool *)(const void *)p;
	}
}

static void config_put(struct tfs_config *c, const struct config_key *k,
		       uint64_t v)
{
	char *p = (char *)c + k->off;

	switch (k->width) {
	case sizeof(uint64_t): *(uint64_t *)(void *)p = v; break;
	case sizeof(uint32_t): *(uint32_t *)(void *)p = (uint32_t)v; break;
	default: *(bool *)(void *)p = v != 0; break;
	}
}

/* Human form of a value: "256M", "7d", "500ms", "visible". */
static void config_format(const struct config_key *k, uint64_t v,
			  char *buf, size_t len)
{
	static const struct { uint64_t unit; const char *sfx; } sizes[] = {
		{ UINT64_C(1) << 40, "T" }, { GiB, "G" }, { MiB, "M" },
		{ KiB, "K" },
	}, durs[] = {
		{ DAY_MS, "d" }, { HOUR_MS, "h" }, { MIN_MS, "m" },
		{ SEC_MS, "s" },
	};
	size_t i;

	switch (k->kind) {
	case CONFIG_SIZE:
		for (i = 0; v && i < sizeof(sizes) / sizeof(sizes[0]); i++)
			if (v % sizes[i].unit == 0) {
				snprintf(buf, len, "%llu%s",
					 (unsigned long long)(v / sizes[i].unit),
					 sizes[i].sfx);
				return;
			}
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return;
	case CONFIG_DURATION:
		for (i = 0; v && i < sizeof(durs) / sizeof(durs[0]); i++)
			if (v % durs[i].unit == 0) {
				snprintf(buf, len, "%llu%s",
					 (unsigned long long)(v / durs[i].unit),
					 durs[i].sfx);
				return;
			}
		snprintf(buf, len, "%llu%s", (unsigned long long)v,
			 v ? "ms" : "s");
		return;
	case CONFIG_TIERDIRS:
		snprintf(buf, len, "%s", v ? "visible" : "hidden");
		return;
	case CONFIG_BOOL:
		snprintf(buf, len, "%s", v ? "yes" : "no");
		return;
	case CONFIG_LOGLEVEL:
		snprintf(buf, len, "%s", log_level_name((int)v));
		return;
	case CONFIG_PERCENT:
	case CONFIG_UINT:
		break;
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* The bounds part of an error: "must be 0..9", "must be at least 1M". */
static void config_range_err(const struct config_key *k, const char *value,
			     char *err, size_t errlen)
{
	char lo[32], hi[32];

	config_format(k, k->min, lo, sizeof(lo));
	config_format(k, k->max, hi, sizeof(hi));
	if (k->max == UINT64_MAX)
		config_err(err, errlen, "%s: must be at least %s, got '%s'",
			   k->name, lo, value);
	else
		config_err(err, errlen, "%s: must be %s..%s, got '%s'",
			   k->name, lo, hi, value);
}

int config_set(struct tfs_config *c, const char *key, const char *value,
	       char *err, size_t errlen)
{
	const struct config_key *k = config_find(key);
	char other[32];
	uint64_t v;
	int rc = -EINVAL;

	if (config_s3_is_key(key))
		return config_s3_set(&c->s3, key, value, err, errlen);
	if (!k) {
		config_err(err, errlen, "unknown option '%s'",
			   key ? key : "");
		return -EINVAL;
	}
	if (!value || !*value) {
		config_err(err, errlen, "%s: missing value", k->name);
		return -EINVAL;
	}
	switch (k->kind) {
	case CONFIG_SIZE:
		rc = config_parse_size(value, &v);
		break;
	case CONFIG_DURATION:
		rc = config_parse_duration_ms(value, &v);
		break;
	case CONFIG_UINT:
	case CONFIG_PERCENT:
		rc = config_parse_uint(value, k->kind == CONFIG_PERCENT, &v);
		break;
	case CONFIG_TIERDIRS:
		if (strcmp(value, "hidden") == 0 ||
		    strcmp(value, "visible") == 0) {
			v = strcmp(value, "visible") == 0;
			rc = 0;
		} else {
			config_err(err, errlen,
				   "%s: must be hidden or visible, got '%s'",
				   k->name, value);
			return -EINVAL;
		}
		break;
	case CONFIG_BOOL:
		rc = config_parse_bool(value);
		if (rc < 0) {
			config_err(err, errlen,
				   "%s: must be yes or no, got '%s'",
				   k->name, value);
			return -EINVAL;
		}
		v = (uint64_t)rc;
		rc = 0;
		break;
	case CONFIG_LOGLEVEL: {
		int lv;

		if (log_parse_level(value, &lv)) {
			config_err(err, errlen,
				   "%s: must be error, warn, info or debug, "
				   "got '%s'", k->name, value);
			return -EINVAL;
		}
		v = (uint64_t)lv;
		rc = 0;
		break;
	}
	}
	if (rc < 0) {
		config_err(err, errlen, "%s: bad %s '%s'%s", k->name,
			   config_what[k->kind], value, config_hint[k->kind]);
		return -EINVAL;
	}
	if (v < k->min || v > k->max) {
		config_range_err(k, value, err, errlen);
		return -EINVAL;
	}
	if (strcmp(k->name, "archive_max") == 0 && v < c->cold_block) {
		config_format(config_find("cold_block"), c->cold_block, other,
			      sizeof(other));
		config_err(err, errlen,
			   "archive_max: must be at least cold_block (%s), got '%s'",
			   other, value);
		return -EINVAL;
	}
	if (strcmp(k->name, "cold_block") == 0 && v > c->archive_max) {
		config_format(config_find("archive_max"), c->archive_max,
			      other, sizeof(other));
		config_err(err, errlen,
			   "cold_block: must be at most archive_max (%s), got '%s'",
			   other, value);
		return -EINVAL;
	}
	config_put(c, k, v);
	return 0;
}

/* Strip a comment ('#' at the start or after whitespace) and surrounding
 * whitespace, in place; returns the trimmed start. */
static char *config_trim_line(char *line)
{
	char *p, *end;

	for (p = line; *p; p++)
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	while (isspace((unsigned char)*line))
		line++;
	end = line + strlen(line);
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return line;
}

/* Apply one line (already trimmed, non-empty) to c. */
static int config_apply_line(struct tfs_config *c, char *line, char *err,
			     size_t errlen)
{
	char *eq = strchr(line, '='), *key = line, *value, *end;

	if (!eq) {
		config_err(err, errlen, "expected 'key = value', got '%s'",
			   line);
		return -EINVAL;
	}
	*eq = '\0';
	value = eq + 1;
	end = eq;
	while (end > key && isspace((unsigned char)end[-1]))
		*--end = '\0';
	while (isspace((unsigned char)*value))
		value++;
	if (!*key) {
		config_err(err, errlen, "missing key before '='");
		return -EINVAL;
	}
	return config_set(c, key, value, err, errlen);
}

int config_load_file(struct tfs_config *c, const char *path, char *err,
		     size_t errlen)
{
	char line[CONFIG_LINE_MAX + 2], msg[512];
	struct tfs_config copy = *c;
	unsigned lineno = 0;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		config_err(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		char *p;

		lineno++;
		if (n > 0 && line[n - 1] == '\n') {
			line[--n] = '\0';
		} else if (!feof(f)) {
			config_err(err, errlen,
				   "%s:%u: line longer than %d bytes", path,
				   lineno, CONFIG_LINE_MAX);
			rc = -EINVAL;
			goto out_close;
		}
		if (n > CONFIG_LINE_MAX) {
			config_err(err, errlen,
				   "%s:%u: line longer than %d bytes", path,
				   lineno, CONFIG_LINE_MAX);
			rc = -EINVAL;
			goto out_close;
		}
		p = config_trim_line(line);
		if (!*p)
			continue;
		rc = config_apply_line(&copy, p, msg, sizeof(msg));
		if (rc < 0) {
			config_err(err, errlen, "%s:%u: %s", path, lineno,
				   msg);
			goto out_close;
		}
	}
	if (ferror(f)) {
		rc = -EIO;
		config_err(err, errlen, "%s: read error", path);
		goto out_close;
	}
	*c = copy;
out_close:
	fclose(f);
	return rc;
}

int config_diff(const struct tfs_config *a, const struct tfs_config *b,
		char *buf, size_t len)
{
	size_t i, used = 0;
	int n = 0;

	if (buf && len)
		buf[0] = '\0';
	for (i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		uint64_t va = config_get(a, k), vb = config_get(b, k);
		char sa[32], sb[32];
		int w;

		if (va == vb)
			continue;
		config_format(k, va, sa, sizeof(sa));
		config_format(k, vb, sb, sizeof(sb));
		if (buf && used < len) {
			w = snprintf(buf + used, len - used, "%s%s=%s->%s",
				     n ? ", " : "", k->name, sa, sb);
			if (w > 0)
				used += (size_t)w;
		}
		n++;
	}
	if (config_s3_differ(&a->s3, &b->s3)) {
		if (buf && used < len)
			snprintf(buf + used, len - used, "%scold store settings "
				 "(used from the next mount on)", n ? ", " : "");
		n++;
	}
	return n;
}

void config_each(const struct tfs_config *c,
		 void (*fn)(void *ctx, const char *key, const char *value),
		 void *ctx)
{
	char v[32];

	for (size_t i = 0; i < NKEYS; i++) {
		config_format(&config_keys[i], config_get(c, &config_keys[i]),
			      v, sizeof(v));
		fn(ctx, config_keys[i].name, v);
	}
	config_s3_each(&c->s3, fn, ctx);
}
