#!/bin/bash
# kill -9 of the daemon loses no file that was closed: 1,000 files of 3 KiB
# (plus a few larger ones) written and closed, the daemon killed while
# another file is open and being written, the dead mount detached, the store
# remounted: every closed file is intact. Then a second round of changes
# (overwrite, unlink, rename, append, truncate, new files), kill -9 again,
# and the store must show exactly the state after those changes.
#
# TFS_CRASH_FILES (default 1000) sets the number of files.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
N=${TFS_CRASH_FILES:-1000}
M=$TFS_MNT
R=$TFS_REF
tfs_mount

note "writing $N files of 3 KiB"
"$PY" - "$R/files" "$N" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(os.urandom(3072))
for i, size in enumerate([65536, 65537, 1 << 20, 5 * (1 << 20) + 11]):
    with open(os.path.join(root, "big%d" % i), "wb") as f:
        f.write(os.urandom(size))
EOF
cp -r "$R/files" "$M/files"

# a file open and being written when the daemon dies
fifo=$TFS_TMP/writer.fifo
mkfifo "$fifo"
timeout 300 "$PY" - "$M/inflight" "$fifo" 2>/dev/null <<'EOF' &
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
buf = os.urandom(65536)
os.write(fd, buf * 16)
with open(sys.argv[2], "w") as f:
    f.write("writing\n")
while True:
    os.write(fd, buf)
EOF
writer=$!
TFS_EXTRA_PIDS=("$writer")
line=""
read -r -t 120 line <"$fifo" || true
assert_eq writing "$line" "in-flight writer started"

tfs_kill9
st=0
wait "$writer" || st=$?
TFS_EXTRA_PIDS=()
note "in-flight writer ended with status $st"

tfs_remount
note "checking $N files after kill -9"
diff -r "$R/files" "$M/files" || fail "closed files differ after kill -9 and remount"
# the in-flight file may hold anything, but it must be readable or absent
if [ -e "$M/inflight" ]; then
	note "in-flight file after recovery: $(stat -c %s "$M/inflight") bytes"
	cat "$M/inflight" >/dev/null
	rm "$M/inflight"
fi

note "second round: overwrite, unlink, rename, append, truncate, create"
"$PY" - "$R/files" "$M/files" "$N" <<'EOF'
import os, sys
roots, n = sys.argv[1:3], int(sys.argv[3])
def path(root, i):
    return os.path.join(root, "d%02d" % (i % 10), "f%05d" % i)
q = n // 10
for i in range(n):
    new = os.urandom(3072) if i < q else None
    tail = os.urandom(1000) if 3 * q <= i < 4 * q else None
    for root in roots:
        p = path(root, i)
        if i < q:                          # overwrite in place (O_TRUNC)
            with open(p, "wb") as f:
                f.write(new)
        elif i < 2 * q:                    # unlink
            os.unlink(p)
        elif i < 3 * q:                    # rename into another dir
            os.rename(p, os.path.join(root, "d%02d" % ((i + 1) % 10), "r%05d" % i))
        elif i < 4 * q:                    # append
            with open(p, "ab") as f:
                f.write(tail)
        elif i < 4 * q + 10:               # truncate
            os.truncate(p, 1000)
for i in range(100):                       # new files in a new dir
    data = os.urandom(3072 + i)
    for root in roots:
        os.makedirs(os.path.join(root, "new"), exist_ok=True)
        with open(os.path.join(root, "new", "n%03d" % i), "wb") as f:
            f.write(data)
EOF
diff -r "$R/files" "$M/files" || fail "files differ before the second kill"
tfs_kill9
tfs_remount
diff -r "$R/files" "$M/files" || fail "files differ after the second kill -9 and remount"

note "clean unmount and remount after recovery"
tfs_umount
tfs_remount
diff -r "$R/files" "$M/files" || fail "files differ after a clean remount"
tfs_umount
