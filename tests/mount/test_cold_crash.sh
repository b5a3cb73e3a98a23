#!/bin/bash
# Crash safety of cold demotion and write-back (issue 3 item 4). The daemon
# dies by SIGKILL at a named point (TIERFS_FAULT, see src/fault.h) or at a
# random moment; the dead mount is detached and the store remounted without
# the fault; then every file reads back its last closed content and the
# store holds no orphan: every STORE/cold/*.xz is an archive meta knows,
# every archive a cold file uses exists, every warm segment is known, and
# all archives pass `xz -t` (and tierfs-fsck, when built, finds nothing).
#  - cold-before-commit: none of the directory's files is cold, STORE/cold holds
#    exactly the archives it held before (the new one was an orphan);
#  - cold-after-commit: the files are cold in one new archive;
#  - cold-before-commit:2 with archive_max=1M: the first archive of the
#    batch is committed, the second is an orphan; every file is intact;
#  - writeback-before-commit: an overwrite whose close() was interrupted
#    leaves the file's previous closed content; writing it again works;
#  - 5 times: a 100 MiB demotion (archive_max=8M: a batch of ~13 archive
#    commits) killed with kill -9 after a random delay (0-1.5 s), remount,
#    all content identical, no orphan, moved back to warm.
#  TFS_SEED repeats the random delays of a run (it prints its seed).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE
OPTS=hot_age=1d,warm_age=1d,interval=1h
FSCK=${TIERFS_FSCK:-$(cd "$(dirname "$TIERFS_BIN")/.." && pwd)/tools/tierfs-fsck}
tfs_corpora || fail "corpora not found ($VEC, $MOD)"
command -v xz >/dev/null || fail "xz not found (install xz-utils)"

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }
archives() { find "$S/cold" -maxdepth 1 -name '*.xz' -printf '%f\n' 2>/dev/null | sort; }

new_store()
{
	rm -rf "${S:?}" "${R:?}"
	mkdir "$S" "$R"
}

# populate DIR: a mix of real vectors, modules and random files of
# assorted sizes (empty, 1 byte, multi-chunk) under $R/DIR, copied in
populate()
{
	"$PY" - "$R/$1" "$CORP" <<'EOF'
import os, random, shutil, sys
d, corp = sys.argv[1], sys.argv[2]
os.makedirs(d + "/v")
os.makedirs(d + "/m")
os.makedirs(d + "/r")
vec = os.path.join(corp, "vectors/minilm384")
mod = os.path.join(corp, "modules/py")
if os.path.isdir(vec) and os.path.isdir(mod):
    for n in sorted(n for n in os.listdir(vec) if n.endswith(".f32"))[:60]:
        shutil.copy(os.path.join(vec, n), d + "/v")
    for n in sorted(n for n in os.listdir(mod) if n.endswith(".py"))[:30]:
        shutil.copy(os.path.join(mod, n), d + "/m")
else:   # stand-ins: unit-normal-ish floats and text
    for i in range(60):
        open(d + "/v/v%05d.f32" % i, "wb").write(os.urandom(1536))
    for i in range(30):
        open(d + "/m/m%02d.py" % i, "w").write("x = %d\n" % i * 2000)
r = random.Random(d)
sizes = [0, 1, 3072, 65535, 65536, 65537, 300000, 1 << 20, (1 << 20) + 12345]
for i, s in enumerate(sizes):
    open(d + "/r/f%02d" % i, "wb").write(r.randbytes(s))
EOF
	cp -r "$R/$1" "$M/$1"
}

# The daemon was armed with a fault point and the last command reached it:
# wait until it is gone (SIGKILL), detach the dead mount, scan its log.
await_fault()
{
	local i st=0
	for ((i = 0; i < 600; i++)); do
		tfs__alive "$TFS_PID" || break
		sleep 0.1
	done
	if tfs__alive "$TFS_PID"; then
		fail "the daemon is still running 60 s after reaching fault point $1"
	fi
	wait "$TFS_PID" || st=$?
	TFS_PID=""
	assert_eq 137 "$st" "daemon exit status at fault point $1"
	grep -q "fault injection: killed at ${1%%:*}" "$TFS_LOG" ||
		fail "the daemon's log does not say it was killed at $1"
	fusermount3 -uz "$TFS_CUR_MNT" || fail "fusermount3 -uz $TFS_CUR_MNT failed"
	tfs__scan_log "$TFS_LOG" || fail "errors in the daemon log before fault $1"
	note "daemon killed itself at $1; mount detached"
}

# mount_fault POINT [OPTS]: mount the store with TIERFS_FAULT=POINT
mount_fault()
{
	TIERFS_FAULT=$1 tfs_mount -o "${2:-$OPTS}"
	TFS_ARGS=("$M" "$S" "$M" -o "$OPTS")   # a remount drops the fault
}

