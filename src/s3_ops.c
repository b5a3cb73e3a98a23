/*
 * s3_ops.c - the S3 operations of s3.h, each one or a few requests through
 * s3_do() (s3.c), plus the reader of AWS shared-credentials files.
 *
 * Multipart uploads: initiate (POST ?uploads=), one PUT per S3_PART_SIZE
 * part (?partNumber=N&uploadId=ID, parameters in sorted order), complete
 * (POST ?uploadId=ID with the parts' ETags). A completion can fail inside a
 * 200 answer (an <Error> body), which is checked. Any failure aborts the
 * upload (DELETE ?uploadId=ID) so no parts are left behind to pay for.
 * XML answers are read with a few string searches: the tags looked for are
 * fixed and their text is unescaped (&amp; &lt; &gt; &quot; &apos;).
 */
#include "s3.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "s3_int.h"

static void req_free(struct req *r)
{
	free(r->body.data);
	r->body.data = NULL;
}

/* Text of the first <tag>...</tag> in [p, end), unescaped into out. */
static bool xml_get(const char *p, const char *end, const char *tag,
		    char *out, size_t outlen)
{
	char open[64], close[64];
	const char *a, *b;
	size_t o = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = strstr(p, open);
	if (!a || a >= end)
		return false;
	a += strlen(open);
	b = strstr(a, close);
	if (!b || b > end)
		return false;
	while (a < b && o + 1 < outlen) {
		static const struct { const char *ent; char ch; } ents[] = {
			{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
			{ "&quot;", '"' }, { "&apos;", '\'' },
		};
		bool done = false;

		for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
			size_t l = strlen(ents[i].ent);

			if ((size_t)(b - a) >= l && !strncmp(a, ents[i].ent, l)) {
				out[o++] = ents[i].ch;
				a += l;
				done = true;
				break;
			}
		}
		if (!done)
			out[o++] = *a++;
	}
	out[o] = 0;
	return a == b;
}

int s3_check_bucket(struct s3 *s)
{
	struct req r = {
		.method = "GET", .key = "", .sink = SINK_MEM,
		.query = "list-type=2&max-keys=1",
	};
	int rc = s3_do(s, &r);

	if (rc == -ENOENT)
		tfs_err("s3: bucket %s: %s", s3_bucket(s),
			r.code[0] ? r.code : "does not exist");
	req_free(&r);
	return rc;
}

int s3_create_bucket(struct s3 *s)
{
	struct req r = { .method = "PUT", .key = "", .log_enoent = true };
	int rc = s3_do(s, &r);

	req_free(&r);
	return rc;
}

int s3_put(struct s3 *s, const char *key, const void *buf, size_t len,
	   char *etag)
{
	struct req r = {
		.method = "PUT", .key = key, .up_buf = buf ? buf : "",
		.up_len = len, .log_enoent = true,
	};
	int rc = s3_do(s, &r);

	if (!rc && etag)
		snprintf(etag, S3_ETAG_MAX, "%s", r.etag);
	req_free(&r);
	return rc;
}

static void mp_abort(struct s3 *s, const char *key, const char *eid)
{
	char q[3300];
	struct req r = { .method = "DELETE", .key = key, .query = q };

	snprintf(q, sizeof(q), "uploadId=%s", eid);
	s3_do(s, &r);
	req_free(&r);
}

