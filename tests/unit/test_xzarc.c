/* test_xzarc.c - unit tests for xzarc.c: round trips, xz(1) compatibility,
 * stored blocks, determinism across threads, corruption and bad files. */
#include "blob.h"
#include "xzarc.h"

#include "blkcache.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KiB 1024u
#define XZ_BIN "/usr/bin/xz"

struct tdir {
	char dir[64];
	char path[128];         /* dir/a.xz */
};

static void tdir_init(struct tdir *t)
{
	strcpy(t->dir, "/tmp/test_xzarc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/a.xz", t->dir);
}

/* Archives live in a blob store (blob.h): the local store over the
 * directory of `path`, kept open until tdir_fini (open archives need it). */
static struct blob_store *g_bs;
static char g_bs_dir[64];

static const char *t_store(const char *path, struct blob_store **bs)
{
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path);

	ck_assert_ptr_nonnull(slash);
	ck_assert_uint_lt(n, sizeof(g_bs_dir));
	if (g_bs == NULL || strncmp(g_bs_dir, path, n) != 0 ||
	    g_bs_dir[n] != '\0') {
		blob_store_close(&g_bs);
		memcpy(g_bs_dir, path, n);
		g_bs_dir[n] = '\0';
		ck_assert_int_eq(blob_local_open(&g_bs, g_bs_dir, 0644, 0), 0);
	}
	*bs = g_bs;
	return slash + 1;
}

static int t_xzarc_open(struct xzarc **a, const char *path, uint64_t id)
{
	struct blob_store *bs;
	const char *name = t_store(path, &bs);

	return xzarc_open(a, bs, name, id);
}

static int t_writer_open(struct xzarc_writer **w, const char *path,
			 const struct xzarc_params *p)
{
	struct blob_store *bs;
	const char *name = t_store(path, &bs);

	return xzarc_writer_open(w, bs, name, p);
}

static void tdir_fini(struct tdir *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	rmdir(t->dir);
	blob_store_close(&g_bs);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t xs_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill_random(uint8_t *b, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(xs_next(&s) >> 24);
}

/* English-like text: compresses well but not trivially. */
static void fill_text(uint8_t *b, size_t n, uint64_t seed)
{
	static const char *const words[] = {
		"the", "cold", "tier", "keeps", "blocks", "of", "xz", "data",
		"while", "readers", "decode", "only", "what", "they", "need",
		"archive", "index", "stream", "footer", "vector", "model",
		"embedding", "file", "system", "and", "a", "to", "in", "is",
		"cache", "latency", "throughput", "compression", "ratio",
	};
	uint64_t s = seed + 7;
	size_t i = 0;

	while (i < n) {
		const char *w = words[xs_next(&s) % (sizeof(words) /
						     sizeof(words[0]))];
		size_t l = strlen(w);

		if (l > n - i)
			l = n - i;
		memcpy(b + i, w, l);
		i += l;
		if (i < n)
			b[i++] = (xs_next(&s) % 11 == 0) ? '\n' : ' ';
	}
}

static struct xzarc_params params(uint64_t block, uint32_t preset,
				  uint32_t threads)
{
	return (struct xzarc_params){ .block_size = block, .preset = preset,
				      .min_saving = 5, .threads = threads };
}

/* Write `data` as one archive, fed in uneven pieces. */
static uint64_t write_arc(const char *path, const struct xzarc_params *p,
			  const uint8_t *data, size_t len)
{
	struct xzarc_writer *w;
	uint64_t size = 0, s = 42;
	size_t off = 0;
	struct stat st;

	ck_assert_int_eq(t_writer_open(&w, path, p), 0);
	while (off < len) {
		size_t n = (size_t)(xs_next(&s) % (100 * KiB));

		if (n > len - off)
			n = len - off;
		ck_assert_int_eq(xzarc_writer_add(w, data + off, n), 0);
		off += n;
		ck_assert_uint_eq(xzarc_writer_offset(w), off);
	}
	ck_assert_int_eq(xzarc_writer_finish(&w, &size), 0);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, size);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	return size;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void patch_byte(const char *path, uint64_t off, uint8_t xor)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= xor;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

/* Locate block k (0-based) in the file with liblzma, independently of the
 * code under test. */
static void block_range(const char *path, uint64_t k, uint64_t *off,
			uint64_t *total)
{
	size_t flen, ipos = 0;
	uint8_t *f = read_file(path, &flen);
	lzma_stream_flags ff;
	lzma_index *idx = NULL;
	lzma_index_iter it;
	uint64_t memlimit = UINT64_MAX;

	ck_assert_int_eq(lzma_stream_footer_decode(&ff, f + flen - 12),
			 LZMA_OK);
	ck_assert_int_eq(lzma_index_buffer_decode(&idx, &memlimit, NULL,
			 f + flen - 12 - ff.backward_size, &ipos,
			 ff.backward_size), LZMA_OK);
	lzma_index_iter_init(&it, idx);
	do
		ck_assert(!lzma_index_iter_next(&it, LZMA_INDEX_ITER_BLOCK));
	while (k-- > 0);
	*off = it.block.compressed_file_offset;
	*total = it.block.total_size;
	lzma_index_end(idx, NULL);
	free(f);
}

static bool have_xz(void)
{
	return access(XZ_BIN, X_OK) == 0;
}

static int run(const char *fmt, const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, path);
	return system(cmd);
}

