#!/bin/bash
# Files created write-only (cp, tar, rsync, dd, python's open(p, "wb")) are
# written through direct-I/O descriptors (see the top of src/fuse_ops.c).
# What a user of such a file must still see:
#  - bytes read back equal bytes written: pieces of odd sizes, a hole left
#    by a seek, O_APPEND, ftruncate through the descriptor, 400 random
#    writes (sizes around the 1 MiB request limit, unaligned buffers) and
#    truncations checked against a copy in memory; after a remount too,
#    and for files made by cp, dd and tar;
#  - a reader of the file while it is being written sees every write at
#    once: through read(2) on a descriptor opened (and cached) before, and
#    through a shared mmap made before;
#  - a write by a user other than root clears the set-user-ID bit, and
#    the set-group-ID bit of a group-executable file, as on a local
#    filesystem; stat shows the new mode; a write by root keeps them;
#    a write by anyone drops the file's capabilities (security.capability);
#  - a file created read-write can still be mapped shared and written
#    through the map (a direct-I/O descriptor could not be).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
chmod 755 "$TFS_TMP"    # the other user must reach the mountpoint

tfs_mount -o allow_other
chmod 1777 "$M"

note "pieces, a hole, O_APPEND, ftruncate"
"$PY" - "$M" "$TFS_REF" <<'EOF'
import os, random, sys
m, ref = sys.argv[1], sys.argv[2]
rng = random.Random(5)
W = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
for name, sizes in (("odd", [1, 4095, 4097, 65535, 65537, 3, 1 << 20, 77]),
                    ("big", [1 << 20] * 9 + [12345])):
    data = bytearray()
    fd = os.open(os.path.join(m, name), W, 0o644)
    for n in sizes:
        b = rng.randbytes(n)
        assert os.write(fd, b) == n
        data += b
    # rewrite a stretch in the middle, then leave a hole past the end
    mid = rng.randbytes(5000)
    os.pwrite(fd, mid, 3000)
    data[3000:8000] = mid
    os.lseek(fd, len(data) + 70000, os.SEEK_SET)
    os.write(fd, b"tail")
    data += b"\0" * 70000 + b"tail"
    os.close(fd)
    got = open(os.path.join(m, name), "rb").read()
    assert got == bytes(data), "%s: %d bytes read, %d written" % (
        name, len(got), len(data))
    open(os.path.join(ref, name), "wb").write(data)

fd = os.open(os.path.join(m, "app"), W | os.O_APPEND, 0o644)
for i in range(300):
    os.write(fd, b"line %d\n" % i)
os.close(fd)
want = b"".join(b"line %d\n" % i for i in range(300))
assert open(os.path.join(m, "app"), "rb").read() == want
open(os.path.join(ref, "app"), "wb").write(want)

fd = os.open(os.path.join(m, "trunc"), W, 0o644)
os.write(fd, b"x" * 100000)
os.ftruncate(fd, 4000)
os.write(fd, b"y" * 10)          # at offset 100000: a hole up to it
os.close(fd)
want = b"x" * 4000 + b"\0" * 96000 + b"y" * 10
assert open(os.path.join(m, "trunc"), "rb").read() == want
assert os.stat(os.path.join(m, "trunc")).st_size == 100010
open(os.path.join(ref, "trunc"), "wb").write(want)
EOF

note "random writes and truncations through write-only descriptors"
"$PY" - "$M" "$TFS_REF" <<'EOF'
import os, random, sys
m, ref = sys.argv[1], sys.argv[2]
rng = random.Random(9)
pool = rng.randbytes(3 << 20)
files = {}
for i in range(3):
    p = os.path.join(m, "rnd%d" % i)
    files[p] = (os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644),
                bytearray())
for step in range(400):
    p = rng.choice(sorted(files))
    fd, data = files[p]
    if rng.random() < 0.8:
        # sizes around the kernel's 1 MiB / 256-page request limit too,
        # from unaligned offsets into the pool
        n = rng.choice([1, 17, 4096, 65536, 65537, 1 << 20,
                        (1 << 20) + 333, rng.randrange(1, 2 << 20)])
        off = rng.randrange(0, len(data) + 200000)
        src = rng.randrange(0, len(pool) - n)
        b = pool[src:src + n]
        assert os.pwrite(fd, b, off) == n
        if off > len(data):
            data += bytes(off - len(data))
        data[off:off + n] = b
    else:
        size = rng.randrange(0, len(data) + 100000)
        os.ftruncate(fd, size)
        if size < len(data):
            del data[size:]
        else:
            data += bytes(size - len(data))
    if step % 20 == 0:
        with open(p, "rb") as r:
            got = r.read()
        assert got == bytes(data), "%s after step %d: %d bytes, want %d" % (
            p, step, len(got), len(data))
for p, (fd, data) in files.items():
    os.close(fd)
    assert open(p, "rb").read() == bytes(data), p
    open(os.path.join(ref, os.path.basename(p)), "wb").write(data)
EOF

