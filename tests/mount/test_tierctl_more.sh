#!/bin/bash
# tierctl's newer commands against a real mount, every output parsed:
#  - ls --json, ls -r (python's json module reads what tierctl prints);
#  - status without MNT: the cwd's mount, else the only tierfs mounted (in
#    a private mount namespace where ours is the only one), a clear error
#    when none is; status --json;
#  - status --watch N --count K: K frames of per-tier rates (JSON lines
#    parsed: the reads we make show up in the tier we read); on a pty the
#    frames redraw in place (cursor up);
#  - warmup: reads every file through the daemon (each counts one access),
#    --to hot moves them to RAM and
#    skips files pinned elsewhere; the summary line says how many;
#  - pins lists pinned files (table and JSON), config prints the settings.
# Environment: TIERFS_BIN, TIERCTL_BIN (both required).
# shellcheck disable=SC2164 # set -e (lib.sh) stops at a failed cd
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_tierctl.sh"
tfs_init
# promote_after=100: no promotion moves a file (and drops its page cache)
# behind the checks' back
tfs_mount -o hot_max=256M,promote_after=100
M=$TFS_MNT
R=$TFS_REF

# py EXPR: evaluate a python expression with d = json of $OUT
py()
{
	"$PY" -c 'import json, sys
d = json.loads(sys.argv[1])
print(eval(sys.argv[2]))' "$OUT" "$1"
}
# stat_key KEY: a dotted key of MNT/.tiers/stats
stat_key()
{
	"$PY" - "$M/.tiers/stats" "$1" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)
EOF
}

mkdir -p "$M/w/sub" "$M/e"
for i in 1 2 3 4 5 6; do
	head -c $((40000 + i * 1000)) /dev/urandom >"$R/f$i"
	cp "$R/f$i" "$M/w/f$i"
done
cp "$R/f1" "$M/w/sub/g"
echo dot >"$M/w/.hidden"

note "ls --json, ls -r"
cd "$M"
tc 0 ls --json w
assert_eq "f1 f2 f3 f4 f5 f6 sub" "$(py '" ".join(e["name"] for e in d)')" "ls --json names"
assert_eq "41000 hot file" "$(py '" ".join(str(x) for x in (d[0]["size"], d[0]["tier"], d[0]["type"]))')" \
	"ls --json of f1"
assert_eq directory "$(py 'd[6]["type"]')" "ls --json type of sub"
assert_eq "$(xa w/f1 stored)" "$(py 'd[0]["stored"]')" "ls --json stored"
assert_eq "$(xa w/f1 reason)" "$(py 'd[0]["reason"]')" "ls --json reason"
tc 0 ls -a --json w
assert_eq .hidden "$(py 'd[0]["name"]')" "ls -a --json lists dot files"
tc 0 ls -r w
has_sub=$(grep -c '^w/sub:$' <<<"$OUT" || true)
assert_eq 1 "$has_sub" "ls -r has a w/sub: section"
assert_eq g "$(awk '/^w\/sub:$/ { s = 1; next } s && NR > 1 && $1 == "hot" { print $NF }' <<<"$OUT")" \
	"ls -r lists w/sub/g"
tc 0 ls -r --json w
assert_eq "w/sub/g" "$(py '[e["path"] for e in d if e["type"] == "file"][-1]')" "ls -r --json"

note "status: default mount, --json"
cd "$M/w/sub"
tc 0 status --json
assert_eq "$M" "$(py 'd["mountpoint"]')" "status --json mountpoint (cwd's mount)"
assert_eq "$TFS_STORE" "$(py 'd["store"]')" "status --json store"
assert_eq "$(stat_key tiers.hot.files)" "$(py 'd["stats"]["tiers"]["hot"]["files"]')" \
	"status --json hot files"
