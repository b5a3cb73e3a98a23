"""benchlib - the plumbing of the tierfs benchmark (tests/bench/run.py).

What it is: mounts and FUSE daemons that are always undone (Harness), the
results table with medians and speed ratios (Results, print_table), the
primitive measurements (create/read/stat loops, sequential and random
reads, batched setxattr) and the data generators. Measurements use os.*
calls directly, so Python adds as little as it can per syscall.
What it is not: the workloads (workloads.py) nor the goals and the command
line (run.py). python3 standard library only.
"""

import array
import errno
import json
import math
import os
import platform
import random
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPORA = os.path.join(os.path.dirname(REPO), "shared", "corpora")
if not os.path.isdir(CORPORA):
    CORPORA = "/work/shared/corpora"

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
PAGE = 4096
COLD_BLOCK = 256 * KiB   # tierfs default cold_block (xz block size)
COLD_LEVEL = 6           # tierfs default cold_level
SQ_BLOCK = 128 * KiB     # mksquashfs default block size
JBLOCKS = (128 * KiB, 256 * KiB)   # cold_block sizes compared in (j)
JREF_BLOCKS = 64         # (j): blocks whose median decode is the reference

ALL_WORKLOADS = "abcdefghijm"
TIERS = ("hot", "warm", "cold")
BASELINES = ("tmpfs", "mergerfs", "mergerfs-cached", "squashfuse-xz",
             "squashfuse-lz4")
SYSTEM_ORDER = BASELINES + ("tierfs", "tierfs-hot", "tierfs-warm",
                            "tierfs-cold", "tierfs (tierctl)")
RATIO_COLS = (("tmpfs", "xtmpfs"), ("mergerfs", "xmfs"),
              ("mergerfs-cached", "xmfs-c"), ("squashfuse-xz", "xsq-xz"),
              ("squashfuse-lz4", "xsq-lz4"))

MERGERFS_OFF = "cache.files=off"
MERGERFS_CACHED = ("cache.files=full,cache.entry=86400,cache.attr=86400,"
                   "cache.negative_entry=86400")


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def now():
    return time.perf_counter()


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def higher_is_better(unit):
    return unit not in ("s", "us", "ms", "MiB", "x decode")


