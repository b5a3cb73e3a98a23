#!/bin/bash
# Metadata off the machine (issue 12): a store with cold_store=s3://...
# keeps a meta.db snapshot under its prefix; `tierfs-fsck --restore` builds
# a new store in a fresh directory from the bucket alone, and that store
# mounts (settings from the tierfs.conf the restore wrote) with its cold
# files byte-exact. A file that was warm when the snapshot was taken keeps
# its name but reads as EIO (its bytes stayed on the old disk); restoring
# into an existing store, or from a bucket without a snapshot, is refused,
# and a failed restore takes back the directory it made (or leaves an empty
# one it was given empty). The restored store's mount logs no error for
# the warm segments a restore cannot bring back (the restore drops them
# from the catalog; only a read of a lost file logs one), nor an unclean
# last stop (the restore checks meta.db in full and leaves STORE/clean);
# with only cold files at the snapshot its log has no error at all.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_s3.sh"
tfs_require_root
tfs_init
s3_require
[ -n "${TIERFS_FSCK:-}" ] || fail "TIERFS_FSCK unset"
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE
tfs_corpora || fail "corpora not found ($VEC, $MOD)"

B=$(s3_bucket_name restore)
s3_mkbucket "$B"
CRED=$(s3_credentials_file)
tfs_mount -o "cold_store=s3://$B/site/a,s3_endpoint=$S3_ENDPOINT,s3_credentials=$CRED,hot_age=1d,warm_age=1d,interval=1h"
mkdir -p "$R/vec" "$R/mod" "$R/deep/er"
find "$VEC" -maxdepth 1 -name '*.f32' | sort | sed -n 1,100p | xargs cp -t "$R/vec"
find "$MOD" -maxdepth 1 -name '*.py' | sort | sed -n 1,60p | xargs cp -t "$R/mod"
head -c 3000000 /dev/urandom >"$R/deep/er/big.bin"
cp -r "$R/vec" "$R/mod" "$R/deep" "$M/"
setfattr -n user.tierfs.tier -v cold "$M/vec"
setfattr -n user.tierfs.tier -v cold "$M/mod"
setfattr -n user.tierfs.tier -v cold "$M/deep"
ln -s mod/abc.py "$M/link"
echo "warm bytes" >"$M/warmfile"
setfattr -n user.tierfs.tier -v warm "$M/warmfile"
setfattr -n user.note -v kept "$M/vec"
tfs_umount    # the unmount uploads the last snapshot
note "tierfs-fsck checks the archives in the bucket"
"$TIERFS_FSCK" -v "$S" >"$TFS_TMP/fsck.out" 2>&1 || {
	cat "$TFS_TMP/fsck.out"
	fail "tierfs-fsck of the S3-backed store is not clean"
}
grep -q "archive 00000001.xz (s3)" "$TFS_TMP/fsck.out" ||
	fail "tierfs-fsck did not check the remote archives: $(cat "$TFS_TMP/fsck.out")"
s3_curl PUT "/$B/site/a/0000ffff.xz" --data-binary junk -o /dev/null
st=0
"$TIERFS_FSCK" "$S" >"$TFS_TMP/fsck.out" 2>&1 || st=$?
assert_eq 1 "$st" "tierfs-fsck exit status with an orphan object"
grep -q "s3 object 0000ffff.xz: orphan" "$TFS_TMP/fsck.out" ||
	fail "tierfs-fsck did not report the orphan: $(cat "$TFS_TMP/fsck.out")"

note "restore from the bucket alone into a fresh directory"
S2=$TFS_TMP/restored
M2=$TFS_TMP/mnt2
mkdir "$M2"
"$TIERFS_FSCK" --restore "s3://$B/site/a" --s3-endpoint "$S3_ENDPOINT" \
	--s3-credentials "$CRED" "$S2" || fail "tierfs-fsck --restore failed"
[ -f "$S2/tierfs.conf" ] || fail "the restore wrote no tierfs.conf"
grep -q "cold_store = s3://$B/site/a" "$S2/tierfs.conf" || fail "tierfs.conf lacks cold_store"
# a second restore into it is refused
if "$TIERFS_FSCK" --restore "s3://$B/site/a" --s3-endpoint "$S3_ENDPOINT" \
	--s3-credentials "$CRED" "$S2" 2>"$TFS_TMP/err"; then
	fail "a restore into an existing store succeeded"
fi
grep -q "already holds a store" "$TFS_TMP/err" || fail "unexpected message: $(cat "$TFS_TMP/err")"
# no snapshot under that prefix
if "$TIERFS_FSCK" --restore "s3://$B/site/none" --s3-endpoint "$S3_ENDPOINT" \
	--s3-credentials "$CRED" "$TFS_TMP/restored2" 2>"$TFS_TMP/err"; then
	fail "a restore without a snapshot succeeded"
