#!/bin/bash
# The cold tier end to end (issue 3 items 1, 2, 3, 6, 8):
#  - 200 real float32 vectors (corpora/vectors/minilm384, 1,536 bytes each)
#    and 100 Python modules (corpora/modules/py) demoted with ONE directory
#    setfattr: getfattr says cold, every file reads back identical with the
#    kernel cache dropped, every STORE/cold/*.xz passes `xz -t` and `xz -l`,
#    and `xz -dc` of the new archive holds exactly the files' bytes (its
#    length is their sum, the vectors in path order are one contiguous slice
#    of it, every module is in it).
#  - one 1,536-byte vector demoted alone: identical, its archive passes
#    xz -t and decompresses to exactly that vector.
#  - a 512 MiB file round-trips through cold; 200 random 4 KiB reads (some
#    across xz block boundaries) each followed by a read elsewhere in the
#    same block match the reference, and the daemon's cold_cache.decodes
#    counter grows by at most 2 per miss read: a random read decodes the
#    blocks it needs, never the file. Then -v hot and -v warm round-trips.
#  Demotion time, MB/s and random-read latencies are printed, not asserted.
#
# TFS_COLD_BIG_MB (default 512) sets the size of the big file.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE
BIG_MB=${TFS_COLD_BIG_MB:-512}
if ! tfs_corpora; then
	echo "SKIP: corpora not found ($VEC, $MOD)"
	exit 77
fi
command -v xz >/dev/null || fail "xz not found (install xz-utils)"

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }
archives() { find "$S/cold" -maxdepth 1 -name '*.xz' -printf '%f\n' 2>/dev/null | sort; }
# new_archives BEFORE: archives not in the list BEFORE (one name per line)
new_archives() { comm -13 <(printf '%s\n' "$1" | sed '/^$/d') <(archives); }
xz_check_all()
{
	local a n=0
	for a in "$S"/cold/*.xz; do
		[ -e "$a" ] || continue
		xz -t "$a" || fail "xz -t rejects archive ${a##*/}"
		xz -l "$a" >/dev/null || fail "xz -l rejects archive ${a##*/}"
		n=$((n + 1))
	done
	note "$n archive(s) pass xz -t and xz -l"
}

# interval=1h: no policy tick (compaction) deletes archives under our checks
tfs_mount -o hot_age=1d,warm_age=1d,interval=1h

# --- 200 vectors + 100 modules, one directory setfattr --------------------------------
note "200 vectors and 100 modules demoted with one directory setfattr"
mkdir -p "$R/set/vec" "$R/set/mod"
find "$VEC" -maxdepth 1 -name '*.f32' | sort | sed -n 1,200p | xargs cp -t "$R/set/vec"
find "$MOD" -maxdepth 1 -name '*.py' | sort | sed -n 1,100p | xargs cp -t "$R/set/mod"
assert_eq 200 "$(find "$R/set/vec" -type f | wc -l)" "vectors copied"
assert_eq 100 "$(find "$R/set/mod" -type f | wc -l)" "modules copied"
for f in "$R"/set/vec/*; do
	assert_eq 1536 "$(stat -c %s "$f")" "size of vector ${f##*/}"
done
cp -r "$R/set" "$M/set"
before=$(archives)
set_tier "$M/set" cold
mapfile -t arcs < <(new_archives "$before")
[ "${#arcs[@]}" -gt 0 ] || fail "no new archive in STORE/cold after setfattr cold on a directory"
note "new archive(s): ${arcs[*]}"
while IFS= read -r f; do
	assert_eq cold "$(tier "$M/set/$f")" "tier of set/$f after directory setfattr cold"
done < <(cd "$R/set" && find . -type f | sed 's|^\./||' | sort)
drop_caches
diff -r "$R/set" "$M/set" || fail "cold files differ from the originals"
xz_check_all
# the archive's uncompressed stream is the files' bytes
"$PY" - "$R/set" "$S/cold" "${arcs[@]}" <<'EOF' || fail "archive content check failed"
import os, subprocess, sys
ref, cold, arcs = sys.argv[1], sys.argv[2], sys.argv[3:]
streams = [subprocess.run(["xz", "-dc", os.path.join(cold, a)], check=True,
                          stdout=subprocess.PIPE).stdout for a in arcs]
files = []
for d, _, names in os.walk(ref):
    files += [os.path.join(d, n) for n in names]
data = {p: open(p, "rb").read() for p in files}
total = sum(len(v) for v in data.values())
got = sum(len(s) for s in streams)
if got != total:
    sys.exit("xz -dc of the new archives gives %d bytes, the files hold %d" % (got, total))
vec = b"".join(data[p] for p in sorted(p for p in files if "/vec/" in p))
if not any(vec in s for s in streams):
    sys.exit("the vectors in path order are not one contiguous slice of an archive")
for p in files:
    if not any(data[p] in s for s in streams):
        sys.exit("%s not found in the archive stream" % p)
print("# xz -dc: %d bytes = the files' bytes; vectors contiguous in path order" % got)
EOF
tfs_umount
# remount: the cold files persist
tfs_remount
drop_caches
diff -r "$R/set" "$M/set" || fail "cold files differ after a remount"
assert_eq cold "$(tier "$M/set/vec/v00007.f32")" "tier of a vector after remount"

