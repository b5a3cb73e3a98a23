#!/bin/bash
# Sparse files and fallocate(2):
#  - a 100 MiB hole (truncate) has st_blocks ~0, du ~0, SEEK_DATA -> ENXIO;
#    one write in its middle is the only data SEEK_DATA/SEEK_HOLE report,
#    and st_blocks counts its bytes; the same after a remount and on warm.
#  - fallocate mode 0 grows the size (new bytes read as zeros),
#    KEEP_SIZE keeps it; a range the store's disk cannot hold is ENOSPC;
#    COLLAPSE_RANGE is EOPNOTSUPP.
#  - PUNCH_HOLE (aligned and unaligned edges) and ZERO_RANGE on hot, warm
#    and cold files: the range reads as zeros and everything else is
#    intact, also after a remount; whole chunks become real holes
#    (SEEK_HOLE finds them, st_blocks drops).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
command -v fallocate >/dev/null || { echo "SKIP: fallocate(1) not found"; exit 77; }

tfs_mount -o hot_max=256M,promote_after=1000

# seeks FILE: "size blocks_bytes [data,hole) [data,hole) ..." from
# SEEK_DATA/SEEK_HOLE
cat >"$TFS_TMP/seeks.py" <<'EOF'
import errno, os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDONLY)
st = os.fstat(fd)
out, off = [], 0
while off < st.st_size:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError as e:
        assert e.errno == errno.ENXIO, e
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    assert h > d, (d, h)
    out.append("%d-%d" % (d, h))
    off = h
# at or past the end: ENXIO for both
for w in (os.SEEK_DATA, os.SEEK_HOLE):
    try:
        os.lseek(fd, st.st_size, w)
        sys.exit("lseek at the end did not fail with ENXIO")
    except OSError as e:
        assert e.errno == errno.ENXIO, e
print(st.st_size, st.st_blocks * 512, " ".join(out) or "none")
EOF
seeks() { "$PY" "$TFS_TMP/seeks.py" "$1"; }
blocks() { echo $(($(stat -c %b "$1") * 512)); }

# --- a 100 MiB hole --------------------------------------------------------------------------
note "sparse 100 MiB"
truncate -s 100M "$M/sp"
assert_eq "104857600 0 none" "$(seeks "$M/sp")" "size, blocks, data of a 100 MiB hole"
[ "$(du -k "$M/sp" | cut -f1)" -le 4 ] || fail "du of a 100 MiB hole: $(du -k "$M/sp")"
head -c 100000 /dev/urandom >"$R/mid"
dd if="$R/mid" of="$M/sp" bs=100000 seek=524 conv=notrunc status=none   # at 52,400,000
check_sparse()
{
	local s
	s=$(seeks "$M/sp")
	read -r size used data <<<"$s"
	assert_eq 104857600 "$size" "size of sp ($1)"
	# data from the start of the 64 KiB chunk the write began in (the
	# zeros before it in that chunk count as data) to the write's end, or
	# to the end of its chunk (a chunk read back into RAM is whole)
	case $data in
	"$((52400000 / 65536 * 65536))-52500000" | \
	"$((52400000 / 65536 * 65536))-$((52500000 / 65536 * 65536 + 65536))") ;;
	*) fail "data of sp ($1): $data" ;;
	esac
	[ "$used" -ge 100000 ] && [ "$used" -le 200000 ] ||
		fail "st_blocks of sp ($1): $used bytes for 100000 written"
	cmp -s -i 52400000:0 -n 100000 "$M/sp" "$R/mid" || fail "data of sp ($1)"
	cmp -s -n 52400000 "$M/sp" /dev/zero || fail "hole before the data of sp ($1)"
}
check_sparse hot
tfs_umount
tfs_remount
check_sparse "after a remount"
setfattr -n user.tierfs.tier -v warm "$M/sp"
drop_caches
check_sparse warm

# --- allocation ----------------------------------------------------------------------------
note "fallocate mode 0 and KEEP_SIZE"
head -c 1048576 /dev/urandom >"$R/a"
cp "$R/a" "$M/a"
fallocate -l 2M "$M/a"
assert_eq 2097152 "$(stat -c %s "$M/a")" "size after fallocate -l 2M"
cmp -s -n 1048576 "$M/a" "$R/a" || fail "fallocate changed the data"
cmp -s -i 1048576:0 -n 1048576 "$M/a" /dev/zero || fail "the allocated range is not zeros"
fallocate -n -o 2M -l 1M "$M/a"
assert_eq 2097152 "$(stat -c %s "$M/a")" "size after fallocate --keep-size"
fallocate -l 1M "$M/a"
assert_eq 2097152 "$(stat -c %s "$M/a")" "size after fallocate of a smaller length"
"$PY" -c "import os; fd = os.open('$M/a', os.O_RDWR); os.posix_fallocate(fd, 0, 3 << 20)"
assert_eq 3145728 "$(stat -c %s "$M/a")" "size after posix_fallocate"
expect_errno "No space left on device" fallocate -l 40T "$M/a"
assert_eq 3145728 "$(stat -c %s "$M/a")" "size after a refused fallocate"
expect_errno "not supported" fallocate -c -o 0 -l 64K "$M/a"
mkdir "$M/dir"
expect_errno "" fallocate -l 1M "$M/dir"

