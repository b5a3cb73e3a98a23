# shellcheck shell=bash
#
# lib.sh - harness for the tierfs mount tests; each test_*.sh sources it.
#
# What it is: start a real tierfs daemon in the foreground on a private temp
# dir (TFS_TMP with store/, mnt/ and one log per daemon run), wait for it
# through its readiness fd (TIERFS_READY_FD, a fifo, never a sleep), unmount,
# kill -9 and remount it, and always clean up in an EXIT trap (unmount,
# kill what we started, remove the temp dir). After every daemon run the log
# is scanned for sanitizer reports and " error: " lines; a test declares the
# errors it provokes with tfs_expect_log_error.
# What it is not: a test framework. A test is a bash script that stops at the
# first failed check (set -e plus an ERR trap that names the line) and exits
# 0 (pass), 1 (fail) or 77 (skip: no /dev/fuse, no fusermount3, not root).
#
# Environment: TIERFS_BIN (required) the daemon; TFS_DEBUG=1 passes -d;
# TIERFS_REQUIRE_FUSE=1 (set by scripts/test.sh, i.e. CI) makes a missing
# /dev/fuse or fusermount3 a failure instead of a skip, so a CI machine
# without FUSE cannot pass every mount test by skipping it;
# TFS_READY_TIMEOUT seconds to wait for readiness (default 120);
# TFS_KEEP=1 keeps the temp dir after a failure for inspection.

set -eEu -o pipefail
shopt -s inherit_errexit

export LC_ALL=C
export TZ=UTC

TFS_TMP=""        # private temp dir
TFS_STORE=""      # $TFS_TMP/store
TFS_MNT=""        # $TFS_TMP/mnt
TFS_REF=""        # $TFS_TMP/ref: reference copies for cmp
TFS_LOG=""        # log of the current (or last) daemon run
TFS_PID=""        # pid of the running daemon, "" when none
TFS_CUR_MNT=""    # mountpoint of the running daemon
TFS_ARGS=()       # arguments of the last successful mount (for remount)
TFS_RUNS=0        # daemon runs so far (names the logs)
TFS_EXPECTED=()   # extended regexes of expected " error: " log lines
TFS_EXTRA_PIDS=() # other processes we started (killed in the trap)
TFS_CLEANUP_DIRS=() # globs of dirs outside TFS_TMP to remove (default store)
TFS_RAND=""       # the random part of TFS_TMP's name
TFS_RMDIR=""      # a directory to rmdir (if empty) in the trap

# this directory (lib.sh, manifest.py)
# shellcheck disable=SC2034
TFS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# A python that every user can run (pyenv shims under /root are not).
if [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
else
	PY=$(command -v python3 || echo python3)
fi

note() { printf '# %s\n' "$*"; }

fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

assert_eq()
{
	# assert_eq EXPECTED ACTUAL [WHAT]
	if [ "$1" != "$2" ]; then
		fail "${3:-value}: expected '$1', got '$2'"
	fi
}

check_same()
{
	# check_same FILE1 FILE2: byte-identical (cmp)
	local out
	if ! out=$(cmp -- "$1" "$2" 2>&1); then
		fail "files differ: $1 $2: $out"
	fi
}

# expect_errno TEXT CMD...: CMD must fail and its stderr must contain TEXT
# (e.g. "Invalid argument"). Its stdout is discarded.
expect_errno()
{
	local want=$1 out rc=0
	shift
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" = 0 ]; then
		fail "expected '$want' but it succeeded: $*"
	fi
	case $out in
	*"$want"*) ;;
	*) fail "expected '$want' from: $* (exit $rc): $out" ;;
	esac
}

# The daemon's log is allowed to contain " error: " lines matching PATTERN
# (extended regex) from now on. Sanitizer reports are never excused.
tfs_expect_log_error() { TFS_EXPECTED+=("$1"); }

