#!/bin/sh
# Build tierfs and run its whole test suite (unit and mount tests), then the
# unit tests and a set of mount tests again with everything built under
# AddressSanitizer and UBSan (a mount test fails when the daemon's log shows
# a sanitizer report). A real S3 server (Ceph RGW, scripts/s3-server.sh)
# runs on loopback for the whole suite, in a temp dir, and is stopped at the
# end even on failure; TIERFS_REQUIRE_S3=1 makes every S3 test fail rather
# than skip if it is not there. Both builds use -Werror (a warning fails
# CI), and TIERFS_REQUIRE_FUSE=1 makes a mount test fail, not skip, when
# the machine has no usable /dev/fuse (CI cannot pass by skipping them).
#   ./scripts/test.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" --ceph
cd "$top"
s3dir=$(mktemp -d /tmp/tierfs-s3.XXXXXX)
s3pid=""
s3_cleanup()
{
	[ -z "$s3pid" ] || wait "$s3pid" 2>/dev/null || true
	"$top/scripts/s3-server.sh" stop "$s3dir" || true
	rm -rf "$s3dir" "$s3dir.log"
}
trap s3_cleanup EXIT
trap 'exit 1' INT TERM HUP
# The server starts (~25 s) while the code builds.
"$top/scripts/s3-server.sh" start "$s3dir" >"$s3dir.log" 2>&1 &
s3pid=$!
export TIERFS_REQUIRE_FUSE=1
# setup, or reconfigure an existing build dir to the same options
setup() {
	dir=$1
	shift
	if [ -d "$dir" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}
setup build-test -Dwerror=true
ninja -C build-test
if ! wait "$s3pid"; then
	s3pid=""
	cat "$s3dir.log" >&2
	echo "test.sh: the S3 server did not start" >&2
	exit 1
fi
s3pid=""
rm -f "$s3dir.log"
# shellcheck disable=SC1091
. "$s3dir/env"
export TIERFS_REQUIRE_S3=1
meson test -C build-test --print-errorlogs --num-processes 2
setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
	-Db_lundef=false
ninja -C build-asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
meson test -C build-asan --print-errorlogs --suite unit --num-processes 2
meson test -C build-asan --print-errorlogs --num-processes 2 \
	mount_namespace mount_persist mount_crash mount_cold_crash \
	mount_openfile mount_views mount_xattr mount_copy mount_nlookup \
	mount_reload \
	mount_ctl mount_metrics_http mount_log mount_create_write
