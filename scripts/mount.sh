#!/bin/sh
# Build tierfs and mount it on MOUNTPOINT with its default store:
#   ./scripts/mount.sh /mnt/tiers [-o options]
set -eu
[ $# -ge 1 ] || { echo "usage: $0 MOUNTPOINT [tierfs options]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
[ -d "$top/build" ] || meson setup "$top/build" "$top" --buildtype=release >/dev/null
ninja -C "$top/build" >/dev/null
mnt=$1; shift
mkdir -p "$mnt"
"$top/build/src/tierfs" "$mnt" "$@"
echo "tierfs mounted on $mnt (unmount with: fusermount3 -u $mnt)"
