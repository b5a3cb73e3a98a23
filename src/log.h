/*
 * log.h - one-line log messages: to standard error (the terminal, a test's
 * log, the journal), to syslog, or to a file reopened on demand.
 *
 * What it is: printf-style logging with a level. Messages above the level
 * set by log_set_level() are dropped (default: info; the environment
 * variable TIERFS_DEBUG forces debug). Where they go:
 *  - stderr (the default): one line with a UTC timestamp and the level;
 *    when stderr is the systemd journal (JOURNAL_STREAM names it) each line
 *    starts with a "<N>" priority prefix instead, which journald turns into
 *    the entry's priority (and it adds its own timestamp);
 *  - syslog (log_to_syslog()): facility daemon, ident "tierfs";
 *  - a file (log_to_file()): opened in append mode and made the process's
 *    standard error, so that anything else written there (libfuse, a
 *    sanitizer report) lands in the same file; log_reopen() opens the path
 *    again (after logrotate moved it).
 * The destination and level are process-wide, like stderr itself: this is
 * the one module with mutable file-scope state (atomics, and the file path
 * under a mutex). Every call is thread-safe; each message is one write(2)
 * (or one syslog(3) call), so lines of different threads never interleave.
 * What it is not: a counter of errors (see stats.h) nor a log rotator.
 */
#ifndef TIERFS_LOG_H
#define TIERFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void tfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define tfs_err(...)   tfs_log(LOG_ERR, __VA_ARGS__)
#define tfs_warn(...)  tfs_log(LOG_WARNING, __VA_ARGS__)
#define tfs_info(...)  tfs_log(LOG_INFO, __VA_ARGS__)
#define tfs_debug(...) tfs_log(LOG_DEBUG, __VA_ARGS__)

/* Messages of priority <= level (LOG_ERR..LOG_DEBUG) are written. */
void log_set_level(int level);
int log_get_level(void);
/* Parse "error", "warn", "info", "debug" into a LOG_* level: 0 or -EINVAL. */
int log_parse_level(const char *s, int *level);
/* The name of a level as log_parse_level() accepts it. */
const char *log_level_name(int level);

/* Log to standard error (the default). */
void log_to_stderr(void);
/* Log to syslog(3), facility daemon. */
void log_to_syslog(void);
/* Open `path` (absolute) for appending, mode 0640, and make it standard
 * error; later log_reopen() calls open it again. 0 or -errno (nothing
 * changed on failure). */
int log_to_file(const char *path);
/* Open the log file again (logrotate); 0 when logging to a file worked or
 * when not logging to a file, -errno (the old file stays in use). */
int log_reopen(void);
/* true if stderr is the systemd journal's stream for this process. */
bool log_stderr_is_journal(void);

#endif
