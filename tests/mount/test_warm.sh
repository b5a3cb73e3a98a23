#!/bin/bash
# Tier control through xattrs and the RAM budget:
#  - user.tierfs.tier reads hot after a write; setfattr warm/hot moves a file
#    and it reads back identical (kernel cache dropped, so the daemon serves
#    it); any other value is EINVAL and changes nothing; writes to a warm file
#    and files moved while open work.
#  - demoting ~500 MiB of files lowers the daemon's RSS by >= 400 MiB.
#  - with hot_max=64M, writing 300 MiB and reading it back keeps the daemon's
#    anonymous RSS (RssAnon: its heap, where hot data lives) under its
#    baseline + 164 MiB, and everything reads back identical. VmRSS is
#    printed too; it also counts pages of the mmap'd segments, which are the
#    kernel's page cache (shared and reclaimable), not the daemon's budget.
#  With a sanitizer build the RSS figures are printed, not asserted.
#
# TFS_RSS_FILES (default 50) files of 10 MiB for the RSS check.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
M=$TFS_MNT
R=$TFS_REF
NRSS=${TFS_RSS_FILES:-50}
# rss_check OK MESSAGE: fail unless OK is 1 (only noted when sanitized)
rss_check()
{
	if [ "$1" = 1 ]; then
		return 0
	fi
	if tfs_sanitized; then
		note "not asserted (sanitizer build): $2"
		return 0
	fi
	fail "$2"
}

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }

# --- tier xattr on 10 files ------------------------------------------------------
tfs_mount -o hot_max=2G
note "tier xattr"
"$PY" - "$R" <<'EOF'
import os, sys
r = sys.argv[1]
sizes = [0, 1, 3072, 65536, 65537, 1 << 20, (1 << 20) + 7, 5 << 20]
for i, s in enumerate(sizes):
    with open(os.path.join(r, "t%d" % i), "wb") as f:
        f.write(os.urandom(s))
with open(os.path.join(r, "t8"), "wb") as f:       # compressible
    f.write(b"".join(b"line %08d of a compressible text file\n" % i
                     for i in range(60000)))
with open(os.path.join(r, "t9"), "wb") as f:       # zeros
    f.write(bytes(3 << 20))
EOF
files=()
for i in $(seq 0 9); do
	cp "$R/t$i" "$M/t$i"
	files+=("t$i")
done
for f in "${files[@]}"; do
	assert_eq hot "$(tier "$M/$f")" "tier of $f after writing it"
done
grep -q '^user.tierfs.tier="hot"$' <<<"$(getfattr --absolute-names -n user.tierfs.tier "$M/t3")" ||
	fail "getfattr -n does not show user.tierfs.tier: $(getfattr -n user.tierfs.tier "$M/t3")"
for f in "${files[@]}"; do
	set_tier "$M/$f" warm
	assert_eq warm "$(tier "$M/$f")" "tier of $f after setfattr warm"
done
drop_caches
for f in "${files[@]}"; do
	check_same "$R/$f" "$M/$f"
done
# setting the tier a file already has is fine
set_tier "$M/t2" warm
for f in "${files[@]}"; do
	set_tier "$M/$f" hot
	assert_eq hot "$(tier "$M/$f")" "tier of $f after setfattr hot"
done
drop_caches
for f in "${files[@]}"; do
	check_same "$R/$f" "$M/$f"
done
# bad values: EINVAL, nothing changes
set_tier "$M/t5" warm
for v in bogus HOT "" hotter; do
	expect_errno "Invalid argument" setfattr -n user.tierfs.tier -v "$v" "$M/t5"
done
assert_eq warm "$(tier "$M/t5")" "tier of t5 after bad values"
drop_caches
check_same "$R/t5" "$M/t5"

note "writes to a warm file"
set_tier "$M/t6" warm
drop_caches
head -c 70000 /dev/urandom >"$R/patch"
for tgt in "$R/t6" "$M/t6"; do
	dd if="$R/patch" of="$tgt" bs=1 seek=60000 conv=notrunc status=none
	cat "$R/patch" >>"$tgt"
done
check_same "$R/t6" "$M/t6"
drop_caches
check_same "$R/t6" "$M/t6"
set_tier "$M/t6" warm
drop_caches
check_same "$R/t6" "$M/t6"

note "moving a file while it is open"
"$PY" - "$R/t7" "$M/t7" <<'EOF'
import os, subprocess, sys
ref = open(sys.argv[1], "rb").read()
p = sys.argv[2]
def set_tier(t):
    subprocess.run(["setfattr", "-n", "user.tierfs.tier", "-v", t, p], check=True)
