#!/bin/bash
# README.md's "Everyday use" block, run as a user pastes it after
# `./scripts/mount.sh /mnt/tiers`: every line must succeed, in order.
#
# How: the first ```sh block under "## Everyday use" is extracted from
# README.md and run with `bash -e -o pipefail`, verbatim except for two
# substitutions that keep the test private: /mnt/tiers becomes a temp
# mountpoint (its default store lands under /var/lib/tierfs for root, under
# a temp $XDG_DATA_HOME otherwise, both removed at the end), and the
# metrics port 9567 becomes a free one. `tierfs` and `tierctl` are found on
# PATH (the binaries under test, first on a standard PATH, as meson install
# puts them on it); python3, dd, getfattr, curl... are the system's. The
# state mount.sh leaves (tierfs mounted on /mnt/tiers with the default
# store) is made the same way, with `tierfs MOUNTPOINT` in the background.
# Afterwards the results are checked: the files read back, the tiers are
# what the block asked for, the remount serves the same tree and metrics.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
[ -n "${TIERCTL_BIN:-}" ] || fail "TIERCTL_BIN is not set"
README=$TFS_DIR/../../README.md

# --- the block -------------------------------------------------------------------
"$PY" - "$README" "$TFS_TMP/block.sh" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
sec = text.split("\n## Everyday use\n", 1)
if len(sec) != 2:
    sys.exit("README.md has no '## Everyday use' section")
body = sec[1].split("\n## ", 1)[0]
m = re.search(r"^```sh\n(.*?)^```", body, re.S | re.M)
if not m:
    sys.exit("no ```sh block in README.md's Everyday use")
open(sys.argv[2], "w").write(m.group(1))
PYEOF
grep -q '/mnt/tiers' "$TFS_TMP/block.sh" || fail "the block does not use /mnt/tiers"
note "README block: $(wc -l <"$TFS_TMP/block.sh") lines"

MNT=$TFS_TMP/mnt-tiers
mkdir "$MNT"
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s#/mnt/tiers#$MNT#g" -e "s#127\.0\.0\.1:9567#127.0.0.1:$port#g" \
	"$TFS_TMP/block.sh" >"$TFS_TMP/run.sh"

# --- the environment: tierfs and tierctl on a standard PATH ----------------------
mkdir "$TFS_TMP/bin" "$TFS_TMP/home" "$TFS_TMP/xdg"
ln -s "$TIERFS_BIN" "$TFS_TMP/bin/tierfs"
ln -s "$TIERCTL_BIN" "$TFS_TMP/bin/tierctl"
export PATH=$TFS_TMP/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=$TFS_TMP/home XDG_DATA_HOME=$TFS_TMP/xdg
for c in python3 dd getfattr setfattr curl cp mv ls cat fusermount3; do
	command -v "$c" >/dev/null || fail "$c is not installed (scripts/deps.sh installs it)"
done
/usr/bin/env python3 -c 'import numpy' 2>/dev/null ||
	fail "python3 cannot import numpy (scripts/deps.sh installs python3-numpy)"
# the default store of $MNT, removed in the trap
TFS_CLEANUP_DIRS+=("/var/lib/tierfs/*$TFS_RAND*")
[ -d /var/lib/tierfs ] || TFS_RMDIR=/var/lib/tierfs

# daemon_pid: the tierfs process serving $MNT, if any
daemon_pid()
{
	local p
	for p in $(pgrep -x tierfs); do
		if tr "\0" " " <"/proc/$p/cmdline" 2>/dev/null | grep -qF " $MNT"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
stop_daemon()
{
	local pid
	pid=$(daemon_pid) || return 0
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
	tfs__wait_gone "$pid" 120 || { kill -9 "$pid"; fail "daemon $pid did not exit after unmount"; }
}

# --- as mount.sh leaves it -----------------------------------------------------
tierfs "$MNT" || fail "tierfs $MNT (what mount.sh runs) failed"
tfs__mounted "$MNT" || fail "$MNT not mounted"
pid=$(daemon_pid) || fail "no daemon for $MNT"
TFS_EXTRA_PIDS+=("$pid")

# --- paste -----------------------------------------------------------------------
note "running the block"
(cd "$TFS_TMP" && bash -e -o pipefail -x "$TFS_TMP/run.sh") >"$TFS_TMP/out.txt" 2>&1 || {
	tail -n 40 "$TFS_TMP/out.txt" >&2
	fail "README's Everyday use block failed (the last command above)"
}
tfs__wait_gone "$pid" 120 || fail "the first daemon still runs after the block's fusermount3 -u"

# --- what it did --------------------------------------------------------------------
note "checking the results"
tfs__mounted "$MNT" || fail "the block's last tierfs did not mount $MNT"
pid2=$(daemon_pid) || fail "no daemon for the remount"
TFS_EXTRA_PIDS+=("$pid2")
assert_eq 1536 "$(stat -c %s "$MNT/v.f32")" "v.f32 size (384 float32)"
"$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); import struct; v = struct.unpack("<384f", d); sys.exit(0 if all(0 <= x < 1 for x in v) else 1)' "$MNT/v.f32" ||
	fail "v.f32 does not hold 384 floats in [0, 1)"
assert_eq $((64 << 20)) "$(stat -c %s "$MNT/model.bin")" "model.bin size"
for f in /usr/share/common-licenses/*; do
	[ -f "$f" ] || continue
	check_same "$f" "$MNT/docs/${f##*/}"
done
assert_eq hot "$(tier "$MNT/v.f32")" "v.f32 (pinned hot)"
assert_eq hot "$(xa "$MNT/v.f32" pin)" "v.f32 pin"
assert_eq hot "$(tier "$MNT/model.bin")" "model.bin (moved back hot by mv)"
for f in "$MNT"/docs/*; do
	assert_eq warm "$(tier "$f")" "${f##*/} (tierctl mv --to warm -r)"
done
grep -q '^tierfs_files{tier="hot"} 2$' "$TFS_TMP/out.txt" ||
	fail "the block's curl did not show 2 hot files: $(grep tierfs_files "$TFS_TMP/out.txt")"
grep -q "^metrics_listen\|# metrics_listen = 127.0.0.1:$port" "$MNT/.tiers/config" ||
	fail ".tiers/config of the remount does not show the metrics address"
stop_daemon
