#!/bin/bash
# Mount-time errors: bad options exit 2 naming the option; bad stores exit
# non-zero with a clear message and lose nothing; an explicit STORE that does
# not exist is refused (a typo must not mount an empty tree) unless
# -o create; a non-empty mountpoint is refused unless -o nonempty; a bad or
# busy metrics_listen address refuses the mount; a store is mounted by one
# daemon at a time; the default store (no STORE argument) is created on first
# mount and gives the same tree back on remount; every binary answers
# --version.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init

# --- bad options: exit 2, message names the option -------------------------
tfs_expect_refused 2 'no_such_option' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o no_such_option=1
tfs_expect_refused 2 'no_such_flag' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o no_such_flag
tfs_expect_refused 2 'hot_max' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o hot_max=abc
tfs_expect_refused 2 'hot_max' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o hot_max=12Q
tfs_expect_refused 2 'hot_max' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o hot_max=
tfs_expect_refused 2 'hot_max' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o allow_other,hot_max=1x,default_permissions
tfs_expect_refused 2 'cold_level' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o cold_level=42
tfs_expect_refused 2 'no-such-switch' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" --no-such-switch
tfs_expect_refused 2 "'create' takes no value" "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o create=yes
tfs_expect_refused 2 "'log' needs a value" "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o log
tfs_expect_refused 2 'log_level: must be error, warn, info or debug' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o log_level=loud
tfs_expect_refused 2 'metrics_listen.*HOST:PORT' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o metrics_listen=9567
tfs_expect_refused 2 'metrics_listen.*bad port' "$TFS_MNT" \
	"$TFS_STORE" "$TFS_MNT" -o metrics_listen=127.0.0.1:70000
# no mountpoint at all: refused (usage), nothing mounted
tfs_expect_refused nonzero '.' "$TFS_MNT"
# the bad-option runs must not have initialised the store
if [ -n "$(ls -A "$TFS_STORE")" ]; then
	fail "a refused mount wrote into the store: $(ls -A "$TFS_STORE")"
fi

# --- bad stores: exit non-zero, clear message -------------------------------
echo "just a file" >"$TFS_TMP/afile"
tfs_expect_refused 1 'not a directory' "$TFS_MNT" \
	"$TFS_TMP/afile" "$TFS_MNT"
assert_eq "just a file" "$(cat "$TFS_TMP/afile")" "regular file given as STORE"
# a store whose parent cannot be created (a path through a regular file)
tfs_expect_refused 1 'not a directory' "$TFS_MNT" \
	"$TFS_TMP/afile/sub/store" "$TFS_MNT"
# a store of another format version
mkdir "$TFS_TMP/v99"
echo "tierfs-store 99" >"$TFS_TMP/v99/FORMAT"
tfs_expect_refused 1 'format' "$TFS_MNT" "$TFS_TMP/v99" "$TFS_MNT"
assert_eq "tierfs-store 99" "$(cat "$TFS_TMP/v99/FORMAT")" "foreign FORMAT file"
if tfs__mounted "$TFS_MNT"; then
	fail "$TFS_MNT is mounted after refused mounts"
fi

# --- a missing STORE is refused, and created with -o create --------------------
tfs_expect_refused 1 'store .*fresh does not exist.*-o create' "$TFS_MNT" \
	"$TFS_TMP/fresh" "$TFS_MNT"
[ ! -e "$TFS_TMP/fresh" ] || fail "a refused mount created the store"
# relative too, and through fstab-style options
(cd "$TFS_TMP" && tfs_expect_refused 1 'does not exist' "$TFS_MNT" \
	fresh "$TFS_MNT" -o defaults,hot_max=64M)
[ ! -e "$TFS_TMP/fresh" ] || fail "a refused mount created the store"
tfs_mount_args "$TFS_MNT" "$TFS_TMP/fresh" "$TFS_MNT" -o create
[ -f "$TFS_TMP/fresh/FORMAT" ] || fail "no FORMAT file in a newly created store"
echo hello >"$TFS_MNT/hello"
tfs_umount
# an existing store mounts with or without -o create
tfs_mount_args "$TFS_MNT" "$TFS_TMP/fresh" "$TFS_MNT" -o create
assert_eq hello "$(cat "$TFS_MNT/hello")" "store remounted with -o create"
tfs_umount

# --- a non-empty mountpoint is refused, mounted over with -o nonempty ---------
mkdir "$TFS_TMP/full"
echo "under the mount" >"$TFS_TMP/full/below.txt"
tfs_expect_refused 1 'full is not empty.*-o nonempty' "$TFS_TMP/full" \
	"$TFS_STORE" "$TFS_TMP/full"
tfs__mounted "$TFS_TMP/full" && fail "mounted over a non-empty directory"
[ -z "$(ls -A "$TFS_STORE")" ] || fail "a refused mount wrote into the store"
tfs_mount_args "$TFS_TMP/full" "$TFS_STORE" "$TFS_TMP/full" -o nonempty
[ ! -e "$TFS_TMP/full/below.txt" ] || fail "the file below the mount shows through"
tfs_umount
assert_eq "under the mount" "$(cat "$TFS_TMP/full/below.txt")" "file below the mount after unmount"

