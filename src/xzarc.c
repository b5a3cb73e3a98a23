/*
 * xzarc.c - see xzarc.h. This file: the on-disk format and the writer;
 * xzarc_read.c has the reader, xzarc_int.h the limits both share.
 *
 * DESIGN
 *
 * On disk an archive is exactly one .xz stream: stream header (CRC32 check),
 * blocks, index, stream footer, no stream padding. Every block holds
 * `block_size` uncompressed bytes (the last one fewer) and records both its
 * compressed and uncompressed size in its header, so a reader can check a
 * block against the index before decoding it.
 *
 * Writer. Bytes are copied into the input buffer of the job being filled;
 * a full job is submitted. Jobs live in a ring of `nslots` slots
 * (2 * threads, or 1 without workers) indexed by sequence number:
 *
 *     write_seq <= take_seq <= submit_seq == fill_seq
 *
 * jobs [write_seq, take_seq) are being encoded or are done, [take_seq,
 * submit_seq) wait for a worker, and fill_seq is the slot the owner is
 * filling. After each submit the owner writes finished jobs in sequence
 * order, and blocks on the oldest when the ring is full, so memory stays
 * bounded at nslots blocks and the output order never depends on thread
 * timing (threads=1 and threads=N give byte-identical files). With
 * threads == 1 there are no workers: the owner encodes at submit.
 *
 * Each job encodes its block with lzma_block_buffer_encode (LZMA2 with the
 * preset's options, dictionary no larger than the block); if the result is
 * not `min_saving` percent smaller than the input it is re-encoded with
 * lzma_block_uncomp_encode. The owner appends (unpadded, uncompressed) sizes
 * to an lzma_index as it writes each block; finish writes the index and the
 * footer, fsyncs the file and its directory. Any failure unlinks the file.
 */
#include "xzarc.h"

#include "blob.h"
#include "codec.h"
#include "log.h"
#include "xzarc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XZARC_MAX_THREADS 64
#define XZARC_CHECK LZMA_CHECK_CRC32

/* ------------------------------------------------------------------ */
/* Writer                                                             */
/* ------------------------------------------------------------------ */

/* Size of the blocks a stored (uncompressed) block is cut into. */
#define XW_RAW_SUB (64u * 1024u)
#define XW_RAW_MAXSUB 64

struct xw_job {
	uint8_t *in;            /* block_size bytes; owner fills, worker reads */
	size_t in_len;
	uint8_t *out;           /* lzma_block_buffer_bound(block_size) bytes */
	size_t out_len;
	lzma_vli unpadded;
	/* A stored (raw) block goes out as up to XW_RAW_MAXSUB smaller xz
	 * blocks: a cold read then checks and copies 64 KiB, not 256. */
	uint32_t nsub;                  /* 0: one block, `unpadded` */
	lzma_vli sub_unpadded[XW_RAW_MAXSUB];
	size_t sub_in[XW_RAW_MAXSUB];
	int err;
	bool done;              /* protected by xzarc_writer.lock */
};

struct xzarc_writer {
	struct blob_writer *out;        /* the object being written */
	char *path;                     /* its name, for messages */
	struct xzarc_params p;
	lzma_options_lzma lzopt;        /* read-only once open */
	size_t out_cap;
	lzma_index *idx;                /* owner only */
	uint64_t offset;                /* owner only: bytes added */
	uint64_t file_size;             /* owner only: bytes written */
	int err;                        /* owner only: sticky failure */
	size_t nslots;
	struct xw_job *jobs;
	uint64_t fill_seq;              /* owner only */
	uint64_t write_seq;             /* owner only */
	pthread_mutex_t lock;           /* the workers' queue */
	pthread_cond_t work_cv;
	pthread_cond_t done_cv;
	uint64_t submit_seq;            /* protected by lock */
	uint64_t take_seq;              /* protected by lock */
	bool stop;                      /* protected by lock */
	pthread_t *workers;
	unsigned nworkers;
};

static int lzma_to_errno(lzma_ret r)
{
	return r == LZMA_MEM_ERROR ? -ENOMEM : -EIO;
}

/*
 * Is a block not worth giving to LZMA2? LZMA2 on incompressible input is
 * slow (a few MB/s at preset 6) only to be thrown away for the stored form.
 * A flat byte histogram (chi-square near its 255 degrees of freedom) says
 * "random bytes"; LZ4, which catches repeats a histogram cannot see, must
 * then also fail to save min_saving before the block goes out uncompressed.
 * Data like float vectors has skewed exponent bytes and still gets LZMA2.
 */
