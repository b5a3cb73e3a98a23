/*
 * meta.c - see meta.h. This file holds the connection (open, schema,
 * statements, transactions); meta_inode.c inodes and directory entries;
 * meta_data.c the rest (symlinks, xattrs, extents, catalogs); meta_int.h
 * what they share.
 *
 * DESIGN
 *
 * One connection, opened SQLITE_OPEN_NOMUTEX: SQLite's own locking is
 * replaced by `lock`, a recursive mutex that every public call takes. The
 * mutex is recursive so that meta_begin() can keep it across calls: the
 * thread between meta_begin() and meta_commit() owns the connection, so
 * every call it makes joins the open transaction while other threads wait.
 *
 * Nesting: meta_begin() inside an open group does not fail; it opens a
 * SAVEPOINT instead, and the matching meta_commit()/meta_rollback()
 * releases or rolls back just that savepoint. `depth` counts the levels.
 * Calls that run several statements (meta_inode_delete) use the same
 * mechanism, so they are atomic on their own and inside a caller's group.
 *
 * If SQLite aborts a whole transaction by itself (disk full, I/O error),
 * the remaining calls of the group fail with -EIO rather than silently run
 * in autocommit mode, and meta_commit() reports -EIO.
 *
 * Statements are prepared once at open (SQLITE_PREPARE_PERSISTENT) from the
 * constant table below and reset after each use; user data only ever
 * reaches SQLite through bound parameters. Names are bound as BLOBs, so
 * they compare bytewise and may hold any byte but NUL.
 *
 * Accounting: segment.live and archive.live are maintained by triggers on
 * extent and cold, so no code path can make them drift. A trigger inserts
 * a missing catalog row (len 0) first, so meta_seg_commit_len() may come
 * before or after the extents that point into the segment.
 *
 * Inode numbers come from AUTOINCREMENT and are never reused, even after
 * the highest one is deleted: the kernel may still hold the old number.
 *
 * Opening does no integrity check itself; a mount checks the database
 * (meta_check(), meta_ro.c, after an unclean stop; meta_check_roots() and
 * meta_check_start() in the background otherwise, meta_check.c) and
 * refuses a damaged one, `tierfs-fsck` runs the full integrity_check.
 * Once SQLite reports damage (SQLITE_CORRUPT, from any statement or from
 * the background check) `damaged` is set and every write fails with
 * -EROFS: nothing more is written into a damaged database.
 */
#include "meta_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define META_VERSION 1
#define META_BUSY_MS 5000

