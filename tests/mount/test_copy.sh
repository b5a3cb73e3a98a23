#!/bin/bash
# cp -a, rsync -aXH and tar with tierfs on either side:
#  - from the host into tierfs, from tierfs to the host, within tierfs, and
#    a host copy back into tierfs: all exit 0, and the copy has the same
#    names, types, contents (also with the kernel cache dropped), modes,
#    owners, mtimes (ns), symlink targets, hard links and exactly the user's
#    own user.* attributes as the original tree.
#  - the synthetic user.tierfs.* names are not listed, so no copy carries
#    them: a host copy has none, a copy within tierfs is new data (hot).
#  - an rsync run again on an unchanged tree succeeds and changes nothing,
#    attributes included; an rsync -aX round trip (out to the host and back
#    in) compared with rsync -n --checksum -aX reports no difference.
#  - a host file that does carry user.tierfs.* (copied by an older tierfs
#    that listed them) still goes back in: tier and pin take effect, the
#    read-only facts are ignored.
# The tree: files of 0 B, 1 B, 3 KiB, 200 KiB, a 1536-byte minilm vector
# with user.model=minilm and user.dim=384, a binary attribute, a subdir with
# an attribute, symlinks and a hard link.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
H=$TFS_TMP/host
tfs_corpora || fail "corpora not found ($VEC, $MOD)"
VEC=$VEC/v00000.f32
mkdir "$H"
ROOT=0
[ "$(id -u)" != 0 ] || ROOT=1

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }

# --- the original tree, on the host ----------------------------------------------------
S=$H/src
mkdir -p "$S/sub/deeper"
: >"$S/empty"
printf x >"$S/one"
head -c 3072 /dev/urandom >"$S/three_k"
head -c 204800 /dev/urandom >"$S/big"
if [ -r "$VEC" ]; then
	cp "$VEC" "$S/vec.f32"
else
	note "$VEC not found: a random 1536-byte vector instead"
	head -c 1536 /dev/urandom >"$S/vec.f32"
fi
"$PY" - "$S/sub/nested.txt" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("".join("nested line %d\n" % i for i in range(400)))
EOF
printf 'deep\n' >"$S/sub/deeper/leaf"
ln -s three_k "$S/link"
ln -s ../vec.f32 "$S/sub/uplink"
ln -s does-not-exist "$S/dangling"
ln "$S/big" "$S/big.hardlink"
setfattr -n user.model -v minilm "$S/vec.f32"
setfattr -n user.dim -v 384 "$S/vec.f32"
"$PY" -c "import os; os.setxattr('$S/three_k', 'user.bin', b'\x00\x01\xff\xfeend\x00')"
setfattr -n user.note -v "a directory attribute" "$S/sub"
setfattr -n user.big.attr -v "$(head -c 3000 /dev/zero | tr '\0' 'v')" "$S/big"
chmod 0600 "$S/empty"
chmod 0644 "$S/one" "$S/vec.f32"
chmod 0640 "$S/three_k"
chmod 0755 "$S/big"
chmod 0444 "$S/sub/deeper/leaf"
chmod 0750 "$S/sub"
chmod 0711 "$S/sub/deeper"
[ "$ROOT" = 0 ] || chown 65534:65534 "$S/one" "$S/sub/deeper"
# distinct whole-second and sub-second mtimes, directories last
n=0
for p in empty one three_k big vec.f32 sub/nested.txt sub/deeper/leaf; do
	n=$((n + 1))
	touch -m -d "2021-0$((n % 9 + 1))-1$n 10:2$n:3$n.12345678$n" "$S/$p"
done
touch -h -m -d "2019-05-06 07:08:09" "$S/link" "$S/sub/uplink" "$S/dangling"
touch -m -d "2020-02-02 02:02:02.5" "$S/sub/deeper"
touch -m -d "2020-03-03 03:03:03" "$S/sub"
touch -m -d "2020-04-04 04:04:04" "$S"

# compare.py ORIG COPY [notes...]: the same tree; notes: noxattr (plain tar),
# noroot (the top dir was made by mkdir), secs (mtimes to the second)
cat >"$TFS_TMP/compare.py" <<'EOF'
import os, stat, sys

orig, copy = sys.argv[1], sys.argv[2]
notes = set(sys.argv[3:])
root = os.geteuid() == 0
bad = []

def walk(top):
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, top)] = p
    out["."] = top
    return out

def uxattrs(p):
    out = {}
    for n in os.listxattr(p, follow_symlinks=False):
        if n.startswith("user.tierfs."):
            bad.append("%s lists the synthetic %s" % (p, n))
        if n.startswith("user."):
            out[n] = os.getxattr(p, n, follow_symlinks=False)
    return out

a, b = walk(orig), walk(copy)
if set(a) != set(b):
    bad.append("names differ: only in original %s, only in copy %s"
               % (sorted(set(a) - set(b)), sorted(set(b) - set(a))))
