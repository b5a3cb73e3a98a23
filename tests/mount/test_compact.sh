#!/bin/bash
# Compaction of cold archives and warm segments (issue 3 item 5):
#  - cold: 100 random files of 1 MiB demoted with one directory setfattr
#    (archive_max=32M: 4 archives), 75% of them deleted (3 of every 4, so
#    each archive keeps 25% live), remounted with compact_threshold=50 and
#    interval=1s: within 60 s `du -sb STORE/cold` falls to <= 35% of what it
#    was, .tiers/stats counts compactions, the 25 remaining files are still
#    cold and read back identical (also after a remount), archives pass
#    xz -t and the store holds no orphan;
#  - warm: the same with 100 files in warm segments (seg_max=8M);
#  - setfattr warm on a directory of 96 cold files while their archive is
#    being compacted (interval=1s): every file is warm afterwards and stays
#    warm, content identical;
#  - crashes during compaction: TIERFS_FAULT=compact-before-commit and
#    compact-before-delete (warm segment rewrite) and cold-before-commit /
#    cold-after-commit (the re-archiving step of a cold compaction): the
#    daemon dies at the first tick; after a remount every remaining file is
#    identical and the store consistent; a later compaction completes.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE
OPTS=hot_age=1d,warm_age=1d,interval=1h
COMPACT=hot_age=1d,warm_age=1d,interval=1s,compact_threshold=50
FSCK=${TIERFS_FSCK:-$(cd "$(dirname "$TIERFS_BIN")/.." && pwd)/tools/tierfs-fsck}
command -v xz >/dev/null || fail "xz not found (install xz-utils)"

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }
dusize() { du -sb "$1" | cut -f1; }

new_store()
{
	rm -rf "${S:?}" "${R:?}"
	mkdir "$S" "$R"
}

# gen DIR N SIZE: N seeded random files of SIZE bytes in $R/DIR and $M/DIR
gen()
{
	"$PY" - "$R/$1" "$2" "$3" <<'EOF'
import os, random, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d)
for i in range(n):
    with open(os.path.join(d, "f%03d" % i), "wb") as f:
        f.write(random.Random(i * 7919 + size).randbytes(size))
EOF
	cp -r "$R/$1" "$M/$1"
}

