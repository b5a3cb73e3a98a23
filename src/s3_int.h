/*
 * s3_int.h - private to s3.c (one request with retries) and s3_ops.c (the
 * S3 operations built on it): the request a caller describes and s3_do()
 * performs.
 *
 * What it is not: an API. Everybody else uses s3.h.
 */
#ifndef TIERFS_S3_INT_H
#define TIERFS_S3_INT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3.h"

struct membuf {
	char *data;             /* NUL-terminated, malloc'd */
	size_t len, cap;
};

enum sink {
	SINK_NONE,              /* discard the body */
	SINK_MEM,               /* into body (XML answers) */
	SINK_BUF,               /* ranged GET into dst */
	SINK_FD,                /* whole object into dst_fd */
};

struct req {
	/* in */
	const char *method;     /* GET HEAD PUT POST DELETE */
	const char *key;        /* "" for the bucket itself */
	const char *query;      /* sorted, encoded; NULL for none */
	const char *content_type; /* a whole header line, or NULL */
	bool log_enoent;        /* a 404 is an error worth logging */
	const void *up_buf;     /* body from memory... */
	int up_fd;              /* ...or from this file at up_off */
	uint64_t up_off, up_len;
	enum sink sink;
	void *dst;              /* SINK_BUF */
	size_t dst_cap;
	uint64_t range_off;
	int dst_fd;             /* SINK_FD, written from dst_off */
	uint64_t dst_off;
	/* out */
	long status;
	char etag[S3_ETAG_MAX];
	uint64_t content_length;
	bool has_length;
	struct membuf body;     /* SINK_MEM, or an error body; caller frees */
	size_t dst_len;         /* bytes written to dst / dst_fd */
	char code[64];          /* S3 error code of a failed call */
	/* private to s3.c */
	CURL *h;
	uint64_t up_pos, skip;
};

/* Perform r (with retries until the client's deadline). 0 for a 2xx (and
 * for a ranged GET past the end, with dst_len 0), else a negative errno. */
int s3_do(struct s3 *s, struct req *r);
/* Percent-encode `in` (RFC 3986 unreserved kept; '/' kept if keep_slash). */
int s3_encode(const char *in, bool keep_slash, char *out, size_t outlen);
const char *s3_bucket(const struct s3 *s);
/* Append a string to m: 0 or -ENOMEM. */
int s3_membuf_cat(struct membuf *m, const char *str);

#endif
