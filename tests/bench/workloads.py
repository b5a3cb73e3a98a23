"""workloads - the workloads of the tierfs benchmark (issue 6 item 1, a-i).

What it is: class Bench, which sets up every system (tmpfs; mergerfs over
tmpfs with and without kernel caching; squashfuse over xz and lz4 images;
tierfs) in a private temp dir, and runs the workloads back to back, every
system in every round, recording samples in a benchlib.Results.
What it is not: the plumbing (benchlib.py) nor the goals and the command
line (run.py).
"""

import errno
import glob
import lzma
import os
import sys
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

from benchlib import (
    REPO,
    CORPORA,
    KiB,
    MiB,
    GiB,
    PAGE,
    COLD_BLOCK,
    JBLOCKS,
    JREF_BLOCKS,
    COLD_LEVEL,
    SQ_BLOCK,
    TIERS,
    MERGERFS_OFF,
    MERGERFS_CACHED,
    log,
    now,
    pct,
    drop_caches,
    run,
    MountError,
    create_files,
    read_files,
    stat_files,
    write_big,
    read_seq,
    read_random,
    verify_sample,
    xattr_all,
    unit_vectors,
    get_tier,
    rss_kib,
    tierfs_stats,
    rmtree,
    describe_dir,
    rotate,
)


