#!/bin/bash
# A move the user asks for while another process writes the file (issue 10
# item 8): `setfattr -n user.tierfs.tier` retries until the move is done
# (fs_xattr.c, user_move) instead of failing ("Operation not supported")
# or leaving a file behind when a write beats it. The kernel serializes a
# setxattr with write(2) on the same inode, so the race is a move of the
# directory while a file in it is written:
#  - a writer rewrites random ranges of a 6 MiB file d/f (1 byte to 300
#    KiB; bursts of 8 writes 5 ms apart, then 0.6 s of rest: a move can
#    win only by trying again) and keeps an image of what the file must
#    hold;
#  - meanwhile setfattr moves d warm, cold, hot, warm, cold, ...: every
#    setfattr exits 0 and every file in d, f included, is then in that tier;
#    then mv .tiers/warm/d .tiers/cold/d does the same through the views;
#  - when the writer stops, f equals its image, after one more move to cold
#    and again after a remount.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
tier() { getfattr --only-values -n user.tierfs.tier "$1"; }

tfs_mount -o interval=200ms
mkdir "$M/d"
"$PY" -c 'import os, sys; sys.stdout.buffer.write(os.urandom(6 << 20))' \
	>"$R/f"
cp "$R/f" "$M/d/f"
for i in 1 2 3; do
	head -c $((i * 100000)) "$R/f" >"$M/d/small$i"
done
check_same "$R/f" "$M/d/f"

# The writer: pwrite random ranges (1 byte .. 300 KiB, some crossing chunk
# boundaries), in bursts, until STOP exists, then save its image of the
# file as IMAGE.
fifo=$TFS_TMP/writer.fifo
mkfifo "$fifo"
"$PY" - "$M/d/f" "$R/f" "$TFS_TMP/stop" "$R/image" "$fifo" <<'EOF' &
import os, random, sys, time
path, ref, stop, image, fifo = sys.argv[1:6]
img = bytearray(open(ref, "rb").read())
rnd = random.Random(10)
fd = os.open(path, os.O_RDWR)
n = 0
with open(fifo, "w") as f:
    f.write("writing\n")
while not os.path.exists(stop):
    ln = rnd.choice([1, 4096, 65536, 65537, 300 * 1024])
    off = rnd.randrange(0, len(img) - ln)
    data = rnd.randbytes(ln)
    assert os.pwrite(fd, data, off) == ln
    img[off:off + ln] = data
    n += 1
    time.sleep(0.6 if n % 8 == 0 else 0.005)
os.close(fd)
open(image, "wb").write(img)
print("# writer: %d writes" % n)
EOF
writer=$!
TFS_EXTRA_PIDS=("$writer")
line=""
exec {rfd}<>"$fifo"     # read-write: the open never waits for the writer
read -r -t 120 -u "$rfd" line || true
exec {rfd}<&-
assert_eq writing "$line" "writer started"

moves=0
for t in warm cold hot warm cold hot cold warm; do
	out=$(setfattr -n user.tierfs.tier -v "$t" "$M/d" 2>&1) ||
		fail "setfattr tier=$t on d while d/f is written: $out"
	for f in f small1 small2 small3; do
		assert_eq "$t" "$(tier "$M/d/$f")" "tier of d/$f after setfattr $t on d"
	done
	moves=$((moves + 1))
done
note "$moves moves while the file was written"
# The same through the views (fs_view.c): mv .tiers/warm/d .tiers/cold/d.
assert_eq warm "$(tier "$M/d/f")" "tier of d/f after the last setfattr"
out=$(mv -T "$M/.tiers/warm/d" "$M/.tiers/cold/d" 2>&1) ||
	fail "mv of d from the warm view to the cold one while d/f is written: $out"
for f in f small1 small2 small3; do
	assert_eq cold "$(tier "$M/d/$f")" "tier of d/$f after mv to the cold view"
done
kill -0 "$writer" 2>/dev/null || fail "the writer stopped before the moves ended"
touch "$TFS_TMP/stop"
wait "$writer" || fail "the writer failed"
TFS_EXTRA_PIDS=()

check_same "$R/image" "$M/d/f"
setfattr -n user.tierfs.tier -v cold "$M/d"
assert_eq cold "$(tier "$M/d/f")" "tier after the last move"
check_same "$R/image" "$M/d/f"
tfs_umount
tfs_remount
check_same "$R/image" "$M/d/f"
assert_eq cold "$(tier "$M/d/f")" "tier after a remount"
for i in 1 2 3; do
	cmp -n $((i * 100000)) "$R/f" "$M/d/small$i" || fail "d/small$i changed"
done
tfs_umount
