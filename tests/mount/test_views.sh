#!/bin/bash
# The tier views MNT/.tiers/{hot,warm,cold}:
#  - .tiers is not in the root's listing (ls -a, find) but reachable by name
#    and holds hot warm cold stats metrics; -o tierdirs=visible lists it.
#  - each view lists exactly the regular files of its tier at their paths
#    (also across readdir pages: 300 files, every other one warm), with the
#    same st_ino as in the tree; view directories have inode numbers of
#    their own.
#  - mv .tiers/A/path .tiers/B/path migrates (tier, content identical);
#    creating, deleting, linking and renaming anything else in the views,
#    and renaming between a view and the tree, fail with EPERM and change
#    nothing; reading and writing a file through its view path work.
#  - after a remount the views still match user.tierfs.tier.
#  - while the policy ages files (hot_age=1s, warm_age=2s, interval=300ms)
#    the three views are listed for ~8 s: no file ever shows in two views,
#    pinned files never leave theirs, no file goes back up; once settled,
#    every file is in exactly the view user.tierfs.tier names.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
tfs_init
M=$TFS_MNT
R=$TFS_REF
V=$M/.tiers

set_tier() { setfattr -n user.tierfs.tier -v "$2" "$1"; }

# views.py: list the views, compare them with the tiers, watch them.
cat >"$TFS_TMP/views.py" <<'EOF'
import json, os, subprocess, sys, time

TIERS = ("hot", "warm", "cold")
RANK = {"hot": 0, "warm": 1, "cold": 2}

def files_under(top):
    out = set()
    for d, dirs, files in os.walk(top):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), top))
    return out

def tree_files(mnt):
    out = set()
    for d, dirs, files in os.walk(mnt):
        if d == mnt and ".tiers" in dirs:
            dirs.remove(".tiers")
        for f in files:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.add(os.path.relpath(p, mnt))
    return out

def list_views(mnt, order=TIERS):
    return {t: files_under(os.path.join(mnt, ".tiers", t)) for t in order}

def xtier(p):
    return os.getxattr(p, "user.tierfs.tier").decode()

def check(mnt):
    """Every file of the tree in exactly the view its tier names."""
    files = tree_files(mnt)
    views = list_views(mnt)
    bad = []
    for f in sorted(files):
        t = xtier(os.path.join(mnt, f))
        shown = [v for v in TIERS if f in views[v]]
        if shown != [t]:
            bad.append("%s: tier %s, shown in %s" % (f, t, shown))
    for v in TIERS:
        for f in sorted(views[v] - files):
            bad.append("%s: in view %s but not in the tree" % (f, v))
    if bad:
        sys.exit("views disagree with the tiers:\n  " + "\n  ".join(bad[:20]))
    return {v: len(views[v]) for v in TIERS}

def watch(mnt, seconds, pinned):
    """List cold, warm, hot in that order, again and again. Files only move
    down (nobody reads them), so a file seen in two views within one round
    is a bug (a move between two listings can only make it appear in none),
    and so is a file seen hotter than before, or in no view more often than
    it can move."""
    files = tree_files(mnt)
    last, zeros, moved = {}, {}, set()
    rounds = zero = 0
    seen = {v: 0 for v in TIERS}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        views = list_views(mnt, ("cold", "warm", "hot"))
        rounds += 1
        for v in TIERS:
            extra = views[v] - files
            if extra:
                sys.exit("round %d: view %s shows files not in the tree: %s"
                         % (rounds, v, sorted(extra)[:5]))
        for f in files:
            shown = [v for v in TIERS if f in views[v]]
            if len(shown) > 1:
                sys.exit("round %d: %s shown in %s at once" % (rounds, f, shown))
            if f in pinned and shown != [pinned[f]]:
                sys.exit("round %d: %s pinned %s but shown in %s"
                         % (rounds, f, pinned[f], shown))
            if not shown:
                # only a move between two listings of this round does
                # that, and a file moves down at most twice (hot, warm,
                # cold): a third time is a file missing from the views
                zero += 1
                zeros[f] = zeros.get(f, 0) + 1
                if zeros[f] > 2:
                    sys.exit("round %d: %s in no view for the %dth time"
                             % (rounds, f, zeros[f]))
                continue
            seen[shown[0]] += 1
            if f in last and shown[0] != last[f]:
                moved.add(f)
            if f in last and RANK[shown[0]] < RANK[last[f]]:
                sys.exit("round %d: %s went back up from %s to %s"
                         % (rounds, f, last[f], shown[0]))
            last[f] = shown[0]
    print("%d rounds over %d files; sightings %s; %d seen moving, %d times"
          " in no view mid-move" % (rounds, len(files), seen, len(moved), zero))

