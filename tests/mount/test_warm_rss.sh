#!/bin/bash
# Reading a large warm file does not grow the daemon's memory (issue 10
# item 7, issue 11): with hot_max=32M, a TFS_RSS_BIG_MIB (default 1024) MiB
# file of random bytes is written, moved to warm and read back with the
# kernel's cache dropped, twice (a sequential pass, then a pass in
# scattered 1 MiB pieces); the daemon's VmRSS (everything it maps, page
# cache of mapped files included), sampled every 8 MiB, must stay
# <= hot_max + 64 MiB, and the bytes must read back identical. Segment
# records are read with pread through the blob store, never mmap'd.
# With a sanitizer build the RSS figures are printed, not asserted.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
M=$TFS_MNT
MIB=${TFS_RSS_BIG_MIB:-1024}
HOT_MAX_MIB=32
LIMIT_KB=$(((HOT_MAX_MIB + 64) * 1024))

tfs_mount -o hot_max=${HOT_MAX_MIB}M
note "daemon VmRSS at start: $(tfs_rss_kb) KiB"
sum=$(head -c $((MIB << 20)) /dev/urandom | tee "$M/big" | sha256sum)
setfattr -n user.tierfs.tier -v warm "$M/big"
assert_eq warm "$(tier "$M/big")" "tier after setfattr warm"
note "daemon VmRSS after the write and the move: $(tfs_rss_kb) KiB"

# read.py PID FILE MODE: read FILE (seq: in order; scatter: 1 MiB pieces in
# a fixed shuffled order), sampling the daemon's VmRSS every 8 MiB; prints
# "PEAK_KB SHA256 PIECES" (SHA256 of the file, "-" when scattered; PIECES
# a hash over the pieces' hashes in file order).
cat >"$TFS_TMP/read.py" <<'EOF'
import hashlib, os, random, sys
pid, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def rss():
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
MB = 1 << 20
n = (os.path.getsize(path) + MB - 1) // MB
order = list(range(n))
if mode == "scatter":
    random.Random(7).shuffle(order)
peak = rss()
whole = hashlib.sha256()
pieces = {}
fd = os.open(path, os.O_RDONLY)
for i, k in enumerate(order):
    b = os.pread(fd, MB, k * MB)
    pieces[k] = hashlib.sha256(b).digest()
    if mode == "seq":
        whole.update(b)
    if i % 8 == 7:
        peak = max(peak, rss())
os.close(fd)
h = hashlib.sha256()
for k in range(n):
    h.update(pieces[k])
print(peak, whole.hexdigest() if mode == "seq" else "-", h.hexdigest())
EOF

seq_pieces=""
for mode in seq scatter; do
	drop_caches
	read -r peak whole pieces < <("$PY" "$TFS_TMP/read.py" "$TFS_PID" "$M/big" "$mode")
	note "$mode read of $MIB MiB warm: daemon VmRSS peak $peak KiB (limit $LIMIT_KB KiB)"
	if [ "$mode" = seq ]; then
		assert_eq "${sum%% *}" "$whole" "sha256 of the warm file read back"
		seq_pieces=$pieces
	else
		assert_eq "$seq_pieces" "$pieces" "scattered read of the warm file"
	fi
	if [ "$peak" -gt "$LIMIT_KB" ]; then
		if tfs_sanitized; then
			note "not asserted (sanitizer build)"
		else
			fail "daemon VmRSS reached $peak KiB reading a warm file with hot_max=${HOT_MAX_MIB}M"
		fi
	fi
done
assert_eq warm "$(tier "$M/big")" "tier after reading (too big to promote)"
tfs_umount
