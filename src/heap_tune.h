/*
 * heap_tune.h - start the daemon with glibc's malloc tuned for the hot
 * tier's many small buffers (one arena whose growth is faulted in ahead): see
 * heap_tune.c for the measurements and the mechanism (mallopt).
 *
 * What it is not: part of the core library (the tools and tests keep
 * glibc's defaults), or required: without it the daemon is correct, only
 * slower at creating small files.
 */
#ifndef TIERFS_HEAP_TUNE_H
#define TIERFS_HEAP_TUNE_H

/* Call first thing in main(), before any thread starts: one malloc arena
 * (unless TIERFS_HEAP=default is in the environment). */
void heap_tune_init(void);

/* If the heap grew since the last call, fault in what it grew by (one
 * madvise): call after a reply, off the request's path. Cheap when it did
 * not grow (no system call). Any thread. */
void heap_tune_prefault(void);

#endif
