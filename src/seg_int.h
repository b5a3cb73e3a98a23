/*
 * seg_int.h - private to seg.c, seg_append.c and seg_read.c: the on-disk layout of
 * segment files and records (described in seg.c's DESIGN), struct segstore
 * and the few helpers the read path shares with the rest.
 *
 * What it is not: an API. Everybody else uses seg.h.
 */
#ifndef TIERFS_SEG_INT_H
#define TIERFS_SEG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "seg.h"
#include "tierfs.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "segment files are little-endian; port seg.c first");

#define SEG_FMAGIC      "TFSSEG\0\1"
#define SEG_FVERSION    1u
#define SEG_RMAGIC      0x52534654u     /* "TFSR" on disk */
#define SEG_RVERSION    1u
#define SEG_RAW         0x0001u         /* payload stored uncompressed */

/* Segment file header, at offset 0. */
struct seg_fhdr {
	char magic[8];          /* SEG_FMAGIC */
	uint32_t version;       /* SEG_FVERSION */
	uint32_t hdr_size;      /* sizeof(struct seg_fhdr): first record */
	uint64_t id;            /* the id in the file name */
	uint8_t reserved[40];   /* zero */
};

/* Record header, 8-byte aligned, followed by stored_len payload bytes. */
struct seg_rhdr {
	uint32_t magic;         /* SEG_RMAGIC */
	uint16_t version;       /* SEG_RVERSION */
	uint16_t flags;         /* SEG_RAW */
	uint64_t ino;
	uint64_t chunk;
	uint32_t raw_len;       /* decoded length, <= TFS_CHUNK_SIZE */
	uint32_t stored_len;    /* payload length */
	uint32_t data_crc;      /* CRC32C of the raw_len decoded bytes */
	uint32_t hdr_crc;       /* CRC32C of this header, hdr_crc = 0 */
};

_Static_assert(sizeof(struct seg_fhdr) == 64, "seg_fhdr layout");
_Static_assert(sizeof(struct seg_rhdr) == 40, "seg_rhdr layout");

#define SEG_FHDR        ((uint64_t)sizeof(struct seg_fhdr))
#define SEG_RHDR        ((uint32_t)sizeof(struct seg_rhdr))
#define SEG_ALIGN8(x)   (((x) + 7u) & ~(uint64_t)7u)
/* Largest record: header, a raw chunk, padding. */
#define SEG_REC_MAX     SEG_ALIGN8(SEG_RHDR + TFS_CHUNK_SIZE)

/* Read handles kept open at most (beyond it a read opens and closes its
 * own): a store of many segments does not hold a descriptor each. */
#define SEG_OPEN_MAX 512u

struct seg_file {
	uint64_t id;
	struct segstore *s;
	struct blob *_Atomic obj; /* read handle, opened by the first read
				 * (set once, by compare-and-swap) */
	struct blob_wr *wr;     /* the appendable object, NULL when closed;
				 * written by the creator, then only under
				 * sync_lock once sealed */
	_Atomic uint64_t len;   /* readable bytes; grows only while active
				 * (under append_lock, release store) */
	atomic_bool dirty;      /* appended to since the last fdatasync */
	atomic_bool sealed;     /* will never be appended to again */
	_Atomic uint64_t punched_live; /* live bytes at the last hole punch,
					* UINT64_MAX: never punched */
	atomic_uint refs;       /* the table's + one per user */
};

/* An append's framing buffer: record header + payload + pad. */
struct seg_buf {
	struct seg_buf *next;   /* protected by pool_lock while pooled */
	_Alignas(8) uint8_t data[SEG_REC_MAX];
};

struct segstore {
	struct blob_store *bs;  /* STORE/warm, a store with in-place ops */
	uint64_t seg_max;
	size_t page;            /* hole punching works in whole pages */
	int (*next_id)(void *ctx, uint64_t *id);
	void *ctx;

	pthread_mutex_t append_lock;
	struct seg_file *active;        /* protected by append_lock */
	_Atomic uint64_t active_id;     /* mirror of active->id, or 0 */

	pthread_rwlock_t tab_lock;      /* after append_lock */
	struct seg_file **tab;          /* sorted by id; protected by tab_lock */
	size_t ntab;                    /* protected by tab_lock */
	size_t captab;                  /* protected by tab_lock */

	pthread_mutex_t sync_lock;

	_Atomic uint64_t reserve;       /* free bytes appends leave on disk */
	atomic_bool full;               /* the last append hit the reserve */
	/* seg_check_space's last look at the disk (seg_space.c): the free
	 * bytes it saw, and the bytes and appends checked since. */
	_Atomic uint64_t space_seen;
	_Atomic uint64_t space_spent;
	_Atomic uint32_t space_checks;

	pthread_mutex_t pool_lock;
	struct seg_buf *pool;           /* protected by pool_lock */
	atomic_uint nopen;              /* read handles held by segments */

	_Atomic uint64_t n_appends, n_raw, n_bytes_in, n_bytes_out;
	_Atomic uint64_t n_reads, n_crc_errors;
};

/* A write's -errno as the warm tier reports it: -ENOSPC (also for
 * EDQUOT and EFBIG) or -EIO. */
int seg_space_errno(int r);
/* Start a new active segment (the old one is sealed); *out gets it.
 * Caller holds append_lock. 0 or -errno. */
int seg_roll(struct segstore *s, struct seg_file **out);
/* CRC32C of a record header with its hdr_crc field taken as 0. */
uint32_t seg_rhdr_crc(const struct seg_rhdr *h);
/* Segment `id` with a reference taken (tab_lock is held only inside), or
 * NULL if there is no such segment. Drop the reference with seg_put(). */
struct seg_file *seg_get(struct segstore *s, uint64_t id);
/* Drop a reference; the last one closes and frees the segment. */
void seg_put(struct seg_file *f);
/* The file name of segment id ("%08x.seg"). */
void seg_name(char *buf, size_t n, uint64_t id);
/* -ENOSPC if appending `need` bytes would leave less than the reserve
 * free on the store disk (seg_space.c). */
int seg_check_space(struct segstore *s, uint64_t need);
/* f's read handle, opened if need be; NULL if it cannot be opened. With
 * *own set the caller closes it (blob_close) after use. */
struct blob *seg_handle(struct segstore *s, struct seg_file *f, bool *own);
/* A record-sized buffer from the store's pool (NULL: out of memory), and
 * back. */
struct seg_buf *seg_buf_get(struct segstore *s);
void seg_buf_put(struct segstore *s, struct seg_buf *b);

#endif
