#!/bin/bash
# Every namespace operation of issue 2 item 3, checked with ordinary tools
# (and python3 where the exact errno or a flag matters): mkdir/rmdir,
# create/unlink, rename (over a file, dirs, NOREPLACE, EXCHANGE), hard links,
# symlinks, chmod/chown/utimens, truncate, O_APPEND, O_TRUNC, sparse files,
# statfs, fifos, user.* xattrs, long names, permissions of other users,
# open-unlink, readdir, .tiers.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
# other users must reach the mountpoint through the private temp dir
chmod 0711 "$TFS_TMP"
tfs_mount -o allow_other,default_permissions
M=$TFS_MNT
cd "$M"

# Runs python code (stdin) with M set; its failures are assertion errors.
pyrun() { "$PY" - "$M" "$@"; }

# --- mkdir / rmdir ------------------------------------------------------------
note "mkdir/rmdir"
mkdir d
assert_eq directory "$(stat -c %F d)" "type of d"
mkdir -p d/sub/subsub
touch d/f
expect_errno "File exists" mkdir d
expect_errno "Directory not empty" rmdir d
expect_errno "Not a directory" rmdir d/f
expect_errno "No such file or directory" rmdir nonexistent
rm d/f
rmdir d/sub/subsub d/sub d
[ ! -e d ] || fail "d still exists after rmdir"
pyrun <<'EOF'
import errno, os, sys
m = sys.argv[1]
os.mkdir(m + "/e")
open(m + "/e/x", "w").close()
try:
    os.rmdir(m + "/e")
    raise SystemExit("rmdir of a non-empty dir succeeded")
except OSError as e:
    assert e.errno == errno.ENOTEMPTY, e
os.unlink(m + "/e/x")
os.rmdir(m + "/e")
assert not os.path.exists(m + "/e")
EOF

# --- create / unlink ------------------------------------------------------------
note "create/unlink"
echo "content" >c.txt
assert_eq content "$(cat c.txt)" "c.txt"
assert_eq regular "$(stat -c %F c.txt | cut -d' ' -f1)" "type of c.txt"
assert_eq 0:0 "$(stat -c %u:%g c.txt)" "owner of a file root created"
rm c.txt
[ ! -e c.txt ] || fail "c.txt exists after unlink"
expect_errno "No such file or directory" rm nonexistent
expect_errno "No such file or directory" cat nonexistent
: >empty
assert_eq 0 "$(stat -c %s empty)" "size of empty file"
rm empty

# --- rename -----------------------------------------------------------------------
note "rename"
echo A >a
echo B >b
ino_a=$(stat -c %i a)
mv -f a b
[ ! -e a ] || fail "a still exists after mv a b"
assert_eq A "$(cat b)" "b after rename over it"
assert_eq "$ino_a" "$(stat -c %i b)" "inode of b after mv a b"
mkdir -p d1/x
echo deep >d1/x/f
mv d1 d2
[ ! -e d1 ] || fail "d1 exists after mv d1 d2"
assert_eq deep "$(cat d2/x/f)" "file in renamed dir"
mv d2/x/f g
assert_eq deep "$(cat g)" "file moved out of a dir"
[ ! -e d2/x/f ] || fail "d2/x/f still there"
mv g d2/x/renamed
assert_eq deep "$(cat d2/x/renamed)" "file moved into a dir"
mv d2/x dx
assert_eq deep "$(cat dx/renamed)" "file in a dir moved to another parent"
assert_eq "$(stat -c %i "$M")" "$(stat -c %i dx/..)" "inode of .. after moving a dir"
rm -rf d2 dx b
pyrun <<'EOF'
import errno, os, sys
m = sys.argv[1]
def expect(err, f, *a):
    try:
        f(*a)
    except OSError as e:
        assert e.errno == err, (e, f, a)
        return
    raise SystemExit("expected %s from %s%s" % (errno.errorcode[err], f.__name__, a))
