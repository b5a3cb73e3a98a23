/* metrics_http.c - see metrics_http.h. */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "fs.h"
#include "log.h"

#define METRICS_PATH "/metrics"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_CONN_MAX 16
#define METRICS_TIMEOUT_S 10

struct metrics_http {
	struct MHD_Daemon *d;
	struct fs *f;
};

static __attribute__((format(printf, 3, 4)))
void mh_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Split "host:port" / "[v6]:port" into host and port (copies). */
static int split_addr(const char *addr, char *host, size_t hlen, char *port,
		      size_t plen, char *err, size_t errlen)
{
	const char *colon, *h = addr;
	size_t n;
	char *end;
	long p;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':') {
			mh_err(err, errlen, "'%s': expected [IPV6]:PORT", addr);
			return -EINVAL;
		}
		h = addr + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || strchr(addr, ':') != colon) {
			mh_err(err, errlen, "'%s': expected HOST:PORT "
			       "(e.g. 127.0.0.1:9567)", addr);
			return -EINVAL;
		}
		n = (size_t)(colon - addr);
	}
	if (n == 0 || n >= hlen) {
		mh_err(err, errlen, "'%s': missing or too long host "
		       "(0.0.0.0 listens on every address)", addr);
		return -EINVAL;
	}
	memcpy(host, h, n);
	host[n] = 0;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p < 0 || p > 65535 ||
	    strlen(colon + 1) >= plen) {
		mh_err(err, errlen, "'%s': bad port '%s' (0..65535)", addr,
		       colon + 1);
		return -EINVAL;
	}
	snprintf(port, plen, "%ld", p);
	return 0;
}

int metrics_http_parse(const char *addr, char *err, size_t errlen)
{
	char host[256], port[8];

	return split_addr(addr, host, sizeof(host), port, sizeof(port), err,
			  errlen);
}

int metrics_http_bind(const char *addr, int *fd, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *res = NULL, *ai;
	char host[256], port[8];
	int rc, s = -1, one = 1, last = 0;

	rc = split_addr(addr, host, sizeof(host), port, sizeof(port), err,
			errlen);
	if (rc)
		return rc;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		mh_err(err, errlen, "%s: %s", addr, gai_strerror(rc));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			   ai->ai_protocol);
		if (s < 0) {
			last = errno;
			continue;
		}
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(s, METRICS_CONN_MAX) == 0)
			break;
		last = errno;
		close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s < 0) {
		mh_err(err, errlen, "cannot listen on %s: %s", addr,
		       strerror(last ? last : EADDRNOTAVAIL));
		return -(last ? last : EADDRNOTAVAIL);
	}
	*fd = s;
	return 0;
}

void metrics_http_addr(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	snprintf(buf, len, "?");
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	}
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status,
				  const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct metrics_http *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "only GET and HEAD\n");
	if (*upload_size) {     /* a GET with a body: ignore the body */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, METRICS_PATH))
		return reply_text(c, MHD_HTTP_NOT_FOUND,
				  "not found: the metrics are at /metrics\n");
	rc = fs_metrics_text(m->f, &buf, &len);
	if (rc) {
		tfs_err("metrics over HTTP: %s", strerror(-rc));
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "cannot render the metrics\n");
	}
	r = MHD_create_response_from_buffer_with_free_callback(len, buf, free);
	if (!r) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	tfs_warn("metrics over HTTP: %s", msg);
}

int metrics_http_start(struct metrics_http **out, int fd, struct fs *f)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
			 MHD_USE_POLL;

	if (!m) {
		close(fd);
		return -ENOMEM;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->f = f;
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)METRICS_CONN_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)METRICS_TIMEOUT_S,
				MHD_OPTION_END);
	if (!m->d) {
		close(fd);
		free(m);
		return -EIO;
	}
	*out = m;
	return 0;
}

void metrics_http_stop(struct metrics_http **mp)
{
	struct metrics_http *m = *mp;

	if (!m)
		return;
	MHD_stop_daemon(m->d);  /* closes the listening socket */
	free(m);
	*mp = NULL;
}