note "cp, dd, tar"
head -c 3000000 /dev/urandom >"$TFS_REF/rnd"
cp "$TFS_REF/rnd" "$M/cp.bin"
dd if="$TFS_REF/rnd" of="$M/dd.bin" bs=64k status=none
dd if="$TFS_REF/rnd" of="$M/dd1.bin" bs=1M oflag=direct status=none
mkdir "$TFS_REF/tree" && for i in 1 2 3; do head -c $((i * 7777)) /dev/urandom >"$TFS_REF/tree/f$i"; done
tar -C "$TFS_REF" -cf - tree | tar -C "$M" -xf -
for f in cp.bin dd.bin dd1.bin; do check_same "$TFS_REF/rnd" "$M/$f"; done
for i in 1 2 3; do check_same "$TFS_REF/tree/f$i" "$M/tree/f$i"; done

note "a reader sees each write at once (read(2) and a shared mmap)"
"$PY" - "$M/live" <<'EOF'
import mmap, os, sys
p = sys.argv[1]
w = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(w, b"a" * 8192)
r = os.open(p, os.O_RDONLY)
assert os.pread(r, 8192, 0) == b"a" * 8192          # now cached
mp = mmap.mmap(r, 8192, mmap.MAP_SHARED, mmap.PROT_READ)
assert mp[:8192] == b"a" * 8192
for i, c in enumerate(b"bcdef"):
    os.pwrite(w, bytes([c]) * 4096, 0)
    # the map first: a read(2) would refresh the cache on its own
    assert mp[:4096] == bytes([c]) * 4096, "mmap round %d: %r" % (i, mp[:8])
    assert mp[4096:8192] == b"a" * 4096
    assert os.pread(r, 4096, 0) == bytes([c]) * 4096, "read(2) round %d" % i
os.write(w, b"g" * 100)           # extends the file past the reader's view
assert os.pread(r, 200, 8192) == b"g" * 100
mp.close(); os.close(r); os.close(w)
EOF

note "set-id bits: cleared by a write of another user, kept by root's"
"$PY" - "$M" <<'EOF'
import os, sys
m = sys.argv[1]
W = os.O_WRONLY | os.O_CREAT | os.O_EXCL
def as_user(fn):
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([]); os.setgid(65534); os.setuid(65534)
            fn(); os._exit(0)
        except BaseException as e:
            print("child:", repr(e)); os._exit(1)
    assert os.waitpid(pid, 0)[1] == 0
def mode(p):
    return os.stat(p).st_mode & 0o7777
def case(name, setmode, want):
    p = os.path.join(m, name)
    def run():
        fd = os.open(p, W, 0o600)
        os.fchmod(fd, setmode)
        assert mode(p) == setmode, oct(mode(p))
        os.write(fd, b"data")
        got = mode(p)
        assert got == want, "%s: mode %o after the write, want %o" % (
            name, got, want)
        os.close(fd)
    as_user(run)
case("suid", 0o4755, 0o755)
case("sgid-x", 0o2775, 0o775)
case("both", 0o6755, 0o755)
case("sgid-nox", 0o2764, 0o2764)  # not group-executable, writer in group
case("plain", 0o755, 0o755)
p = os.path.join(m, "root-suid")
fd = os.open(p, W, 0o600)
os.fchmod(fd, 0o4755)
os.write(fd, b"data")
os.close(fd)
assert mode(p) == 0o4755, oct(mode(p))
EOF

note "file capabilities: a write through the creating descriptor drops them"
"$PY" - "$M/capf" <<'EOF'
import os, struct, sys
p = sys.argv[1]
cap = struct.pack("<IIIII", 0x02000001, 1, 0, 0, 0)  # v2, effective, CAP_CHOWN
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755)
os.setxattr(p, "security.capability", cap)
assert os.getxattr(p, "security.capability") == cap
os.write(fd, b"data")
try:
    left = os.getxattr(p, "security.capability")
except OSError as e:
    left = e.errno
os.close(fd)
assert left == 61, "security.capability after a write: %r" % (left,)  # ENODATA
EOF

note "a file created read-write maps shared and writes through the map"
"$PY" - "$M/rw" <<'EOF'
import mmap, os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.ftruncate(fd, 65536)
mp = mmap.mmap(fd, 65536, mmap.MAP_SHARED)
mp[100:105] = b"hello"
mp.flush(); mp.close(); os.close(fd)
d = open(p, "rb").read()
assert len(d) == 65536 and d[100:105] == b"hello" and d.count(0) == 65531
EOF

note "all of it after a remount"
tfs_umount
tfs_remount
for f in odd big app trunc rnd0 rnd1 rnd2; do check_same "$TFS_REF/$f" "$M/$f"; done
for f in cp.bin dd.bin dd1.bin; do check_same "$TFS_REF/rnd" "$M/$f"; done
assert_eq "$(stat -c %a "$M/suid")" 755
assert_eq "$(stat -c %a "$M/root-suid")" 4755
tfs_umount
note "ok"
