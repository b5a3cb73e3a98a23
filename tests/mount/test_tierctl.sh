#!/bin/bash
# tierctl against a real mount: --help/--version, usage errors (exit 2),
# paths not on tierfs (exit 3, "tierctl: PATH: not on a tierfs mount"),
# missing paths (exit 1, the rest still done), `ls` columns (tier, size,
# stored, ratio, reason) against the xattrs, `mv --to` with and without -r
# (tiers change, data intact, directories need -r, fifos and symlinks are
# skipped, a mount below is not crossed), `pin`/`unpin`, `du` sums against
# the per-file xattrs (hard links counted once), `status` against
# MNT/.tiers/stats (from MNT, a file, and the cwd), and the progress bar:
# silent when stderr is not a terminal, drawn on a pty (script(1)).
#
# Environment: TIERFS_BIN, TIERCTL_BIN (both required).
# The switches below turn on checks of daemon features that landed after
# tierctl; set one to 0 if the daemon at hand lacks it.
# shellcheck disable=SC2164 # set -e (lib.sh) stops at a failed cd
TC_FULL_XATTRS=${TC_FULL_XATTRS:-1}	# pin, stored, ratio, reason xattrs
TC_COLD=${TC_COLD:-1}			# moves to the cold tier
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_tierctl.sh"
tfs_init
tfs_mount -o hot_max=256M
M=$TFS_MNT
R=$TFS_REF

# has TEXT WHAT: $OUT or $ERR (WHAT = out|err) contains TEXT
has()
{
	local s=$OUT
	[ "$2" = out ] || s=$ERR
	case $s in
	*"$1"*) ;;
	*) fail "tierctl ${2}put lacks '$1': $s" ;;
	esac
}

xa() { getfattr --absolute-names --only-values -n "user.tierfs.$2" "$1"; }

# ls_col NAME N: field N of the `tierctl ls -b` row (in OUT) whose last
# field is NAME. Fields: 1 tier, 2 pin, 3 size, 4 stored, 5 ratio, 6 atime.
ls_col() { awk -v n="$1" -v f="$2" '$NF == n { print $f }' <<<"$OUT"; }

# json KEY: a dotted key of MNT/.tiers/stats
json()
{
	"$PY" - "$M/.tiers/stats" "$1" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)
EOF
}

# --- help, version, usage errors --------------------------------------------
note "help, version, usage errors"
tc 0 --help
has "usage: tierctl" out
has "--recursive" out
tc 0 -h
tc 0 mv --help
has "usage: tierctl" out
tc 0 --version
[[ $OUT =~ ^tierctl\ [0-9] ]] || fail "--version printed '$OUT'"
for args in "" "frob" "mv $M" "mv --to tepid $M" "pin $M" "mv --to" \
	"ls -z $M" "ls --bogus $M" "mv --to hot" "unpin" "status $M $M" \
	"du --to hot $M"; do
	# shellcheck disable=SC2086
	tc 2 $args
	has "usage: tierctl" err
	has "tierctl: " err
done
tc 2 mv --to tepid "$M"
has "invalid tier 'tepid'" err

# --- a tree ------------------------------------------------------------------
head -c 100000 /dev/urandom >"$R/a"
seq 1 60000 >"$R/t1"
head -c 3072 /dev/urandom >"$R/x"
mkdir -p "$M/d/sub" "$M/many"
cp "$R/a" "$M/a"
cp "$R/t1" "$M/d/t1"
cp "$R/x" "$M/d/sub/x"
echo hidden >"$M/d/.dot"
ln -s ../a "$M/d/link"
mkfifo "$M/d/fifo"
for i in $(seq 1 40); do
	printf 'file %d\n' "$i" >"$M/many/f$i"
done
echo "outside" >"$TFS_TMP/outside"