os.makedirs(m + "/r/empty")
os.makedirs(m + "/r/full/sub")
os.makedirs(m + "/r/src/inner")
open(m + "/r/src/inner/f", "w").write("x")
open(m + "/r/file", "w").write("file")
# dir over an empty dir: allowed
os.rename(m + "/r/src", m + "/r/empty")
assert open(m + "/r/empty/inner/f").read() == "x"
assert not os.path.exists(m + "/r/src")
# dir over a non-empty dir
expect(errno.ENOTEMPTY, os.rename, m + "/r/empty", m + "/r/full")
# file over dir, dir over file
expect(errno.EISDIR, os.rename, m + "/r/file", m + "/r/full")
expect(errno.ENOTDIR, os.rename, m + "/r/full", m + "/r/file")
# a dir into its own subtree
expect(errno.EINVAL, os.rename, m + "/r/full", m + "/r/full/sub/x")
# missing source
expect(errno.ENOENT, os.rename, m + "/r/nothing", m + "/r/x")
# rename onto itself (same inode) is a no-op
os.rename(m + "/r/file", m + "/r/file")
assert open(m + "/r/file").read() == "file"
# hard link over its own other name: both stay (POSIX)
os.link(m + "/r/file", m + "/r/file2")
os.rename(m + "/r/file", m + "/r/file2")
assert os.path.exists(m + "/r/file2")
EOF
rm -rf r

note "renameat2 NOREPLACE / EXCHANGE"
pyrun <<'EOF'
import ctypes, errno, os, sys
m = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
NOREPLACE, EXCHANGE = 1, 2
def renameat2(a, b, flags):
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        r = fn(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), ctypes.c_uint(flags))
    else:  # x86_64 syscall number
        r = libc.syscall(316, AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags)
    return 0 if r == 0 else ctypes.get_errno()
def rd(p):
    with open(p) as f:
        return f.read()
os.mkdir(m + "/x2")
open(m + "/x2/a", "w").write("AAA")
open(m + "/x2/b", "w").write("BBB")
ia, ib = os.stat(m + "/x2/a").st_ino, os.stat(m + "/x2/b").st_ino
# NOREPLACE onto an existing name: EEXIST, nothing changes
assert renameat2(m + "/x2/a", m + "/x2/b", NOREPLACE) == errno.EEXIST
assert rd(m + "/x2/a") == "AAA" and rd(m + "/x2/b") == "BBB"
# NOREPLACE onto a free name works
assert renameat2(m + "/x2/a", m + "/x2/c", NOREPLACE) == 0
assert not os.path.exists(m + "/x2/a") and rd(m + "/x2/c") == "AAA"
assert os.stat(m + "/x2/c").st_ino == ia
# EXCHANGE two files: names swap inodes and contents
assert renameat2(m + "/x2/c", m + "/x2/b", EXCHANGE) == 0
assert rd(m + "/x2/c") == "BBB" and rd(m + "/x2/b") == "AAA"
assert os.stat(m + "/x2/b").st_ino == ia and os.stat(m + "/x2/c").st_ino == ib
# EXCHANGE a file with a directory, across directories
os.makedirs(m + "/x3/dir")
open(m + "/x3/dir/inside", "w").write("in")
assert renameat2(m + "/x2/b", m + "/x3/dir", EXCHANGE) == 0
assert os.path.isdir(m + "/x2/b") and rd(m + "/x2/b/inside") == "in"
assert rd(m + "/x3/dir") == "AAA"
# EXCHANGE with a missing name: ENOENT
assert renameat2(m + "/x2/c", m + "/x2/missing", EXCHANGE) == errno.ENOENT
assert rd(m + "/x2/c") == "BBB"
# the listing agrees
assert sorted(os.listdir(m + "/x2")) == ["b", "c"], os.listdir(m + "/x2")
assert sorted(os.listdir(m + "/x3")) == ["dir"]
EOF
rm -rf x2 x3

# --- hard links -------------------------------------------------------------------
note "hard links"
mkdir hl
echo "shared" >hl/h1
ln hl/h1 hl/h2
ln hl/h1 h3
assert_eq 3 "$(stat -c %h hl/h1)" "link count of h1"
assert_eq "$(stat -c %i hl/h1)" "$(stat -c %i hl/h2)" "inode of h1 and h2"
assert_eq "$(stat -c %i hl/h1)" "$(stat -c %i h3)" "inode of h1 and h3"
echo "appended" >>hl/h2
assert_eq "shared
appended" "$(cat hl/h1)" "content through the other link"
chmod 0600 h3
assert_eq 600 "$(stat -c %a hl/h1)" "mode shared by links"
rm hl/h1
assert_eq 2 "$(stat -c %h hl/h2)" "link count after unlink"
assert_eq "shared
appended" "$(cat h3)" "content after unlinking one link"
expect_errno "File exists" ln h3 hl/h2
pyrun <<'EOF'
import errno, os, sys
m = sys.argv[1]
try:
    os.link(m + "/hl", m + "/hl_dirlink")
    raise SystemExit("hard link to a directory succeeded")
