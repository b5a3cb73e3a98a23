/*
 * tierctl_move.c - the commands that change files: `mv` (user.tierfs.tier),
 * `pin`/`unpin` (user.tierfs.pin) and `warmup` (prefetch), with a progress
 * bar (files, bytes, rate, ETA) on stderr when it is a terminal, and one
 * summary line on stdout always.
 *
 * Pins: a file found below a directory operand (-r) that is pinned to
 * another tier is skipped by mv and warmup --to hot and counted in the
 * summary (the daemon does the same for a directory's user.tierfs.tier); a
 * file named directly is moved and takes its pin along (the daemon's rule
 * for a move by hand).
 *
 * warmup without --to reads every file through once, with several threads:
 * the kernel page cache (and, for cold files, the daemon's block cache)
 * then holds it, so the next reads are served from RAM; each read counts
 * as one access towards promotion. warmup --to hot moves the files into
 * the daemon's RAM (the hot tier) instead.
 */
#include "tierctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>

#define BAR_WIDTH 24
#define WARMUP_BUF (1 << 20)

struct progress {
	bool on;		/* stderr is a terminal */
	double start, drawn;
	size_t total_files;
	uint64_t total_bytes;
	atomic_size_t files, skipped, failed;
	atomic_uint_least64_t bytes;	/* of the files done */
	atomic_uint_least64_t seen;	/* of the files done, skipped, failed */
};

/* One file handled: done (with BYTES moved or read) or not. */
static void tally(struct progress *p, atomic_size_t *which, uint64_t size,
		  uint64_t bytes)
{
	atomic_fetch_add(which, 1);
	atomic_fetch_add(&p->seen, size);
	if (which == &p->files)
		atomic_fetch_add(&p->bytes, bytes);
}

static void fmt_time(char *buf, size_t n, double s)
{
	unsigned long t = (unsigned long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60,
			 t % 60);
	else
		snprintf(buf, n, "%lu:%02lu", t / 60, t % 60);
}

/* "[#####   ] 12/40 files  1.2 MiB/3.4 MiB  5.6 MiB/s  ETA 0:03", at most
 * every 100 ms unless FORCE. */
static void bar_draw(struct ctx *c, struct progress *p, bool force)
{
	static const char full[] = "########################";
	size_t done = atomic_load(&p->files) + atomic_load(&p->skipped) +
		      atomic_load(&p->failed);
	uint64_t bytes = atomic_load(&p->seen);
	double now = now_sec(), el = now - p->start, rate;
	double frac = p->total_bytes ? (double)bytes / (double)p->total_bytes :
		      p->total_files ? (double)done / (double)p->total_files : 1;
	int fill = (int)(frac * BAR_WIDTH);
	char b1[32], b2[32], r[32], eta[32] = "-";

	if (!p->on || (!force && now - p->drawn < 0.1))
		return;
	p->drawn = now;
	fill = fill > BAR_WIDTH ? BAR_WIDTH : fill;
	rate = el > 0 ? (double)bytes / el : 0;
	if (frac > 0 && frac < 1 && el > 0)
		fmt_time(eta, sizeof(eta), el / frac - el);
	else if (frac >= 1)
		fmt_time(eta, sizeof(eta), 0);
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu files  %s/%s  %s/s  ETA %s\033[K",
		fill, full, BAR_WIDTH - fill, "", done, p->total_files,
		fmt_size(b1, sizeof(b1), bytes, false),
		fmt_size(b2, sizeof(b2), p->total_bytes, false),
		fmt_size(r, sizeof(r), (uint64_t)rate, false), eta);
	c->bar_shown = true;
}

static void bar_start(struct ctx *c, struct progress *p)
{
	p->on = isatty(STDERR_FILENO);
	p->start = now_sec();
	p->total_files = c->nitem;
	for (size_t i = 0; i < c->nitem; i++)
		p->total_bytes += c->items[i].size;
	bar_draw(c, p, true);
}

/* The bar's last state, then the summary: "VERB N files (SIZE) [to TIER]
 * in T s (RATE/s)[; K pinned files skipped][; F failed]". */
static void bar_end(struct ctx *c, struct progress *p, const char *verb,
		    const char *to)
{
	double el = now_sec() - p->start;
	uint64_t bytes = atomic_load(&p->bytes);
	size_t files = atomic_load(&p->files), skipped;
	char b[32], r[32];

	bar_draw(c, p, true);
	if (p->on && c->bar_shown)
		fputc('\n', stderr);
	c->bar_shown = false;
	printf("%s %zu file%s (%s)%s%s in %.1fs (%s/s)", verb, files,
	       files == 1 ? "" : "s", fmt_size(b, sizeof(b), bytes, false),
	       to ? " to " : "", to ? to : "", el,
	       fmt_size(r, sizeof(r), el > 0 ? (uint64_t)((double)bytes / el)
						 : bytes, false));
	skipped = atomic_load(&p->skipped);
	if (skipped)
		printf("; %zu pinned file%s skipped", skipped,
		       skipped == 1 ? "" : "s");
	if (atomic_load(&p->failed))
		printf("; %zu failed", atomic_load(&p->failed));
	putchar('\n');
}