static bool xw_incompressible(const uint8_t *in, size_t n, uint64_t keep)
{
	uint32_t hist[256] = { 0 };
	double expect = (double)n / 256.0, chi = 0.0;
	size_t cap;
	void *tmp;
	int got;

	if (n < 4096)
		return false;
	for (size_t i = 0; i < n; i++)
		hist[in[i]]++;
	for (int i = 0; i < 256; i++) {
		double d = (double)hist[i] - expect;

		chi += d * d / expect;
	}
	if (chi > 400.0)
		return false;
	cap = codec_lz4.bound(n);
	tmp = malloc(cap);
	if (!tmp)
		return false;
	got = codec_lz4.compress(in, n, tmp, cap);
	free(tmp);
	return got < 0 || (uint64_t)got * 100 > (uint64_t)n * keep;
}

/* Encode one job's block; runs on a worker or the owner, touches only the
 * job and read-only writer fields. */
static int xw_encode(const struct xzarc_writer *w, struct xw_job *job)
{
	lzma_options_lzma opt = w->lzopt;
	lzma_filter filters[2] = {
		{ .id = LZMA_FILTER_LZMA2, .options = &opt },
		{ .id = LZMA_VLI_UNKNOWN, .options = NULL },
	};
	lzma_block b = { .version = 1, .check = XZARC_CHECK,
			 .filters = filters };
	uint64_t keep = 100 - w->p.min_saving;
	size_t pos = 0;
	lzma_ret r;

	bool raw = xw_incompressible(job->in, job->in_len, keep);

	if (!raw) {
		r = lzma_block_buffer_encode(&b, NULL, job->in, job->in_len,
					     job->out, &pos, w->out_cap);
		if (r != LZMA_OK)
			goto out_fail;
		raw = (uint64_t)pos * 100 > (uint64_t)job->in_len * keep;
	}
	job->nsub = 0;
	if (raw) {
		size_t sub = job->in_len > XW_RAW_SUB * XW_RAW_MAXSUB
				     ? job->in_len / XW_RAW_MAXSUB + 1
				     : XW_RAW_SUB;

		pos = 0;
		for (size_t at = 0; at < job->in_len || at == 0;) {
			size_t n = job->in_len - at < sub ? job->in_len - at
							  : sub;

			memset(&b, 0, sizeof(b));
			b.version = 1;
			b.check = XZARC_CHECK;
			b.filters = filters;
			r = lzma_block_uncomp_encode(&b, job->in + at, n,
						     job->out, &pos,
						     w->out_cap);
			if (r != LZMA_OK)
				goto out_fail;
			job->sub_unpadded[job->nsub] =
				lzma_block_unpadded_size(&b);
			job->sub_in[job->nsub] = n;
			if (job->sub_unpadded[job->nsub++] == 0)
				return -EIO;
			at += n;
			if (n == 0)
				break;
		}
		job->out_len = pos;
		return 0;
	}
	job->out_len = pos;
	job->unpadded = lzma_block_unpadded_size(&b);
	if (job->unpadded == 0)
		return -EIO;
	return 0;

out_fail:
	tfs_err("xzarc %s: block encoder failed (lzma error %d)", w->path,
		(int)r);
	return lzma_to_errno(r);
}

