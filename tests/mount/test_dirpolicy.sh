#!/bin/bash
# Per-directory policies (user.tierfs.policy, issue 13), applied by the
# policy thread with short ages and a short interval:
#  - "hot_age=1s warm_age=3s" on a directory ages everything below it
#    (subdirectories too) while a sibling under the mount's 1h/7d stays hot;
#  - a closer policy wins key by key: "warm_age=never" on a subdirectory
#    keeps its files warm (never cold) but they still take the parent's
#    hot_age; removing it (setfattr -x) restores the parent's warm_age;
#  - "pin=cold" moves every file below to cold by itself, the reason says
#    so, a file's own pin wins, and a directory setfattr of the tier skips
#    the files the policy pins;
#  - getfattr -n shows the value, tierctl policy shows the effective one and
#    where it comes from (table and --json), sets and clears it;
#  - bad values and non-directories are EINVAL and change nothing;
#  - policies persist across a remount and still apply.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
TC=${TIERCTL_BIN:-}
OPTS=(-o "interval=300ms")

pol() { getfattr --absolute-names --only-values -n user.tierfs.policy "$1"; }

tfs_mount "${OPTS[@]}"
mkdir -p "$M/fast/sub" "$M/fast/keep" "$M/slow" "$M/pc/deep"
for f in fast/a fast/sub/b fast/keep/k slow/c pc/p1 pc/deep/p2 pc/own; do
	head -c 30000 /dev/urandom >"$R/${f//\//_}"
	cp "$R/${f//\//_}" "$M/$f"
done

note "bad values are EINVAL"
for v in "" "hot_age" "hot_age=abc" "foo=1s" "pin=lukewarm" \
	"hot_age=1s hot_age=2s" "warm_age=-1" "hot_age=1s;warm_age=2s"; do
	expect_errno "Invalid argument" setfattr -n user.tierfs.policy -v "$v" "$M/fast"
done
expect_errno "Invalid argument" setfattr -n user.tierfs.policy -v "hot_age=1s" "$M/slow/c"
expect_errno "No such attribute" getfattr -n user.tierfs.policy "$M/fast"
expect_errno "No such attribute" getfattr -n user.tierfs.policy "$M/slow/c"

note "ages below a directory"
setfattr -n user.tierfs.policy -v "hot_age=1s warm_age=3s" "$M/fast"
setfattr -n user.tierfs.policy -v "warm_age=never" "$M/fast/keep"
assert_eq "hot_age=1s warm_age=3s" "$(pol "$M/fast")" "getfattr of fast's policy"
assert_eq "warm_age=never" "$(pol "$M/fast/keep")" "getfattr of fast/keep's policy"
# (idle for longer than both ages already, they may go warm and cold in
# the same tick)
wait_tier "$M/fast/sub/b" cold 30
wait_tier "$M/fast/a" cold 30
[[ $(xa "$M/fast/a" reason) =~ ^idle\ [0-9]+s\ \>\ age\ 3s$ ]] ||
	fail "reason of fast/a: $(xa "$M/fast/a" reason)"
wait_tier "$M/fast/keep/k" warm 30
stays "$M/fast/keep/k" warm 5
assert_eq hot "$(tier "$M/slow/c")" "slow/c under the mount's hot_age"

note "pin in a directory policy"
setfattr -n user.tierfs.pin -v hot "$M/pc/own"
setfattr -n user.tierfs.policy -v "pin=cold" "$M/pc"
wait_tier "$M/pc/p1" cold 30
wait_tier "$M/pc/deep/p2" cold 30
assert_eq "pinned cold by a directory policy" "$(xa "$M/pc/p1" reason)" "reason of pc/p1"
assert_eq none "$(xa "$M/pc/p1" pin)" "own pin of pc/p1"
setfattr -n user.tierfs.tier -v hot "$M/pc"
assert_eq cold "$(tier "$M/pc/deep/p2")" "pc/deep/p2 after setfattr hot on pc (pinned by policy)"
stays "$M/pc/own" hot 2
# a file moved by hand takes its pin along (its own pin wins from then on)
setfattr -n user.tierfs.tier -v warm "$M/pc/p1"
assert_eq "warm warm" "$(xa "$M/pc/p1" pin) $(tier "$M/pc/p1")" "pc/p1 moved by hand"
stays "$M/pc/p1" warm 2

if [ -n "$TC" ]; then
	note "tierctl policy"
	out=$("$TC" policy "$M/fast/sub")
	assert_eq "$M/fast/sub: hot_age=1s warm_age=3s (from $M/fast)" "$out" "tierctl policy fast/sub"
	out=$("$TC" policy --json "$M/fast/keep")
	assert_eq "warm_age=never|$M/fast/keep" "$("$PY" -c 'import json, sys
d = json.loads(sys.argv[1]); print(d["policy"] + "|" + d["from"])' "$out")" "tierctl policy --json"
	out=$("$TC" policy "$M/slow")
	assert_eq "$M/slow: none (the mount's settings apply)" "$out" "tierctl policy slow"
	out=$("$TC" policy "$M/slow" "hot_age=2h, pin=warm")
	assert_eq "hot_age=2h, pin=warm" "$(pol "$M/slow")" "set by tierctl policy"
	wait_tier "$M/slow/c" warm 30
	rc=0
	out=$("$TC" policy "$M/slow" "hot_age=soon" 2>&1) || rc=$?
	assert_eq 1 "$rc" "tierctl policy with a bad value: exit status"
	[[ $out =~ invalid\ policy ]] || fail "tierctl policy bad value: $out"
	assert_eq "hot_age=2h, pin=warm" "$(pol "$M/slow")" "policy after a bad value"
	"$TC" policy --clear "$M/slow" >/dev/null
	expect_errno "No such attribute" getfattr -n user.tierfs.policy "$M/slow"
	# pins: the files' own pins, then the directories whose policy pins
	out=$("$TC" pins "$M/pc")
	assert_eq "PIN TIER PATH|hot hot $M/pc/own|warm warm $M/pc/p1|cold - $M/pc/ (directory policy)" \
		"$(sed 's/  */ /g' <<<"$out" | paste -sd '|')" "tierctl pins of pc"
	out=$("$TC" pins --json "$M/pc")
	assert_eq "$M/pc:cold:True" "$("$PY" -c 'import json, sys
print(" ".join("%s:%s:%s" % (e["path"], e["pin"], e["policy"])
               for e in json.loads(sys.argv[1]) if e["policy"]))' "$out")" "tierctl pins --json of pc"
fi

note "policies persist across a remount"
tfs_umount
tfs_mount "${OPTS[@]}"
assert_eq "hot_age=1s warm_age=3s" "$(pol "$M/fast")" "fast's policy after remount"
assert_eq "pin=cold" "$(pol "$M/pc")" "pc's policy after remount"
head -c 20000 /dev/urandom >"$R/new"
cp "$R/new" "$M/fast/sub/new"
wait_tier "$M/fast/sub/new" cold 30
check_same "$R/new" "$M/fast/sub/new"

note "removing a policy restores inheritance"
setfattr -x user.tierfs.policy "$M/fast/keep"
wait_tier "$M/fast/keep/k" cold 30
expect_errno "No such attribute" setfattr -x user.tierfs.policy "$M/fast/keep"
drop_caches
for f in fast/a fast/sub/b fast/keep/k slow/c pc/p1 pc/deep/p2 pc/own; do
	check_same "$R/${f//\//_}" "$M/$f"
done
tfs_umount
