#!/usr/bin/env python3
"""manifest.py - what a tree looks like, for comparing it across remounts.

  manifest.py dump ROOT OUT.json   record every path under ROOT (incl. ROOT)
  manifest.py diff A.json B.json   print differences; exit 1 if any

Recorded per path (lstat, never following symlinks): type, mode, uid, gid,
nlink, inode number, mtime and ctime in ns, size (not for directories),
symlink target, SHA-256 of a regular file's bytes and the user.* xattrs
(except user.tierfs.*, which describe where the bytes are, not the file).
Access times are left out: reading the tree changes them.
"""
import hashlib
import json
import os
import stat
import sys


def entry(path):
    st = os.lstat(path)
    e = {
        "type": stat.S_IFMT(st.st_mode),
        "mode": "%o" % stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "nlink": st.st_nlink,
        "ino": st.st_ino,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
    }
    if not stat.S_ISDIR(st.st_mode):
        e["size"] = st.st_size
    if stat.S_ISLNK(st.st_mode):
        e["target"] = os.readlink(path)
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        e["sha256"] = h.hexdigest()
    if not stat.S_ISLNK(st.st_mode) and not stat.S_ISFIFO(st.st_mode):
        xa = {}
        for n in os.listxattr(path, follow_symlinks=False):
            if n.startswith("user.") and not n.startswith("user.tierfs."):
                xa[n] = os.getxattr(path, n, follow_symlinks=False).hex()
        e["xattrs"] = xa
    return e


def dump(root, out):
    m = {".": entry(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            m[os.path.relpath(p, root)] = entry(p)
    with open(out, "w") as f:
        json.dump(m, f, indent=1, sort_keys=True)
    print("# manifest of %d paths -> %s" % (len(m), os.path.basename(out)))


def diff(a_path, b_path):
    a = json.load(open(a_path))
    b = json.load(open(b_path))
    bad = 0
    for p in sorted(set(a) | set(b)):
        if p not in b:
            print("only before: %s" % p)
            bad += 1
        elif p not in a:
            print("only after: %s" % p)
            bad += 1
        else:
            for k in sorted(set(a[p]) | set(b[p])):
                if a[p].get(k) != b[p].get(k):
                    print("%s: %s: %r -> %r" % (p, k, a[p].get(k), b[p].get(k)))
                    bad += 1
    if bad:
        print("%d differences" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        sys.exit(diff(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