static void *xw_worker(void *arg)
{
	struct xzarc_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct xw_job *job;
		int err;

		while (!w->stop && w->take_seq == w->submit_seq)
			pthread_cond_wait(&w->work_cv, &w->lock);
		if (w->stop)    /* finish or abort: nobody waits any more */
			break;
		job = &w->jobs[w->take_seq++ % w->nslots];
		pthread_mutex_unlock(&w->lock);
		err = xw_encode(w, job);
		pthread_mutex_lock(&w->lock);
		job->err = err;
		job->done = true;
		pthread_cond_broadcast(&w->done_cv);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Write the oldest submitted job, waiting for it if need be. */
static int xw_write_oldest(struct xzarc_writer *w)
{
	struct xw_job *job = &w->jobs[w->write_seq % w->nslots];
	lzma_ret r;
	int err;

	pthread_mutex_lock(&w->lock);
	while (!job->done)
		pthread_cond_wait(&w->done_cv, &w->lock);
	pthread_mutex_unlock(&w->lock);
	w->write_seq++;
	err = job->err;
	if (!err) {
		err = blob_writer_write(w->out, job->out, job->out_len);
		if (err)
			tfs_err("xzarc %s: write: %s", w->path, strerror(-err));
	}
	if (!err && job->nsub) {
		for (uint32_t i = 0; i < job->nsub && !err; i++) {
			r = lzma_index_append(w->idx, NULL,
					      job->sub_unpadded[i],
					      job->sub_in[i]);
			if (r != LZMA_OK)
				err = lzma_to_errno(r);
		}
	} else if (!err) {
		r = lzma_index_append(w->idx, NULL, job->unpadded,
				      job->in_len);
		if (r != LZMA_OK)
			err = lzma_to_errno(r);
	}
	w->file_size += job->out_len;
	job->in_len = 0;
	return err;
}

static bool xw_oldest_done(struct xzarc_writer *w)
{
	bool done;

	pthread_mutex_lock(&w->lock);
	done = w->jobs[w->write_seq % w->nslots].done;
	pthread_mutex_unlock(&w->lock);
	return done;
}

/* Hand the job being filled to the encoder, then write whatever is done
 * (and wait for the oldest if the ring is full). */
static int xw_submit(struct xzarc_writer *w)
{
	struct xw_job *job = &w->jobs[w->fill_seq % w->nslots];
	int err;

	if (w->nworkers == 0) {
		job->err = xw_encode(w, job);
		job->done = true;
	} else {
		pthread_mutex_lock(&w->lock);
		job->done = false;
		w->submit_seq++;
		pthread_cond_signal(&w->work_cv);
		pthread_mutex_unlock(&w->lock);
	}
	w->fill_seq++;
	while (w->write_seq < w->fill_seq &&
	       (w->fill_seq - w->write_seq >= w->nslots || xw_oldest_done(w))) {
		err = xw_write_oldest(w);
		if (err)
			return err;
	}
	return 0;
}

static void xw_free(struct xzarc_writer *w)
{
	unsigned i;

	if (w->workers) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_broadcast(&w->work_cv);
		pthread_mutex_unlock(&w->lock);
		for (i = 0; i < w->nworkers; i++)
			pthread_join(w->workers[i], NULL);
		free(w->workers);
	}
	if (w->jobs) {
		for (i = 0; i < w->nslots; i++) {
			free(w->jobs[i].in);
			free(w->jobs[i].out);
		}
		free(w->jobs);
	}
	blob_writer_abort(&w->out);
	lzma_index_end(w->idx, NULL);
	pthread_cond_destroy(&w->done_cv);
	pthread_cond_destroy(&w->work_cv);
	pthread_mutex_destroy(&w->lock);
	free(w->path);
	free(w);
}

static uint32_t dict_for_block(uint64_t block_size, uint32_t preset_dict)
{
	uint64_t d = LZMA_DICT_SIZE_MIN;

	while (d < block_size && d < preset_dict)
		d <<= 1;
	return d < preset_dict ? (uint32_t)d : preset_dict;
}

