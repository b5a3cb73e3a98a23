/*
 * tierctl_status.c - the commands that read a mount's own files and a
 * directory's policy: `status` (a table of MNT/.tiers/stats, or the live
 * view of `--watch`), `config` (MNT/.tiers/config) and `policy` (show,
 * set or clear user.tierfs.policy on a directory).
 *
 * The live view samples .tiers/stats and .tiers/metrics every interval and
 * shows rates over the last interval: reads, read bytes, promotions and
 * demotions per second, the hit ratio and the mean read latency
 * (d sum / d count of the latency histogram). On a terminal it redraws in
 * place; otherwise (and with --json, one JSON object per line) it prints
 * one frame after another.
 */
#include "tierctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>

#include "tierctl_json.h"

#define ST_FMT "%-4s  %6s  %10s  %10s  %6s  %8s  %8s  %8s  %10s  %9s  " \
	"%8s  %8s  %8s\n"
#define W_FMT "%-4s  %9s  %11s  %10s  %9s  %6s  %9s%s\n"
#define POLICY_MAX 1024

/* Field KEY of the stats formatted into BUF (64 bytes) as a count, Size,
 * Ratio or Latency (F is 'c', 's', 'r' or 'l'); "-" when missing. */
static const char *jfmt(const struct ctx *c, const char *text,
			const char *key, char f, char *buf)
{
	const char *v = json_get(text, key, buf);
	char *end;
	double d = v ? strtod(v, &end) : 0;

	if (!v || *end || end == v || d < 0)
		return v ? v : strcpy(buf, "-");
	if (f == 'c')
		snprintf(buf, 64, "%.0f", d);
	else if (f == 's')
		fmt_size(buf, 64, (uint64_t)d, c->bytes);
	else if (f == 'r')
		snprintf(buf, 64, d > 0 ? "%.2f" : "-", d);
	else
		snprintf(buf, 64, d < 1000 ? "%.1fus" : d < 1e6 ? "%.2fms" :
			 "%.2fs", d < 1000 ? d : d < 1e6 ? d / 1e3 : d / 1e6);
	return buf;
}