# --- punching ------------------------------------------------------------------------------
# punch_check NAME TIER: a 1 MiB random file on TIER, punched at an aligned
# range [128K, 384K), an unaligned one [500000, 700000) and zeroed at
# [900000, 950000); compared with a reference punched the same way
punch_check()
{
	local name=$1 t=$2 before after
	head -c 1048576 /dev/urandom >"$R/$name"
	cp "$R/$name" "$M/$name"
	[ "$t" = hot ] || setfattr -n user.tierfs.tier -v "$t" "$M/$name"
	assert_eq "$t" "$(tier "$M/$name")" "tier of $name before punching"
	before=$(blocks "$M/$name")
	fallocate -p -o 131072 -l 262144 "$M/$name"
	fallocate -p -o 500000 -l 200000 "$M/$name"
	fallocate -z -n -o 900000 -l 50000 "$M/$name"
	"$PY" - "$R/$name" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
for off, n in ((131072, 262144), (500000, 200000), (900000, 50000)):
    b[off:off + n] = bytes(n)
open(p, "wb").write(b)
EOF
	check_same "$R/$name" "$M/$name"
	assert_eq 1048576 "$(stat -c %s "$M/$name")" "size of $name after punching"
	after=$(blocks "$M/$name")
	[ "$after" -le $((before - 262144 - 131072)) ] ||
		fail "$name ($t): st_blocks $before -> $after bytes after punching 6 whole chunks"
	"$PY" - "$M/$name" <<'EOF' || fail "$name ($t): the punched chunks are not holes"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
assert os.lseek(fd, 0, os.SEEK_HOLE) == 131072, os.lseek(fd, 0, os.SEEK_HOLE)
assert os.lseek(fd, 131072, os.SEEK_DATA) == 393216, os.lseek(fd, 131072, os.SEEK_DATA)
# [524288, 655360) lies wholly inside [500000, 700000)
assert os.lseek(fd, 400000, os.SEEK_HOLE) == 524288, os.lseek(fd, 400000, os.SEEK_HOLE)
assert os.lseek(fd, 524288, os.SEEK_DATA) == 655360
EOF
	drop_caches
	check_same "$R/$name" "$M/$name"
}
note "punch and zero on a hot file"
punch_check ph hot
note "punch and zero on a warm file"
punch_check pw warm
note "punch and zero on a cold file"
punch_check pc cold
note "punch at the end of a cold file"
head -c 1048576 /dev/urandom >"$R/pt"
cp "$R/pt" "$M/pt"
setfattr -n user.tierfs.tier -v cold "$M/pt"
fallocate -p -o 655360 -l 393216 "$M/pt"
"$PY" -c "
b = bytearray(open('$R/pt', 'rb').read()); b[655360:] = bytes(393216)
open('$R/pt', 'wb').write(b)"
check_same "$R/pt" "$M/pt"
assert_eq cold "$(tier "$M/pt")" "a punch at the end keeps a cold file cold"
assert_eq "1048576 655360 0-655360" "$(seeks "$M/pt")" "seeks of pt"
note "zero range growing the file"
printf 'abc' >"$M/z"
fallocate -z -o 10 -l 100000 "$M/z"
assert_eq 100010 "$(stat -c %s "$M/z")" "size after fallocate -z past the end"
"$PY" -c "
d = open('$M/z', 'rb').read(); assert d == b'abc' + bytes(100007), len(d)"

tfs_umount
tfs_remount
note "after a remount"
for n in ph pw pc pt; do
	check_same "$R/$n" "$M/$n"
done
"$PY" - "$M/ph" "$M/pw" "$M/pc" <<'EOF' || fail "holes after a remount"
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    assert os.lseek(fd, 0, os.SEEK_HOLE) == 131072, (p, os.lseek(fd, 0, os.SEEK_HOLE))
    assert os.lseek(fd, 131072, os.SEEK_DATA) == 393216, p
EOF
check_sparse "second remount"
tfs_umount
