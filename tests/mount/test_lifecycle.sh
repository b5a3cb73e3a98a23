#!/bin/bash
# Unmount and mount lifecycle:
#  - 20 times: write files (new, overwritten, appended, 65 unlinked while
#    open, one moved to warm by setfattr), `fusermount3 -u`, and mount the
#    same store again at once, without waiting for the old daemon to exit:
#    the new mount must succeed (it waits for the old daemon's lock), the
#    old daemon must exit 0, and the new mount's log must show no recovery
#    (no orphan segment or archive deleted, no unlinked inode, no
#    uncommitted tail) since every unmount was clean;
#  - every file reads back as written after each remount;
#  - a second mount while the first one stays mounted is still refused,
#    naming the holder's pid.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
ROUNDS=${TFS_LIFECYCLE_ROUNDS:-20}

# A log line that means a previous unmount left work for recovery.
RECOVERY='deleting orphan|deleted orphan|unlinked inode|uncommitted bytes'

tfs_mount -o ${TFS_LC_OPTS:-hot_max=64M}
for ((r = 1; r <= ROUNDS; r++)); do
	head -c $((3000 + r * 1000)) /dev/urandom >"$R/new$r"
	cp "$R/new$r" "$M/new$r"
	head -c $((70000 + r)) /dev/urandom >"$R/over"
	cp "$R/over" "$M/over"
	printf 'round %d\n' "$r" >>"$R/log"
	printf 'round %d\n' "$r" >>"$M/log"
	head -c 200000 /dev/urandom >"$R/moved"
	cp "$R/moved" "$M/moved"
	setfattr -n user.tierfs.tier -v warm "$M/moved"
	# unlinked while open: the inode must be gone after a clean unmount
	exec 5>"$M/open-unlinked"
	echo data >&5
	rm "$M/open-unlinked"
	exec 5>&-
	# and many at once, right before the unmount: their last FORGETs
	# race the unmount
	"$PY" - "$M" <<'EOF'
import os, sys
fds = []
for i in range(64):
    p = os.path.join(sys.argv[1], "ul%d" % i)
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"x" * 100)
    os.unlink(p)
    fds.append(fd)
for fd in fds:
    os.close(fd)
EOF

	sleep ${TFS_LC_SLEEP:-0}
	old_pid=$TFS_PID
	old_log=$TFS_LOG
	cd /
	fusermount3 -u "$M"
	TFS_PID=""
	tfs_remount
	st=0
	wait "$old_pid" || st=$?
	[ "$st" = 0 ] || { tfs__show_log "$old_log"; fail "round $r: old daemon exited $st"; }
	tfs__scan_log "$old_log" || fail "round $r: errors in the old daemon's log"
	if grep -E -- "$RECOVERY" "$TFS_LOG"; then
		fail "round $r: the mount after a clean unmount recovered something"
	fi
	for ((i = 1; i <= r; i++)); do
		check_same "$R/new$i" "$M/new$i"
	done
	check_same "$R/over" "$M/over"
	check_same "$R/log" "$M/log"
	check_same "$R/moved" "$M/moved"
	[ ! -e "$M/open-unlinked" ] || fail "round $r: unlinked file is back"
done
note "$ROUNDS unmount-then-mount rounds: no recovery needed"

# setfattr user.tierfs.tier on a file that a writer keeps changing: the
# move is retried until it is done (it used to fail).
head -c 3000000 /dev/urandom >"$M/busy"
"$PY" - "$M/busy" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
end = time.time() + 6
i = 0
while time.time() < end:
    os.pwrite(fd, os.urandom(4096), (i * 4096 * 7) % 3000000)
    os.fsync(fd)
    i += 1
os.close(fd)
EOF
writer=$!
TFS_EXTRA_PIDS+=("$writer")
for t in warm hot cold warm cold hot; do
	setfattr -n user.tierfs.tier -v "$t" "$M/busy" ||
		fail "setfattr tier=$t on a file being written failed"
done
wait "$writer"
setfattr -n user.tierfs.tier -v cold "$M/busy"
assert_eq cold "$(tier "$M/busy")" "tier after the writer stopped"

# A real second mount is refused (after the wait), naming the pid.
mkdir "$TFS_TMP/mnt2"
tfs_expect_refused 1 "already mounted by another tierfs \(pid $TFS_PID" \
	"$TFS_TMP/mnt2" "$TFS_STORE" "$TFS_TMP/mnt2"
tfs_umount