/* Is the file pinned to a tier other than TO? */
static bool pinned_elsewhere(const char *path, const char *to)
{
	char pin[16];

	return !xa_get(path, "pin", pin, sizeof(pin)) && strcmp(pin, "none")
	       && strcmp(pin, to);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* mv, pin, unpin: set user.tierfs.WHAT = VALUE on the operands' files. */
int cmd_set(struct ctx *c, int n, char **paths, const char *what,
	    const char *value)
{
	struct progress p = { 0 };
	bool mv = !strcmp(what, "tier");
	bool *batched = calloc((size_t)n + 1, sizeof(*batched));
	char name[64];

	if (!batched)
		return report(c, EXIT_FAILED, NULL, "%s", strerror(ENOMEM)),
		       c->status;
	collect(c, n, paths, false);
	snprintf(name, sizeof(name), XA_PREFIX "%s", what);
	bar_start(c, &p);
	/* `mv -r --to cold DIR`: one setxattr on the directory moves its
	 * whole tree in one batch inside the daemon (pinned files stay), so
	 * the files share archives instead of getting one archive each. */
	for (int a = 0; mv && c->recursive && !strcmp(value, "cold") && a < n;
	     a++)
		batched[a] = is_dir(paths[a]) &&
			     !setxattr(paths[a], name, value, strlen(value), 0);
	for (size_t i = 0; i < c->nitem; i++) {
		const struct item *it = &c->items[i];

		bar_draw(c, &p, false);
		if (mv && !it->direct && pinned_elsewhere(it->path, value)) {
			tally(&p, &p.skipped, it->size, 0);
			continue;
		}
		if (!batched[it->arg] &&
		    setxattr(it->path, name, value, strlen(value), 0)) {
			report(c, EXIT_FAILED, it->path, "cannot set %s to %s: "
			       "%s", name, value, strerror(errno));
			tally(&p, &p.failed, it->size, 0);
			continue;
		}
		tally(&p, &p.files, it->size, it->size);
	}
	bar_end(c, &p, mv ? "moved" : strcmp(value, "none") ? "pinned" :
		"unpinned", mv || strcmp(value, "none") ? value : NULL);
	free(batched);
	return c->status;
}

/* ---- warmup ---- */

struct warm {
	struct ctx *c;
	struct progress *p;
	atomic_size_t next;	/* the next item to take */
	pthread_mutex_t lock;	/* serializes report() */
};

static int read_through(const char *path, char *buf, uint64_t *got)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t r;
	int rc = 0;

	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf, WARMUP_BUF)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		*got += (uint64_t)r;
	}
	close(fd);
	return rc;
}

static void *warm_worker(void *arg)
{
	struct warm *w = arg;
	struct ctx *c = w->c;
	char *buf = c->to ? NULL : malloc(WARMUP_BUF);
	size_t i;

	while ((i = atomic_fetch_add(&w->next, 1)) < c->nitem) {
		const struct item *it = &c->items[i];
		uint64_t got = 0;
		int rc;

		if (c->to && !it->direct && pinned_elsewhere(it->path, c->to)) {
			tally(w->p, &w->p->skipped, it->size, 0);
			continue;
		}
		if (c->to)
			rc = setxattr(it->path, XA_PREFIX "tier", c->to,
				      strlen(c->to), 0) ? -errno : 0;
		else
			rc = buf ? read_through(it->path, buf, &got) : -ENOMEM;
		if (rc) {
			pthread_mutex_lock(&w->lock);
			report(c, EXIT_FAILED, it->path, "%s", strerror(-rc));
			pthread_mutex_unlock(&w->lock);
			tally(w->p, &w->p->failed, it->size, 0);
			continue;
		}
		tally(w->p, &w->p->files, it->size, c->to ? it->size : got);
	}
	free(buf);
	return NULL;
}

int cmd_warmup(struct ctx *c, int n, char **paths)
{
	struct progress p = { 0 };
	struct warm w = { .c = c, .p = &p };
	pthread_t th[64];
	int nth = 0;

	if (c->to && strcmp(c->to, "hot"))
		return usage_error("warmup: --to takes only hot, not '%s'",
				   c->to);
	collect(c, n, paths, false);
	pthread_mutex_init(&w.lock, NULL);
	bar_start(c, &p);
	for (; nth < c->jobs && (size_t)nth < c->nitem; nth++)
		if (pthread_create(&th[nth], NULL, warm_worker, &w))
			break;
	if (nth == 0)
		warm_worker(&w);	/* no files, or no thread */
	for (;;) {
		size_t done = atomic_load(&p.files) + atomic_load(&p.skipped) +
			      atomic_load(&p.failed);

		if (done >= c->nitem)
			break;
		pthread_mutex_lock(&w.lock);
		bar_draw(c, &p, false);
		pthread_mutex_unlock(&w.lock);
		usleep(50000);
	}
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&w.lock);
	bar_end(c, &p, "warmed up", c->to ? "hot" : NULL);
	return c->status;
}