int xzarc_writer_open(struct xzarc_writer **out, struct blob_store *bs,
		      const char *name, const struct xzarc_params *p)
{
	struct xzarc_writer *w;
	lzma_stream_flags sf = { .version = 0, .check = XZARC_CHECK };
	uint8_t hdr[LZMA_STREAM_HEADER_SIZE];
	unsigned threads;
	size_t i;
	int err;

	*out = NULL;
	if (p->block_size < LZMA_DICT_SIZE_MIN ||
	    p->block_size > XZARC_MAX_BLOCK || p->preset > 9 ||
	    p->min_saving > 100)
		return -EINVAL;
	threads = p->threads < 1 ? 1 : p->threads;
	if (threads > XZARC_MAX_THREADS)
		threads = XZARC_MAX_THREADS;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->p = *p;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work_cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	if (lzma_lzma_preset(&w->lzopt, p->preset)) {
		err = -EINVAL;
		goto out_free;
	}
	w->lzopt.dict_size = dict_for_block(p->block_size,
					    w->lzopt.dict_size);
	/* Room for the stored form cut into XW_RAW_MAXSUB blocks too. */
	w->out_cap = lzma_block_buffer_bound((size_t)p->block_size);
	if (w->out_cap)
		w->out_cap += XW_RAW_MAXSUB * (LZMA_BLOCK_HEADER_SIZE_MAX + 64);
	w->nslots = threads > 1 ? 2 * (size_t)threads : 1;
	w->path = strdup(name);
	w->idx = lzma_index_init(NULL);
	w->jobs = calloc(w->nslots, sizeof(*w->jobs));
	if (!w->path || !w->idx || !w->jobs || w->out_cap == 0) {
		err = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < w->nslots; i++) {
		w->jobs[i].in = malloc((size_t)p->block_size);
		w->jobs[i].out = malloc(w->out_cap);
		if (!w->jobs[i].in || !w->jobs[i].out) {
			err = -ENOMEM;
			goto out_free;
		}
	}

	err = blob_writer_open(bs, name, NULL, &w->out);
	if (err) {
		tfs_err("xzarc %s: create: %s", name, strerror(-err));
		goto out_free;
	}
	if (lzma_stream_header_encode(&sf, hdr) != LZMA_OK) {
		err = -EIO;
		goto out_free;
	}
	err = blob_writer_write(w->out, hdr, sizeof(hdr));
	if (err)
		goto out_free;
	w->file_size = sizeof(hdr);

	if (threads > 1) {
		w->workers = calloc(threads, sizeof(*w->workers));
		if (!w->workers) {
			err = -ENOMEM;
			goto out_free;
		}
		for (i = 0; i < threads; i++) {
			err = -pthread_create(&w->workers[i], NULL, xw_worker,
					      w);
			if (err)
				goto out_free;
			w->nworkers++;
		}
	}
	*out = w;
	return 0;

out_free:
	xw_free(w);
	return err;
}

int xzarc_writer_add(struct xzarc_writer *w, const void *data, size_t len)
{
	const uint8_t *src = data;

	while (len > 0 && !w->err) {
		struct xw_job *job = &w->jobs[w->fill_seq % w->nslots];
		size_t n = (size_t)w->p.block_size - job->in_len;

		if (n > len)
			n = len;
		memcpy(job->in + job->in_len, src, n);
		job->in_len += n;
		w->offset += n;
		src += n;
		len -= n;
		if (job->in_len == w->p.block_size)
			w->err = xw_submit(w);
	}
	return w->err;
}

uint64_t xzarc_writer_offset(const struct xzarc_writer *w)
{
	return w->offset;
}

int xzarc_writer_finish(struct xzarc_writer **wp, uint64_t *size)
{
	struct xzarc_writer *w = *wp;
	lzma_stream_flags sf = { .version = 0, .check = XZARC_CHECK };
	uint8_t *tail = NULL;
	size_t isize, pos = 0;
	int err;

	*wp = NULL;
	err = w->err;
	if (!err && w->jobs[w->fill_seq % w->nslots].in_len > 0)
		err = xw_submit(w);
	while (!err && w->write_seq < w->fill_seq)
		err = xw_write_oldest(w);
	if (err)
		goto out_fail;

	isize = (size_t)lzma_index_size(w->idx);
	tail = malloc(isize + LZMA_STREAM_HEADER_SIZE);
	if (!tail) {
		err = -ENOMEM;
		goto out_fail;
	}
	sf.backward_size = isize;
	if (lzma_index_buffer_encode(w->idx, tail, &pos, isize) != LZMA_OK ||
	    pos != isize ||
	    lzma_stream_footer_encode(&sf, tail + isize) != LZMA_OK) {
		err = -EIO;
		goto out_fail;
	}
	err = blob_writer_write(w->out, tail, isize + LZMA_STREAM_HEADER_SIZE);
	if (err)
		goto out_fail;
	w->file_size += isize + LZMA_STREAM_HEADER_SIZE;
	/* complete, synced and durable under its name, or removed */
	err = blob_writer_finish(&w->out);
	if (err)
		goto out_fail;
	free(tail);
	if (size)
		*size = w->file_size;
	xw_free(w);
	return 0;

out_fail:
	tfs_err("xzarc %s: cannot finish archive: %s", w->path, strerror(-err));
	free(tail);
	xw_free(w);
	return err;
}

void xzarc_writer_abort(struct xzarc_writer **wp)
{
	if (!wp || !*wp)
		return;
	xw_free(*wp);
	*wp = NULL;
}