/* xz -t, xz -l (block count) and xz -dc (bytes) agree with us. */
static void check_with_xz(const char *path, const uint8_t *data, size_t len,
			  uint64_t nblocks)
{
	char cmd[512], line[512];
	unsigned long long streams = 0, blocks = 0;
	uint8_t *out;
	size_t got = 0, n;
	FILE *f;

	if (!have_xz()) {
		fprintf(stderr, "skip: %s missing\n", XZ_BIN);
		return;
	}
	ck_assert_int_eq(run(XZ_BIN " -t '%s'", path), 0);
	snprintf(cmd, sizeof(cmd), XZ_BIN " --robot -l '%s'", path);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "file\t", 5))
			sscanf(line + 5, "%llu\t%llu", &streams, &blocks);
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_uint_eq(streams, 1);
	ck_assert_uint_eq(blocks, nblocks);

	snprintf(cmd, sizeof(cmd), XZ_BIN " -dc '%s'", path);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	out = malloc(len + 4096);
	while ((n = fread(out + got, 1, len + 4096 - got, f)) > 0)
		got += n;
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_uint_eq(got, len);
	ck_assert(memcmp(out, data, len) == 0);
	free(out);
}

/* Random reads (crossing block boundaries and the end) match the source. */
static void check_reads(struct xzarc *a, struct blkcache *c,
			const uint8_t *data, size_t len, int n, uint64_t seed)
{
	uint8_t *buf = malloc(300 * KiB);
	uint64_t s = seed;
	int i;

	for (i = 0; i < n; i++) {
		uint64_t off = xs_next(&s) % (len + 2000);
		size_t want = (size_t)(xs_next(&s) % (i % 4 ? 3000 :
						       300 * KiB));
		size_t expect = off >= len ? 0 :
				(want < len - off ? want : len - off);
		ssize_t r = xzarc_pread(a, c, buf, want, off);

		ck_assert_int_eq(r, (ssize_t)expect);
		ck_assert(memcmp(buf, data + (off < len ? off : 0),
				 expect) == 0);
	}
	free(buf);
}