class Bench:
    def __init__(self, args, h, res):
        self.a = args
        self.h = h
        self.res = res
        q = args.quick
        self.rounds = args.rounds or (1 if q else 3)
        self.n_small = 1000 if q else 10000
        self.small_size = 3 * KiB
        self.big_size = 128 * MiB if q else GiB
        self.text_size = 16 * MiB if q else 64 * MiB
        self.n_many = args.many or (10000 if q else 100000)
        self.n_million = args.million or (100000 if q else 1000000)
        self.j_size = 8 * MiB if q else 32 * MiB
        # misses per pass in (j), at most the file's blocks (--quick: 64
        # at 128K, 32 at 256K); 24 made the p50 of a pass move by 0.3x
        self.j_misses = 64
        self.hot_max_h = 64 * MiB if q else 256 * MiB
        self.rand_n = 1000 if q else 3000
        self.rand_cap = 1.0 if q else 3.0
        self.only = set(args.only)
        self.tmp = h.tmp
        self.mnt = os.path.join(self.tmp, "mnt")
        self.systems = {}      # name -> {"root", "bigroot", "writable"}
        self.tierfs = None     # main tierfs Daemon
        self.tier_method = None  # "pin" or "tier"
        self.dir_moves = None    # user.tierfs.tier works on directories
        self.cold_ok = None    # None unknown, True, or the reason it is not
        self.meta = {}
        self.failures = []

    # ---- helpers
    def want(self, *wls):
        return any(w in self.only for w in wls)

    def spath(self, system, rel):
        s = self.systems[system]
        if rel.startswith("big/") and s.get("bigroot"):
            return os.path.join(s["bigroot"], rel[4:])
        return os.path.join(s["root"], rel)

    def small_rel(self):
        return ["small/v%05d.bin" % i for i in range(self.n_small)]

    # ---- data
    def make_data(self):
        log("generating data")
        # small files: 768-dim float32 unit vectors of normal samples, the
        # stand-in corpora/README.md measured as equivalent to real
        # embeddings (xz ~1.08x, LZ4 ~1.0x)
        self.small_pool = unit_vectors(self.n_small,
                                       self.small_size // 4, 42)
        mv = memoryview(self.small_pool)
        s = self.small_size
        self.small_data = [mv[i * s:(i + 1) * s] for i in range(self.n_small)]
        # big file: a 64 MiB random pool, repeated (no block codec with a
        # window under 64 MiB can tell; squashfs/LZ4/xz blocks are smaller)
        self.big_pool = random.Random(43).randbytes(min(64 * MiB, self.big_size))
        # text file: the Python modules corpus, repeated to text_size
        parts = []
        for p in sorted(glob.glob(os.path.join(CORPORA, "modules/py/*"))):
            with open(p, "rb") as f:
                parts.append(f.read())
        corpus = b"".join(parts)
        if not corpus:
            raise RuntimeError("no text corpus under %s" % CORPORA)
        reps = self.text_size // len(corpus) + 1
        self.text = (corpus * reps)[:self.text_size]
        # the canonical tree (reference for verification, squashfs source)
        canon = os.path.join(self.back, "canon")
        self.canon = canon
        os.makedirs(os.path.join(canon, "small"))
        os.makedirs(os.path.join(canon, "big"))
        os.makedirs(os.path.join(canon, "text"))
        create_files([os.path.join(canon, r) for r in self.small_rel()],
                     self.small_data)
        write_big(os.path.join(canon, "big", "big.bin"), self.big_pool,
                  self.big_size)
        with open(os.path.join(canon, "text", "text.txt"), "wb") as f:
            f.write(self.text)

    def populate(self, system):
        """Untimed: put small/ and text/ (and big/ unless measured in d)
        on a writable system."""
        root = self.systems[system]["root"]
        os.makedirs(os.path.join(root, "small"), exist_ok=True)
        os.makedirs(os.path.join(root, "big"), exist_ok=True)
        os.makedirs(os.path.join(root, "text"), exist_ok=True)
        create_files([os.path.join(root, r) for r in self.small_rel()],
                     self.small_data)
        with open(os.path.join(root, "text", "text.txt"), "wb") as f:
            f.write(self.text)

    # ---- setup of every system
    def setup(self):
        a = self.a
        h = self.h
        if a.backing != "tmpfs":
            os.makedirs(a.backing, exist_ok=True)
            self.back = tempfile.mkdtemp(prefix="tfsbench-back", dir=a.backing)
            self.back_rm = self.back
        else:
            self.back = os.path.join(self.tmp, "back")
            h.mount_tmpfs(self.back, 20 * GiB)
            self.back_rm = None
        self.meta["backing"] = describe_dir(self.back)
        os.makedirs(self.mnt)
        base = os.path.join(self.mnt, "tmpfs")
        h.mount_tmpfs(base, 8 * GiB)
        self.systems["tmpfs"] = {"root": base, "writable": True}
        self.make_data()

        for name, opts, br in (("mergerfs", MERGERFS_OFF, "mb1"),
                               ("mergerfs-cached", MERGERFS_CACHED, "mb2")):
            branch = os.path.join(self.back, br)
            os.makedirs(branch)
            m = os.path.join(self.mnt, br)
            h.start_fuse(name, ["mergerfs", "-f", "-o", opts, branch, m], m)
            self.systems[name] = {"root": m, "writable": True,
                                  "branch": branch}

        if self.want("b", "c", "d", "e"):
            self.build_squashfs()

        self.mount_main_tierfs()
        for s in ("tmpfs", "mergerfs", "mergerfs-cached", "tierfs"):
            self.populate(s)

    def build_squashfs(self):
        sqfuse = shutil.which("squashfuse_ll") or shutil.which("squashfuse")
        self.meta["squashfuse"] = sqfuse
        self.meta["squashfs_images"] = {}
        procs = str(os.cpu_count() or 1)
        for comp in ("xz", "lz4"):
            name = "squashfuse-" + comp
            img = os.path.join(self.back, "data-%s.sqfs" % comp)
            bigimg = os.path.join(self.back, "big-%s.sqfs" % comp)
            t = now()
            run(["mksquashfs", os.path.join(self.canon, "small"),
                 os.path.join(self.canon, "text"), img, "-comp", comp,
                 "-noappend", "-quiet", "-no-progress", "-no-xattrs",
                 "-all-root", "-processors", procs], check=True,
                stdout=subprocess.DEVNULL)
            t_data = now() - t
            # The big file is random: mksquashfs stores every one of its
            # blocks uncompressed anyway (compressed >= raw), so for xz
            # -noD yields the same data layout and read path in a fraction
            # of the time (xz tries 1 GiB at ~3 MB/s). --full-xz-big builds
            # it for real.
            extra = ["-noD"] if comp == "xz" and not self.a.full_xz_big else []
            t = now()
            run(["mksquashfs", os.path.join(self.canon, "big"), bigimg,
                 "-comp", comp, "-noappend", "-quiet", "-no-progress",
                 "-no-xattrs", "-all-root", "-processors", procs] + extra,
                check=True, stdout=subprocess.DEVNULL)
            t_big = now() - t
            self.meta["squashfs_images"][comp] = {
                "data_bytes": os.path.getsize(img),
                "big_bytes": os.path.getsize(bigimg),
                "build_s": {"data": round(t_data, 2), "big": round(t_big, 2)},
                "big_flags": extra}
            m = os.path.join(self.mnt, "sq" + comp)
            mb = os.path.join(self.mnt, "sq%sbig" % comp)
            cmds = [(name, [sqfuse, "-f", img, m], m),
                    (name + "-big", [sqfuse, "-f", bigimg, mb], mb)]
            ds = [self.h.start_fuse(*c) for c in cmds]
            self.systems[name] = {"root": m, "bigroot": mb, "writable": False,
                                  "cmds": cmds, "daemons": ds}

    def mount_main_tierfs(self):
        store = os.path.join(self.back, "st-main")
        m = os.path.join(self.mnt, "tierfs")
        self.tierfs = self.h.start_tierfs(self.a.tierfs, store, m)
        self.systems["tierfs"] = {"root": m, "writable": True,
                                  "store": store}

    def fresh(self, s):
        """Empty a daemon's own caches by remounting it (tierfs: the
        decoded cold block cache; squashfuse: its block cache), so a
        "nothing cached" read is one. Other systems have no daemon cache
        beyond the kernel's page cache (dropped separately)."""
        if s == "tierfs":
            st = self.systems["tierfs"]
            self.h.stop(self.tierfs)
            self.tierfs = self.h.start_tierfs(self.a.tierfs, st["store"],
                                              st["root"])
        elif s.startswith("squashfuse"):
            st = self.systems[s]
            for d in st["daemons"]:
                self.h.stop(d)
            st["daemons"] = [self.h.start_fuse(*c) for c in st["cmds"]]

    # ---- tier control on the main tierfs
    def place(self, rels, tier):
        """Put files on `tier` so that reads do not move them. First the
        directories holding them get user.tierfs.tier (one batched move of
        the whole tree, as the policy would do it: one cold archive set in
        path order rather than one per file), then every file is pinned
        there (or, without pin support, gets the tier per file). Returns
        seconds; raises OSError(EOPNOTSUPP) when the tier is unsupported."""
        paths = [self.spath("tierfs", r) for r in rels]
        dirs = sorted({os.path.dirname(p) for p in paths})
        t = now()
        if tier != "hot" and self.dir_moves is not False:
            for d in dirs:
                try:
                    os.setxattr(d, "user.tierfs.tier", tier.encode())
                    self.dir_moves = True
                except OSError as e:
                    if e.errno in (errno.EOPNOTSUPP, errno.ENOTSUP) and \
                            self.dir_moves:
                        raise OSError(e.errno, "tier=%s on a directory: %s" %
                                      (tier, e.strerror))
                    self.dir_moves = False   # per file below
                    break
            self.meta["dir_moves"] = self.dir_moves
        t_dirs = now() - t
        if self.tier_method is None:
            try:
                os.setxattr(paths[0], "user.tierfs.pin", tier.encode())
                self.tier_method = "pin"
            except OSError as e:
                if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP,
                                   errno.ENODATA, errno.ENOTSUP):
                    raise
                self.tier_method = "tier"
            self.meta["tier_method"] = self.tier_method
        name = "user.tierfs." + self.tier_method
        dt, errs = xattr_all(paths, name, tier)
        self.res.extra.setdefault("placement_s", {})[tier] = {
            "directories": round(t_dirs, 2), "per_file_" + self.tier_method:
            round(dt, 2)}
        if errs:
            if errno.EOPNOTSUPP in errs and len(errs) == 1:
                raise OSError(errno.EOPNOTSUPP, "%s=%s not supported" %
                              (name, tier))
            raise RuntimeError("setting %s=%s: errors %s" % (
                name, tier, {errno.errorcode.get(k, k): v
                             for k, v in errs.items()}))
        return now() - t

    def check_tier(self, rels, tier, label):
        rng = random.Random(7)
        sample = rng.sample(rels, min(20, len(rels)))
        found = {}
        for r in sample:
            t = get_tier(self.spath("tierfs", r))
            found[t] = found.get(t, 0) + 1
        self.meta.setdefault("tier_checks", []).append(
            {"when": label, "expected": tier, "found": found})
        if found != {tier: len(sample)}:
            self.res.notes.append("%s: expected tier %s, found %s" %
                                  (label, tier, found))
            return False
        return True

    # ---- workloads
    def wl_a(self):
        log("a: create+write+close %d x %d B" % (self.n_small, self.small_size))
        systems = ("tmpfs", "mergerfs", "mergerfs-cached", "tierfs")
        for r in range(self.rounds):
            for s in rotate(systems, r):
                d = os.path.join(self.systems[s]["root"], "a%d" % r)
                os.mkdir(d)
                paths = [os.path.join(d, "v%05d.bin" % i)
                         for i in range(self.n_small)]
                dt = create_files(paths, self.small_data)
                self.res.add("a", "create+write+close", s, self.n_small / dt,
                             "files/s", rnd="a:%d" % r)
                rmtree(d)

    def wl_d_write(self):
        log("d: sequential write %d MiB" % (self.big_size // MiB))
        systems = ("tmpfs", "mergerfs", "mergerfs-cached", "tierfs")
        for r in range(self.rounds):
            for s in rotate(systems, r):
                p = self.spath(s, "big/big.bin")
                dt = write_big(p, self.big_pool, self.big_size)
                self.res.add("d", "seq write incl. close", s,
                             self.big_size / 1e6 / dt, "MB/s",
                             rnd="dw:%d" % r)

    # The baselines each phase is compared with (every round, paired): the
    # page-cache limit and FUSE's cost for hot data, FUSE and the LZ4 peer
    # for warm, the compressed-read peers for cold.
    PHASE_BASELINES = {
        "hot": ("tmpfs", "mergerfs", "mergerfs-cached"),
        "warm": ("tmpfs", "mergerfs", "squashfuse-lz4"),
        "cold": ("mergerfs", "squashfuse-xz", "squashfuse-lz4"),
    }

    def readers(self, tier):
        out = [s for s in self.PHASE_BASELINES[tier] if s in self.systems]
        out.append("tierfs")
        return out

    def label(self, s, tier):
        return "tierfs-" + tier if s == "tierfs" else s

    def phase(self, tier):
        """Reads with the tierfs data on `tier` (baselines measured again in
        every phase, back to back; their samples pool)."""
        small = self.small_rel()
        files = small + ["text/text.txt"]
        if self.want("d", "e"):
            files.append("big/big.bin")
        try:
            self.place(files, tier)
        except OSError as e:
            if e.errno == errno.EOPNOTSUPP:
                why = "tier %s not supported by this tierfs (%s)" % (tier, e)
                log(why)
                if tier == "cold":
                    self.cold_ok = why
                for wl, metric, unit in self.phase_metrics():
                    self.res.na(wl, metric, "tierfs-" + tier, unit,
                                "EOPNOTSUPP")
                return
            raise
        if tier == "cold":
            self.cold_ok = True
        self.check_tier(files, tier, "before %s reads" % tier)
        rng = random.Random(11)
        systems = self.readers(tier)
        small_paths = {s: [self.spath(s, r) for r in small] for s in systems}
        ref_small = [os.path.join(self.canon, r) for r in small]
        big = [r for r in files if not r.startswith("small/")]
        for s in systems:   # wrong bytes make every number meaningless
            verify_sample(small_paths[s], ref_small, 50, rng)
            verify_sample([self.spath(s, r) for r in big],
                          [os.path.join(self.canon, r) for r in big],
                          len(big), rng)
        for r in range(self.rounds):
            rnd = "%s:%d" % (tier, r)
            # every system in every round, the order rotated per round, so
            # each tierfs sample has baselines measured right beside it
            for s in rotate(systems, r):
                lab = self.label(s, tier)
                if self.want("b"):
                    # random order: not the archive (path) order in which
                    # neighbours share a cold block
                    order = list(small_paths[s])
                    random.Random(100 + r).shuffle(order)
                    if tier == "cold":
                        self.fresh(s)
                    drop_caches()
                    dt = read_files(order)
                    self.res.add("b", "read, nothing cached", lab,
                                 self.n_small / dt, "files/s", rnd=rnd)
                    if self.want("c"):
                        dt = stat_files(order)
                        self.res.add("c", "stat right after reads", lab,
                                     self.n_small / dt, "stats/s", rnd=rnd)
                    dt = read_files(order)
                    self.res.add("b", "read, page cache warm", lab,
                                 self.n_small / dt, "files/s", rnd=rnd)
                if self.want("c") and tier == "hot":
                    # one pass of 10k cached stats takes ~15 ms: one
                    # preemption on a loaded machine moved the ratio from
                    # 0.95x to 0.58x between runs. The median of 9 passes
                    # is robust to that (the first pass refreshes what
                    # the reads invalidated and is not counted).
                    stat_files(small_paths[s])
                    dt = statistics.median(stat_files(small_paths[s])
                                           for _ in range(9))
                    self.res.add("c", "stat, attributes cached", lab,
                                 self.n_small / dt, "stats/s",
                                 note="median of 9 passes", rnd=rnd)
                if self.want("d"):
                    p = self.spath(s, "big/big.bin")
                    if tier == "cold":
                        self.fresh(s)
                    drop_caches()
                    dt = read_seq(p, self.big_size)
                    self.res.add("d", "seq read, nothing cached", lab,
                                 self.big_size / 1e6 / dt, "MB/s", rnd=rnd)
                    dt = read_seq(p, self.big_size)
                    self.res.add("d", "seq read, page cache warm", lab,
                                 self.big_size / 1e6 / dt, "MB/s", rnd=rnd)
                if self.want("e"):
                    if tier == "cold":
                        self.fresh(s)
                    self.rand_reads(s, lab, r, rnd)
        self.check_tier(files, tier, "after %s reads" % tier)

    def phase_metrics(self):
        out = []
        if self.want("b"):
            out += [("b", "read, nothing cached", "files/s"),
                    ("b", "read, page cache warm", "files/s")]
        if self.want("d"):
            out += [("d", "seq read, nothing cached", "MB/s"),
                    ("d", "seq read, page cache warm", "MB/s")]
        if self.want("e"):
            for f in ("big", "text"):
                out += [("e", f + " 4K miss p50", "us"),
                        ("e", f + " 4K hit p50", "us"),
                        ("e", f + " 4K p99", "us"),
                        ("e", f + " 4K IOPS", "IOPS")]
        return out

    def rand_reads(self, s, lab, r, rnd):
        """Random 4 KiB preads (page cache dropped, FADV_RANDOM). A "miss"
        is the first read of a block (the system's block: 128 KiB for
        squashfs, cold_block for tierfs) in this pass: for tierfs-cold and
        squashfuse, whose daemons were just remounted, a block nobody has
        decoded yet. A "hit" is a later read of a block read before in
        the pass (served from the daemon's block cache or the page cache of
        the backing file). p99 and IOPS are over every read."""
        for name, rel, size in (("big", "big/big.bin", self.big_size),
                                ("text", "text/text.txt", self.text_size)):
            rng = random.Random(1000 * r + len(name))
            offs = [rng.randrange(size // PAGE) * PAGE
                    for _ in range(self.rand_n)]
            blk = SQ_BLOCK if s.startswith("squashfuse") else COLD_BLOCK
            drop_caches()
            lat, first, hits, total = read_random(self.spath(s, rel), offs,
                                                  self.rand_cap, blk)
            hits.sort()
            lat.sort()
            first.sort()
            self.res.add("e", name + " 4K miss p50", lab,
                         pct(first, 0.5) / 1e3, "us", rnd=rnd)
            if hits:
                self.res.add("e", name + " 4K hit p50", lab,
                             pct(hits, 0.5) / 1e3, "us", rnd=rnd)
            self.res.add("e", name + " 4K p99", lab, pct(lat, 0.99) / 1e3,
                         "us", rnd=rnd)
            self.res.add("e", name + " 4K IOPS", lab, len(lat) / total,
                         "IOPS", rnd=rnd)

    def wl_refs(self):
        """Same-run references for the goals: xz decode of one cold_block of
        text, single-thread xz -6 compression speed on vector data."""
        blk = self.text[len(self.text) // 2:len(self.text) // 2 + COLD_BLOCK]
        comp = lzma.compress(blk, preset=COLD_LEVEL)
        ts = []
        for _ in range(15):
            t = now()
            lzma.decompress(comp)
            ts.append(now() - t)
        self.res.add("ref", "xz decode 256K text block", "python lzma",
                     statistics.median(ts) * 1e6, "us")
        sample = self.small_pool[:4 * MiB]
        t = now()
        lzma.compress(sample, preset=COLD_LEVEL)
        dt = now() - t
        self.res.add("ref", "xz -6 1-thread compress vectors", "python lzma",
                     len(sample) / 1e6 / dt, "MB/s")
        blk = self.small_pool[:COLD_BLOCK]
        comp = lzma.compress(blk, preset=COLD_LEVEL)
        ts = []
        for _ in range(15):
            t = now()
            lzma.decompress(comp)
            ts.append(now() - t)
        self.res.add("ref", "xz decode 256K vector block", "python lzma",
                     statistics.median(ts) * 1e6, "us")

    def find_tierctl(self):
        cands = [os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(self.a.tierfs))), "tools", "tierctl")]
        cands += sorted(glob.glob(os.path.join(REPO, "build*", "tools",
                                               "tierctl")))
        for c in cands:
            if os.access(c, os.X_OK):
                return c
        return None

    def wl_f(self):
        """Migration of n_small freshly written (hot) files, on a fresh
        tierfs per round (a failure cannot spoil the other workloads).
        Methods: user.tierfs.tier on their directory (one batched move);
        per file with 2 threads; tierctl mv -r (first round only: the
        per-file ones cost minutes when each file gets its own archive)."""
        log("f: migrate %d small files hot->warm->cold" % self.n_small)
        mb = self.n_small * self.small_size / 1e6
        tierctl = self.find_tierctl()
        self.meta["tierctl"] = tierctl
        methods = [("tierfs (dir xattr)", "dir"),
                   ("tierfs (file xattr x2)", "file")]
        if tierctl:
            methods.append(("tierfs (tierctl)", "ctl"))
        for r in range(self.rounds):
            for label, how in methods:
                if how != "dir" and r > 0:
                    continue
                store = os.path.join(self.back, "st-mig-%d-%s" % (r, how))
                m = os.path.join(self.mnt, "tierfs-mig")
                dmn = self.h.start_tierfs(self.a.tierfs, store, m)
                try:
                    self.migrate(label, how, m, mb, tierctl, store, dmn.pid)
                finally:
                    rc = self.h.stop(dmn)
                    if rc != 0:
                        self.res.notes.append("f: tierfs exited %d after %s"
                                              % (rc, label))
                    rmtree(store)

    def migrate(self, label, how, m, mb, tierctl, store, pid):
        d = os.path.join(m, "vec")
        os.mkdir(d)
        paths = [os.path.join(d, "v%05d.bin" % i)
                 for i in range(self.n_small)]
        create_files(paths, self.small_data)
        for src, dst in (("hot", "warm"), ("warm", "cold")):
            metric = "%s->%s" % (src, dst)
            why = None
            t = now()
            if how == "ctl":
                p = run([tierctl, "mv", "--to", dst, "-r", d],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        text=True)
                dt = now() - t
                if p.returncode != 0:
                    why = "tierctl exit %d: %s" % (p.returncode,
                                                   p.stderr.strip()[:120])
            elif how == "dir":
                try:
                    os.setxattr(d, "user.tierfs.tier", dst.encode())
                except OSError as e:
                    why = "setxattr on the directory: " + e.strerror
                dt = now() - t
            else:
                dt, errs = xattr_all(paths, "user.tierfs.tier", dst)
                if errs:
                    why = str({errno.errorcode.get(k, k): v
                               for k, v in errs.items()})
            if why is None and not self.check_tier(paths, dst, "f %s %s" %
                                                   (label, metric)):
                why = "files not on %s afterwards" % dst
            if why:
                self.res.na("f", metric + " time", label, "s", why)
                return
            self.res.add("f", metric + " time", label, dt, "s")
            self.res.add("f", metric + " rate", label, mb / dt, "MB/s")
        st = tierfs_stats(m)
        if st:
            self.res.extra.setdefault("f", {})[label] = {
                "cold_stored_bytes": st["tiers"]["cold"]["stored_bytes"],
                "cold_archives": len(glob.glob(os.path.join(
                    store, "cold", "*.xz"))),
                "daemon_fds": len(os.listdir("/proc/%d/fd" % pid))}

    def wl_g(self):
        log("g: stored/logical on corpora")
        sets = (("vectors", os.path.join(CORPORA, "vectors", "minilm384")),
                ("modules", os.path.join(CORPORA, "modules", "py")))
        out = {}
        root = self.systems["tierfs"]["root"]
        mnt = root
        for name, src in sets:
            files = sorted(f for f in glob.glob(os.path.join(src, "*"))
                           if os.path.isfile(f) and "LICENSE" not in
                           os.path.basename(f))
            logical = sum(os.path.getsize(f) for f in files)
            row = {"files": len(files), "logical_bytes": logical}
            # CLI codecs, per file and concatenated
            row["lz4 per-file"] = self.cli_sizes(["lz4", "-c", "-q"], files)
            row["xz -6 per-file"] = self.cli_sizes(["xz", "-6", "-c"], files)
            cat = b"".join(open(f, "rb").read() for f in files)
            row["lz4 concatenated"] = len(run(["lz4", "-c", "-q"], input=cat,
                                              stdout=subprocess.PIPE).stdout)
            row["xz -6 concatenated"] = len(run(["xz", "-6", "-c"], input=cat,
                                                stdout=subprocess.PIPE).stdout)
            for comp in ("xz", "lz4"):
                img = os.path.join(self.back, "corp-%s-%s.sqfs" % (name, comp))
                run(["mksquashfs", src, img, "-comp", comp, "-noappend",
                     "-quiet", "-no-progress", "-no-xattrs", "-all-root"],
                    check=True, stdout=subprocess.DEVNULL)
                row["squashfs-" + comp] = os.path.getsize(img)
                os.unlink(img)
            # tierfs per tier
            d = os.path.join(root, "corp", name)
            os.makedirs(d)
            before = tierfs_stats(mnt)
            paths = []
            for f in files:
                p = os.path.join(d, os.path.basename(f))
                with open(f, "rb") as a, open(p, "wb") as b:
                    b.write(a.read())
                paths.append(p)
            for tier in TIERS:
                key = "tierfs-" + tier
                if tier != "hot":
                    before = tierfs_stats(mnt)
                    errs = {}
                    t = now()
                    try:    # the whole directory at once (one batch)
                        os.setxattr(d, "user.tierfs.tier", tier.encode())
                    except OSError:
                        _, errs = xattr_all(paths, "user.tierfs.tier", tier)
                    dt = now() - t
                    if errs:
                        row[key] = "n/a: " + str(
                            {errno.errorcode.get(k, k): v
                             for k, v in errs.items()})
                        break
                    row[key + " move_s"] = round(dt, 3)
                stored, how = self.stored_bytes(paths, tier, before, mnt)
                row[key] = stored
                row[key + " source"] = how
            out[name] = row
        self.res.extra["g"] = out

    def stored_bytes(self, paths, tier, before, mnt):
        tot = 0
        try:
            for p in paths:
                tot += int(os.getxattr(p, "user.tierfs.stored").decode())
            return tot, "user.tierfs.stored"
        except OSError:
            pass
        st = tierfs_stats(mnt)
        if not st:
            return None, "none"
        # stats of the tier: only our files arrived on it since `before`
        if not before:
            return None, "none"
        return (st["tiers"][tier]["stored_bytes"] -
                before["tiers"][tier]["stored_bytes"]), ".tiers/stats delta"

    def cli_sizes(self, cmd, files):
        def one(f):
            return len(run(cmd + [f], stdout=subprocess.PIPE).stdout)
        sizes = [0] * len(files)

        def work(i0):
            for i in range(i0, len(files), 2):
                sizes[i] = one(files[i])
        ths = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        return sum(sizes)

    def wl_h(self):
        hm = self.hot_max_h
        log("h: RSS with hot_max=%dM after writing %dM" %
            (hm // MiB, 4 * hm // MiB))
        store = os.path.join(self.back, "st-rss")
        m = os.path.join(self.mnt, "tierfs-rss")
        d = self.h.start_tierfs(self.a.tierfs, store, m,
                                ["hot_max=%dM" % (hm // MiB)])
        try:
            rss0 = rss_kib(d.pid)
            fsize = 8 * MiB
            n = 4 * hm // fsize
            t = now()
            for i in range(n):
                write_big(os.path.join(m, "f%04d" % i), self.big_pool, fsize)
            dt = now() - t
            rss1 = rss_kib(d.pid)
            time.sleep(11)   # one default policy interval (10 s) and a bit
            rss2 = rss_kib(d.pid)
            hwm = rss_kib(d.pid, "VmHWM")
            st = tierfs_stats(m) or {}
            self.res.add("h", "RSS after writes", "tierfs", rss1 / KiB, "MiB")
            self.res.add("h", "RSS 11 s later", "tierfs", rss2 / KiB, "MiB")
            self.res.add("h", "peak RSS (VmHWM)", "tierfs", hwm / KiB, "MiB")
            self.res.extra["h"] = {
                "hot_max_MiB": hm // MiB, "written_MiB": n * fsize // MiB,
                "rss_at_mount_MiB": round(rss0 / KiB, 1),
                "write_MBps": round(n * fsize / 1e6 / dt, 1),
                "hot_bytes": st.get("hot_bytes"),
                "evictions": st.get("evictions"),
                "tiers_files": {t: st["tiers"][t]["files"] for t in TIERS}
                if "tiers" in st else None}
        finally:
            self.h.stop(d)
            rmtree(store)

    def wl_i(self):
        """Many files in one directory: create n_many 3 KiB files once per
        system, then per round (order rotated) unmount, drop caches,
        mount, and `ls -l` the directory: "remount until ls -l returns" is
        the time until a user sees the listing, not just "ready" (with the
        daemon's RSS after it)."""
        n = self.n_many
        log("i: %d files: create, ls -l, remount until ls -l returns" % n)
        datas = [self.small_data[i % self.n_small] for i in range(n)]
        env = dict(os.environ, LC_ALL="C")

        def ls(d):
            t = now()
            run(["ls", "-l", d], stdout=subprocess.DEVNULL, check=True,
                env=env)
            return now() - t

        tdir = os.path.join(self.systems["tmpfs"]["root"], "many")
        os.mkdir(tdir)
        dt = create_files([os.path.join(tdir, "f%06d" % i)
                           for i in range(n)], datas)
        self.res.add("i", "create 3K files", "tmpfs", n / dt, "files/s",
                     rnd="i:0")
        st = {}

        def mount(s):
            br, m = st[s]["br"], st[s]["m"]
            if s == "tierfs":
                return self.h.start_tierfs(self.a.tierfs, br, m)
            return self.h.start_fuse(
                "mergerfs", ["mergerfs", "-f", "-o", MERGERFS_OFF, br, m], m)

        try:
            for s in ("mergerfs", "tierfs"):
                st[s] = {"br": os.path.join(self.back, "many-" + s),
                         "m": os.path.join(self.mnt, "many-" + s)}
                os.makedirs(st[s]["br"])
                st[s]["d"] = mount(s)
                d = os.path.join(st[s]["m"], "many")
                os.mkdir(d)
                dt = create_files([os.path.join(d, "f%06d" % i)
                                   for i in range(n)], datas)
                self.res.add("i", "create 3K files", s, n / dt, "files/s",
                             rnd="i:0")
            for r in range(self.rounds):
                rnd = "i:%d" % r
                for s in rotate(("tmpfs", "mergerfs", "tierfs"), r):
                    if s == "tmpfs":
                        drop_caches()
                        self.res.add("i", "ls -l after remount", s, ls(tdir),
                                     "s", rnd=rnd)
                        continue
                    t = now()
                    rc = self.h.stop(st[s]["d"])
                    t_um = now() - t
                    st[s]["d"] = None
                    if rc != 0:
                        self.res.notes.append("i: %s exited %d on unmount"
                                              % (s, rc))
                    drop_caches()
                    t = now()
                    st[s]["d"] = mount(s)
                    t_m = now() - t
                    t_ls = ls(os.path.join(st[s]["m"], "many"))
                    self.res.add("i", "unmount", s, t_um, "s", rnd=rnd)
                    self.res.add("i", "mount until ready", s, t_m, "s",
                                 rnd=rnd)
                    self.res.add("i", "ls -l after remount", s, t_ls, "s",
                                 rnd=rnd)
                    self.res.add("i", "remount until ls -l returns", s,
                                 t_um + t_m + t_ls, "s", rnd=rnd)
                    if s == "tierfs":
                        self.res.add("i", "RSS after remount + ls -l", s,
                                     rss_kib(st[s]["d"].pid) / KiB, "MiB",
                                     rnd=rnd)
            got = len(os.listdir(os.path.join(st["tierfs"]["m"], "many")))
            if got != n:
                raise RuntimeError("tierfs: %d files after remount" % got)
        finally:
            for s in st:
                if st[s].get("d"):
                    self.h.stop(st[s]["d"])
                rmtree(st[s]["br"])
            rmtree(tdir)

    def wl_j(self):
        """Cold reads in detail, tierfs (data pinned cold) against
        squashfuse over xz squashfs images built with the same block size
        (-b = cold_block), on text (corpora/modules/py) and float32 vectors
        (synthetic unit-normal: the stand-in corpora/README.md measured as
        equivalent to real embeddings), for each block size in JBLOCKS.
        Per round, systems rotated, each from a fresh mount (its block
        cache empty) with the page cache dropped:
          seq      the whole file read sequentially (MB/s);
          miss p50 4 KiB reads, each in a different block nobody has
                   decoded yet (random blocks, random offset inside);
                   once with the page cache dropped (the archive read
                   from disk), once with the archive in the page cache
                   (the daemon remounted: its decode and a round trip);
          hit p50  4 KiB random reads after the whole file was read once
                   (block cache warm, page cache dropped);
        and python lzma's decode of one block of the same data at the same
        preset (the reference the miss latency is held to): the median over
        JREF_BLOCKS blocks drawn at random from the file, as the misses are.
        A block's decode time varies 4x along the text corpus (0.5 ms for
        the middle 128K block, which xz shrinks to 6%; 1.8 ms for the
        median block, shrunk to 22%), so the middle block alone, the
        reference before, made every miss look 4x too slow; its decode is
        still reported ("middle block decode") for comparison."""
        size = self.j_size
        data = {"text": self.text[:size],
                "vectors": bytes(self.small_pool[:size])}
        if len(data["vectors"]) < size:
            data["vectors"] = (data["vectors"] *
                               (size // len(data["vectors"]) + 1))[:size]
        log("j: cold reads by block size %s, %d MiB text and vectors" % (
            "/".join("%dK" % (b // KiB) for b in JBLOCKS), size // MiB))
        src = os.path.join(self.back, "j-src")
        os.makedirs(src)
        for name, d in data.items():
            with open(os.path.join(src, name), "wb") as f:
                f.write(d)
        sqfuse = shutil.which("squashfuse_ll") or shutil.which("squashfuse")
        sysl = []       # (label, block, remount(), root)
        live = {}
        try:
            for blk in JBLOCKS:
                kb = blk // KiB
                store = os.path.join(self.back, "st-j%d" % kb)
                m = os.path.join(self.mnt, "tj%d" % kb)
                opts = ["cold_block=%dK" % kb, "hot_age=1d", "warm_age=1d"]
                live[("tierfs", blk)] = self.h.start_tierfs(
                    self.a.tierfs, store, m, opts)
                for name, d in data.items():
                    p = os.path.join(m, name)
                    with open(p, "wb") as f:
                        f.write(d)
                    os.setxattr(p, "user.tierfs.pin", b"cold")
                    os.setxattr(p, "user.tierfs.tier", b"cold")
                    if get_tier(p) != "cold":
                        raise RuntimeError("j: %s not cold" % p)
                    try:
                        st = int(os.getxattr(p, "user.tierfs.stored"))
                    except (OSError, ValueError):
                        st = None
                    self.res.extra.setdefault("j", {})[
                        "%s %dK logical/stored" % (name, kb)] = \
                        round(len(d) / st, 3) if st else None

                def re_t(blk=blk, store=store, m=m, opts=opts):
                    self.h.stop(live[("tierfs", blk)])
                    live[("tierfs", blk)] = self.h.start_tierfs(
                        self.a.tierfs, store, m, opts)
                sysl.append(("tierfs-cold", blk, re_t, m))
                img = os.path.join(self.back, "j%d.sqfs" % kb)
                run(["mksquashfs", src, img, "-comp", "xz", "-b", str(blk),
                     "-noappend", "-quiet", "-no-progress", "-no-xattrs",
                     "-all-root", "-processors", str(os.cpu_count() or 1)],
                    check=True, stdout=subprocess.DEVNULL)
                self.res.extra.setdefault("j", {})[
                    "squashfs-xz %dK image logical/stored" % kb] = round(
                        sum(len(d) for d in data.values()) /
                        os.path.getsize(img), 3)
                sm = os.path.join(self.mnt, "sqj%d" % kb)
                cmd = ("squashfuse-xz", [sqfuse, "-f", img, sm], sm)
                live[("sq", blk)] = self.h.start_fuse(*cmd)

                def re_s(blk=blk, cmd=cmd):
                    self.h.stop(live[("sq", blk)])
                    live[("sq", blk)] = self.h.start_fuse(*cmd)
                sysl.append(("squashfuse-xz", blk, re_s, sm))
            # the reference blocks, compressed once: a random sample of
            # each file's blocks (the misses read random blocks) and the
            # middle block (the reference before)
            refs = {}
            comp = {}           # (blk, name, block) -> compressed copy
            rrng = random.Random(499)

            def compressed(blk, name, b):
                c = comp.get((blk, name, b))
                if c is None:
                    c = comp[(blk, name, b)] = lzma.compress(
                        data[name][b * blk:(b + 1) * blk],
                        preset=COLD_LEVEL)
                return c

            for blk in JBLOCKS:
                for name, d in data.items():
                    nblk = len(d) // blk
                    mid = (len(d) // 2) // blk
                    picks = rrng.sample(range(nblk), min(nblk, JREF_BLOCKS))
                    refs[(blk, name)] = (
                        [compressed(blk, name, b) for b in picks],
                        lzma.compress(d[mid * blk:(mid + 1) * blk],
                                      preset=COLD_LEVEL))

            def decode_s(comp):
                t = now()
                lzma.decompress(comp)
                return now() - t

            def decode_blocks_us(blk, name, picks):
                """Median of one python-lzma decode of each of blocks
                `picks` (us): the reference paired with a miss pass,
                the same blocks, seconds after it."""
                cs = [compressed(blk, name, b) for b in picks]
                return statistics.median(decode_s(c) for c in cs) * 1e6

            for r in range(self.rounds):
                rnd = "j:%d" % r
                rng = random.Random(500 + r)
                for blk in JBLOCKS:
                    for name, d in data.items():
                        sample, midc = refs[(blk, name)]
                        key = "%s %dK: " % (name, blk // KiB)
                        # one decode per block, as each miss is one:
                        # a best-of-n would hide the preemptions the
                        # misses pay on a loaded machine
                        per = [decode_s(comp) for comp in sample]
                        self.res.add("j", key + "one block decode (ref)",
                                     "python lzma",
                                     statistics.median(per) * 1e6, "us",
                                     note="median of %d random blocks" %
                                     len(per), rnd=rnd)
                        ts = [decode_s(midc) for _ in range(7)]
                        self.res.add("j", key + "middle block decode",
                                     "python lzma",
                                     statistics.median(ts) * 1e6, "us",
                                     rnd=rnd)
                for lab, blk, remount, root in rotate(sysl, r):
                    for name in data:
                        ref = None
                        if lab == "tierfs-cold" and name == "text":
                            ref = (lambda picks, blk=blk, name=name:
                                   decode_blocks_us(blk, name, picks))
                        self.j_one(lab, blk, remount, os.path.join(root, name),
                                   name, size, rng, rnd, ref)
        finally:
            for d in live.values():
                self.h.stop(d)

    def j_one(self, lab, blk, remount, path, name, size, rng, rnd,
              ref=None):
        """One system's (j) measurements on one file. ref(picks), if
        given, times python's decode of those blocks: after each miss
        pass it is run on the blocks that pass missed, so the goal's
        reference is the same blocks at the same load ("decode of the
        missed blocks")."""
        key = "%s %dK: " % (name, blk // KiB)
        remount()
        drop_caches()
        dt = read_seq(path, size)
        self.res.add("j", key + "seq, nothing cached", lab, size / 1e6 / dt,
                     "MB/s", rnd=rnd)
        remount()
        drop_caches()
        nblk = size // blk
        picks = rng.sample(range(nblk), min(nblk, self.j_misses))
        offs = [b * blk + rng.randrange(blk // PAGE) * PAGE for b in picks]
        _, first, _, _ = read_random(path, offs, self.rand_cap, blk)
        if ref and first:
            self.res.add("j", key + "decode of the missed blocks (ref)",
                         "python lzma", ref(picks[:len(first)]), "us",
                         note="median, one decode each", rnd=rnd)
        first.sort()
        self.res.add("j", key + "4K miss p50", lab, pct(first, 0.5) / 1e3,
                     "us", rnd=rnd)
        # the same with the archive (image) in the page cache: the daemon's
        # block cache empty (remounted) but no disk read, so the miss is
        # the daemon's decode plus a FUSE round trip
        read_seq(path, size)            # archive/image pages cached
        remount()
        picks = rng.sample(range(nblk), min(nblk, self.j_misses))
        offs = [b * blk + rng.randrange(blk // PAGE) * PAGE for b in picks]
        _, first, _, _ = read_random(path, offs, self.rand_cap, blk)
        if ref and first:
            self.res.add("j", key + "decode of the missed blocks, archive "
                         "in page cache (ref)", "python lzma",
                         ref(picks[:len(first)]), "us",
                         note="median, one decode each", rnd=rnd)
        first.sort()
        self.res.add("j", key + "4K miss p50, archive in page cache", lab,
                     pct(first, 0.5) / 1e3, "us", rnd=rnd)
        read_seq(path, size)            # every block decoded once
        drop_caches()
        offs = [rng.randrange(size // PAGE) * PAGE for _ in range(300)]
        lat, _, _, _ = read_random(path, offs, self.rand_cap, blk)
        lat.sort()
        self.res.add("j", key + "4K hit p50", lab, pct(lat, 0.5) / 1e3, "us",
                     rnd=rnd)

    def wl_m(self):
        """A million files (issue 9 item 5): tierfs makes one empty template
        file in each of 10 directories, mkmany.py (tests/mount) copies it
        to n_million files in SQL, then per round (page cache dropped,
        the store cleanly unmounted before): mount until ready and VmRSS,
        `ls -l` of one 100k-entry directory right after (so "mount until
        ls -l returns" is what a user waits for), VmRSS 5 s later (idle:
        the policy's first tick, the hot-set restore and the background
        meta.db check running or done), `find MNT -type f | wc -l` and the
        RSS after, `ls -l` of another 100k-entry directory and the RSS
        after. Also the
        create rate of empty files through the mount (FUSE's ceiling:
        mergerfs beside it)."""
        n = self.n_million
        ndirs = 10
        per = n // ndirs
        log("m: %d files (%d x %d): mount, RSS, find, ls -l" %
            (n, ndirs, per))
        mk = os.path.join(REPO, "tests", "mount", "mkmany.py")
        env = dict(os.environ, LC_ALL="C")
        for r in range(self.rounds):
            rnd = "m:%d" % r
            nc = 20000 if not self.a.quick else 2000
            for s in rotate(("tmpfs", "mergerfs", "tierfs"), r):
                if s == "tmpfs":
                    root = self.systems["tmpfs"]["root"]
                    d = os.path.join(root, "mc%d" % r)
                    dmn = None
                else:
                    br = os.path.join(self.back, "mc-%s-%d" % (s, r))
                    root = os.path.join(self.mnt, "mc-" + s)
                    os.makedirs(br)
                    if s == "tierfs":
                        dmn = self.h.start_tierfs(self.a.tierfs, br, root)
                    else:
                        dmn = self.h.start_fuse(
                            "mergerfs", ["mergerfs", "-f", "-o",
                                         MERGERFS_OFF, br, root], root)
                    d = os.path.join(root, "mc")
                try:
                    os.mkdir(d)
                    paths = [os.path.join(d, "e%06d" % i) for i in range(nc)]
                    dt = create_files(paths, [b""] * nc)
                    self.res.add("m", "create empty files", s, nc / dt,
                                 "files/s", rnd=rnd)
                finally:
                    if dmn:
                        self.h.stop(dmn)
                        rmtree(br)
                    else:
                        rmtree(d)
        store = os.path.join(self.back, "st-million")
        m = os.path.join(self.mnt, "tierfs-million")
        dmn = self.h.start_tierfs(self.a.tierfs, store, m)
        try:
            args = []
            for i in range(ndirs):
                os.mkdir(os.path.join(m, "d%d" % i))
                open(os.path.join(m, "d%d" % i, "f0000000"), "w").close()
                args += ["d%d" % i, str(per)]
            self.h.stop(dmn)
            dmn = None
            t = now()
            run([sys.executable, mk, store] + args, check=True)
            self.res.extra["m"] = {"files": n, "dirs": ndirs,
                                   "mkmany_s": round(now() - t, 1),
                                   "meta_db_MiB": round(os.path.getsize(
                                       os.path.join(store, "meta.db")) /
                                       MiB, 1)}
            for r in range(self.rounds):
                rnd = "m:%d" % r
                drop_caches()
                t = now()
                dmn = self.h.start_tierfs(self.a.tierfs, store, m)
                self.res.add("m", "mount until ready", "tierfs", now() - t,
                             "s", rnd=rnd)
                t_m = now() - t
                self.res.add("m", "RSS at ready", "tierfs",
                             rss_kib(dmn.pid) / KiB, "MiB", rnd=rnd)
                # what a user waits for: the mount, then a listing with
                # attributes of one 100k-entry directory (caches cold)
                t = now()
                run(["ls", "-l", os.path.join(m, "d0")],
                    stdout=subprocess.DEVNULL, check=True, env=env)
                t_ls = now() - t
                self.res.add("m", "ls -l of a %dk directory, right after "
                             "mount" % (per // 1000), "tierfs", t_ls, "s",
                             rnd=rnd)
                self.res.add("m", "mount until ls -l of a %dk directory "
                             "returns" % (per // 1000), "tierfs",
                             t_m + t_ls, "s", rnd=rnd)
                time.sleep(5)
                self.res.add("m", "RSS idle (5 s after mount)", "tierfs",
                             rss_kib(dmn.pid) / KiB, "MiB", rnd=rnd)
                t = now()
                out = run("find %s -type f | wc -l" % m, shell=True,
                          stdout=subprocess.PIPE, text=True, check=True,
                          env=env).stdout.strip()
                self.res.add("m", "find -type f | wc -l", "tierfs",
                             now() - t, "s", rnd=rnd)
                if int(out) != n:
                    raise RuntimeError("m: find counted %s files, not %d" %
                                       (out, n))
                self.res.add("m", "RSS after find", "tierfs",
                             rss_kib(dmn.pid) / KiB, "MiB", rnd=rnd)
                t = now()
                run(["ls", "-l", os.path.join(m, "d1")],
                    stdout=subprocess.DEVNULL, check=True, env=env)
                self.res.add("m", "ls -l of another %dk directory, after "
                             "find" % (per // 1000), "tierfs", now() - t,
                             "s", rnd=rnd)
                self.res.add("m", "RSS after ls -l", "tierfs",
                             rss_kib(dmn.pid) / KiB, "MiB", rnd=rnd)
                self.h.stop(dmn)
                dmn = None
        finally:
            if dmn:
                self.h.stop(dmn)
            rmtree(store)

    # ---- driver
    def timed(self, name, fn, *args):
        """Run one workload; a failure is recorded and the run goes on
        (the failing workload's numbers are missing, not wrong)."""
        t = now()
        try:
            return fn(*args)
        except (KeyboardInterrupt, MountError):
            raise
        except Exception as e:
            import traceback
            traceback.print_exc()
            self.failures.append("%s: %r" % (name, e))
            self.res.notes.append("workload %s FAILED: %r" % (name, e))
            return None
        finally:
            self.res.extra.setdefault("duration_s", {})[name] = round(
                now() - t, 1)

    def run(self):
        self.timed("setup", self.setup)
        if self.want("a"):
            self.timed("a", self.wl_a)
        if self.want("w") and not self.want("d"):
            self.timed("d write", self.wl_d_write)
        if self.want("d", "e"):
            if self.want("d"):
                self.timed("d write", self.wl_d_write)
            for s in ("tmpfs", "mergerfs", "mergerfs-cached", "tierfs"):
                if not os.path.exists(self.spath(s, "big/big.bin")):
                    write_big(self.spath(s, "big/big.bin"), self.big_pool,
                              self.big_size)
        if self.want("b", "c", "d", "e"):
            for tier in TIERS:
                log("reads with tierfs data %s" % tier)
                self.timed("reads " + tier, self.phase, tier)
        if self.want("e", "f"):
            self.timed("refs", self.wl_refs)
        if self.want("f"):
            self.timed("f", self.wl_f)
        if self.want("g"):
            self.timed("g", self.wl_g)
        if self.tierfs:
            st = tierfs_stats(self.tierfs.mnt)
            self.res.extra["main_tierfs_stats"] = st
            self.res.extra["main_tierfs_rss_MiB"] = round(
                rss_kib(self.tierfs.pid) / KiB, 1)
        if self.want("h"):
            self.timed("h", self.wl_h)
        if self.want("i"):
            self.timed("i", self.wl_i)
        if self.want("j"):
            self.timed("j", self.wl_j)
        if self.want("m"):
            self.timed("m", self.wl_m)
        if self.tierfs:
            rc = self.h.stop(self.tierfs)
            if rc != 0:
                self.res.notes.append("main tierfs exited %d on unmount" % rc)
            self.tierfs = None
        if self.back_rm:
            run(["rm", "-rf", "--one-file-system", self.back_rm])