except OSError as e:
    assert e.errno == errno.EPERM, e
EOF
rm h3 hl/h2
rmdir hl

# --- symlinks ---------------------------------------------------------------------
note "symlinks"
echo target-content >tgt
ln -s tgt sl
assert_eq tgt "$(readlink sl)" "readlink sl"
assert_eq "symbolic link" "$(stat -c %F sl)" "type of sl"
assert_eq 3 "$(stat -c %s sl)" "size of a symlink (target length)"
assert_eq target-content "$(cat sl)" "read through symlink"
ln -s /nonexistent/dangling dangling
assert_eq /nonexistent/dangling "$(readlink dangling)" "dangling symlink"
[ ! -e dangling ] || fail "dangling symlink resolves"
long=$(printf 'seg%04d/' $(seq 1 200))
ln -s "$long" longlink
assert_eq "$long" "$(readlink longlink)" "readlink of a 1600-byte target"
mkdir sld
ln -s ../tgt sld/rel
assert_eq target-content "$(cat sld/rel)" "relative symlink in a subdir"
expect_errno "File exists" ln -s x sl
rm sl dangling longlink sld/rel tgt
rmdir sld

# --- chmod / chown / utimens ------------------------------------------------------
note "chmod/chown/utimens"
echo t >t.txt
chmod 0640 t.txt
assert_eq 640 "$(stat -c %a t.txt)" "mode after chmod 0640"
chmod 4755 t.txt
assert_eq 4755 "$(stat -c %a t.txt)" "mode after chmod 4755"
chmod 0000 t.txt
assert_eq 0 "$(stat -c %a t.txt)" "mode after chmod 0"
chmod 0644 t.txt
mkdir modedir
chmod 0750 modedir
assert_eq 750 "$(stat -c %a modedir)" "dir mode"
chown 1234:5678 t.txt
assert_eq 1234:5678 "$(stat -c %u:%g t.txt)" "owner after chown"
chown 4321 t.txt
assert_eq 4321:5678 "$(stat -c %u:%g t.txt)" "owner after chown of the uid only"
chgrp 42 t.txt
assert_eq 4321:42 "$(stat -c %u:%g t.txt)" "owner after chgrp"
touch -d "2001-02-03 04:05:06.123456789" t.txt
assert_eq "2001-02-03 04:05:06.123456789 +0000" "$(stat -c %y t.txt)" "mtime after touch -d"
assert_eq "2001-02-03 04:05:06.123456789 +0000" "$(stat -c %x t.txt)" "atime after touch -d"
# atime only: mtime is UTIME_OMIT
touch -a -d "2002-03-04 05:06:07.5" t.txt
assert_eq "2002-03-04 05:06:07.500000000 +0000" "$(stat -c %x t.txt)" "atime after touch -a"
assert_eq "2001-02-03 04:05:06.123456789 +0000" "$(stat -c %y t.txt)" "mtime kept by touch -a"
# mtime only to now: atime is UTIME_OMIT, mtime UTIME_NOW
t0=$(date +%s)
touch -m t.txt
t1=$(date +%s)
mt=$(stat -c %Y t.txt)
if [ "$mt" -lt $((t0 - 2)) ] || [ "$mt" -gt $((t1 + 2)) ]; then
	fail "mtime after touch -m is $mt, not now ($t0..$t1)"
fi
assert_eq "2002-03-04 05:06:07.500000000 +0000" "$(stat -c %x t.txt)" "atime kept by touch -m"
pyrun <<'EOF'
import ctypes, os, sys, time
m = sys.argv[1]
p = m + "/t.txt"
os.utime(p, ns=(1_000_000_001, 2_000_000_002))
st = os.stat(p)
assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_001, 2_000_000_002), st
# explicit UTIME_NOW / UTIME_OMIT through utimensat(2)
class timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
libc = ctypes.CDLL(None, use_errno=True)
def utimensat(a, mt):
    ts = (timespec * 2)(timespec(*a), timespec(*mt))
    if libc.utimensat(-100, p.encode(), ts, 0) != 0:
        raise OSError(ctypes.get_errno(), "utimensat")
