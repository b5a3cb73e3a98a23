#!/usr/bin/env python3
"""tierfs benchmark harness (issues 6 and 9).

What it is: one command that measures tierfs (data hot, warm and cold) side
by side with tmpfs (the page-cache limit), mergerfs over a directory
(the cost of FUSE itself; once with cache.files=off, once with kernel
caching on) and squashfuse over xz- and lz4-compressed squashfs images of
the same files (the peer for reading compressed data).

How it stays honest (issue 9 item 6):
  - every system runs in every round, back to back, in an order rotated
    each round; a ratio is the median of the per-round paired ratios;
  - stores, mergerfs branches and squashfs images live on a disk directory
    (--backing, default /var/tmp; the output names its file system and
    device), so durability costs what it costs on a disk;
  - tierfs data is held on each tier by pins (user.tierfs.pin) while it is
    read, so reads do not promote it;
  - "nothing cached" means the page cache dropped and, for tierfs-cold and
    squashfuse, the daemon remounted (its block cache empty); small files
    are then read in a random order, not the archive's;
  - random 4 KiB reads are split into misses (first read of a block in the
    pass) and hits; (j) measures cold misses, each in a block nobody has
    decoded, against one block decode (the median of random blocks of
    the file, and python's decode of the very blocks each pass missed,
    timed right after it) and squashfuse at the same block size;
  - remounts are timed until `ls -l` of the 100k-entry directory returns.

Workloads:
  a  create+write+close N small files (3 KiB)              files/s
  b  open+read+close of them: nothing cached (random order),
     then page cache warm                                  files/s per tier
  c  stat of them: right after the reads (one GETATTR each where the
     kernel must ask), and with attributes cached          stats/s
  d  sequential write of one big file incl. close; sequential read, nothing
     cached and page cache warm                            MB/s
  w  only d's sequential write (not in the default set)    MB/s
  e  random 4 KiB reads of the big file and a text file: miss/hit p50,
     p99, IOPS                                             us, IOPS
  f  migration of N small files hot->warm, warm->cold      s, MB/s
  g  stored/logical per tier on ../shared/corpora, next to lz4 and xz -6
  h  daemon RSS against hot_max after writing 4x hot_max
  i  100k files in one directory: create, remount until ls -l returns, RSS
  j  cold reads by block size (128K, 256K) on text and vectors against
     squashfuse-xz at the same block size: seq, 4K miss, 4K hit, and one
     block decode (python lzma, median over up to 64 random blocks of the
     file) as the reference
  m  a million files: create rate of empty files (vs mergerfs, tmpfs);
     a 1M-file store (built with tests/mount/mkmany.py): mount until ready,
     then until ls -l of a 100k directory returns, idle RSS, find | wc -l
     and RSS, ls -l of another 100k directory and RSS

Ratios are speed ratios: > 1 means the row is faster (more files/s, less
latency) than the baseline column.

What it is not: a test. It never fails on a slow number; it exits non-zero
only when a workload cannot run at all (a mount fails, data read back
differs). It must run as root (mounts, drop_caches).

Data: the small files are 768-dim float32 unit vectors of normal samples
(3 KiB; corpora/README.md: the same compressibility as real embeddings);
the big file is random bytes (incompressible, like model weights; every
codec stores it raw, so the xz squashfs image of it is built with -noD,
the same layout in seconds instead of minutes; --full-xz-big builds it for
real); the text file is corpora/modules/py repeated; (g) uses the corpora.

Everything lives in private temp dirs (a tmpfs for the tmpfs baseline, a
directory under --backing for the rest); all mounts are undone in a
finally/atexit path, also on Ctrl-C and SIGTERM.

Usage: sudo tests/bench/run.py [--tierfs BIN] [--json FILE] [--quick]
                               [--only a,b,...] [--rounds N] [--backing DIR]
python3 standard library only.
"""

import argparse
import atexit
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
from benchlib import (  # noqa: E402
    HERE,
    REPO,
    KiB,
    MiB,
    JBLOCKS,
    ALL_WORKLOADS,
    MERGERFS_OFF,
    MERGERFS_CACHED,
    log,
    now,
    run,
    tool_version,
    Harness,
    Results,
    fmt,
    print_table,
    print_goals,
    machine_meta,
)
from workloads import Bench  # noqa: E402


# --------------------------------------------------------------------------
# Goals of issue 9 (and the older ones of issue 6 that still apply), from
# the paired per-round ratios

