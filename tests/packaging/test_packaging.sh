#!/bin/bash
# What the packages and `meson install` ship, checked without installing:
#  - the man pages are `mandoc -Tlint` clean;
#  - the license is one and the same everywhere: LICENSE is the Apache
#    License 2.0 and meson.build, debian/copyright and the rpm spec say
#    Apache-2.0 (the rpm ships LICENSE with %license);
#  - the configured tierfs@.service and the mount-unit example pass
#    `systemd-analyze verify` (ExecStart pointed at the built daemon), the
#    service is Type=notify with -f, and neither is enabled by the .deb.
# Arguments: SOURCE_DIR CONFIGURED_SERVICE TIERFS_BIN. Skips (77) the parts
# whose tool is missing only when all of them are.
set -eu
src=$1 unit=$2 bin=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ran=0

if command -v mandoc >/dev/null; then
	out=$(mandoc -Tlint "$src"/man/*.[158] 2>&1) || true
	[ -z "$out" ] || fail "mandoc -Tlint: $out"
	ran=1
fi

grep -q 'Apache License' "$src/LICENSE" && grep -q 'Version 2.0, January 2004' "$src/LICENSE" ||
	fail "LICENSE is not the Apache License 2.0"
grep -q "license : 'Apache-2.0'" "$src/meson.build" || fail "meson.build license is not Apache-2.0"
grep -qx 'License: Apache-2.0' "$src/packaging/debian/copyright" ||
	fail "debian/copyright does not say License: Apache-2.0"
grep -qE '^License: +Apache-2.0$' "$src/packaging/rpm/tierfs.spec" || fail "rpm spec License is not Apache-2.0"
grep -qE '^%license LICENSE$' "$src/packaging/rpm/tierfs.spec" || fail "rpm spec does not ship LICENSE"
if grep -q 'dh_installsystemd' "$src/packaging/debian/rules"; then
	grep -q -- '--no-enable' "$src/packaging/debian/rules" || fail "the .deb would enable units"
fi

grep -qx 'Type=notify' "$unit" || fail "tierfs@.service is not Type=notify"
grep -qE '^ExecStart=[^ ]*/tierfs -f ' "$unit" || fail "tierfs@.service does not run tierfs -f"
if command -v systemd-analyze >/dev/null; then
	sed "s#^ExecStart=[^ ]*/tierfs #ExecStart=$bin #" "$unit" >"$tmp/tierfs@.service"
	cp "$tmp/tierfs@.service" "$tmp/tierfs@mnt-tiers.service"
	cp "$src/packaging/systemd/mnt-tiers.mount" "$tmp/"
	out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
		./tierfs@mnt-tiers.service ./mnt-tiers.mount 2>&1) || fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
	ran=1
fi
[ "$ran" = 1 ] || { echo "SKIP: neither mandoc nor systemd-analyze installed"; exit 77; }
echo "PASS: test_packaging.sh"
