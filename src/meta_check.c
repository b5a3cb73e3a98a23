/*
 * meta_check.c - the mount's checks of meta.db (see meta.h): the cheap
 * synchronous one (meta_check_roots) and the full PRAGMA quick_check run
 * in the background (meta_check_start/stop).
 *
 * DESIGN
 *
 * A full quick_check reads every page: for a million files (100 MiB of
 * meta.db) that is 5-30 s, which kept every mount waiting. The store knows
 * when a full check must come first: a clean unmount leaves STORE/clean
 * (store.h), so after a crash, a kill or a power loss the mount still runs
 * meta_check() before it changes anything (fs.c). After a clean stop the
 * mount runs meta_check_roots() only, which reads page 1 (header and
 * schema) and, per b-tree, the path from the root to the first leaf, then
 * starts the full check here in the background.
 *
 * The background check uses a second connection, opened read-only, on a
 * thread of its own. WAL lets it read one consistent snapshot while the
 * daemon's connection writes; this needs SQLite's normal locking on that
 * connection, so meta_set_exclusive() waits until the check ends (the
 * checker calls it). meta_check_stop() interrupts the check
 * (sqlite3_interrupt is safe from another thread) and joins the thread.
 *
 * Found damage sets m->damaged (so does any SQLITE_CORRUPT seen by the
 * daemon's own statements, meta_int.h): every write through meta then
 * fails with -EROFS, like a kernel filesystem remounted read-only on
 * errors, and the daemon does not leave the clean marker at unmount, so
 * the next mount runs the full check and refuses the store.
 *
 * Locking: ck->lock (a leaf) protects ck->db and ck->stop between the
 * checker and meta_check_stop(). The checker takes m->lock only through
 * meta_set_exclusive(), after it has closed its own connection.
 */
#include "meta_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct meta_checker {
	struct meta *m;
	pthread_t thread;
	pthread_mutex_t lock;   /* leaf */
	sqlite3 *db;            /* protected by lock */
	bool stop;              /* protected by lock */
};

/* ---- the cheap check ---- */

struct root_check {
	struct meta *m;
	int (*fn)(void *ctx, const char *problem);
	void *ctx;
	unsigned *problems;
	int stop;
};

static void root_problem(struct root_check *rc, const char *what,
			 const char *msg)
{
	char line[512];

	snprintf(line, sizeof(line), "%s: %s", what, msg);
	(*rc->problems)++;
	if (!rc->stop)
		rc->stop = rc->fn(rc->ctx, line);
}

/* Run sql (a SELECT ... LIMIT 1) to its first row; SQLite's error, if
 * any, is a problem of `what`. */
static void root_probe(struct root_check *rc, const char *what,
		       const char *sql)
{
	sqlite3_stmt *st;
	int r;

	if (!sql) {
		root_problem(rc, what, "out of memory");
		return;
	}
	r = sqlite3_prepare_v2(rc->m->db, sql, -1, &st, NULL);
	if (r == SQLITE_OK) {
		r = sqlite3_step(st);
		sqlite3_finalize(st);
		if (r == SQLITE_ROW || r == SQLITE_DONE)
			return;
	}
	root_problem(rc, what, sqlite3_errmsg(rc->m->db));
}

/* The first column of index idx, or NULL (an expression index). Caller
 * frees with sqlite3_free. */
static char *index_first_col(struct meta *m, const char *idx)
{
	char *sql = sqlite3_mprintf("PRAGMA index_info(\"%w\")", idx);
	char *col = NULL;
	sqlite3_stmt *st;

	if (!sql)
		return NULL;
	if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_text(st, 2))
			col = sqlite3_mprintf("%s", sqlite3_column_text(st, 2));
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	return col;
}

static void root_index(struct root_check *rc, const char *name,
		       const char *tbl, const char *create)
{
	const char *where = create ? strstr(create, " WHERE ") : NULL;
	char *col = index_first_col(rc->m, name);
	char *sql;

	if (!col)
		return;         /* nothing to name: quick_check covers it */
	/* INDEXED BY makes SQLite read this index (from its root to its
	 * first leaf, LIMIT 1); a partial index is usable only under its
	 * own WHERE. */
	sql = sqlite3_mprintf("SELECT \"%w\" FROM \"%w\" INDEXED BY \"%w\""
			      "%s%s ORDER BY \"%w\" LIMIT 1", col, tbl, name,
			      where ? " WHERE " : "", where ? where + 7 : "",
			      col);
	root_probe(rc, name, sql);
	sqlite3_free(sql);
	sqlite3_free(col);
}

/* The first primary key column of table tbl, or NULL. Caller frees with
 * sqlite3_free. */
static char *table_first_pk(struct meta *m, const char *tbl)
{
	char *sql = sqlite3_mprintf("PRAGMA table_info(\"%w\")", tbl);
	char *col = NULL;
	sqlite3_stmt *st;

	if (!sql)
		return NULL;
	if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (!col && sqlite3_step(st) == SQLITE_ROW)
			if (sqlite3_column_int(st, 5) == 1 &&
			    sqlite3_column_text(st, 1))
				col = sqlite3_mprintf("%s",
					sqlite3_column_text(st, 1));
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	return col;
}

/* Read the table's own b-tree, not a covering index of it (SQLite picks
 * one for SELECT *, even NOT INDEXED): ORDER BY rowid, or by the first
 * key column of a WITHOUT ROWID table, walks the table in its own order. */
