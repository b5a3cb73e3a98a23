#!/bin/bash
# Policy demotion by age, and pins (issue 4 items 1, 4 and 8):
#  - with hot_age=2s, warm_age=4s, interval=500ms a written, never-read file
#    goes hot -> warm -> cold by itself (warm is seen before cold, it never
#    goes back up), user.tierfs.reason names the idle time at each step, and
#    the content is identical at the end;
#  - a file pinned hot stays hot past both ages, a file pinned warm moves to
#    warm at once and stays there, a file pinned cold moves to cold at once;
#    pins survive a remount; unpinning (none) lets the policy move them on;
#  - a bad pin value is EINVAL and changes nothing.
# Waits are polls with generous deadlines (30 s per step), never timings.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
OPTS=(-o "hot_age=2s,warm_age=4s,interval=500ms")

# "TIER|REASON" of a file at one instant: the names are not listed (so one
# getfattr -d cannot show both), and a python per poll is too slow on a
# loaded machine; getfattr by name, reason read before and after the tier
# until it did not change in between
tier_reason()
{
	local r1 t r2 i
	for ((i = 0; i < 20; i++)); do
		r1=$(xa "$1" reason)
		t=$(xa "$1" tier)
		r2=$(xa "$1" reason)
		[ "$r1" != "$r2" ] || break
	done
	printf '%s|%s\n' "$t" "$r2"
}
# pinned_stays FILE TIER REASON_REGEX: fail unless FILE is on TIER with a
# reason matching REASON_REGEX now
pinned_stays()
{
	local tr
	tr=$(tier_reason "$1")
	[ "${tr%%|*}" = "$2" ] || fail "${1##*/} pinned $2 left it: $tr"
	[[ ${tr#*|} =~ $3 ]] || fail "${1##*/}: reason '${tr#*|}' does not match /$3/"
}
# gen FILE SIZE SEED: deterministic mixed content (compressible and random)
gen()
{
	"$PY" - "$@" <<'EOF'
import random, sys
p, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
out = bytearray()
while len(out) < size:
    out += r.randbytes(4096) if r.random() < 0.5 else \
        b"".join(b"line %d %d\n" % (seed, r.randrange(1000)) for _ in range(300))
with open(p, "wb") as f:
    f.write(out[:size])
EOF
}

tfs_mount "${OPTS[@]}"
gen "$R/aging" 300000 1
gen "$R/phot" 200000 2
gen "$R/pwarm" 200000 3
gen "$R/pcold" 200000 4
for f in aging phot pwarm pcold; do
	cp "$R/$f" "$M/$f"
	assert_eq "hot|written" "$(tier_reason "$M/$f")" "tier|reason of $f after writing it"
done

note "pins: hot, warm and cold"
setfattr -n user.tierfs.pin -v hot "$M/phot"
setfattr -n user.tierfs.pin -v warm "$M/pwarm"
setfattr -n user.tierfs.pin -v cold "$M/pcold"
pinned_at=$SECONDS
assert_eq hot "$(xa "$M/phot" pin)" "pin of phot"
assert_eq warm "$(xa "$M/pwarm" pin)" "pin of pwarm"
assert_eq cold "$(xa "$M/pcold" pin)" "pin of pcold"
# setting a pin moves the file there now
assert_eq warm "$(tier "$M/pwarm")" "tier of pwarm right after pinning it warm"
assert_eq cold "$(tier "$M/pcold")" "tier of pcold right after pinning it cold"
assert_eq hot "$(tier "$M/phot")" "tier of phot right after pinning it hot"

note "bad pin values: EINVAL, nothing changes"
for v in bogus HOT "" hotter "none "; do
	expect_errno "Invalid argument" setfattr -n user.tierfs.pin -v "$v" "$M/pwarm"
done
assert_eq warm "$(xa "$M/pwarm" pin)" "pin of pwarm after bad values"
assert_eq warm "$(tier "$M/pwarm")" "tier of pwarm after bad values"

note "aging: hot -> warm -> cold by itself, pinned files stay"
seen="hot"
warm_reason="" cold_reason=""
deadline=$((SECONDS + 60))
while :; do
	tr=$(tier_reason "$M/aging")
	t=${tr%%|*}
	case "$seen:$t" in
	hot:hot | warm:warm | cold:cold) ;;
	hot:warm) seen=warm warm_reason=${tr#*|}
		note "warm after $((SECONDS - pinned_at))s: $warm_reason" ;;
	warm:cold) seen=cold cold_reason=${tr#*|}
		note "cold after $((SECONDS - pinned_at))s: $cold_reason" ;;
	hot:cold) fail "aging went from hot to cold without being seen warm ($tr); poll too slow?" ;;
	*) fail "aging: unexpected tier sequence $seen -> $t ($tr)" ;;
	esac
	pinned_stays "$M/phot" hot '^pinned hot$'
	pinned_stays "$M/pwarm" warm '^pinned( warm)?$'
	pinned_stays "$M/pcold" cold '^pinned( cold)?$'
	# stop once cold and both ages have passed for the pinned files
	if [ "$seen" = cold ] && [ $((SECONDS - pinned_at)) -ge 9 ]; then
		break
	fi
	[ "$SECONDS" -lt "$deadline" ] || fail "aging: still $t (seen $seen) after 60s"
	sleep 0.1