# --- not on tierfs, missing paths ----------------------------------------------
note "paths not on tierfs"
tc 3 ls "$TFS_TMP/outside"
assert_eq "tierctl: $TFS_TMP/outside: not on a tierfs mount" "$ERR" "message"
tc 3 status "$TFS_TMP"
has "tierctl: $TFS_TMP: not on a tierfs mount" err
tc 3 du -r "$TFS_TMP/ref"
tc 3 mv --to warm "$TFS_TMP/outside"
tc 3 pin --to warm -r "$TFS_TMP/ref"
cd "$TFS_TMP"
# the highest status wins; the good paths are still done
tc 3 mv --to warm "$M/nonexistent" "$TFS_TMP/outside" "$M/a"
has "tierctl: $M/nonexistent: No such file or directory" err
assert_eq warm "$(xa "$M/a" tier)" "a moved despite the other operands"
tc 1 mv --to hot "$M/nonexistent" "$M/a"
has "$M/nonexistent: No such file or directory" err
assert_eq hot "$(xa "$M/a" tier)" "a moved back despite a missing operand"
tc 1 ls "$M/nonexistent"
# a directory needs -r; a fifo is not a regular file
tc 1 mv --to warm "$M/d"
has "$M/d: is a directory (use -r)" err
tc 1 mv --to warm "$M/d/fifo"
has "not a regular file" err
# .tiers/stats is on tierfs but has no tier
tc 1 mv --to warm "$M/.tiers/stats"
has "cannot set user.tierfs.tier to warm" err

# --- ls ------------------------------------------------------------------------
note "ls"
cd "$M"
tc 0 ls -b a d/t1
assert_eq hot "$(ls_col a 1)" "ls tier of a"
assert_eq hot "$(ls_col d/t1 1)" "ls tier of d/t1"
assert_eq 100000 "$(ls_col a 3)" "ls size of a"
assert_eq "$(stat -c %s d/t1)" "$(ls_col d/t1 3)" "ls size of d/t1"
head -n 1 <<<"$OUT" | grep -qE '^TIER +PIN +SIZE +STORED +RATIO +LAST ACCESS +REASON +NAME$' ||
	fail "ls header: $(head -n 1 <<<"$OUT")"
# a directory: its entries, sorted, dot files left out, subdirs with a /
tc 0 ls -b d
assert_eq "fifo link sub/ t1" "$(awk 'NR > 1 { print $NF }' <<<"$OUT" | xargs)" \
	"entries of d"
tc 0 ls -a -b d
assert_eq ".dot fifo link sub/ t1" "$(awk 'NR > 1 { print $NF }' <<<"$OUT" | xargs)" \
	"entries of d with -a"
assert_eq hot "$(ls_col t1 1)" "ls d: tier of t1"
assert_eq - "$(ls_col sub/ 1)" "ls d: tier of sub/"
# several operands: files first, then "DIR:" sections
tc 0 ls a d d/sub
has "d/sub:" out
has "d:" out
tc 0 ls   # the cwd
has "many/" out
if [ "$TC_FULL_XATTRS" = 1 ]; then
	tc 0 ls -b a
	assert_eq "$(xa a stored)" "$(ls_col a 4)" "ls stored of a"
	assert_eq "$(xa a ratio)" "$(ls_col a 5)" "ls ratio of a"
	assert_eq none "$(ls_col a 2)" "ls pin of a"
	has "$(xa a reason)" out
	assert_eq "$(xa a atime)" "$(ls_col a 6)" "ls last access of a"
fi

# --- mv ------------------------------------------------------------------------
note "mv"
tc 0 mv --to warm a
assert_eq "" "$ERR" "mv stderr"
[[ $OUT =~ ^moved\ 1\ file\ \(97\.7\ KiB\)\ to\ warm\ in\ [0-9.]+s\ \(.*/s\)$ ]] ||
	fail "mv summary: '$OUT'"
assert_eq warm "$(xa a tier)" "tier of a after mv --to warm"
tc 0 mv -r --to warm d
for f in d/t1 d/sub/x; do
	assert_eq warm "$(xa "$f" tier)" "tier of $f after mv -r --to warm d"
done
tc 0 ls -b d/sub
assert_eq warm "$(ls_col x 1)" "ls after mv"
if [ "$TC_FULL_XATTRS" = 1 ]; then
	assert_eq setfattr "$(xa a reason)" "reason after mv"
