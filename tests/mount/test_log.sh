#!/bin/bash
# Where the daemon logs, and how much:
#  - -o log=FILE: messages go to FILE (not stderr); after logrotate's
#    "mv FILE FILE.1; kill -HUP" new messages go to a new FILE;
#  - -o log_level=error hides info messages; log_level in tierfs.conf,
#    reloaded, brings them back;
#  - without -f the default is STORE/tierfs.log; with stderr being the
#    systemd journal (JOURNAL_STREAM names it) the detached daemon keeps
#    logging to stderr, each line with a "<N>" priority prefix;
#  - -o log=syslog: nothing on stderr after the mount; the messages reach
#    /dev/log as facility daemon, ident tierfs (checked as root in a private
#    mount namespace with our own /dev/log socket);
#  - systemd's notify protocol: READY=1 once mounted and STOPPING=1 at
#    unmount on $NOTIFY_SOCKET (tierfs@.service is Type=notify).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
L=$TFS_TMP/tierfs.log

note "-o log=FILE, reopened on SIGHUP"
tfs_mount -o "log=$L"
grep -q "info: mounted $TFS_STORE on $M" "$L" || fail "no mount message in $L"
if grep -q "info: mounted" "$TFS_LOG"; then
	fail "with log=FILE the mount message also went to stderr"
fi
mv "$L" "$L.1"
kill -HUP "$TFS_PID"
end=$((SECONDS + 60))
until [ -s "$L" ] && grep -q "config reloaded" "$L"; do
	[ "$SECONDS" -lt "$end" ] || fail "no new $L after SIGHUP"
	sleep 0.2
done
grep -q "config reloaded" "$L.1" && fail "messages after SIGHUP went to the rotated file"
tfs_umount
grep -q "info: unmounted $M" "$L" || fail "the unmount message is not in the reopened log"

note "log_level"
tfs_mount -o log_level=error
kill -HUP "$TFS_PID"
sleep 1
if grep -q " info: " "$TFS_LOG"; then
	fail "info messages with log_level=error: $(grep ' info: ' "$TFS_LOG" | head -3)"
fi
tfs_umount
echo "log_level = debug" >"$TFS_STORE/tierfs.conf"
tfs_mount
grep -q " info: mounted" "$TFS_LOG" || fail "no info message with log_level=debug"
echo "log_level = warn" >"$TFS_STORE/tierfs.conf"
end=$((SECONDS + 60))
until grep -q "config reloaded: log_level=debug->warn" "$TFS_LOG"; do
	[ "$SECONDS" -lt "$end" ] || fail "log_level change not reloaded"
	kill -HUP "$TFS_PID"
	sleep 0.5
done
n=$(grep -c " info: " "$TFS_LOG")
kill -HUP "$TFS_PID"
sleep 1
assert_eq "$n" "$(grep -c " info: " "$TFS_LOG")" "info lines after log_level=warn"
tfs_umount
rm "$TFS_STORE/tierfs.conf"

# bg_mount ENV...: mount without -f (the command returns once mounted);
# prints the daemon's pid (from its readiness fd's "ready" we only know it
# is mounted: the pid comes from the store's lock holder)
bg_stop()
{
	local pid=$1
	fusermount3 -u "$M"
	tfs__wait_gone "$pid" 120 || fail "background daemon $pid did not exit"
}
daemon_pid()
{
	# the one tierfs process serving $M
	local p
	for p in $(pgrep -x tierfs); do
		if tr "\0" " " <"/proc/$p/cmdline" 2>/dev/null | grep -qF " $M"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

note "background: STORE/tierfs.log by default"
rm -f "$TFS_STORE/tierfs.log"
"$TIERFS_BIN" "$TFS_STORE" "$M" </dev/null >"$TFS_TMP/bg.out" 2>&1 ||
	fail "background mount failed: $(cat "$TFS_TMP/bg.out")"
tfs__mounted "$M" || fail "not mounted after tierfs returned"
pid=$(daemon_pid) || fail "no daemon process for $M"
TFS_EXTRA_PIDS+=("$pid")
echo x >"$M/x"
bg_stop "$pid"
grep -q "info: mounted $TFS_STORE on $M" "$TFS_STORE/tierfs.log" ||
	fail "no mount message in STORE/tierfs.log"
grep -q "info: unmounted" "$TFS_STORE/tierfs.log" ||
	fail "no unmount message in STORE/tierfs.log"
tfs__scan_log "$TFS_STORE/tierfs.log" || fail "errors in STORE/tierfs.log"

note "background under the journal: stderr kept, <N> prefixes"
J=$TFS_TMP/journal.txt
: >"$J"
rm -f "$TFS_STORE/tierfs.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$J") "$TIERFS_BIN" "$TFS_STORE" "$M" \
	</dev/null >/dev/null 2>>"$J" || fail "journal mount failed: $(cat "$J")"