def drop_caches():
    """Kernel cache cold: page cache, dentries and inodes out."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, timeout=timeout, **kw)


def tool_version(cmd):
    try:
        r = run(cmd, timeout=20, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
        for line in r.stdout.splitlines():
            if line.strip():
                return line.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "n/a"


def is_mounted(path):
    """The fs type mounted exactly at path, or None. (Our paths have no
    characters /proc/mounts would escape.)"""
    path = os.path.realpath(path)
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[1] == path:
                return parts[2]
    return None


# --------------------------------------------------------------------------
# Mounts and daemons: every one is registered so cleanup can undo it.

class MountError(Exception):
    pass


class Daemon:
    """A FUSE daemon run in the foreground as our child (own session, so
    Ctrl-C reaches only us and we unmount it cleanly)."""

    def __init__(self, name, mnt, proc, logpath):
        self.name = name
        self.mnt = mnt
        self.proc = proc
        self.log = logpath

    @property
    def pid(self):
        return self.proc.pid

    def log_tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Harness:
    def __init__(self, tmp):
        self.tmp = tmp
        self.daemons = []      # live Daemon objects
        self.tmpfs = []        # tmpfs mountpoints we mounted
        self.cleaned = False
        self.nlog = 0

    # -- generic FUSE daemons (mergerfs, squashfuse): ready when mounted
    def start_fuse(self, name, cmd, mnt, timeout=60):
        os.makedirs(mnt, exist_ok=True)
        self.nlog += 1
        logpath = os.path.join(self.tmp, "log.%d.%s" % (self.nlog, name))
        with open(logpath, "w") as lf:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf,
                                    stderr=subprocess.STDOUT,
                                    start_new_session=True)
        d = Daemon(name, mnt, proc, logpath)
        self.daemons.append(d)
        t0 = now()
        while now() - t0 < timeout:
            if is_mounted(mnt):
                return d
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop(d)
        raise MountError("%s did not mount %s: %s\n%s" %
                         (name, mnt, " ".join(cmd), d.log_tail()))

    # -- tierfs: ready when it writes "ready" on TIERFS_READY_FD
    def start_tierfs(self, binary, store, mnt, opts=(), timeout=180):
        os.makedirs(mnt, exist_ok=True)
        os.makedirs(store, exist_ok=True)
        self.nlog += 1
        logpath = os.path.join(self.tmp, "log.%d.tierfs" % self.nlog)
        r, w = os.pipe()
        env = dict(os.environ, TIERFS_READY_FD=str(w))
        cmd = [binary, store, mnt, "-f"]
        if opts:
            cmd += ["-o", ",".join(opts)]
        try:
            with open(logpath, "w") as lf:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                        stdout=lf, stderr=subprocess.STDOUT,
                                        pass_fds=(w,), env=env,
                                        start_new_session=True)
        finally:
            os.close(w)
        d = Daemon("tierfs", mnt, proc, logpath)
        self.daemons.append(d)
        got = b""
        try:
            t0 = now()
            while b"\n" not in got and now() - t0 < timeout:
                rl, _, _ = select.select([r], [], [], 0.5)
                if rl:
                    chunk = os.read(r, 64)
                    if not chunk:
                        break
                    got += chunk
                elif proc.poll() is not None:
                    break
        finally:
            os.close(r)
        if got.startswith(b"ready") and is_mounted(mnt):
            return d
        self.stop(d)
        raise MountError("tierfs did not get ready (%r): %s\n%s" %
                         (got, " ".join(cmd), d.log_tail()))

    def stop(self, d, timeout=300):
        """fusermount3 -u, then wait for the daemon to exit (kill it if it
        does not). Returns the daemon's exit status."""
        for _ in range(30):
            if not is_mounted(d.mnt):
                break
            r = run(["fusermount3", "-u", d.mnt], timeout=60,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    text=True)
            if r.returncode == 0:
                break
            if "busy" not in r.stderr:
                break
            time.sleep(0.5)
        if is_mounted(d.mnt):
            run(["fusermount3", "-uz", d.mnt], timeout=60,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            rc = d.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log("%s (pid %d) still running after unmount; killing it" %
                (d.name, d.pid))
            d.proc.kill()
            rc = d.proc.wait()
        if d in self.daemons:
            self.daemons.remove(d)
        return rc

    def mount_tmpfs(self, mnt, size):
        os.makedirs(mnt, exist_ok=True)
        run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size,
             "tmpfs", mnt], check=True)
        self.tmpfs.append(mnt)

    def cleanup(self):
        if self.cleaned:
            return
        self.cleaned = True
        for d in list(reversed(self.daemons)):
            try:
                self.stop(d, timeout=120)
            except Exception as e:  # keep going: unmount everything
                log("cleanup: %s: %s" % (d.name, e))
        # anything left under our temp dir, deepest first
        left = []
        with open("/proc/mounts") as f:
            for line in f:
                p = line.split()[1]
                if p.startswith(self.tmp + "/"):
                    left.append(p)
        for p in sorted(left, reverse=True):
            if p in self.tmpfs:
                continue
            run(["fusermount3", "-uz", p], timeout=60,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in reversed(self.tmpfs):
            r = run(["umount", p], timeout=60, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                run(["umount", "-l", p], timeout=60)
        self.tmpfs = []
        run(["rm", "-rf", "--one-file-system", self.tmp], timeout=600)


# --------------------------------------------------------------------------
# Results

class Results:
    """Samples per (workload, metric, system). Each sample carries the
    round it was taken in (a tag such as "cold:2"); a ratio between two
    systems is the median of the per-round ratios over the rounds both were
    measured in (paired: the two runs were back to back, under the same
    load), and falls back to the ratio of medians only when no round pairs
    them (marked in the JSON)."""

    def __init__(self):
        self.rows = {}     # (workload, metric, system) -> dict
        self.order = []
        self.extra = {}    # workload -> free-form facts
        self.notes = []

    def add(self, wl, metric, system, value, unit, note=None, rnd=None):
        key = (wl, metric, system)
        if key not in self.rows:
            self.rows[key] = {"workload": wl, "metric": metric,
                              "system": system, "unit": unit,
                              "samples": [], "rounds": [], "note": None}
            self.order.append(key)
        row = self.rows[key]
        if value is not None:
            row["samples"].append(value)
            row["rounds"].append(rnd)
        if note:
            row["note"] = note

    def na(self, wl, metric, system, unit, why):
        self.add(wl, metric, system, None, unit, note="n/a: " + why)

    def median(self, wl, metric, system):
        row = self.rows.get((wl, metric, system))
        if not row or not row["samples"]:
            return None
        return statistics.median(row["samples"])

    def paired(self, wl, metric, system, base):
        """Per-round speed ratios of system over base (rounds both were
        measured in)."""
        a = self.rows.get((wl, metric, system))
        b = self.rows.get((wl, metric, base))
        if not a or not b:
            return []
        hib = higher_is_better(a["unit"])
        bv = {}
        for r, v in zip(b["rounds"], b["samples"]):
            if r is not None:
                bv.setdefault(r, []).append(v)
        out = []
        for r, v in zip(a["rounds"], a["samples"]):
            if r is None or r not in bv or not bv[r]:
                continue
            w = bv[r].pop(0)
            if v and w:
                out.append(v / w if hib else w / v)
        return out

    def cross(self, a, b):
        """Per-round quotients a/b of two rows given as (wl, metric,
        system), over the rounds both were measured in."""
        ra, rb = self.rows.get(a), self.rows.get(b)
        if not ra or not rb:
            return []
        bv = dict(zip(rb["rounds"], rb["samples"]))
        return [v / bv[r] for r, v in zip(ra["rounds"], ra["samples"])
                if r is not None and bv.get(r)]

    def ratio(self, wl, metric, system, base):
        pr = self.paired(wl, metric, system, base)
        if pr:
            return statistics.median(pr)
        v = self.median(wl, metric, system)
        b = self.median(wl, metric, base)
        if v is None or b is None or v == 0 or b == 0:
            return None
        unit = self.rows[(wl, metric, system)]["unit"]
        return v / b if higher_is_better(unit) else b / v

    def to_json(self):
        out = []
        for key in self.order:
            row = dict(self.rows[key])
            wl, metric, system = key
            row["median"] = self.median(wl, metric, system)
            row["higher_is_better"] = higher_is_better(row["unit"])
            row["ratios"] = {}
            row["ratio_pairs"] = {}
            for base, _ in RATIO_COLS:
                if base != system:
                    r = self.ratio(wl, metric, system, base)
                    if r is not None:
                        row["ratios"][base] = round(r, 4)
                        row["ratio_pairs"][base] = len(
                            self.paired(wl, metric, system, base))
            out.append(row)
        return out


def fmt(v):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    return "%.3f" % v


def print_table(res, out=sys.stdout):
    hdr = ["wl", "metric", "system", "median", "unit", "n", "spread"] + \
        [c for _, c in RATIO_COLS] + ["note"]
    lines = []
    groups = []
    for k in res.order:
        if k[:2] not in groups:
            groups.append(k[:2])
    keys = sorted(res.order, key=lambda k: (
        k[0], groups.index(k[:2]),
        SYSTEM_ORDER.index(k[2]) if k[2] in SYSTEM_ORDER else 99))
    for key in keys:
        row = res.rows[key]
        wl, metric, system = key
        med = res.median(wl, metric, system)
        smp = row["samples"]
        spread = ""
        if len(smp) > 1 and med:
            spread = "%d%%" % round(100 * (max(smp) - min(smp)) / abs(med))
        cells = [wl, metric, system, fmt(med), row["unit"], str(len(smp)),
                 spread]
        for base, _ in RATIO_COLS:
            r = None if base == system else res.ratio(wl, metric, system, base)
            cells.append("" if r is None else "%.2f" % r)
        cells.append((row["note"] or "")[:70])
        lines.append(cells)
    widths = [max(len(hdr[i]), max((len(c[i]) for c in lines), default=0))
              for i in range(len(hdr))]
    widths[-1] = 0
    print("  ".join(h.ljust(widths[i]) for i, h in enumerate(hdr)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    prev = None
    for c in lines:
        if prev and (c[0], c[1]) != prev:
            print("", file=out)
        prev = (c[0], c[1])
        print("  ".join(x.ljust(widths[i]) if i < 3 or i >= len(c) - 2 or
                        i == 4 else
                        x.rjust(widths[i]) for i, x in enumerate(c)).rstrip(),
              file=out)


# --------------------------------------------------------------------------
# Primitive measurements (os.* calls: as little Python per syscall as we can)

O_RD = os.O_RDONLY
O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL


def create_files(paths, datas):
    t = now()
    for p, d in zip(paths, datas):
        fd = os.open(p, O_NEW, 0o644)
        os.write(fd, d)
        os.close(fd)
    return now() - t


def read_files(paths):
    t = now()
    rd = os.read
    for p in paths:
        fd = os.open(p, O_RD)
        while rd(fd, 65536):
            pass
        os.close(fd)
    return now() - t


def stat_files(paths):
    st = os.stat
    t = now()
    for p in paths:
        st(p)
    return now() - t


def write_big(path, pool, size):
    mv = memoryview(pool)
    if os.path.exists(path):
        os.unlink(path)
    t = now()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        off = 0
        while off < size:
            p = off % len(pool)
            n = min(MiB, size - off, len(pool) - p)
            k = os.write(fd, mv[p:p + n])
            off += k
    finally:
        os.close(fd)
    return now() - t


def read_seq(path, expect):
    buf = bytearray(MiB)
    n = 0
    t = now()
    fd = os.open(path, O_RD)
    try:
        while True:
            k = os.readv(fd, [buf])
            if k == 0:
                break
            n += k
    finally:
        os.close(fd)
    dt = now() - t
    if n != expect:
        raise RuntimeError("%s: read %d bytes, expected %d" % (path, n, expect))
    return dt


def read_random(path, offs, cap_s, blk):
    """4 KiB preads at offs (FADV_RANDOM: no readahead). Returns latencies
    (ns) of every read, of the first read of each blk-sized block, of the
    other reads, and the wall time."""
    lat = []
    first = []
    again = []
    seen = set()
    pc = time.perf_counter_ns
    fd = os.open(path, O_RD)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        pread = os.pread
        t0 = pc()
        deadline = t0 + int(cap_s * 1e9)
        for off in offs:
            s = pc()
            pread(fd, PAGE, off)
            e = pc()
            lat.append(e - s)
            b = off // blk
            if b not in seen:
                seen.add(b)
                first.append(e - s)
            else:
                again.append(e - s)
            if e > deadline:
                break
        total = pc() - t0
    finally:
        os.close(fd)
    return lat, first, again, total / 1e9


def verify_sample(paths, ref_paths, n, rng):
    """Compare n random files (or ranges of big ones) with the reference."""
    idx = rng.sample(range(len(paths)), min(n, len(paths)))
    for i in idx:
        with open(paths[i], "rb") as a, open(ref_paths[i], "rb") as b:
            size = os.fstat(b.fileno()).st_size
            if size <= 8 * MiB:
                if a.read() != b.read():
                    raise RuntimeError("data differs: %s" % paths[i])
            else:
                for _ in range(8):
                    off = rng.randrange(0, size - PAGE)
                    if os.pread(a.fileno(), PAGE, off) != \
                            os.pread(b.fileno(), PAGE, off):
                        raise RuntimeError("data differs: %s at %d" %
                                           (paths[i], off))


def xattr_all(paths, name, value, threads=2):
    """setxattr on every path with `threads` threads. Returns (seconds,
    {errno: count})."""
    errs = {}
    lock = threading.Lock()
    val = value.encode()

    def work(chunk):
        local = {}
        for p in chunk:
            try:
                os.setxattr(p, name, val)
            except OSError as e:
                local[e.errno] = local.get(e.errno, 0) + 1
        with lock:
            for k, v in local.items():
                errs[k] = errs.get(k, 0) + v

    chunks = [paths[i::threads] for i in range(threads)]
    ths = [threading.Thread(target=work, args=(c,)) for c in chunks]
    t = now()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    return now() - t, errs


def unit_vectors(n, dim, seed):
    """n float32 little-endian unit vectors of dimension dim, as bytes."""
    rng = random.Random(seed)
    g = rng.gauss
    out = array.array("f")
    for _ in range(n):
        v = [g(0.0, 1.0) for _ in range(dim)]
        k = 1.0 / math.sqrt(sum(x * x for x in v))
        out.extend([x * k for x in v])
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def get_tier(path):
    try:
        return os.getxattr(path, "user.tierfs.tier").decode()
    except OSError as e:
        return "err:" + errno.errorcode.get(e.errno, str(e.errno))


def describe_dir(path):
    """Where a directory lives: its file system type and device."""
    path = os.path.realpath(path)
    best = ("?", "/", "?")
    with open("/proc/mounts") as f:
        for line in f:
            dev, mp, fstype = line.split()[:3]
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and \
                    len(mp) >= len(best[1]):
                best = (dev, mp, fstype)
    return {"path": path, "device": best[0], "mountpoint": best[1],
            "fstype": best[2]}


def rotate(seq, r):
    """seq rotated by r places: round r measures a different system first."""
    seq = list(seq)
    if not seq:
        return seq
    r %= len(seq)
    return seq[r:] + seq[:r]


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def tierfs_stats(mnt):
    try:
        with open(os.path.join(mnt, ".tiers", "stats")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


def print_goals(gl, out=sys.stdout):
    print("\nGoals (issue 9; older issue 6 goals last):", file=out)
    for x in gl:
        met = {True: "MET ", False: "MISS", None: "n/a "}[x["met"]]
        print("  [%s] %-58s %10s  (target %s; %s)" % (
            met, x["goal"], fmt(x["value"]), x["target"], x["detail"]),
            file=out)


def machine_meta():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return {"host": platform.node(), "kernel": platform.release(),
            "cpu": cpu, "cores": os.cpu_count(), "mem_MiB": mem,
            "python": platform.python_version()}