START_TEST(test_roundtrip_files)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 1, 1);
	size_t sizes[] = { 0, 1, 3 * KiB, 3 * KiB, 0, 1200 * KiB + 17, 17,
			   64 * KiB, 1 };
	size_t total = 0, i, off = 0;
	struct xzarc_writer *w;
	struct blkcache *c;
	struct blkcache_stats st;
	struct xzarc *a;
	uint8_t *data;
	uint64_t size;

	tdir_init(&t);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	data = malloc(total);
	/* Files of text and random data, added one "file" at a time. */
	ck_assert_int_eq(t_writer_open(&w, t.path, &p), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (i % 2)
			fill_random(data + off, sizes[i], i);
		else
			fill_text(data + off, sizes[i], i);
		ck_assert_int_eq(xzarc_writer_add(w, data + off, sizes[i]), 0);
		off += sizes[i];
		ck_assert_uint_eq(xzarc_writer_offset(w), off);
	}
	ck_assert_int_eq(xzarc_writer_finish(&w, &size), 0);

	ck_assert_int_eq(t_xzarc_open(&a, t.path, 7), 0);
	ck_assert_uint_eq(xzarc_size(a), total);
	ck_assert_uint_eq(xzarc_nblocks(a), (total + 64 * KiB - 1) /
					    (64 * KiB));
	ck_assert_int_eq(blkcache_create(&c, 256 * KiB), 0);
	check_reads(a, c, data, total, 400, 1);
	check_reads(a, NULL, data, total, 100, 2);
	/* Each file read back exactly, through the cache. */
	for (i = 0, off = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *buf = malloc(sizes[i] + 1);

		ck_assert_int_eq(xzarc_pread(a, c, buf, sizes[i], off),
				 (ssize_t)sizes[i]);
		ck_assert(memcmp(buf, data + off, sizes[i]) == 0);
		off += sizes[i];
		free(buf);
	}
	/* Past the end: short, then nothing. */
	{
		uint8_t buf[10];

		ck_assert_int_eq(xzarc_pread(a, c, buf, 10, total - 1), 1);
		ck_assert_uint_eq(buf[0], data[total - 1]);
		ck_assert_int_eq(xzarc_pread(a, c, buf, 10, total), 0);
		ck_assert_int_eq(xzarc_pread(a, c, buf, 10, total + 5000), 0);
	}
	blkcache_get_stats(c, &st);
	/* Mostly random bytes: stored blocks, read again on every read
	 * (a local store's page cache keeps them), compressed ones cached. */
	ck_assert_uint_gt(st.hits + st.decodes, 0);
	ck_assert_uint_le(st.bytes, 256 * KiB);
	check_with_xz(t.path, data, total, xzarc_nblocks(a));
	xzarc_close(&a);
	ck_assert_ptr_null(a);
	xzarc_close(&a);
	blkcache_destroy(&c);
	free(data);
	tdir_fini(&t);
}
END_TEST

START_TEST(test_empty_archive)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 6, 2);
	struct xzarc_writer *w;
	struct xzarc *a;
	uint64_t size;
	uint8_t buf[4];

	tdir_init(&t);
	ck_assert_int_eq(t_writer_open(&w, t.path, &p), 0);
	ck_assert_int_eq(xzarc_writer_add(w, "", 0), 0);
	ck_assert_int_eq(xzarc_writer_finish(&w, &size), 0);
	ck_assert_int_eq(t_xzarc_open(&a, t.path, 1), 0);
	ck_assert_uint_eq(xzarc_size(a), 0);
	ck_assert_uint_eq(xzarc_nblocks(a), 0);
	ck_assert_int_eq(xzarc_pread(a, NULL, buf, 4, 0), 0);
	check_with_xz(t.path, buf, 0, 0);
	xzarc_close(&a);
	tdir_fini(&t);
}
END_TEST

/* Time decoding every block once (no cache); prints, never asserts. */
static void print_decode_speed(const char *what, const char *path,
			       const uint8_t *data, size_t len)
{
	struct xzarc *a;
	uint8_t *buf = malloc(len);
	double t0, dt;

	ck_assert_int_eq(t_xzarc_open(&a, path, 99), 0);
	t0 = now_s();
	ck_assert_int_eq(xzarc_pread(a, NULL, buf, len, 0), (ssize_t)len);
	dt = now_s() - t0;
	ck_assert(memcmp(buf, data, len) == 0);
	fprintf(stderr, "xzarc decode %-6s: %zu KiB in %.1f ms = %.0f MB/s\n",
		what, len / KiB, dt * 1e3, len / dt / 1e6);
	xzarc_close(&a);
	free(buf);
}