pid=$(daemon_pid) || fail "no daemon process for $M"
TFS_EXTRA_PIDS+=("$pid")
bg_stop "$pid"
grep -q "^<6>info: mounted $TFS_STORE on $M" "$J" ||
	fail "no '<6>info: mounted' line on the journal stream: $(cat "$J")"
grep -q "^<6>info: unmounted" "$J" || fail "no '<6>info: unmounted' line on the journal stream"
[ ! -s "$TFS_STORE/tierfs.log" ] || fail "STORE/tierfs.log written although stderr is the journal"

note "-o log=syslog"
tfs_mount -o log=syslog
echo y >"$M/y"
tfs_umount
if grep -qE " (info|warning|error): " "$TFS_LOG"; then
	fail "log=syslog still wrote to stderr: $(head -3 "$TFS_LOG")"
fi
# What reaches syslog: in a private mount namespace whose /dev has our own
# /dev/log socket (root only: unshare, mount --bind).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	S=$TFS_TMP/syslog
	mkdir "$S" "$S/dev" "$S/mnt"
	cat >"$S/run.sh" <<'SHEOF'
set -e
S=$1 BIN=$2 STORE=$3 PY=$4
for d in null zero fuse urandom random; do cp -a "/dev/$d" "$S/dev/"; done
mount --bind "$S/dev" /dev
"$PY" - "$S/got.txt" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(120)
with open(sys.argv[1], "a") as f:
    while True:
        m = s.recv(4096).decode(errors="replace")
        f.write(m + "\n")
        f.flush()
        if "unmounted" in m:
            break
PYEOF
py=$!
for _ in $(seq 100); do [ -S /dev/log ] && break; sleep 0.1; done
"$BIN" "$STORE" "$S/mnt" -f -o log=syslog 2>"$S/stderr.txt" &
d=$!
for _ in $(seq 300); do grep -q " $S/mnt " /proc/mounts && break; sleep 0.1; done
echo z >"$S/mnt/z"
fusermount3 -u "$S/mnt"
wait "$d"
wait "$py"
SHEOF
	timeout 300 unshare --mount --propagation private \
		bash "$S/run.sh" "$S" "$TIERFS_BIN" "$TFS_STORE" "$PY" ||
		fail "the syslog run in a private namespace failed: $(cat "$S/stderr.txt" 2>/dev/null)"
	# <30>: facility daemon (3 * 8) + info (6)
	grep -qE "^<30>.* tierfs\[[0-9]+\]: mounted $TFS_STORE on $S/mnt" "$S/got.txt" ||
		fail "no mount message on /dev/log: $(cat "$S/got.txt")"
	grep -qE "^<30>.* tierfs\[[0-9]+\]: unmounted $S/mnt" "$S/got.txt" ||
		fail "no unmount message on /dev/log"
else
	note "not root or no unshare: what reaches syslog is not checked"
fi

note "sd_notify: READY=1 and STOPPING=1"
"$PY" - "$TFS_TMP/notify.sock" "$TFS_TMP/notify.txt" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(300)
with open(sys.argv[2], "a") as out:
    while True:
        msg = s.recv(4096).decode()
        out.write(msg.replace("\n", "|") + "\n")
        out.flush()
        if "STOPPING=1" in msg:
            break
PYEOF
TFS_EXTRA_PIDS+=($!)
for _ in $(seq 100); do [ -S "$TFS_TMP/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$TFS_TMP/notify.sock tfs_mount
end=$((SECONDS + 30))
until grep -q "READY=1" "$TFS_TMP/notify.txt" 2>/dev/null; do
	[ "$SECONDS" -lt "$end" ] || fail "no READY=1 on NOTIFY_SOCKET"
	sleep 0.2
done
grep -q "STATUS=mounted $TFS_STORE on $M" "$TFS_TMP/notify.txt" || fail "no STATUS with READY=1"
tfs_umount
end=$((SECONDS + 30))
until grep -q "STOPPING=1" "$TFS_TMP/notify.txt"; do
	[ "$SECONDS" -lt "$end" ] || fail "no STOPPING=1 on NOTIFY_SOCKET"
	sleep 0.2
done