static const char meta_schema_sql[] =
	"CREATE TABLE inode(ino INTEGER PRIMARY KEY AUTOINCREMENT,"
	" mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	" nlink INTEGER NOT NULL, rdev INTEGER NOT NULL, size INTEGER NOT NULL,"
	" atime INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL,"
	" tier INTEGER NOT NULL, pin INTEGER NOT NULL,"
	" access_count INTEGER NOT NULL, last_access INTEGER NOT NULL);"
	"CREATE TABLE dentry(parent INTEGER NOT NULL, name BLOB NOT NULL,"
	" ino INTEGER NOT NULL, PRIMARY KEY(parent, name)) WITHOUT ROWID;"
	"CREATE INDEX dentry_ino ON dentry(ino);"
	"CREATE TABLE symlink(ino INTEGER PRIMARY KEY, target BLOB NOT NULL);"
	"CREATE TABLE xattr(ino INTEGER NOT NULL, name BLOB NOT NULL,"
	" value BLOB NOT NULL, PRIMARY KEY(ino, name)) WITHOUT ROWID;"
	"CREATE TABLE extent(ino INTEGER NOT NULL, chunk INTEGER NOT NULL,"
	" seg INTEGER NOT NULL, off INTEGER NOT NULL, rec_len INTEGER NOT NULL,"
	" raw_len INTEGER NOT NULL, PRIMARY KEY(ino, chunk)) WITHOUT ROWID;"
	"CREATE INDEX extent_seg ON extent(seg, off);"
	"CREATE TABLE cold(ino INTEGER PRIMARY KEY, archive INTEGER NOT NULL,"
	" off INTEGER NOT NULL, len INTEGER NOT NULL, orig_len INTEGER NOT NULL);"
	"CREATE INDEX cold_arc ON cold(archive, off);"
	"CREATE TABLE segment(id INTEGER PRIMARY KEY, len INTEGER NOT NULL,"
	" live INTEGER NOT NULL);"
	"CREATE TABLE archive(id INTEGER PRIMARY KEY, size INTEGER NOT NULL,"
	" total INTEGER NOT NULL, live INTEGER NOT NULL);"
	"CREATE TABLE counter(name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	/* The catalog row is created by an UPSERT, not INSERT OR IGNORE: an
	 * outer UPSERT's DO UPDATE runs triggers with the ABORT policy, which
	 * would override an OR IGNORE inside them. */
	"CREATE TRIGGER extent_ins AFTER INSERT ON extent BEGIN"
	" INSERT INTO segment(id, len, live) VALUES(NEW.seg, 0, NEW.rec_len)"
	" ON CONFLICT(id) DO UPDATE SET live = live + excluded.live; END;"
	"CREATE TRIGGER extent_upd AFTER UPDATE ON extent BEGIN"
	" UPDATE segment SET live = live - OLD.rec_len WHERE id = OLD.seg;"
	" INSERT INTO segment(id, len, live) VALUES(NEW.seg, 0, NEW.rec_len)"
	" ON CONFLICT(id) DO UPDATE SET live = live + excluded.live; END;"
	"CREATE TRIGGER extent_del AFTER DELETE ON extent BEGIN"
	" UPDATE segment SET live = live - OLD.rec_len WHERE id = OLD.seg; END;"
	"CREATE TRIGGER cold_ins AFTER INSERT ON cold BEGIN"
	" INSERT INTO archive(id, size, total, live)"
	"  VALUES(NEW.archive, 0, 0, NEW.orig_len)"
	" ON CONFLICT(id) DO UPDATE SET live = live + excluded.live; END;"
	"CREATE TRIGGER cold_upd AFTER UPDATE ON cold BEGIN"
	" UPDATE archive SET live = live - OLD.orig_len WHERE id = OLD.archive;"
	" INSERT INTO archive(id, size, total, live)"
	"  VALUES(NEW.archive, 0, 0, NEW.orig_len)"
	" ON CONFLICT(id) DO UPDATE SET live = live + excluded.live; END;"
	"CREATE TRIGGER cold_del AFTER DELETE ON cold BEGIN"
	" UPDATE archive SET live = live - OLD.orig_len WHERE id = OLD.archive;"
	" END;";

#define INODE_COLS "mode, uid, gid, nlink, rdev, size, atime, mtime, ctime," \
	" tier, pin, access_count, last_access"
#define INODE_ARGS "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13"
#define EXT_COLS "chunk, seg, off, rec_len, raw_len"
#define COLD_COLS "archive, off, len, orig_len"
#define REG_ONLY "(mode & 61440) = 32768" /* S_ISREG(mode) */

