#!/bin/bash
# Byte-exact data round trips: small random files, a 200 MiB file written in
# odd-sized pieces, dd into the middle, overwrites across 64 KiB chunk
# boundaries, mmap, a directory tree copied in and out; everything checked
# again after dropping the kernel caches and after a remount. Prints (never
# asserts) MB/s for the big file and files/s for creating 10,000 small files.
#
# TFS_BIG_MB (default 200) and TFS_SMALL_FILES (default 10000) size the run.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
BIG_MB=${TFS_BIG_MB:-200}
NSMALL=${TFS_SMALL_FILES:-10000}
tfs_mount
M=$TFS_MNT
R=$TFS_REF

# --- 100 random 3 KiB files -------------------------------------------------------
note "100 files of 3 KiB"
mkdir "$R/small"
"$PY" - "$R/small" <<'EOF'
import os, sys
for i in range(100):
    with open(os.path.join(sys.argv[1], "s%03d" % i), "wb") as f:
        f.write(os.urandom(3072))
EOF
cp -r "$R/small" "$M/small"
check_small()
{
	local f
	for f in "$R"/small/*; do
		check_same "$f" "$M/small/${f##*/}"
	done
	assert_eq 100 "$(ls "$M/small" | wc -l)" "files in small/"
}
check_small
drop_caches
check_small

# --- the big file, written in odd-sized pieces ------------------------------------
note "$BIG_MB MiB file in pieces of 1..300000 bytes"
head -c "${BIG_MB}M" /dev/urandom >"$R/big"
"$PY" - "$R/big" "$M/big" <<'EOF'
import os, random, sys, time
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
rng = random.Random(20240601)
t0 = time.monotonic()
fd = os.open(dst, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
off = 0
while off < len(data):
    n = rng.randint(1, 300000)
    piece = data[off:off + n]
    w = os.write(fd, piece)
    assert w == len(piece), (w, len(piece))
    off += w
os.close(fd)
dt = time.monotonic() - t0
print("# perf: write %d MiB in odd pieces (incl. close): %.1f MB/s (%.2f s)"
      % (len(data) >> 20, len(data) / dt / 1e6, dt))
EOF
# time_read FILE WHAT: read FILE once in 1 MiB pieces, print MB/s
time_read()
{
	drop_caches
	"$PY" - "$1" "$2" <<'EOF'
import os, sys, time
t0 = time.monotonic()
n = 0
with open(sys.argv[1], "rb", buffering=0) as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        n += len(b)
dt = time.monotonic() - t0
print("# perf: read %d MiB (%s, kernel cache dropped, 1 MiB reads): %.1f MB/s (%.2f s)"
      % (n >> 20, sys.argv[2], n / dt / 1e6, dt))
EOF
}
time_read "$M/big" "as written"
check_same "$R/big" "$M/big"
check_big_random_reads()
{
	"$PY" - "$R/big" "$M/big" <<'EOF'
import os, random, sys
ref = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_RDONLY)
rng = random.Random(7)
for i in range(400):
    if i % 4 == 0:   # straddle a chunk boundary
        off = rng.randrange(1, len(ref) >> 16) * 65536 - rng.randint(1, 5000)
    else:
        off = rng.randrange(0, len(ref))
    n = rng.randint(1, 200000)
    got = os.pread(fd, n, off)
    assert got == ref[off:off + n], ("pread", off, n, len(got))
assert os.pread(fd, 10, len(ref)) == b""
os.close(fd)
EOF
}
check_big_random_reads

# --- dd into the middle -------------------------------------------------------------
note "dd bs=4096 seek"
head -c 1048576 /dev/urandom >"$R/ddf"
head -c 12288 /dev/urandom >"$R/patch"
cp "$R/ddf" "$M/ddf"
for tgt in "$R/ddf" "$M/ddf"; do
	dd if="$R/patch" of="$tgt" bs=4096 seek=100 conv=notrunc status=none
done
check_same "$R/ddf" "$M/ddf"
# past the end: leaves a hole
for tgt in "$R/ddf" "$M/ddf"; do
	dd if="$R/patch" of="$tgt" bs=4096 seek=1000 conv=notrunc status=none
done
check_same "$R/ddf" "$M/ddf"
# without notrunc dd truncates after what it wrote
for tgt in "$R/ddf" "$M/ddf"; do
	dd if="$R/patch" of="$tgt" bs=4096 seek=50 status=none
done
assert_eq $((50 * 4096 + 12288)) "$(stat -c %s "$M/ddf")" "size after dd without notrunc"
check_same "$R/ddf" "$M/ddf"

# --- overwrites across 64 KiB chunk boundaries ----------------------------------------
note "overwrites across chunk boundaries"
head -c 307200 /dev/urandom >"$R/ow"
cp "$R/ow" "$M/ow"
"$PY" - "$R/ow" "$M/ow" <<'EOF'
import os, sys
K = 65536
ops = [(K - 1000, 3000), (2 * K - 1, 1), (2 * K, 1), (3 * K - 10, 2 * K + 20),
       (0, 1), (307200 - 5, 10), (K, K), (5 * K + 100, 50), (7 * K, 3)]