fd = os.open(p, os.O_RDWR)
half = len(ref) // 2
assert os.pread(fd, half, 0) == ref[:half]
set_tier("warm")
assert os.pread(fd, len(ref) - half, half) == ref[half:]
os.pwrite(fd, b"written while warm", 100)
set_tier("hot")
ref = ref[:100] + b"written while warm" + ref[118:]
assert os.pread(fd, len(ref), 0) == ref
set_tier("warm")
os.close(fd)
with open("/proc/sys/vm/drop_caches", "w") as f:
    f.write("3")
assert open(p, "rb").read() == ref
with open(sys.argv[1], "wb") as f:
    f.write(ref)
EOF
check_same "$R/t7" "$M/t7"

# --- RSS falls when files go warm ----------------------------------------------------
note "RSS: $NRSS files of 10 MiB, then demote them all"
# Each file is a seeded random stream; gen.py writes or verifies them.
cat >"$TFS_TMP/gen.py" <<'EOF'
import os, random, sys
def blob(i, size):
    return random.Random(1000 + i).randbytes(size)
def rss_anon(pid):
    with open("/proc/%s/status" % pid) as f:
        for l in f:
            if l.startswith("RssAnon:"):
                return int(l.split()[1])
    return 0
mode, d, n, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
size = 10 << 20
peak = rss_anon(pid)
for i in range(n):
    p = os.path.join(d, "v%03d" % i)
    data = blob(i, size)
    with open(p, "wb" if mode == "write" else "rb") as f:
        for o in range(0, size, 1 << 20):
            if mode == "write":
                f.write(data[o:o + (1 << 20)])
            else:
                assert f.read(1 << 20) == data[o:o + (1 << 20)], (p, o)
            peak = max(peak, rss_anon(pid))
    peak = max(peak, rss_anon(pid))
print(peak)
EOF
rss_field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$TFS_PID/status"; }
mkdir "$M/rss"
base=$(tfs_rss_kb)
"$PY" "$TFS_TMP/gen.py" write "$M/rss" "$NRSS" "$TFS_PID" >/dev/null
before=$(tfs_rss_kb)
anon_before=$(rss_field RssAnon)
hot_before=$(tfs_stat_field hot_bytes)
for i in $(seq 0 $((NRSS - 1))); do
	set_tier "$M/rss/v$(printf %03d "$i")" warm
done
after=$(tfs_rss_kb)
anon_after=$(rss_field RssAnon)
hot_after=$(tfs_stat_field hot_bytes)
note "daemon VmRSS: ${base} KiB at start, ${before} KiB with $NRSS x 10 MiB hot, ${after} KiB after demoting them"
note "daemon RssAnon: ${anon_before} KiB before demotion, ${anon_after} KiB after"
note "hot_bytes: $hot_before before, $hot_after after"
want=$((NRSS * 10 * 1024 * 8 / 10))
rss_check $((before - after >= want)) \
	"VmRSS fell by $((before - after)) KiB after demoting $((NRSS * 10)) MiB; expected >= $want KiB"
drop_caches
"$PY" "$TFS_TMP/gen.py" read "$M/rss" "$NRSS" "$TFS_PID" >/dev/null
tfs_umount

# --- hot_max=64M holds while writing 300 MiB -------------------------------------------
note "hot_max=64M: write 300 MiB, read it back"
rm -rf "${TFS_STORE:?}"
mkdir "$TFS_STORE"
tfs_mount -o hot_max=64M
mkdir "$M/cap"
base=$(rss_field RssAnon)
limit=$((base + (64 + 100) * 1024))
peak=$("$PY" "$TFS_TMP/gen.py" write "$M/cap" 30 "$TFS_PID")
hot=$(tfs_stat_field hot_bytes)
note "daemon RssAnon: ${base} KiB at start, peak ${peak} KiB while writing 300 MiB; VmRSS now $(tfs_rss_kb) KiB; hot_bytes $hot"
rss_check $((peak <= limit)) \
	"RssAnon peaked at $peak KiB while writing with hot_max=64M (limit $limit KiB)"
[ "$hot" -le $((64 << 20)) ] || fail "hot_bytes $hot exceeds hot_max=64M"
drop_caches
peak=$("$PY" "$TFS_TMP/gen.py" read "$M/cap" 30 "$TFS_PID")
note "daemon RssAnon peak ${peak} KiB while reading 300 MiB back; VmRSS now $(tfs_rss_kb) KiB"
rss_check $((peak <= limit)) \
	"RssAnon peaked at $peak KiB while reading with hot_max=64M (limit $limit KiB)"
hot=$(tfs_stat_field hot_bytes)
[ "$hot" -le $((64 << 20)) ] || fail "hot_bytes $hot exceeds hot_max=64M after reading"
tfs_umount