utimensat((0, UTIME_OMIT), (1234567890, 987654321))
st = os.stat(p)
assert st.st_atime_ns == 1_000_000_001, st
assert st.st_mtime_ns == 1234567890_987654321, st
t0 = time.time_ns()
utimensat((0, UTIME_NOW), (0, UTIME_OMIT))
t1 = time.time_ns()
st = os.stat(p)
assert st.st_mtime_ns == 1234567890_987654321, st
assert t0 - 2_000_000_000 <= st.st_atime_ns <= t1 + 2_000_000_000, (t0, st, t1)
# a write moves mtime forward from the past
os.utime(p, ns=(0, 0))
with open(p, "a") as f:
    f.write("more")
assert os.stat(p).st_mtime_ns > 10**18, os.stat(p)
# chmod changes ctime, not mtime
os.utime(p, ns=(5, 5))
c0 = os.stat(p).st_ctime_ns
os.chmod(p, 0o600)
st = os.stat(p)
assert st.st_mtime_ns == 5 and st.st_ctime_ns >= c0, st
EOF
rm t.txt
rmdir modedir

# --- truncate -------------------------------------------------------------------------
note "truncate"
head -c 100 /dev/urandom >"$TFS_REF/tr"
cp "$TFS_REF/tr" tr
truncate -s 70000 tr
truncate -s 70000 "$TFS_REF/tr"
assert_eq 70000 "$(stat -c %s tr)" "size after grow"
check_same "$TFS_REF/tr" tr
truncate -s 50 tr
truncate -s 50 "$TFS_REF/tr"
check_same "$TFS_REF/tr" tr
# grow again: the bytes cut off before must read as zeros
truncate -s 200000 tr
truncate -s 200000 "$TFS_REF/tr"
check_same "$TFS_REF/tr" tr
truncate -s 0 tr
assert_eq 0 "$(stat -c %s tr)" "size after truncate to 0"
# shrink within the second chunk, then grow, on a file of random data
head -c 300000 /dev/urandom >"$TFS_REF/tr2"
cp "$TFS_REF/tr2" tr2
for s in 131073 65536 65535 1 140000; do
	truncate -s $s tr2
	truncate -s $s "$TFS_REF/tr2"
	check_same "$TFS_REF/tr2" tr2
done
pyrun <<'EOF'
import os, sys
m = sys.argv[1]
p = m + "/ftr"
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"x" * 100000)
os.ftruncate(fd, 10)           # truncate through the open fd
assert os.fstat(fd).st_size == 10
os.write(fd, b"y")             # offset is still 100000
assert os.fstat(fd).st_size == 100001
assert os.pread(fd, 20, 0) == b"x" * 10 + b"\0" * 10
assert os.pread(fd, 1, 100000) == b"y"
os.close(fd)
assert os.stat(p).st_size == 100001
os.unlink(p)
EOF
rm tr tr2

# --- O_APPEND / O_TRUNC ---------------------------------------------------------
note "O_APPEND / O_TRUNC"
echo one >ap
echo two >>ap
assert_eq "one
two" "$(cat ap)" "after >>"
pyrun <<'EOF'
import os, sys
m = sys.argv[1]
p = m + "/ap"
fd = os.open(p, os.O_WRONLY | os.O_APPEND)
os.lseek(fd, 0, os.SEEK_SET)
os.write(fd, b"three\n")       # O_APPEND: lands at the end anyway
os.close(fd)
assert open(p, "rb").read() == b"one\ntwo\nthree\n"
# two appenders interleave without overwriting each other
a = os.open(p, os.O_WRONLY | os.O_APPEND)
b = os.open(p, os.O_WRONLY | os.O_APPEND)
for i in range(100):
    os.write(a, b"a" * 700)
    os.write(b, b"b" * 900)
os.close(a); os.close(b)
data = open(p, "rb").read()
assert len(data) == 14 + 100 * 1600, len(data)
assert data[14:].count(b"a") == 70000 and data[14:].count(b"b") == 90000
EOF
head -c 200000 /dev/urandom >otr
echo x >otr
assert_eq 2 "$(stat -c %s otr)" "size after O_TRUNC"
assert_eq x "$(cat otr)" "content after O_TRUNC"
rm ap otr