START_TEST(test_random_stored_raw)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 6, 2);
	size_t len = 2048 * KiB;
	uint8_t *data = malloc(len);
	struct blkcache *c;
	struct blkcache_stats st;
	struct xzarc *a;
	uint64_t size;

	tdir_init(&t);
	fill_random(data, len, 3);
	size = write_arc(t.path, &p, data, len);
	/* Stored chunks cost 3 bytes per 64 KiB plus headers and checks. */
	ck_assert_uint_ge(size, len);
	ck_assert_uint_le(size, len + len / 1000 + 1024);
	ck_assert_int_eq(blkcache_create(&c, 1 << 20), 0);
	ck_assert_int_eq(t_xzarc_open(&a, t.path, 3), 0);
	check_reads(a, c, data, len, 200, 3);
	blkcache_get_stats(c, &st);
	ck_assert_uint_ge(st.decodes, xzarc_nblocks(a));
	/* Stored blocks on a local store are read and checked each time,
	 * never cached: every read of one is a miss. */
	ck_assert_uint_eq(st.decodes, st.misses);
	ck_assert_uint_eq(st.hits, 0);
	ck_assert_uint_eq(st.bytes, 0);
	check_with_xz(t.path, data, len, xzarc_nblocks(a));
	xzarc_close(&a);
	print_decode_speed("random", t.path, data, len);
	blkcache_destroy(&c);
	free(data);
	tdir_fini(&t);
}
END_TEST

START_TEST(test_text_compresses)
{
	struct tdir t;
	struct xzarc_params p = params(256 * KiB, 6, 2);
	size_t len = 2048 * KiB;
	uint8_t *data = malloc(len), buf[4096];
	struct blkcache *c;
	struct blkcache_stats st;
	struct xzarc *a;
	uint64_t size;
	double t0;

	tdir_init(&t);
	fill_text(data, len, 5);
	size = write_arc(t.path, &p, data, len);
	ck_assert_uint_lt(size, len / 3);
	fprintf(stderr, "xzarc text ratio: %.2fx\n", (double)len / size);
	print_decode_speed("text", t.path, data, len);

	ck_assert_int_eq(blkcache_create(&c, 1 << 20), 0);
	ck_assert_int_eq(t_xzarc_open(&a, t.path, 5), 0);
	ck_assert_uint_eq(xzarc_nblocks(a), 8);
	/* One 256 KiB text block: first read decodes, the second hits. */
	t0 = now_s();
	ck_assert_int_eq(xzarc_pread(a, c, buf, sizeof(buf), 300 * KiB),
			 (ssize_t)sizeof(buf));
	fprintf(stderr, "xzarc decode one 256 KiB text block: %.2f ms\n",
		(now_s() - t0) * 1e3);
	ck_assert(memcmp(buf, data + 300 * KiB, sizeof(buf)) == 0);
	ck_assert_int_eq(xzarc_pread(a, c, buf, sizeof(buf), 400 * KiB),
			 (ssize_t)sizeof(buf));
	ck_assert(memcmp(buf, data + 400 * KiB, sizeof(buf)) == 0);
	blkcache_get_stats(c, &st);
	ck_assert_uint_eq(st.decodes, 1);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.bytes, 256 * KiB);
	check_with_xz(t.path, data, len, 8);
	xzarc_close(&a);
	blkcache_destroy(&c);
	free(data);
	tdir_fini(&t);
}
END_TEST

START_TEST(test_threads_identical)
{
	struct tdir t;
	size_t len = 1500 * KiB, l1, l2, l3;
	uint8_t *data = malloc(len), *f1, *f2, *f3;
	struct xzarc_params p1 = params(64 * KiB, 2, 1);
	struct xzarc_params p2 = params(64 * KiB, 2, 2);
	struct xzarc_params p3 = params(64 * KiB, 2, 3);
	char path2[160], path3[160];

	tdir_init(&t);
	fill_text(data, len / 2, 9);
	fill_random(data + len / 2, len - len / 2, 9);
	snprintf(path2, sizeof(path2), "%s/b.xz", t.dir);
	snprintf(path3, sizeof(path3), "%s/c.xz", t.dir);
	write_arc(t.path, &p1, data, len);
	write_arc(path2, &p2, data, len);
	write_arc(path3, &p3, data, len);
	f1 = read_file(t.path, &l1);
	f2 = read_file(path2, &l2);
	f3 = read_file(path3, &l3);
	ck_assert_uint_eq(l1, l2);
	ck_assert_uint_eq(l1, l3);
	ck_assert(memcmp(f1, f2, l1) == 0);
	ck_assert(memcmp(f1, f3, l1) == 0);
	free(f1);
	free(f2);
	free(f3);
	free(data);
	tdir_fini(&t);
}
END_TEST

