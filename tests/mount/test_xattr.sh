#!/bin/bash
# The user.tierfs.* extended attributes, one by one, and the user's own:
#  - tier: hot after a write; setting hot/warm/cold moves the file (content
#    identical, kernel cache dropped); other values EINVAL; removing it
#    changes nothing.
#  - pin: none by default; none/hot/warm/cold; setting a pin moves the file
#    there; other values EINVAL; removing it unpins (file stays put).
#  - stored: an integer; hot 3 KiB ~ its RAM; warm text < size; cold text
#    much smaller than size.  ratio: two decimals, size/stored.
#  - atime: ISO 8601 UTC, moves forward after a read.  accesses: +1 per
#    read that reaches the daemon (the page cache serves the others, and
#    opens send nothing: zero-message open).  reason: "written", "setfattr", "pinned".
#  - writing a read-only one succeeds and changes nothing, removing one
#    changes nothing; unknown
#    user.tierfs.foo: set EINVAL, get ENODATA.
#  - listxattr (getfattr -d) does not list them by default, only the user's
#    own names; with -o list_tier_xattrs it lists all seven.
#  - directories: none of them, but setting tier on a directory moves every
#    file below it.
#  - the user's own user.* attributes: set/get/list/remove, binary values,
#    a 64 KiB value, kept across a remount; system.posix_acl_access is
#    stored and listed, other system.* names are not supported.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
M=$TFS_MNT
R=$TFS_REF

xget() { getfattr --absolute-names -n "user.tierfs.$2" --only-values "$1"; }
xset() { setfattr -n "user.tierfs.$2" -v "$3" "$1"; }
tier() { xget "$1" tier; }
set_tier() { xset "$1" tier "$2"; }

tfs_mount -o hot_max=256M

# files: h (3 KiB random), txt (200 KiB of text), small text, a dir tree
head -c 3072 /dev/urandom >"$R/h"
"$PY" - "$R/txt" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"".join(b"line %06d: the quick brown fox jumps over the lazy dog\n"
                     % i for i in range(3700)))
EOF
head -c 50000 "$R/txt" >"$R/small"
for f in h txt small; do cp "$R/$f" "$M/$f"; done
size_h=$(stat -c %s "$M/h")
size_txt=$(stat -c %s "$M/txt")
note "sizes: h $size_h, txt $size_txt"

# --- tier ----------------------------------------------------------------------
note "user.tierfs.tier"
for f in h txt small; do
	assert_eq hot "$(tier "$M/$f")" "tier of $f after writing it"
done
for t in warm cold hot cold warm hot; do
	xset "$M/h" tier "$t"
	assert_eq "$t" "$(tier "$M/h")" "tier of h after setfattr $t"
	drop_caches
	check_same "$R/h" "$M/h"
done
for v in bogus HOT "" " hot" hot2 none; do
	expect_errno "Invalid argument" xset "$M/h" tier "$v"
done
assert_eq hot "$(tier "$M/h")" "tier of h after invalid values"
# Removing tier (or a read-only one) never changes anything. Whether it
# fails (EPERM) or is accepted and ignored is left open here: rsync -aX
# into tierfs removes every name the source lacks and stops on a failure,
# so test_copy.sh is where that is decided.
# xremove FILE NAME: setfattr -x fails with EPERM or succeeds, nothing else
xremove()
{
	local out rc=0
	out=$(setfattr -x "user.tierfs.$2" "$1" 2>&1) || rc=$?
	[ "$rc" = 0 ] || [[ $out == *"Operation not permitted"* ]] ||
		fail "setfattr -x user.tierfs.$2: exit $rc: $out"
}
set_tier "$M/h" warm
xremove "$M/h" tier
assert_eq warm "$(tier "$M/h")" "tier of h after setfattr -x"
set_tier "$M/h" hot

# --- pin -----------------------------------------------------------------------
note "user.tierfs.pin"
assert_eq none "$(xget "$M/h" pin)" "default pin"
for p in warm cold hot; do
	xset "$M/h" pin "$p"
	assert_eq "$p" "$(xget "$M/h" pin)" "pin after setting $p"
	assert_eq "$p" "$(tier "$M/h")" "tier after pinning to $p"
	case $(xget "$M/h" reason) in
	*pinned*) ;;
	*) fail "reason of a file pinned $p does not mention pinned: '$(xget "$M/h" reason)'" ;;
	esac
	drop_caches
	check_same "$R/h" "$M/h"
done
for v in bogus HOT "" always; do
	expect_errno "Invalid argument" xset "$M/h" pin "$v"
