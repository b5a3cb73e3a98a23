#!/usr/bin/env python3
"""tierfs benchmark harness (issue 6, item 1).

What it is: one command that measures tierfs (data hot, warm and cold) side
by side with tmpfs (the page-cache limit), mergerfs over tmpfs (the cost of
FUSE itself; once with cache.files=off, once with kernel caching on) and
squashfuse over xz- and lz4-compressed squashfs images of the same files
(the peer for reading compressed data). Every system runs the same
workload back to back, several rounds; the table shows medians and ratios.

Workloads (issue 6 item 1):
  a  create+write+close N small files (3 KiB)              files/s
  b  open+read+close of them, kernel cache warm / cold     files/s per tier
  c  stat of all of them (attributes cached)               stats/s
  d  sequential write of one big file, read per tier       MB/s (cache warm/cold)
  e  random 4 KiB reads of the big file and of a text file p50/p99 us, IOPS
  f  migration of N small files hot->warm, warm->cold      s, MB/s
  g  stored/logical per tier on ../shared/corpora, next to lz4 and xz -6
  h  daemon RSS against hot_max after writing 4x hot_max
  i  many files: create, ls -l, remount (unmount + mount until ready)

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

Everything lives in a private temp dir: a tmpfs for the baseline, a tmpfs
"backing" dir for mergerfs branches, squashfs images and tierfs stores (so
every FUSE peer reads from RAM, like tmpfs; --backing DIR puts them on a
real disk instead). All mounts are undone in a finally/atexit path, also on
Ctrl-C and SIGTERM.

Usage: sudo tests/bench/run.py [--tierfs BIN] [--json FILE] [--quick]
                               [--only a,b,...] [--rounds N]
python3 standard library only.
"""

import argparse
import atexit
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
from benchlib import (  # noqa: E402
    HERE,
    REPO,
    MiB,
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
# Goals of issue 6 item 2, from the medians

def goals(res, bench):
    g = []
    m = res.median

    def add(name, value, target, ok, detail):
        g.append({"goal": name, "value": value, "target": target,
                  "met": ok, "detail": detail})

    def ratio_goal(name, wl, metric, system, base, want):
        r = res.ratio(wl, metric, system, base)
        add(name, None if r is None else round(r, 3), ">= %.2fx %s" %
            (want, base), None if r is None else r >= want,
            "%s %s %s" % (wl, metric, system))

    ratio_goal("hot 3K open+read+close, cache warm", "b", "read cached",
               "tierfs-hot", "tmpfs", 0.5)
    ratio_goal("hot 3K read, cache cold", "b", "read uncached",
               "tierfs-hot", "mergerfs", 1.5)
    ratio_goal("3K create, durable on close", "a", "create", "tierfs",
               "mergerfs", 1.0)
    ratio_goal("stat of cached files", "c", "stat cached", "tierfs-hot",
               "tmpfs", 0.8)
    ratio_goal("1G read hot, cache warm", "d", "read cached", "tierfs-hot",
               "tmpfs", 0.9)
    ratio_goal("1G read hot, cache cold", "d", "read uncached", "tierfs-hot",
               "tmpfs", 0.3)
    ratio_goal("1G write", "d", "write", "tierfs", "tmpfs", 0.4)
    for f in ("text", "big"):
        w = m("e", f + " p50", "tierfs-warm")
        b = m("e", f + " p50", "mergerfs")
        add("warm random 4K read (%s) <= FUSE round trip + 40us" % f,
            w, "<= %s us (mergerfs p50 + 40)" % fmt(b + 40 if b else None),
            None if w is None or b is None else w <= b + 40,
            "e %s p50 tierfs-warm vs mergerfs, us" % f)
    w = m("d", "read uncached", "tierfs-warm")
    add("warm sequential read >= 1 GB/s", w, ">= 1000 MB/s",
        None if w is None else w >= 1000, "d read uncached tierfs-warm MB/s")
    c = m("e", "text 1st-in-block p50", "tierfs-cold")
    x = m("ref", "xz decode 256K text block", "python lzma")
    add("cold random 4K text read <= 1.2x one xz block decode", c,
        "<= %s us" % fmt(1.2 * x if x else None),
        None if c is None or x is None else c <= 1.2 * x,
        "e text 1st-in-block p50 tierfs-cold vs python lzma decode of a "
        "256K text block")
    c = m("e", "big p50", "tierfs-cold")
    add("cold random 4K read of incompressible data <= 0.3 ms", c, "<= 300 us",
        None if c is None else c <= 300, "e big p50 tierfs-cold")
    c = m("b", "read uncached", "tierfs-cold")
    add("cold 3K vector open+read+close, cache cold <= 0.3 ms",
        None if not c else round(1e6 / c, 1), "<= 300 us",
        None if not c else 1e6 / c <= 300, "b read uncached tierfs-cold")
    for wl, metric in (("b", "read uncached"), ("d", "read uncached"),
                       ("e", "big IOPS"), ("e", "text IOPS")):
        ratio_goal("cold reads >= squashfuse-xz (%s %s)" % (wl, metric), wl,
                   metric, "tierfs-cold", "squashfuse-xz", 1.0)
    for label in ("tierfs (dir xattr)", "tierfs (file xattr x2)",
                  "tierfs (tierctl)"):
        t = m("f", "hot->warm time", label)
        if t is not None or label == "tierfs (dir xattr)":
            add("demote %d vectors hot->warm < 100 ms, %s" % (
                bench.n_small, label[8:-1]),
                None if t is None else round(t * 1e3, 1), "< 100 ms",
                None if t is None else t < 0.1, "f hot->warm time (ms)")
    x = m("ref", "xz -6 1-thread compress vectors", "python lzma")
    cores = os.cpu_count() or 1
    for label in ("tierfs (dir xattr)", "tierfs (file xattr x2)"):
        rate = m("f", "warm->cold rate", label)
        add("warm->cold >= 0.9 x cores x 1-thread xz, %s" % label[8:-1], rate,
            ">= %s MB/s" % fmt(0.9 * cores * x if x else None),
            None if rate is None or x is None else rate >= 0.9 * cores * x,
            "f warm->cold MB/s vs %d cores x python lzma -6 on the same "
            "vectors" % cores)
    r = m("h", "RSS after writes", "tierfs")
    hm = bench.hot_max_h / MiB
    add("RSS <= hot_max + 64 MiB", r, "<= %d MiB" % (hm + 64),
        None if r is None else r <= hm + 64, "h RSS after writing 4x hot_max")
    t = m("i", "remount", "tierfs")
    add("remount of a %d-file store < 1 s" % bench.n_many, t, "< 1 s",
        None if t is None else t < 1.0, "i remount (unmount + mount)")
    return g


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tierfs", default=os.path.join(REPO, "build", "src",
                                                     "tierfs"))
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--quick", action="store_true",
                    help="small sizes, 1 round (development)")
    ap.add_argument("--only", default=ALL_WORKLOADS,
                    help="workloads to run, e.g. a,b,e (default all)")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--backing", default=None,
                    help="directory for branches/images/stores (default: a "
                    "private tmpfs)")
    ap.add_argument("--full-xz-big", action="store_true",
                    help="build the xz squashfs image of the big random file "
                    "with real compression (slow) instead of -noD")
    a = ap.parse_args()
    a.only = [x for x in a.only.replace(",", "") if x in ALL_WORKLOADS]
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
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        h.cleanup()
        return 130
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
                  "random_reads_per_pass": bench.rand_n,
                  "random_pass_cap_s": bench.rand_cap},
        "backing": a.backing or "tmpfs",
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
    return 1 if failed or bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