links_a, links_b = {}, {}
for rel in sorted(set(a) & set(b)):
    pa, pb = a[rel], b[rel]
    sa, sb = os.lstat(pa), os.lstat(pb)
    if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
        bad.append("%s: type %o vs %o" % (rel, stat.S_IFMT(sa.st_mode), stat.S_IFMT(sb.st_mode)))
        continue
    top = rel == "." and "noroot" in notes
    if stat.S_ISLNK(sa.st_mode):
        if os.readlink(pa) != os.readlink(pb):
            bad.append("%s: symlink to %r vs %r" % (rel, os.readlink(pa), os.readlink(pb)))
    else:
        if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode) and not top:
            bad.append("%s: mode %o vs %o" % (rel, stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)))
        if "noxattr" not in notes and uxattrs(pa) != uxattrs(pb):
            bad.append("%s: user.* attributes %s vs %s" % (rel, uxattrs(pa), uxattrs(pb)))
    if root and not top and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
        bad.append("%s: owner %d:%d vs %d:%d" % (rel, sa.st_uid, sa.st_gid, sb.st_uid, sb.st_gid))
    ma, mb = sa.st_mtime_ns, sb.st_mtime_ns
    if "secs" in notes:
        ma, mb = ma // 10**9, mb // 10**9
    if ma != mb and not top:
        bad.append("%s: mtime %d vs %d" % (rel, ma, mb))
    if stat.S_ISREG(sa.st_mode):
        if sa.st_size != sb.st_size:
            bad.append("%s: size %d vs %d" % (rel, sa.st_size, sb.st_size))
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            if fa.read() != fb.read():
                bad.append("%s: contents differ" % rel)
        links_a.setdefault(sa.st_ino, set()).add(rel)
        links_b.setdefault(sb.st_ino, set()).add(rel)
ga = sorted(sorted(g) for g in links_a.values() if len(g) > 1)
gb = sorted(sorted(g) for g in links_b.values() if len(g) > 1)
if ga != gb:
    bad.append("hard links: %s in the original, %s in the copy" % (ga, gb))
if bad:
    sys.exit("copy %s differs from %s:\n  %s" % (copy, orig, "\n  ".join(bad)))
EOF
# same ORIG COPY [notes]: compare, and again with the kernel cache dropped
same()
{
	"$PY" "$TFS_TMP/compare.py" "$@"
	drop_caches
	"$PY" "$TFS_TMP/compare.py" "$@"
}
# run CMD...: must exit 0 and print nothing on stderr
run()
{
	local err rc=0
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 0 ] && [ -z "$err" ] ||
		fail "exit $rc: $*: $(head -n 4 <<<"$err")$([ "$(wc -l <<<"$err")" -le 4 ] || echo " ...")"
}
# unchanged CMD...: an rsync re-run that must succeed and transfer nothing,
# not even attributes.
unchanged()
{
	local out rc=0
	out=$("$@" --itemize-changes 2>&1) || rc=$?
	[ "$rc" = 0 ] || fail "exit $rc: $*: $(head -n 4 <<<"$out")"
	[ -z "$out" ] || fail "rsync of an unchanged tree changed something: $*: $out"
}
# nodiff A/ B/: rsync -n --checksum -aXH finds no difference (contents by
# checksum, metadata, user attributes)
nodiff()
{
	local out rc=0
	out=$(rsync -n --checksum -aXH --itemize-changes "$1" "$2" 2>&1) || rc=$?
	[ "$rc" = 0 ] || fail "exit $rc: rsync -n --checksum -aXH $1 $2: $(head -n 4 <<<"$out")"
	[ -z "$out" ] || fail "rsync -n --checksum -aXH $1 $2 reports differences: $out"
}
"$PY" "$TFS_TMP/compare.py" "$S" "$S"

# promote_after=1000: reads never move files, so tiers stay as set
tfs_mount -o hot_max=256M,promote_after=1000

# --- host -> tierfs -----------------------------------------------------------------------------
note "host -> tierfs: cp -a"
run cp -a "$S" "$M/cp_in"
same "$S" "$M/cp_in"
note "host -> tierfs: tar"
mkdir "$M/tar_in" "$M/tarx_in"
(cd "$S" && tar cf - .) | (cd "$M/tar_in" && tar xf -)
same "$S" "$M/tar_in" noxattr noroot secs
(cd "$S" && tar --xattrs -cf - .) |
	(cd "$M/tarx_in" && tar --xattrs --xattrs-include='user.*' -xf -)
same "$S" "$M/tarx_in" noroot secs
note "host -> tierfs: rsync -aXH"
run rsync -aXH "$S/" "$M/rs_in/"
same "$S" "$M/rs_in"
unchanged rsync -aXH "$S/" "$M/rs_in/"

# spread the copies over the tiers
for d in cp_in rs_in; do
	set_tier "$M/$d/big" cold
	set_tier "$M/$d/vec.f32" cold
	set_tier "$M/$d/three_k" warm
	set_tier "$M/$d/sub/nested.txt" warm
	setfattr -n user.tierfs.pin -v warm "$M/$d/one"
done
same "$S" "$M/cp_in"
same "$S" "$M/rs_in"