# delete75 DIR: remove 3 of every 4 files (all but f000, f004, ...)
delete75()
{
	local f i
	for f in "$R/$1"/f*; do
		i=${f##*/f}
		if [ $((10#$i % 4)) != 0 ]; then
			rm "$f" "$M/$1/${f##*/}"
		fi
	done
}

# all_tier DIR TIER: every file below MNT/DIR is on TIER
all_tier()
{
	local f
	while IFS= read -r f; do
		assert_eq "$2" "$(tier "$f")" "tier of ${f#"$M"/}"
	done < <(find "$M/$1" -type f)
}

# stat_num KEY: a number from .tiers/stats
stat_num() { tfs_stat_field "$1"; }

# wait_shrink DIR LIMIT: poll (up to 60 s) until du -sb DIR <= LIMIT
wait_shrink()
{
	local i sz
	for ((i = 0; i < 120; i++)); do
		sz=$(dusize "$1")
		[ "$sz" -gt "$2" ] || return 0
		sleep 0.5
	done
	return 1
}

# Daemon armed with a fault point: wait until it dies at it, detach.
await_fault()
{
	local i st=0
	for ((i = 0; i < 600; i++)); do
		tfs__alive "$TFS_PID" || break
		sleep 0.1
	done
	if tfs__alive "$TFS_PID"; then
		fail "the daemon did not reach fault point $1 within 60 s"
	fi
	wait "$TFS_PID" 2>/dev/null || st=$?
	TFS_PID=""
	assert_eq 137 "$st" "daemon exit status at fault point $1"
	grep -q "fault injection: killed at $1" "$TFS_LOG" ||
		fail "the daemon's log does not say it was killed at $1"
	fusermount3 -uz "$TFS_CUR_MNT" || fail "fusermount3 -uz $TFS_CUR_MNT failed"
	tfs__scan_log "$TFS_LOG" || fail "errors in the daemon log before fault $1"
	note "daemon killed itself at $1; mount detached"
}

# store_check [strict]: unmounted store vs meta.db: no orphan archive or
# segment, nothing used is missing; strict: every archive is used. Then
# xz -t of every archive and tierfs-fsck (when built).
store_check()
{
	local a
	"$PY" - "$S" "${1:-}" <<'EOF' || fail "store check failed"
import os, sqlite3, sys
s, strict = sys.argv[1], sys.argv[2] == "strict"
db = sqlite3.connect("file:%s/meta.db?mode=ro" % s, uri=True)
q = lambda sql: {r[0] for r in db.execute(sql)}
known, used = q("SELECT id FROM archive"), q("SELECT DISTINCT archive FROM cold")
segs, seg_used = q("SELECT id FROM segment"), q("SELECT DISTINCT seg FROM extent")
files = {int(n[:-3], 16) for n in os.listdir(s + "/cold") if n.endswith(".xz")}
sfiles = {int(n[:-4], 16) for n in os.listdir(s + "/warm") if n.endswith(".seg")}
hx = lambda ids: sorted("%08x" % i for i in ids)
err = []
if files - known: err.append("orphan archives: %s" % hx(files - known))
if used - files: err.append("archives used but missing: %s" % hx(used - files))
if strict and files - used: err.append("archives no file uses: %s" % hx(files - used))
if sfiles - segs: err.append("orphan segments: %s" % hx(sfiles - segs))
if seg_used - sfiles: err.append("segments used but missing: %s" % hx(seg_used - sfiles))
if err:
    sys.exit("\n".join(err))
print("# store consistent: %d archive(s) (%d used), %d segment(s) (%d used)"
      % (len(files), len(used), len(sfiles), len(seg_used)))
EOF
	for a in "$S"/cold/*.xz; do
		[ -e "$a" ] || continue
		xz -t "$a" || fail "xz -t rejects archive ${a##*/}"
	done
	if [ -x "$FSCK" ]; then
		"$FSCK" "$S" >"$TFS_TMP/fsck.out" 2>&1 ||
			fail "tierfs-fsck finds problems (exit $?): $(head -n 20 "$TFS_TMP/fsck.out")"
	fi
}

# --- cold: 100 MiB, 75% deleted ------------------------------------------------------------
note "=== cold compaction"
new_store
tfs_mount -o "$OPTS,archive_max=32M"
gen c 100 $((1 << 20))
set_tier "$M/c" cold
all_tier c cold
narc=$(find "$S/cold" -name '*.xz' | wc -l)
before=$(dusize "$S/cold")
note "100 MiB in $narc archive(s): STORE/cold $before bytes, STORE $(dusize "$S") bytes"
delete75 c
tfs_umount
tfs_mount -o "$COMPACT"
limit=$((before * 35 / 100))
if ! wait_shrink "$S/cold" "$limit"; then
	fail "STORE/cold is $(dusize "$S/cold") bytes 60 s after deleting 75% (was $before; want <= $limit); compactions $(stat_num compactions)"
fi
after=$(dusize "$S/cold")
comp=$(stat_num compactions)
note "STORE/cold: $before -> $after bytes ($((after * 100 / before))%), STORE $(dusize "$S") bytes; compactions $comp, compacted_bytes $(stat_num compacted_bytes)"
[ "$comp" -gt 0 ] || fail "STORE/cold shrank but .tiers/stats counts no compaction"
all_tier c cold
drop_caches
diff -r "$R/c" "$M/c" || fail "remaining cold files differ after compaction"
tfs_umount
store_check
tfs_mount -o "$OPTS"
drop_caches
diff -r "$R/c" "$M/c" || fail "remaining cold files differ after compaction and a remount"
tfs_umount

# --- warm: 100 MiB, 75% deleted ------------------------------------------------------------
note "=== warm compaction"
new_store
tfs_mount -o "$OPTS,seg_max=8M"
gen w 100 $((1 << 20))
set_tier "$M/w" warm
all_tier w warm
before=$(dusize "$S/warm")
note "100 MiB warm: STORE/warm $before bytes in $(find "$S/warm" -name '*.seg' | wc -l) segment(s)"
delete75 w
tfs_umount
tfs_mount -o "$COMPACT,seg_max=8M"
limit=$((before * 35 / 100))
if ! wait_shrink "$S/warm" "$limit"; then
	fail "STORE/warm is $(dusize "$S/warm") bytes 60 s after deleting 75% (was $before; want <= $limit); compactions $(stat_num compactions)"
fi
after=$(dusize "$S/warm")
comp=$(stat_num compactions)
note "STORE/warm: $before -> $after bytes ($((after * 100 / before))%) in $(find "$S/warm" -name '*.seg' | wc -l) segment(s); compactions $comp, compacted_bytes $(stat_num compacted_bytes)"
[ "$comp" -gt 0 ] || fail "STORE/warm shrank but .tiers/stats counts no compaction"
all_tier w warm
drop_caches
diff -r "$R/w" "$M/w" || fail "remaining warm files differ after compaction"
tfs_umount
store_check
tfs_mount -o "$OPTS"
drop_caches
diff -r "$R/w" "$M/w" || fail "remaining warm files differ after compaction and a remount"
tfs_umount

# --- crashes during compaction -------------------------------------------------------------
# crash_case POINT TIER: 40 files of 512 KiB on TIER, 75% deleted, then a
# mount armed with POINT compacts at its first tick and dies there
crash_case()
{
	local point=$1 t=$2 dir
	note "=== crash point $point during $t compaction"
	new_store
	tfs_mount -o "$OPTS,seg_max=4M"
	gen x 40 $((512 << 10))
	set_tier "$M/x" "$t"
	delete75 x
	tfs_umount
	TIERFS_FAULT=$point tfs_mount -o "$COMPACT,seg_max=4M"
	await_fault "$point"
	tfs_mount -o "$OPTS"
	all_tier x "$t"
	drop_caches
	diff -r "$R/x" "$M/x" || fail "remaining files differ after a crash at $point"
	tfs_umount
	store_check
	# compaction completes on a later mount
	tfs_mount -o "$COMPACT"
	dir=$S/$t
	if ! wait_shrink "$dir" $((10 << 20)); then
		fail "$dir is $(dusize "$dir") bytes 60 s after the remount (want <= 10 MiB of the 20 MiB written)"
	fi
	note "after the remount, compaction brought $dir to $(dusize "$dir") bytes"
	drop_caches
	diff -r "$R/x" "$M/x" || fail "remaining files differ after compacting again after $point"
	tfs_umount
	store_check
}
crash_case compact-before-commit warm
crash_case compact-before-delete warm
crash_case cold-before-commit cold
crash_case cold-after-commit cold

# --- files moved out of an archive while it is being compacted -------------------------
# As setfattr warm moves the files of one archive out one by one, the
# archive's live fraction falls under compact_threshold and the policy
# (interval=1s) re-archives the files still in it. Every file must end up
# where setfattr put it, and stay there.
note "=== setfattr warm on a directory while its archive is compacted"
new_store
tfs_mount -o "$OPTS"
"$PY" - "$R/m" <<'EOF'
import os, random, struct, sys
r = random.Random(31337)
pool = r.randbytes(16384)
os.makedirs(sys.argv[1])
for i in range(96):       # 96 x 512 KiB that xz compresses (fast)
    buf = bytearray()
    for p in range(128):
        o = r.randrange(0, 16384 - 4096)
        buf += struct.pack("<QQ", i, p) + pool[o + 16:o + 4096]
    open(os.path.join(sys.argv[1], "f%03d" % i), "wb").write(buf)
EOF
cp -r "$R/m" "$M/m"
for round in 1 2 3; do
	set_tier "$M/m" cold
	all_tier m cold
	tfs_umount
	tfs_mount -o "$COMPACT"
	sleep 1.5                           # let the first ticks pass
	set_tier "$M/m" warm
	all_tier m warm
	sleep 2                             # two more compaction ticks
	all_tier m warm
	note "round $round: all 96 files warm; compactions $(stat_num compactions)"
	drop_caches
	diff -r "$R/m" "$M/m" || fail "files differ after moving them to warm during a compaction"
done
tfs_umount
store_check