# --- metrics_listen on a busy port: exit 1 with the reason --------------------
"$PY" - "$TFS_TMP/port" <<'PYEOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
PYEOF
TFS_EXTRA_PIDS+=($!)
for _ in $(seq 100); do [ -s "$TFS_TMP/port" ] && break; sleep 0.1; done
busy=$(cat "$TFS_TMP/port")
tfs_expect_refused 1 "cannot listen on 127.0.0.1:$busy: Address already in use" \
	"$TFS_MNT" "$TFS_STORE" "$TFS_MNT" -o metrics_listen=127.0.0.1:$busy
tfs__mounted "$TFS_MNT" && fail "mounted although metrics_listen failed"

# --- --version on every binary --------------------------------------------------
want=$(sed -n "s/^ *version : '\(.*\)',\$/\1/p" "$TFS_DIR/../../meson.build")
[ -n "$want" ] || fail "no version in meson.build"
for b in "$TIERFS_BIN" "${TIERCTL_BIN:-}" "${TIERFS_FSCK:-}"; do
	[ -n "$b" ] || continue
	out=$("$b" --version) || fail "$b --version failed"
	case $out in
	"${b##*/} $want"*) ;;
	*) fail "$b --version says '$out', expected '${b##*/} $want'" ;;
	esac
	assert_eq "$out" "$("$b" -V)" "$b -V"
done

# --- one daemon per store -----------------------------------------------------
tfs_mount
echo "first" >"$TFS_MNT/first.txt"
# mounting again on the live mountpoint names the mount, not "not empty"
tfs_expect_refused 1 "mnt is already mounted \\(fuse.tierfs\\); unmount it first" \
	"$TFS_TMP/ignored" "$TFS_MNT"
mkdir "$TFS_TMP/mnt2"
tfs_expect_refused 1 'already mounted' "$TFS_TMP/mnt2" \
	"$TFS_STORE" "$TFS_TMP/mnt2"
if tfs__mounted "$TFS_TMP/mnt2"; then
	fail "second mount of the same store is live"
fi
# the first daemon is unharmed
assert_eq "first" "$(cat "$TFS_MNT/first.txt")" "first mount after refused second"
echo "more" >>"$TFS_MNT/first.txt"
tfs_umount
# once the first is gone, the store mounts again (the lock was released)
tfs_mount_args "$TFS_TMP/mnt2" "$TFS_STORE" "$TFS_TMP/mnt2"
assert_eq "first
more" "$(cat "$TFS_TMP/mnt2/first.txt")" "store remounted elsewhere"
tfs_umount

# --- default store -------------------------------------------------------------
# HOME and XDG_DATA_HOME point into the temp dir so a non-root default store
# lands there; root's default is /var/lib/tierfs/<escaped mountpoint>.
mkdir "$TFS_TMP/home" "$TFS_TMP/xdg" "$TFS_TMP/dmnt"
export HOME=$TFS_TMP/home XDG_DATA_HOME=$TFS_TMP/xdg
before=""
made_varlib=""
if [ -d /var/lib/tierfs ]; then
	before=$(ls -A /var/lib/tierfs)
else
	made_varlib=1
fi
# whatever appears under /var/lib/tierfs for our mountpoint is removed in the
# trap (the escaped mountpoint contains the temp dir's random part)
TFS_CLEANUP_DIRS+=("/var/lib/tierfs/*$TFS_RAND*")
tfs_mount_args "$TFS_TMP/dmnt" "$TFS_TMP/dmnt"
dstore=""
if [ "$(id -u)" = 0 ]; then
	new=$(comm -13 <(printf '%s\n' "$before" | sort) \
		<(ls -A /var/lib/tierfs 2>/dev/null | sort))
	for d in $new; do
		TFS_CLEANUP_DIRS+=("/var/lib/tierfs/$d")
	done
	[ -n "$new" ] || fail "no default store created under /var/lib/tierfs for $TFS_TMP/dmnt"
	[ "$(printf '%s\n' "$new" | wc -l)" = 1 ] || fail "several new dirs in /var/lib/tierfs: $new"
	dstore=/var/lib/tierfs/$new
	case $new in
	*"$TFS_RAND"*) ;;
	*) fail "default store $dstore is not named after the mountpoint $TFS_TMP/dmnt" ;;
	esac
	# /var/lib/tierfs itself goes too if we made it and it ends up empty
	[ -z "$made_varlib" ] || TFS_RMDIR=/var/lib/tierfs
else
	dstore=$(find "$XDG_DATA_HOME" -name FORMAT -printf '%h\n' | head -n1)
	[ -n "$dstore" ] || fail "no default store under \$XDG_DATA_HOME=$XDG_DATA_HOME"
fi
note "default store: $dstore"
[ -f "$dstore/FORMAT" ] || fail "default store $dstore has no FORMAT"
head -c 100000 /dev/urandom >"$TFS_REF/d.bin"
cp "$TFS_REF/d.bin" "$TFS_TMP/dmnt/d.bin"
mkdir "$TFS_TMP/dmnt/sub"
echo "in sub" >"$TFS_TMP/dmnt/sub/s.txt"
tfs_umount
tfs_remount
check_same "$TFS_REF/d.bin" "$TFS_TMP/dmnt/d.bin"
assert_eq "in sub" "$(cat "$TFS_TMP/dmnt/sub/s.txt")" "default store remount"
tfs_umount