# --- tierfs -> host ------------------------------------------------------------------------------------
note "tierfs -> host: cp -a"
run cp -a "$M/cp_in" "$H/out_cp"
same "$S" "$H/out_cp"
! getfattr --absolute-names -R -d -m - "$H/out_cp" 2>/dev/null | grep -q 'user\.tierfs\.' ||
	fail "cp -a carried user.tierfs.* to the host: $(getfattr -R -d -m - "$H/out_cp" 2>&1 | grep tierfs | head -3)"
note "tierfs -> host: rsync -aXH"
run rsync -aXH "$M/rs_in/" "$H/out_rs/"
same "$S" "$H/out_rs"
unchanged rsync -aXH "$M/rs_in/" "$H/out_rs/"
nodiff "$M/rs_in/" "$H/out_rs/"
! getfattr --absolute-names -R -d -m - "$H/out_rs" 2>/dev/null | grep -q 'user\.tierfs\.' ||
	fail "rsync -aX carried user.tierfs.* to the host"
note "tierfs -> host: tar"
mkdir "$H/out_tar"
(cd "$M/cp_in" && tar --xattrs -cf - .) |
	(cd "$H/out_tar" && tar --xattrs --xattrs-include='user.*' -xf -)
same "$S" "$H/out_tar" noroot secs
! getfattr --absolute-names -R -d -m - "$H/out_tar" 2>/dev/null | grep -q 'user\.tierfs\.' ||
	fail "tar --xattrs carried user.tierfs.* to the host"
(cd "$M/cp_in" && tar --xattrs -cf "$TFS_TMP/x.tar" .)
grep -aq 'SCHILY.xattr.user.model' "$TFS_TMP/x.tar" ||
	fail "the tar --xattrs archive lacks the user's own user.model"
if grep -aq 'user\.tierfs\.' "$TFS_TMP/x.tar"; then
	fail "the tar --xattrs archive of a tierfs tree names user.tierfs.*"
fi

# --- within tierfs --------------------------------------------------------------------------------
note "within tierfs: cp -a, rsync -aXH, tar"
run cp -a "$M/cp_in" "$M/cp_within"
same "$S" "$M/cp_within"
run rsync -aXH "$M/rs_in/" "$M/rs_within/"
same "$S" "$M/rs_within"
unchanged rsync -aXH "$M/rs_in/" "$M/rs_within/"
mkdir "$M/tar_within"
(cd "$M/cp_in" && tar cf - .) | (cd "$M/tar_within" && tar xf -)
same "$S" "$M/tar_within" noxattr noroot secs
# a copy is new data: hot and unpinned, whatever its original's tier
for d in cp_within rs_within; do
	for p in big vec.f32 big.hardlink three_k sub/nested.txt; do
		assert_eq hot "$(tier "$M/$d/$p")" "tier of $d/$p (a copy is new data)"
	done
	assert_eq none "$(getfattr --absolute-names -n user.tierfs.pin --only-values "$M/$d/one")" \
		"pin of $d/one (pins are not copied)"
done
# the originals did not move
assert_eq cold "$(tier "$M/cp_in/big")" "tier of the original cp_in/big"
assert_eq warm "$(tier "$M/cp_in/three_k")" "tier of the original cp_in/three_k"

# --- host copies with inert user.tierfs.* back into tierfs ---------------------------------------
note "host copies back into tierfs"
run rsync -aXH "$H/out_rs/" "$M/back_rs/"
same "$S" "$M/back_rs"
nodiff "$M/rs_in/" "$M/back_rs/"
nodiff "$S/" "$M/back_rs/"
run cp -a "$H/out_cp" "$M/back_cp"
same "$S" "$M/back_cp"
assert_eq hot "$(tier "$M/back_rs/big")" "tier of back_rs/big"
assert_eq hot "$(tier "$M/back_cp/big")" "tier of back_cp/big"

note "a host copy that carries user.tierfs.* (from an older tierfs) goes back in"
mkdir "$H/legacy"
cp "$S/big" "$S/one" "$H/legacy/"
setfattr -n user.tierfs.tier -v cold "$H/legacy/big"
setfattr -n user.tierfs.stored -v 12 "$H/legacy/big"
setfattr -n user.tierfs.reason -v "idle 1s > age 0s" "$H/legacy/big"
setfattr -n user.tierfs.pin -v warm "$H/legacy/one"
run rsync -aXH "$H/legacy/" "$M/legacy/"
assert_eq cold "$(tier "$M/legacy/big")" "tier of legacy/big (its user.tierfs.tier was cold)"
assert_eq warm "$(getfattr --absolute-names -n user.tierfs.pin --only-values "$M/legacy/one")" \
	"pin of legacy/one"
check_same "$S/big" "$M/legacy/big"

# --- all of it again after a remount ----------------------------------------------------------------
tfs_umount
tfs_remount
note "after a remount"
for d in cp_in rs_in cp_within rs_within back_rs back_cp; do
	same "$S" "$M/$d"
done
same "$S" "$M/tar_in" noxattr noroot secs
tfs_umount