fi
if [ "$TC_COLD" = 1 ]; then
	tc 0 mv --to cold d/t1 d/sub/x
	assert_eq cold "$(xa d/t1 tier)" "tier of d/t1 after mv --to cold"
	drop_caches
	check_same "$R/t1" d/t1
	check_same "$R/x" d/sub/x
	if [ "$TC_FULL_XATTRS" = 1 ]; then
		tc 0 ls -b d/t1
		[ "$(ls_col d/t1 4)" -lt "$(stat -c %s d/t1)" ] ||
			fail "a cold text file is not smaller stored: $OUT"
	fi
fi
tc 0 mv --to hot -r .
for f in a d/t1 d/sub/x many/f1 many/f40; do
	assert_eq hot "$(xa "$f" tier)" "tier of $f after mv -r --to hot ."
done
drop_caches
check_same "$R/a" a
check_same "$R/t1" d/t1
# a mount below is not crossed (root only: mount(8))
if [ "$(id -u)" = 0 ]; then
	mkdir many/tmp
	mount -t tmpfs tierctltest many/tmp
	echo "in tmpfs" >many/tmp/y
	tc 0 mv -r --to warm many
	assert_eq "" "$ERR" "mv -r over a tmpfs below"
	if getfattr -n user.tierfs.tier many/tmp/y >/dev/null 2>&1; then
		fail "mv -r crossed into the tmpfs mounted below"
	fi
	assert_eq warm "$(xa many/f7 tier)" "many/f7 after mv -r"
	umount many/tmp
	rmdir many/tmp
fi

# --- pin, unpin ----------------------------------------------------------------
if [ "$TC_FULL_XATTRS" = 1 ]; then
	note "pin, unpin"
	tc 0 pin --to warm a
	assert_eq warm "$(xa a pin)" "pin of a"
	assert_eq warm "$(xa a tier)" "tier of a after pin --to warm"
	assert_eq "pinned warm" "$(xa a reason)" "reason of a pinned file"
	tc 0 ls -b a
	assert_eq warm "$(ls_col a 2)" "ls pin column"
	tc 0 pin -r --to hot d
	assert_eq hot "$(xa d/sub/x pin)" "pin of d/sub/x after pin -r"
	assert_eq hot "$(xa d/sub/x tier)" "tier of d/sub/x after pin -r"
	tc 0 unpin -r a d
	for f in a d/t1 d/sub/x; do
		assert_eq none "$(xa "$f" pin)" "pin of $f after unpin"
	done
	tc 1 unpin d
	has "is a directory (use -r)" err
fi

# --- du ------------------------------------------------------------------------
note "du"
ln a a.link
tc 0 mv --to warm a d/t1
tc 0 du -b . d
head -n 1 <<<"$OUT" | grep -qE '^ +FILES +LOGICAL +STORED +RATIO +HOT +WARM +COLD +PATH$' ||
	fail "du header: $(head -n 1 <<<"$OUT")"
assert_eq ". d total" "$(awk 'NR > 1 { print $NF }' <<<"$OUT" | xargs)" "du rows"
# per tier, from find and the xattrs, each file once (a.link is a)
declare -A nfiles=([hot]=0 [warm]=0 [cold]=0) bytes=([hot]=0 [warm]=0 [cold]=0)
declare -A stored=([hot]=0 [warm]=0 [cold]=0)
total=0 tbytes=0
while IFS= read -r f; do
	[ "$f" = ./a.link ] && continue      # the same file as ./a
	t=$(xa "$f" tier)
	nfiles[$t]=$((nfiles[$t] + 1))
	bytes[$t]=$((bytes[$t] + $(stat -c %s "$f")))
	tbytes=$((tbytes + $(stat -c %s "$f")))
	if [ "$TC_FULL_XATTRS" = 1 ]; then
		stored[$t]=$((stored[$t] + $(xa "$f" stored)))
	fi
	total=$((total + 1))
done < <(find . -type f)
row=$(awk '$NF == "."' <<<"$OUT")
assert_eq "$total $tbytes ${bytes[hot]} ${bytes[warm]} ${bytes[cold]}" \
	"$(awk '{ print $1, $2, $5, $6, $7 }' <<<"$row")" "du row of ."