# --- sparse files ----------------------------------------------------------------------
note "sparse files"
pyrun <<'EOF'
import os, sys
m = sys.argv[1]
p = m + "/sparse"
off = 100 << 20
with open(p, "wb") as f:
    f.write(b"start")
    f.seek(off)
    f.write(b"end")
assert os.stat(p).st_size == off + 3
fd = os.open(p, os.O_RDONLY)
try:
    assert os.pread(fd, 5, 0) == b"start"
    for o in (5, 65536 - 10, 1 << 20, 50 << 20, off - 4096):
        assert os.pread(fd, 4096, o) == b"\0" * 4096, o
    assert os.pread(fd, 10, off - 2) == b"\0\0end"
    assert os.pread(fd, 10, off + 3) == b""
finally:
    os.close(fd)
EOF
{ printf start; } >"$TFS_REF/sparse"
truncate -s $((100 << 20)) "$TFS_REF/sparse"
printf end >>"$TFS_REF/sparse"
check_same "$TFS_REF/sparse" sparse
rm sparse "$TFS_REF/sparse"

# --- statfs ---------------------------------------------------------------------------
note "statfs"
stat -f "$M" >/dev/null
assert_eq 255 "$(stat -f -c %l "$M")" "statfs name length"
[ "$(stat -f -c %S "$M")" -gt 0 ] || fail "statfs block size is 0"
df "$M" >/dev/null
df -i "$M" >/dev/null

# --- fifos --------------------------------------------------------------------------
note "mkfifo"
mkfifo ff
assert_eq fifo "$(stat -c %F ff)" "type of ff"
timeout 60 cat ff >"$TFS_TMP/fifo.out" &
reader=$!
TFS_EXTRA_PIDS=("$reader")
echo "through the fifo" | timeout 60 tee ff >/dev/null
wait "$reader"
TFS_EXTRA_PIDS=()
assert_eq "through the fifo" "$(cat "$TFS_TMP/fifo.out")" "data through the fifo"
rm ff

# --- user.* xattrs -----------------------------------------------------------------------
note "xattrs"
echo x >xf
setfattr -n user.foo -v bar xf
assert_eq bar "$(getfattr -n user.foo --only-values xf)" "user.foo"
grep -q '^user.foo="bar"$' <<<"$(getfattr -d xf)" || fail "getfattr -d does not list user.foo: $(getfattr -d xf)"
setfattr -n user.foo -v baz xf
assert_eq baz "$(getfattr -n user.foo --only-values xf)" "user.foo replaced"
setfattr -x user.foo xf
expect_errno "No such attribute" getfattr -n user.foo xf
expect_errno "No such attribute" setfattr -x user.foo xf
mkdir xd
setfattr -n user.ondir -v yes xd
assert_eq yes "$(getfattr -n user.ondir --only-values xd)" "xattr on a dir"
pyrun <<'EOF'
import ctypes, errno, os, sys
m = sys.argv[1]
p = m + "/xf"
def expect(err, f, *a):
    try:
        f(*a)
    except OSError as e:
        assert e.errno == err, (e, f.__name__, a)
        return
    raise SystemExit("expected %s from %s%s" % (errno.errorcode[err], f.__name__, a))
