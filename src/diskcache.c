/*
 * diskcache.c - see diskcache.h.
 *
 * DESIGN
 *
 * Files. A range lives in DIR/HHHHHHHHHHHHHHHH (16 hex digits of a 64-bit
 * hash of its key): a header (magic, key length, data length, CRC32C of the
 * data), the key, the data. A put writes DIR/.tmp-HASH-SEQ and renames it
 * over the final name, so a reader opens either a whole old file or a whole
 * new one; nothing is fsync'd (a cache: a torn file after a crash fails the
 * check). A get checks, before it answers: the magic, the file's length
 * against the header, the key byte for byte (two keys with one hash: the
 * other key's file is a plain miss and stays), the data's CRC32C (a bad
 * file is deleted and counted).
 *
 * Index. In memory only: a chained hash of the names present, each with its
 * size, on a doubly linked LRU list (head: most recent). It is rebuilt at
 * open from the directory, ordered by mtime; a hit touches its file
 * (futimens) so that order is the use order. The index may disagree with
 * the directory after races (a put and an eviction of one key at once, a
 * file deleted by hand): a missing file is a miss, an unindexed file is
 * found by the next open's scan. The byte count can only overcount: it
 * never lets the directory grow past max.
 *
 * Locking: dc->lock guards the index and the counters; it is never held
 * across file I/O (eviction collects its victims, then unlinks them).
 */
#include "diskcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "codec.h"
#include "fdio.h"
#include "log.h"

#define DC_MAGIC "TFSDC\0\0\1"
#define DC_KEY_MAX 2048u
#define DC_UNIT 4096u

struct dc_hdr {
	char magic[8];
	uint32_t key_len;
	uint32_t data_crc;      /* CRC32C of the data */
	uint64_t data_len;
};

struct dc_ent {
	uint64_t h;
	uint64_t size;          /* file size, rounded up to DC_UNIT */
	struct dc_ent *hnext;   /* hash chain */
	struct dc_ent *prev, *next; /* LRU list */
};

struct diskcache {
	int dfd;
	uint64_t max;
	_Atomic uint64_t seq;   /* temp file names */

	pthread_mutex_t lock;
	struct dc_ent **tab;    /* protected by lock */
	size_t nbuckets;        /* protected by lock; a power of 2 */
	struct dc_ent lru;      /* protected by lock; sentinel */
	struct diskcache_stats st; /* protected by lock */
};

static uint64_t dc_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static void dc_name(uint64_t h, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, h);
}

static uint64_t dc_size(uint64_t file_len)
{
	return (file_len + DC_UNIT - 1) / DC_UNIT * DC_UNIT;
}

/* ---- the index; callers hold dc->lock ---- */

static struct dc_ent **dc_slot(struct diskcache *dc, uint64_t h)
{
	struct dc_ent **p = &dc->tab[h & (dc->nbuckets - 1)];

	while (*p && (*p)->h != h)
		p = &(*p)->hnext;
	return p;
}

