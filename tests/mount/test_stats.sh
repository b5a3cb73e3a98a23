#!/bin/bash
# MNT/.tiers/stats and MNT/.tiers/metrics:
#  - stats is a JSON object with every documented key, numbers of the right
#    kind; per tier ratio = logical_bytes / stored_bytes, hits + misses =
#    reads.
#  - the numbers are true: known operations give exact deltas (20 files of
#    3 KiB written: hot files +20, logical bytes +61440, write_bytes +61440;
#    5 set warm: warm +5, hot -5, warm demotions +5; a directory of 4 set
#    cold: cold +4, cold demotions +4; one cold file set hot: hot promotions
#    +1), a warm and a cold read after drop_caches are counted with their
#    bytes, errors stay 0, hot_max is the -o hot_max given.
#  - metrics is valid Prometheus text exposition format (a validator here,
#    tested on broken samples first; promtool check metrics too when
#    installed), has the documented families, and its numbers agree with
#    stats read at the same quiet moment.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
M=$TFS_MNT

# --- the Prometheus text format validator ----------------------------------------
cat >"$TFS_TMP/promcheck.py" <<'EOF'
"""Validate Prometheus text exposition format 0.0.4; print the samples as
JSON ({"name{labels}": value}) on success."""
import json, math, re, sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary")

class Bad(Exception):
    pass

def parse_value(s, where):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise Bad("%s: bad value %r" % (where, s))
    return float(s)

