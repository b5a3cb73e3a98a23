#!/bin/sh
# Install what tierfs needs to build, run and test on Debian 12 (as root,
# or through sudo), plus any extra packages named as arguments. Does nothing
# when everything is already there.
#   --ceph   also Ceph's mon, mgr, OSD and RADOS Gateway (~570 MB, without
#            their recommends): the loopback S3 server of s3-server.sh
set -eu
PKGS="gcc pkg-config meson ninja-build libfuse3-dev fuse3 liblz4-dev
libmicrohttpd-dev libsystemd-dev prometheus python3-numpy
liblzma-dev libsqlite3-dev libcurl4-openssl-dev check attr acl xz-utils lz4
python3 rsync mandoc curl iproute2 procps cppcheck"
LEAN=""
for a in "$@"; do
	case $a in
	--ceph) LEAN="ceph-mon ceph-mgr ceph-osd radosgw ceph-common" ;;
	*) PKGS="$PKGS $a" ;;
	esac
done
missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || printf ' %s' "$p"
	done
}
# shellcheck disable=SC2086
m1=$(missing $PKGS)
# shellcheck disable=SC2086
m2=$(missing $LEAN)
[ -z "$m1$m2" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300"
echo "tierfs: installing:$m1$m2" >&2
$APT update -qq
# shellcheck disable=SC2086
[ -z "$m1" ] || $APT install -y -qq $m1 >/dev/null
# shellcheck disable=SC2086
[ -z "$m2" ] || $APT install -y -qq --no-install-recommends $m2 >/dev/null