static void root_table(struct root_check *rc, const char *name,
		       const char *create)
{
	char *col = NULL, *sql;

	if (create && strstr(create, "WITHOUT ROWID"))
		col = table_first_pk(rc->m, name);
	sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY \"%w\" LIMIT 1",
			      name, col ? col : "rowid");
	root_probe(rc, name, sql);
	sqlite3_free(sql);
	sqlite3_free(col);
}

int meta_check_roots(struct meta *m,
		     int (*fn)(void *ctx, const char *problem), void *ctx,
		     unsigned *problems)
{
	struct root_check rc = { m, fn, ctx, problems, 0 };
	sqlite3_stmt *st;
	int r;

	*problems = 0;
	pthread_mutex_lock(&m->lock);
	r = sqlite3_prepare_v2(m->db, "SELECT type, name, tbl_name, sql FROM"
			       " sqlite_schema WHERE rootpage > 0 AND type IN"
			       " ('table', 'index') ORDER BY name", -1, &st,
			       NULL);
	if (r != SQLITE_OK) {
		root_problem(&rc, "schema", sqlite3_errmsg(m->db));
		goto out_unlock;
	}
	while (!rc.stop && (r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *tbl = (const char *)sqlite3_column_text(st, 2);
		const char *create = (const char *)sqlite3_column_text(st, 3);

		if (!type || !name || !tbl)
			continue;
		if (strcmp(type, "table") == 0) {
			root_table(&rc, name, create);
		} else {
			root_index(&rc, name, tbl, create);
		}
	}
	if (!rc.stop && r != SQLITE_DONE && r != SQLITE_ROW)
		root_problem(&rc, "schema", sqlite3_errmsg(m->db));
	sqlite3_finalize(st);
out_unlock:
	if (*problems)
		atomic_store(&m->damaged, true);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- the background check ---- */

static void *checker_main(void *arg)
{
	struct meta_checker *ck = arg;
	struct meta *m = ck->m;
	char first[512] = "";
	unsigned problems = 0;
	bool interrupted = false, failed = false;
	struct timespec t0, t1;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r;

	/* Per-thread nice on Linux: the check yields to requests. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = sqlite3_open_v2(m->path, &db, SQLITE_OPEN_READONLY |
			    SQLITE_OPEN_NOMUTEX, NULL);
	if (r == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		pthread_mutex_lock(&ck->lock);
		if (ck->stop)
			r = SQLITE_INTERRUPT;
		else
			ck->db = db;
		pthread_mutex_unlock(&ck->lock);
	}
	if (r == SQLITE_OK)
		r = sqlite3_prepare_v2(db, "PRAGMA quick_check(20)", -1, &st,
				       NULL);
	while (r == SQLITE_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *txt = (const char *)sqlite3_column_text(st, 0);

		r = SQLITE_OK;
		if (!txt || strcmp(txt, "ok") == 0)
			continue;
		if (!problems++)
			snprintf(first, sizeof(first), "%s", txt);
	}
	if (r == SQLITE_INTERRUPT) {
		interrupted = true;
	} else if (r != SQLITE_DONE) {
		/* Damage SQLite cannot walk past is a finding; a busy or
		 * locked database only means we could not look. */
		if ((r & 0xff) == SQLITE_BUSY || (r & 0xff) == SQLITE_LOCKED ||
		    (r & 0xff) == SQLITE_NOMEM || (r & 0xff) == SQLITE_CANTOPEN)
			failed = true;
		else if (!problems++)
			snprintf(first, sizeof(first), "%s",
				 db ? sqlite3_errmsg(db) : sqlite3_errstr(r));
		if (failed)
			snprintf(first, sizeof(first), "%s",
				 db ? sqlite3_errmsg(db) : sqlite3_errstr(r));
	}
	sqlite3_finalize(st);
	pthread_mutex_lock(&ck->lock);
	ck->db = NULL;
	pthread_mutex_unlock(&ck->lock);
	sqlite3_close(db);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (char *p = first; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (interrupted)
		return NULL;
	if (problems) {
		atomic_store(&m->damaged, true);
		tfs_err("%s is damaged (SQLite quick_check, in the background "
			"after mounting: %s); refusing every change from now "
			"on (EROFS). Unmount, run tierfs-fsck on the store to "
			"see what is affected, and restore meta.db from a "
			"backup", m->path, first);
		return NULL;
	}
	if (failed)
		tfs_warn("%s: the background check could not run (%s); it "
			 "runs again at the next mount", m->path, first);
	else
		tfs_info("%s checked in the background: ok (%.1f s)", m->path,
			 (double)(t1.tv_sec - t0.tv_sec) +
			 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	meta_set_exclusive(m);
	return NULL;
}

int meta_check_start(struct meta *m)
{
	struct meta_checker *ck;
	int rc;

	if (m->checker)
		return -EBUSY;
	ck = calloc(1, sizeof(*ck));
	if (!ck)
		return -ENOMEM;
	ck->m = m;
	pthread_mutex_init(&ck->lock, NULL);
	rc = pthread_create(&ck->thread, NULL, checker_main, ck);
	if (rc) {
		pthread_mutex_destroy(&ck->lock);
		free(ck);
		return -rc;
	}
	m->checker = ck;
	return 0;
}

void meta_check_stop(struct meta *m)
{
	struct meta_checker *ck = m->checker;

	if (!ck)
		return;
	pthread_mutex_lock(&ck->lock);
	ck->stop = true;
	if (ck->db)
		sqlite3_interrupt(ck->db);
	pthread_mutex_unlock(&ck->lock);
	pthread_join(ck->thread, NULL);
	pthread_mutex_destroy(&ck->lock);
	free(ck);
	m->checker = NULL;
}

bool meta_damaged(struct meta *m)
{
	return atomic_load(&m->damaged);
}
