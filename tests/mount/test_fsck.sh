#!/bin/bash
# tierfs-fsck on a store written by a real mount:
#  - usage errors exit 2; a directory that is not a store, or a mounted
#    store, exit 4 and change nothing;
#  - a store written by a mount (small, multi-chunk, compressible files,
#    hot and warm, a hard link) checks clean, and checking modifies nothing;
#  - one flipped payload byte of a warm record is reported naming the
#    file's inode, path and chunk (exit 1), and the daemon reads that file
#    as EIO; an orphan segment file and an inode left unlinked by a kill -9
#    are reported too;
#  - --repair deletes the orphans (exit 1) but never hides lost data: the
#    damaged chunk stays, the report names the file and its lost bytes, the
#    next check names it again, and the daemon still reads that file as
#    EIO (never zeros) with every other file intact;
#  - if the daemon can demote to cold: a damaged archive names its file;
#  - a damaged b-tree page of meta.db: the mount refuses it (exit 1) with a
#    message saying so, fsck reports it and --repair repairs nothing.
#
# TIERFS_FSCK: the checker (default: tools/tierfs-fsck next to src/tierfs).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
FSCK=${TIERFS_FSCK:-$(cd "$(dirname "$TIERFS_BIN")/.." && pwd)/tools/tierfs-fsck}
[ -x "$FSCK" ] || fail "set TIERFS_FSCK to the tierfs-fsck binary (got '$FSCK')"
S=$TFS_STORE
M=$TFS_MNT
R=$TFS_REF
OUT=""

# run_fsck WANT ARGS...: run the checker; its exit status must be WANT; its
# output (stdout and stderr) is shown and kept in OUT.
run_fsck()
{
	local want=$1 rc=0
	shift
	OUT=$("$FSCK" "$@" 2>&1) || rc=$?
	printf '%s\n' "$OUT" | sed 's/^/  | /'
	[ "$rc" = "$want" ] || fail "tierfs-fsck $*: exit $rc, expected $want"
}

# expect_out ERE: the last run's output has a matching line.
expect_out()
{
	grep -qE -- "$1" <<<"$OUT" || fail "tierfs-fsck output lacks /$1/"
}

# A digest of everything in the store but its lock file.
store_digest()
{
	(cd "$S" && find . -path ./lock -prune -o -type f -print0 |
		sort -z | xargs -0 sha256sum)
}

ino_of() { stat -c %i "$1"; }

# --- usage and refusals -------------------------------------------------------
note "usage errors and refusals"
run_fsck 2
run_fsck 2 --bogus "$S"
run_fsck 2 "$S" "$S"
mkdir "$TFS_TMP/plain"
run_fsck 4 "$TFS_TMP/plain"
expect_out "not a tierfs store"
[ -z "$(ls -A "$TFS_TMP/plain")" ] || fail "fsck wrote into a non-store"
run_fsck 4 "$TFS_TMP/missing"
expect_out "not a tierfs store"
[ ! -e "$TFS_TMP/missing" ] || fail "fsck created a missing store"

# --- a store written by a mount -------------------------------------------------
"$PY" - "$R" <<'EOF'
import os, sys
r = sys.argv[1]
os.mkdir(os.path.join(r, "d"))
def put(name, data):
    with open(os.path.join(r, name), "wb") as f:
        f.write(data)
put("big", os.urandom((1 << 20) + 7))                    # 17 chunks
put("small", os.urandom(3000))
put("d/vec", os.urandom(4096))
put("d/text", b"".join(b"line %08d of compressible text\n" % i
                      for i in range(20000)))
put("victim", os.urandom(5000))                          # unlinked open
EOF
tfs_mount -o hot_max=1G
note "writing files"
mkdir "$M/d"
for f in big small d/vec d/text victim; do
	cp "$R/$f" "$M/$f"
done
ln "$M/small" "$M/d/small-link"
for f in big d/text; do
	setfattr -n user.tierfs.tier -v warm "$M/$f"
done
declare -A INO
for f in big small d/vec d/text; do
	INO[$(ino_of "$M/$f")]=$f
done

note "fsck of a mounted store is refused"
run_fsck 4 "$S"
expect_out "mounted"

COLD=""
if setfattr -n user.tierfs.tier -v cold "$M/d/vec" 2>/dev/null; then
	COLD=d/vec
	note "the daemon demotes to cold: cold checks included"
else
	note "the daemon cannot demote to cold yet: cold checks skipped"
fi
for f in big small d/vec d/text; do
	check_same "$R/$f" "$M/$f"
done
tfs_umount

note "clean store"
run_fsck 0 "$S"
expect_out "tierfs-fsck: .*: 5 files, [0-9]+ segments?, [0-9]+ archives?: clean$"
before=$(store_digest)
run_fsck 0 -v "$S"
expect_out "meta.db integrity: ok"
expect_out "\(/big\): 17 warm records, 0 damaged"
[ "$before" = "$(store_digest)" ] || fail "checking modified the store"