fds = [os.open(p, os.O_RDWR) for p in sys.argv[1:3]]
for i, (off, n) in enumerate(ops):
    buf = os.urandom(n)
    for fd in fds:
        assert os.pwrite(fd, buf, off) == n
    a, b = (os.pread(fd, 8 * K, 0) for fd in fds)
    assert a == b, ("content differs after op", i, off, n)
    # read exactly across each boundary touched
    for fd in fds[1:]:
        assert os.pread(fd, n + 2, max(0, off - 1)) == os.pread(fds[0], n + 2, max(0, off - 1))
sz = [os.fstat(fd).st_size for fd in fds]
assert sz[0] == sz[1], sz
for fd in fds:
    os.close(fd)
EOF
check_same "$R/ow" "$M/ow"

# --- mmap ---------------------------------------------------------------------------
note "mmap read/write"
head -c 204800 /dev/urandom >"$R/mm"
cp "$R/mm" "$M/mm"
"$PY" - "$R/mm" "$M/mm" <<'EOF'
import mmap, os, sys
for p in sys.argv[1:3]:
    with open(p, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)
        mm[65530:65542] = b"ABCDEFGHIJKL"     # across a chunk boundary
        mm[0:4] = b"head"
        mm[-4:] = b"tail"
        mm.flush()
        mm.close()
a = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "rb") as f:
    mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    assert mm[:] == a, "mmap read differs"
    mm.close()
EOF
check_same "$R/mm" "$M/mm"

# --- a tree copied in and out ----------------------------------------------------------
note "cp -a of a directory tree, in and out"
"$PY" - "$R/tree" <<'EOF'
import os, sys
root = sys.argv[1]
sizes = [0, 1, 100, 4095, 4096, 65535, 65536, 65537, 200000, 1048579]
for a in range(3):
    for b in range(3):
        d = os.path.join(root, "a%d" % a, "b%d" % b)
        os.makedirs(d)
        for i, s in enumerate(sizes):
            with open(os.path.join(d, "f%d" % i), "wb") as f:
                f.write(os.urandom(s))
        os.symlink("f1", os.path.join(d, "link"))
        os.chmod(os.path.join(d, "f2"), 0o600)
        os.chmod(os.path.join(d, "f3"), 0o755)
os.makedirs(os.path.join(root, "emptydir"))
with open(os.path.join(root, "text.txt"), "w") as f:
    f.write("hello tree\n" * 10000)
EOF
cp -a "$R/tree" "$M/tree"
diff -r --no-dereference "$R/tree" "$M/tree" || fail "tree differs after cp -a in"
cp -a "$M/tree" "$TFS_TMP/tree.out"
diff -r --no-dereference "$R/tree" "$TFS_TMP/tree.out" || fail "tree differs after cp -a out"
# type, mode, size (not of dirs: that is the file system's own) and mtime
listing()
{
	(cd "$1" && find . \( -type d -printf '%p d %m - %T@\n' \) -o \
		-printf '%p %y %m %s %T@\n' | sort)
}
listing "$R/tree" >"$TFS_TMP/l.ref"
listing "$M/tree" >"$TFS_TMP/l.mnt"
listing "$TFS_TMP/tree.out" >"$TFS_TMP/l.out"
diff "$TFS_TMP/l.ref" "$TFS_TMP/l.mnt" || fail "modes/sizes/mtimes differ in the mount after cp -a"
diff "$TFS_TMP/l.ref" "$TFS_TMP/l.out" || fail "modes/sizes/mtimes differ after the round trip"

# --- many small files ------------------------------------------------------------------
note "$NSMALL files of 3 KiB"
mkdir "$M/many"
"$PY" - "$M/many" "$NSMALL" "$R/many.base" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
base = bytearray(os.urandom(3072))
t0 = time.monotonic()
for i in range(n):
    base[0:8] = i.to_bytes(8, "little")
    fd = os.open(os.path.join(d, "v%06d" % i), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    os.write(fd, base)
    os.close(fd)
dt = time.monotonic() - t0
print("# perf: created %d files of 3 KiB: %.0f files/s (%.2f s)" % (n, n / dt, dt))
with open(sys.argv[3], "wb") as f:
    f.write(base)
EOF
check_many()
{
	"$PY" - "$M/many" "$NSMALL" "$R/many.base" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
base = bytearray(open(sys.argv[3], "rb").read())
names = os.listdir(d)
assert len(names) == n, len(names)
for i in range(n):
    base[0:8] = i.to_bytes(8, "little")
    with open(os.path.join(d, "v%06d" % i), "rb") as f:
        got = f.read()
    assert got == base, ("content of", i, len(got))
EOF
}
drop_caches
check_many

# --- everything again from the store ----------------------------------------------------
note "remount and check everything again"
tfs_umount
tfs_remount
check_small
time_read "$M/big" "after remount, tier $(getfattr --absolute-names -n user.tierfs.tier --only-values "$M/big")"
check_same "$R/big" "$M/big"
check_big_random_reads
check_same "$R/ddf" "$M/ddf"
check_same "$R/ow" "$M/ow"
check_same "$R/mm" "$M/mm"
diff -r --no-dereference "$R/tree" "$M/tree" || fail "tree differs after remount"
listing "$M/tree" >"$TFS_TMP/l.mnt2"
diff "$TFS_TMP/l.ref" "$TFS_TMP/l.mnt2" || fail "modes/sizes/mtimes differ after remount"
check_many
tfs_umount