tfs__on_err()
{
	local i where=""
	# the calls that led here, innermost first
	for ((i = 1; i < ${#FUNCNAME[@]} - 1; i++)); do
		where+=" <- ${BASH_SOURCE[i + 1]##*/}:${BASH_LINENO[i]}"
	done
	printf 'FAIL: %s:%s%s: command failed (exit %s): %s\n' \
		"${BASH_SOURCE[1]##*/}" "$1" "$where" "$2" "$3" >&2
}

# tfs_corpora: CORP (the shared corpora: ../shared/corpora beside the
# checkout, else /work/shared/corpora), VEC (MiniLM 384-d vectors) and MOD
# (Python modules); returns 1 when either directory is missing.
tfs_corpora()
{
	CORP=$(cd "$TFS_DIR/../../.." && pwd)/shared/corpora
	[ -d "$CORP" ] || CORP=/work/shared/corpora
	VEC=$CORP/vectors/minilm384
	MOD=$CORP/modules/py
	[ -d "$VEC" ] && [ -d "$MOD" ]
}

tfs_require_root()
{
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: this test needs root (chown, drop_caches, other users)"
		exit 77
	fi
}

# Page cache, dentries and inodes out, so reads reach the daemon. Root only;
# a no-op otherwise (the caller's checks are then weaker, not wrong).
drop_caches()
{
	sync
	if [ -w /proc/sys/vm/drop_caches ]; then
		echo "${1:-3}" >/proc/sys/vm/drop_caches
	fi
}

# uncache FILE...: drop the kernel's cached pages of each FILE
# (posix_fadvise DONTNEED, no root needed) so that its next read reaches the
# daemon: what the page cache serves is never seen, so never counted.
uncache()
{
	"$PY" -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)' "$@"
}

# Skip for want of FUSE, or fail under TIERFS_REQUIRE_FUSE=1.
tfs__skip_fuse()
{
	if [ "${TIERFS_REQUIRE_FUSE:-}" = 1 ]; then
		echo "FAIL: $1 (TIERFS_REQUIRE_FUSE=1: mount tests must run)" >&2
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}

tfs_init()
{
	if [ -z "${TIERFS_BIN:-}" ] || [ ! -x "$TIERFS_BIN" ]; then
		echo "FAIL: set TIERFS_BIN to the tierfs binary (got '${TIERFS_BIN:-}')" >&2
		exit 1
	fi
	if ! command -v fusermount3 >/dev/null; then
		tfs__skip_fuse "fusermount3 not found (install fuse3)"
	fi
	if ! (exec 9<>/dev/fuse) 2>/dev/null; then
		tfs__skip_fuse "cannot open /dev/fuse read-write ($(ls -l /dev/fuse 2>&1))"
	fi
	if ! command -v "$PY" >/dev/null; then
		echo "SKIP: python3 not found"
		exit 77
	fi
	# Letters and digits only, so the name survives any path escaping (the
	# default store's directory name is derived from the mountpoint).
	TFS_TMP=$(mktemp -d /tmp/tfsmtXXXXXXXXXX)
	TFS_RAND=${TFS_TMP#/tmp/tfsmt}
	TFS_STORE=$TFS_TMP/store
	TFS_MNT=$TFS_TMP/mnt
	TFS_REF=$TFS_TMP/ref
	mkdir "$TFS_STORE" "$TFS_MNT" "$TFS_REF"
	trap 'tfs__on_err "$LINENO" "$?" "$BASH_COMMAND"' ERR
	trap tfs__cleanup EXIT
	note "temp dir $TFS_TMP, daemon $TIERFS_BIN"
}

# true while pid $1 is a live (not zombie) process
tfs__alive()
{
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# tfs__wait_gone PID SECONDS: poll until the process has exited. 0 if it did.
tfs__wait_gone()
{
	local i n=$(($2 * 5))
	for ((i = 0; i < n; i++)); do
		tfs__alive "$1" || return 0
		sleep 0.2
	done
	! tfs__alive "$1"
}

tfs__mounted()
{
	awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/mounts
}

# Print the log's unexpected error lines; 1 if there are any.
tfs__scan_log()
{
	local log=$1 bad san p
	[ -f "$log" ] || return 0
	san=$(grep -E 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:|Segmentation|SUMMARY: .*Sanitizer' "$log" || true)
	bad=$(grep -F ' error: ' "$log" | grep -vE 'AddressSanitizer|runtime error:' || true)
	for p in "${TFS_EXPECTED[@]}"; do
		[ -n "$bad" ] || break
		bad=$(printf '%s\n' "$bad" | grep -vE -- "$p" || true)
	done
	if [ -n "$san$bad" ]; then
		echo "unexpected errors in daemon log ${log##*/}:" >&2
		printf '%s\n' "$san" "$bad" | sed '/^$/d' | head -n 40 >&2 || true
		return 1
	fi
	return 0
}

tfs__show_log()
{
	[ -s "${1:-}" ] || return 0
	echo "---- last lines of ${1##*/} ----" >&2
	tail -n "${2:-30}" "$1" >&2
	echo "----" >&2
}

# tfs__start MNT ARGS...: run the daemon in the foreground (background job)
# with ARGS, wait for "ready" on the readiness fd. 0 when mounted; otherwise
# 1 with the daemon gone and its exit status in TFS_START_RC.
TFS_START_RC=0
tfs__start()
{
	local mnt=$1 fifo line="" dbg=()
	shift
	[ -z "$TFS_PID" ] || fail "harness: a daemon is already running"
	TFS_RUNS=$((TFS_RUNS + 1))
	TFS_LOG=$TFS_TMP/log.$TFS_RUNS
	fifo=$TFS_TMP/ready.$TFS_RUNS
	mkfifo "$fifo"
	[ -z "${TFS_DEBUG:-}" ] || dbg=(-d)
	TIERFS_READY_FD=3 "$TIERFS_BIN" "$@" -f "${dbg[@]}" \
		3>"$fifo" >"$TFS_LOG" 2>&1 </dev/null &
	TFS_PID=$!
	TFS_CUR_MNT=$mnt
	read -r -t "${TFS_READY_TIMEOUT:-120}" line <"$fifo" || true
	rm -f "$fifo"
	if [ "$line" = ready ] && tfs__mounted "$mnt"; then
		return 0
	fi
	if [ "$line" = ready ]; then
		echo "daemon said ready but $mnt is not a fuse mount" >&2
	elif tfs__alive "$TFS_PID"; then
		echo "daemon not ready after ${TFS_READY_TIMEOUT:-120}s" >&2
	fi
	if tfs__alive "$TFS_PID"; then
		kill -9 "$TFS_PID" 2>/dev/null || true
	fi
	TFS_START_RC=0
	wait "$TFS_PID" 2>/dev/null || TFS_START_RC=$?
	TFS_PID=""
	if tfs__mounted "$mnt"; then
		fusermount3 -uz "$mnt" || true
	fi
	return 1
}

# tfs_mount [ARGS...]: mount TFS_STORE on TFS_MNT with extra ARGS (-o ...).
tfs_mount()
{
	tfs_mount_args "$TFS_MNT" "$TFS_STORE" "$TFS_MNT" "$@"
}

# tfs_mount_args MNT ARGS...: mount with exactly ARGS (e.g. no STORE); MNT
# names the mountpoint among them.
tfs_mount_args()
{
	local mnt=$1
	shift
	if ! tfs__start "$mnt" "$@"; then
		tfs__show_log "$TFS_LOG"
		fail "mount failed (daemon exit status $TFS_START_RC): $TIERFS_BIN $*"
	fi
	TFS_ARGS=("$mnt" "$@")
	note "mounted (run $TFS_RUNS, pid $TFS_PID): $*"
}

tfs_remount() { tfs_mount_args "${TFS_ARGS[@]}"; }

# Clean unmount: fusermount3 -u, the daemon must exit 0 with a clean log.
# Returns non-zero with a message instead of failing (the EXIT trap uses it).
tfs__stop()
{
	local pid=$TFS_PID mnt=$TFS_CUR_MNT rc=0 i out=""
	[ -n "$pid" ] || return 0
	cd /
	for ((i = 0; i < 60; i++)); do
		if out=$(fusermount3 -u "$mnt" 2>&1); then
			break
		fi
		case $out in
		*busy*) sleep 1 ;;
		*) break ;;
		esac
	done
	if tfs__mounted "$mnt"; then
		echo "fusermount3 -u $mnt failed: $out" >&2
		fusermount3 -uz "$mnt" 2>/dev/null || true
		rc=1
	fi
	if ! tfs__wait_gone "$pid" 300; then
		echo "daemon (pid $pid) still running 300s after unmount; killing it" >&2
		kill -9 "$pid" 2>/dev/null || true
		rc=1
	fi
	local st=0
	wait "$pid" || st=$?
	TFS_PID=""
	if [ "$st" != 0 ]; then
		echo "daemon exited with status $st after unmount (expected 0)" >&2
		tfs__show_log "$TFS_LOG"
		rc=1
	fi
	tfs__scan_log "$TFS_LOG" || rc=1
	return "$rc"
}

tfs_umount() { tfs__stop || fail "unclean unmount (see above)"; }

# kill -9 the daemon, lazily unmount the dead mountpoint.
tfs_kill9()
{
	local st=0
	[ -n "$TFS_PID" ] || fail "harness: no daemon to kill"
	kill -9 "$TFS_PID"
	wait "$TFS_PID" 2>/dev/null || st=$?
	TFS_PID=""
	[ "$st" = 137 ] || note "daemon exit status after kill -9: $st"
	fusermount3 -uz "$TFS_CUR_MNT" || fail "fusermount3 -uz $TFS_CUR_MNT failed"
	tfs__scan_log "$TFS_LOG" || fail "errors in the daemon log before kill -9"
	note "daemon killed with SIGKILL and $TFS_CUR_MNT detached"
}

# tfs_expect_refused RC PATTERN MNT ARGS...: the daemon must refuse to start
# with exit status RC ("nonzero" for any failure) and a stderr matching
# PATTERN (grep -iE). Sanitizer reports in its output still fail.
tfs_expect_refused()
{
	local want=$1 pat=$2 mnt=$3
	local keep_pid=$TFS_PID keep_mnt=$TFS_CUR_MNT keep_log=$TFS_LOG
	shift 3
	TFS_PID=""
	if tfs__start "$mnt" "$@"; then
		tfs__stop || true
		TFS_PID=$keep_pid TFS_CUR_MNT=$keep_mnt
		fail "daemon mounted but should have refused: $TIERFS_BIN $*"
	fi
	local got=$TFS_START_RC log=$TFS_LOG
	TFS_PID=$keep_pid TFS_CUR_MNT=$keep_mnt TFS_LOG=$keep_log
	if [ "$want" = nonzero ]; then
		[ "$got" != 0 ] || fail "daemon exited 0 but should have failed: $*"
	elif [ "$got" != "$want" ]; then
		tfs__show_log "$log"
		fail "daemon exit status $got, expected $want: $TIERFS_BIN $*"
	fi
	if [ "$got" -ge 128 ]; then
		tfs__show_log "$log"
		fail "daemon died of signal $((got - 128)): $*"
	fi
	if ! grep -qiE -- "$pat" "$log"; then
		tfs__show_log "$log"
		fail "daemon message does not match /$pat/: $*"
	fi
	local saved=("${TFS_EXPECTED[@]}")
	TFS_EXPECTED+=('.')
	tfs__scan_log "$log" || fail "sanitizer report when refusing: $*"
	TFS_EXPECTED=("${saved[@]}")
	note "refused as expected (exit $got): $(grep -iE -m1 -- "$pat" "$log")"
}

# true if the daemon is built with a sanitizer: its allocator keeps freed
# memory in quarantine and adds shadow memory, so RSS limits do not apply.
tfs_sanitized()
{
	[ -n "${TFS_SANITIZED:-}" ] && return 0
	local libs
	libs=$(ldd "$TIERFS_BIN" 2>/dev/null) || return 1
	grep -qE 'lib(a|t|m|ub)san' <<<"$libs"
}

# VmRSS of the running daemon in KiB
tfs_rss_kb()
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$TFS_PID/status"
}

# Print one field of MNT/.tiers/stats (a JSON object) to stdout.
tfs_stat_field()
{
	"$PY" - "$TFS_MNT/.tiers/stats" "$1" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
print(d[sys.argv[2]])
EOF
}

tfs__cleanup()
{
	local rc=$? m p
	set +eE
	trap - ERR
	cd /
	if [ -n "$TFS_PID" ] && tfs__alive "$TFS_PID"; then
		if [ "$rc" = 0 ]; then
			tfs__stop || rc=1
		else
			fusermount3 -u "$TFS_CUR_MNT" 2>/dev/null
			tfs__wait_gone "$TFS_PID" 60 || kill -9 "$TFS_PID" 2>/dev/null
			wait "$TFS_PID" 2>/dev/null
		fi
	fi
	for p in "${TFS_EXTRA_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$TFS_TMP" ]; then
		# anything still mounted under the temp dir, deepest first
		while IFS= read -r m; do
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		done < <(awk -v p="$TFS_TMP/" 'index($2, p) == 1 { print $2 }' \
			/proc/mounts | sort -r)
		if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
			for m in "$TFS_TMP"/log.*; do
				[ -e "$m" ] && tfs__show_log "$m" 20
			done
		fi
		if [ "$rc" != 0 ] && [ -n "${TFS_KEEP:-}" ]; then
			echo "kept $TFS_TMP" >&2
		else
			rm -rf --one-file-system "$TFS_TMP"
		fi
	fi
	# entries are glob patterns, expanded now; each must name our temp dir's
	# random part or have been registered as an exact existing path
	for m in "${TFS_CLEANUP_DIRS[@]}"; do
		[ "${#TFS_RAND}" -ge 8 ] || break
		while IFS= read -r p; do
			[ -n "$p" ] && rm -rf --one-file-system "$p"
		done < <(compgen -G "$m")
	done
	[ -z "$TFS_RMDIR" ] || rmdir "$TFS_RMDIR" 2>/dev/null
	if [ "$rc" = 0 ]; then
		echo "PASS: ${0##*/}"
	fi
	exit "$rc"
}

# ---- tier helpers shared by the tests ----
# xa FILE NAME: the value of user.tierfs.NAME
xa() { getfattr --absolute-names -n "user.tierfs.$2" --only-values "$1"; }
# tier FILE: the tier FILE is in
tier() { xa "$1" tier; }
# wait_tier FILE TIER SECONDS: poll until FILE is on TIER
wait_tier()
{
	local end=$((SECONDS + $3)) t
	while :; do
		t=$(tier "$1")
		[ "$t" != "$2" ] || return 0
		[ "$SECONDS" -lt "$end" ] || fail "${1##*/} is $t, not $2, after $3s"
		sleep 0.2
	done
}
# stays FILE TIER SECONDS: FILE is on TIER at every poll for SECONDS
stays()
{
	local end=$((SECONDS + $3)) t
	while [ "$SECONDS" -lt "$end" ]; do
		t=$(tier "$1")
		[ "$t" = "$2" ] || fail "${1##*/} moved to $t (should stay $2)"
		sleep 0.2
	done
}
