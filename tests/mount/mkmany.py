#!/usr/bin/env python3
"""mkmany.py - grow an unmounted tierfs store to many files, fast.

What it is: a test and benchmark helper. Creating files through a mount
runs at the FUSE ceiling (~8k/s here), so a million files would take
minutes. Instead, tierfs itself creates one template file in each directory
(through a mount, so every column is what tierfs writes); this script then
copies that file's inode row COUNT-1 times in SQL, one transaction, with the
same attributes and fresh inode numbers, and links the copies as
<prefix><number> next to it (the template's name is <prefix> followed by
digits, e.g. f0000000). Afterwards `tierfs-fsck STORE` must find the store
clean (the tests check it).

What it is not: a way to make files with data (the template must have no
extents, cold copy or xattrs: an empty file), nor anything tierfs uses.

Usage: mkmany.py STORE DIR COUNT [DIR COUNT ...]
  DIR: a directory directly under the root holding exactly one file.
"""

import re
import sqlite3
import sys

ROOT_INO = 1


def fill(db, dirname, count):
    row = db.execute("SELECT ino FROM dentry WHERE parent = ? AND name = ?",
                     (ROOT_INO, dirname.encode())).fetchone()
    if not row:
        sys.exit("mkmany: no directory %r under the root" % dirname)
    dino = row[0]
    ents = db.execute("SELECT name, ino FROM dentry WHERE parent = ?",
                      (dino,)).fetchall()
    if len(ents) != 1:
        sys.exit("mkmany: %s holds %d entries, want exactly one (the "
                 "template)" % (dirname, len(ents)))
    name, tino = bytes(ents[0][0]).decode(), ents[0][1]
    m = re.fullmatch(r"(.*?)(\d+)", name)
    if not m:
        sys.exit("mkmany: template name %r does not end in digits" % name)
    prefix, width = m.group(1), len(m.group(2))
    for table in ("extent", "cold", "xattr", "symlink"):
        if db.execute("SELECT 1 FROM %s WHERE ino = ?" % table,
                      (tino,)).fetchone():
            sys.exit("mkmany: the template has rows in %s; use an empty "
                     "file" % table)
    cols = [r[1] for r in db.execute("PRAGMA table_info(inode)")
            if r[1] != "ino"]
    base = db.execute("SELECT max(ino) FROM inode").fetchone()[0]
    first = int(m.group(2)) + 1
    n = count - 1
    sel = ", ".join(cols)
    # One row per number 1..n: inode base+i copies the template.
    db.execute(
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
        "WHERE i < ?) INSERT INTO inode(ino, %s) SELECT ? + i, %s FROM c, "
        "inode WHERE inode.ino = ?" % (sel, sel), (n, base, tino))
    db.execute(
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
        "WHERE i < ?) INSERT INTO dentry(parent, name, ino) SELECT ?, "
        "CAST(printf('%s%%0%dd', ? + i - 1) AS BLOB), ? + i FROM c"
        % (prefix.replace("'", "''").replace("%", "%%"), width),
        (n, dino, first, base))


def main():
    if len(sys.argv) < 4 or len(sys.argv) % 2:
        sys.exit(__doc__.split("\n\n")[-1])
    db = sqlite3.connect(sys.argv[1] + "/meta.db", isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    args = sys.argv[2:]
    for i in range(0, len(args), 2):
        fill(db, args[i], int(args[i + 1]))
    db.execute("COMMIT")
    db.close()


if __name__ == "__main__":
    main()
