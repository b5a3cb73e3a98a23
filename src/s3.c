/*
 * s3.c - the S3 client of s3.h on libcurl.
 *
 * DESIGN
 *
 * One request is one curl easy transfer described by a struct req (method,
 * key, sorted and encoded query, where the body comes from, where the
 * response goes). libcurl signs it (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3")
 * with the payload declared UNSIGNED-PAYLOAD in x-amz-content-sha256: curl
 * 7.88 signs that header's value as the payload hash and RGW refuses a
 * request without it. curl 7.88 neither sorts nor encodes query parameters
 * for the signature, so every query string here is written sorted and
 * encoded by hand. Bodies are always sent with a Content-Length (RGW
 * refuses chunked uploads). No header may be removed by an empty
 * "Name:" entry: curl 7.88 would still sign it, and the server would not
 * see it (SignatureDoesNotMatch).
 *
 * Retries: a transfer that fails at the connection level, times out, or gets
 * a 5xx or 429 is repeated after a backoff (50 ms doubling to 2 s) until the
 * call's deadline (timeout_s after it began); each attempt's curl timeout is
 * the time left. A response body is written only through the request's sink,
 * which rewinds on a retry, so a retried GET never leaves stale bytes.
 *
 * Connections: easy handles are pooled (last in, first out) and
 * curl_easy_reset() keeps a handle's live connection, so consecutive
 * requests reuse one kept-alive HTTP/1.1 connection (strace of a daemon
 * serving 80 cold misses: one connect). TCP_NODELAY is curl's default; an
 * endpoint given as an IP address is never looked up, a host name once per
 * handle per minute (curl's DNS cache). A ranged GET is written straight
 * into the caller's buffer (one copy, out of curl's receive buffer).
 *
 * Error bodies (XML) are read up to 8 KiB and their <Code> is logged with
 * the method, the HTTP status and the key; never the credentials.
 */
#include "s3.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "s3_int.h"

#define POOL_MAX 16
#define ERRBODY_MAX 8192
#define LIST_BODY_MAX ((size_t)32 << 20)
#define RECV_BUF (512L * 1024) /* curl's most before 7.88 */