static void lru_unlink(struct dc_ent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push(struct diskcache *dc, struct dc_ent *e)
{
	e->prev = &dc->lru;
	e->next = dc->lru.next;
	dc->lru.next->prev = e;
	dc->lru.next = e;
}

static void dc_grow(struct diskcache *dc)
{
	size_t n = dc->nbuckets * 2;
	struct dc_ent **t = calloc(n, sizeof(*t));

	if (!t)
		return;         /* longer chains, still correct */
	for (size_t i = 0; i < dc->nbuckets; i++) {
		struct dc_ent *e = dc->tab[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = t[e->h & (n - 1)];
			t[e->h & (n - 1)] = e;
		}
	}
	free(dc->tab);
	dc->tab = t;
	dc->nbuckets = n;
}

/* Add or update h as the most recent entry. */
static int dc_add(struct diskcache *dc, uint64_t h, uint64_t size)
{
	struct dc_ent **p = dc_slot(dc, h), *e = *p;

	if (e) {
		dc->st.bytes -= e->size;
		lru_unlink(e);
	} else {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->h = h;
		*p = e;
		dc->st.entries++;
	}
	e->size = size;
	dc->st.bytes += size;
	lru_push(dc, e);
	if (dc->st.entries > dc->nbuckets)
		dc_grow(dc);
	return 0;
}

static void dc_drop(struct diskcache *dc, uint64_t h)
{
	struct dc_ent **p = dc_slot(dc, h), *e = *p;

	if (!e)
		return;
	*p = e->hnext;
	lru_unlink(e);
	dc->st.bytes -= e->size;
	dc->st.entries--;
	free(e);
}

/* Take least recently used entries off until the total fits max, keeping
 * `keep`; their hashes go to *victims (malloc'd) for the caller to unlink
 * after unlocking. Returns how many. */
static size_t dc_evict(struct diskcache *dc, uint64_t keep,
		       uint64_t **victims)
{
	size_t n = 0, cap = 0;

	*victims = NULL;
	while (dc->st.bytes > dc->max && dc->lru.prev != &dc->lru) {
		struct dc_ent *e = dc->lru.prev;

		if (e->h == keep) {
			if (e->prev == &dc->lru)
				break;
			e = e->prev;
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			uint64_t *v = realloc(*victims, c * sizeof(*v));

			if (!v)
				break;
			*victims = v;
			cap = c;
		}
		(*victims)[n++] = e->h;
		dc_drop(dc, e->h);
		dc->st.evictions++;
	}
	return n;
}

static void dc_unlink_all(struct diskcache *dc, uint64_t *victims, size_t n)
{
	char name[17];

	for (size_t i = 0; i < n; i++) {
		dc_name(victims[i], name);
		unlinkat(dc->dfd, name, 0);
	}
	free(victims);
}

/* ---- files ---- */

/* Check file fd against key and len and read its data into dst: 0, -ENOENT
 * (another key's file), -EIO (damaged). */
static int dc_check(int fd, const char *key, void *dst, size_t len)
{
	size_t klen = strlen(key);
	char kbuf[DC_KEY_MAX];
	struct dc_hdr hd;
	struct stat st;

	if (fstat(fd, &st) || fd_pread_full(fd, &hd, sizeof(hd), 0) ||
	    memcmp(hd.magic, DC_MAGIC, 8) || hd.key_len > DC_KEY_MAX ||
	    (uint64_t)st.st_size != sizeof(hd) + hd.key_len + hd.data_len ||
	    fd_pread_full(fd, kbuf, hd.key_len, sizeof(hd)))
		return -EIO;
	if (hd.key_len != klen || memcmp(kbuf, key, klen) ||
	    hd.data_len != len)
		return -ENOENT;
	if (fd_pread_full(fd, dst, len, sizeof(hd) + klen) ||
	    codec_crc32c(0, dst, len) != hd.data_crc)
		return -EIO;
	return 0;
}

int diskcache_get(struct diskcache *dc, const char *key, void *dst,
		  size_t len)
{
	uint64_t h = dc_hash(key);
	char name[17];
	bool known;
	int fd, rc;

	pthread_mutex_lock(&dc->lock);
	known = *dc_slot(dc, h) != NULL;
	if (!known)
		dc->st.misses++;
	pthread_mutex_unlock(&dc->lock);
	if (!known)
		return -ENOENT;
	dc_name(h, name);
	fd = openat(dc->dfd, name, O_RDONLY | O_CLOEXEC);
	rc = fd < 0 ? -ENOENT : dc_check(fd, key, dst, len);
	if (rc == -EIO) {
		tfs_warn("cold cache: %s is damaged; deleted (read from the "
			 "cold store instead)", name);
		unlinkat(dc->dfd, name, 0);
	}
	if (rc == 0)
		futimens(fd, NULL);     /* its place in the LRU order */
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&dc->lock);
	if (rc == 0) {
		struct dc_ent *e = *dc_slot(dc, h);

		dc->st.hits++;
		if (e) {
			lru_unlink(e);
			lru_push(dc, e);
		}
	} else {
		dc->st.misses++;
		if (rc == -EIO) {
			dc->st.bad++;
			dc_drop(dc, h);
		}
	}
	pthread_mutex_unlock(&dc->lock);
	return rc ? -ENOENT : 0;
}

