#!/bin/bash
# POSIX details real programs rely on:
#  - rewinddir(3) sees a fresh listing: names created (and removed) since
#    opendir show (and are gone) after a rewind, while a listing read in
#    pieces as the directory changes keeps its offsets (no name twice).
#  - ctime moves on every attribute change: setxattr, removexattr (and the
#    mode/owner changes it always moved on); reading attributes does not.
#  - directories have a non-zero st_size that grows with their entries
#    (20 bytes each, "." and ".." included, like tmpfs), also after a
#    remount; st_blksize is 4096 for files and directories.
#  - O_DIRECT writes are seen by buffered reads at once: through a
#    descriptor opened (and cached) before, a new one, an mmap, cat, and
#    when the O_DIRECT write extends the file unaligned.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT

tfs_mount -o hot_max=256M

# --- rewinddir ---------------------------------------------------------------------
note "rewinddir"
mkdir "$M/rd"
for i in 1 2 3; do : >"$M/rd/old$i"; done
"$PY" - "$M/rd" <<'EOF'
import ctypes, ctypes.util, os, sys
d = sys.argv[1]
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.rewinddir.argtypes = [ctypes.c_void_p]
libc.closedir.argtypes = [ctypes.c_void_p]

def names(dp):
    out = []
    while True:
        e = libc.readdir(dp)
        if not e:
            return out
        n = e.contents.d_name.decode()
        if n not in (".", ".."):
            out.append(n)

dp = libc.opendir(d.encode())
assert dp, "opendir failed"
first = names(dp)
assert sorted(first) == ["old1", "old2", "old3"], first
open(os.path.join(d, "new1"), "w").close()
os.mkdir(os.path.join(d, "newdir"))
os.unlink(os.path.join(d, "old2"))
libc.rewinddir(dp)
again = names(dp)
assert sorted(again) == ["new1", "newdir", "old1", "old3"], \
    "after rewinddir: %s" % again
# a rewind without changes lists the same
libc.rewinddir(dp)
assert sorted(names(dp)) == sorted(again)
libc.closedir(dp)

# a big directory read in pieces while it changes: offsets stay stable, no
# name is returned twice, and every name that existed throughout is seen
for i in range(600):
    open(os.path.join(d, "f%04d" % i), "w").close()
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
seen = []
buf = ctypes.create_string_buffer(4096)
SYS_getdents64 = 217
libc.syscall.restype = ctypes.c_long
i = 0
while True:
    n = libc.syscall(SYS_getdents64, fd, buf, ctypes.c_uint(len(buf)))
    assert n >= 0, os.strerror(ctypes.get_errno())
    if n == 0:
        break
    pos = 0
    while pos < n:
        reclen = int.from_bytes(buf.raw[pos + 16:pos + 18], "little")
        name = buf.raw[pos + 19:pos + reclen].split(b"\0", 1)[0].decode()
        seen.append(name)
        pos += reclen
    # change the directory between two getdents calls
    open(os.path.join(d, "g%04d" % i), "w").close()
    if i < 100:
        os.unlink(os.path.join(d, "f%04d" % (599 - i)))
    i += 1
os.close(fd)
dups = sorted({x for x in seen if seen.count(x) > 1})
assert not dups, "names returned twice while the directory changed: %s" % dups[:10]
missing = ["f%04d" % k for k in range(600 - min(i, 100))
           if "f%04d" % k not in seen]
assert not missing, "names present throughout but not listed: %s" % missing[:10]
EOF

# --- ctime on attribute changes ------------------------------------------------------
note "ctime after setxattr and removexattr"
echo data >"$M/c"
mkdir "$M/cd"
"$PY" - "$M/c" "$M/cd" <<'EOF'
import os, sys, time
for p in sys.argv[1:]:
    def ctime():
        return os.stat(p).st_ctime_ns
    def later(what, fn):
        before = ctime()
        time.sleep(0.02)
        fn()
        after = ctime()
        assert after > before, "%s: ctime of %s did not move (%d -> %d)" % (what, p, before, after)
    later("setxattr", lambda: os.setxattr(p, "user.a", b"1"))
    later("setxattr (replace)", lambda: os.setxattr(p, "user.a", b"2"))
    later("removexattr", lambda: os.removexattr(p, "user.a"))
    later("chmod", lambda: os.chmod(p, 0o700))
    if os.path.isfile(p):
        later("pin", lambda: os.setxattr(p, "user.tierfs.pin", b"hot"))
    # reading attributes changes nothing
    before = ctime()
    time.sleep(0.02)
    os.listxattr(p)
    if os.path.isfile(p):
        os.getxattr(p, "user.tierfs.tier")
    assert ctime() == before, "reading attributes moved ctime of %s" % p