# store_check [strict]: with the store unmounted, compare STORE/cold and
# STORE/warm with meta.db; "strict": every archive is used by a cold file.
store_check()
{
	local a
	"$PY" - "$S" "${1:-}" <<'EOF' || fail "store check failed"
import os, sqlite3, sys
s, strict = sys.argv[1], sys.argv[2] == "strict"
db = sqlite3.connect("file:%s/meta.db?mode=ro" % s, uri=True)
q = lambda sql: {r[0] for r in db.execute(sql)}
known = q("SELECT id FROM archive")
used = q("SELECT DISTINCT archive FROM cold")
segs = q("SELECT id FROM segment")
seg_used = q("SELECT DISTINCT seg FROM extent")
files = {int(n[:-3], 16) for n in os.listdir(s + "/cold") if n.endswith(".xz")}
others = [n for n in os.listdir(s + "/cold") if not n.endswith(".xz")]
sfiles = {int(n[:-4], 16) for n in os.listdir(s + "/warm") if n.endswith(".seg")}
err = []
if others:
    err.append("stray files in STORE/cold: %s" % others)
if files - known:
    err.append("orphan archives (not in meta): %s" % sorted("%08x" % i for i in files - known))
if used - files:
    err.append("archives used by cold files but missing: %s" % sorted("%08x" % i for i in used - files))
if strict and files - used:
    err.append("archives no file uses: %s" % sorted("%08x" % i for i in files - used))
if sfiles - segs:
    err.append("orphan segments (not in meta): %s" % sorted("%08x" % i for i in sfiles - segs))
if seg_used - sfiles:
    err.append("segments used by extents but missing: %s" % sorted("%08x" % i for i in seg_used - sfiles))
for row in db.execute("SELECT seg, MAX(off + rec_len) FROM extent GROUP BY seg"):
    p = "%s/warm/%08x.seg" % (s, row[0])
    if os.path.exists(p) and os.path.getsize(p) < row[1]:
        err.append("segment %08x is %d bytes, extents reach %d" % (row[0], os.path.getsize(p), row[1]))
if err:
    sys.exit("\n".join(err))
print("# store consistent: %d archive(s) (%d used), %d segment(s)" % (len(files), len(used), len(sfiles)))
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

# tiers_of DIR: "N cold, N warm, N hot" over the files below MNT/DIR
tiers_of()
{
	local f c=0 w=0 h=0 t
	while IFS= read -r f; do
		t=$(tier "$f")
		case $t in
		cold) c=$((c + 1)) ;;
		warm) w=$((w + 1)) ;;
		hot) h=$((h + 1)) ;;
		*) fail "tier of $f is '$t'" ;;
		esac
	done < <(find "$M/$1" -type f | sort)
	echo "$c cold, $w warm, $h hot"
}

# --- named crash points of a demotion --------------------------------------------------
# crash_case POINT MOUNT_OPTS: old/ cold already, d/ demoted under the fault
crash_case()
{
	local point=$1 opts=$2 a0 a1 out t0
	note "=== crash point $point ($opts)"
	new_store
	tfs_mount -o "$OPTS"
	populate old
	set_tier "$M/old" cold
	populate d
	t0=$(tiers_of d)
	tfs_umount
	a0=$(archives)
	mount_fault "$point" "$opts"
	if out=$(set_tier "$M/d" cold 2>&1); then
		note "setfattr returned success before the daemon died"
	else
		note "setfattr failed as the daemon died: $out"
	fi
	await_fault "$point"
	tfs_remount
	drop_caches
	diff -r "$R" "$M" || fail "files differ after a crash at $point"
	note "after the crash at $point: old/ $(tiers_of old); d/ $(tiers_of d)"
	assert_eq "60 cold, 0 warm, 0 hot" "$(tiers_of old/v)" "tiers of old/v after $point"
	a1=$(archives)
	case $point in
	cold-before-commit)
		assert_eq "$a0" "$a1" "archives after a crash before the commit"
		# nothing became cold (a hot file may have dropped to its warm copy)
		case $(tiers_of d) in
		"0 cold"*) ;;
		*) fail "files of d/ are cold after a crash before the commit: $(tiers_of d) (before: $t0)" ;;
		esac
		;;
	cold-after-commit)
		assert_eq 1 "$(comm -13 <(echo "$a0") <(echo "$a1") | wc -l)" \
			"new archives after a crash after the commit"
		assert_eq "" "$(comm -23 <(echo "$a0") <(echo "$a1"))" \
			"archives lost after a crash after the commit"
		assert_eq "60 cold, 0 warm, 0 hot" "$(tiers_of d/v)" "tiers of d/v after $point"
		assert_eq "9 cold, 0 warm, 0 hot" "$(tiers_of d/r)" "tiers of d/r after $point"
		;;
	cold-before-commit:2)
		assert_eq 1 "$(comm -13 <(echo "$a0") <(echo "$a1") | wc -l)" \
			"new archives after a crash before the second commit"
		case $(tiers_of d) in
		"0 cold"*) fail "no file of d/ is cold after the first archive's commit" ;;
		esac
		;;
	esac
	# what was interrupted can be done now
	set_tier "$M/d" cold
	assert_eq "9 cold, 0 warm, 0 hot" "$(tiers_of d/r)" "tiers of d/r after demoting again"
	drop_caches
	diff -r "$R" "$M" || fail "files differ after demoting again after $point"
	tfs_umount
	store_check strict
}
crash_case cold-before-commit "$OPTS"
crash_case cold-after-commit "$OPTS"
crash_case cold-before-commit:2 "$OPTS,archive_max=1M"

