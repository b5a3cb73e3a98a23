#!/bin/sh
# Build tierfs, install it (meson install into /usr/local: tierfs, tierctl,
# tierfs-fsck, the man pages, the tierfs@.service template, examples) and
# mount it on MOUNTPOINT with its default store:
#   ./scripts/mount.sh /mnt/tiers [-o options]
# Run as root or through sudo (installing needs it; a non-root user's mount
# is still their own, with its store under $XDG_DATA_HOME/tierfs).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 MOUNTPOINT [tierfs options]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
[ -d "$top/build" ] || meson setup "$top/build" "$top" --buildtype=release >/dev/null
ninja -C "$top/build" >/dev/null
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO meson install -C "$top/build" --quiet --no-rebuild
prefix=$(meson introspect "$top/build" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
echo "tierfs installed under $prefix ($(command -v tierfs || echo "$prefix/bin/tierfs"))"
mnt=$1; shift
mkdir -p "$mnt"
if awk -v m="$(cd "$mnt" && pwd -P)" '$2 == m && $3 == "fuse.tierfs" { f = 1 } END { exit !f }' /proc/mounts; then
	echo "tierfs is already mounted on $mnt (unmount with: fusermount3 -u $mnt)"
	exit 0
fi
"$prefix/bin/tierfs" "$mnt" "$@"
echo "tierfs mounted on $mnt (unmount with: fusermount3 -u $mnt)"