int s3_put_file(struct s3 *s, const char *key, int fd, uint64_t size,
		char *etag)
{
	struct req r = {
		.method = "PUT", .key = key, .up_fd = fd, .up_len = size,
		.log_enoent = true,
	};
	uint64_t nparts = (size + S3_PART_SIZE - 1) / S3_PART_SIZE;
	char id[1024], eid[3200] = "", q[3300], (*tags)[S3_ETAG_MAX] = NULL;
	struct membuf done = { 0 };
	int rc;

	if (size <= S3_PART_SIZE) {
		rc = s3_do(s, &r);
		if (!rc && etag)
			snprintf(etag, S3_ETAG_MAX, "%s", r.etag);
		req_free(&r);
		return rc;
	}
	r = (struct req){
		.method = "POST", .key = key, .query = "uploads=",
		.sink = SINK_MEM, .log_enoent = true,
	};
	rc = s3_do(s, &r);
	if (!rc && (!r.body.data ||
		    !xml_get(r.body.data, r.body.data + r.body.len, "UploadId",
			     id, sizeof(id)) || !*id))
		rc = -EIO;
	req_free(&r);
	if (rc)
		return rc;
	rc = s3_encode(id, false, eid, sizeof(eid));
	tags = calloc(nparts, sizeof(*tags));
	if (!tags && !rc)
		rc = -ENOMEM;
	for (uint64_t i = 0; i < nparts && !rc; i++) {
		uint64_t off = i * S3_PART_SIZE;

		snprintf(q, sizeof(q), "partNumber=%" PRIu64 "&uploadId=%s",
			 i + 1, eid);
		r = (struct req){
			.method = "PUT", .key = key, .query = q, .up_fd = fd,
			.up_off = off, .log_enoent = true,
			.up_len = size - off < S3_PART_SIZE ? size - off :
							      S3_PART_SIZE,
		};
		rc = s3_do(s, &r);
		if (!rc && !r.etag[0])
			rc = -EIO;
		if (!rc)
			memcpy(tags[i], r.etag, sizeof(r.etag));
		req_free(&r);
	}
	if (!rc) {
		char line[256];

		rc = -ENOMEM;
		if (!s3_membuf_cat(&done, "<CompleteMultipartUpload>"))
			rc = 0;
		for (uint64_t i = 0; i < nparts && !rc; i++) {
			snprintf(line, sizeof(line), "<Part><PartNumber>%" PRIu64
				 "</PartNumber><ETag>%s</ETag></Part>", i + 1,
				 tags[i]);
			rc = s3_membuf_cat(&done, line);
		}
		if (!rc)
			rc = s3_membuf_cat(&done, "</CompleteMultipartUpload>");
	}
	if (!rc) {
		snprintf(q, sizeof(q), "uploadId=%s", eid);
		r = (struct req){
			.method = "POST", .key = key, .query = q,
			.up_buf = done.data, .up_len = done.len,
			.content_type = "Content-Type: application/xml",
			.sink = SINK_MEM, .log_enoent = true,
		};
		rc = s3_do(s, &r);
		if (!rc && (!r.body.data || strstr(r.body.data, "<Error>"))) {
			tfs_err("s3: completing the upload of %s failed", key);
			rc = -EIO;
		}
		if (!rc && etag && !xml_get(r.body.data, r.body.data +
					    r.body.len, "ETag", etag,
					    S3_ETAG_MAX))
			etag[0] = 0;
		req_free(&r);
		/* RGW answers with an empty <ETag>: ask for it. */
		if (!rc && etag && !etag[0])
			rc = s3_head(s, key, NULL, etag);
	}
	if (rc && eid[0])
		mp_abort(s, key, eid);
	free(done.data);
	free(tags);
	return rc;
}

int s3_head(struct s3 *s, const char *key, uint64_t *size, char *etag)
{
	struct req r = { .method = "HEAD", .key = key };
	int rc = s3_do(s, &r);

	if (!rc && !r.has_length)
		rc = -EIO;
	if (!rc && size)
		*size = r.content_length;
	if (!rc && etag)
		snprintf(etag, S3_ETAG_MAX, "%s", r.etag);
	req_free(&r);
	return rc;
}

ssize_t s3_get_range(struct s3 *s, const char *key, void *dst, size_t len,
		     uint64_t off)
{
	struct req r = {
		.method = "GET", .key = key, .sink = SINK_BUF, .dst = dst,
		.dst_cap = len, .range_off = off, .log_enoent = true,
	};
	int rc;

	if (len == 0)
		return 0;
	rc = s3_do(s, &r);
	req_free(&r);
	return rc ? rc : (ssize_t)r.dst_len;
}