done
assert_eq hot "$(xget "$M/h" pin)" "pin after invalid values"
xset "$M/h" pin none
assert_eq none "$(xget "$M/h" pin)" "pin after setting none"
assert_eq hot "$(tier "$M/h")" "tier after unpinning (stays)"
xset "$M/h" pin cold
assert_eq cold "$(tier "$M/h")" "tier after pinning cold"
setfattr -x user.tierfs.pin "$M/h"
assert_eq none "$(xget "$M/h" pin)" "pin after setfattr -x user.tierfs.pin"
assert_eq cold "$(tier "$M/h")" "tier after removing the pin (stays)"
xset "$M/h" tier hot
assert_eq setfattr "$(xget "$M/h" reason)" "reason after setfattr tier"

# --- stored and ratio ----------------------------------------------------------
note "user.tierfs.stored and user.tierfs.ratio"
# check_ratio FILE: stored is an integer > 0, ratio has two decimals and is
# size/stored rounded
check_ratio()
{
	local st ra sz
	st=$(xget "$1" stored)
	ra=$(xget "$1" ratio)
	sz=$(stat -c %s "$1")
	[[ $st =~ ^[0-9]+$ ]] || fail "stored of $1 is not an integer: '$st'"
	[[ $ra =~ ^[0-9]+\.[0-9]{2}$ ]] || fail "ratio of $1 is not a decimal with two digits: '$ra'"
	"$PY" - "$sz" "$st" "$ra" <<'EOF' || fail "ratio of $1 ($ra) is not size/stored ($sz/$st)"
import sys
size, stored, ratio = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
assert stored > 0
assert abs(ratio - size / stored) <= 0.0051, (size / stored, ratio)
EOF
}
assert_eq hot "$(tier "$M/h")"
st=$(xget "$M/h" stored)
[[ $st =~ ^[0-9]+$ ]] || fail "stored is not an integer: '$st'"
if [ "$st" -lt "$size_h" ] || [ "$st" -ge $((2 * size_h + 1024)) ]; then
	fail "stored of a hot $size_h-byte file is $st (want >= $size_h and < $((2 * size_h + 1024)))"
fi
check_ratio "$M/h"
xset "$M/small" tier warm
st=$(xget "$M/small" stored)
sz=$(stat -c %s "$M/small")
[ "$st" -gt 0 ] && [ "$st" -lt "$sz" ] ||
	fail "stored of a warm $sz-byte text file is $st (want 0 < stored < size)"
check_ratio "$M/small"
xset "$M/txt" tier cold
st=$(xget "$M/txt" stored)
[ "$st" -gt 0 ] && [ "$st" -lt $((size_txt / 4)) ] ||
	fail "stored of a cold $size_txt-byte text file is $st (want < size/4)"
check_ratio "$M/txt"
ra=$(xget "$M/txt" ratio)
"$PY" -c "import sys; sys.exit(not float('$ra') > 1)" ||
	fail "ratio of cold text is $ra (want > 1)"
note "stored: hot $(xget "$M/h" stored)/$size_h, warm $(xget "$M/small" stored)/$sz, cold $st/$size_txt (ratio $ra)"
drop_caches
check_same "$R/txt" "$M/txt"
check_same "$R/small" "$M/small"

