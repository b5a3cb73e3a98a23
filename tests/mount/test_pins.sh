#!/bin/bash
# Pins against every way of moving files (issue 13):
#  - bulk moves skip files pinned to another tier: a directory's
#    user.tierfs.tier, `tierctl mv -r` (which says how many it skipped) and
#    `mv` of a directory between .tiers views; unpinned files still move and
#    files pinned to the target tier are fine;
#  - one pinned file moved by hand (setfattr user.tierfs.tier, tierctl mv,
#    mv between .tiers views) takes its pin along: pin and tier agree after,
#    and the reason says "pinned";
#  - user.tierfs.reason says the current reason: a pinned-hot file left warm
#    at a remount over budget says so ("hot budget (LRU), pinned hot"), and
#    the policy brings it back to hot once it fits (reason "pinned").
# Data is compared byte for byte after the moves.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
TC=${TIERCTL_BIN:-}

tfs_mount -o interval=300ms
mkdir -p "$M/d/sub"
for f in u1 u2 sub/u3 phot pwarm sub/pcold; do
	head -c 50000 /dev/urandom >"$R/${f//\//_}"
	cp "$R/${f//\//_}" "$M/d/$f"
done
setfattr -n user.tierfs.pin -v hot "$M/d/phot"
setfattr -n user.tierfs.pin -v warm "$M/d/pwarm"
setfattr -n user.tierfs.pin -v cold "$M/d/sub/pcold"

# pinned_at FILE TIER: pin and tier of FILE are both TIER
pinned_at()
{
	assert_eq "$2 $2" "$(xa "$1" pin) $(tier "$1")" "pin and tier of ${1#"$M"/}"
}
pins_kept()
{
	pinned_at "$M/d/phot" hot
	pinned_at "$M/d/pwarm" warm
	pinned_at "$M/d/sub/pcold" cold
}

note "directory setfattr skips pinned files"
setfattr -n user.tierfs.tier -v cold "$M/d"
for f in u1 u2 sub/u3; do
	assert_eq cold "$(tier "$M/d/$f")" "tier of d/$f after setfattr cold on d"
done
pins_kept
assert_eq "pinned hot" "$(xa "$M/d/phot" reason)" "reason of phot"
setfattr -n user.tierfs.tier -v hot "$M/d"
assert_eq hot "$(tier "$M/d/u1")" "tier of d/u1 after setfattr hot on d"
pins_kept
setfattr -n user.tierfs.tier -v warm "$M/d"
assert_eq warm "$(tier "$M/d/sub/u3")" "tier of d/sub/u3 after setfattr warm on d"
pins_kept
grep -qE 'pinned file\(s\) skipped' "$TFS_LOG" ||
	fail "the daemon's log does not say pinned files were skipped"

note "mv of a directory between .tiers views skips pinned files"
mv "$M/.tiers/warm/d" "$M/.tiers/cold/"
assert_eq cold "$(tier "$M/d/u2")" "tier of d/u2 after mv .tiers/warm/d .tiers/cold/"
pins_kept
mv "$M/.tiers/cold/d" "$M/.tiers/hot/"
assert_eq hot "$(tier "$M/d/sub/u3")" "tier of d/sub/u3 after mv to .tiers/hot"
pins_kept

if [ -n "$TC" ]; then
	note "tierctl mv -r skips pinned files and says how many"
	for to in cold warm hot; do
		out=$("$TC" mv -r --to "$to" "$M/d" 2>&1)
		assert_eq "$to" "$(tier "$M/d/u1")" "tier of d/u1 after tierctl mv -r --to $to"
		pins_kept
		[[ $out =~ 2\ pinned\ files\ skipped ]] ||
			fail "tierctl mv -r --to $to: no count of pinned files skipped: $out"
	done
fi

note "one pinned file moved by hand takes its pin along"
setfattr -n user.tierfs.tier -v cold "$M/d/phot"
pinned_at "$M/d/phot" cold
assert_eq "pinned cold" "$(xa "$M/d/phot" reason)" "reason of phot after its move"
mv "$M/.tiers/cold/d/phot" "$M/.tiers/warm/d/phot"
pinned_at "$M/d/phot" warm
if [ -n "$TC" ]; then
	"$TC" mv --to hot "$M/d/phot"
	pinned_at "$M/d/phot" hot
fi
setfattr -n user.tierfs.tier -v hot "$M/d/phot"
pinned_at "$M/d/phot" hot
# the policy does not move any of them back or on
sleep 1
pins_kept
drop_caches
for f in u1 u2 sub/u3 phot pwarm sub/pcold; do
	check_same "$R/${f//\//_}" "$M/d/$f"
done

note "a pinned-hot file left warm over budget comes back by itself"
head -c 3000000 /dev/urandom >"$R/big"
cp "$R/big" "$M/big"
setfattr -n user.tierfs.pin -v hot "$M/big"
tfs_umount
tfs_mount -o hot_max=2M,interval=300ms
assert_eq warm "$(tier "$M/big")" "tier of big (pinned hot) over budget"
assert_eq "hot budget (LRU), pinned hot" "$(xa "$M/big" reason)" "reason of big over budget"
stays "$M/big" warm 1
tfs_umount
tfs_mount -o hot_max=256M,interval=300ms
wait_tier "$M/big" hot 30
assert_eq "pinned hot" "$(xa "$M/big" reason)" "reason of big back on hot"
check_same "$R/big" "$M/big"
pins_kept
tfs_umount