static void status_print(const struct ctx *c, const char *text)
{
	/* the format letter (see jfmt), then the key under tiers.TIER */
	static const char *const col[] = { "cfiles", "slogical_bytes",
		"sstored_bytes", "rratio", "creads", "chits", "cmisses",
		"cpromotions", "cdemotions", "lread_latency_us.p50",
		"lread_latency_us.p95", "lread_latency_us.p99" };
	char v[12][64], key[128], b1[64], b2[64];
	double rerr = 0;

	printf(ST_FMT, "TIER", "FILES", "LOGICAL", "STORED", "RATIO", "READS",
	       "HITS", "MISSES", "PROMOTIONS", "DEMOTIONS", "P50", "P95",
	       "P99");
	for (int ti = 0; ti < NTIERS; ti++) {
		for (int k = 0; k < 12; k++) {
			snprintf(key, sizeof(key), "tiers.%s.%s", tier_names[ti],
				 col[k] + 1);
			jfmt(c, text, key, col[k][0], v[k]);
		}
		printf(ST_FMT, tier_names[ti], v[0], v[1], v[2], v[3], v[4],
		       v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
		snprintf(key, sizeof(key), "tiers.%s.errors", tier_names[ti]);
		if (json_get(text, key, b1))
			rerr += strtod(b1, NULL);
	}
	printf("\nhot budget:  %s of %s", jfmt(c, text, "hot_bytes", 's', b1),
	       jfmt(c, text, "hot_max", 's', b2));
	if (json_get(text, "hot_bytes", b1) && json_get(text, "hot_max", b2) &&
	    strtod(b2, NULL) > 0)
		printf(" (%.1f%%)", 100.0 * strtod(b1, NULL) / strtod(b2, NULL));
	printf(", %s files resident\n",
	       jfmt(c, text, "hot_resident_files", 'c', b1));
	printf("evictions:   %s\n", jfmt(c, text, "evictions", 'c', b1));
	printf("errors:      %.0f read, %s migration\n", rerr,
	       jfmt(c, text, "migration_errors", 'c', b2));
}

/* The mount root of the operand (or the default mount) in *root, and its
 * store in source (4096 bytes). */
static int status_root(struct ctx *c, int n, char **paths, char **root,
		       char *source)
{
	char type[64];
	struct stat st;

	strcpy(source, "?");
	if (n == 0) {
		if (default_mount(c, root))
			return c->status;
	} else {
		if (!operand(c, paths[0], &st))
			return c->status;
		if (mount_root(paths[0], root)) {
			report(c, EXIT_FAILED, paths[0], "%s", strerror(errno));
			return c->status;
		}
	}
	if (!stat(*root, &st))
		(void)mount_info(st.st_dev, type, source, NULL);
	return 0;
}

/* MNT/.tiers/NAME in *text; reported on failure. */
static int tiers_file(struct ctx *c, const char *root, const char *name,
		      char **text)
{
	char *path;
	int rc;

	if (asprintf(&path, "%s/.tiers/%s", root, name) < 0)
		return -ENOMEM;
	rc = read_file(path, text);
	if (rc)
		report(c, EXIT_FAILED, path, "%s", strerror(-rc));
	free(path);
	return rc;
}

/* ---- the live view ---- */

struct sample {
	double t;
	double v[NTIERS][7];	/* reads, read_bytes, promotions, demotions,
				   hits, misses, latency sum (s) */
	double lat_n[NTIERS];	/* latency count */
	double hot_bytes, hot_max;
};

/* The value of the Prometheus sample "NAME{tier="TIER"}" in text. */
static double prom_get(const char *text, const char *name, const char *tier)
{
	char want[128];
	const char *p = text;
	size_t n;

	n = (size_t)snprintf(want, sizeof(want), "%s{tier=\"%s\"} ", name,
			     tier);
	while ((p = strstr(p, want))) {
		if (p == text || p[-1] == '\n')
			return strtod(p + n, NULL);
		p += n;
	}
	return 0;
}

static int take_sample(struct ctx *c, const char *root, struct sample *s)
{
	static const char *const keys[] = { "reads", "read_bytes",
		"promotions", "demotions", "hits", "misses" };
	char *stats = NULL, *metrics = NULL, key[96], v[64];

	if (tiers_file(c, root, "stats", &stats) ||
	    tiers_file(c, root, "metrics", &metrics)) {
		free(stats);
		return -EIO;
	}
	s->t = now_sec();
	for (int t = 0; t < NTIERS; t++) {
		for (int k = 0; k < 6; k++) {
			snprintf(key, sizeof(key), "tiers.%s.%s", tier_names[t],
				 keys[k]);
			s->v[t][k] = json_get(stats, key, v) ? strtod(v, NULL)
							     : 0;
		}
		s->v[t][6] = prom_get(metrics,
				      "tierfs_read_latency_seconds_sum",
				      tier_names[t]);
		s->lat_n[t] = prom_get(metrics,
				       "tierfs_read_latency_seconds_count",
				       tier_names[t]);
	}
	s->hot_bytes = json_get(stats, "hot_bytes", v) ? strtod(v, NULL) : 0;
	s->hot_max = json_get(stats, "hot_max", v) ? strtod(v, NULL) : 0;
	free(stats);
	free(metrics);
	return 0;
}

/* One frame from two samples; returns the number of lines printed. */
static int watch_frame(const struct ctx *c, const char *root,
		       const struct sample *a, const struct sample *b,
		       bool tty)
{
	const char *el = tty ? "\033[K" : "";	/* clear to the line's end */
	double dt = b->t - a->t > 0 ? b->t - a->t : 1;
	char r[NTIERS][4][48], hit[NTIERS][16], lat[NTIERS][32], b1[32], b2[32];
	double d[NTIERS][7], dn[NTIERS];

	for (int t = 0; t < NTIERS; t++) {
		for (int k = 0; k < 7; k++)
			d[t][k] = b->v[t][k] - a->v[t][k];
		dn[t] = b->lat_n[t] - a->lat_n[t];
	}
	if (c->json) {
		printf("{\"mountpoint\": ");
		json_str(stdout, root);
		printf(", \"interval\": %.3f, \"tiers\": {", dt);
		for (int t = 0; t < NTIERS; t++) {
			double h = d[t][4] + d[t][5];

			printf("%s\"%s\": {\"reads_per_s\": %.3f, "
			       "\"read_bytes_per_s\": %.1f, "
			       "\"promotions_per_s\": %.3f, "
			       "\"demotions_per_s\": %.3f, \"hit_ratio\": ",
			       t ? ", " : "", tier_names[t], d[t][0] / dt,
			       d[t][1] / dt, d[t][2] / dt, d[t][3] / dt);
			if (h > 0)
				printf("%.4f", d[t][4] / h);
			else
				printf("null");
			printf(", \"latency_us\": ");
			if (dn[t] > 0)
				printf("%.1f}", d[t][6] / dn[t] * 1e6);
			else
				printf("null}");
		}
		printf("}, \"hot_bytes\": %.0f, \"hot_max\": %.0f}\n",
		       b->hot_bytes, b->hot_max);
		return 1;
	}
	for (int t = 0; t < NTIERS; t++) {
		double h = d[t][4] + d[t][5];

		snprintf(r[t][0], 48, "%.1f", d[t][0] / dt);
		fmt_size(b1, sizeof(b1), (uint64_t)(d[t][1] / dt), false);
		snprintf(r[t][1], 48, "%s/s", b1);
		snprintf(r[t][2], 48, "%.1f", d[t][2] / dt);
		snprintf(r[t][3], 48, "%.1f", d[t][3] / dt);
		if (h > 0)
			snprintf(hit[t], 16, "%.0f%%", 100 * d[t][4] / h);
		else
			strcpy(hit[t], "-");
		if (dn[t] > 0)
			snprintf(lat[t], 32, "%.1fus", d[t][6] / dn[t] * 1e6);
		else
			strcpy(lat[t], "-");
	}
	printf("tierfs on %s: rates over the last %.1fs%s\n", root, dt, el);
	printf(W_FMT, "TIER", "READS/s", "READ B/s", "PROMOTE/s",
	       "DEMOTE/s", "HIT", "LATENCY", el);
	for (int t = 0; t < NTIERS; t++)
		printf(W_FMT, tier_names[t], r[t][0], r[t][1], r[t][2],
		       r[t][3], hit[t], lat[t], el);
	printf("hot budget: %s of %s%s\n",
	       fmt_size(b1, sizeof(b1), (uint64_t)b->hot_bytes, false),
	       fmt_size(b2, sizeof(b2), (uint64_t)b->hot_max, false), el);
	return 6;
}

static int status_watch(struct ctx *c, const char *root)
{
	struct sample s[2];
	bool tty = isatty(STDOUT_FILENO) && !c->json;
	int lines = 0, cur = 0;
	double start, wait;

	if (take_sample(c, root, &s[0]))
		return c->status;
	start = s[0].t;
	for (long i = 0; !c->count || i < c->count; i++) {
		/* on a fixed beat: the time a sample takes does not add up */
		wait = start + (double)(i + 1) * c->watch - now_sec();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
		if (take_sample(c, root, &s[!cur]))
			return c->status;
		if (tty && lines)	/* back to the top of the last frame */
			printf("\033[%dA", lines);
		else if (!tty && !c->json && i)
			putchar('\n');
		lines = watch_frame(c, root, &s[cur], &s[!cur], tty);
		cur = !cur;
		if (fflush(stdout))
			return EXIT_FAILED;
	}
	return c->status;
}

int cmd_status(struct ctx *c, int n, char **paths)
{
	char source[4096], v[64], *root = NULL, *text = NULL;

	if (n > 1)
		return usage_error("status: %s", "at most one MNT");
	if (status_root(c, n, paths, &root, source))
		goto out_free;
	if (c->watch > 0) {
		status_watch(c, root);
		goto out_free;
	}
	if (tiers_file(c, root, "stats", &text))
		goto out_free;
	if (!json_get(text, "tiers.hot.files", v)) {
		report(c, EXIT_FAILED, root, ".tiers/stats: not the JSON "
		       "expected");
	} else if (c->json) {
		printf("{\"mountpoint\": ");
		json_str(stdout, root);
		printf(", \"store\": ");
		json_str(stdout, source);
		printf(", \"stats\": %s}\n", text);
	} else {
		printf("tierfs on %s (store %s)\n\n", root, source);
		status_print(c, text);
	}
out_free:
	free(text);
	free(root);
	return c->status;
}

/* ---- config ---- */

/* MNT/.tiers/config as the daemon writes it ("key = value" lines, '#'
 * comments), or as one JSON object with --json. */
int cmd_config(struct ctx *c, int n, char **paths)
{
	char source[4096], *root = NULL, *text = NULL, *line, *save, *eq;
	bool first = true;

	if (n > 1)
		return usage_error("config: %s", "at most one MNT");
	if (status_root(c, n, paths, &root, source) ||
	    tiers_file(c, root, "config", &text))
		goto out_free;
	if (!c->json) {
		fputs(text, stdout);
		goto out_free;
	}
	putchar('{');
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *k = line, *e;

		while (*k == ' ' || *k == '\t')
			k++;
		if (*k == '#' || !(eq = strchr(k, '=')))
			continue;
		for (e = eq; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = 0;
		for (eq++; *eq == ' ' || *eq == '\t'; eq++)
			;
		printf("%s\n  ", first ? "" : ",");
		first = false;
		json_str(stdout, k);
		printf(": ");
		json_str(stdout, eq);
	}
	printf("\n}\n");
out_free:
	free(text);
	free(root);
	return c->status;
}

/* ---- policy ---- */

/* The closest user.tierfs.policy at or above DIR (up to its mount's
 * root): its value in buf and the directory holding it (malloc'd) in
 * *from; *from is NULL when none applies. */
static int policy_find(const char *dir, char *buf, size_t size, char **from)
{
	char *p = realpath(dir, NULL), *slash;
	struct stat st, up;
	ssize_t len;
	int rc = 0;

	*from = NULL;
	if (!p || stat(p, &st))
		return free(p), -errno;
	for (;;) {
		len = getxattr(p, XA_PREFIX "policy", buf, size - 1);
		if (len >= 0) {
			buf[len] = 0;
			*from = p;
			return 0;
		}
		if (errno != ENODATA) {
			rc = -errno;
			break;
		}
		slash = strrchr(p, '/');
		if (!slash || !strcmp(p, "/"))
			break;
		*slash = 0;
		if (stat(slash == p ? "/" : p, &up) || up.st_dev != st.st_dev)
			break;
		if (slash == p)
			strcpy(p, "/");
	}
	free(p);
	return rc;
}

/* policy [--clear] DIR [SPEC]: show DIR's effective policy and where it
 * comes from, set it to SPEC, or clear DIR's own. */
int cmd_policy(struct ctx *c, int n, char **paths)
{
	char buf[POLICY_MAX], *from = NULL;
	struct stat st;
	int rc;

	if (n < 1 || n > 2 || (c->clear && n != 1))
		return usage_error("policy: %s", "DIR [SPEC] or --clear DIR");
	if (!operand(c, paths[0], &st))
		return c->status;
	if (!S_ISDIR(st.st_mode)) {
		report(c, EXIT_FAILED, paths[0], "not a directory");
		return c->status;
	}
	if (n == 2 && setxattr(paths[0], XA_PREFIX "policy", paths[1],
			       strlen(paths[1]), 0)) {
		report(c, EXIT_FAILED, paths[0], "cannot set policy '%s': %s",
		       paths[1], errno == EINVAL ? "invalid policy (keys: "
		       "hot_age, warm_age, pin)" : strerror(errno));
		return c->status;
	}
	if (c->clear && removexattr(paths[0], XA_PREFIX "policy") &&
	    errno != ENODATA) {
		report(c, EXIT_FAILED, paths[0], "cannot clear the policy: %s",
		       strerror(errno));
		return c->status;
	}
	rc = policy_find(paths[0], buf, sizeof(buf), &from);
	if (rc) {
		report(c, EXIT_FAILED, paths[0], "cannot read the policy: %s",
		       strerror(-rc));
	} else if (c->json) {
		printf("{\"path\": ");
		json_str(stdout, paths[0]);
		printf(", \"policy\": ");
		if (from)
			json_str(stdout, buf);
		else
			printf("null");
		printf(", \"from\": ");
		if (from)
			json_str(stdout, from);
		else
			printf("null");
		printf("}\n");
	} else if (from) {
		printf("%s: %s (from %s)\n", paths[0], buf, from);
	} else {
		printf("%s: none (the mount's settings apply)\n", paths[0]);
	}
	free(from);
	return c->status;
}
