#!/bin/bash
# The local disk cache of blocks fetched from the S3 cold tier (issue 12:
# cold_cache_dir, cold_cache_max), against the real Ceph RGW of
# scripts/s3-server.sh:
#  - set in STORE/tierfs.conf; the cache lives in STORE/cache by default;
#  - the demotion works with TMPDIR naming no directory (uploads are
#    staged inside STORE) and leaves no staging file behind;
#  - random 4 KiB reads of a cold file after a remount cost one GET per
#    block; after another remount (the decoded-block cache is in RAM and
#    gone) the same reads cost no GET: they come from the disk cache,
#    byte-exact (.tiers/stats cold_store.requests and cold_disk_cache.hits);
#  - reading a file larger than cold_cache_max keeps the cache directory
#    under cold_cache_max;
#  - cache files damaged (a third with one byte flipped, a third cut
#    short): the reads still give the right bytes (the damaged blocks from
#    S3 again), the damage is counted as "bad";
#  - the cache is no home of data: deleted while unmounted, every file
#    reads back the same; tierfs-fsck finds the store clean beside it;
#  - cold_cache_dir names another directory; a bad cold_cache_max or a
#    relative cold_cache_dir is refused.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_s3.sh"
tfs_require_root
tfs_init
s3_require
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE

B=$(s3_bucket_name cache)
s3_mkbucket "$B"
CRED=$TFS_TMP/credentials
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$CRED"
MAX=$((4 << 20))
printf 'cold_cache_max = 4M\n' >"$S/tierfs.conf"
# interval=1h: no policy tick moves anything under the checks;
# promote_after=1000: reads do not promote (requests are counted)
# TMPDIR names no directory: uploads are staged inside STORE, never in /tmp
TMPDIR=$TFS_TMP/no-such-tmp tfs_mount -o "cold_store=s3://$B/c,s3_endpoint=$S3_ENDPOINT,s3_credentials=$CRED,hot_age=1d,warm_age=1d,interval=1h,promote_after=1000,cold_block=256K"

# dc_stat FIELD: .tiers/stats cold_disk_cache.FIELD
dc_stat()
{
	"$PY" - "$M/.tiers/stats" "$1" <<'PYEOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
print(d["cold_disk_cache"][sys.argv[2]])
PYEOF
}

# cache_bytes: the bytes of the files in the cache directory $1
cache_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# random_reads FILE REF: 4 KiB reads in blocks 3 7 11 20 25, checked
random_reads()
{
	"$PY" - "$1" "$2" <<'EOF'
import os, sys
bs = 256 << 10
a = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(a, 0, 0, os.POSIX_FADV_RANDOM)
ref = open(sys.argv[2], "rb").read()
for blk in (3, 7, 11, 20, 25):
    off = blk * bs + 100000
    got = os.pread(a, 4096, off)
    assert got == ref[off:off + 4096], "bytes differ at %d" % off
EOF
}

note "a cold 8 MiB file, read at random after a remount: one GET per block"
head -c $((8 << 20)) /dev/urandom >"$R/big"
cp "$R/big" "$M/big"
setfattr -n user.tierfs.tier -v cold "$M/big"
assert_eq cold "$(tier "$M/big")" "tier of big"
assert_eq "$MAX" "$(dc_stat max)" "cold_disk_cache.max (from tierfs.conf)"
tfs_umount
tfs_remount
drop_caches
r0=$(s3_stat requests)
random_reads "$M/big" "$R/big"
r1=$(s3_stat requests)
assert_eq 5 "$((r1 - r0))" "S3 requests for 5 reads in 5 uncached blocks"
assert_eq 5 "$(dc_stat puts)" "blocks put in the disk cache"
[ -d "$S/cache" ] || fail "no STORE/cache directory"
n=$(find "$S/s3-ends" -type f ! -name '*.ends' | wc -l)
assert_eq 0 "$n" "files other than *.ends in STORE/s3-ends (staging leftovers)"
n=$(find "$S/cache" -type f | wc -l)
assert_eq 5 "$n" "files in STORE/cache"

note "the same reads after a remount: served from the disk cache, no GET"
tfs_umount
tfs_remount
drop_caches
r0=$(s3_stat requests)
random_reads "$M/big" "$R/big"
r1=$(s3_stat requests)
assert_eq 0 "$((r1 - r0))" "S3 requests for 5 reads of blocks on the disk cache"
assert_eq 5 "$(dc_stat hits)" "disk cache hits"

