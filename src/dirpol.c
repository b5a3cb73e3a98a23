/*
 * dirpol.c - see dirpol.h.
 *
 * Building the map: read every directory's policy (one query on the xattr
 * table); for each policy directory walk up its parents (a few queries per
 * policy directory, never per file) to merge in the keys its ancestors set
 * and to find the topmost ones; then list the tree below each topmost
 * policy directory once, top-down, carrying the policy in force and
 * switching to a directory's own (merged) policy where it has one.
 */
#include "dirpol.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "meta.h"

/* ---- parsing ---- */

static int parse_age(const char *v, uint64_t *out)
{
	if (!strcmp(v, "never")) {
		*out = DIRPOL_NEVER;
		return 0;
	}
	return config_parse_duration_ms(v, out);
}

static int parse_pin(const char *v, int *out)
{
	if (!strcmp(v, "none")) {
		*out = TFS_PIN_NONE;
		return 0;
	}
	for (int t = 0; t < TFS_NTIERS; t++)
		if (!strcmp(v, tfs_tier_name(t))) {
			*out = t;
			return 0;
		}
	return -EINVAL;
}

int dirpol_parse(const char *v, size_t len, struct dirpol *out)
{
	char buf[DIRPOL_MAX + 1], *save, *tok, *eq;
	struct dirpol p = { .pin = TFS_PIN_NONE };
	unsigned bit;
	int rc = 0;

	if (len == 0 || len > DIRPOL_MAX || memchr(v, 0, len))
		return -EINVAL;
	memcpy(buf, v, len);
	buf[len] = 0;
	for (tok = strtok_r(buf, " \t\n,", &save); tok && !rc;
	     tok = strtok_r(NULL, " \t\n,", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			return -EINVAL;
		*eq++ = 0;
		if (!strcmp(tok, "hot_age")) {
			bit = DIRPOL_HOT_AGE;
			rc = parse_age(eq, &p.hot_age_ms);
		} else if (!strcmp(tok, "warm_age")) {
			bit = DIRPOL_WARM_AGE;
			rc = parse_age(eq, &p.warm_age_ms);
		} else if (!strcmp(tok, "pin")) {
			bit = DIRPOL_PIN;
			rc = parse_pin(eq, &p.pin);
		} else {
			return -EINVAL;
		}
		if (p.has & bit)
			return -EINVAL;         /* a key twice */
		p.has |= bit;
	}
	if (rc || !p.has)
		return -EINVAL;
	*out = p;
	return 0;
}

/* Take from `up` the keys `p` does not set. */
static void inherit(struct dirpol *p, const struct dirpol *up)
{
	if (!(p->has & DIRPOL_HOT_AGE) && (up->has & DIRPOL_HOT_AGE))
		p->hot_age_ms = up->hot_age_ms;
	if (!(p->has & DIRPOL_WARM_AGE) && (up->has & DIRPOL_WARM_AGE))
		p->warm_age_ms = up->warm_age_ms;
	if (!(p->has & DIRPOL_PIN) && (up->has & DIRPOL_PIN))
		p->pin = up->pin;
	p->has |= up->has;
}

/* ---- an inode -> index hash (open addressing) ---- */

struct ihash {
	uint64_t *key;                  /* 0: empty */
	uint32_t *val;
	size_t cap, n;                  /* cap: a power of two */
};

static size_t ih_slot(const struct ihash *h, uint64_t k)
{
	size_t i = (size_t)((k * UINT64_C(0x9E3779B97F4A7C15)) >> 20) &
		   (h->cap - 1);

	while (h->key[i] && h->key[i] != k)
		i = (i + 1) & (h->cap - 1);
	return i;
}

static int ih_put(struct ihash *h, uint64_t k, uint32_t v)
{
	size_t i;

	if ((h->n + 1) * 2 > h->cap) {
		struct ihash g = { .cap = h->cap ? h->cap * 2 : 64 };

		g.key = calloc(g.cap, sizeof(*g.key));
		g.val = calloc(g.cap, sizeof(*g.val));
		if (!g.key || !g.val) {
			free(g.key);
			free(g.val);
			return -ENOMEM;
		}
		for (size_t j = 0; j < h->cap; j++)
			if (h->key[j]) {
				i = ih_slot(&g, h->key[j]);
				g.key[i] = h->key[j];
				g.val[i] = h->val[j];
				g.n++;
			}
		free(h->key);
		free(h->val);
		*h = g;
	}
	i = ih_slot(h, k);
	h->n += !h->key[i];
	h->key[i] = k;
	h->val[i] = v;
	return 0;
}

static bool ih_get(const struct ihash *h, uint64_t k, uint32_t *v)
{
	size_t i;

	if (!h->cap || !k)
		return false;
	i = ih_slot(h, k);
	if (!h->key[i])
		return false;
	*v = h->val[i];
	return true;
}

static void ih_free(struct ihash *h)
{
	free(h->key);
	free(h->val);
	memset(h, 0, sizeof(*h));
}

/* ---- the map ---- */

struct dirpol_map {
	struct dirpol *pol;             /* merged policy of each policy dir */
	uint64_t *dir;                  /* the directory of pol[i] */
	size_t npol, cappol;
	struct ihash files;             /* file or dir ino -> pol index */
};

static void scan_cb(void *ctx, uint64_t ino, const void *value, size_t len)
{
	struct dirpol_map *m = ctx;
	struct dirpol p;

	if (dirpol_parse(value, len, &p))
		return;         /* not set through tierfs: ignored */
	if (m->npol == m->cappol) {
		size_t cap = m->cappol ? m->cappol * 2 : 16;
		struct dirpol *np = realloc(m->pol, cap * sizeof(*np));
		uint64_t *nd;

		if (!np)
			return;
		m->pol = np;
		nd = realloc(m->dir, cap * sizeof(*nd));
		if (!nd)
			return;
		m->dir = nd;
		m->cappol = cap;
	}
	m->pol[m->npol] = p;
	m->dir[m->npol++] = ino;
}

/* Children of one directory, gathered (meta's callback may not call
 * back into meta). */
struct kids {
	uint64_t *ino;
	bool *isdir;
	size_t n, cap;
};

static int kids_cb(void *ctx, const char *name, const struct meta_inode *in)
{
	struct kids *k = ctx;

	(void)name;
	if (!S_ISDIR(in->mode) && !S_ISREG(in->mode))
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		uint64_t *ni = realloc(k->ino, cap * sizeof(*ni));
		bool *nd;

		if (!ni)
			return -ENOMEM;
		k->ino = ni;
		nd = realloc(k->isdir, cap * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		k->isdir = nd;
		k->cap = cap;
	}
	k->ino[k->n] = in->ino;
	k->isdir[k->n++] = S_ISDIR(in->mode);
	return 0;
}

/* Walk the tree below policy directory `top` (index `pi`). `own` maps a
 * directory with its own policy to its index. */
static int walk(struct meta *meta, struct dirpol_map *m,
		const struct ihash *own, uint32_t pi)
{
	struct { uint64_t ino; uint32_t pi; } *stack = NULL, *ns;
	size_t n = 0, cap = 0;
	struct kids k = { 0 };
	int rc = ih_put(&m->files, m->dir[pi], pi);

	if (!rc) {
		stack = malloc(16 * sizeof(*stack));
		cap = 16;
		rc = stack ? 0 : -ENOMEM;
	}
	if (!rc)
		stack[n++] = (typeof(*stack)){ m->dir[pi], pi };
	while (!rc && n) {
		uint64_t dir = stack[--n].ino;
		uint32_t cur = stack[n].pi, sub;

		k.n = 0;
		rc = meta_dir_list(meta, dir, kids_cb, &k);
		for (size_t i = 0; !rc && i < k.n; i++) {
			if (!k.isdir[i]) {
				rc = ih_put(&m->files, k.ino[i], cur);
				continue;
			}
			sub = ih_get(own, k.ino[i], &sub) ? sub : cur;
			rc = ih_put(&m->files, k.ino[i], sub);
			if (!rc && n == cap) {
				ns = realloc(stack, cap * 2 * sizeof(*stack));
				rc = ns ? 0 : -ENOMEM;
				if (ns) {
					stack = ns;
					cap *= 2;
				}
			}
			if (!rc)
				stack[n++] = (typeof(*stack)){ k.ino[i], sub };
		}
	}
	free(k.ino);
	free(k.isdir);
	free(stack);
	return rc;
}

int dirpol_map_build(struct meta *meta, struct dirpol_map **out)
{
	struct dirpol_map *m = calloc(1, sizeof(*m));
	struct ihash own = { 0 };
	struct dirpol *merged = NULL;
	bool *top = NULL;
	char name[TFS_NAME_MAX + 1];
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	rc = meta_xattr_scan_name(meta, DIRPOL_XATTR, scan_cb, m);
	if (rc || !m->npol)
		goto out_free;
	merged = calloc(m->npol, sizeof(*merged));
	top = calloc(m->npol, sizeof(*top));
	rc = merged && top ? 0 : -ENOMEM;
	for (size_t i = 0; !rc && i < m->npol; i++)
		rc = ih_put(&own, m->dir[i], (uint32_t)i);
	/* Merge each one's ancestors' keys, nearest first. */
	for (size_t i = 0; !rc && i < m->npol; i++) {
		uint64_t cur = m->dir[i], up;
		uint32_t a;

		merged[i] = m->pol[i];
		top[i] = true;
		while (cur != TFS_ROOT_INO &&
		       meta_dentry_parent(meta, cur, &up, name) == 0) {
			if (ih_get(&own, up, &a)) {
				inherit(&merged[i], &m->pol[a]);
				top[i] = false;
			}
			cur = up;
		}
	}
	if (rc)
		goto out_free;
	memcpy(m->pol, merged, m->npol * sizeof(*merged));
	for (size_t i = 0; !rc && i < m->npol; i++)
		if (top[i])
			rc = walk(meta, m, &own, (uint32_t)i);
	if (!rc) {
		*out = m;
		m = NULL;
	}
out_free:
	ih_free(&own);
	free(merged);
	free(top);
	dirpol_map_free(&m);
	return rc;
}

const struct dirpol *dirpol_map_get(const struct dirpol_map *m, uint64_t ino)
{
	uint32_t i;

	if (!m || !ih_get(&m->files, ino, &i))
		return NULL;
	return &m->pol[i];
}

void dirpol_map_min_ages(const struct dirpol_map *m, uint64_t *hot_ms,
			 uint64_t *warm_ms)
{
	*hot_ms = *warm_ms = DIRPOL_NEVER;
	for (size_t i = 0; m && i < m->npol; i++) {
		if ((m->pol[i].has & DIRPOL_HOT_AGE) &&
		    m->pol[i].hot_age_ms < *hot_ms)
			*hot_ms = m->pol[i].hot_age_ms;
		if ((m->pol[i].has & DIRPOL_WARM_AGE) &&
		    m->pol[i].warm_age_ms < *warm_ms)
			*warm_ms = m->pol[i].warm_age_ms;
	}
}

void dirpol_map_free(struct dirpol_map **mp)
{
	struct dirpol_map *m = *mp;

	if (!m)
		return;
	ih_free(&m->files);
	free(m->pol);
	free(m->dir);
	free(m);
	*mp = NULL;
}
