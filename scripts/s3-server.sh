#!/bin/sh
# s3-server.sh - a real S3 server on loopback for tierfs's tests: Ceph's
# RADOS Gateway on a throw-away single-node Ceph cluster (one mon, one mgr,
# one OSD keeping its objects in RAM, pools of size 1, no cephx).
#
#   scripts/s3-server.sh start DIR   install if needed, start, wait until a
#                                    bucket can be created and written, and
#                                    write DIR/env (see below)
#   scripts/s3-server.sh stop DIR    stop everything `start` started there
#   scripts/s3-server.sh status DIR  exit 0 when its S3 endpoint answers
#   scripts/s3-server.sh gw-stop DIR / gw-start DIR
#                                    stop / start the gateway alone (the
#                                    endpoint goes down and comes back on
#                                    the same port with the same objects:
#                                    the outage tests)
#
# Everything it creates lives under DIR (config, daemon data, logs, admin
# sockets, pid files); the daemons listen on 127.0.0.1 only, on free ports
# picked at start. DIR/env is a shell fragment exporting S3_ENDPOINT,
# S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# AWS_SHARED_CREDENTIALS_FILE (DIR/credentials, the same keys in the AWS
# shared-credentials format, profile "default"). The keys are made up at
# start and only good for this server. Nothing here is for production use:
# the OSD keeps every object in memory and is gone at stop.
#
# S3_SERVER_MEMSTORE_BYTES sets the OSD's capacity in bytes (default
# 8 GiB; the objects live in RAM).
#
# Measured on Debian 12: the packages take ~80 s and ~570 MB to install;
# S3 answers ~20-25 s after start; the daemons use ~430 MiB RSS.
set -eu