note "a whole read of a file twice cold_cache_max keeps the cache under it"
drop_caches
cmp "$R/big" "$M/big" || fail "big differs when read whole"
b=$(cache_bytes "$S/cache")
note "STORE/cache holds $b bytes after reading 8 MiB (max $MAX)"
[ "$b" -le "$MAX" ] || fail "STORE/cache holds $b bytes, over cold_cache_max $MAX"
[ "$(dc_stat bytes)" -le "$MAX" ] || fail "cold_disk_cache.bytes over max"
[ "$(dc_stat evictions)" -gt 0 ] || fail "no eviction after reading 8 MiB"

note "damaged cache files are misses, never wrong bytes"
tfs_umount
i=0
for f in "$S"/cache/*; do
	if [ $((i % 3)) = 0 ]; then
		# flip one byte in the middle of the data
		"$PY" - "$f" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
size = os.fstat(fd).st_size
b = os.pread(fd, 1, size // 2)
os.pwrite(fd, bytes([b[0] ^ 0x5a]), size // 2)
EOF
	elif [ $((i % 3)) = 1 ]; then
		truncate -s -1000 "$f"
	fi
	i=$((i + 1))
done
[ "$i" -ge 2 ] || fail "only $i cache files to damage"
tfs_remount
drop_caches
# The cache holds the blocks read last: the end of the file. Read its last
# 3 MiB (48 blocks of 64 KiB, all in the cache, two thirds damaged).
# (Read-ahead fetches runs of blocks in one GET: count bytes, not GETs.)
r0=$(s3_stat requests)
d0=$(s3_stat bytes_down)
cmp <(tail -c $((3 << 20)) "$R/big") <(tail -c $((3 << 20)) "$M/big") ||
	fail "big differs with a damaged disk cache"
r1=$(s3_stat requests)
d1=$(s3_stat bytes_down)
bad=$(dc_stat bad)
h=$(dc_stat hits)
note "$i cache files, 2/3 damaged: $bad found bad, $h hits, $((r1 - r0)) GETs of $((d1 - d0)) bytes"
[ "$bad" -ge 1 ] || fail "no damaged cache file noticed"
[ "$h" -ge 1 ] || fail "no undamaged cache file used"
[ "$((d1 - d0))" -ge "$((bad * 65536))" ] ||
	fail "$bad damaged blocks but only $((d1 - d0)) bytes fetched again"
cmp "$R/big" "$M/big" || fail "big differs with a damaged disk cache"

note "the cache is no home: deleted while unmounted, the data is all there"
tfs_umount
rm -rf "$S/cache"
tfs_remount
drop_caches
cmp "$R/big" "$M/big" || fail "big differs after the cache was deleted"
tfs_umount

# ... and tierfs-fsck finds the store clean with the cache beside it
tfs_remount
drop_caches
random_reads "$M/big" "$R/big"
tfs_umount
[ -d "$S/cache" ] || fail "no STORE/cache to check fsck against"
st=0
"$TIERFS_FSCK" "$S" >"$TFS_TMP/fsck.out" 2>&1 || st=$?
assert_eq 0 "$st" "tierfs-fsck exit status with STORE/cache ($(tail -3 "$TFS_TMP/fsck.out"))"

note "cold_cache_dir elsewhere; bad values refused"
mkdir "$TFS_TMP/cc"
tfs_mount -o "cold_store=s3://$B/c,s3_endpoint=$S3_ENDPOINT,s3_credentials=$CRED,interval=1h,promote_after=1000,cold_cache_dir=$TFS_TMP/cc/blocks,cold_cache_max=2M"
drop_caches
random_reads "$M/big" "$R/big"
n=$(find "$TFS_TMP/cc/blocks" -type f | wc -l)
assert_eq 5 "$n" "files in cold_cache_dir"
tfs_umount
tfs_expect_refused 2 "cold_cache_max: bad size" "$M" "$S" "$M" -o \
	"cold_store=s3://$B/c,s3_endpoint=$S3_ENDPOINT,cold_cache_max=lots"
tfs_expect_refused 2 "cold_cache_dir: must be an absolute path" "$M" "$S" "$M" -o \
	"cold_store=s3://$B/c,s3_endpoint=$S3_ENDPOINT,cold_cache_dir=rel/dir"
tfs_expect_refused 1 "cold_cache_dir $TFS_TMP/nosuch/dir" "$M" "$S" "$M" -o \
	"cold_store=s3://$B/c,s3_endpoint=$S3_ENDPOINT,s3_credentials=$CRED,cold_cache_dir=$TFS_TMP/nosuch/dir"