def goals(res, bench):
    g = []
    m = res.median

    def add(name, value, target, ok, detail):
        g.append({"goal": name, "value": value, "target": target,
                  "met": ok, "detail": detail})

    def ratio_goal(name, wl, metric, system, base, want):
        r = res.ratio(wl, metric, system, base)
        n = len(res.paired(wl, metric, system, base))
        add(name, None if r is None else round(r, 3), ">= %.2fx %s" %
            (want, base), None if r is None else r >= want,
            "%s '%s' %s, median of %d paired round ratios" % (
                wl, metric, system, n))

    ratio_goal("hot 3K open+read+close, page cache warm", "b",
               "read, page cache warm", "tierfs-hot", "tmpfs", 0.5)
    ratio_goal("3K create, durable on close", "a", "create+write+close",
               "tierfs", "mergerfs", 1.2)
    ratio_goal("stat, attributes cached by the kernel", "c",
               "stat, attributes cached", "tierfs-hot", "tmpfs", 0.8)
    ratio_goal("stat right after reading the files", "c",
               "stat right after reads", "tierfs-hot", "mergerfs", 1.2)
    ratio_goal("1G sequential write incl. close", "d",
               "seq write incl. close", "tierfs", "tmpfs", 0.4)
    ratio_goal("cold seq read, 1G random bytes (d)", "d",
               "seq read, nothing cached", "tierfs-cold", "squashfuse-xz",
               1.0)
    for name in ("text", "vectors"):
        for blk in JBLOCKS:
            key = "%s %dK: " % (name, blk // KiB)
            ratio_goal("cold seq read, %s, block %dK (j)" % (name,
                                                            blk // KiB),
                       "j", key + "seq, nothing cached", "tierfs-cold",
                       "squashfuse-xz", 1.0)
    for blk in JBLOCKS:
        key = "text %dK: " % (blk // KiB)
        q = res.cross(("j", key + "4K miss p50", "tierfs-cold"),
                      ("j", key + "one block decode (ref)", "python lzma"))
        v = statistics.median(q) if q else None
        add("cold random 4K text read (miss), block %dK, <= 1.2x one block "
            "decode" % (blk // KiB), None if v is None else round(v, 3),
            "<= 1.20x decode", None if v is None else v <= 1.2,
            "j '%s4K miss p50' tierfs-cold / python lzma decode of one "
            "block, median of %d paired rounds" % (key, len(q)))
        q = res.cross(("j", key + "4K miss p50, archive in page cache",
                       "tierfs-cold"),
                      ("j", key + "one block decode (ref)", "python lzma"))
        v = statistics.median(q) if q else None
        add("cold random 4K text read (miss, archive in page cache), block "
            "%dK, <= 1.2x one block decode" % (blk // KiB),
            None if v is None else round(v, 3), "<= 1.20x decode",
            None if v is None else v <= 1.2,
            "j '%s4K miss p50, archive in page cache' tierfs-cold / python "
            "lzma decode of one block, median of %d paired rounds" % (
                key, len(q)))
        # the same, against python's decode of the very blocks each miss
        # pass read, timed right after it (same blocks, same load)
        for miss, ref, what in (
                ("4K miss p50", "decode of the missed blocks (ref)",
                 "miss"),
                ("4K miss p50, archive in page cache",
                 "decode of the missed blocks, archive in page cache "
                 "(ref)", "miss, archive in page cache")):
            q = res.cross(("j", key + miss, "tierfs-cold"),
                          ("j", key + ref, "python lzma"))
            v = statistics.median(q) if q else None
            add("cold random 4K text read (%s), block %dK, <= 1.2x decode "
                "of the same blocks" % (what, blk // KiB),
                None if v is None else round(v, 3), "<= 1.20x decode",
                None if v is None else v <= 1.2,
                "j '%s%s' tierfs-cold / python lzma decode of the blocks "
                "that pass missed, median of %d paired rounds" % (
                    key, miss, len(q)))
        r = res.ratio("j", key + "4K miss p50", "tierfs-cold",
                      "squashfuse-xz")
        n = len(res.paired("j", key + "4K miss p50", "tierfs-cold",
                           "squashfuse-xz"))
        add("cold random 4K text read (miss), block %dK, <= squashfuse-xz "
            "(same block size)" % (blk // KiB),
            None if r is None else round(r, 3), ">= 1.00x (speed)",
            None if r is None else r >= 1.0,
            "j '%s4K miss p50' tierfs-cold vs squashfuse-xz -b %dK, median "
            "of %d paired round ratios" % (key, blk // KiB, n))
    t = m("m", "mount until ready", "tierfs")
    add("%d-file store: mount < 1 s" % bench.n_million, t, "< 1 s",
        None if t is None else t < 1.0, "m mount until ready (caches "
        "dropped)")
    t = m("m", "mount until ls -l of a %dk directory returns" % (
        bench.n_million // 10000), "tierfs")
    add("%d-file store: mount until ls -l of a %dk directory returns" % (
        bench.n_million, bench.n_million // 10000), t, "(reported)", None,
        "m mount until ready + ls -l of one directory right after (caches "
        "dropped)")
    for metric in ("RSS idle (5 s after mount)", "RSS after find"):
        v = m("m", metric, "tierfs")
        add("%d-file store: %s < 100 MiB" % (bench.n_million, metric), v,
            "< 100 MiB", None if v is None else v < 100, "m " + metric)
    ratio_goal("create empty files, at FUSE's ceiling", "m",
               "create empty files", "tierfs", "mergerfs", 0.9)
    # issue 6 goals that still apply
    for f in ("text", "big"):
        w = m("e", f + " 4K miss p50", "tierfs-warm")
        b = m("e", f + " 4K miss p50", "mergerfs")
        add("warm random 4K read (%s) <= FUSE round trip + 40us" % f,
            w, "<= %s us (mergerfs p50 + 40)" % fmt(b + 40 if b else None),
            None if w is None or b is None else w <= b + 40,
            "e %s 4K miss p50 tierfs-warm vs mergerfs, us" % f)
    w = m("d", "seq read, nothing cached", "tierfs-warm")
    add("warm sequential read >= 1 GB/s", w, ">= 1000 MB/s",
        None if w is None else w >= 1000, "d seq read, nothing cached, "
        "tierfs-warm MB/s")
    c = m("e", "big 4K miss p50", "tierfs-cold")
    add("cold random 4K read of incompressible data <= 0.3 ms", c,
        "<= 300 us", None if c is None else c <= 300,
        "e big 4K miss p50 tierfs-cold (stored blocks)")
    ratio_goal("cold 3K files, random order, nothing cached >= squashfuse-xz",
               "b", "read, nothing cached", "tierfs-cold", "squashfuse-xz",
               1.0)
    r = m("h", "RSS after writes", "tierfs")
    hm = bench.hot_max_h / MiB
    add("RSS <= hot_max + 64 MiB", r, "<= %d MiB" % (hm + 64),
        None if r is None else r <= hm + 64, "h RSS after writing 4x hot_max")
    t = m("i", "remount until ls -l returns", "tierfs")
    add("remount of a %d-file directory until ls -l returns" % bench.n_many,
        t, "(reported; mergerfs %s s)" % fmt(
            m("i", "remount until ls -l returns", "mergerfs")), None,
        "i unmount + drop caches + mount + ls -l")
    return g


def main():
    if sys.argv[1:2] == ["s3"]:  # issue 12's S3 goals: workloads_s3.py
        return __import__("workloads_s3").main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tierfs", default=os.path.join(REPO, "build", "src",
                                                     "tierfs"))
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, 1 round (development)")
    ap.add_argument("--only", default=ALL_WORKLOADS,
                    help="workloads to run, e.g. a,b,e (default all; w: only "
                    "d's write)")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--many", type=int, default=0,
                    help="files in (i)'s directory (default 100000, "
                    "--quick 10000)")
    ap.add_argument("--million", type=int, default=0,
                    help="files in (m)'s store (default 1000000, --quick "
                    "100000)")
    ap.add_argument("--backing", default="/var/tmp",
                    help="directory (on a disk) for branches, images and "
                    "stores; 'tmpfs' puts them on a private tmpfs "
                    "(default /var/tmp)")
    ap.add_argument("--full-xz-big", action="store_true",
                    help="build the xz squashfs image of the big random file "
                    "with real compression (slow) instead of -noD")
    a = ap.parse_args()
    a.only = [x for x in a.only.replace(",", "")
              if x in ALL_WORKLOADS + "w"]
    a.tierfs = os.path.abspath(a.tierfs)

    if os.geteuid() != 0:
        print("tierfs bench: must run as root (mounts, drop_caches)",
              file=sys.stderr)
        return 77
    if not os.access(a.tierfs, os.X_OK):
        print("tierfs bench: no tierfs binary at %s (--tierfs)" % a.tierfs,
              file=sys.stderr)
        return 1
    need = ["mergerfs", "mksquashfs", "lz4", "xz", "fusermount3"]
    if not all(shutil.which(x) for x in need) or not (
            shutil.which("squashfuse_ll") or shutil.which("squashfuse")):
        run(["sh", os.path.join(HERE, "deps.sh")], check=True)

    load_start = open("/proc/loadavg").read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="tfsbench", dir="/tmp")
    h = Harness(tmp)
    atexit.register(h.cleanup)

    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    res = Results()
    bench = Bench(a, h, res)
    t0 = now()
    failed = None
    try:
        bench.run()
    except KeyboardInterrupt as e:
        # what was measured so far is still reported (marked interrupted)
        log("interrupted; cleaning up")
        failed = e
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        h.cleanup()
        if getattr(bench, "back_rm", None):
            run(["rm", "-rf", "--one-file-system", bench.back_rm])
    except Exception as e:
        failed = e
        import traceback
        traceback.print_exc()
    finally:
        if failed or bench.failures:
            keep = os.path.splitext(os.path.abspath(a.json))[0] + "-logs"
            shutil.rmtree(keep, ignore_errors=True)
            os.makedirs(keep)
            for p in glob.glob(os.path.join(tmp, "log.*")):
                shutil.copy(p, keep)
            log("daemon logs kept in " + keep)
        h.cleanup()
    elapsed = now() - t0

    meta = machine_meta()
    meta.update(bench.meta)
    meta.update({
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": round(elapsed, 1),
        "tierfs": a.tierfs,
        "tierfs_version": tool_version([a.tierfs, "-V"]),
        "tierfs_commit": os.environ.get("TIERFS_COMMIT"),
        "mergerfs_version": tool_version(["mergerfs", "-V"]),
        "squashfuse_version": tool_version(["squashfuse", "--version"]),
        "mksquashfs_version": tool_version(["mksquashfs", "-version"]),
        "lz4_version": tool_version(["lz4", "--version"]),
        "xz_version": tool_version(["xz", "--version"]),
        "mergerfs_opts": {"mergerfs": MERGERFS_OFF,
                          "mergerfs-cached": MERGERFS_CACHED},
        "rounds": bench.rounds, "quick": a.quick, "only": "".join(a.only),
        "sizes": {"n_small": bench.n_small, "small_size": bench.small_size,
                  "big_size": bench.big_size, "text_size": bench.text_size,
                  "n_many": bench.n_many, "hot_max_h": bench.hot_max_h,
                  "n_million": bench.n_million, "j_size": bench.j_size,
                  "random_reads_per_pass": bench.rand_n,
                  "random_pass_cap_s": bench.rand_cap},
        "backing_arg": a.backing,
        "loadavg_start": load_start,
        "loadavg_end": open("/proc/loadavg").read().split()[:3],
        "cold": bench.cold_ok if bench.cold_ok is not True else "ok",
    })
    try:
        meta["git"] = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass

    print("\ntierfs benchmark: %s, %s cores, %s MiB RAM, kernel %s; %d "
          "round(s), medians; ratios are speed ratios (>1 = faster than the "
          "column's system); load average %s at start, %s at end" % (
              meta["cpu"], meta["cores"], meta["mem_MiB"], meta["kernel"],
              bench.rounds, "/".join(meta["loadavg_start"]),
              "/".join(meta["loadavg_end"])))
    bk = meta.get("backing") or {}
    print("stores, branches and images: %s (%s on %s); tierfs data held on "
          "each tier by pins (user.tierfs.pin) during its reads; ratios: "
          "median of per-round paired ratios, system order rotated each "
          "round" % (bk.get("path"), bk.get("fstype"), bk.get("device")))
    print_table(res)
    if "g" in res.extra:
        print("\n(g) stored bytes and logical/stored on corpora:")
        for name, row in res.extra["g"].items():
            lg = row["logical_bytes"]
            print("  %s: %d files, %d bytes logical" % (name, row["files"], lg))
            for k, v in row.items():
                if k in ("files", "logical_bytes") or k.endswith("source") \
                        or k.endswith("move_s"):
                    continue
                if isinstance(v, int) and v > 0:
                    print("    %-22s %12d  stored/logical %.3f  "
                          "logical/stored %.2fx" % (k, v, v / lg, lg / v))
                else:
                    print("    %-22s %s" % (k, v))
    gl = goals(res, bench)
    print_goals(gl)
    for n in res.notes:
        print("note: " + n)
    if bench.cold_ok not in (None, True):
        print("note: cold tier: " + str(bench.cold_ok))
    print("elapsed %.0f s" % elapsed)

    doc = {"meta": meta, "results": res.to_json(), "extra": res.extra,
           "goals": gl, "notes": res.notes,
           "error": None if failed is None else repr(failed)}
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1, default=str)
    print("wrote " + a.json)
    for f in bench.failures:
        print("FAILED: " + f)
    if isinstance(failed, KeyboardInterrupt):
        return 130
    return 1 if failed or bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
