/*
 * fdio.h - whole-buffer positioned reads and writes on a file descriptor.
 *
 * What it is: pread(2)/pwrite(2)/pwritev(2) repeated until every byte
 * moved, retrying EINTR, for the storage modules that keep their own files (the local blob
 * store, the S3 store's ends files, the disk block cache).
 * What it is not: buffered I/O, or a policy on errors: ENOSPC, EDQUOT and
 * the rest come back as they are, for the caller to map.
 *
 * Errors: 0, a negative errno, or -EIO when the file ends (read) or a
 * write moves nothing before all of len is done.
 */
#ifndef TIERFS_FDIO_H
#define TIERFS_FDIO_H

#include <stddef.h>
#include <stdint.h>

struct iovec;

int fd_pread_full(int fd, void *buf, size_t len, uint64_t off);
int fd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* All iovcnt pieces back to back at off (at most IOV_MAX); iov is
 * consumed (its entries change on a short write). */
int fd_pwritev_full(int fd, struct iovec *iov, int iovcnt, uint64_t off);

#endif