# --- a damaged warm record ------------------------------------------------------
note "flip one payload byte of the first record of the first segment"
SEG=$(find "$S/warm" -name '*.seg' | sort | head -n 1)
read -r BAD_INO BAD_CHUNK < <("$PY" - "$SEG" <<'EOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(64)
    magic, ver, flags, ino, chunk, raw, stored = struct.unpack(
        "<IHHQQII", f.read(32))
    assert magic == 0x52534654, hex(magic)
    at = 64 + 40 + min(100, stored - 1)
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0x5a]))
print(ino, chunk)
EOF
)
BAD=${INO[$BAD_INO]:-}
[ -n "$BAD" ] || fail "the first record belongs to inode $BAD_INO, not a test file"
note "damaged: inode $BAD_INO (/$BAD) chunk $BAD_CHUNK"
before=$(store_digest)
run_fsck 1 "$S"
SEG_ID=${SEG##*/}
SEG_ID=${SEG_ID%.seg}
expect_out "^inode $BAD_INO \(/$BAD\) chunk $BAD_CHUNK: segment $SEG_ID offset 64: .+"
expect_out ": 1 problem$"
[ "$before" = "$(store_digest)" ] || fail "checking modified the store"

note "the daemon reads the damaged file as EIO, the others intact"
tfs_mount
tfs_expect_log_error "segment [0-9a-f]+ offset 64"
tfs_expect_log_error "inode $BAD_INO"
expect_errno "Input/output error" cat "$M/$BAD"
for f in big small d/vec d/text; do
	[ "$f" = "$BAD" ] || check_same "$R/$f" "$M/$f"
done

note "an inode left unlinked by a kill -9 while open"
VICTIM=$(ino_of "$M/victim")
exec 7<"$M/victim"
rm "$M/victim"
tfs_kill9
exec 7<&-
printf 'not a segment' >"$S/warm/000000ff.seg"
run_fsck 1 "$S"
expect_out "^warm/000000ff\.seg: orphan segment"
expect_out "^inode $VICTIM: orphan"
expect_out "^inode $BAD_INO \(/$BAD\) chunk $BAD_CHUNK: "

# --- repair ------------------------------------------------------------------------
note "repair"
run_fsck 1 --repair "$S"
expect_out "repaired: deleted warm/000000ff\.seg"
expect_out "repaired: inode $VICTIM deleted"
expect_out "not repaired: /$BAD: bytes $((BAD_CHUNK << 16))\.\.[0-9]+ are lost and read as EIO"
if grep -qE "repaired: inode $BAD_INO chunk" <<<"$OUT"; then
	fail "--repair claims to have repaired lost data"
fi
expect_out "problems, [0-9]+ repaired$"
[ ! -e "$S/warm/000000ff.seg" ] || fail "orphan segment still there"
note "the next check still names the damaged file (lost data is not hidden)"
run_fsck 1 "$S"
expect_out "^inode $BAD_INO \(/$BAD\) chunk $BAD_CHUNK: "
expect_out ": 1 problem$"

note "after repair: the damaged file still reads EIO, the rest is intact"
tfs_mount
expect_errno "Input/output error" cat "$M/$BAD"
for f in big small d/vec d/text; do
	[ "$f" = "$BAD" ] || check_same "$R/$f" "$M/$f"
done
[ ! -e "$M/victim" ] || fail "victim is back"
tfs_umount
run_fsck 1 "$S"

# --- a damaged cold archive ---------------------------------------------------------
if [ -n "$COLD" ]; then
	note "flip a byte in the middle of the cold archive"
	ARC=$(find "$S/cold" -name '*.xz' | sort | head -n 1)
	[ -n "$ARC" ] || fail "no archive in $S/cold"
	xz -t "$ARC" || fail "xz -t rejects $ARC before the damage"
	"$PY" - "$ARC" <<'EOF'
import os, sys
with open(sys.argv[1], "r+b") as f:
    at = os.fstat(f.fileno()).st_size // 2
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0x5a]))
EOF
	run_fsck 1 "$S"
	expect_out "\(/$COLD\): archive [0-9a-f]{8} .*not repaired"
	run_fsck 1 --repair "$S"
	run_fsck 1 "$S"
fi

# --- a damaged meta.db ----------------------------------------------------------------
note "damage a b-tree page of meta.db: the mount refuses it, fsck names it"
"$PY" - "$S/meta.db" <<'EOF'
import sqlite3, sys
path = sys.argv[1]
db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
page = db.execute("PRAGMA page_size").fetchone()[0]
root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'dentry'").fetchone()[0]
db.close()
with open(path, "r+b") as f:
    f.seek((root - 1) * page)
    f.write(b"\xff" * 16)      # not a b-tree page type, bad cell counts
EOF
rm -f "$S/meta.db-wal" "$S/meta.db-shm"     # python's read-only connection
before=$(store_digest)
tfs_expect_refused 1 "meta\.db is damaged \(SQLite (quick_check|b-tree roots): .+\); not mounting it" \
	"$M" "$S" "$M"
[ "$before" = "$(store_digest)" ] || fail "the refused mount modified the store"
run_fsck 1 "$S"
expect_out "^meta\.db: integrity check: "
run_fsck 1 --repair "$S"
expect_out "meta\.db is damaged: not repairing anything"
