#!/bin/bash
# The S3 endpoint goes down in the middle of a workload and comes back
# (issue 12; the gateway alone is stopped and restarted by
# scripts/s3-server.sh gw-stop/gw-start, same port, same objects):
#  - hot and warm files read and write as before;
#  - a cold read waits up to s3_timeout, then fails with EIO (logged,
#    counted in cold_store.errors); a demotion fails and leaves the file
#    readable where it was (nothing local is deleted);
#  - once the endpoint is back, the same cold read and the same demotion
#    work without a remount.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_s3.sh"
tfs_require_root
tfs_init
s3_require
[ -n "${S3_SERVER_DIR:-}" ] || fail "S3_SERVER_DIR unset (the env of scripts/s3-server.sh)"
SRV=$(cd "$TFS_DIR/../.." && pwd)/scripts/s3-server.sh
[ -x "$SRV" ] || fail "no $SRV"
M=$TFS_MNT
R=$TFS_REF

B=$(s3_bucket_name outage)
s3_mkbucket "$B"
gw_down=0
gw_restore() { [ "$gw_down" = 0 ] || "$SRV" gw-start "$S3_SERVER_DIR"; gw_down=0; }
trap 'rc=$?; gw_restore; (exit $rc); tfs__cleanup' EXIT

tfs_mount -o "cold_store=s3://$B/o,s3_endpoint=$S3_ENDPOINT,s3_timeout=3,hot_age=1d,warm_age=1d,interval=1h,promote_after=1000,cold_block=64K"
for f in cold1 cold2 warm hot tomove; do
	head -c $((1 << 20)) /dev/urandom >"$R/$f"
	cp "$R/$f" "$M/$f"
done
setfattr -n user.tierfs.tier -v cold "$M/cold1"
setfattr -n user.tierfs.tier -v cold "$M/cold2"
setfattr -n user.tierfs.tier -v warm "$M/warm"
setfattr -n user.tierfs.tier -v warm "$M/tomove"
assert_eq cold "$(tier "$M/cold1")" "cold1"
drop_caches

note "endpoint down"
"$SRV" gw-stop "$S3_SERVER_DIR"
gw_down=1
tfs_expect_log_error 's3: GET .*(Couldn.t connect|Connection refused)'
tfs_expect_log_error 's3: (PUT|POST|HEAD) .*(Couldn.t connect|Connection refused)'
tfs_expect_log_error 'cold|demot|archive|read'
tfs_expect_log_error 'xzarc [0-9a-f]+\.xz: create: Input/output error'
cmp "$R/hot" "$M/hot" || fail "hot file differs while S3 is down"
cmp "$R/warm" "$M/warm" || fail "warm file differs while S3 is down"
echo more >>"$M/hot"
echo more >>"$R/hot"
cmp "$R/hot" "$M/hot" || fail "hot file write while S3 is down"
e0=$(s3_stat errors)
t0=$SECONDS
if dd if="$M/cold1" of=/dev/null bs=4k count=1 skip=100 2>"$TFS_TMP/dd.err"; then
	fail "a cold read succeeded with the endpoint down"
fi
grep -q "Input/output error" "$TFS_TMP/dd.err" ||
	fail "cold read with the endpoint down: $(cat "$TFS_TMP/dd.err"), not EIO"
note "cold read failed with EIO after $((SECONDS - t0)) s"
[ $((SECONDS - t0)) -lt 60 ] || fail "the cold read took $((SECONDS - t0)) s (s3_timeout=3)"
e1=$(s3_stat errors)
[ "$e1" -gt "$e0" ] || fail "cold_store.errors did not grow ($e0 -> $e1)"
if setfattr -n user.tierfs.tier -v cold "$M/tomove" 2>/dev/null; then
	fail "a demotion succeeded with the endpoint down"
fi
assert_eq warm "$(tier "$M/tomove")" "tier of tomove after a failed demotion"
drop_caches
cmp "$R/tomove" "$M/tomove" || fail "tomove differs after a failed demotion"

note "endpoint back"
gw_restore
cmp "$R/cold1" "$M/cold1" || fail "cold1 differs once S3 is back"
cmp "$R/cold2" "$M/cold2" || fail "cold2 differs once S3 is back"
setfattr -n user.tierfs.tier -v cold "$M/tomove"
assert_eq cold "$(tier "$M/tomove")" "tier of tomove once S3 is back"
drop_caches
cmp "$R/tomove" "$M/tomove" || fail "tomove differs after its demotion"
cmp "$R/hot" "$M/hot" || fail "hot file differs"
tfs_umount
tfs_remount
for f in cold1 cold2 warm hot tomove; do
	cmp "$R/$f" "$M/$f" || fail "$f differs after a remount"
done
tfs_umount
