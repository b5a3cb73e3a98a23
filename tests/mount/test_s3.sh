#!/bin/bash
# The cold tier on S3 (issue 12), against the real Ceph RGW of
# scripts/s3-server.sh:
#  - 200 real vectors and 100 Python modules demoted with one directory
#    setfattr to cold_store=s3://BUCKET/PREFIX read back identical (kernel
#    cache dropped, and again after a remount); STORE/cold stays empty;
#    every archive object, downloaded with curl, passes `xz -t`; meta.db's
#    snapshot is under PREFIX/meta/.
#  - random 4 KiB reads of a cold 8 MiB file after a remount cost one GET
#    each (one xz block), and none for a block already decoded, counted in
#    .tiers/stats' cold_store.requests; a sequential read fetches runs
#    of blocks (read-ahead), far fewer GETs than blocks.
#  - the secret key is in neither the log, .tiers/stats, .tiers/metrics nor
#    the daemon's command line.
#  - a mount with bad credentials, a missing bucket, an unreachable endpoint
#    or a bad URL is refused with a message naming the problem; so is a
#    switch of cold_store on a store that has archives.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_s3.sh"
tfs_require_root
tfs_init
s3_require
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE
tfs_corpora || fail "corpora not found ($VEC, $MOD)"
command -v xz >/dev/null || fail "xz not found (install xz-utils)"

B=$(s3_bucket_name main)
P=stores/one
s3_mkbucket "$B"
CRED=$(s3_credentials_file)
OPTS=cold_store=s3://$B/$P,s3_endpoint=$S3_ENDPOINT,s3_credentials=$CRED
# interval=1h: no policy tick moves or compacts anything under the checks;
# promote_after=1000: reads do not promote (requests are counted)
tfs_mount -o "$OPTS,hot_age=1d,warm_age=1d,interval=1h,promote_after=1000,cold_block=256K"