os.setxattr(p, "user.a", b"1", os.XATTR_CREATE)
expect(errno.EEXIST, os.setxattr, p, "user.a", b"2", os.XATTR_CREATE)
assert os.getxattr(p, "user.a") == b"1"
expect(errno.ENODATA, os.setxattr, p, "user.b", b"2", os.XATTR_REPLACE)
expect(errno.ENODATA, os.getxattr, p, "user.b")
os.setxattr(p, "user.a", b"22", os.XATTR_REPLACE)
assert os.getxattr(p, "user.a") == b"22"
binv = bytes(range(256)) * 16          # 4 KiB with NULs
os.setxattr(p, "user.bin", binv)
assert os.getxattr(p, "user.bin") == binv
os.setxattr(p, "user.empty", b"")
assert os.getxattr(p, "user.empty") == b""
names = set(os.listxattr(p))
assert {"user.a", "user.bin", "user.empty"} <= names, names
os.removexattr(p, "user.empty")
assert "user.empty" not in os.listxattr(p)
expect(errno.ENODATA, os.removexattr, p, "user.empty")
# ERANGE: buffers too small for the value and for the list
libc = ctypes.CDLL(None, use_errno=True)
libc.getxattr.restype = ctypes.c_ssize_t
libc.listxattr.restype = ctypes.c_ssize_t
os.setxattr(p, "user.ten", b"0123456789")
n = libc.getxattr(p.encode(), b"user.ten", None, ctypes.c_size_t(0))
assert n == 10, n
buf = ctypes.create_string_buffer(1)
n = libc.getxattr(p.encode(), b"user.ten", buf, ctypes.c_size_t(1))
assert n == -1 and ctypes.get_errno() == errno.ERANGE, (n, ctypes.get_errno())
need = libc.listxattr(p.encode(), None, ctypes.c_size_t(0))
assert need >= len("user.a\0user.bin\0user.ten\0"), need
n = libc.listxattr(p.encode(), buf, ctypes.c_size_t(1))
assert n == -1 and ctypes.get_errno() == errno.ERANGE, (n, ctypes.get_errno())
big = ctypes.create_string_buffer(need)
n = libc.listxattr(p.encode(), big, ctypes.c_size_t(need))
assert n == need, (n, need)
EOF
rm xf
rmdir xd

# --- long names ------------------------------------------------------------------------
note "name length"
pyrun <<'EOF'
import errno, os, sys
m = sys.argv[1]
n255, n256 = "n" * 255, "n" * 256
def expect(err, f, *a):
    try:
        f(*a)
    except OSError as e:
        assert e.errno == err, (e, f.__name__)
        return
    raise SystemExit("expected %s from %s" % (errno.errorcode[err], f.__name__))
open(os.path.join(m, n255), "w").write("ok")
assert n255 in os.listdir(m)
assert open(os.path.join(m, n255)).read() == "ok"
expect(errno.ENAMETOOLONG, open, os.path.join(m, n256), "w")
expect(errno.ENAMETOOLONG, os.mkdir, os.path.join(m, n256))
expect(errno.ENAMETOOLONG, os.symlink, "x", os.path.join(m, n256))
expect(errno.ENAMETOOLONG, os.link, os.path.join(m, n255), os.path.join(m, n256))
expect(errno.ENAMETOOLONG, os.rename, os.path.join(m, n255), os.path.join(m, n256))
expect(errno.ENAMETOOLONG, os.stat, os.path.join(m, n256))
assert n256 not in os.listdir(m)
os.unlink(os.path.join(m, n255))
# 255 bytes of UTF-8 (multi-byte characters) also fit
u = "\u00e9" * 127 + "x"          # 255 bytes
assert len(u.encode()) == 255
open(os.path.join(m, u), "w").close()
assert u in os.listdir(m)
os.unlink(os.path.join(m, u))
EOF

# --- permissions for a non-root caller -------------------------------------------------
note "permissions (uid 65534)"
asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
echo "root data" >rootfile
chmod 0644 rootfile
echo "secret" >secret
chmod 0600 secret
mkdir open777 closed755
chmod 0777 open777
chmod 0755 closed755
assert_eq "root data" "$(asnobody cat rootfile)" "nobody reads a 0644 file"
expect_errno "Permission denied" asnobody sh -c "echo x >>'$M/rootfile'"
expect_errno "Permission denied" asnobody cat secret
expect_errno "Permission denied" asnobody touch closed755/x
expect_errno "Operation not permitted" asnobody chmod 0666 rootfile
expect_errno "Operation not permitted" asnobody chown 65534 rootfile
expect_errno "Permission denied" asnobody rm -f rootfile
assert_eq "root data" "$(cat rootfile)" "rootfile after refused writes"
asnobody sh -c "echo mine >'$M/open777/mine' && mkdir '$M/open777/mydir'"
assert_eq 65534:65534 "$(stat -c %u:%g open777/mine)" "owner of a file made by nobody"
assert_eq 65534:65534 "$(stat -c %u:%g open777/mydir)" "owner of a dir made by nobody"
assert_eq mine "$(asnobody cat open777/mine)" "nobody reads its own file"
asnobody chmod 0600 open777/mine
assert_eq 600 "$(stat -c %a open777/mine)" "nobody chmods its own file"
asnobody touch -d "2005-01-01 00:00:00" open777/mine
asnobody setfattr -n user.by -v nobody open777/mine
assert_eq nobody "$(asnobody getfattr -n user.by --only-values open777/mine)" "nobody's xattr"
# root can still do anything
assert_eq mine "$(cat open777/mine)" "root reads nobody's 0600 file"
# a sticky dir: nobody cannot remove root's file in it
mkdir sticky
chmod 1777 sticky
echo r >sticky/rootowned
expect_errno "Operation not permitted" asnobody rm -f sticky/rootowned
rm -rf open777 closed755 sticky rootfile secret