fi
grep -q "no snapshot" "$TFS_TMP/err" || fail "unexpected message: $(cat "$TFS_TMP/err")"
# a failed restore leaves no half-made store behind, and says so
[ ! -e "$TFS_TMP/restored2" ] ||
	fail "the failed restore left $(ls -A "$TFS_TMP/restored2" | tr '\n' ' ')in restored2"
grep -q "removed the partly made store" "$TFS_TMP/err" ||
	fail "the failed restore does not say what it left: $(cat "$TFS_TMP/err")"
# ... and into an empty directory that was there: it stays, empty
mkdir "$TFS_TMP/restored3"
if "$TIERFS_FSCK" --restore "s3://$B/site/none" --s3-endpoint "$S3_ENDPOINT" \
	--s3-credentials "$CRED" "$TFS_TMP/restored3" 2>"$TFS_TMP/err"; then
	fail "a restore without a snapshot succeeded"
fi
assert_eq "" "$(ls -A "$TFS_TMP/restored3")" "what the failed restore left in an empty directory"
grep -q "as it was before" "$TFS_TMP/err" ||
	fail "the failed restore does not say what it left: $(cat "$TFS_TMP/err")"

[ -f "$S2/clean" ] || fail "the restore left no STORE/clean"
# the read of the warm file logs its error; the mount logs none
tfs_expect_log_error 'warm: segment [0-9a-f]+ offset|read|EIO|Input/output'
tfs_mount_args "$M2" "$S2" "$M2"
! grep -E " error: .*\.seg|last stop was not clean" "$TFS_LOG" ||
	fail "the mount of the restored store logs the above"
drop_caches
for d in vec mod deep; do
	diff -r "$R/$d" "$M2/$d" || fail "$d/ differs in the restored store"
done
assert_eq "mod/abc.py" "$(readlink "$M2/link")" "symlink in the restored store"
assert_eq kept "$(getfattr --absolute-names -n user.note --only-values "$M2/vec")" "user xattr"
assert_eq cold "$(tier "$M2/vec/$(ls "$R/vec" | head -1)")" "tier in the restored store"
if cat "$M2/warmfile" >/dev/null 2>"$TFS_TMP/err"; then
	note "the warm file read back (its segment is not there: unexpected but harmless?)"
	fail "a file that was warm read back after a restore without its segment"
fi
note "warm file after the restore: $(cat "$TFS_TMP/err")"
n=$(find "$S2/cold" -type f | wc -l)
assert_eq 0 "$n" "files in the restored STORE/cold"
tfs_umount
st=0
"$TIERFS_FSCK" "$S2" >"$TFS_TMP/fsck.out" 2>&1 || st=$?
note "tierfs-fsck of the restored store: exit $st"
assert_eq 1 "$st" "tierfs-fsck of the restored store (the warm file is lost)"
grep -q "warmfile" "$TFS_TMP/fsck.out" ||
	fail "tierfs-fsck does not name the lost warm file: $(cat "$TFS_TMP/fsck.out")"

note "only cold files at the snapshot: the restored store mounts without an error"
# Their bytes were warm first (segment 00000001, now all dead records):
# the snapshot names a segment a restore cannot bring back, and needs not.
S3=$TFS_TMP/onlycold
S4=$TFS_TMP/onlycold-restored
M3=$TFS_TMP/mnt3
mkdir "$S3" "$M3"
tfs_mount_args "$M3" "$S3" "$M3" -o "cold_store=s3://$B/site/b,s3_endpoint=$S3_ENDPOINT,s3_credentials=$CRED,hot_age=1d,warm_age=1d,interval=1h"
cp -r "$R/mod" "$M3/"
setfattr -n user.tierfs.tier -v cold "$M3/mod"
assert_eq cold "$(tier "$M3/mod/abc.py")" "tier before the snapshot"
tfs_umount
"$TIERFS_FSCK" --restore "s3://$B/site/b" --s3-endpoint "$S3_ENDPOINT" \
	--s3-credentials "$CRED" "$S4" >"$TFS_TMP/out" ||
	fail "tierfs-fsck --restore failed: $(cat "$TFS_TMP/out")"
grep -q ", 1 warm segment left behind" "$TFS_TMP/out" ||
	fail "the restore does not say it left the segment: $(cat "$TFS_TMP/out")"
tfs_mount_args "$M3" "$S4" "$M3"
diff -r "$R/mod" "$M3/mod" || fail "mod/ differs in the restored store"
tfs_umount
if grep -E " error: |last stop was not clean" "$TFS_LOG"; then
	fail "the restored store's mount logs the above"
fi
"$TIERFS_FSCK" "$S4" >"$TFS_TMP/fsck.out" 2>&1 || {
	cat "$TFS_TMP/fsck.out"
	fail "tierfs-fsck of the restored store is not clean"
}
note "ok"
