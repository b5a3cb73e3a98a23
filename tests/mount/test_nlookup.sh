#!/bin/bash
# nlookup/forget accounting: after `find` over many files the daemon holds
# them (the kernel has looked them all up); once the kernel drops its
# dentries and inodes (drop_caches 2) and sends FORGET, the daemon's loaded
# inode count (.tiers/stats "inodes_loaded") falls back to a handful. A
# second `find` sees the same tree, and a clean unmount follows.
#
# TFS_NLOOKUP_FILES (default 20000; the issue's figure is 100000).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
N=${TFS_NLOOKUP_FILES:-20000}
M=$TFS_MNT
tfs_mount

note "creating $N files"
"$PY" - "$M/tree" "$N" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 200
for i in range(n):
    d = os.path.join(root, "g%03d" % (i // (per * 10)), "d%04d" % (i // per))
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    fd = os.open(os.path.join(d, "f%06d" % i), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"%d\n" % i)
    os.close(fd)
EOF
ndirs=$(find "$M/tree" -type d | wc -l)
total=$((N + ndirs + 1))   # the mount root, tree/ and the dirs under it, the files

# find, then make the kernel forget; FORGETs reach the daemon asynchronously.
# inodes_referenced (inodes with nlookup > 0) must fall to a handful. Files
# with data in RAM stay loaded by design (a hot file stays hot when the
# kernel forgets it), so inodes_loaded minus hot_resident_files must fall
# too; loaded inodes that hold no RAM must fall as well.
find_and_forget()
{
	local what=$1 i loaded hot ref left=""
	# A drop_caches from anything else on the machine between find and
	# the stats read makes the kernel forget them all: look again (at
	# most three times) before calling it a failure.
	for i in 1 2 3; do
		assert_eq "$total" "$(find "$M" | wc -l)" "entries seen by find ($what)"
		loaded=$(tfs_stat_field inodes_loaded)
		ref=$(tfs_stat_field inodes_referenced)
		[ "$ref" -lt $((N / 10)) ] || break
		note "$what: only $ref referenced right after find (caches dropped by someone else?), again"
	done
	note "$what: after find: inodes_loaded=$loaded inodes_referenced=$ref hot_resident_files=$(tfs_stat_field hot_resident_files)"
	# The kernel may already have evicted (and forgotten) some of them
	# under memory pressure; it must at least have looked most up.
	[ "$ref" -ge $((N / 10)) ] || fail "inodes_referenced is $ref after find over $N files (expected the kernel to hold many)"
	for i in $(seq 1 60); do
		drop_caches 2
		loaded=$(tfs_stat_field inodes_loaded)
		ref=$(tfs_stat_field inodes_referenced)
		hot=$(tfs_stat_field hot_resident_files)
		left=$((loaded - hot))
		if [ "$left" -lt 200 ] && [ "$ref" -lt 200 ]; then
			break
		fi
		sleep 1
	done
	note "$what: after drop_caches: inodes_loaded=$loaded inodes_referenced=$ref hot_resident_files=$hot"
	[ "$ref" -lt 200 ] ||
		fail "$what: $ref inodes still referenced after the kernel dropped its inodes (expected < 200)"
	[ "$left" -lt 200 ] ||
		fail "$what: $left inodes not hot still loaded after the kernel dropped its inodes (expected < 200)"
}
find_and_forget "same mount"
tfs_umount
tfs_remount
# The policy loads the hot set back in the background after a remount;
# those inodes stay loaded for their RAM, not for kernel references.
find_and_forget "after remount"

# lookups after forget work and see the same tree
assert_eq "$total" "$(find "$M" | wc -l)" "entries seen by a third find"
i=$((N / 2))
f=$(printf '%s/tree/g%03d/d%04d/f%06d' "$M" $((i / 2000)) $((i / 200)) "$i")
assert_eq "$i" "$(cat "$f")" "content of $f after forget"
# stat everything (lookup + getattr), then forget again
find "$M/tree" -type f -exec stat -c %s {} + >/dev/null
drop_caches 2
tfs_umount