# --- open-unlink --------------------------------------------------------------------------
note "open-unlink"
pyrun <<'EOF'
import os, sys
m = sys.argv[1]
p = m + "/ou"
data = os.urandom(200000)
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, data)
fd2 = os.open(p, os.O_RDONLY)
os.unlink(p)
assert "ou" not in os.listdir(m)
assert not os.path.exists(p)
assert os.fstat(fd).st_nlink == 0
# still readable and writable through the fds
assert os.pread(fd, len(data), 0) == data
os.pwrite(fd, b"tail", len(data))
assert os.pread(fd2, 4, len(data)) == b"tail"
os.ftruncate(fd, 1000)
assert os.fstat(fd2).st_size == 1000
assert os.pread(fd2, 2000, 0) == data[:1000]
os.fsync(fd)
os.close(fd)
assert os.pread(fd2, 1000, 0) == data[:1000]
# the name is free for a new, unrelated file
open(p, "w").write("new")
assert os.pread(fd2, 1000, 0) == data[:1000]
os.close(fd2)
assert open(p).read() == "new"
os.unlink(p)
# rename over a file that is open: the open file keeps its content
open(m + "/victim", "w").write("old content")
fd = os.open(m + "/victim", os.O_RDONLY)
open(m + "/newer", "w").write("new content")
os.rename(m + "/newer", m + "/victim")
assert os.pread(fd, 100, 0) == b"old content"
os.close(fd)
assert open(m + "/victim").read() == "new content"
os.unlink(m + "/victim")
EOF

# --- readdir -------------------------------------------------------------------------
note "readdir"
pyrun <<'EOF'
import os, sys
m = sys.argv[1]
d = m + "/many"
os.mkdir(d)
names = ["f%05d_%s" % (i, "x" * (i % 50)) for i in range(1000)]
for n in names:
    open(os.path.join(d, n), "w").close()
l1 = os.listdir(d)
l2 = os.listdir(d)
assert len(l1) == 1000 and len(set(l1)) == 1000, len(l1)
assert sorted(l1) == sorted(names)
assert l1 == l2, "two listings of an unchanged dir differ"
# entries' types come back right through scandir
with os.scandir(d) as it:
    assert all(e.is_file() for e in it)
# a listing while removing entries never shows a name twice
seen = []
with os.scandir(d) as it:
    for i, e in enumerate(it):
        seen.append(e.name)
        if i < 500:
            os.unlink(os.path.join(d, names[999 - i]))
assert len(seen) == len(set(seen)), "duplicate names during removal"
missing = set(names[:500]) - set(seen)
assert not missing, "entries not removed were skipped: %d" % len(missing)
EOF
a=$(ls -f many | sort)
b=$(ls -f many | sort)
assert_eq "$a" "$b" "ls -f twice"
assert_eq 500 "$(ls -A many | wc -l)" "entries after removing 500"
rm -rf many

# --- ls -la, .tiers ------------------------------------------------------------------
note "ls -la and .tiers"
mkdir lsdir
echo x >lsdir/file
ln -s file lsdir/link
out=$(ls -la "$M" lsdir)
grep -q '?' <<<"$out" && fail "ls -la shows unknown fields: $out"
grep -q -- '-> file$' <<<"$(ls -la lsdir)" || fail "ls -la does not show the symlink target"
grep -qx .tiers <<<"$(ls -a "$M")" && fail ".tiers is listed by ls -a"
[ -d "$M/.tiers" ] || fail ".tiers is not reachable by name"
"$PY" - "$M/.tiers/stats" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("inodes_loaded", "hot_bytes"):
    assert isinstance(d.get(k), int), (k, d)
assert d["inodes_loaded"] > 0
EOF
expect_errno "File exists" mkdir "$M/.tiers"
rm -rf lsdir

# everything created above was removed again
left=$(ls -A "$M")
assert_eq "" "$left" "root after the test"
cd /
tfs_umount