cd /
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	# a private mount namespace where every other tierfs is detached
	out=$(unshare -m --propagation private bash -c '
		grep " - fuse.tierfs " /proc/self/mountinfo | awk "{ print \$5 }" |
		while read -r m; do
			[ "$m" = "$1" ] || umount -l "$(printf "%b" "$m")"
		done
		cd /
		"$2" status --json' _ "$M" "$TC")
	OUT=$out
	assert_eq "$M" "$(py 'd["mountpoint"]')" "status --json with one tierfs mounted"
	rc=0
	err=$(unshare -m --propagation private bash -c '
		grep " - fuse.tierfs " /proc/self/mountinfo | awk "{ print \$5 }" |
		while read -r m; do umount -l "$(printf "%b" "$m")"; done
		cd /
		"$1" status' _ "$TC" 2>&1) || rc=$?
	assert_eq 3 "$rc" "status with no tierfs mounted: exit status"
	assert_eq "tierctl: no tierfs is mounted (and the current directory is not on one)" \
		"$err" "status with no tierfs mounted"
else
	note "not root: status with exactly one / no tierfs mounted not checked"
fi

note "status --watch"
cd "$M"
tc 0 mv -r --to warm w
drop_caches
(
	end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ] && [ ! -e "$TFS_TMP/stop" ]; do
		cat w/f1 w/f2 w/f3 >/dev/null
		drop_caches
		sleep 0.1
	done
) &
reader=$!
TFS_EXTRA_PIDS+=("$reader")
tc 0 status --watch 0.5 --count 3 --json
touch "$TFS_TMP/stop"
wait "$reader"
assert_eq 3 "$(wc -l <<<"$OUT")" "status --watch --count 3: frames"
"$PY" - "$OUT" <<'EOF' || fail "status --watch frames: $OUT"
import json, sys
frames = [json.loads(l) for l in sys.argv[1].splitlines()]
for f in frames:
    assert 0.3 < f["interval"] < 30, f
    assert set(f["tiers"]) == {"hot", "warm", "cold"}, f
    for t in f["tiers"].values():
        assert t["reads_per_s"] >= 0 and t["read_bytes_per_s"] >= 0, f
# the reader's reads show on warm, with their latency (stats and metrics
# are two reads, so one frame may see a read in one and not the other)
seen = [f["tiers"]["warm"] for f in frames if f["tiers"]["warm"]["reads_per_s"] > 0]
assert seen, "no warm reads seen"
assert any(t["latency_us"] is not None and t["latency_us"] > 0 for t in seen), seen
EOF
# a table per frame; --count without --watch is a usage error
tc 0 status --watch 0.2 --count 2 "$M"
assert_eq 2 "$(grep -cE '^TIER +READS/s +READ B/s +PROMOTE/s +DEMOTE/s +HIT +LATENCY$' <<<"$OUT" || true)" \
	"status --watch: two tables"
tc 2 status --count 2
tc 2 status --watch=abc
if command -v script >/dev/null; then
	script -qec "$(printf '%q ' "$TC" status --watch 0.2 --count 3 "$M")" \
		"$TFS_TMP/typescript" >/dev/null </dev/null
	assert_eq 2 "$(grep -o $'\e\\[6A' "$TFS_TMP/typescript" | wc -l)" \
		"frames redrawn in place on a pty (cursor up 6 lines, twice)"
fi

note "warmup: read through"
tc 0 mv -r --to cold w
drop_caches
before=$(xa w/f4 accesses)
reads0=$(stat_key tiers.cold.reads)
tc 0 warmup -r -j 3 w
assert_eq "" "$ERR" "warmup stderr (not a terminal)"
[[ $OUT =~ ^warmed\ up\ 8\ files\ \(.*\)\ in\ [0-9.]+s ]] || fail "warmup summary: $OUT"
assert_eq $((before + 1)) "$(xa w/f4 accesses)" "accesses of w/f4 after warmup"
reads1=$(stat_key tiers.cold.reads)
[ "$reads1" -gt "$reads0" ] || fail "warmup did not read through the daemon"
assert_eq cold "$(tier w/f4)" "tier of w/f4 after a read-through warmup"
for i in 1 2 3 4 5 6; do check_same "$R/f$i" "w/f$i"; done
# (that those reads were served by the page cache is not checked: any
# test on this machine that drops the caches, which is global, would
# make it fail)

note "warmup --to hot, pins"
setfattr -n user.tierfs.pin -v cold w/f6
tc 0 warmup -r --to hot w
[[ $OUT =~ ^warmed\ up\ 7\ files\ \(.*\)\ to\ hot\ in\ .*\;\ 1\ pinned\ file\ skipped$ ]] ||
	fail "warmup --to hot summary: $OUT"
for i in 1 2 3 4 5; do assert_eq hot "$(tier "w/f$i")" "tier of w/f$i after warmup --to hot"; done
assert_eq cold "$(tier w/f6)" "tier of w/f6 (pinned cold) after warmup --to hot"
tc 2 warmup --to warm w
has_msg=$(grep -c "warmup: --to takes only hot" <<<"$ERR" || true)
assert_eq 1 "$has_msg" "warmup --to warm refused"

if command -v script >/dev/null; then
	tc 0 mv -r --to warm w
	script -qec "$(printf '%q ' "$TC" warmup -r --to hot w)" \
		"$TFS_TMP/typescript" >/dev/null </dev/null
	grep -qE '\[#{24}\] 8/8 files  .*/s  ETA 0:00' "$TFS_TMP/typescript" ||
		fail "no warmup progress bar on a pty: $(tr '\r' '\n' <"$TFS_TMP/typescript")"
fi

note "pins"
setfattr -n user.tierfs.pin -v warm w/sub/g
tc 0 pins "$M"
assert_eq "PIN TIER PATH|cold cold $M/w/f6|warm warm $M/w/sub/g" \
	"$(sed 's/  */ /g' <<<"$OUT" | paste -sd '|')" "pins table"
tc 0 pins --json w
assert_eq "w/f6:cold:cold w/sub/g:warm:warm" \
	"$(py '" ".join("%s:%s:%s" % (e["path"], e["pin"], e["tier"]) for e in d)')" "pins --json"
tc 0 pins --json e
assert_eq 0 "$(py 'len(d)')" "pins of a directory without pins"

note "config"
if [ -e "$M/.tiers/config" ]; then
	tc 0 config "$M"
	assert_eq "$(cat "$M/.tiers/config")" "$OUT" "config is .tiers/config"
	tc 0 config --json "$M"
	assert_eq 256M "$(py 'd["hot_max"]' | sed 's/^268435456$/256M/')" "config --json hot_max"
else
	tc 1 config "$M"
	assert_eq "tierctl: $M/.tiers/config: No such file or directory" "$ERR" \
		"config on a daemon without .tiers/config"
fi

cd /
tfs_umount