static const char *const meta_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT nest",
	[ST_RELEASE] = "RELEASE nest",
	[ST_UNDO] = "ROLLBACK TO nest",
	[ST_NEXT_ID] = "INSERT INTO counter(name, value) VALUES(?1, 1)"
		" ON CONFLICT(name) DO UPDATE SET value = value + 1"
		" RETURNING value",
	[ST_INO_CREATE] = "INSERT INTO inode(" INODE_COLS ") VALUES("
		INODE_ARGS ")",
	[ST_INO_CREATE_AT] = "INSERT INTO inode(ino, " INODE_COLS ") VALUES("
		"?14, " INODE_ARGS ")",
	[ST_INO_RESERVE] = "UPDATE sqlite_sequence SET seq = seq + ?1"
		" WHERE name = 'inode' RETURNING seq",
	[ST_INO_GET] = "SELECT ino, " INODE_COLS " FROM inode WHERE ino = ?1",
	[ST_INO_UPDATE] = "UPDATE inode SET (" INODE_COLS ") = (" INODE_ARGS
		") WHERE ino = ?14",
	[ST_INO_ACCESS] = "UPDATE inode SET access_count = ?2, last_access = ?3"
			  " WHERE ino = ?1",
	[ST_INO_TIER] = "UPDATE inode SET tier = ?2 WHERE ino = ?1",
	[ST_INO_DEL] = "DELETE FROM inode WHERE ino = ?1",
	[ST_INO_ORPHANS] = "SELECT ino FROM inode WHERE nlink = 0",
	[ST_INO_SCAN] = "SELECT ino, " INODE_COLS " FROM inode WHERE "
		REG_ONLY,
	[ST_INO_COUNT] = "SELECT count(*), coalesce(sum(CASE WHEN " REG_ONLY
		" THEN size END), 0) FROM inode",
	[ST_DE_LOOKUP] = "SELECT ino FROM dentry WHERE parent = ?1"
		" AND name = ?2",
	[ST_DE_ADD] = "INSERT INTO dentry(parent, name, ino)"
		" VALUES(?1, ?2, ?3)",
	[ST_DE_REMOVE] = "DELETE FROM dentry WHERE parent = ?1 AND name = ?2",
	[ST_DE_SET] = "UPDATE dentry SET ino = ?3 WHERE parent = ?1"
		" AND name = ?2",
	[ST_DE_MOVE] = "UPDATE dentry SET parent = ?3, name = ?4"
		" WHERE parent = ?1 AND name = ?2",
	[ST_DIR_EMPTY] = "SELECT 1 FROM dentry WHERE parent = ?1 LIMIT 1",
	[ST_DE_PARENT] = "SELECT parent, name FROM dentry WHERE ino = ?1"
		" LIMIT 1",
	[ST_DIR_LIST] = "SELECT d.name, i.ino, i.mode, i.uid, i.gid, i.nlink,"
		" i.rdev, i.size, i.atime, i.mtime, i.ctime, i.tier, i.pin,"
		" i.access_count, i.last_access FROM dentry AS d"
		" JOIN inode AS i ON i.ino = d.ino WHERE d.parent = ?1"
		" ORDER BY d.name",
	[ST_SYM_SET] = "INSERT INTO symlink(ino, target) VALUES(?1, ?2)"
		" ON CONFLICT(ino) DO UPDATE SET target = excluded.target",
	[ST_SYM_GET] = "SELECT target FROM symlink WHERE ino = ?1",
	[ST_SYM_DEL] = "DELETE FROM symlink WHERE ino = ?1",
	[ST_XA_GET] = "SELECT value FROM xattr WHERE ino = ?1 AND name = ?2",
	[ST_XA_INSERT] = "INSERT INTO xattr(ino, name, value)"
		" VALUES(?1, ?2, ?3)",
	[ST_XA_UPDATE] = "UPDATE xattr SET value = ?3 WHERE ino = ?1"
		" AND name = ?2",
	[ST_XA_UPSERT] = "INSERT INTO xattr(ino, name, value)"
		" VALUES(?1, ?2, ?3) ON CONFLICT(ino, name)"
		" DO UPDATE SET value = excluded.value",
	[ST_XA_LIST] = "SELECT name FROM xattr WHERE ino = ?1 ORDER BY name",
	[ST_XA_REMOVE] = "DELETE FROM xattr WHERE ino = ?1 AND name = ?2",
	[ST_XA_DEL_ALL] = "DELETE FROM xattr WHERE ino = ?1",
	[ST_XA_BY_NAME] = "SELECT ino, value FROM xattr WHERE name = ?1",
	[ST_EXT_PUT] = "INSERT INTO extent(ino, " EXT_COLS ")"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(ino, chunk)"
		" DO UPDATE SET seg = excluded.seg, off = excluded.off,"
		" rec_len = excluded.rec_len, raw_len = excluded.raw_len",
	[ST_EXT_GET] = "SELECT ino, " EXT_COLS " FROM extent WHERE ino = ?1"
		" AND chunk = ?2",
	[ST_EXT_LIST] = "SELECT ino, " EXT_COLS " FROM extent WHERE ino = ?1"
		" ORDER BY chunk",
	[ST_EXT_TRUNC] = "DELETE FROM extent WHERE ino = ?1 AND chunk >= ?2",
	[ST_EXT_PUNCH] = "DELETE FROM extent WHERE ino = ?1 AND chunk >= ?2"
		" AND chunk < ?3",
	[ST_EXT_DEL_ALL] = "DELETE FROM extent WHERE ino = ?1",
	[ST_EXT_LIST_SEG] = "SELECT ino, " EXT_COLS " FROM extent"
		" WHERE seg = ?1 ORDER BY off",
	/* Shadow extents (meta.h META_SHADOW): the inode number with its top
	 * bit set, which SQLite's signed integers see as negative. */
	[ST_EXT_DEL_SHADOW] = "DELETE FROM extent WHERE ino = (?1 | (1 << 63))",
	[ST_EXT_PUBLISH] = "UPDATE extent SET ino = ?1"
		" WHERE ino = (?1 | (1 << 63))",
	[ST_EXT_DROP_SHADOWS] = "DELETE FROM extent WHERE ino < 0",
	[ST_COLD_PUT] = "INSERT INTO cold(ino, " COLD_COLS ")"
		" VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(ino) DO UPDATE SET"
		" archive = excluded.archive, off = excluded.off,"
		" len = excluded.len, orig_len = excluded.orig_len",
	[ST_COLD_GET] = "SELECT ino, " COLD_COLS " FROM cold WHERE ino = ?1",
	[ST_COLD_DEL] = "DELETE FROM cold WHERE ino = ?1",
	[ST_COLD_LIST] = "SELECT ino, " COLD_COLS " FROM cold"
		" WHERE archive = ?1 ORDER BY off",
	[ST_SEG_COMMIT] = "INSERT INTO segment(id, len, live) VALUES(?1, ?2, 0)"
		" ON CONFLICT(id) DO UPDATE SET len = max(len, excluded.len)",
	[ST_SEG_DEL] = "DELETE FROM segment WHERE id = ?1",
	[ST_SEG_LIST] = "SELECT id, len, live FROM segment ORDER BY id",
	[ST_SEG_GET] = "SELECT id, len, live FROM segment WHERE id = ?1",
	[ST_ARC_ADD] = "INSERT INTO archive(id, size, total, live)"
		" VALUES(?1, ?2, ?3, 0) ON CONFLICT(id) DO UPDATE SET"
		" size = excluded.size, total = excluded.total",
	[ST_ARC_DEL] = "DELETE FROM archive WHERE id = ?1",
	[ST_ARC_LIST] = "SELECT id, size, total, live FROM archive ORDER BY id",
	[ST_ARC_GET] = "SELECT id, size, total, live FROM archive WHERE id = ?1",
};

