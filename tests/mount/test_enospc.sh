#!/bin/bash
# A full store disk (the store on a 64 MiB tmpfs, default options but a 1 s
# policy tick):
#  - files of 1 MiB are written until close() (or write()) fails with
#    ENOSPC; earlier files are not damaged; an in-place overwrite fails
#    with ENOSPC too and the file is later its old or its new content,
#    never a mix;
#  - on the full store, a move to cold fails with ENOSPC and changes
#    nothing; truncate and rm succeed;
#  - the space of deleted data comes back (no remount) and new files can be
#    written again;
#  - compaction does not log an error every tick while the disk is full;
#  - after a remount, every file whose close() succeeded (and that was not
#    deleted) reads back exactly, and the files whose close() failed read
#    without error.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
M=$TFS_MNT
R=$TFS_REF
mount -t tmpfs -o size=64m tfs-enospc "$TFS_STORE" ||
	{ echo "SKIP: cannot mount a tmpfs"; exit 77; }
# What a full disk makes the daemon say.
tfs_expect_log_error 'No space left on device'

# avail_kb: free KiB on the store disk
avail_kb() { df -k --output=avail "$TFS_STORE" | tail -n 1 | tr -d ' '; }

# fill PREFIX COUNT: write PREFIX1..PREFIXCOUNT (1 MiB of random bytes
# each, a copy in $R) until one fails; prints "ok NAME" or "fail NAME ERR".
fill()
{
	"$PY" - "$M" "$R" "$1" "$2" <<'EOF'
import errno, mmap, os, sys
m, r, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# From a page-aligned buffer: a new file's write-only descriptor does
# direct I/O, where an unaligned 1 MiB write(2) is two WRITEs whose shared
# chunk is stored twice, and compaction soon gives the first copy's space
# back: the store would not stay full.
buf = mmap.mmap(-1, 1 << 20)
for i in range(1, count + 1):
    name = "%s%d" % (prefix, i)
    buf[:] = os.urandom(1 << 20)
    data = buf
    with open(os.path.join(r, name), "wb") as f:
        f.write(data)
    try:
        fd = os.open(os.path.join(m, name), os.O_WRONLY | os.O_CREAT, 0o644)
    except OSError as e:
        print("fail %s %s" % (name, errno.errorcode[e.errno]))
        break
    err = None
    try:
        os.write(fd, data)
    except OSError as e:
        err = e
    try:
        os.close(fd)
    except OSError as e:
        err = err or e
    if err:
        print("fail %s %s" % (name, errno.errorcode[err.errno]))
        break
    print("ok %s" % name)
EOF
}

tfs_mount -o interval=1s
note "store disk: $(avail_kb) KiB free"
out=$(fill f 100)
ok=$(grep -c '^ok ' <<<"$out" || true)
failed=$(grep '^fail ' <<<"$out" || true)
note "$ok files written, then: ${failed:-nothing failed}"
[ -n "$failed" ] || fail "100 MiB fitted on a 64 MiB store"
case $failed in
*ENOSPC) ;;
*) fail "the write that did not fit failed with something else: $failed" ;;
esac
[ "$ok" -ge 40 ] || fail "only $ok MiB fitted on a 64 MiB store"
bad=${failed#fail }
bad=${bad% *}
note "store disk full: $(avail_kb) KiB free"

# A move that needs space fails cleanly and changes nothing.
expect_errno "No space left on device" setfattr -n user.tierfs.tier -v cold "$M/f2"
[ "$(tier "$M/f2")" != cold ] || fail "f2 went cold on a full store"
check_same "$R/f2" "$M/f2"

# Every file written before reads back (from RAM or disk).
for n in $(sed -n 's/^ok //p' <<<"$out"); do
	check_same "$R/$n" "$M/$n"
done

# Overwriting a file in place on the full store: close() reports ENOSPC;
# the file is never a mix (checked after the remount: old or new bytes).
"$PY" - "$M/f4" "$R/f4.new" <<'EOF'
import errno, os, sys
data = os.urandom(1 << 20)
open(sys.argv[2], "wb").write(data)
fd = os.open(sys.argv[1], os.O_WRONLY)
err = None
try:
    os.write(fd, data)
except OSError as e:
    err = e
try:
    os.close(fd)
except OSError as e:
    err = err or e
if not err or err.errno != errno.ENOSPC:
    sys.exit("overwrite on a full store: %r" % (err,))
EOF

# Full: a truncate and deletes work.
truncate -s 100000 "$M/f1" || fail "truncate on a full store"
head -c 100000 "$R/f1" >"$R/f1.t" && mv "$R/f1.t" "$R/f1"
check_same "$R/f1" "$M/f1"
deleted=()
for ((i = 2; i <= ok; i++)); do
	if ((i % 4 != 0)); then
		rm "$M/f$i" || fail "rm f$i on a full store"
		rm "$R/f$i"
		deleted+=("f$i")
	fi
done
note "deleted ${#deleted[@]} files on the full store"

# The space comes back without a remount.
want=$((16 * 1024))
end=$((SECONDS + 60))
while [ "$(avail_kb)" -lt "$want" ]; do
	[ "$SECONDS" -lt "$end" ] ||
		fail "store disk still has only $(avail_kb) KiB free 60 s after deleting"
	sleep 0.5
done
note "space is back: $(avail_kb) KiB free"

# And new files can be written again.
out2=$(fill g 8)
grep -q '^fail' <<<"$out2" && fail "writing after space came back: $out2"
note "8 new files written after the space came back"
sleep 3         # a few policy ticks while the disk is not full

# Compaction must not complain every tick.
n=$(grep -c 'compaction' "$TFS_LOG" || true)
[ "$n" -le 12 ] || { grep compaction "$TFS_LOG" | tail; fail "compaction logged $n lines"; }

tfs_umount
tfs_remount
note "after the remount"
for n in $(sed -n 's/^ok //p' <<<"$out"); do
	[ -e "$R/$n" ] && [ "$n" != f4 ] || continue
	check_same "$R/$n" "$M/$n"
done
if ! cmp -s "$R/f4" "$M/f4" && ! cmp -s "$R/f4.new" "$M/f4"; then
	fail "f4 (overwritten, close failed) is neither its old nor its new content"
fi
for n in $(sed -n 's/^ok //p' <<<"$out2"); do
	check_same "$R/$n" "$M/$n"
done
check_same "$R/f1" "$M/f1"
for n in "${deleted[@]}"; do
	[ ! -e "$M/$n" ] || fail "$n is back after the remount"
done
# The file whose close() failed: readable, no EIO (old or new content).
cat "$M/$bad" >/dev/null || fail "$bad (close failed) is unreadable"
tfs_umount
