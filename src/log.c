/* log.c - see log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum log_dest { LOG_DEST_STDERR, LOG_DEST_JOURNAL, LOG_DEST_SYSLOG,
		LOG_DEST_FILE };

/* Process-wide, see log.h. */
static _Atomic int log_level = LOG_INFO;
static _Atomic int log_dest = LOG_DEST_STDERR;
static pthread_mutex_t log_file_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_file_path[PATH_MAX];    /* protected by log_file_lock */

static const char *const log_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",
	[LOG_CRIT] = "crit",   [LOG_ERR] = "error",
	[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void log_set_level(int level)
{
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	atomic_store(&log_level, level);
}

int log_get_level(void)
{
	return atomic_load(&log_level);
}

int log_parse_level(const char *s, int *level)
{
	static const struct { const char *name; int level; } names[] = {
		{ "error", LOG_ERR }, { "warn", LOG_WARNING },
		{ "warning", LOG_WARNING }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*level = names[i].level;
			return 0;
		}
	return -EINVAL;
}

const char *log_level_name(int level)
{
	switch (level) {
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warn";
	case LOG_DEBUG: return "debug";
	default: return "info";
	}
}

bool log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_to_stderr(void)
{
	atomic_store(&log_dest, log_stderr_is_journal() ? LOG_DEST_JOURNAL
							: LOG_DEST_STDERR);
}

void log_to_syslog(void)
{
	openlog("tierfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_dest, LOG_DEST_SYSLOG);
}

/* Open path and make it stderr. Caller holds log_file_lock. */
static int log_open_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (dup2(fd, STDERR_FILENO) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int log_to_file(const char *path)
{
	int rc;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(log_file_path))
		return -EINVAL;
	pthread_mutex_lock(&log_file_lock);
	rc = log_open_path(path);
	if (!rc) {
		strcpy(log_file_path, path);
		atomic_store(&log_dest, LOG_DEST_FILE);
	}
	pthread_mutex_unlock(&log_file_lock);
	return rc;
}

int log_reopen(void)
{
	int rc = 0;

	if (atomic_load(&log_dest) != LOG_DEST_FILE)
		return 0;
	pthread_mutex_lock(&log_file_lock);
	rc = log_open_path(log_file_path);
	pthread_mutex_unlock(&log_file_lock);
	if (rc)
		tfs_err("cannot reopen the log file: %s", strerror(-rc));
	return rc;
}

void tfs_log(int level, const char *fmt, ...)
{
	int dest = atomic_load(&log_dest);
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > atomic_load(&log_level) &&
	    !(level == LOG_DEBUG && getenv("TIERFS_DEBUG")))
		return;
	if (level < 0 || level > LOG_DEBUG)
		level = LOG_ERR;
	if (dest == LOG_DEST_SYSLOG) {
		va_start(ap, fmt);
		vsyslog(level, fmt, ap);
		va_end(ap);
		return;
	}
	if (dest == LOG_DEST_JOURNAL) {
		n = snprintf(line, sizeof(line), "<%d>%s: ", level,
			     log_names[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
			     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ tierfs[%d] %s: ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000, (int)getpid(),
			     log_names[level]);
	}
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line so concurrent threads do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