/* ---- open / close / transactions ---- */

static int meta_exec(struct meta *m, const char *sql)
{
	int rc = sqlite3_exec(m->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : meta_rc(m, rc, sql);
}

/* Run a one-off statement that returns one row; read column 0 as a
 * number and as text. */
static int meta_pragma(struct meta *m, const char *sql, int64_t *num,
		       char *text, size_t tsize)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(m->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return meta_rc(m, rc, sql);
	rc = meta_step(m, st);
	if (rc == SQLITE_ROW) {
		*num = sqlite3_column_int64(st, 0);
		snprintf(text, tsize, "%s", sqlite3_column_text(st, 0));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		tfs_err("meta: %s: no result", sql);
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Create the tables and the root directory in a new database. */
static int meta_create_schema(struct meta *m)
{
	struct meta_inode root = {
		.mode = S_IFDIR | 0755, .uid = geteuid(), .gid = getegid(),
		.nlink = 2, .tier = TFS_WARM, .pin = TFS_PIN_NONE,
	};
	sqlite3_stmt *st = NULL;
	struct timespec now;
	char sql[64];
	int err, rc;

	clock_gettime(CLOCK_REALTIME, &now);
	root.atime = (tfs_ns)now.tv_sec * 1000000000 + now.tv_nsec;
	root.mtime = root.ctime = root.atime;
	err = meta_exec(m, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = meta_exec(m, meta_schema_sql);
	if (err)
		goto out_rollback;
	rc = sqlite3_prepare_v2(m->db, "INSERT INTO inode(ino, " INODE_COLS
				") VALUES(?14, " INODE_ARGS ")", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		err = meta_rc(m, rc, "prepare root");
		goto out_rollback;
	}
	bind_inode(st, &root);
	sqlite3_bind_int64(st, 14, TFS_ROOT_INO);
	err = meta_run(m, st);
	sqlite3_finalize(st);
	if (err)
		goto out_rollback;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", META_VERSION);
	err = meta_exec(m, sql);
	if (err)
		goto out_rollback;
	return meta_exec(m, "COMMIT");

out_rollback:
	sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

/* fsync the directory holding the database, so that the entries of a new
 * meta.db and of its -wal file are durable too. */
static int meta_sync_dir(struct meta *m)
{
	const char *slash = strrchr(m->path, '/');
	char *dir;
	int fd, err = 0;

	if (!slash)
		dir = strdup(".");
	else
		dir = strndup(m->path, slash == m->path ? 1 :
			      (size_t)(slash - m->path));
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		err = -errno;
		tfs_err("meta: fsync %s: %s", dir, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return err;
}

static int meta_setup(struct meta *m, bool create)
{
	char text[16];
	int64_t ver;
	int err, i, rc;

	sqlite3_extended_result_codes(m->db, 1);
	sqlite3_busy_timeout(m->db, META_BUSY_MS);
	/* An existing database only: look before setting anything (WAL
	 * mode would write a header into an empty file). */
	if (!create) {
		err = meta_pragma(m, "PRAGMA user_version", &ver, text,
				  sizeof(text));
		if (err)
			return err;
		if (ver == 0) {
			tfs_err("meta: %s: not a tierfs database (no schema)",
				m->path);
			return -ENODATA;
		}
	}
	/* Small pages: a transaction appends whole pages to the WAL, and a
	 * create or a close touches 4 of them; 1 KiB pages halve its cost
	 * (measured: see test_meta's perf test). Only takes effect when the
	 * database is created. */
	err = meta_exec(m, "PRAGMA page_size = 1024");
	if (err)
		return err;
	err = meta_pragma(m, "PRAGMA journal_mode = WAL", &ver, text,
			  sizeof(text));
	if (err)
		return err;
	if (strcmp(text, "wal") != 0) {
		tfs_err("meta: %s: cannot use WAL (journal mode is %s)",
			m->path, text);
		return -EIO;
	}
	/* A checkpoint syncs the WAL and the database (two fdatasync, more
	 * under a busy disk: 0.3-30 ms each seen here) inside the commit
	 * that triggers it, and copies every page changed since the last
	 * one: every 16384 pages (16 MiB, about 2000 3 KiB creates) instead
	 * of 4096 makes those syncs 4x rarer per create, and copies a page
	 * changed again and again (a directory's row, a segment's) once per
	 * 2000 creates instead of once per 500. The WAL a crash leaves is
	 * read at the next open (tens of milliseconds at this size). */
	err = meta_exec(m, "PRAGMA synchronous = NORMAL;"
			"PRAGMA foreign_keys = OFF;"
			"PRAGMA temp_store = MEMORY;"
			"PRAGMA cache_size = -16384;"
			"PRAGMA wal_autocheckpoint = 16384;"
			"PRAGMA journal_size_limit = 67108864;");
	if (err)
		return err;
	err = meta_pragma(m, "PRAGMA user_version", &ver, text, sizeof(text));
	if (err)
		return err;
	if (ver > META_VERSION || ver < 0) {
		tfs_err("meta: %s: schema version %lld is not one this tierfs "
			"understands (%d)", m->path, (long long)ver,
			META_VERSION);
		return -EPROTO;
	}
	if (ver == 0 && (err = meta_create_schema(m)))
		return err;
	/* Mount-time recovery looks for unlinked inodes; without an index
	 * that is a scan of every inode (0.7 s for a million). A partial
	 * index holds only those rows; added to older stores too (it changes
	 * nothing any version reads). */
	err = meta_exec(m, "CREATE INDEX IF NOT EXISTS inode_unlinked"
			" ON inode(nlink) WHERE nlink = 0");
	if (err)
		return err;
	for (i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(m->db, meta_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &m->st[i],
					NULL);
		if (rc != SQLITE_OK)
			return meta_rc(m, rc, meta_sql[i]);
	}
	return meta_sync_dir(m);
}

static int meta_open_as(struct meta **out, const char *path, bool create);

int meta_open(struct meta **out, const char *path)
{
	return meta_open_as(out, path, true);
}

int meta_open_existing(struct meta **out, const char *path)
{
	return meta_open_as(out, path, false);
}

static int meta_open_as(struct meta **out, const char *path, bool create)
{
	pthread_mutexattr_t attr;
	struct meta *m;
	int err, rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	m->path = strdup(path);
	if (!m->path || asprintf(&m->wal_path, "%s-wal", path) < 0) {
		m->wal_path = NULL;
		err = -ENOMEM;
		goto out_close;
	}
	rc = sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READWRITE |
			     (create ? SQLITE_OPEN_CREATE : 0) |
			     SQLITE_OPEN_NOMUTEX, meta_vfs_name());
	if (rc != SQLITE_OK) {
		err = meta_rc(m, rc, path);
		goto out_close;
	}
	err = meta_setup(m, create);
	if (err)
		goto out_close;
	*out = m;
	return 0;

out_close:
	meta_close(&m);
	return err;
}

void meta_close(struct meta **mp)
{
	struct meta *m = mp ? *mp : NULL;
	int i;

	if (!m)
		return;
	meta_check_stop(m);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(m->st[i]);
	if (m->db && sqlite3_close(m->db) != SQLITE_OK)
		tfs_err("meta: close %s: %s", m->path, sqlite3_errmsg(m->db));
	pthread_mutex_destroy(&m->lock);
	free(m->wal_path);
	free(m->path);
	free(m);
	*mp = NULL;
}

int meta_begin(struct meta *m)
{
	int err;

	if (atomic_load(&m->damaged))
		return -EROFS;
	pthread_mutex_lock(&m->lock);
	err = meta_run(m, m->st[m->depth ? ST_SAVEPOINT : ST_BEGIN]);
	if (err) {
		pthread_mutex_unlock(&m->lock);
		return err;
	}
	m->depth++;     /* the lock stays held until commit or rollback */
	return 0;
}

/* End the innermost group, committing it or not, and release the hold
 * meta_begin() took on the lock. A failed commit rolls the group back. */
static int meta_end(struct meta *m, bool commit)
{
	bool outer;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	if (m->depth == 0) {
		tfs_err("meta: commit or rollback without meta_begin");
		pthread_mutex_unlock(&m->lock);
		return -EINVAL;
	}
	outer = m->depth == 1;
	if (commit)
		err = meta_run(m, m->st[outer ? ST_COMMIT : ST_RELEASE]);
	if (!commit || err)     /* a reservation may be undone with it */
		m->ino_next = m->ino_end = 0;
	if ((!commit || err) && !sqlite3_get_autocommit(m->db)) {
		if (outer) {
			sqlite3_step(m->st[ST_ROLLBACK]);
			sqlite3_reset(m->st[ST_ROLLBACK]);
		} else {
			sqlite3_step(m->st[ST_UNDO]);
			sqlite3_reset(m->st[ST_UNDO]);
			sqlite3_step(m->st[ST_RELEASE]);
			sqlite3_reset(m->st[ST_RELEASE]);
		}
	}
	m->depth--;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_unlock(&m->lock); /* taken by meta_begin() */
	return err;
}

int meta_commit(struct meta *m)
{
	return meta_end(m, true);
}

void meta_rollback(struct meta *m)
{
	meta_end(m, false);
}

int meta_finish(struct meta *m, int rc)
{
	if (rc) {
		meta_end(m, false);
		return rc;
	}
	return meta_end(m, true);
}

int meta_sync(struct meta *m)
{
	const char *path = m->wal_path;
	int fd, err = 0;

	/* Not under the lock: the sync must not stall other calls. A
	 * checkpoint running meanwhile syncs the WAL and the db itself; the
	 * WAL file is only removed by the last close, which syncs the db. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		path = m->path;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 || fdatasync(fd) < 0) {
		err = -errno;
		tfs_err("meta: sync %s: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return err;
}

int meta_set_exclusive(struct meta *m)
{
	int err;

	pthread_mutex_lock(&m->lock);
	err = meta_exec(m, "PRAGMA locking_mode = EXCLUSIVE");
	/* In WAL mode SQLite switches to exclusive locking at the next write
	 * transaction, not at the pragma: until then every read transaction
	 * still takes and drops a shared-memory lock (two fcntl and an
	 * fstat; measured: ~10 % of the daemon's time listing a directory
	 * right after mount, when nothing had written yet). An empty write
	 * transaction makes the switch now. */
	if (!err && m->depth == 0)
		err = meta_exec(m, "BEGIN IMMEDIATE; COMMIT");
	pthread_mutex_unlock(&m->lock);
	return err;
}