struct s3 {
	char *base;             /* endpoint + "/" + bucket */
	char *bucket;
	char *sigv4;            /* "aws:amz:REGION:s3" */
	char *userpwd;          /* key:secret */
	uint32_t timeout_s;
	pthread_mutex_t lock;
	CURL *pool[POOL_MAX];   /* protected by lock */
	int npool;              /* protected by lock */
	_Atomic uint64_t requests, bytes_up, bytes_down, errors, retries;
	_Atomic uint64_t latency_us, latency_max_us;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Characters S3 takes unencoded in a path or query value (RFC 3986). */
static bool unreserved(int ch)
{
	return isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

int s3_encode(const char *in, bool keep_slash, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			if (o + 1 >= outlen)
				return -ENAMETOOLONG;
			out[o++] = (char)*p;
		} else {
			if (o + 3 >= outlen)
				return -ENAMETOOLONG;
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
	return 0;
}

static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

int s3_open(struct s3 **out, const struct s3_config *cfg)
{
	struct s3 *s;
	size_t elen;
	int rc = -ENOMEM;

	*out = NULL;
	if (!cfg->endpoint || (strncmp(cfg->endpoint, "http://", 7) &&
			       strncmp(cfg->endpoint, "https://", 8)) ||
	    !cfg->bucket || !*cfg->bucket || !cfg->access_key ||
	    !cfg->secret_key || !cfg->region || !*cfg->region ||
	    strchr(cfg->region, ':') || strchr(cfg->access_key, ':'))
		return -EINVAL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
	elen = strlen(cfg->endpoint);
	while (elen > 0 && cfg->endpoint[elen - 1] == '/')
		elen--;
	if (asprintf(&s->base, "%.*s/%s", (int)elen, cfg->endpoint,
		     cfg->bucket) < 0) {
		s->base = NULL;
		goto out_fail;
	}
	if (asprintf(&s->sigv4, "aws:amz:%s:s3", cfg->region) < 0) {
		s->sigv4 = NULL;
		goto out_fail;
	}
	if (asprintf(&s->userpwd, "%s:%s", cfg->access_key,
		     cfg->secret_key) < 0) {
		s->userpwd = NULL;
		goto out_fail;
	}
	s->bucket = dupstr(cfg->bucket);
	if (!s->bucket)
		goto out_fail;
	*out = s;
	return 0;

out_fail:
	s3_close(&s);
	return rc;
}

void s3_close(struct s3 **sp)
{
	struct s3 *s = *sp;

	if (!s)
		return;
	for (int i = 0; i < s->npool; i++)
		curl_easy_cleanup(s->pool[i]);
	if (s->userpwd) {
		explicit_bzero(s->userpwd, strlen(s->userpwd));
		free(s->userpwd);
	}
	free(s->base);
	free(s->bucket);
	free(s->sigv4);
	pthread_mutex_destroy(&s->lock);
	free(s);
	*sp = NULL;
}

static CURL *handle_get(struct s3 *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->npool > 0)
		h = s->pool[--s->npool];
	pthread_mutex_unlock(&s->lock);
	return h ? h : curl_easy_init();
}

static void handle_put(struct s3 *s, CURL *h)
{
	curl_easy_reset(h);
	pthread_mutex_lock(&s->lock);
	if (s->npool < POOL_MAX) {
		s->pool[s->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (h)
		curl_easy_cleanup(h);
}

/* ---- callbacks ---- */

static size_t read_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t want = size * nmemb, left = (size_t)(r->up_len - r->up_pos);

	if (want > left)
		want = left;
	if (!want)
		return 0;
	if (r->up_buf) {
		memcpy(ptr, (const uint8_t *)r->up_buf + r->up_pos, want);
	} else {
		ssize_t n = pread(r->up_fd, ptr, want,
				  (off_t)(r->up_off + r->up_pos));

		if (n <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)n;
	}
	r->up_pos += want;
	return want;
}

static int membuf_add(struct membuf *m, const void *p, size_t n, size_t max)
{
	if (m->len + n > max)
		return -EFBIG;
	if (m->len + n + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		char *d;

		while (cap < m->len + n + 1)
			cap *= 2;
		d = realloc(m->data, cap);
		if (!d)
			return -ENOMEM;
		m->data = d;
		m->cap = cap;
	}
	memcpy(m->data + m->len, p, n);
	m->len += n;
	m->data[m->len] = 0;
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t n = size * nmemb, take = n;
	long code = 0;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 300 || r->sink == SINK_MEM) {
		size_t max = code >= 300 ? ERRBODY_MAX : LIST_BODY_MAX;

		if (code >= 300 && r->body.len + n > max)
			return n;       /* keep the start of an error body */
		return membuf_add(&r->body, ptr, n, max) ? 0 : n;
	}
	if (r->sink == SINK_BUF) {
		/* A server ignoring Range sends the whole object: skip to
		 * the range asked for. */
		if (code == 200 && r->skip < r->range_off) {
			uint64_t s = r->range_off - r->skip;

			if (s >= take) {
				r->skip += take;
				return n;
			}
			r->skip += s;
			ptr += s;
			take -= (size_t)s;
		}
		if (take > r->dst_cap - r->dst_len)
			take = r->dst_cap - r->dst_len;
		memcpy((uint8_t *)r->dst + r->dst_len, ptr, take);
		r->dst_len += take;
		return n;
	}
	if (r->sink == SINK_FD) {
		while (take > 0) {
			ssize_t w = pwrite(r->dst_fd, ptr, take,
					   (off_t)(r->dst_off + r->dst_len));

			if (w <= 0)
				return 0;
			ptr += w;
			take -= (size_t)w;
			r->dst_len += (size_t)w;
		}
		return n;
	}
	return n;               /* SINK_NONE */
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct req *r = arg;
	size_t n = size * nitems, vlen;
	const char *v;

	if (n > 5 && !strncasecmp(buf, "ETag:", 5)) {
		v = buf + 5;
		vlen = n - 5;
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
				v[vlen - 1] == ' '))
			vlen--;
		if (vlen < sizeof(r->etag)) {
			memcpy(r->etag, v, vlen);
			r->etag[vlen] = 0;
		}
	} else if (n > 15 && !strncasecmp(buf, "Content-Length:", 15)) {
		r->content_length = strtoull(buf + 15, NULL, 10);
		r->has_length = true;
	} else if (n > 5 && !strncmp(buf, "HTTP/", 5)) {
		/* A new response (after a redirect or 100): forget the last. */
		r->etag[0] = 0;
		r->has_length = false;
	}
	return n;
}

