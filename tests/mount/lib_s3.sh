# shellcheck shell=bash
#
# lib_s3.sh - what the S3 mount tests share, on top of lib.sh: the S3
# server's settings from the environment that scripts/s3-server.sh's
# DIR/env exports (scripts/test.sh sources it), and a few direct S3 calls
# (curl with its own SigV4) to create buckets and look at objects as a
# user of the bucket would.
#
# Without S3_ENDPOINT a test skips (77), unless TIERFS_REQUIRE_S3=1 (CI),
# where it fails: the S3 tests never pass by not running.

s3_require()
{
	if [ -z "${S3_ENDPOINT:-}" ] || [ -z "${AWS_ACCESS_KEY_ID:-}" ] ||
		[ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
		if [ "${TIERFS_REQUIRE_S3:-0}" = 1 ]; then
			echo "FAIL: TIERFS_REQUIRE_S3=1 but no S3 server (S3_ENDPOINT unset)" >&2
			exit 1
		fi
		echo "SKIP: no S3 server (run: scripts/s3-server.sh start DIR; . DIR/env)"
		exit 77
	fi
	command -v curl >/dev/null || fail "curl not found"
	if ! s3_curl GET / -o /dev/null; then
		fail "the S3 server at $S3_ENDPOINT does not answer"
	fi
}

# s3_curl METHOD PATH [CURL ARGS...]: one signed request; fails on HTTP >= 400
s3_curl()
{
	local m=$1 p=$2
	shift 2
	curl -sS --fail --max-time 60 --aws-sigv4 "aws:amz:${S3_REGION:-us-east-1}:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		-X "$m" "$@" "$S3_ENDPOINT$p"
}

# s3_credentials_file: writes the server's keys as an AWS shared-credentials
# file (profile default) in the test's temp dir and prints its path
s3_credentials_file()
{
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$TFS_TMP/credentials"
	printf '%s\n' "$TFS_TMP/credentials"
}

# s3_mkbucket NAME
s3_mkbucket() { s3_curl PUT "/$1" -o /dev/null; }

# s3_keys BUCKET PREFIX: the keys under PREFIX, one a line (first 1000)
s3_keys()
{
	# curl 7.88 signs the query as given: encode it as S3 canonicalizes it
	s3_curl GET "/$1?list-type=2&prefix=${2//\//%2F}" |
		grep -o '<Key>[^<]*</Key>' | sed 's/<Key>//; s/<\/Key>//'
}

# s3_get BUCKET KEY FILE
s3_get() { s3_curl GET "/$1/$2" -o "$3"; }

# A bucket name of this run: lower case letters and digits.
s3_bucket_name() { printf 'tfs-%s-%s' "$1" "$(printf '%s' "$TFS_RAND" | tr 'A-Z' 'a-z')"; }

# The JSON object .tiers/stats has for the cold store, one field
s3_stat()
{
	"$PY" - "$TFS_MNT/.tiers/stats" "$1" <<'PYEOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
print(d["cold_store"][sys.argv[2]])
PYEOF
}