done
[[ $warm_reason =~ ^idle\ [0-9]+s\ \>\ age\ 2s$ ]] ||
	fail "reason after hot -> warm: '$warm_reason' (expected 'idle Ns > age 2s')"
[[ $cold_reason =~ ^idle\ [0-9]+s\ \>\ age\ 4s$ ]] ||
	fail "reason after warm -> cold: '$cold_reason' (expected 'idle Ns > age 4s')"
# a few more ticks: a cold, idle file stays cold
sleep 1.5
assert_eq cold "$(tier "$M/aging")" "tier of aging 1.5s after it went cold"
grep -q '^ *"cold": {"files": [1-9]' "$M/.tiers/stats" ||
	fail ".tiers/stats shows no cold file: $(grep cold "$M/.tiers/stats")"
[ -f "$M/.tiers/cold/aging" ] || fail "aging is not listed in .tiers/cold"
drop_caches
check_same "$R/aging" "$M/aging"
for f in phot pwarm pcold; do
	check_same "$R/$f" "$M/$f"
done

note "pins survive a remount"
tfs_umount
tfs_remount
assert_eq hot "$(xa "$M/phot" pin)" "pin of phot after remount"
assert_eq warm "$(xa "$M/pwarm" pin)" "pin of pwarm after remount"
assert_eq cold "$(xa "$M/pcold" pin)" "pin of pcold after remount"
assert_eq hot "$(tier "$M/phot")" "tier of phot after remount"
assert_eq warm "$(tier "$M/pwarm")" "tier of pwarm after remount"
assert_eq cold "$(tier "$M/pcold")" "tier of pcold after remount"
sleep 3
assert_eq hot "$(tier "$M/phot")" "tier of phot 3s after remount"
assert_eq warm "$(tier "$M/pwarm")" "tier of pwarm 3s after remount"

note "unpinning lets the policy move them on"
setfattr -n user.tierfs.pin -v none "$M/phot"
setfattr -n user.tierfs.pin -v none "$M/pwarm"
setfattr -n user.tierfs.pin -v none "$M/pcold"
assert_eq none "$(xa "$M/phot" pin)" "pin of phot after unpinning"
# unpinning moves nothing by itself
assert_eq cold "$(tier "$M/pcold")" "tier of pcold right after unpinning"
phot_seen=hot
deadline=$((SECONDS + 30))
while :; do
	tp=$(tier "$M/phot")
	tw=$(tier "$M/pwarm")
	case "$phot_seen:$tp" in
	hot:hot | warm:warm | cold:cold) ;;
	hot:warm | warm:cold) phot_seen=$tp ;;
	hot:cold) phot_seen=cold ;; # both steps between two polls: allowed
	*) fail "phot: unexpected tier sequence $phot_seen -> $tp" ;;
	esac
	[ "$tw" != hot ] || fail "pwarm went up to hot without being read"
	[ "$phot_seen" = cold ] && [ "$tw" = cold ] && break
	[ "$SECONDS" -lt "$deadline" ] ||
		fail "after unpinning: phot is $tp, pwarm is $tw after 30s (both should be cold)"
	sleep 0.2
done
tr=$(tier_reason "$M/pwarm")
[[ ${tr#*|} =~ ^idle ]] || fail "pwarm: reason after going cold: '${tr#*|}'"
assert_eq cold "$(tier "$M/pcold")" "tier of pcold after unpinning"
drop_caches
for f in aging phot pwarm pcold; do
	check_same "$R/$f" "$M/$f"
done
tfs_umount
