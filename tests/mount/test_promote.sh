#!/bin/bash
# Promotion on repeated reads (issue 4 items 2, 3 and 8):
#  - a cold file and a warm file opened and read promote_after=2 times come
#    back hot (the policy thread does it shortly after: polled), the reason
#    says "read 2 times in ...", the content is identical; one read alone
#    does not promote;
#  - with promote_after=3, two reads do not promote (several ticks pass),
#    the third does;
#  - scan resistance: a working set of 20 files promoted by repeated reads
#    stays hot while 300 other warm/cold files are scanned once by
#    `tar cf /dev/null MNT`, `tar cf - MNT | cat` and (after the promotion
#    window has passed, so it is a pass of its own) `grep -r zzz MNT`; none of
#    the scanned files is promoted;
#  - a file larger than promote_max is never promoted however often it is
#    read, and reads back identical;
#  - (root) reads still count when the kernel forgets the inode between them
#    (drop_caches 2), as it does under memory pressure.
# The kernel page cache serves repeated reads of a file without the daemon
# (opens never reach it either: zero-message open), so what counts as an
# access is a pass of READs that reaches the daemon: each read here first
# drops the file's cached pages (uncache) as memory pressure would.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }
readit() { uncache "$1"; cat "$1" >/dev/null; }
# same_uncached REF FILE: check_same, with the read reaching the daemon
same_uncached() { uncache "$2"; check_same "$1" "$2"; }
# gen FILE SIZE SEED: deterministic random bytes
gen() { "$PY" -c 'import random, sys
open(sys.argv[1], "wb").write(random.Random(int(sys.argv[3])).randbytes(int(sys.argv[2])))' "$@"; }
# tier_stat TIER KEY: one per-tier field of .tiers/stats
tier_stat()
{
	"$PY" -c 'import json, sys
print(json.load(open(sys.argv[1]))["tiers"][sys.argv[2]][sys.argv[3]])' \
		"$M/.tiers/stats" "$1" "$2"
}
hot_files() { tier_stat hot files; }

# --- promote_after=2 (default), promote_window=5s ------------------------------
tfs_mount -o interval=500ms,promote_max=1M,promote_window=5s,hot_max=256M
note "a cold file read twice comes back hot"
gen "$R/c" 300000 1
gen "$R/w" 200000 2
cp "$R/c" "$M/c"
cp "$R/w" "$M/w"
set_tier "$M/c" cold
set_tier "$M/w" warm
assert_eq cold "$(tier "$M/c")" "tier of c after setfattr cold"
drop_caches
same_uncached "$R/c" "$M/c"             # read number 1
stays "$M/c" cold 2                     # 4 ticks: one read does not promote
same_uncached "$R/c" "$M/c"             # read number 2
wait_tier "$M/c" hot 20
r=$(xa "$M/c" reason)
[[ $r =~ ^read\ 2\ times\ in\ [0-9]+s$ ]] || fail "reason of c after promotion: '$r'"
note "c: $r, accesses $(xa "$M/c" accesses)"
[ "$(xa "$M/c" accesses)" -ge 2 ] || fail "c: accesses $(xa "$M/c" accesses) < 2"
[ -f "$M/.tiers/hot/c" ] || fail "c is not listed in .tiers/hot"
drop_caches
check_same "$R/c" "$M/c"
stays "$M/c" hot 1

note "a warm file read twice comes back hot"
readit "$M/w"
readit "$M/w"
wait_tier "$M/w" hot 20
[[ $(xa "$M/w" reason) =~ ^read\ 2\ times ]] || fail "reason of w: $(xa "$M/w" reason)"
drop_caches
check_same "$R/w" "$M/w"

note "promote_max=1M: a 2 MiB file is never promoted, a 1 MiB one is"
gen "$R/big" $((2 << 20)) 3
gen "$R/edge" $((1 << 20)) 4
cp "$R/big" "$M/big"
cp "$R/edge" "$M/edge"
set_tier "$M/big" cold
set_tier "$M/edge" cold
drop_caches
for i in 1 2 3 4 5 6; do
	same_uncached "$R/big" "$M/big"
	readit "$M/edge"
	sleep 0.3
done
wait_tier "$M/edge" hot 20
stays "$M/big" cold 3
[ "$(xa "$M/big" accesses)" -ge 6 ] || fail "big: accesses $(xa "$M/big" accesses) < 6"
set_tier "$M/big" warm
for _ in 1 2 3 4; do
	readit "$M/big"
done
stays "$M/big" warm 3
drop_caches
check_same "$R/big" "$M/big"
check_same "$R/edge" "$M/edge"

note "scan resistance: 20 hot files, 300 warm/cold files scanned once"
"$PY" - "$M" <<'EOF'
import os, random, sys
m = sys.argv[1]
r = random.Random(7)
def text(n):
    return "".join("%08x some text %d\n" % (r.getrandbits(32), i)
                   for i in range(n)).encode()
for d in ("ws", "scan/w", "scan/c"):
    os.makedirs(os.path.join(m, d))
for i in range(20):
    open(os.path.join(m, "ws", "f%02d" % i), "wb").write(text(2000))
for i in range(150):
    open(os.path.join(m, "scan/w", "f%03d" % i), "wb").write(text(500))
    open(os.path.join(m, "scan/c", "f%03d" % i), "wb").write(text(500))
EOF
set_tier "$M/ws" cold           # a directory: every file below it
set_tier "$M/scan/w" warm
set_tier "$M/scan/c" cold
rm -f "$M"/{c,w,big,edge}       # only the working set and the scan files
assert_eq 0 "$(hot_files)" "hot files before promoting the working set"
for _ in 1 2 3; do
	uncache "$M"/ws/*               # one python for all: quick passes
	for f in "$M"/ws/*; do
		cat "$f" >/dev/null
	done
done
for f in "$M"/ws/*; do
	wait_tier "$f" hot 30
done
assert_eq 20 "$(hot_files)" "hot files after promoting the working set"
note "working set hot; promotions to hot so far: $(tier_stat hot promotions)"

# ws_check WHAT: the working set is hot, nothing else is
ws_check()
{
	local f n
	for f in "$M"/ws/*; do
		assert_eq hot "$(tier "$f")" "tier of ws/${f##*/} after $1"
	done
	n=$(hot_files)
	[ "$n" = 20 ] || fail "$n hot files after $1 (expected the 20 of the working set): $(ls -R "$M/.tiers/hot" | head -20)"
	n=$(find "$M/.tiers/hot/scan" -type f 2>/dev/null | wc -l)
	assert_eq 0 "$n" "scanned files in .tiers/hot after $1"
}
tar cf /dev/null -C "$M" .
tar cf - -C "$M" . | cat >/dev/null
sleep 3                         # 6 ticks for a wrong promotion to show
ws_check "tar"
sleep 3                         # promote_window has passed since tar
grep -r zzz "$M" >/dev/null || true
sleep 3
ws_check "grep -r"
tfs_umount

