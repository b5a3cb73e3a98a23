#!/bin/bash
# -o metrics_listen=HOST:PORT serves the Prometheus endpoint over HTTP:
#  - GET /metrics is 200 with Content-Type text/plain; version=0.0.4, a body
#    that `promtool check metrics` accepts, and the same metric families as
#    MNT/.tiers/metrics (plus build_info, uptime, reloads, writes, write
#    bytes, write-back, resident files); after known writes its counters
#    show them;
#  - HEAD /metrics is 200 without a body, other paths 404, POST 405;
#  - port 0 picks a free port, shown in .tiers/config and the log;
#  - after unmount nothing listens any more.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
command -v promtool >/dev/null ||
	fail "promtool not found: run scripts/deps.sh (Debian package prometheus)"

tfs_mount -o metrics_listen=127.0.0.1:0
addr=$(sed -n 's/^# metrics_listen = //p' "$M/.tiers/config")
case $addr in
127.0.0.1:[1-9]*) ;;
*) fail ".tiers/config shows metrics_listen '$addr'" ;;
esac
grep -q "serving metrics on http://$addr/metrics" "$TFS_LOG" ||
	fail "the log does not say where metrics are served"
note "metrics on $addr"

# http METHOD PATH OUT: status, body length, Allow header and content type
# on stdout, the body in OUT
http()
{
	"$PY" - "$addr" "$1" "$2" "$3" <<'PYEOF'
import http.client, sys
addr, method, path, out = sys.argv[1:]
host, port = addr.rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=30)
c.request(method, path)
r = c.getresponse()
body = r.read()
open(out, "wb").write(body)
print(r.status, len(body), r.getheader("Allow") or "-", r.getheader("Content-Type"))
PYEOF
}

note "GET /metrics"
out=$(http GET /metrics "$TFS_TMP/m0.txt")
read -r status _ <<<"$out"
assert_eq 200 "$status" "GET /metrics status"
case $out in
*"text/plain; version=0.0.4"*) ;;
*) fail "GET /metrics Content-Type: $out" ;;
esac
promtool check metrics <"$TFS_TMP/m0.txt" || fail "promtool rejects the HTTP metrics"
cp "$M/.tiers/metrics" "$TFS_TMP/file.txt"
fams() { sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$1" | sort; }
diff <(fams "$TFS_TMP/m0.txt") <(fams "$TFS_TMP/file.txt") ||
	fail "HTTP and .tiers/metrics have different families"
for f in tierfs_build_info tierfs_uptime_seconds tierfs_config_reloads_total \
	tierfs_config_reload_failures_total tierfs_writes_total \
	tierfs_write_bytes_total tierfs_writeback_chunks_total \
	tierfs_writeback_bytes_total tierfs_hot_resident_files tierfs_files \
	tierfs_read_latency_seconds; do
	fams "$TFS_TMP/m0.txt" | grep -qx "$f" || fail "HTTP metrics lack $f"
done

note "counters move with known writes"
val() { awk -v n="$2" '$1 == n { print $2 }' "$1"; }
b0=$(val "$TFS_TMP/m0.txt" tierfs_write_bytes_total)
r0=$(val "$TFS_TMP/m0.txt" tierfs_hot_resident_files)
head -c 300000 /dev/urandom >"$M/a"
head -c 100000 /dev/urandom >"$M/b"
http GET /metrics "$TFS_TMP/m1.txt" >/dev/null
promtool check metrics <"$TFS_TMP/m1.txt" || fail "promtool rejects the HTTP metrics after writes"
assert_eq 400000 $(($(val "$TFS_TMP/m1.txt" tierfs_write_bytes_total) - b0)) \
	"write bytes over HTTP after 400000 bytes written"
assert_eq $((r0 + 2)) "$(val "$TFS_TMP/m1.txt" tierfs_hot_resident_files)" \
	"resident files over HTTP after two new files"
assert_eq 2 "$(val "$TFS_TMP/m1.txt" 'tierfs_files{tier="hot"}')" "hot files over HTTP"

note "HEAD, other paths, other methods"
read -r status len _ <<<"$(http HEAD /metrics "$TFS_TMP/head.txt")"
assert_eq "200 0" "$status $len" "HEAD /metrics"
read -r status _ <<<"$(http GET / "$TFS_TMP/root.txt")"
assert_eq 404 "$status" "GET /"
read -r status _ <<<"$(http GET /metrics/x "$TFS_TMP/x.txt")"
assert_eq 404 "$status" "GET /metrics/x"
out=$(http POST /metrics "$TFS_TMP/post.txt")
read -r status _ <<<"$out"
assert_eq 405 "$status" "POST /metrics"
case $out in *" GET, HEAD "*) ;; *) fail "405 without Allow: GET, HEAD: $out" ;; esac

note "the port closes with the mount"
tfs_umount
if "$PY" -c 'import socket,sys; h,p=sys.argv[1].rsplit(":",1); socket.create_connection((h,int(p)),5)' "$addr" 2>/dev/null; then
	fail "something still listens on $addr after unmount"
fi
