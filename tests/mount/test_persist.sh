#!/bin/bash
# A remount keeps everything: content, modes, owners, mtimes to the
# nanosecond, xattrs, hard links (same inode number, link count), symlinks,
# directories, fifos; and so do later changes (chmod, chown, xattr removal,
# unlink of one link, rename, overwrite, truncate). Checked with a manifest
# (manifest.py) taken before unmounting and after remounting.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
MANIFEST=$TFS_DIR/manifest.py
tfs_mount
M=$TFS_MNT
R=$TFS_REF
cd "$M"

# --- build a tree -------------------------------------------------------------------
mkdir -p deep/a/b/c/d empty sticky private owned
echo "plain text" >plain.txt
head -c 102400 /dev/urandom >"$R/random.bin"
cp "$R/random.bin" random.bin
head -c 3072 /dev/urandom >small3k
: >empty.file
"$PY" -c 'import sys; f = open(sys.argv[1], "wb"); f.seek(10 << 20); f.write(b"x"); f.close()' sparse
echo "deep" >deep/a/b/c/d/leaf
chmod 0600 plain.txt
chmod 0755 random.bin
chmod 4755 small3k
chmod 2750 empty.file
chmod 0444 deep/a/b/c/d/leaf
chmod 1777 sticky
chmod 0700 private
chown 1234:5678 plain.txt owned
# xattrs
setfattr -n user.model -v "e5-large" random.bin
setfattr -n user.dim -v 1024 random.bin
setfattr -n user.empty random.bin
setfattr -n user.bin -v 0x00ff00ff7f random.bin
for i in $(seq 1 20); do setfattr -n "user.k$i" -v "value $i" small3k; done
setfattr -n user.ondir -v dirvalue deep
# hard links across directories
echo "linked" >deep/hl
ln deep/hl hl2
ln deep/hl deep/a/hl3
# symlinks
ln -s plain.txt rel.link
ln -s "$M/random.bin" abs.link
ln -s /does/not/exist dangling.link
ln -s deep/a dir.link
chown -h 1234:5678 rel.link
# a fifo
mkfifo fifo
# things that happened before the first unmount
echo "to be deleted" >gone
rm gone
echo "old name" >oldname
mv oldname newname
head -c 200000 /dev/urandom >overwritten
echo "new content" >overwritten
head -c 300000 /dev/urandom >"$R/truncated"
cp "$R/truncated" truncated
truncate -s 70000 truncated
truncate -s 70000 "$R/truncated"
# times last (creating entries changes the parent's mtime)
touch -d "2003-04-05 06:07:08.123456789" plain.txt
touch -d "1999-12-31 23:59:59.999999999" random.bin
touch -h -d "2010-01-01 00:00:00.000000001" rel.link
touch -d "2020-02-02 02:02:02.2" deep/a/b/c/d deep
"$PY" -c 'import os, sys; os.utime(sys.argv[1], ns=(1, 1_600_000_000_123_456_789))' small3k

"$PY" "$MANIFEST" dump "$M" "$TFS_TMP/m1.json"
tfs_umount
tfs_remount
cd "$M"
"$PY" "$MANIFEST" dump "$M" "$TFS_TMP/m2.json"
"$PY" "$MANIFEST" diff "$TFS_TMP/m1.json" "$TFS_TMP/m2.json" ||
	fail "the tree changed across a remount (see above)"

# the same facts with ordinary tools
assert_eq "2003-04-05 06:07:08.123456789 +0000" "$(stat -c %y plain.txt)" "mtime of plain.txt"
assert_eq "1999-12-31 23:59:59.999999999 +0000" "$(stat -c %y random.bin)" "mtime of random.bin"
assert_eq "2020-09-13 12:26:40.123456789 +0000" "$(stat -c %y small3k)" "mtime of small3k"
assert_eq 600 "$(stat -c %a plain.txt)" "mode of plain.txt"
assert_eq 4755 "$(stat -c %a small3k)" "mode of small3k"
assert_eq 2750 "$(stat -c %a empty.file)" "mode of empty.file"
assert_eq 1777 "$(stat -c %a sticky)" "mode of sticky"
assert_eq 1234:5678 "$(stat -c %u:%g plain.txt)" "owner of plain.txt"
assert_eq 1234:5678 "$(stat -c %u:%g owned)" "owner of owned/"
assert_eq 1234:5678 "$(stat -c %u:%g rel.link)" "owner of a symlink"
check_same "$R/random.bin" random.bin
check_same "$R/truncated" truncated
assert_eq "new content" "$(cat overwritten)" "overwritten file"
assert_eq "old name" "$(cat newname)" "renamed file"
[ ! -e gone ] || fail "a deleted file came back"
[ ! -e oldname ] || fail "a renamed file's old name came back"
assert_eq $(((10 << 20) + 1)) "$(stat -c %s sparse)" "size of sparse"
assert_eq e5-large "$(getfattr -n user.model --only-values random.bin)" "user.model"
assert_eq "value 17" "$(getfattr -n user.k17 --only-values small3k)" "user.k17"
assert_eq 3 "$(stat -c %h hl2)" "link count of hl2"
assert_eq "$(stat -c %i deep/hl)" "$(stat -c %i deep/a/hl3)" "inode of hard links"
assert_eq plain.txt "$(readlink rel.link)" "rel.link"
assert_eq "plain text" "$(cat rel.link)" "read through rel.link"
assert_eq fifo "$(stat -c %F fifo)" "type of fifo"
assert_eq deep "$(cat dir.link/b/c/d/leaf)" "through a symlink to a dir"

# --- change things, remount again -------------------------------------------------
chmod 0640 random.bin
chown 42:43 small3k
setfattr -x user.dim random.bin
setfattr -n user.model -v "changed" random.bin
rm deep/a/hl3
mv deep/a/b "moved b"
echo "appended" >>plain.txt
rm dangling.link
rmdir empty
mkdir "new dir"
echo "late file" >"new dir/late"
"$PY" "$MANIFEST" dump "$M" "$TFS_TMP/m3.json"
tfs_umount
drop_caches
tfs_remount
cd "$M"
"$PY" "$MANIFEST" dump "$M" "$TFS_TMP/m4.json"
"$PY" "$MANIFEST" diff "$TFS_TMP/m3.json" "$TFS_TMP/m4.json" ||
	fail "changes were not kept across a remount (see above)"
assert_eq 2 "$(stat -c %h hl2)" "link count after unlinking one link"
expect_errno "No such attribute" getfattr -n user.dim random.bin
cd /
tfs_umount
