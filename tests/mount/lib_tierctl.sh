# Helpers for the tierctl mount tests (source after lib.sh):
#   TC       the tierctl binary ($TIERCTL_BIN; the test fails without it)
#   tc RC ARGS...  run tierctl; its exit status must be RC; stdout in OUT,
#                  stderr in ERR (the test fails otherwise)
# Not a test itself; lib.sh holds the mount harness.
# shellcheck shell=bash

TC=${TIERCTL_BIN:-}
if [ -z "$TC" ] || [ ! -x "$TC" ]; then
	echo "FAIL: set TIERCTL_BIN to the tierctl binary (got '$TC')" >&2
	exit 1
fi
OUT=""
ERR=""

tc()
{
	local want=$1 rc=0
	shift
	"$TC" "$@" >"$TFS_TMP/tc.out" 2>"$TFS_TMP/tc.err" || rc=$?
	OUT=$(cat "$TFS_TMP/tc.out")
	ERR=$(cat "$TFS_TMP/tc.err")
	if [ "$rc" != "$want" ]; then
		printf '%s\n' "$OUT" "$ERR" >&2
		fail "tierctl $*: exit $rc, expected $want"
	fi
}
