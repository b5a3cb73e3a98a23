#!/bin/sh
# Install what tierfs needs to build, run and test on Debian 12 (as root,
# or through sudo), plus any extra packages named as arguments. Does nothing
# when everything is already there.
set -eu
PKGS="gcc pkg-config meson ninja-build libfuse3-dev fuse3 liblz4-dev
liblzma-dev libsqlite3-dev check attr xz-utils lz4 python3 rsync mandoc $*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "tierfs: installing:$missing" >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
