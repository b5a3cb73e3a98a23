/*
 * fdio.c - whole-buffer pread/pwrite (see fdio.h).
 */
#include "fdio.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

int fd_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;    /* past the end */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int fd_pwritev_full(int fd, struct iovec *iov, int iovcnt, uint64_t off)
{
	for (;;) {
		ssize_t n;

		while (iovcnt > 0 && iov->iov_len == 0) {  /* nothing to write */
			iov++;
			iovcnt--;
		}
		if (iovcnt == 0)
			break;
		n = pwritev(fd, iov, iovcnt, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		/* A short write: step over what went, go on with the rest. */
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int fd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	return fd_pwritev_full(fd, &v, 1, off);
}