int diskcache_put(struct diskcache *dc, const char *key, const void *buf,
		  size_t len)
{
	size_t klen = strlen(key);
	struct dc_hdr hd = { .key_len = (uint32_t)klen, .data_len = len };
	uint64_t h = dc_hash(key), size, *victims;
	struct iovec iov[3];
	char name[17], tmp[64];
	size_t nv;
	int fd, rc;

	if (klen == 0 || klen > DC_KEY_MAX)
		return -EINVAL;
	size = dc_size(sizeof(hd) + klen + len);
	if (size > dc->max)
		return 0;
	memcpy(hd.magic, DC_MAGIC, 8);
	hd.data_crc = codec_crc32c(0, buf, len);
	dc_name(h, name);
	snprintf(tmp, sizeof(tmp), ".tmp-%s-%" PRIu64, name,
		 atomic_fetch_add(&dc->seq, 1));
	fd = openat(dc->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	iov[0] = (struct iovec){ &hd, sizeof(hd) };
	iov[1] = (struct iovec){ (void *)key, klen };
	iov[2] = (struct iovec){ (void *)buf, len };
	rc = fd_pwritev_full(fd, iov, 3, 0);    /* a new file, from 0 */
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(dc->dfd, tmp, dc->dfd, name))
		rc = -errno;
	if (rc) {
		unlinkat(dc->dfd, tmp, 0);
		return rc;
	}
	pthread_mutex_lock(&dc->lock);
	rc = dc_add(dc, h, size);
	if (!rc)
		dc->st.puts++;
	nv = dc_evict(dc, h, &victims);
	pthread_mutex_unlock(&dc->lock);
	if (rc)
		unlinkat(dc->dfd, name, 0);
	dc_unlink_all(dc, victims, nv);
	return rc;
}

void diskcache_get_stats(struct diskcache *dc, struct diskcache_stats *out)
{
	pthread_mutex_lock(&dc->lock);
	*out = dc->st;
	out->max = dc->max;
	pthread_mutex_unlock(&dc->lock);
}

/* ---- open: index what is there ---- */

struct dc_found {
	uint64_t h, size;
	struct timespec mtime;
};

static int cmp_mtime(const void *a, const void *b)
{
	const struct dc_found *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) -
	       (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

static bool dc_parse_name(const char *s, uint64_t *h)
{
	char *end;

	if (strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
		return false;
	*h = strtoull(s, &end, 16);
	return *end == 0;
}

static int dc_scan(struct diskcache *dc)
{
	struct dc_found *f = NULL;
	size_t n = 0, cap = 0, nv;
	uint64_t *victims;
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	fd = dup(dc->dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		uint64_t h;

		if (!strncmp(de->d_name, ".tmp-", 5)) {
			unlinkat(dc->dfd, de->d_name, 0);
			continue;
		}
		if (!dc_parse_name(de->d_name, &h) ||
		    fstatat(dc->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 256;
			struct dc_found *p = realloc(f, c * sizeof(*p));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			f = p;
			cap = c;
		}
		f[n++] = (struct dc_found){ h, dc_size((uint64_t)st.st_size),
					    st.st_mtim };
	}
	closedir(d);
	if (n)
		qsort(f, n, sizeof(*f), cmp_mtime);
	pthread_mutex_lock(&dc->lock);
	for (size_t i = 0; i < n && !rc; i++)
		rc = dc_add(dc, f[i].h, f[i].size);
	nv = dc_evict(dc, 0, &victims);
	pthread_mutex_unlock(&dc->lock);
	dc_unlink_all(dc, victims, nv);
	free(f);
	return rc;
}

int diskcache_open(struct diskcache **out, const char *dir, uint64_t max)
{
	struct diskcache *dc;
	int rc;

	*out = NULL;
	if (max == 0)
		return -EINVAL;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	dc = calloc(1, sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	pthread_mutex_init(&dc->lock, NULL);
	dc->lru.prev = dc->lru.next = &dc->lru;
	dc->max = max;
	dc->nbuckets = 1024;
	dc->tab = calloc(dc->nbuckets, sizeof(*dc->tab));
	dc->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = dc->dfd < 0 ? -errno : dc->tab ? 0 : -ENOMEM;
	if (!rc)
		rc = dc_scan(dc);
	if (rc) {
		diskcache_close(&dc);
		return rc;
	}
	*out = dc;
	return 0;
}

void diskcache_close(struct diskcache **dcp)
{
	struct diskcache *dc = *dcp;

	if (!dc)
		return;
	while (dc->lru.next != &dc->lru) {
		struct dc_ent *e = dc->lru.next;

		lru_unlink(e);
		free(e);
	}
	free(dc->tab);
	if (dc->dfd >= 0)
		close(dc->dfd);
	pthread_mutex_destroy(&dc->lock);
	free(dc);
	*dcp = NULL;
}
