#!/bin/bash
# The request loop (src/reqloop.c): one thread reads /dev/fuse at a time and
# answers quick requests itself; a request that may take long first calls
# another reader, and a watchdog calls one when a request runs a whole tick
# with nobody reading. What a user would notice if that broke:
#  - while setfattr moves a 24 MiB compressible file to cold (one SETXATTR
#    that runs for seconds), another program creates, writes, stats, reads
#    back and deletes 60 small files, all before the move returns;
#  - 6 programs create and write 3 KiB..300 KiB files at once while 2 read
#    the big file; every file reads back exactly, and again after a
#    remount;
#  - SIGTERM unmounts and the daemon exits 0 with a clean log.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF

tfs_mount
mkdir "$M/big" "$M/small"
# Text-like bytes (base64 of random): xz shrinks them a little, slowly.
"$PY" -c 'import base64, os, sys
sys.stdout.buffer.write(base64.encodebytes(os.urandom(18 << 20)))' \
	>"$R/bigf"
cp "$R/bigf" "$M/big/f"

# The move, in the background; what the other program does meanwhile.
setfattr -n user.tierfs.tier -v cold "$M/big" &
mover=$!
TFS_EXTRA_PIDS+=("$mover")
sleep 0.3
kill -0 "$mover" 2>/dev/null ||
	fail "the move to cold ended within 0.3 s: nothing to test against"
"$PY" - "$M/small" <<'EOF'
import os, sys
d = sys.argv[1]
for i in range(60):
    p = os.path.join(d, "s%02d" % i)
    data = os.urandom(3072 + i)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.close(fd)
    assert os.stat(p).st_size == len(data), p
    with open(p, "rb") as f:
        assert f.read() == data, p
    if i % 2:
        os.unlink(p)
EOF
kill -0 "$mover" 2>/dev/null ||
	fail "60 small creates waited for the move to cold to finish"
wait "$mover" || fail "setfattr user.tierfs.tier=cold failed"
assert_eq cold "$(getfattr --only-values -n user.tierfs.tier "$M/big/f")" \
	"tier of big/f after the move"
assert_eq 30 "$(find "$M/small" -type f | wc -l)" "small files left"
check_same "$R/bigf" "$M/big/f"

# Many at once: 6 writers, 2 readers of the (cold) big file.
mkdir "$R/par"
pids=()
for w in 1 2 3 4 5 6; do
	"$PY" - "$M/small" "$R/par" "$w" <<'EOF' &
import os, random, sys
d, ref, w = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(w)
for i in range(40):
    name = "w%d_%02d" % (w, i)
    data = os.urandom(rnd.choice((3072, 65536, 65537, 300000)))
    with open(os.path.join(ref, name), "wb") as f:
        f.write(data)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
EOF
	pids+=($!)
done
for r in 1 2; do
	cmp "$R/bigf" "$M/big/f" &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a parallel writer or reader failed"
done
for f in "$R"/par/*; do
	check_same "$f" "$M/small/${f##*/}"
done
tfs_umount
tfs_remount
for f in "$R"/par/*; do
	check_same "$f" "$M/small/${f##*/}"
done
check_same "$R/bigf" "$M/big/f"

# SIGTERM: an orderly unmount, exit 0.
pid=$TFS_PID
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
TFS_PID=""
assert_eq 0 "$st" "daemon exit status after SIGTERM"
tfs__mounted "$TFS_CUR_MNT" && fail "still mounted after SIGTERM"
tfs__scan_log "$TFS_LOG" || fail "errors in the daemon log after SIGTERM"
note "ok"
