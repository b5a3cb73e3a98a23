/*
 * metrics_http.h - the daemon's Prometheus endpoint: GET /metrics over
 * HTTP, served by libmicrohttpd from a thread of its own.
 *
 * What it is: -o metrics_listen=HOST:PORT. The socket is bound before the
 * mount (a bad or busy address refuses the mount with a clear message),
 * the server thread started after daemonizing (threads do not survive
 * fork). /metrics answers with what MNT/.tiers/metrics shows, rendered for
 * each request (text/plain; version=0.0.4); HEAD works too, other paths
 * are 404, other methods 405.
 * What it is not: part of the FUSE-free core (only the tierfs executable
 * links it and libmicrohttpd), and not secured: no TLS, no authentication.
 * Bind it to loopback (127.0.0.1, [::1]) or a trusted network.
 */
#ifndef TIERFS_METRICS_HTTP_H
#define TIERFS_METRICS_HTTP_H

#include <stddef.h>

struct fs;
struct metrics_http;

/* Check the syntax of HOST:PORT ([V6ADDR]:PORT for IPv6; PORT 0..65535,
 * 0 picks a free port). 0, or -EINVAL with a message in err. */
int metrics_http_parse(const char *addr, char *err, size_t errlen);
/* Resolve and bind addr and listen on it; *fd gets the socket
 * (close-on-exec). 0, or -errno with a message in err. */
int metrics_http_bind(const char *addr, int *fd, char *err, size_t errlen);
/* "HOST:PORT" the socket is bound to (the real port when 0 was asked). */
void metrics_http_addr(int fd, char *buf, size_t len);
/* Serve f's metrics on the bound socket fd, which the server owns from
 * now on (closed on failure too). 0 or -errno. */
int metrics_http_start(struct metrics_http **out, int fd, struct fs *f);
/* Stop serving and close the socket; tolerates NULL; sets *m = NULL. */
void metrics_http_stop(struct metrics_http **m);

#endif