# --- write-back interrupted before its commit ------------------------------------------
note "=== crash point writeback-before-commit"
new_store
tfs_mount -o "$OPTS"
populate d
# warm, so that no hot-set restore at the next mount writes anything back
set_tier "$M/d" warm
tfs_umount
mount_fault writeback-before-commit
"$PY" - "$M/d/r/f07" "$M/new" <<'EOF'
import os, sys
# Every write is written back before it returns (zero-message open), so
# the daemon dies inside the first pwrite, or at close on a kernel that
# still sends FLUSH.
try:
    fd = os.open(sys.argv[1], os.O_WRONLY)       # 1 MiB, closed before
    os.pwrite(fd, os.urandom(100000), 50000)
    os.pwrite(fd, os.urandom(5000), 1 << 20)      # and grow it
    os.close(fd)
    print("# close() returned success")
except OSError as e:
    print("# a write or close failed as the daemon died: %s" % e)
try:
    fd = os.open(sys.argv[2], os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"never closed")
    os.close(fd)
except OSError as e:
    pass
EOF
await_fault writeback-before-commit
tfs_remount
drop_caches
if [ -e "$M/new" ]; then
	note "a file created after the crash point: $(stat -c %s "$M/new") bytes"
	cat "$M/new" >/dev/null
	rm "$M/new"
fi
diff -r "$R/d" "$M/d" || fail "files differ after a crash before a write-back commit"
# the interrupted file takes new writes; they survive a remount
head -c 200000 /dev/urandom >"$TFS_TMP/patch"
for t in "$R/d/r/f07" "$M/d/r/f07"; do
	dd if="$TFS_TMP/patch" of="$t" bs=4096 seek=7 conv=notrunc status=none
	cat "$TFS_TMP/patch" >>"$t"
done
tfs_umount
store_check
tfs_remount
drop_caches
diff -r "$R/d" "$M/d" || fail "files differ after writing again and remounting"
tfs_umount

# --- kill -9 at random moments of a 100 MiB demotion ----------------------------------
note "=== kill -9 during a 100 MiB demotion, 5 times"
new_store
"$PY" - "$R/big" <<'EOF'
# 200 files of 512 KiB in 10 directories; pages of a seeded random pool
# (unique page headers), so xz compresses them and the demotion takes ~s.
import os, random, struct, sys
r = random.Random(31337)
pool = r.randbytes(16384)
for i in range(200):
    d = os.path.join(sys.argv[1], "d%d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    buf = bytearray()
    for p in range(128):
        o = r.randrange(0, 16384 - 4096)
        buf += struct.pack("<QQ", i, p) + pool[o + 16:o + 4096]
    open(os.path.join(d, "f%03d" % i), "wb").write(buf)
EOF
# archive_max=8M: the batch commits ~13 archives one after another, so a
# kill lands before, between or after commits
tfs_mount -o "$OPTS,archive_max=8M"
cp -r "$R/big" "$M/big"
RND=${TFS_SEED:-$RANDOM}
note "delays from seed $RND (TFS_SEED=$RND repeats them)"
for it in 1 2 3 4 5; do
	delay=$(awk -v s="$RND" -v i="$it" 'BEGIN { srand(s + i); printf "%.2f", rand() * 1.5 }')
	set_tier "$M/big" cold 2>/dev/null &
	TFS_EXTRA_PIDS=($!)
	sleep "$delay"
	tfs_kill9
	wait "${TFS_EXTRA_PIDS[0]}" || true
	TFS_EXTRA_PIDS=()
	tfs_remount
	drop_caches
	diff -r "$R/big" "$M/big" || fail "iteration $it: files differ after kill -9 at ${delay}s"
	note "iteration $it: killed after ${delay}s: $(tiers_of big)"
	tfs_umount
	store_check
	tfs_remount
	set_tier "$M/big" warm
	assert_eq "0 cold, 200 warm, 0 hot" "$(tiers_of big)" "tiers after moving back to warm"
done
drop_caches
diff -r "$R/big" "$M/big" || fail "files differ at the end"
tfs_umount
store_check