/* ---- one request with retries ---- */

static bool transient_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* The <Code> of an S3 error body, or "". */
static void error_code(const struct membuf *b, char *out, size_t outlen)
{
	const char *p, *e;

	out[0] = 0;
	if (!b->data)
		return;
	p = strstr(b->data, "<Code>");
	e = p ? strstr(p, "</Code>") : NULL;
	if (!p || !e)
		return;
	p += 6;
	snprintf(out, outlen, "%.*s", (int)(e - p), p);
}

static int http_errno(long code)
{
	if (code == 404)
		return -ENOENT;
	if (code == 403 || code == 401)
		return -EACCES;
	return -EIO;
}

static void setup(struct s3 *s, struct req *r, const char *url,
		  struct curl_slist *hdrs, long timeout_ms)
{
	CURL *h = r->h;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	/* A GET of object bytes (a cold miss is one block of 64 KiB to a few
	 * hundred) is received in one recv per RECV_BUF instead of curl's
	 * 16 KiB: 4 to 16 fewer recv + poll rounds per miss. */
	if (r->sink == SINK_BUF || r->sink == SINK_FD)
		curl_easy_setopt(h, CURLOPT_BUFFERSIZE, RECV_BUF);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(r->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)r->up_len);
		/* curl 7.88 sends "Expect: 100-continue" with every PUT
		 * and holds the body until the server's 100 (one more
		 * round trip through the gateway: 2-3 ms measured on the
		 * loopback RGW). The header cannot be dropped (an empty
		 * "Expect:" is still signed: 403), so the body follows
		 * the headers at once instead. */
		curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
	} else if (!strcmp(r->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
				 r->up_buf ? (const char *)r->up_buf : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->up_len);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
}

/* Rewind what a failed attempt left in the request. */
static void req_rewind(struct req *r)
{
	r->up_pos = 0;
	r->dst_len = 0;
	r->skip = 0;
	r->body.len = 0;
	if (r->body.data)
		r->body.data[0] = 0;
	r->etag[0] = 0;
	r->has_length = false;
}