usage()
{
	echo "usage: $0 start|stop|status|gw-stop|gw-start DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
case $2 in
/*) dir=$2 ;;
*) dir=$(pwd)/$2 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
conf=$dir/ceph.conf
START_TIMEOUT=${S3_SERVER_TIMEOUT:-180}
# The OSD's capacity (RAM): 8 GiB unless S3_SERVER_MEMSTORE_BYTES says
# otherwise (the benchmark's 10 GiB store needs more).
MEMSTORE_BYTES=${S3_SERVER_MEMSTORE_BYTES:-8589934592}

log() { echo "s3-server: $*" >&2; }
die()
{
	log "$*"
	exit 1
}

install_ceph()
{
	for b in ceph-mon ceph-mgr ceph-osd radosgw radosgw-admin monmaptool \
		ceph curl; do
		command -v "$b" >/dev/null 2>&1 && continue
		log "installing Ceph's packages (~80 s, ~570 MB)"
		"$top/scripts/deps.sh" --ceph
		return
	done
}

# A TCP port nothing on this machine listens on (and that we did not
# already hand out).
used_ports=""
free_port()
{
	local_try=0
	while [ $local_try -lt 200 ]; do
		p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ))
		local_try=$((local_try + 1))
		case " $used_ports " in *" $p "*) continue ;; esac
		if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			continue
		fi
		used_ports="$used_ports $p"
		echo "$p"
		return 0
	done
	die "no free TCP port found"
}

rand_hex()
{
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# s3 METHOD PATH: one signed request to the gateway; prints the HTTP status.
s3()
{
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		--aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$access:$secret" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		-X "$1" ${3+--data-binary "$3"} \
		"http://127.0.0.1:$rgw_port$2" 2>/dev/null || echo 000
}

pid_alive()
{
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# Our daemons: those whose command line names our ceph.conf.
our_pids()
{
	for f in "$dir"/run/*.pid; do
		[ -f "$f" ] && cat "$f"
	done
	pgrep -f -- "-c $conf" 2>/dev/null || true
}

do_stop()
{
	[ -f "$conf" ] || { log "nothing started in $dir"; return 0; }
	pids=$(our_pids | sort -u)
	[ -n "$pids" ] || return 0
	# The gateway first, the monitor last.
	for name in radosgw ceph-osd ceph-mgr ceph-mon; do
		for p in $pids; do
			grep -qs "$name" "/proc/$p/cmdline" && kill -TERM "$p" \
				2>/dev/null || true
		done
	done
	i=0
	while [ $i -lt 100 ]; do
		alive=""
		for p in $pids; do
			pid_alive "$p" && alive="$alive $p"
		done
		[ -z "$alive" ] && break
		sleep 0.2
		i=$((i + 1))
	done
	for p in $alive; do
		log "pid $p did not stop on SIGTERM; killing it"
		kill -KILL "$p" 2>/dev/null || true
	done
	sleep 0.2
	left=$(our_pids | sort -u | while read -r p; do
		if pid_alive "$p"; then echo "$p"; fi; done)
	[ -z "$left" ] || die "still running after stop: $left"
	rm -f "$dir"/run/*.pid
	log "stopped"
}

do_status()
{
	[ -f "$dir/env" ] || exit 1
	# shellcheck disable=SC1091
	. "$dir/env"
	rgw_port=${S3_ENDPOINT##*:}
	access=$AWS_ACCESS_KEY_ID
	secret=$AWS_SECRET_ACCESS_KEY
	[ "$(s3 GET /)" = 200 ]
}

do_start()
{
	install_ceph
	mkdir -p "$dir"
	if [ -f "$conf" ]; then
		do_stop
	fi
	rm -rf "$dir/mon" "$dir/mgr" "$dir/osd" "$dir/run" "$dir/log" \
		"$dir/env" "$dir/credentials"
	mkdir -p "$dir/mon" "$dir/mgr/ceph-x" "$dir/osd/ceph-0" "$dir/run" \
		"$dir/log" "$dir/rgw"
	mon_port=$(free_port)
	rgw_port=$(free_port)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	# (an unquoted here-document: no backquote or dollar in its comments)
	cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
ms mon client mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
client mount timeout = 60
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
mon data = $dir/mon/\$cluster-\$id
mgr data = $dir/mgr/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd max object name len = 256
osd max object namespace len = 64
mgr initial modules = 
# Tuned as a fast local test server. Stock Ceph sizes its thread pools for
# big machines (512 beast threads in the gateway, 601 threads in all; 8
# OSD shards of 2 threads); on 2 shared cores every hop of a request
# between threads is a wakeup that waits for a core. Measured with a
# ranged 64 KiB GET on a kept-alive connection (p50 of 100, servers side
# by side, load 2-5): stock 1.5-2.2 ms, all of the below 0.85-1.1 ms.
# One at a time: the gateway's pool of 4 threads instead of 512 takes
# ~0.3-0.5 ms off (2 and 4 alike; 4 leaves room for parallel GETs, which
# beast serves as coroutines anyway); debug levels 0 (no log line per
# request through the log thread) a little, under the noise alone; fewer
# OSD shards and messenger threads under the noise (kept: fewer threads
# to schedule). tierfs's tests/bench/run.py s3 --size 128M: a cold
# random 4 KiB read of raw data +2.4 ms over the local cold tier with the
# stock settings, +1.1 ms with these (load ~5).
debug rgw = 0/0
debug osd = 0/0
debug ms = 0/0
debug objecter = 0/0
debug rados = 0/0
debug monc = 0/0
debug auth = 0/0
ms async op threads = 1
osd op num shards = 1
osd op num threads per shard = 1

[client.rgw.gw]
# tcp_nodelay: without it beast's replies of some sizes (30 KB, 65.6 KB,
# 70 KB measured) stall 40 ms on a reused connection (Nagle against the
# client's delayed ACK), which swamps the latency of a cold read.
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
ms mon client mode = crc
rgw enable usage log = false
rgw thread pool size = 4
EOF
	monmaptool --create --clobber --fsid "$fsid" \
		--addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null ||
		die "monmaptool failed"
	ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" \
		>"$dir/log/mkfs-mon.out" 2>&1 || die "ceph-mon --mkfs failed" \
		"(see $dir/log/mkfs-mon.out)"
	ceph-mon -c "$conf" -i a 2>>"$dir/log/start.err" || die "ceph-mon failed to start"
	ceph-mgr -c "$conf" -i x 2>>"$dir/log/start.err" || die "ceph-mgr failed to start"
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	osd_id=$(timeout 60 ceph -c "$conf" osd new "$osd_uuid" 2>>"$dir/log/cli.err") ||
		die "ceph osd new failed (see $dir/log/cli.err)"
	[ "$osd_id" = 0 ] || die "unexpected osd id '$osd_id'"
	ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" \
		>"$dir/log/mkfs-osd.out" 2>&1 || die "ceph-osd --mkfs failed" \
		"(see $dir/log/mkfs-osd.out)"
	ceph-osd -c "$conf" -i 0 2>>"$dir/log/start.err" || die "ceph-osd failed to start"
	radosgw -c "$conf" -n client.rgw.gw 2>>"$dir/log/start.err" || die "radosgw failed to start"

	access=$(rand_hex 10 | tr a-f A-F)
	secret=$(rand_hex 20)
	deadline=$(( $(date +%s) + START_TIMEOUT ))
	until radosgw-admin -c "$conf" -n client.rgw.gw user create \
		--uid=tierfs-test --display-name="tierfs tests" \
		--access-key="$access" --secret-key="$secret" \
		>"$dir/log/user.out" 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] ||
			die "radosgw-admin user create failed (see $dir/log)"
		sleep 1
	done
	probe=/tierfs-probe-$(rand_hex 4)
	until [ "$(s3 PUT "$probe")" = 200 ] &&
		[ "$(s3 PUT "$probe/probe" probe)" = 200 ]; do
		[ "$(date +%s)" -lt "$deadline" ] ||
			die "S3 on 127.0.0.1:$rgw_port does not answer (see $dir/log)"
		sleep 1
	done
	s3 DELETE "$probe/probe" >/dev/null
	s3 DELETE "$probe" >/dev/null
	umask 077
	cat >"$dir/credentials" <<EOF
[default]
aws_access_key_id = $access
aws_secret_access_key = $secret
EOF
	cat >"$dir/env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$rgw_port
export S3_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_SHARED_CREDENTIALS_FILE=$dir/credentials
export S3_SERVER_DIR=$dir
EOF
	log "S3 at http://127.0.0.1:$rgw_port (env in $dir/env)"
}

gw_pid()
{
	[ -f "$dir/run/client.rgw.gw.pid" ] && cat "$dir/run/client.rgw.gw.pid"
}

do_gw_stop()
{
	p=$(gw_pid) || die "no gateway running in $dir"
	kill -TERM "$p" 2>/dev/null || true
	i=0
	while pid_alive "$p" && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if pid_alive "$p"; then
		kill -KILL "$p" 2>/dev/null || true
	fi
	rm -f "$dir/run/client.rgw.gw.pid"
}

do_gw_start()
{
	# shellcheck disable=SC1091
	. "$dir/env"
	rgw_port=${S3_ENDPOINT##*:}
	access=$AWS_ACCESS_KEY_ID
	secret=$AWS_SECRET_ACCESS_KEY
	radosgw -c "$conf" -n client.rgw.gw 2>>"$dir/log/start.err" ||
		die "radosgw failed to start"
	deadline=$(( $(date +%s) + START_TIMEOUT ))
	until [ "$(s3 GET /)" = 200 ]; do
		[ "$(date +%s)" -lt "$deadline" ] ||
			die "the gateway does not answer again"
		sleep 0.5
	done
}

case $cmd in
start) do_start ;;
gw-stop) do_gw_stop ;;
gw-start) do_gw_start ;;
stop) do_stop ;;
status) do_status ;;
*) usage ;;
esac