def parse_labels(s, i, where):
    """s[i] == '{'; returns (labels dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if s[i] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise Bad("%s: bad label name at %r" % (where, s[i:]))
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise Bad("%s: label %s: expected =\"" % (where, name))
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise Bad("%s: unterminated label value" % where)
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise Bad("%s: bad escape \\%s in label value" % (where, nxt))
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise Bad("%s: duplicate label %s" % (where, name))
        labels[name] = "".join(val)
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            raise Bad("%s: expected , or } after label %s" % (where, name))

def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf):
            base = name[: -len(suf)]
            if types.get(base) in ("histogram", "summary"):
                if suf == "_bucket" and types[base] != "histogram":
                    continue
                return base
    return name

def check(text):
    if text and not text.endswith("\n"):
        raise Bad("does not end with a newline")
    helps, types, samples = {}, {}, {}
    order = []          # families in order of first sample
    series = {}         # family -> {labels-without-le/quantile: {...}}
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not NAME.fullmatch(parts[2]):
                    raise Bad("%s: bad %s line" % (where, parts[1]))
                fam = parts[2]
                if fam in order:
                    raise Bad("%s: %s for %s after its samples" % (where, parts[1], fam))
                if parts[1] == "HELP":
                    if fam in helps:
                        raise Bad("%s: second HELP for %s" % (where, fam))
                    doc = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", doc.replace("\\\\", "")):
                        raise Bad("%s: bad escape in HELP" % where)
                    helps[fam] = doc
                else:
                    if fam in types:
                        raise Bad("%s: second TYPE for %s" % (where, fam))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise Bad("%s: bad TYPE %r" % (where, parts[3:]))
                    types[fam] = parts[3]
            continue
        m = NAME.match(line)
        if not m:
            raise Bad("%s: bad metric name: %r" % (where, line))
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i, where)
        rest = line[i:]
        if not rest.startswith(" "):
            raise Bad("%s: no space before the value: %r" % (where, line))
        fields = rest.split()
        if len(fields) not in (1, 2):
            raise Bad("%s: expected value [timestamp]: %r" % (where, line))
        value = parse_value(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise Bad("%s: bad timestamp" % where)
        fam = family_of(name, types)
        if fam not in types:
            raise Bad("%s: no TYPE line before the samples of %s" % (where, fam))
        if fam not in helps:
            raise Bad("%s: no HELP line before the samples of %s" % (where, fam))
        if fam != current:
            if fam in order:
                raise Bad("%s: samples of %s are not together" % (where, fam))
            order.append(fam)
            current = fam
        t = types[fam]
        key = name + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
        if key in samples:
            raise Bad("%s: duplicate sample %s" % (where, key))
        samples[key] = value
        if t == "counter":
            if not name.endswith("_total"):
                raise Bad("%s: counter %s does not end in _total" % (where, name))
            if name != fam:
                raise Bad("%s: %s is not the counter %s" % (where, name, fam))
            if not value >= 0:
                raise Bad("%s: negative counter %s" % (where, name))
        elif t == "gauge":
            if name != fam:
                raise Bad("%s: %s is not the gauge %s" % (where, name, fam))
        elif t == "histogram":
            if "le" in labels and name != fam + "_bucket":
                raise Bad("%s: le label on %s" % (where, name))
            rest_labels = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            s = series.setdefault(fam, {}).setdefault(rest_labels, {"buckets": []})
            if name == fam + "_bucket":
                if "le" not in labels:
                    raise Bad("%s: bucket without le" % where)
                le = parse_value(labels["le"], where + " le")
                s["buckets"].append((le, value))
            elif name == fam + "_sum":
                s["sum"] = value
            elif name == fam + "_count":
                s["count"] = value
            else:
                raise Bad("%s: %s in histogram %s" % (where, name, fam))
        elif t == "summary":
            rest_labels = tuple(sorted((k, v) for k, v in labels.items() if k != "quantile"))
            s = series.setdefault(fam, {}).setdefault(rest_labels, {"buckets": []})
            if name == fam:
                if "quantile" not in labels:
                    raise Bad("%s: summary sample without quantile" % where)
            elif name == fam + "_sum":
                s["sum"] = value
            elif name == fam + "_count":
                s["count"] = value
            else:
                raise Bad("%s: %s in summary %s" % (where, name, fam))
    for fam, t in types.items():
        if t not in ("histogram", "summary"):
            continue
        if fam not in series:
            raise Bad("%s %s has no samples" % (t, fam))
        for lab, s in series[fam].items():
            what = "%s%s" % (fam, dict(lab))
            if "sum" not in s or "count" not in s:
                raise Bad("%s: no _sum or _count" % what)
            if t != "histogram":
                continue
            b = s["buckets"]
            if not b:
                raise Bad("%s: no buckets" % what)
            if b[-1][0] != math.inf:
                raise Bad('%s: last bucket is not le="+Inf"' % what)
            for (l1, c1), (l2, c2) in zip(b, b[1:]):
                if not l2 > l1:
                    raise Bad("%s: le not increasing (%s, %s)" % (what, l1, l2))
                if c2 < c1:
                    raise Bad("%s: buckets not cumulative (%s: %s, %s: %s)"
                              % (what, l1, c1, l2, c2))
            if b[-1][1] != s["count"]:
                raise Bad("%s: +Inf bucket %s != _count %s" % (what, b[-1][1], s["count"]))
    return samples

if __name__ == "__main__":
    if sys.argv[1] == "selftest":
        good = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 3\n'
                '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n'
                'h_sum 0.5\nh_count 2\n# HELP g G.\n# TYPE g gauge\ng 1.5e3\n')
        check(good)
        bad = {
            "counter without _total": "# HELP a A.\n# TYPE a counter\na 1\n",
            "no TYPE": "# HELP a A.\na 1\n",
            "no HELP": "# TYPE a gauge\na 1\n",
            "TYPE after samples": "# HELP a A.\na 1\n# TYPE a gauge\n",
            "bad type": "# HELP a A.\n# TYPE a thing\na 1\n",
            "no +Inf": '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
            "not cumulative": ('# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\n'
                               'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
            "no _count": '# HELP h H.\n# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n',
            "unquoted label": "# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",
            "bad escape": '# HELP a A.\n# TYPE a gauge\na{x="\\q"} 1\n',
            "unescaped quote": '# HELP a A.\n# TYPE a gauge\na{x="a"b"} 1\n',
            "bad value": "# HELP a A.\n# TYPE a gauge\na one\n",
            "split family": "# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n",
            "duplicate": "# HELP a A.\n# TYPE a gauge\na 1\na 2\n",
            "no newline at end": "# HELP a A.\n# TYPE a gauge\na 1",
        }
        for what, text in bad.items():
            try:
                check(text)
            except (Bad, IndexError) as e:
                continue
            sys.exit("validator accepted a sample with: " + what)
        print("validator self-test ok")
        sys.exit(0)
    try:
        with open(sys.argv[1]) as f:
            text = f.read()
        print(json.dumps(check(text)))
    except Bad as e:
        sys.exit("not valid Prometheus text format: %s" % e)
EOF
"$PY" "$TFS_TMP/promcheck.py" selftest

# --- stats.py: read stats, check its shape, print deltas --------------------------------------
cat >"$TFS_TMP/stats.py" <<'EOF'
import json, sys

TIERS = ("hot", "warm", "cold")
PER_TIER = ("files", "logical_bytes", "stored_bytes", "ratio", "reads",
            "read_bytes", "hits", "misses", "promotions", "demotions", "errors")
TOP = ("hot_bytes", "hot_max", "hot_resident_files", "inodes_loaded",
       "inodes_referenced", "writes", "write_bytes", "writeback_chunks",
       "writeback_bytes", "evictions", "migration_errors", "compactions",
       "migration_backlog")

def load(path):
    with open(path) as f:
        text = f.read()
    try:
        d = json.loads(text)
    except ValueError as e:
        sys.exit("stats is not valid JSON: %s\n%s" % (e, text))
    return d

def isnum(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)

def shape(d):
    assert isinstance(d, dict), d
    for t in TIERS:
        s = d["tiers"][t]
        for k in PER_TIER:
            assert isnum(s[k]) and s[k] >= 0, (t, k, s.get(k))
            if k != "ratio":
                assert isinstance(s[k], int), (t, k, s[k])
        for q in ("p50", "p95", "p99"):
            v = s["read_latency_us"][q]
            assert isnum(v) and v >= 0, (t, q, v)
        lat = s["read_latency_us"]
        assert lat["p50"] <= lat["p95"] <= lat["p99"], (t, lat)
        if s["stored_bytes"] > 0:
            want = s["logical_bytes"] / s["stored_bytes"]
            assert abs(s["ratio"] - want) <= 0.0006 + want * 1e-6, (t, s["ratio"], want)
        assert s["hits"] + s["misses"] == s["reads"], (t, s["hits"], s["misses"], s["reads"])
    for k in TOP:
        assert isinstance(d[k], int) and d[k] >= 0, (k, d.get(k))
    for k in ("hits", "misses", "decodes"):
        assert isinstance(d["cold_cache"][k], int), (k, d["cold_cache"])
    assert d["hot_bytes"] <= d["hot_max"], (d["hot_bytes"], d["hot_max"])

def flat(d, pre=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, pre + k + "."))
        else:
            out[pre + k] = v
    return out

cmd = sys.argv[1]
if cmd == "snap":        # snap STATS OUT: check the shape, save a copy
    d = load(sys.argv[2])
    try:
        shape(d)
    except (AssertionError, KeyError) as e:
        sys.exit("stats: bad or missing field: %r\n%s" % (e, json.dumps(d, indent=1)))
    with open(sys.argv[3], "w") as f:
        json.dump(d, f)
elif cmd == "get":       # get SNAP KEY (dotted)
    print(flat(json.load(open(sys.argv[2])))[sys.argv[3]])
elif cmd == "delta":     # delta OLD NEW KEY=EXPECTED... (exact) KEY>=N ...
    old = flat(json.load(open(sys.argv[2])))
    new = flat(json.load(open(sys.argv[3])))
    bad = []
    for spec in sys.argv[4:]:
        if ">=" in spec:
            k, v = spec.split(">=")
            if not new[k] - old[k] >= int(v):
                bad.append("%s: +%s, expected >= +%s" % (k, new[k] - old[k], v))
        else:
            k, v = spec.split("=")
            if new[k] - old[k] != int(v):
                bad.append("%s: %+d, expected %+d (%s -> %s)"
                           % (k, new[k] - old[k], int(v), old[k], new[k]))
    if bad:
        sys.exit("stats deltas wrong:\n  " + "\n  ".join(bad))
elif cmd == "agree":     # agree SNAP METRICS_JSON: the same numbers
    d = json.load(open(sys.argv[2]))
    m = json.load(open(sys.argv[3]))
    pairs = []
    for t in TIERS:
        s = d["tiers"][t]
        for k, mk in (("files", "tierfs_files"), ("logical_bytes", "tierfs_logical_bytes"),
                      ("stored_bytes", "tierfs_stored_bytes"),
                      ("reads", "tierfs_reads_total"), ("read_bytes", "tierfs_read_bytes_total"),
                      ("hits", "tierfs_hits_total"), ("misses", "tierfs_misses_total"),
                      ("promotions", "tierfs_promotions_total"),
                      ("demotions", "tierfs_demotions_total"),
                      ("errors", "tierfs_errors_total")):
            pairs.append(("tiers.%s.%s" % (t, k), s[k], '%s{tier="%s"}' % (mk, t)))
        pairs.append(("tiers.%s.reads" % t, s["reads"],
                      'tierfs_read_latency_seconds_count{tier="%s"}' % t))
    for k, mk in (("hot_bytes", "tierfs_hot_bytes"), ("hot_max", "tierfs_hot_max_bytes"),
                  ("writeback_bytes", "tierfs_writeback_bytes_total"),
                  ("evictions", "tierfs_evictions_total"),
                  ("migration_errors", "tierfs_migration_errors_total"),
                  ("compactions", "tierfs_compactions_total")):
        pairs.append((k, d[k], mk + "{}"))
    for mk in ("tierfs_inodes_loaded{}", "tierfs_inodes_referenced{}"):
        if mk not in m:
            sys.exit("metrics: no %s" % mk)
    bad = []
    for sk, sv, mk in pairs:
        if mk not in m:
            bad.append("metrics: no %s" % mk)
        elif m[mk] != sv:
            bad.append("%s = %s in stats but %s = %s in metrics" % (sk, sv, mk, m[mk]))
    if bad:
        sys.exit("\n".join(bad))
    print("%d numbers agree" % len(pairs))
EOF
sp() { "$PY" "$TFS_TMP/stats.py" "$@"; }
# snap NAME: stats now, shape checked, saved as $TFS_TMP/NAME.json
snap() { sp snap "$M/.tiers/stats" "$TFS_TMP/$1.json"; }
get() { sp get "$TFS_TMP/$1.json" "$2"; }
delta() { sp delta "$TFS_TMP/$1.json" "$TFS_TMP/$2.json" "${@:3}"; }
set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }
# metrics NAME: validate .tiers/metrics, samples saved as $TFS_TMP/NAME.prom.json
metrics()
{
	cp "$M/.tiers/metrics" "$TFS_TMP/$1.prom"
	"$PY" "$TFS_TMP/promcheck.py" "$TFS_TMP/$1.prom" >"$TFS_TMP/$1.prom.json"
	if command -v promtool >/dev/null; then
		promtool check metrics <"$TFS_TMP/$1.prom" ||
			fail "promtool check metrics rejects .tiers/metrics"
	fi
}

# hot_age=1h, promote_after=1000: nothing moves unless we move it
tfs_mount -o hot_max=96M,promote_after=1000
command -v promtool >/dev/null || note "promtool not installed: only the built-in validator"

note "stats shape"
snap s0
assert_eq $((96 << 20)) "$(get s0 hot_max)" "hot_max"
for t in hot warm cold; do
	for k in files errors promotions demotions reads; do
		assert_eq 0 "$(get s0 "tiers.$t.$k")" "tiers.$t.$k on an empty mount"
	done
done
metrics m0
sp agree "$TFS_TMP/s0.json" "$TFS_TMP/m0.prom.json"
"$PY" - "$TFS_TMP/m0.prom.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
fams = {k.split("{")[0] for k in m}
want = ["tierfs_files", "tierfs_logical_bytes", "tierfs_stored_bytes",
        "tierfs_reads_total", "tierfs_read_bytes_total", "tierfs_hits_total",
        "tierfs_misses_total", "tierfs_promotions_total", "tierfs_demotions_total",
        "tierfs_errors_total", "tierfs_read_latency_seconds_bucket",
        "tierfs_read_latency_seconds_sum", "tierfs_read_latency_seconds_count",
        "tierfs_hot_bytes", "tierfs_hot_max_bytes", "tierfs_inodes_loaded",
        "tierfs_inodes_referenced", "tierfs_writeback_bytes_total",
        "tierfs_evictions_total", "tierfs_migration_errors_total",
        "tierfs_compactions_total"]
missing = [f for f in want if f not in fams]
if missing:
    sys.exit("metrics lacks: %s" % missing)
for f in fams:
    assert f.startswith("tierfs_"), f
EOF

note "20 files of 3 KiB"
mkdir "$M/d" "$M/four"
"$PY" - "$M" <<'EOF'
import os, sys
m = sys.argv[1]
for i in range(16):
    with open(os.path.join(m, "d", "f%02d" % i), "wb") as f:
        f.write(os.urandom(3072))
for i in range(4):
    with open(os.path.join(m, "four", "g%d" % i), "wb") as f:
        f.write(os.urandom(3072))
EOF
snap s1
delta s0 s1 tiers.hot.files=20 tiers.hot.logical_bytes=61440 write_bytes=61440 \
	tiers.warm.files=0 tiers.cold.files=0 tiers.hot.reads=0 \
	tiers.hot.demotions=0 tiers.hot.promotions=0 tiers.warm.demotions=0 \
	tiers.cold.demotions=0

note "5 files set warm"
for i in 0 1 2 3 4; do set_tier "$M/d/f0$i" warm; done
snap s2
delta s1 s2 tiers.warm.files=5 tiers.hot.files=-5 tiers.warm.demotions=5 \
	tiers.warm.logical_bytes=15360 tiers.hot.logical_bytes=-15360 \
	tiers.cold.files=0 tiers.cold.demotions=0 tiers.hot.promotions=0 \
	tiers.warm.promotions=0 tiers.hot.demotions=0

note "a directory of 4 set cold"
set_tier "$M/four" cold
snap s3
delta s2 s3 tiers.cold.files=4 tiers.cold.demotions=4 tiers.hot.files=-4 \
	tiers.cold.logical_bytes=12288 tiers.hot.logical_bytes=-12288 \
	tiers.warm.files=0 tiers.warm.demotions=0 tiers.hot.promotions=0

note "one cold file set hot"
set_tier "$M/four/g3" hot
snap s4
delta s3 s4 tiers.hot.promotions=1 tiers.hot.files=1 tiers.cold.files=-1 \
	tiers.cold.demotions=0 tiers.warm.promotions=0 tiers.warm.demotions=0 \
	tiers.hot.logical_bytes=3072 tiers.cold.logical_bytes=-3072

note "reading a warm and a cold file"
drop_caches
snap s5
cat "$M/d/f00" >/dev/null
snap s6
delta s5 s6 'tiers.warm.reads>=1' 'tiers.warm.read_bytes>=3072' \
	tiers.cold.reads=0 tiers.hot.reads=0 tiers.warm.files=0
cat "$M/four/g0" >/dev/null
snap s7
delta s6 s7 'tiers.cold.reads>=1' 'tiers.cold.read_bytes>=3072' tiers.warm.reads=0
"$PY" - "$TFS_TMP/s6.json" "$TFS_TMP/s7.json" <<'EOF'
import json, sys
a, b = (json.load(open(p))["cold_cache"] for p in sys.argv[1:3])
n = b["hits"] + b["misses"] - a["hits"] - a["misses"]
assert n >= 1, ("a cold read did not go through the block cache", a, b)
EOF
# read a hot file: hot reads and bytes
cat "$M/d/f10" >/dev/null
snap s8
delta s7 s8 'tiers.hot.reads>=1' 'tiers.hot.read_bytes>=3072' tiers.hot.misses=0

note "no errors, metrics agree"
for t in hot warm cold; do
	assert_eq 0 "$(get s8 "tiers.$t.errors")" "tiers.$t.errors"
done
assert_eq 0 "$(get s8 migration_errors)" "migration_errors"
assert_eq 0 "$(get s8 migration_backlog)" "migration_backlog with nothing queued"
assert_eq $((96 << 20)) "$(get s8 hot_max)" "hot_max"
assert_eq 12 "$(get s8 tiers.hot.files)" "hot files at the end (20 - 5 - 4 + 1)"
assert_eq 5 "$(get s8 tiers.warm.files)" "warm files at the end"
assert_eq 3 "$(get s8 tiers.cold.files)" "cold files at the end"
metrics m1
snap s9
sp agree "$TFS_TMP/s9.json" "$TFS_TMP/m1.prom.json"
# reading stats and metrics are not file reads
delta s8 s9 tiers.hot.reads=0 tiers.warm.reads=0 tiers.cold.reads=0
# a latency histogram saw the reads
"$PY" - "$TFS_TMP/m1.prom.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for t in ("hot", "warm", "cold"):
    n = m['tierfs_read_latency_seconds_count{tier="%s"}' % t]
    assert n >= 1, (t, n)
    assert m['tierfs_read_latency_seconds_sum{tier="%s"}' % t] > 0, t
EOF
tfs_umount

# --- the same after a remount: counters restart, file counts do not ----------------------------
note "after a remount"
tfs_mount -o hot_max=2G,promote_after=1000
snap r0
assert_eq $((2 << 30)) "$(get r0 hot_max)" "hot_max after remounting with 2G"
assert_eq 12 "$(get r0 tiers.hot.files)" "hot files after remount"
assert_eq 5 "$(get r0 tiers.warm.files)" "warm files after remount"
assert_eq 3 "$(get r0 tiers.cold.files)" "cold files after remount"
assert_eq 36864 "$(get r0 tiers.hot.logical_bytes)" "hot logical bytes after remount"
for t in hot warm cold; do
	assert_eq 0 "$(get r0 "tiers.$t.demotions")" "tiers.$t.demotions after remount"
done
# the hot set comes back into RAM in the background: wait for it
for _ in $(seq 1 100); do
	snap r1
	[ "$(get r1 hot_resident_files)" = 12 ] && break
	sleep 0.2
done
assert_eq 12 "$(get r1 hot_resident_files)" "hot files back in RAM after remount"
assert_eq 36864 "$(get r1 hot_bytes)" "hot_bytes once the hot set is back"
metrics r0m
snap r1
sp agree "$TFS_TMP/r1.json" "$TFS_TMP/r0m.prom.json"
tfs_umount