# --- corpora round trip ------------------------------------------------------
note "200 vectors and 100 modules to the S3 cold tier with one setfattr"
mkdir -p "$R/set/vec" "$R/set/mod"
find "$VEC" -maxdepth 1 -name '*.f32' | sort | sed -n 1,200p | xargs cp -t "$R/set/vec"
find "$MOD" -maxdepth 1 -name '*.py' | sort | sed -n 1,100p | xargs cp -t "$R/set/mod"
cp -r "$R/set" "$M/set"
setfattr -n user.tierfs.tier -v cold "$M/set"
for f in "$M"/set/vec/*.f32 "$M"/set/mod/*.py; do
	t=$(tier "$f")
	[ "$t" = cold ] || fail "${f#"$M"/} is $t after the setfattr, not cold"
done
drop_caches
diff -r "$R/set" "$M/set" || fail "files read back from S3 differ"
n=$(find "$S/cold" -type f | wc -l)
assert_eq 0 "$n" "files in the local STORE/cold"
mapfile -t keys < <(s3_keys "$B" "$P/")
arcs=0
for k in "${keys[@]}"; do
	case $k in
	"$P"/*.xz)
		s3_get "$B" "$k" "$TFS_TMP/obj.xz"
		xz -t "$TFS_TMP/obj.xz" || fail "xz -t rejects the object $k"
		arcs=$((arcs + 1)) ;;
	"$P/meta/meta.db") ;;
	*) fail "unexpected key $k under the prefix" ;;
	esac
done
[ "$arcs" -ge 1 ] || fail "no archive object under s3://$B/$P/"
note "$arcs archive object(s) downloaded pass xz -t"
printf '%s\n' "${keys[@]}" | grep -qx "$P/meta/meta.db" ||
	fail "no meta.db snapshot under s3://$B/$P/meta/"
s3_get "$B" "$P/meta/meta.db" "$TFS_TMP/snap.db"
"$PY" - "$TFS_TMP/snap.db" <<'EOF' || fail "the meta.db snapshot is no SQLite database"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("pragma integrity_check").fetchone()[0] == "ok"
EOF

# --- random reads: one GET per block ------------------------------------------
note "random 4 KiB reads of a cold 8 MiB file: one GET per block"
head -c $((8 << 20)) /dev/urandom >"$R/big"
cp "$R/big" "$M/big"
setfattr -n user.tierfs.tier -v cold "$M/big"
assert_eq cold "$(tier "$M/big")" "tier of big"
tfs_umount
tfs_remount
drop_caches
r0=$(s3_stat requests)
"$PY" - "$M/big" "$R/big" <<'EOF'
import os, sys
bs = 256 << 10                  # cold_block's default
a = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(a, 0, 0, os.POSIX_FADV_RANDOM)
ref = open(sys.argv[2], "rb").read()
for blk in (3, 7, 11, 20, 25):
    off = blk * bs + 100000
    got = os.pread(a, 4096, off)
    assert got == ref[off:off + 4096], "bytes differ at %d" % off
EOF
r1=$(s3_stat requests)
note "5 reads in 5 blocks: $((r1 - r0)) requests"
assert_eq 5 "$((r1 - r0))" "S3 requests for 5 reads in 5 uncached blocks"
"$PY" - "$M/big" "$R/big" <<'EOF'
import os, sys
bs = 256 << 10
a = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(a, 0, 0, os.POSIX_FADV_RANDOM)
ref = open(sys.argv[2], "rb").read()
off = 7 * bs + 70000   # the same 64 KiB LZMA2 chunk of block 7: cached
got = os.pread(a, 4096, off)
assert got == ref[off:off + 4096]
EOF
r2=$(s3_stat requests)
assert_eq "$r1" "$r2" "S3 requests for a read in a cached block"
drop_caches
cmp "$R/big" "$M/big" || fail "big differs when read whole"
r3=$(s3_stat requests)
# 128 blocks of 64 KiB (random data is stored raw), 5 of them decoded
# above: read-ahead fetches runs of blocks with one GET each
note "a sequential read of the 8 MiB file (128 blocks): $((r3 - r2)) GETs"
[ "$((r3 - r2))" -le 40 ] ||
	fail "$((r3 - r2)) GETs for a sequential read of 128 blocks"
diff -r "$R/set" "$M/set" || fail "files differ after the remount"

# --- secrets ----------------------------------------------------------------
note "the secret key is in no log, stats, metrics or command line"
for f in "$TFS_LOG" "$M/.tiers/stats" "$M/.tiers/metrics" \
	"/proc/$TFS_PID/cmdline"; do
	if grep -qaF -- "$AWS_SECRET_ACCESS_KEY" "$f"; then
		fail "the secret key appears in $f"
	fi
done
grep -q '^tierfs_s3_requests_total [1-9]' "$M/.tiers/metrics" ||
	fail "no tierfs_s3_requests_total in .tiers/metrics"
tfs_umount

# --- refused mounts -----------------------------------------------------------
note "refused mounts"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n' \
	"$AWS_ACCESS_KEY_ID" >"$TFS_TMP/bad-cred"
S2=$TFS_TMP/store2
mkdir -p "$S2"
tfs_expect_refused 1 "refused the credentials" "$M" "$S2" "$M" -o \
	"cold_store=s3://$B/p2,s3_endpoint=$S3_ENDPOINT,s3_credentials=$TFS_TMP/bad-cred"
tfs_expect_refused 1 "bucket 'nosuchbucket-[a-z0-9]+' does not exist" \
	"$M" "$S2" "$M" -o "cold_store=s3://nosuchbucket-$(printf '%s' "$TFS_RAND" | tr 'A-Z' 'a-z'),s3_endpoint=$S3_ENDPOINT,s3_credentials=$CRED"
tfs_expect_refused 1 "cannot reach http://127.0.0.1:9" "$M" "$S2" "$M" -o \
	"cold_store=s3://$B/p2,s3_endpoint=http://127.0.0.1:9,s3_timeout=2,s3_credentials=$CRED"
tfs_expect_refused 2 "s3_endpoint: must start with http" "$M" "$S2" "$M" -o \
	"cold_store=s3://$B/p2,s3_endpoint=ftp://127.0.0.1"
tfs_expect_refused 2 "cold_store: bad bucket name" "$M" "$S2" "$M" -o \
	"cold_store=s3://Bad_Bucket"
(
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	tfs_expect_refused 1 "no S3 credentials" "$M" "$S2" "$M" -o \
		"cold_store=s3://$B/p2,s3_endpoint=$S3_ENDPOINT"
)
tfs_expect_refused 1 "cold archives are in 's3://$B/$P'" "$M" "$S" "$M"
note "a store with S3 archives mounted without cold_store is refused"
tfs_remount
cmp "$R/big" "$M/big" || fail "big differs after the refused mounts"
tfs_umount
