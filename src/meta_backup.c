/*
 * meta_backup.c - a consistent copy of meta.db in one file (meta.h's
 * meta_backup), with SQLite's online backup API, for the snapshot a remote
 * cold store keeps next to its archives.
 */
#include "meta_int.h"

int meta_backup(struct meta *m, const char *path)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;

	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		tfs_err("meta: backup to %s: %s", path,
			dst ? sqlite3_errmsg(dst) : "cannot open");
		sqlite3_close(dst);
		return -EIO;
	}
	pthread_mutex_lock(&m->lock);
	b = sqlite3_backup_init(dst, "main", m->db, "main");
	if (b) {
		rc = sqlite3_backup_step(b, -1);
		sqlite3_backup_finish(b);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	} else {
		rc = sqlite3_errcode(dst);
	}
	pthread_mutex_unlock(&m->lock);
	if (rc != SQLITE_OK)
		tfs_err("meta: backup to %s: %s", path, sqlite3_errstr(rc));
	if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK)
		rc = SQLITE_IOERR;
	return rc == SQLITE_OK ? 0 : rc == SQLITE_FULL ? -ENOSPC : -EIO;
}
