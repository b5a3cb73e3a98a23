#!/bin/sh
# Build tierfs and run its whole test suite (unit and mount tests), then the
# unit tests and a set of mount tests again with everything built under
# AddressSanitizer and UBSan (a mount test fails when the daemon's log shows
# a sanitizer report).
#   ./scripts/test.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
cd "$top"
[ -d build-test ] || meson setup build-test >/dev/null
ninja -C build-test
meson test -C build-test --print-errorlogs --num-processes 2
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined \
	-Db_lundef=false >/dev/null
ninja -C build-asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
meson test -C build-asan --print-errorlogs --suite unit --num-processes 2
meson test -C build-asan --print-errorlogs --num-processes 2 \
	mount_namespace mount_persist mount_crash mount_cold_crash \
	mount_openfile mount_views mount_xattr mount_copy mount_nlookup \
	mount_reload \
	mount_ctl mount_metrics_http mount_log