# --- promote_after=3 -----------------------------------------------------------
tfs_mount -o interval=500ms,promote_after=3
note "promote_after=3: two reads do not promote, three do"
gen "$R/t" 100000 5
cp "$R/t" "$M/t"
set_tier "$M/t" cold
readit "$M/t"
readit "$M/t"
stays "$M/t" cold 3             # 6 ticks
readit "$M/t"
wait_tier "$M/t" hot 20
[[ $(xa "$M/t" reason) =~ ^read\ 3\ times ]] || fail "reason of t: $(xa "$M/t" reason)"
drop_caches
check_same "$R/t" "$M/t"
tfs_umount

# --- counts survive the kernel forgetting the inode ----------------------------
# Under memory pressure (or drop_caches) the kernel forgets a closed file's
# inode between two reads; the reads must still count towards promotion.
if [ -w /proc/sys/vm/drop_caches ]; then
	tfs_mount -o interval=500ms
	note "two reads with the inode forgotten in between still promote"
	gen "$R/fg" 100000 6
	cp "$R/fg" "$M/fg"
	set_tier "$M/fg" cold
	drop_caches 2
	readit "$M/fg"
	drop_caches 2
	readit "$M/fg"
	wait_tier "$M/fg" hot 20
	assert_eq 2 "$(xa "$M/fg" accesses)" "accesses of fg after two reads"
	drop_caches
	check_same "$R/fg" "$M/fg"
	tfs_umount
fi