assert_eq "$row" "$(awk '$NF == "total"' <<<"$OUT" | sed 's/total$/./')" \
	"du total (d is inside .)"
tc 0 du --json . d
for t in hot warm cold; do
	got=$("$PY" -c 'import json, sys
d = json.loads(sys.argv[1]); t = sys.argv[2]
p = d["paths"][0]
assert p["path"] == "." and len(d["paths"]) == 2, d
print(p["tiers"][t]["files"], p["tiers"][t]["logical_bytes"],
      p["tiers"][t]["stored_bytes"])' "$OUT" "$t")
	if [ "$TC_FULL_XATTRS" = 1 ]; then
		assert_eq "${nfiles[$t]} ${bytes[$t]} ${stored[$t]}" "$got" "du --json of $t"
	fi
done
# recursive by default: all of d (t1, .dot, sub/x)
tc 0 du -b d
assert_eq 3 "$(awk '$NF == "total" { print $1 }' <<<"$OUT")" "du d"
tc 0 du -b d/sub/x a
assert_eq "d/sub/x a total" "$(awk 'NR > 1 { print $NF }' <<<"$OUT" | xargs)" "du rows of two files"
assert_eq "1 1 2" "$(awk 'NR > 1 { print $1 }' <<<"$OUT" | xargs)" "du files of two files"
# the same file twice counts once in the total
tc 0 du -b a a.link
assert_eq "1 1 1" "$(awk 'NR > 1 { print $1 }' <<<"$OUT" | xargs)" "du of a and its link"

# --- status ----------------------------------------------------------------------
note "status"
cat many/f1 many/f2 >/dev/null
tc 0 status -b "$M"
has "tierfs on $M (store $TFS_STORE)" out
grep -qE '^TIER +FILES +LOGICAL +STORED +RATIO +READS +HITS +MISSES +PROMOTIONS +DEMOTIONS +P50 +P95 +P99$' <<<"$OUT" ||
	fail "status header: $OUT"
for t in hot warm cold; do
	row=$(awk -v t="$t" '$1 == t && NF == 13' <<<"$OUT")
	assert_eq "$(json "tiers.$t.files") $(json "tiers.$t.logical_bytes")" \
		"$(awk '{ print $2, $3 }' <<<"$row")" "status files, bytes of $t"
	assert_eq "$(json "tiers.$t.promotions") $(json "tiers.$t.demotions")" \
		"$(awk '{ print $9, $10 }' <<<"$row")" "status moves of $t"
done
has "hot budget:" out
has "of $(json hot_max)" out
has "evictions:   $(json evictions)" out
has "errors:" out
# from a file and from the cwd deep inside: the same mount
tc 0 status d/sub/x
has "tierfs on $M " out
cd "$M/d/sub"
tc 0 status
has "tierfs on $M " out
cd "$M"
# human sizes
tc 0 status "$M"
grep -qE '^hot budget: +[0-9.]+ (B|KiB|MiB) of 256.0 MiB \([0-9.]+%\)' <<<"$OUT" ||
	fail "status hot budget line: $OUT"

# --- progress bar ------------------------------------------------------------
note "progress bar"
tc 0 mv -r --to hot many
assert_eq "" "$ERR" "stderr of mv -r (not a terminal)"
if command -v script >/dev/null; then
	script -qec "$(printf '%q ' "$TC" mv -r --to warm many)" \
		"$TFS_TMP/typescript" >/dev/null </dev/null
	grep -qE '\[#{24}\] 40/40 files  [0-9.]+ [KMG]?i?B/[0-9.]+ [KMG]?i?B  [0-9.]+ [KMG]?i?B/s  ETA 0:00' "$TFS_TMP/typescript" ||
		fail "no progress bar on a pty: $(tr '\r' '\n' <"$TFS_TMP/typescript")"
	assert_eq warm "$(xa many/f40 tier)" "many/f40 after mv on a pty"
else
	note "script(1) not found: progress bar on a pty not checked"
fi

cd /
tfs_umount