# --- atime and accesses ----------------------------------------------------------
note "user.tierfs.atime and user.tierfs.accesses"
iso='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
a0=$(xget "$M/h" atime)
[[ $a0 =~ $iso ]] || fail "atime is not ISO 8601 UTC: '$a0'"
n0=$(xget "$M/h" accesses)
[[ $n0 =~ ^[0-9]+$ ]] || fail "accesses is not an integer: '$n0'"
# the clock must move past a0's second before the read (atime has 1 s steps)
while [ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" = "$a0" ]; do sleep 0.2; done
before=$(date -u +%Y-%m-%dT%H:%M:%SZ)
drop_caches
cat "$M/h" >/dev/null
a1=$(xget "$M/h" atime)
[[ $a1 =~ $iso ]] || fail "atime after a read is not ISO 8601 UTC: '$a1'"
# a0 < before <= a1 (ISO 8601 strings sort as times)
if [[ $a1 < $before ]]; then
	fail "atime did not move forward after a read: $a0 -> $a1 (read at $before)"
fi
n1=$(xget "$M/h" accesses)
assert_eq $((n0 + 1)) "$n1" "accesses after one cat"
cat "$M/h" >/dev/null           # from the page cache: not seen
assert_eq "$n1" "$(xget "$M/h" accesses)" "accesses after a cached cat"
for _ in 1 2; do
	uncache "$M/h"
	cat "$M/h" >/dev/null
done
n2=$(xget "$M/h" accesses)
assert_eq $((n1 + 2)) "$n2" "accesses after cat twice, each reaching the daemon"
# opened for reading, nothing read: no access (the open sends nothing)
"$PY" -c "import os; os.close(os.open('$M/h', os.O_RDONLY))"
assert_eq "$n2" "$(xget "$M/h" accesses)" "accesses after an open without read"
# reading attributes and stat are not accesses
stat "$M/h" >/dev/null
getfattr -d "$M/h" >/dev/null 2>&1
assert_eq "$n2" "$(xget "$M/h" accesses)" "accesses after stat and getfattr"

# --- reason ---------------------------------------------------------------------
note "user.tierfs.reason"
echo fresh >"$M/fresh"
r=$(xget "$M/fresh" reason)
[ -n "$r" ] || fail "reason of a new file is empty"
assert_eq written "$r" "reason of a new file"
xset "$M/fresh" tier warm
assert_eq setfattr "$(xget "$M/fresh" reason)" "reason after setfattr warm"

# --- read-only ones: writes accepted and ignored ---------------------------------
note "writing read-only attributes"
xset "$M/txt" pin none
for a in stored ratio atime accesses reason; do
	old=$(xget "$M/txt" "$a")
	tier_old=$(tier "$M/txt")
	xset "$M/txt" "$a" 12345 || fail "setting read-only user.tierfs.$a failed"
	xset "$M/txt" "$a" "2000-01-01T00:00:00Z"
	assert_eq "$old" "$(xget "$M/txt" "$a")" "user.tierfs.$a after writing it"
	assert_eq "$tier_old" "$(tier "$M/txt")" "tier after writing user.tierfs.$a"
	xremove "$M/txt" "$a"
	assert_eq "$old" "$(xget "$M/txt" "$a")" "user.tierfs.$a after setfattr -x"
	assert_eq "$tier_old" "$(tier "$M/txt")" "tier after setfattr -x user.tierfs.$a"
done
drop_caches
check_same "$R/txt" "$M/txt"

# --- unknown names, getfattr -d ----------------------------------------------------
note "unknown user.tierfs.* and getfattr -d"
expect_errno "Invalid argument" setfattr -n user.tierfs.foo -v 1 "$M/h"
expect_errno "No such attribute" getfattr -n user.tierfs.foo "$M/h"
expect_errno "No such attribute" getfattr -n user.tierfs. "$M/h"
# not listed by default: getfattr -d shows nothing of tierfs's own
dump=$(getfattr --absolute-names -d -m - "$M/h")
! grep -q 'user\.tierfs\.' <<<"$dump" ||
	fail "getfattr -d lists user.tierfs.* without list_tier_xattrs: $dump"

# --- directories ---------------------------------------------------------------------
note "directories"
mkdir -p "$M/d/e/f"
for p in d/x d/y d/e/z d/e/f/w; do
	head -c 5000 /dev/urandom >"$R/${p//\//_}"
	cp "$R/${p//\//_}" "$M/$p"
done
for a in tier pin stored ratio atime accesses reason; do
	expect_errno "No such attribute" getfattr -n "user.tierfs.$a" "$M/d"
done
! getfattr --absolute-names -d "$M/d" 2>/dev/null | grep -q user.tierfs ||
	fail "getfattr -d on a directory shows user.tierfs.*"
xset "$M/d" tier cold
for p in d/x d/y d/e/z d/e/f/w; do
	assert_eq cold "$(tier "$M/$p")" "tier of $p after setting cold on d"
done
assert_eq hot "$(tier "$M/h")" "a file outside d after setting cold on d"
expect_errno "Invalid argument" xset "$M/d" tier lukewarm
drop_caches
for p in d/x d/y d/e/z d/e/f/w; do
	check_same "$R/${p//\//_}" "$M/$p"
done

# --- the user's own user.* -------------------------------------------------------------
note "user.* attributes of the user"
setfattr -n user.model -v minilm "$M/h"
setfattr -n user.dim -v 384 "$M/h"
setfattr -n user.note -v "on a dir" "$M/d"
assert_eq minilm "$(getfattr --absolute-names -n user.model --only-values "$M/h")"
assert_eq 384 "$(getfattr --absolute-names -n user.dim --only-values "$M/h")"
assert_eq "on a dir" "$(getfattr --absolute-names -n user.note --only-values "$M/d")"
"$PY" - "$M/h" "$M/d" <<'EOF'
import errno, os, sys
p, d = sys.argv[1], sys.argv[2]
names = set(os.listxattr(p))
for n in ("user.model", "user.dim"):
    assert n in names, (n, names)
assert not any(n.startswith("user.tierfs.") for n in names), names
assert "user.note" in os.listxattr(d), os.listxattr(d)
assert not any(n.startswith("user.tierfs.") for n in os.listxattr(d)), os.listxattr(d)
# binary values: NULs, high bytes, every byte value
vals = {"user.bin0": b"\x00", "user.bin": bytes(range(256)) * 3,
        "user.nul": b"a\x00b\x00\xff\xfe", "user.empty": b"",
        "user.big": os.urandom(65536)}
for n, v in vals.items():
    os.setxattr(p, n, v)
for n, v in vals.items():
    got = os.getxattr(p, n)
    assert got == v, (n, len(got), len(v))
# replace, XATTR_CREATE / XATTR_REPLACE
os.setxattr(p, "user.dim", b"768")
assert os.getxattr(p, "user.dim") == b"768"
try:
    os.setxattr(p, "user.dim", b"1", os.XATTR_CREATE)
    raise SystemExit("XATTR_CREATE on an existing name succeeded")
except OSError as e:
    assert e.errno == errno.EEXIST, e
try:
    os.setxattr(p, "user.nope", b"1", os.XATTR_REPLACE)
    raise SystemExit("XATTR_REPLACE on a missing name succeeded")
except OSError as e:
    assert e.errno == errno.ENODATA, e
# too large: more than 64 KiB
try:
    os.setxattr(p, "user.huge", b"x" * 65537)
    raise SystemExit("a 65537-byte value was accepted")
except OSError as e:
    assert e.errno in (errno.E2BIG, errno.ENOSPC, errno.ERANGE), e
os.setxattr(p, "user.dim", b"384")
EOF
tfs_umount
tfs_remount
note "after a remount"
"$PY" - "$M/h" <<'EOF'
import errno, os, sys
p = sys.argv[1]
assert os.getxattr(p, "user.model") == b"minilm"
assert os.getxattr(p, "user.dim") == b"384"
assert os.getxattr(p, "user.bin") == bytes(range(256)) * 3
assert os.getxattr(p, "user.nul") == b"a\x00b\x00\xff\xfe"
assert os.getxattr(p, "user.empty") == b""
assert len(os.getxattr(p, "user.big")) == 65536
for n in ("user.bin0", "user.bin", "user.nul", "user.empty", "user.big"):
    os.removexattr(p, n)
    try:
        os.getxattr(p, n)
        raise SystemExit("%s still there after removexattr" % n)
    except OSError as e:
        assert e.errno == errno.ENODATA, e
    assert n not in os.listxattr(p), n
try:
    os.removexattr(p, "user.never")
    raise SystemExit("removing a missing attribute succeeded")
except OSError as e:
    assert e.errno == errno.ENODATA, e
left = sorted(os.listxattr(p))
assert left == ["user.dim", "user.model"], left
EOF
assert_eq "on a dir" "$(getfattr --absolute-names -n user.note --only-values "$M/d")"
setfattr -x user.note "$M/d"
expect_errno "No such attribute" getfattr -n user.note "$M/d"
assert_eq cold "$(tier "$M/d/e/f/w")" "tier of d/e/f/w after remount"

# --- POSIX ACLs: stored, mode in step (test_acl.sh has the rest) -------------------------
note "system.posix_acl_access"
"$PY" - "$M/h" <<'EOF'
import errno, os, stat, struct, sys
p = sys.argv[1]
os.chmod(p, 0o644)
# a valid extended ACL: user::rw- user:65534:r-- group::r-- mask::r-- other::r--
ents = [(0x01, 6, 0xffffffff), (0x02, 4, 65534), (0x04, 4, 0xffffffff),
        (0x10, 4, 0xffffffff), (0x20, 4, 0xffffffff)]
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in ents)
os.setxattr(p, "system.posix_acl_access", acl)
assert os.getxattr(p, "system.posix_acl_access") == acl
assert "system.posix_acl_access" in os.listxattr(p), os.listxattr(p)
assert stat.S_IMODE(os.stat(p).st_mode) == 0o644, oct(os.stat(p).st_mode)
# other system.* names are not supported
try:
    os.setxattr(p, "system.other", b"x")
    raise SystemExit("setting system.other succeeded")
except OSError as e:
    assert e.errno == errno.EOPNOTSUPP, "set: %s (want EOPNOTSUPP)" % e
os.removexattr(p, "system.posix_acl_access")
try:
    os.getxattr(p, "system.posix_acl_access")
    raise SystemExit("system.posix_acl_access still there")
except OSError as e:
    assert e.errno == errno.ENODATA, e
EOF
tfs_umount

# --- -o list_tier_xattrs: getfattr -d shows them ------------------------------------
note "-o list_tier_xattrs"
tfs_mount -o hot_max=256M,list_tier_xattrs
dump=$(getfattr --absolute-names -d "$M/h")
for a in tier pin stored ratio atime accesses reason; do
	grep -qE "^user\.tierfs\.$a=\"[^\"]+\"\$" <<<"$dump" ||
		fail "getfattr -d with list_tier_xattrs does not show user.tierfs.$a: $dump"
done
grep -q '^user.model="minilm"$' <<<"$dump" || fail "getfattr -d: user.model missing: $dump"
! getfattr --absolute-names -d "$M/d" 2>/dev/null | grep -q user.tierfs ||
	fail "getfattr -d on a directory shows user.tierfs.*"
tfs_umount