/* Flip a byte at `at` (relative to block k), expect -EIO for block k only. */
static void corrupt_and_check(const uint8_t *data, size_t len, int k,
			      const char *where)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 1, 1);
	uint64_t boff, btot, at;
	struct blkcache *c;
	struct xzarc *a;
	uint8_t *buf = malloc(128 * KiB);
	uint64_t u = (uint64_t)k * 64 * KiB;

	tdir_init(&t);
	write_arc(t.path, &p, data, len);
	block_range(t.path, (uint64_t)k, &boff, &btot);
	if (!strcmp(where, "header"))
		at = boff + 2;
	else if (!strcmp(where, "check"))
		at = boff + btot - 1;
	else
		at = boff + btot / 2;
	patch_byte(t.path, at, 0x20);
	ck_assert_int_eq(blkcache_create(&c, 1 << 20), 0);
	ck_assert_int_eq(t_xzarc_open(&a, t.path, 11), 0);
	ck_assert_int_eq(xzarc_pread(a, c, buf, 100, u + 10), -EIO);
	ck_assert_int_eq(xzarc_pread(a, NULL, buf, 100, u + 10), -EIO);
	/* A read spanning into the bad block fails as a whole. */
	ck_assert_int_eq(xzarc_pread(a, c, buf, 200, u - 100), -EIO);
	/* Its neighbours still read right. */
	ck_assert_int_eq(xzarc_pread(a, c, buf, 64 * KiB, u - 64 * KiB),
			 64 * KiB);
	ck_assert(memcmp(buf, data + u - 64 * KiB, 64 * KiB) == 0);
	ck_assert_int_eq(xzarc_pread(a, c, buf, 64 * KiB, u + 64 * KiB),
			 64 * KiB);
	ck_assert(memcmp(buf, data + u + 64 * KiB, 64 * KiB) == 0);
	if (have_xz())
		ck_assert_int_ne(run(XZ_BIN " -t '%s' 2>/dev/null", t.path),
				 0);
	xzarc_close(&a);
	blkcache_destroy(&c);
	free(buf);
	tdir_fini(&t);
}

START_TEST(test_corrupt_block)
{
	size_t len = 640 * KiB;
	uint8_t *text = malloc(len), *rnd = malloc(len);

	fill_text(text, len, 11);
	fill_random(rnd, len, 11);
	corrupt_and_check(text, len, 3, "data");
	corrupt_and_check(text, len, 4, "header");
	corrupt_and_check(text, len, 5, "check");
	/* Stored (raw) blocks: the copy path must verify the CRC too. */
	corrupt_and_check(rnd, len, 3, "data");
	corrupt_and_check(rnd, len, 4, "header");
	corrupt_and_check(rnd, len, 5, "check");
	free(text);
	free(rnd);
}
END_TEST

static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
	close(fd);
}

START_TEST(test_bad_files)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 1, 1);
	size_t len = 300 * KiB, flen;
	uint8_t *data = malloc(len), *f;
	struct xzarc *a = NULL;
	char other[160];

	tdir_init(&t);
	fill_text(data, len, 13);
	write_arc(t.path, &p, data, len);
	f = read_file(t.path, &flen);
	snprintf(other, sizeof(other), "%s/bad.xz", t.dir);

	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -ENOENT);
	write_bytes(other, f, 0);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	write_bytes(other, f, flen - 1);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	write_bytes(other, f, flen - 4);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	write_bytes(other, f, flen / 2);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	/* Garbage of a plausible size. */
	fill_random(data, 64 * KiB, 1);
	write_bytes(other, data, 64 * KiB);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	/* Garbage behind a valid footer. */
	memcpy(data + 64 * KiB - 12, f + flen - 12, 12);
	write_bytes(other, data, 64 * KiB);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	/* A flipped byte in the index, or in the stream header flags. */
	write_bytes(other, f, flen);
	patch_byte(other, flen - 12 - 3, 0x01);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	write_bytes(other, f, flen);
	patch_byte(other, 7, 0x01);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), -EIO);
	/* The same bytes intact open fine. */
	write_bytes(other, f, flen);
	ck_assert_int_eq(t_xzarc_open(&a, other, 1), 0);
	xzarc_close(&a);
	ck_assert_ptr_null(a);
	free(f);
	free(data);
	tdir_fini(&t);
}
END_TEST

