#!/bin/bash
# The .tiers control files as files:
#  - stats, metrics and config report their true size: stat's st_size is
#    the length of what a read returns, so cp, rsync and `head -c SIZE` get
#    the whole text (they copied nothing while the size was 0);
#  - config prints every setting in force in tierfs.conf syntax: defaults,
#    tierfs.conf values and -o options (which win); read back as a
#    tierfs.conf it gives the same settings; a reload shows the new values;
#  - the metrics families added for operators carry true numbers: writes,
#    write bytes and write-back after known writes, resident files, config
#    reloads applied and refused (SIGHUP with a good, then a bad tierfs.conf),
#    uptime growing, build_info with the daemon's --version.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
T=$M/.tiers

# metric NAME: its value in .tiers/metrics (exactly one sample)
metric()
{
	local v
	v=$(awk -v n="$1" '$1 == n { print $2 }' "$T/metrics")
	[ -n "$v" ] || fail "no sample $1 in .tiers/metrics"
	printf '%s\n' "$v"
}
# conf KEY: its value in .tiers/config
conf()
{
	awk -F' = ' -v k="$1" '$1 == k { print $2 }' "$T/config"
}

printf 'warm_age = 3d\ncold_level = 4\n' >"$TFS_STORE/tierfs.conf"
tfs_mount -o hot_max=96M,cold_level=2,log_level=warn

note "true sizes"
for f in stats metrics config; do
	size=$(stat -c %s "$T/$f")
	[ "$size" -gt 0 ] || fail ".tiers/$f has size $size"
	cp "$T/$f" "$TFS_TMP/$f.cp"
	rsync "$T/$f" "$TFS_TMP/$f.rsync"
	head -c "$size" "$T/$f" >"$TFS_TMP/$f.head"
	for c in cp rsync head; do
		[ -s "$TFS_TMP/$f.$c" ] || fail "$c of .tiers/$f copied nothing"
	done
	# a stat and the read of the same open agree: fstat on the open
	# descriptor and the bytes read from it
	"$PY" - "$T/$f" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
st = os.fstat(fd).st_size
data = b""
while True:
    b = os.read(fd, 4096)
    if not b:
        break
    data += b
os.close(fd)
if st != len(data):
    sys.exit("%s: fstat says %d bytes, read gave %d" % (sys.argv[1], st, len(data)))
PYEOF
done
"$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$TFS_TMP/stats.cp" ||
	fail "the copied .tiers/stats is not whole JSON"
tail -c 1 "$TFS_TMP/metrics.rsync" | od -c | grep -q '\\n' ||
	fail "the rsync'ed .tiers/metrics does not end with its last line"
ls -l "$T" | grep -q ' config$' || fail ".tiers/config not listed in .tiers"

note ".tiers/config"
assert_eq 96M "$(conf hot_max)" "hot_max from -o"
assert_eq 3d "$(conf warm_age)" "warm_age from tierfs.conf"
assert_eq 2 "$(conf cold_level)" "cold_level: -o wins over tierfs.conf"
assert_eq 1h "$(conf hot_age)" "hot_age default"
assert_eq warn "$(conf log_level)" "log_level from -o"
assert_eq hidden "$(conf tierdirs)" "tierdirs default"
# every line is a comment or "key = value" with a key the daemon accepts
# (checked by mounting a second store with the whole file as tierfs.conf)
grep -vE '^(#.*|[a-z0-9_]+ = [^ ]+)$' "$T/config" &&
	fail "lines of .tiers/config that are neither comments nor key = value"
mkdir "$TFS_TMP/store2" "$TFS_TMP/mnt2"
grep -v '^#' "$T/config" >"$TFS_TMP/store2/tierfs.conf"
first_pid=$TFS_PID first_mnt=$TFS_CUR_MNT first_log=$TFS_LOG
TFS_PID=""
tfs_mount_args "$TFS_TMP/mnt2" "$TFS_STORE/../store2" "$TFS_TMP/mnt2"
diff <(grep -v '^#' "$TFS_TMP/mnt2/.tiers/config") "$TFS_TMP/store2/tierfs.conf" ||
	fail ".tiers/config read back as tierfs.conf does not give the same settings"
