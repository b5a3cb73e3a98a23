/*
 * log.h - one-line log messages to standard error.
 *
 * What it is: printf-style logging with a level prefix and timestamp. In
 * the foreground stderr is the terminal or the test's log file; when the
 * daemon detaches, main points stderr at STORE/tierfs.log, so the log needs
 * no global state of its own. Debug messages are printed only when the
 * environment has TIERFS_DEBUG set.
 * What it is not: a counter of errors (see stats.h).
 */
#ifndef TIERFS_LOG_H
#define TIERFS_LOG_H

#include <syslog.h>

void tfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define tfs_err(...)   tfs_log(LOG_ERR, __VA_ARGS__)
#define tfs_warn(...)  tfs_log(LOG_WARNING, __VA_ARGS__)
#define tfs_info(...)  tfs_log(LOG_INFO, __VA_ARGS__)
#define tfs_debug(...) tfs_log(LOG_DEBUG, __VA_ARGS__)

#endif