int s3_get_file(struct s3 *s, const char *key, int fd, uint64_t *size)
{
	struct req r = {
		.method = "GET", .key = key, .sink = SINK_FD, .dst_fd = fd,
		.log_enoent = true,
	};
	off_t at = lseek(fd, 0, SEEK_CUR);
	int rc;

	if (at < 0)
		return -errno;
	r.dst_off = (uint64_t)at;
	rc = s3_do(s, &r);
	if (!rc && r.has_length && r.dst_len != r.content_length)
		rc = -EIO;
	if (!rc && size)
		*size = r.dst_len;
	req_free(&r);
	return rc;
}

int s3_delete(struct s3 *s, const char *key)
{
	struct req r = { .method = "DELETE", .key = key };
	int rc = s3_do(s, &r);

	req_free(&r);
	return rc == -ENOENT ? 0 : rc;
}

int s3_list(struct s3 *s, const char *prefix, s3_list_fn fn, void *arg)
{
	char token[2048] = "", etok[6200], epfx[3100], q[9400];
	char key[1100], num[32], etag[S3_ETAG_MAX];
	int rc;

	rc = s3_encode(prefix ? prefix : "", false, epfx, sizeof(epfx));
	if (rc)
		return rc;
	do {
		struct req r = {
			.method = "GET", .key = "", .query = q,
			.sink = SINK_MEM, .log_enoent = true,
		};
		const char *p, *end;
		bool more;

		rc = s3_encode(token, false, etok, sizeof(etok));
		if (rc)
			return rc;
		if (token[0])
			snprintf(q, sizeof(q), "continuation-token=%s&"
				 "list-type=2&prefix=%s", etok, epfx);
		else
			snprintf(q, sizeof(q), "list-type=2&prefix=%s", epfx);
		rc = s3_do(s, &r);
		if (rc || !r.body.data) {
			req_free(&r);
			return rc ? rc : -EIO;
		}
		end = r.body.data + r.body.len;
		for (p = strstr(r.body.data, "<Contents>"); p && !rc;
		     p = strstr(p, "<Contents>")) {
			const char *ce = strstr(p, "</Contents>");

			if (!ce || !xml_get(p, ce, "Key", key, sizeof(key)) ||
			    !xml_get(p, ce, "Size", num, sizeof(num))) {
				rc = -EIO;
				break;
			}
			if (!xml_get(p, ce, "ETag", etag, sizeof(etag)))
				etag[0] = 0;
			rc = fn(arg, key, strtoull(num, NULL, 10), etag);
			p = ce;
		}
		more = !rc && xml_get(r.body.data, end, "IsTruncated", num,
				      sizeof(num)) && !strcmp(num, "true");
		if (more && (!xml_get(r.body.data, end, "NextContinuationToken",
				      token, sizeof(token)) || !token[0]))
			rc = -EIO;
		req_free(&r);
		if (!more)
			break;
	} while (!rc);
	return rc;
}

/* ---- credentials ---- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = 0;
	return s;
}

int s3_read_credentials(const char *path, const char *profile, char *key,
			size_t keylen, char *secret, size_t secretlen,
			char *why, size_t whylen)
{
	char line[1024], want[300];
	bool in = false, found = false;
	FILE *f;
	int rc = 0;

	key[0] = secret[0] = 0;
	snprintf(want, sizeof(want), "[%s]", profile ? profile : "default");
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(why, whylen, "cannot read %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		char *l = trim(line), *eq;

		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			in = !strcmp(l, want);
			found |= in;
			continue;
		}
		eq = strchr(l, '=');
		if (!in || !eq)
			continue;
		*eq = 0;
		if (!strcmp(trim(l), "aws_access_key_id"))
			snprintf(key, keylen, "%s", trim(eq + 1));
		else if (!strcmp(trim(l), "aws_secret_access_key"))
			snprintf(secret, secretlen, "%s", trim(eq + 1));
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (!found) {
		snprintf(why, whylen, "%s has no profile %s", path, want);
		return -ENOENT;
	}
	if (!key[0] || !secret[0]) {
		snprintf(why, whylen, "profile %s in %s lacks %s", want, path,
			 key[0] ? "aws_secret_access_key" :
			 "aws_access_key_id");
		return -EINVAL;
	}
	return 0;
}
