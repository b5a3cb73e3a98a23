/*
 * heap_tune.h - start the daemon with glibc's malloc tuned for the hot
 * tier's many small buffers (one arena whose growth is faulted in ahead): see
 * heap_tune.c for the measurements and the mechanism (a re-exec).
 *
 * What it is not: part of the core library (the tools and tests never
 * re-execute themselves), or required: without it the daemon is correct,
 * only slower at creating small files.
 */
#ifndef TIERFS_HEAP_TUNE_H
#define TIERFS_HEAP_TUNE_H

/* Call first thing in main(): returns only when the tunables are already
 * in effect, were turned off (TIERFS_HEAP set in the environment), or the
 * re-exec failed; otherwise it does not return. */
void heap_tune_exec(char **argv);

/* If the heap grew since the last call, fault in what it grew by (one
 * madvise): call after a reply, off the request's path. Cheap when it did
 * not grow (no system call). Any thread. */
void heap_tune_prefault(void);

#endif
