#!/bin/bash
# A corrupt cold archive (issue 3 item 7), with cold_block=64K. Three
# directories demoted separately land in three archives:
#   a/ 16 random files of 32 KiB (xz cannot shrink them: the blocks are
#      stored as LZMA2 uncompressed chunks),
#   c/ Python modules (compressed blocks),
#   b/ vectors and modules, left intact.
# With the store unmounted, one byte in the middle of the first xz block of
# a's and c's archives is flipped (offset 200: past the 12-byte stream
# header and the block header). After a remount, with the kernel cache
# dropped: every file whose bytes lie in a corrupted block reads EIO (python
# read raises errno 5, cat fails), never wrong bytes; the files of those
# archives in other blocks and every file of b/ read back identical; the
# daemon keeps running and .tiers/stats counts cold errors.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
S=$TFS_STORE
if ! tfs_corpora; then
	echo "SKIP: corpora not found ($VEC, $MOD)"
	exit 77
fi
BLOCK=65536
OPTS=hot_age=1d,warm_age=1d,interval=1h,cold_block=64K

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }
archives() { find "$S/cold" -maxdepth 1 -name '*.xz' -printf '%f\n' 2>/dev/null | sort; }
# demote DIR: setfattr cold on MNT/DIR; prints the one new archive's name
demote()
{
	local a0 new
	a0=$(archives)
	set_tier "$M/$1" cold
	new=$(comm -13 <(echo "$a0") <(archives))
	assert_eq 1 "$(echo "$new" | sed '/^$/d' | wc -l)" "new archives for $1/" >&2
	echo "$new"
}

tfs_mount -o "$OPTS"
"$PY" - "$R" "$VEC" "$MOD" <<'EOF'
import os, random, shutil, sys
r, vec, mod = sys.argv[1:4]
for d in "abc":
    os.makedirs(os.path.join(r, d))
rng = random.Random(4242)
for i in range(16):
    open(os.path.join(r, "a", "f%02d" % i), "wb").write(rng.randbytes(32768))
mods = sorted(n for n in os.listdir(mod) if n.endswith(".py"))
for n in mods[100:140]:
    shutil.copy(os.path.join(mod, n), os.path.join(r, "c"))
for n in sorted(n for n in os.listdir(vec) if n.endswith(".f32"))[:50]:
    shutil.copy(os.path.join(vec, n), os.path.join(r, "b"))
for n in mods[200:220]:
    shutil.copy(os.path.join(mod, n), os.path.join(r, "b"))
EOF
cp -r "$R/a" "$R/b" "$R/c" "$M/"
arc_a=$(demote a)
arc_c=$(demote c)
arc_b=$(demote b)
note "archives: a/ $arc_a, c/ $arc_c, b/ $arc_b"
for f in "$arc_a" "$arc_b" "$arc_c"; do
	xz -t "$S/cold/$f" || fail "xz -t rejects $f before the corruption"
done
xz -dc "$S/cold/$arc_a" | cmp - <(cat "$R"/a/f*) ||
	fail "archive $arc_a does not hold a/'s files in path order"
# which files lie (partly) in the first block of each archive
"$PY" - "$R" $BLOCK >"$TFS_TMP/bad" <<'EOF'
import os, sys
r, block = sys.argv[1], int(sys.argv[2])
for d in "ac":
    off = 0
    for n in sorted(os.listdir(os.path.join(r, d))):
        size = os.path.getsize(os.path.join(r, d, n))
        if off < block and size > 0:
            print("%s/%s" % (d, n))
        off += size
EOF
note "files in the corrupted blocks: $(tr '\n' ' ' <"$TFS_TMP/bad")"
grep -q '^a/f01$' "$TFS_TMP/bad" || fail "a/f01 should lie in the first block"
tfs_umount

note "flipping byte 200 of $arc_a and of $arc_c"
for f in "$arc_a" "$arc_c"; do
	"$PY" - "$S/cold/$f" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(200)
    b = f.read(1)
    f.seek(200)
    f.write(bytes([b[0] ^ 0x5A]))
EOF
	if xz -t "$S/cold/$f" 2>/dev/null; then
		fail "xz -t still accepts $f after flipping byte 200"
	fi
done

# the daemon logs the corrupt blocks it meets
tfs_expect_log_error 'error: xzarc [0-9]+: block [0-9]+ .*: corrupt'
tfs_mount -o "$OPTS"
drop_caches
errs0=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tiers"]["cold"]["errors"])' "$M/.tiers/stats")
"$PY" - "$R" "$M" "$TFS_TMP/bad" <<'EOF' || fail "reads of the corrupted store"
import errno, os, sys
r, m, badlist = sys.argv[1:4]
bad = set(open(badlist).read().split())
ok = eio = 0
for d in "acb":
    for n in sorted(os.listdir(os.path.join(r, d))):
        rel = "%s/%s" % (d, n)
        ref = open(os.path.join(r, rel), "rb").read()
        for attempt in range(2):
            try:
                with open(os.path.join(m, rel), "rb") as f:
                    got = f.read()
            except OSError as e:
                if rel not in bad:
                    sys.exit("%s (outside the corrupted blocks) fails: %s" % (rel, e))
                if e.errno != errno.EIO:
                    sys.exit("%s: expected EIO, got %s" % (rel, e))
                eio += attempt == 0
                continue
            if rel in bad:
                sys.exit("%s lies in a corrupted block but reads %s bytes (%s)"
                         % (rel, len(got), "identical" if got == ref else "WRONG"))
            if got != ref:
                sys.exit("%s reads wrong bytes" % rel)
            ok += attempt == 0
print("# %d files read EIO, %d files read back identical" % (eio, ok))
EOF
f=$(sed -n 1p "$TFS_TMP/bad")
expect_errno "Input/output error" cat "$M/$f"
tfs__alive "$TFS_PID" || fail "the daemon died after reading corrupt blocks"
errs=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tiers"]["cold"]["errors"])' "$M/.tiers/stats")
note "cold errors in .tiers/stats: $errs0 at mount, $errs after the reads"
[ "$errs" -gt 0 ] || fail ".tiers/stats counts no cold error after EIO reads"
# still serving: the intact archive, a new file, a demotion
drop_caches
diff -r "$R/b" "$M/b" || fail "b/ differs after the EIO reads"
cp "$VEC/v00500.f32" "$M/late.f32"
set_tier "$M/late.f32" cold
drop_caches
check_same "$VEC/v00500.f32" "$M/late.f32"
assert_eq cold "$(tier "$M/a/f00")" "tier of a corrupt file"
grep -qE ' error: ' "$TFS_LOG" || fail "the daemon logged no error for the corrupt blocks"
note "daemon log: $(grep -m1 ' error: ' "$TFS_LOG")"
tfs_umount