# --- one vector alone ---------------------------------------------------------------
note "one 1,536-byte vector demoted alone"
cp "$VEC/v00777.f32" "$R/one.f32"
cp "$R/one.f32" "$M/one.f32"
before=$(archives)
set_tier "$M/one.f32" cold
assert_eq cold "$(tier "$M/one.f32")" "tier of the single vector"
mapfile -t arcs < <(new_archives "$before")
assert_eq 1 "${#arcs[@]}" "new archives for one vector"
a=$S/cold/${arcs[0]}
xz -t "$a" || fail "xz -t rejects the single vector's archive ${arcs[0]}"
xz -l "$a" >/dev/null || fail "xz -l rejects the single vector's archive ${arcs[0]}"
cmp <(xz -dc "$a") "$R/one.f32" || fail "xz -dc of ${arcs[0]} is not exactly the vector"
drop_caches
check_same "$R/one.f32" "$M/one.f32"
note "single vector archive: $(stat -c %s "$a") bytes"

# --- a big file ------------------------------------------------------------------------
note "a $BIG_MB MiB file through cold"
# Each 4 KiB page: its index (8 bytes) then a slice of a 16 KiB random pool
# chosen by a seeded PRNG: every page is unique (a read at a wrong offset
# cannot match) yet each xz block compresses, so xz keeps up on 2 cores.
"$PY" - "$R/big" "$BIG_MB" <<'EOF'
import random, struct, sys
r = random.Random(20261122)
pool = r.randbytes(16384)
pages = (int(sys.argv[2]) << 20) // 4096
with open(sys.argv[1], "wb") as f:
    buf = bytearray()
    for i in range(pages):
        o = r.randrange(0, 16384 - 4096)
        buf += struct.pack("<Q", i) + pool[o + 8:o + 4096]
        if len(buf) >= 8 << 20:
            f.write(buf)
            buf = bytearray()
    f.write(buf)
EOF
cp "$R/big" "$M/big"
before=$(archives)
t0=$(date +%s.%N)
set_tier "$M/big" cold
t1=$(date +%s.%N)
assert_eq cold "$(tier "$M/big")" "tier of the big file"
mapfile -t arcs < <(new_archives "$before")
[ "${#arcs[@]}" -gt 0 ] || fail "no archive written for the big file"
note "demoted $BIG_MB MiB to cold in $(awk -v a="$t0" -v b="$t1" -v m="$BIG_MB" \
	'BEGIN { printf "%.2f s (%.1f MB/s)", b - a, m * 1.048576 / (b - a) }'); archives: ${arcs[*]}, $(cd "$S/cold" && du -cb "${arcs[@]}" | tail -n1 | cut -f1) bytes"
for a in "${arcs[@]}"; do
	xz -t "$S/cold/$a" || fail "xz -t rejects the big file's archive $a"
done
drop_caches
check_same "$R/big" "$M/big"

note "200 random 4 KiB reads of the cold big file"
drop_caches
"$PY" - "$R/big" "$M/big" "$M/.tiers/stats" 200 <<'EOF' || fail "random reads of the cold big file"
import json, os, random, statistics, sys, time
ref_p, mnt_p, stats_p, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
BLOCK = 256 << 10
def decodes():
    with open(stats_p) as f:
        return json.load(f)["cold_cache"]["decodes"]
size = os.path.getsize(ref_p)
nblocks = (size + BLOCK - 1) // BLOCK
rng = random.Random(7)
ref = os.open(ref_p, os.O_RDONLY)
fd = os.open(mnt_p, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)   # no readahead
d0 = decodes()
miss, hit = [], []
used = set()
for i in range(n):
    # every 10th read straddles a block boundary; the others sit inside a block
    while True:
        b = rng.randrange(1, nblocks - 1)
        if b not in used:
            break
    used.add(b)
    if i % 10 == 0:
        off = b * BLOCK - 2048
    else:
        off = b * BLOCK + rng.randrange(0, BLOCK // 2 - 4096)
    t = time.perf_counter()
    got = os.pread(fd, 4096, off)
    miss.append(time.perf_counter() - t)
    if got != os.pread(ref, 4096, off):
        sys.exit("read at offset %d differs from the reference" % off)
    # a second read in the same (now cached) block, pages not read yet
    off2 = b * BLOCK + BLOCK // 2 + rng.randrange(0, BLOCK // 2 - 4096 - 4096) // 4096 * 4096 + 100
    t = time.perf_counter()
    got = os.pread(fd, 4096, off2)
    hit.append(time.perf_counter() - t)
    if got != os.pread(ref, 4096, off2):
        sys.exit("read at offset %d differs from the reference" % off2)
d1 = decodes()
delta = d1 - d0
print("# %d+%d random 4 KiB reads of a %d-block file: %d xz blocks decoded"
      % (n, n, nblocks, delta))
print("# random 4 KiB read latency (median): first read of a block %.3f ms, "
      "second read in a decoded block %.3f ms"
      % (statistics.median(miss) * 1e3, statistics.median(hit) * 1e3))
if delta > 2 * n:
    sys.exit("%d random reads (plus %d in the same blocks) decoded %d xz "
             "blocks; expected at most %d" % (n, n, delta, 2 * n))
if delta < 1:
    sys.exit("cold_cache.decodes did not move (%d -> %d) after reading a cold file"
             % (d0, d1))
EOF

note "the big file back to hot, then to warm"
set_tier "$M/big" hot
assert_eq hot "$(tier "$M/big")" "tier of the big file after setfattr hot"
drop_caches
check_same "$R/big" "$M/big"
set_tier "$M/big" warm
assert_eq warm "$(tier "$M/big")" "tier of the big file after setfattr warm"
drop_caches
check_same "$R/big" "$M/big"
# and a vector back to hot
set_tier "$M/set/vec/v00003.f32" hot
drop_caches
check_same "$R/set/vec/v00003.f32" "$M/set/vec/v00003.f32"
xz_check_all
tfs_umount
