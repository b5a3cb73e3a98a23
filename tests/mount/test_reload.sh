#!/bin/bash
# Live configuration (issue 4 items 7 and 8): STORE/tierfs.conf is re-read
# when it changes (inotify) and on SIGHUP; -o wins over it.
#  - mounted with only -o warm_age=1h; tierfs.conf says hot_age = 1h,
#    interval = 500ms and warm_age = 1s: a written file stays hot;
#  - rewriting tierfs.conf with hot_age = 1s (in place, then again by
#    rename): the log says "config reloaded: ... hot_age=..." and the file
#    goes warm without a remount; it does not go cold (warm_age=1h from -o
#    wins, and the log says so);
#  - hot_age = banana: the log says "config not reloaded", the old values
#    stay (a new file still goes warm after ~1s);
#  - back to hot_age = 1h: new files stay hot again; kill -HUP makes the
#    daemon reload (one more "config reloaded" line) and it keeps running;
#  - an unknown key is refused by name on reload as well.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
CONF=$TFS_STORE/tierfs.conf

# count_log REGEX: lines of the current log matching REGEX
count_log() { grep -cE -- "$1" "$TFS_LOG" || true; }
# wait_log REGEX N SECONDS: poll until the log has more than N matching lines
wait_log()
{
	local end=$((SECONDS + $3))
	while [ "$(count_log "$1")" -le "$2" ]; do
		[ "$SECONDS" -lt "$end" ] ||
			fail "no new log line matching /$1/ after $3s (have $2)"
		sleep 0.2
	done
}
# write_conf TEXT: rewrite tierfs.conf in place (one close-after-write)
write_conf() { printf '%s\n' "$1" >"$CONF"; }
# rename_conf TEXT: replace tierfs.conf by rename, as editors do
rename_conf()
{
	printf '%s\n' "$1" >"$TFS_STORE/.tierfs.conf.tmp"
	mv -f "$TFS_STORE/.tierfs.conf.tmp" "$CONF"
}

RELOADED='info: config reloaded: '
write_conf "# written before the mount
hot_age = 1h
interval = 500ms
warm_age = 1s"
tfs_mount -o warm_age=1h

note "hot_age = 1h from tierfs.conf: a file stays hot"
head -c 100000 /dev/urandom >"$TFS_REF/a"
cp "$TFS_REF/a" "$M/a"
stays "$M/a" hot 3

note "hot_age = 1s by rewriting tierfs.conf"
n=$(count_log "${RELOADED}.*hot_age=")
write_conf "hot_age = 1s   # was 1h
interval = 500ms
warm_age = 1s"
wait_log "${RELOADED}.*hot_age=" "$n" 15
grep -E "${RELOADED}" "$TFS_LOG" | tail -n 1 | sed 's/^/# log: /'
grep -qE "${RELOADED}.*hot_age=1h->1s" "$TFS_LOG" ||
	fail "the reload line does not say hot_age=1h->1s: $(grep -E "$RELOADED" "$TFS_LOG" | tail -n 1)"
wait_tier "$M/a" warm 15
r=$(xa "$M/a" reason)
[[ $r =~ ^idle\ [0-9]+s\ \>\ age\ 1s$ ]] || fail "reason of a after the reload: '$r'"
grep -qE "command line's -o wins over tierfs.conf for: .*warm_age" "$TFS_LOG" ||
	fail "the log does not say that -o warm_age wins over tierfs.conf"
grep -E "wins over tierfs.conf" "$TFS_LOG" | tail -n 1 | sed 's/^/# log: /'
stays "$M/a" warm 3             # warm_age = 1s in the file, 1h from -o

note "the same by rename (as an editor saves)"
n=$(count_log "${RELOADED}.*hot_age=1s->1h")
rename_conf "hot_age = 1h
interval = 500ms"
wait_log "${RELOADED}.*hot_age=1s->1h" "$n" 15
head -c 1000 /dev/urandom >"$M/b"
stays "$M/b" hot 3
n=$(count_log "${RELOADED}.*hot_age=1h->1s")
rename_conf "hot_age = 1s
interval = 500ms"
wait_log "${RELOADED}.*hot_age=1h->1s" "$n" 15
wait_tier "$M/b" warm 15

note "a bad value: not reloaded, old values kept"
tfs_expect_log_error 'config not reloaded'
n=$(count_log 'config not reloaded')
r=$(count_log "$RELOADED")
write_conf "hot_age = banana
interval = 500ms"
wait_log 'config not reloaded' "$n" 15
grep -E 'config not reloaded' "$TFS_LOG" | tail -n 1 | sed 's/^/# log: /'
grep -E 'config not reloaded' "$TFS_LOG" | tail -n 1 | grep -q hot_age ||
	fail "the 'not reloaded' line does not name hot_age"
assert_eq "$r" "$(count_log "$RELOADED")" "'config reloaded' lines after a bad value"
head -c 1000 /dev/urandom >"$M/c"
wait_tier "$M/c" warm 15        # hot_age is still 1s

note "an unknown key: not reloaded either"
n=$(count_log 'config not reloaded')
write_conf "hot_age = 1h
interval = 500ms
hot_agee = 2s"
wait_log 'config not reloaded' "$n" 15
grep -E 'config not reloaded' "$TFS_LOG" | tail -n 1 | grep -q hot_agee ||
	fail "the 'not reloaded' line does not name hot_agee: $(grep -E 'config not reloaded' "$TFS_LOG" | tail -n 1)"
head -c 1000 /dev/urandom >"$M/d"
wait_tier "$M/d" warm 15        # hot_age is still 1s

note "back to hot_age = 1h, then SIGHUP"
n=$(count_log "${RELOADED}.*hot_age=1s->1h")
write_conf "hot_age = 1h
interval = 500ms"
wait_log "${RELOADED}.*hot_age=1s->1h" "$n" 15
head -c 1000 /dev/urandom >"$M/e"
stays "$M/e" hot 3
n=$(count_log "$RELOADED")
kill -HUP "$TFS_PID"
wait_log "$RELOADED" "$n" 15
grep -E "$RELOADED" "$TFS_LOG" | tail -n 1 | sed 's/^/# log: /'
tfs__alive "$TFS_PID" || fail "the daemon died of SIGHUP"
tfs__mounted "$M" || fail "$M is no longer mounted after SIGHUP"
n=$(count_log "$RELOADED")
kill -HUP "$TFS_PID"
wait_log "$RELOADED" "$n" 15
stays "$M/e" hot 2
check_same "$TFS_REF/a" "$M/a"
tfs_umount

note "remount: tierfs.conf is read at mount, -o still wins"
tfs_remount
cat "$M/e" >/dev/null           # hot before the remount: back in RAM
stays "$M/e" hot 2
write_conf "hot_age = 1s
interval = 500ms
warm_age = 2s"
wait_log "${RELOADED}.*hot_age=1h->1s" 0 15
wait_tier "$M/e" warm 15
stays "$M/e" warm 3             # warm_age=2s in the file, 1h from -o
tfs_umount