START_TEST(test_writer_errors)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 1, 2);
	struct xzarc_params bad = params(100, 1, 1);
	struct xzarc_writer *w;
	struct stat st;
	uint8_t one = 1;

	tdir_init(&t);
	ck_assert_int_eq(t_writer_open(&w, t.path, &bad), -EINVAL);
	bad = params(64 * KiB, 10, 1);
	ck_assert_int_eq(t_writer_open(&w, t.path, &bad), -EINVAL);
	ck_assert_int_eq(stat(t.path, &st), -1);
	/* O_EXCL: an existing file is refused and left alone. */
	write_bytes(t.path, &one, 1);
	ck_assert_int_eq(t_writer_open(&w, t.path, &p), -EEXIST);
	ck_assert_int_eq(stat(t.path, &st), 0);
	ck_assert_int_eq(st.st_size, 1);
	unlink(t.path);
	/* abort removes the file. */
	ck_assert_int_eq(t_writer_open(&w, t.path, &p), 0);
	ck_assert_int_eq(xzarc_writer_add(w, &one, 1), 0);
	xzarc_writer_abort(&w);
	ck_assert_ptr_null(w);
	xzarc_writer_abort(&w);
	ck_assert_int_eq(stat(t.path, &st), -1);
	tdir_fini(&t);
}
END_TEST

/* A full disk, simulated with RLIMIT_FSIZE (restored at the end, for
 * CK_FORK=no runs): the writer fails and leaves no file behind. */
START_TEST(test_disk_full)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 1, 2);
	size_t len = 1024 * KiB;
	uint8_t *data = malloc(len);
	struct rlimit old, rl;
	struct xzarc_writer *w;
	struct stat st;
	uint64_t size;
	int err;

	tdir_init(&t);
	fill_random(data, len, 17);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = 200 * KiB;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(t_writer_open(&w, t.path, &p), 0);
	err = xzarc_writer_add(w, data, len);
	if (err) {
		ck_assert_int_eq(err, -EFBIG);
		xzarc_writer_abort(&w);
	} else {
		ck_assert_int_eq(xzarc_writer_finish(&w, &size), -EFBIG);
	}
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(stat(t.path, &st), -1);
	free(data);
	tdir_fini(&t);
}
END_TEST

struct reader_arg {
	struct xzarc *a;
	struct blkcache *c;
	const uint8_t *data;
	size_t len;
	uint64_t seed;
};

static void *reader(void *p)
{
	struct reader_arg *r = p;

	check_reads(r->a, r->c, r->data, r->len, 300, r->seed);
	return NULL;
}

START_TEST(test_concurrent_readers)
{
	struct tdir t;
	struct xzarc_params p = params(64 * KiB, 1, 2);
	size_t len = 1024 * KiB;
	uint8_t *data = malloc(len);
	struct reader_arg ra[3];
	pthread_t th[3];
	struct blkcache *c;
	struct xzarc *a;
	int i;

	tdir_init(&t);
	fill_text(data, len / 2, 19);
	fill_random(data + len / 2, len / 2, 19);
	write_arc(t.path, &p, data, len);
	ck_assert_int_eq(t_xzarc_open(&a, t.path, 19), 0);
	ck_assert_int_eq(blkcache_create(&c, 256 * KiB), 0);
	for (i = 0; i < 3; i++) {
		ra[i] = (struct reader_arg){ a, c, data, len, 100u + i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &ra[i]),
				 0);
	}
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	xzarc_close(&a);
	blkcache_destroy(&c);
	free(data);
	tdir_fini(&t);
}
END_TEST

static Suite *xzarc_suite(void)
{
	Suite *s = suite_create("xzarc");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip_files);
	tcase_add_test(tc, test_empty_archive);
	tcase_add_test(tc, test_random_stored_raw);
	tcase_add_test(tc, test_text_compresses);
	tcase_add_test(tc, test_threads_identical);
	tcase_add_test(tc, test_corrupt_block);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_writer_errors);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_concurrent_readers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(xzarc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