tfs_umount
TFS_PID=$first_pid TFS_CUR_MNT=$first_mnt TFS_LOG=$first_log

note "writes, write bytes, write-back, resident files"
w0=$(metric tierfs_writes_total)
b0=$(metric tierfs_write_bytes_total)
c0=$(metric tierfs_writeback_chunks_total)
r0=$(metric tierfs_hot_resident_files)
for i in 1 2 3; do
	# one write(2) each: every write is written back when it returns
	"$PY" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(200000))' "$M/w$i"
done
w1=$(metric tierfs_writes_total)
b1=$(metric tierfs_write_bytes_total)
c1=$(metric tierfs_writeback_chunks_total)
r1=$(metric tierfs_hot_resident_files)
assert_eq 600000 $((b1 - b0)) "tierfs_write_bytes_total delta after 3 x 200000 bytes"
[ $((w1 - w0)) -ge 3 ] || fail "tierfs_writes_total grew by $((w1 - w0)) for 3 files"
# 200000 bytes = 4 chunks of 64 KiB (3 full, 1 partial), written back by
# the one write
assert_eq 12 $((c1 - c0)) "tierfs_writeback_chunks_total delta"
assert_eq 3 $((r1 - r0)) "tierfs_hot_resident_files after 3 new files"
setfattr -n user.tierfs.tier -v warm "$M/w1"
assert_eq $((r1 - 1)) "$(metric tierfs_hot_resident_files)" "resident files after one went warm"
assert_eq "$(metric tierfs_hot_resident_files)" \
	"$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["hot_resident_files"])' "$T/stats")" \
	"hot_resident_files in stats and metrics"

note "config reloads: SIGHUP applies a good file, refuses a bad one"
ok0=$(metric tierfs_config_reloads_total)
bad0=$(metric tierfs_config_reload_failures_total)
printf 'warm_age = 5d\ncold_level = 4\n' >"$TFS_STORE/tierfs.conf"
end=$((SECONDS + 60))
while [ "$(conf warm_age)" != 5d ]; do
	[ "$SECONDS" -lt "$end" ] || fail "warm_age not reloaded: $(conf warm_age)"
	kill -HUP "$TFS_PID"
	sleep 0.3
done
ok1=$(metric tierfs_config_reloads_total)
[ "$ok1" -gt "$ok0" ] || fail "tierfs_config_reloads_total did not grow ($ok0 -> $ok1)"
assert_eq "$bad0" "$(metric tierfs_config_reload_failures_total)" "failures after a good reload"
tfs_expect_log_error 'config not reloaded'
echo 'warm_age = soon' >"$TFS_STORE/tierfs.conf"
end=$((SECONDS + 60))
while [ "$(metric tierfs_config_reload_failures_total)" = "$bad0" ]; do
	[ "$SECONDS" -lt "$end" ] || fail "a bad tierfs.conf was not counted as a failed reload"
	kill -HUP "$TFS_PID"
	sleep 0.3
done
assert_eq 5d "$(conf warm_age)" "the old settings stay after a bad reload"
grep -q 'config not reloaded.*warm_age' "$TFS_LOG" || fail "the refused reload is not logged"

note "uptime and build info"
u0=$(metric tierfs_uptime_seconds)
sleep 1.1
u1=$(metric tierfs_uptime_seconds)
"$PY" -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if b >= a + 1 else 1)' "$u0" "$u1" ||
	fail "uptime went from $u0 to $u1 in 1.1 s"
ver=$("$TIERFS_BIN" --version | awk '{ print $2 }')
assert_eq 1 "$(metric "tierfs_build_info{version=\"$ver\"}")" "build_info carries the --version"
tfs_umount