EOF
c1=$(stat -c %Z.%z "$M/c")
tfs_umount
tfs_remount
assert_eq "$c1" "$(stat -c %Z.%z "$M/c")" "ctime after a remount"

# --- directory st_size, st_blksize ----------------------------------------------------------
note "directory st_size and st_blksize"
mkdir "$M/sz"
assert_eq 40 "$(stat -c %s "$M/sz")" "st_size of an empty directory"
for i in $(seq 1 10); do : >"$M/sz/e$i"; done
mkdir "$M/sz/sub"
assert_eq $((20 * 13)) "$(stat -c %s "$M/sz")" "st_size with 11 entries"
rm "$M/sz/e1" "$M/sz/e2"
mv "$M/sz/e3" "$M/sz/sub/"
assert_eq $((20 * 10)) "$(stat -c %s "$M/sz")" "st_size after rm and mv out"
assert_eq 60 "$(stat -c %s "$M/sz/sub")" "st_size of the target dir after mv in"
ln "$M/sz/e4" "$M/sz/sub/e4link"
assert_eq 80 "$(stat -c %s "$M/sz/sub")" "st_size after link"
# root: . .. plus entries
[ "$(stat -c %s "$M")" -gt 40 ] || fail "st_size of the root is $(stat -c %s "$M")"
assert_eq 4096 "$(stat -c %o "$M/c")" "st_blksize of a file"
assert_eq 4096 "$(stat -c %o "$M/sz")" "st_blksize of a directory"
tfs_umount
tfs_remount
drop_caches
assert_eq $((20 * 10)) "$(stat -c %s "$M/sz")" "st_size after a remount"
assert_eq 80 "$(stat -c %s "$M/sz/sub")" "st_size of sub after a remount"

# --- O_DIRECT then buffered reads ---------------------------------------------------------------
note "O_DIRECT write, buffered read"
"$PY" - "$M" <<'EOF'
import mmap, os, sys
p = os.path.join(sys.argv[1], "od")
bad = []
open(p, "wb").write(os.urandom(1 << 20))
r = os.open(p, os.O_RDONLY)
os.pread(r, 1 << 20, 0)                 # the kernel caches the pages
def dwrite(off, n):
    buf = mmap.mmap(-1, n)              # page-aligned for O_DIRECT
    buf.write(os.urandom(n))
    w = os.open(p, os.O_WRONLY | os.O_DIRECT)
    os.pwritev(w, [buf], off)
    os.close(w)
    return bytes(buf)
new = dwrite(131072, 65536)
if os.pread(r, 65536, 131072) != new:
    bad.append("fd opened before")
r2 = os.open(p, os.O_RDONLY)
if os.pread(r2, 65536, 131072) != new:
    bad.append("new fd")
mm = mmap.mmap(r2, 1 << 20, prot=mmap.PROT_READ)
mm[0:10]
new2 = dwrite(0, 65536)
if mm[0:65536] != new2:
    bad.append("mmap")
with open(p, "rb") as f:
    if f.read(65536) != new2:
        bad.append("open+read")
w = os.open(p, os.O_RDWR | os.O_DIRECT)
for i in range(5):
    buf = mmap.mmap(-1, 4096)
    buf.write(os.urandom(4096))
    os.pwritev(w, [buf], 4096 * i)
    if os.pread(r, 4096, 4096 * i) != bytes(buf):
        bad.append("write %d through a kept O_DIRECT fd" % i)
os.close(w)
size = os.fstat(r).st_size
w = os.open(p, os.O_WRONLY | os.O_DIRECT)
tail = os.urandom(5000)
os.pwrite(w, tail, size + 1000)         # unaligned, past the end
os.close(w)
if os.fstat(r).st_size != size + 6000:
    bad.append("size after an extending O_DIRECT write")
if os.pread(r, 6000, size) != bytes(1000) + tail:
    bad.append("data after an extending O_DIRECT write")
if bad:
    sys.exit("stale buffered reads after O_DIRECT writes: %s" % bad)
EOF
cmp -s <(dd if="$M/od" bs=64k iflag=direct status=none) "$M/od" || fail "O_DIRECT and buffered reads differ"
tfs_umount