cmd, mnt = sys.argv[1], sys.argv[2]
if cmd == "check":
    print(json.dumps(check(mnt), sort_keys=True))
elif cmd == "list":
    views = list_views(mnt, (sys.argv[3],))
    print("\n".join(sorted(views[sys.argv[3]])))
elif cmd == "watch":
    watch(mnt, float(sys.argv[3]), json.loads(sys.argv[4]))
elif cmd == "settled":
    # all files except the pinned ones cold, by their attribute
    pinned = json.loads(sys.argv[3])
    left = [f for f in tree_files(mnt)
            if f not in pinned and xtier(os.path.join(mnt, f)) != "cold"]
    sys.exit(1 if left else 0)
EOF
views() { "$PY" "$TFS_TMP/views.py" "$@"; }
# view_list TIER: the files the view shows, one relative path a line
view_list() { views list "$M" "$1"; }
# in_view TIER PATH: PATH is listed in the view TIER (and nowhere else)
in_view()
{
	local t l others=""
	for t in hot warm cold; do
		l=$(view_list "$t")
		if grep -qxF -- "$2" <<<"$l"; then
			others+="$t "
		fi
	done
	assert_eq "$1 " "$others" "views listing $2"
}

# --- .tiers is hidden but reachable ------------------------------------------------
# interval=300ms: the policy ticks, but with hot_age=1h nothing may move;
# promote_after=1000: reads never promote (tiers change only when we say)
tfs_mount -o hot_max=256M,interval=300ms,promote_after=1000
note "hidden .tiers"
mkdir -p "$M/a/c" "$M/many" "$M/emptyd"
for p in top a/b a/c/d; do
	head -c $((3000 + ${#p} * 1000)) /dev/urandom >"$R/${p//\//_}"
	cp "$R/${p//\//_}" "$M/$p"
done
: >"$M/a/c/e"
: >"$R/a_c_e"
ln -s ../top "$M/a/lnk"
mkfifo "$M/a/fifo"
"$PY" - "$M/many" <<'EOF'
import os, sys
for i in range(300):
    with open(os.path.join(sys.argv[1], "f%03d" % i), "wb") as f:
        f.write(b"file %d\n" % i * (i % 7 + 1))
EOF
! grep -qxF .tiers <<<"$(ls -a "$M")" || fail "ls -a $M lists .tiers: $(ls -a "$M" | tr '\n' ' ')"
assert_eq ". .. a emptyd many top" "$(ls -a "$M" | tr '\n' ' ' | sed 's/ $//')" "ls -a of the root"
if grep -qF /.tiers <<<"$(find "$M")"; then
	fail "find $M descends into .tiers: $(find "$M" | grep -F /.tiers | head -3)"
fi
assert_eq 311 "$(find "$M" | wc -l)" "entries find sees"
assert_eq "cold config hot metrics stats warm" "$(ls "$V" | tr '\n' ' ' | sed 's/ $//')" "ls $V"
[ -d "$V" ] && [ -d "$V/hot" ] && [ -f "$V/stats" ] || fail "$V not reachable by name"

note "views list the files of their tier"
# a few policy ticks: nothing is idle for an hour, so everything stays hot
# (the empty file a/c/e included: it was created now, not in 1970)
sleep 1.5
assert_eq hot "$(tier "$M/a/c/e")" "tier of the new empty file a/c/e after a few ticks (reason: $(getfattr --absolute-names -n user.tierfs.reason --only-values "$M/a/c/e"))"
in_view hot top
in_view hot a/b
in_view hot a/c/d
in_view hot a/c/e
assert_eq 304 "$(view_list hot | wc -l)" "files in the hot view"
assert_eq "" "$(view_list warm)" "files in the warm view"
assert_eq "" "$(view_list cold)" "files in the cold view"
# symlinks and fifos are in no view
for t in hot warm cold; do
	assert_eq "" "$(find "$V/$t" ! -type d ! -type f)" "non-regular files in the $t view"
done
views check "$M" >/dev/null

note "same inodes for files, own inodes for view directories"
for p in top a/b a/c/d a/c/e many/f007; do
	assert_eq "$(stat -c %i "$M/$p")" "$(stat -c %i "$V/hot/$p")" "st_ino of $p in the hot view"
	assert_eq "$(stat -c %s "$M/$p")" "$(stat -c %s "$V/hot/$p")" "size of $p in the hot view"
done
declare -A dino=()
for d in "$M" "$M/a" "$M/a/c" "$V/hot" "$V/warm" "$V/cold" \
	"$V/hot/a" "$V/warm/a" "$V/cold/a" "$V/hot/a/c" "$V/cold/a/c"; do
	i=$(stat -c %i "$d")
	[ -z "${dino[$i]:-}" ] || fail "directories $d and ${dino[$i]} share st_ino $i"
	dino[$i]=$d
done

note "setfattr moves files between views"
set_tier "$M/a/b" warm
set_tier "$M/a/c/d" cold
in_view warm a/b
in_view cold a/c/d
in_view hot top
assert_eq "$(stat -c %i "$M/a/b")" "$(stat -c %i "$V/warm/a/b")" "st_ino of a/b in the warm view"
assert_eq "$(stat -c %i "$M/a/c/d")" "$(stat -c %i "$V/cold/a/c/d")" "st_ino of a/c/d in the cold view"
[ ! -e "$V/hot/a/b" ] || fail "$V/hot/a/b still exists after moving a/b to warm"
[ ! -e "$V/cold/a/b" ] || fail "$V/cold/a/b exists"
# every other file of many/ warm: the hot and warm views split the 300
"$PY" - "$M/many" <<'EOF'
import os, sys
for i in range(0, 300, 2):
    os.setxattr(os.path.join(sys.argv[1], "f%03d" % i), "user.tierfs.tier", b"warm")
EOF
assert_eq 150 "$(view_list hot | grep -c '^many/')" "many/ files in the hot view"
assert_eq 150 "$(view_list warm | grep -c '^many/')" "many/ files in the warm view"
assert_eq 150 "$(ls "$V/warm/many" | wc -l)" "ls of the warm view of many/"
[ "$(ls "$V/warm/many" | sed -n 1p)" = f000 ] && [ "$(ls "$V/hot/many" | sed -n 1p)" = f001 ] ||
	fail "wrong split of many/ between hot and warm"
views check "$M" >/dev/null

note "mv between views migrates"
mv "$V/hot/top" "$V/cold/top"
assert_eq cold "$(tier "$M/top")" "tier of top after mv to the cold view"
in_view cold top
mv "$V/warm/a/b" "$V/hot/a/b"
assert_eq hot "$(tier "$M/a/b")" "tier of a/b after mv to the hot view"
in_view hot a/b
mv "$V/cold/a/c/d" "$V/warm/a/c/d"
assert_eq warm "$(tier "$M/a/c/d")" "tier of a/c/d after mv to the warm view"
in_view warm a/c/d
assert_eq setfattr "$(getfattr --absolute-names -n user.tierfs.reason --only-values "$M/top")" "reason after mv"
drop_caches
for p in top a/b a/c/d; do
	check_same "$R/${p//\//_}" "$M/$p"
	check_same "$R/${p//\//_}" "$V/$(tier "$M/$p")/$p"
done

note "everything else is refused with EPERM"
# refused PATH...: each PATH is as before (exists or not, same st_ino) after
# the refused command; run as: refused "cmd" -- paths
snap() { local p; for p in "$@"; do stat -c '%i %s %h' "$p" 2>/dev/null || echo none; done; }
refused()
{
	local cmd=("${@:1:$#}") before
	local paths=()
	while [ "${cmd[-1]}" != -- ]; do
		paths=("${cmd[-1]}" "${paths[@]}")
		unset 'cmd[-1]'
	done
	unset 'cmd[-1]'
	before=$(snap "${paths[@]}")
	expect_errno "Operation not permitted" "${cmd[@]}"
	assert_eq "$before" "$(snap "${paths[@]}")" "paths after refused: ${cmd[*]}"
}
# os.rename, so we see the errno itself (mv would fall back on EXDEV)
pyrename()
{
	"$PY" - "$1" "$2" <<'EOF'
import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as e:
    sys.exit("rename: %s" % e.strerror)
EOF
}
e_ino=$(stat -c %i "$M/a/c/e")
refused touch "$V/hot/a/new" -- "$V/hot/a/new" "$M/a/new"
refused touch "$V/hot/new" -- "$V/hot/new" "$M/new"
refused mkdir "$V/hot/a/newdir" -- "$V/hot/a/newdir" "$M/a/newdir"
refused mkdir "$V/cold/newdir" -- "$M/newdir"
refused ln -s ../top "$V/hot/a/s" -- "$M/a/s"
refused mknod "$V/hot/a/p" p -- "$M/a/p"
refused rm -f "$V/hot/a/c/e" -- "$V/hot/a/c/e" "$M/a/c/e"
refused rm -f "$V/hot/many/f001" -- "$M/many/f001"
refused rmdir "$V/hot/emptyd" -- "$V/hot/emptyd" "$M/emptyd"
refused ln "$V/hot/a/c/e" "$V/hot/a/c/e2" -- "$M/a/c/e" "$M/a/c/e2"
refused ln "$M/a/c/e" "$V/hot/a/c/e2" -- "$M/a/c/e" "$M/a/c/e2"
# renames: within a view, to another path in another view, view <-> tree
refused pyrename "$V/hot/a/c/e" "$V/hot/a/c/e_renamed" -- "$V/hot/a/c/e" "$M/a/c/e_renamed"
refused pyrename "$V/hot/a/c/e" "$V/hot/a/e" -- "$M/a/c/e" "$M/a/e"
refused pyrename "$V/hot/a/c/e" "$V/cold/a/e" -- "$M/a/c/e" "$M/a/e"
refused pyrename "$V/hot/a/c/e" "$V/cold/a/c/other" -- "$M/a/c/e" "$M/a/c/other"
refused pyrename "$V/hot/a/c/e" "$M/e_out" -- "$M/a/c/e" "$M/e_out"
refused pyrename "$M/a/c/e" "$V/hot/a/c/e_in" -- "$M/a/c/e" "$M/a/c/e_in"
refused pyrename "$M/a/c/e" "$V/cold/a/c/e" -- "$M/a/c/e"
# (a directory renamed to the same path in another view moves its tree:
# see below and test_pins.sh)
refused pyrename "$V/hot/a" "$M/a2" -- "$M/a" "$M/a2"
refused pyrename "$M/emptyd" "$V/hot/emptyd2" -- "$M/emptyd" "$M/emptyd2"
# the same with mv: nothing copied, nothing removed
refused mv "$V/hot/a/c/e" "$M/e_mv" -- "$M/a/c/e" "$M/e_mv"
refused mv "$M/a/c/e" "$V/hot/a/c/e_mv" -- "$M/a/c/e" "$M/a/c/e_mv"
refused mv "$V/hot/a/c/e" "$V/hot/a/c/e_mv" -- "$M/a/c/e" "$M/a/c/e_mv"
# a rename onto the same inode (the view's name and the tree's, or the
# same name) is a no-op the kernel answers itself
pyrename "$V/hot/a/c/e" "$V/hot/a/c/e"
pyrename "$V/hot/a/c/e" "$M/a/c/e"
assert_eq "$e_ino" "$(stat -c %i "$M/a/c/e")" "st_ino of a/c/e after the refused operations"
assert_eq hot "$(tier "$M/a/c/e")" "tier of a/c/e after the refused operations"
# .tiers itself
refused pyrename "$V" "$M/tiers2" -- "$M/tiers2"
refused mkdir "$V/more" -- "$V/more"
refused rm -f "$V/stats" -- "$V/stats"
mkdir "$M/x"
expect_errno "" pyrename "$M/x" "$V"
rmdir "$M/x"
views check "$M" >/dev/null

note "a directory renamed to the same path in another view moves its files"
mkdir -p "$M/mvd/sub"
echo one >"$M/mvd/one"
echo two >"$M/mvd/sub/two"
pyrename "$V/hot/mvd" "$V/cold/mvd"
assert_eq "cold cold" "$(tier "$M/mvd/one") $(tier "$M/mvd/sub/two")" "tiers after the rename"
assert_eq two "$(cat "$M/mvd/sub/two")" "mvd/sub/two after the rename"
rm -r "$M/mvd"

note "reading and writing through a view path"
drop_caches
for p in top a/b a/c/d; do
	check_same "$R/${p//\//_}" "$V/$(tier "$M/$p")/$p"
done
set_tier "$M/a/b" warm
printf 'appended through the view\n' >>"$V/warm/a/b"
printf 'appended through the view\n' >>"$R/a_b"
check_same "$R/a_b" "$M/a/b"
drop_caches
check_same "$R/a_b" "$M/a/b"
check_same "$R/a_b" "$V/$(tier "$M/a/b")/a/b"
views check "$M" >/dev/null
# pins for the policy part below
setfattr -n user.tierfs.pin -v hot "$M/a/c/e"
setfattr -n user.tierfs.pin -v warm "$M/many/f001"
tfs_umount

# --- tierdirs=visible, views after a remount ------------------------------------------
note "tierdirs=visible"
tfs_mount -o hot_max=256M,tierdirs=visible,promote_after=1000
grep -qxF .tiers <<<"$(ls -a "$M")" || fail "ls -a $M does not list .tiers with tierdirs=visible"
counts=$(views check "$M")
note "views after remount: $counts"
assert_eq '{"cold": 1, "hot": 150, "warm": 153}' "$counts" "files per view after remount"
tfs_umount

# --- listings while the policy moves files --------------------------------------------------
note "views while the policy ages files (hot_age=1s, warm_age=2s)"
tfs_mount -o hot_max=256M,hot_age=1s,warm_age=2s,interval=300ms,promote_after=1000
! grep -qxF .tiers <<<"$(ls -a "$M")" || fail "ls -a lists .tiers without tierdirs=visible"
mkdir "$M/fresh"
for i in $(seq 0 19); do
	head -c $((1000 * i + 1)) /dev/urandom >"$M/fresh/n$i"
done
pinned='{"a/c/e": "hot", "many/f001": "warm"}'
views watch "$M" 8 "$pinned"
settled=0
for _ in $(seq 1 120); do
	if views settled "$M" "$pinned"; then
		settled=1
		break
	fi
	sleep 0.5
done
[ "$settled" = 1 ] || fail "files not all cold 60 s after the watch"
counts=$(views check "$M")
note "settled: $counts"
assert_eq '{"cold": 322, "hot": 1, "warm": 1}' "$counts" "files per view once settled"
drop_caches
for p in top a/b a/c/d a/c/e; do
	check_same "$R/${p//\//_}" "$V/$(tier "$M/$p")/$p"
done
tfs_umount
