#!/bin/bash
# Crash safety of demotions to the S3 cold tier (issue 12): the daemon is
# killed (SIGKILL, src/fault.h) at each step of a demotion (uploaded but not
# verified, verified but not committed, committed but the old copies not
# released) and remounted: every file reads back its bytes, the files are
# cold only when the commit happened, and the bucket holds exactly the
# archives the catalog names (the interrupted upload's object is deleted at
# mount). Objects under the prefix that no catalog row names are deleted;
# keys that are no archive names (PREFIX/meta/...) and other prefixes of the
# same bucket are left alone. Compaction rewrites a mostly dead remote
# archive into a new object and deletes the old one last.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_s3.sh"
tfs_require_root
tfs_init
s3_require
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE
tfs_corpora || fail "corpora not found ($VEC, $MOD)"

B=$(s3_bucket_name crash)
s3_mkbucket "$B"
OPTS_BASE="s3_endpoint=$S3_ENDPOINT,hot_age=1d,warm_age=1d,interval=1h"

# xz objects under PREFIX/, one name a line
objects() { s3_keys "$B" "$1/" | grep -E '^[^/]+/[0-9a-f]{8}\.xz$' | sort || true; }
# the cold/warm/hot counts of the files under DIR
tiers_of()
{
	local c=0 w=0 h=0 f t
	while IFS= read -r f; do
		t=$(tier "$f")
		case $t in cold) c=$((c + 1)) ;; warm) w=$((w + 1)) ;; *) h=$((h + 1)) ;; esac
	done < <(find "$M/$1" -type f)
	echo "$c cold, $w warm, $h hot"
}

await_fault()
{
	local i st=0
	for ((i = 0; i < 600; i++)); do
		tfs__alive "$TFS_PID" || break
		sleep 0.1
	done
	tfs__alive "$TFS_PID" && fail "the daemon still runs 60 s after fault point $1"
	wait "$TFS_PID" || st=$?
	TFS_PID=""
	assert_eq 137 "$st" "daemon exit status at fault point $1"
	grep -q "fault injection: killed at $1" "$TFS_LOG" ||
		fail "the daemon's log does not say it was killed at $1"
	fusermount3 -uz "$TFS_CUR_MNT" || fail "fusermount3 -uz failed"
	tfs__scan_log "$TFS_LOG" || fail "errors in the daemon log before fault $1"
}

n=0
for point in s3-after-upload cold-before-commit cold-after-commit; do
	n=$((n + 1))
	P=crash$n
	note "=== killed at $point"
	rm -rf "$S" "$R"
	mkdir -p "$S" "$R"
	OPTS="cold_store=s3://$B/$P,$OPTS_BASE"
	tfs_mount -o "$OPTS"
	mkdir -p "$R/old" "$R/d"
	find "$MOD" -maxdepth 1 -name '*.py' | sort | sed -n 1,20p | xargs cp -t "$R/old"
	find "$MOD" -maxdepth 1 -name '*.py' | sort | sed -n 21,60p | xargs cp -t "$R/d"
	cp -r "$R/old" "$R/d" "$M/"
	setfattr -n user.tierfs.tier -v cold "$M/old"
	tfs_umount
	a0=$(objects "$P")
	assert_eq 1 "$(echo "$a0" | grep -c .)" "archives before the crash"
	TIERFS_FAULT=$point tfs_mount -o "$OPTS"
	TFS_ARGS=("$M" "$S" "$M" -o "$OPTS")
	setfattr -n user.tierfs.tier -v cold "$M/d" 2>/dev/null || true
	await_fault "$point"
	tfs_remount
	drop_caches
	diff -r "$R/old" "$M/old" || fail "old/ differs after a crash at $point"
	diff -r "$R/d" "$M/d" || fail "d/ differs after a crash at $point"
	assert_eq "20 cold, 0 warm, 0 hot" "$(tiers_of old)" "old/ after $point"
	a1=$(objects "$P")
	case $point in
	cold-after-commit)
		assert_eq "40 cold, 0 warm, 0 hot" "$(tiers_of d)" "d/ after $point"
		assert_eq 2 "$(echo "$a1" | grep -c .)" "archives after $point"
		;;
	*)
		case $(tiers_of d) in
		"0 cold"*) ;;
		*) fail "d/ is cold after a crash before the commit: $(tiers_of d)" ;;
		esac
		assert_eq "$a0" "$a1" "archives after $point (the orphan is gone)"
		;;
	esac
	n_local=$(find "$S/cold" -type f | wc -l)
	assert_eq 0 "$n_local" "files in the local STORE/cold"
	tfs_umount
	note "after $point: old/ and d/ identical, bucket = catalog"
done

# --- the orphan sweep deletes only unnamed archives under its prefix ---------
note "orphan sweep: only unnamed archive objects under the store's prefix"
s3_curl PUT "/$B/$P/ffffff00.xz" --data-binary junk -o /dev/null
s3_curl PUT "/$B/$P/meta/keep" --data-binary keep -o /dev/null
s3_curl PUT "/$B/${P}x/ffffff00.xz" --data-binary other -o /dev/null
s3_curl PUT "/$B/crash1/ffffff00.xz" --data-binary other -o /dev/null
tfs_remount
keys=$(s3_keys "$B" "")
grep -qx "$P/ffffff00.xz" <<<"$keys" && fail "the orphan $P/ffffff00.xz was not deleted"
for k in "$P/meta/keep" "${P}x/ffffff00.xz" crash1/ffffff00.xz; do
	grep -qx "$k" <<<"$keys" || fail "$k was deleted by the sweep of $P"
done
diff -r "$R/d" "$M/d" || fail "d/ differs after the sweep"
tfs_umount

# --- compaction of a remote archive ------------------------------------------
note "compaction: old/ (one archive) loses 16 of its 20 files"
a0=$(objects "$P")
old_arc=$(echo "$a0" | head -1)
tfs_mount -o "$OPTS,interval=1s,compact_threshold=50"
mapfile -t victims < <(find "$M/old" -type f | sort | head -16)
for f in "${victims[@]}"; do
	rm "$f" "$R/old/${f##*/}"
done
end=$((SECONDS + 90))
while objects "$P" | grep -qx "$old_arc"; do
	[ "$SECONDS" -lt "$end" ] || fail "$old_arc still in the bucket 90 s after its files were deleted"
	sleep 1
done
a1=$(objects "$P")
note "archives: $(echo $a0) -> $(echo $a1)"
assert_eq 2 "$(echo "$a1" | grep -c .)" "archives after the compaction"
[ "$(tfs_stat_field compactions)" -gt 0 ] || fail "no compaction counted"
drop_caches
diff -r "$R/old" "$M/old" || fail "old/ differs after the compaction"
diff -r "$R/d" "$M/d" || fail "d/ differs after the compaction"
assert_eq "4 cold, 0 warm, 0 hot" "$(tiers_of old)" "old/ after the compaction"
tfs_umount
tfs_remount
diff -r "$R/old" "$M/old" || fail "old/ differs after the compaction and a remount"
tfs_umount
