#!/bin/bash
# How a mount checks meta.db (issue 9: a million-file store mounts in well
# under a second, and a damaged meta.db still never mounts silently):
#  - a new store (no meta.db yet) had no last stop: its first mount does not
#    log "the last stop was not clean";
#  - a clean unmount leaves STORE/clean; a mount removes it before it
#    changes anything; after a kill -9 it is absent and the next mount runs
#    the full PRAGMA quick_check before mounting (the log says so);
#  - after a clean stop a small meta.db (<= 32 MiB) is still checked in
#    full before mounting: a damaged page deep in it is refused at mount;
#  - after a clean stop a big one (here: TIERFS_META_SYNC_CHECK_MAX=0
#    makes every store "big") is checked only for the header, the schema
#    and the b-tree roots, and in full in the background (the log says
#    "checked in the background: ok");
#  - a damaged leaf page deep in the dentry b-tree (past every root) after
#    a clean stop: the mount succeeds, the background check finds the
#    damage, logs it as an error, and from then on every change fails with
#    EROFS while reads of undamaged data go on; the unmount leaves no
#    marker, so the next mount runs the full check and refuses the store.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
S=$TFS_STORE

wait_log()
{
	local pat=$1 i
	for ((i = 0; i < 600; i++)); do
		grep -qE -- "$pat" "$TFS_LOG" && return 0
		sleep 0.1
	done
	fail "no /$pat/ in the daemon log after 60 s"
}

note "a new store had no last stop: its first mount does not claim one"
tfs_mount -o interval=1h
grep -q "info: created store $S\$" "$TFS_LOG" ||
	fail "the first mount did not create the store"
! grep -q "last stop was not clean" "$TFS_LOG" ||
	fail "the first mount of a new store claims an unclean last stop"
[ ! -e "$S/clean" ] || fail "STORE/clean exists while mounted"
mkdir "$M/keep"            # first: its entries sort before many/'s
mkdir "$M/many"
"$PY" - "$M/many" <<'EOF2'
import os, sys
for i in range(3000):
    open(os.path.join(sys.argv[1], "file-with-a-longish-name-%05d" % i), "w").close()
EOF2
echo kept >"$M/keep/a"
tfs_kill9
[ ! -e "$S/clean" ] || fail "STORE/clean after kill -9"

note "after kill -9: the full check runs before the mount"
tfs_mount -o interval=1h
grep -q "the last stop was not clean: checking meta.db in full" "$TFS_LOG" ||
	fail "the mount after kill -9 did not check meta.db in full"
[ "$(ls "$M/many" | wc -l)" = 3000 ] || fail "files lost after kill -9"
tfs_umount
[ -f "$S/clean" ] || fail "no STORE/clean after a clean unmount"

note "after a clean stop, a big meta.db: roots only, the full check in the background"
export TIERFS_META_SYNC_CHECK_MAX=0
tfs_mount -o interval=1h
[ ! -e "$S/clean" ] || fail "STORE/clean still there after mounting"
! grep -q "checking meta.db in full" "$TFS_LOG" ||
	fail "the mount after a clean stop checked in full"
wait_log "meta.db checked in the background: ok"
touch "$M/many/new" || fail "cannot create a file after the check"
tfs_umount
[ -f "$S/clean" ] || fail "no STORE/clean after a clean unmount"

# damage_last_leaf: the last leaf page of dentry (on no root-to-first-leaf
# path) gets 16 bytes of 0xff
damage_last_leaf()
{
	"$PY" - "$S/meta.db" <<'EOF2'
import sqlite3, sys
path = sys.argv[1]
db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
page = db.execute("PRAGMA page_size").fetchone()[0]
leaves = [r[0] for r in db.execute(
    "SELECT pageno FROM dbstat WHERE name = 'dentry' AND pagetype = 'leaf'"
    " ORDER BY path")]
db.close()
assert len(leaves) > 4, leaves
with open(path, "r+b") as f:
    f.seek((leaves[-1] - 1) * page)
    f.write(b"\xff" * 16)
EOF2
	rm -f "$S/meta.db-wal" "$S/meta.db-shm"     # python's read-only connection
}

note "a small meta.db damaged after a clean stop is refused at mount"
unset TIERFS_META_SYNC_CHECK_MAX
cp -a "$S/meta.db" "$TFS_TMP/meta.db.good"
damage_last_leaf
tfs_expect_refused 1 "meta\.db is damaged \(SQLite quick_check: .+\); not mounting it" \
	"$M" "$S" "$M"
[ -f "$S/clean" ] || fail "a refused mount removed STORE/clean"
cp -a "$TFS_TMP/meta.db.good" "$S/meta.db"
rm -f "$S/meta.db-wal" "$S/meta.db-shm"

note "the same damage in a big meta.db: found by the background check"
export TIERFS_META_SYNC_CHECK_MAX=0
damage_last_leaf
tfs_expect_log_error "meta\.db is damaged \(SQLite quick_check, in the background"
tfs_expect_log_error "meta: .*(malformed|corrupt)"
tfs_expect_log_error "Read-only file system"     # the policy's own writes
tfs_mount -o interval=1h
wait_log "meta\.db is damaged \(SQLite quick_check, in the background after mounting: .+\); refusing every change"
[ "$(cat "$M/keep/a")" = kept ] || fail "undamaged data does not read back"
expect_errno "Read-only file system" touch "$M/keep/b"
expect_errno "Read-only file system" mkdir "$M/keep/d"
tfs_umount
[ ! -e "$S/clean" ] || fail "STORE/clean written although meta.db is damaged"

note "the next mount checks in full and refuses the store"
tfs_expect_refused 1 "meta\.db is damaged \(SQLite quick_check: .+\); not mounting it" \
	"$M" "$S" "$M"
note "ok"