int s3_do(struct s3 *s, struct req *r)
{
	char url[8192], ekey[3 * 1024 + 1], range[96], code_s[64];
	struct curl_slist *hdrs = NULL, *t;
	uint64_t start = now_us(), deadline, backoff = 50000;
	int rc = 0, attempt = 0;

	deadline = start + (uint64_t)s->timeout_s * 1000000u;
	if (s3_encode(r->key ? r->key : "", true, ekey, sizeof(ekey)))
		return -ENAMETOOLONG;
	if ((size_t)snprintf(url, sizeof(url), "%s%s%s%s%s", s->base,
			     ekey[0] ? "/" : "", ekey,
			     r->query ? "?" : "", r->query ? r->query : "") >=
	    sizeof(url))
		return -ENAMETOOLONG;
	hdrs = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	t = hdrs;
	if (t && r->sink == SINK_BUF) {
		snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%"
			 PRIu64, r->range_off, r->range_off + r->dst_cap - 1);
		t = curl_slist_append(hdrs, range);
	}
	if (t && r->content_type)
		t = curl_slist_append(hdrs, r->content_type);
	if (!t) {
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	r->h = handle_get(s);
	if (!r->h) {
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	for (;;) {
		uint64_t t0 = now_us(), lat, max;
		long left_ms = deadline > t0 ? (long)((deadline - t0) / 1000) :
						0;
		CURLcode cc;
		bool again;

		if (left_ms < 1000)
			left_ms = 1000;
		req_rewind(r);
		curl_easy_reset(r->h);
		setup(s, r, url, hdrs, left_ms);
		cc = curl_easy_perform(r->h);
		lat = now_us() - t0;
		atomic_fetch_add(&s->requests, 1);
		atomic_fetch_add(&s->latency_us, lat);
		max = atomic_load(&s->latency_max_us);
		while (lat > max &&
		       !atomic_compare_exchange_weak(&s->latency_max_us, &max,
						     lat))
			;
		r->status = 0;
		if (cc == CURLE_OK)
			curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE,
					  &r->status);
		tfs_debug("s3: %s %s%s%s %s: %ld (%" PRIu64 " us)", r->method,
			  r->key ? r->key : "", r->query ? "?" : "",
			  r->query ? r->query : "",
			  r->sink == SINK_BUF ? range : "", r->status, lat);
		if (cc == CURLE_OK && r->status >= 200 && r->status < 300) {
			rc = 0;
			break;
		}
		/* A GET past the end of an object: nothing to read. */
		if (cc == CURLE_OK && r->status == 416 && r->sink == SINK_BUF) {
			rc = 0;
			r->dst_len = 0;
			break;
		}
		again = cc != CURLE_OK ? transient_curl(cc) :
			(r->status >= 500 || r->status == 429);
		if (cc == CURLE_OK) {
			error_code(&r->body, code_s, sizeof(code_s));
			rc = http_errno(r->status);
		} else {
			snprintf(code_s, sizeof(code_s), "%s",
				 curl_easy_strerror(cc));
			rc = curl_errno(cc);
		}
		if (!again || now_us() + backoff >= deadline) {
			/* 404 is an answer, not an error (HEAD of a key
			 * that is not there, a missing bucket at mount). */
			if (rc == -ENOENT && !r->log_enoent)
				break;
			if (cc == CURLE_OK)
				tfs_err("s3: %s %s/%s: HTTP %ld %s (after %d "
					"attempts)", r->method, s->bucket,
					r->key ? r->key : "", r->status,
					code_s, attempt + 1);
			else
				tfs_err("s3: %s %s/%s: %s (after %d attempts)",
					r->method, s->bucket,
					r->key ? r->key : "", code_s,
					attempt + 1);
			break;
		}
		attempt++;
		atomic_fetch_add(&s->retries, 1);
		tfs_debug("s3: %s %s: retrying (%s)", r->method,
			  r->key ? r->key : "", cc == CURLE_OK ? "5xx" :
			  code_s);
		usleep((useconds_t)backoff);
		backoff = backoff * 2 > 2000000 ? 2000000 : backoff * 2;
	}
	if (rc == 0) {
		if (r->sink == SINK_BUF || r->sink == SINK_FD)
			atomic_fetch_add(&s->bytes_down, r->dst_len);
		atomic_fetch_add(&s->bytes_up, r->up_len);
	} else {
		error_code(&r->body, r->code, sizeof(r->code));
		/* "no such key" answering a HEAD is no failure */
		if (rc != -ENOENT || r->log_enoent)
			atomic_fetch_add(&s->errors, 1);
	}
	handle_put(s, r->h);
	r->h = NULL;
	curl_slist_free_all(hdrs);
	return rc;
}

void s3_get_stats(struct s3 *s, struct s3_stats *o)
{
	o->requests = atomic_load(&s->requests);
	o->bytes_up = atomic_load(&s->bytes_up);
	o->bytes_down = atomic_load(&s->bytes_down);
	o->errors = atomic_load(&s->errors);
	o->retries = atomic_load(&s->retries);
	o->latency_us = atomic_load(&s->latency_us);
	o->latency_max_us = atomic_load(&s->latency_max_us);
}

int s3_membuf_cat(struct membuf *m, const char *str)
{
	return membuf_add(m, str, strlen(str), LIST_BODY_MAX);
}

const char *s3_bucket(const struct s3 *s)
{
	return s->bucket;
}
