#!/bin/bash
# POSIX ACLs (FUSE_CAP_POSIX_ACL: the kernel enforces, tierfs stores):
#  - setfacl/getfacl round trip; the mode's group bits follow the mask and
#    chmod rewrites the mask; an ACL that is just the mode is not kept
#    (setfacl -b leaves no "+" in ls -l); all of it after a remount.
#  - enforcement for another uid (nobody): denied by the mode, allowed by a
#    named entry, denied again when the entry goes; the same on a
#    directory (listing and creating in it).
#  - default ACLs are inherited by new files and directories (the umask is
#    not applied then; it is without one).
#  - setfacl moves ctime; rsync -aAX and tar --acls copy ACLs out and back
#    in without a warning; other system.* names stay EOPNOTSUPP.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_require_root
command -v setfacl >/dev/null || { echo "SKIP: setfacl not found (apt-get install acl)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv not found"; exit 77; }
tfs_init
M=$TFS_MNT
H=$TFS_TMP/host
mkdir "$H"
# nobody must reach the mountpoint through the temp dir
chmod 755 "$TFS_TMP"
NOBODY=65534
as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"; }

tfs_mount -o hot_max=256M,allow_other

# --- round trip and the mode ----------------------------------------------------------------------
note "setfacl/getfacl round trip"
umask 022
echo secret >"$M/f"
chmod 0600 "$M/f"
c0=$(stat -c %Z.%z "$M/f")
sleep 1.1
setfacl -m u:nobody:rw,g::r "$M/f"
[ "$(stat -c %Z.%z "$M/f")" != "$c0" ] || fail "setfacl did not move ctime"
acl=$(getfacl -cpE "$M/f")
for e in user::rw- user:nobody:rw- group::r-- mask::rw- other::---; do
	grep -qx -- "$e" <<<"$acl" || fail "getfacl lacks $e: $acl"
done
assert_eq "-rw-rw----+" "$(stat -c %A "$M/f")$(ls -l "$M/f" | cut -c11)" "mode and + after setfacl"
chmod 0640 "$M/f"
grep -qx "mask::r--" <<<"$(getfacl -cpE "$M/f")" || fail "chmod 640 did not set the mask to r--: $(getfacl -cpE "$M/f")"
grep -qx "user:nobody:rw-" <<<"$(getfacl -cpE "$M/f")" || fail "chmod dropped the named entry"
getfacl -cpE "$M/f" >"$TFS_TMP/f.acl"

# an ACL that is just the mode
echo plain >"$M/p"
setfacl -m u::rwx,g::r,o::- "$M/p"
assert_eq "-rwxr-----" "$(stat -c %A "$M/p")" "mode from a three-entry ACL"
[ "$(ls -l "$M/p" | cut -c11)" != "+" ] || fail "a mode-only ACL is shown as extended"
setfacl -m u:nobody:r "$M/p"
setfacl -b "$M/p"
[ "$(ls -l "$M/p" | cut -c11)" != "+" ] || fail "setfacl -b left an extended ACL"
! getfattr -m - -d "$M/p" 2>/dev/null | grep -q posix_acl_access || fail "setfacl -b left system.posix_acl_access"

# --- enforcement ----------------------------------------------------------------------------------------
note "enforcement for uid $NOBODY"
echo data >"$M/e"
chmod 0600 "$M/e"
! as_nobody cat "$M/e" >/dev/null 2>&1 || fail "nobody read a 0600 root file"
setfacl -m u:nobody:r "$M/e"
assert_eq data "$(as_nobody cat "$M/e")" "nobody reading with a user:nobody:r entry"
! as_nobody sh -c "echo x >>'$M/e'" 2>/dev/null || fail "nobody wrote with only r"
setfacl -m u:nobody:rw "$M/e"
as_nobody sh -c "echo more >>'$M/e'"
assert_eq "data
more" "$(cat "$M/e")" "after nobody appended"
setfacl -x u:nobody "$M/e"
! as_nobody cat "$M/e" >/dev/null 2>&1 || fail "nobody still reads after setfacl -x"
# a mask limits the named entry
setfacl -m u:nobody:rw,m::- "$M/e"
! as_nobody cat "$M/e" >/dev/null 2>&1 || fail "nobody reads through an empty mask"
mkdir "$M/priv"
chmod 0700 "$M/priv"
touch "$M/priv/inside"
! as_nobody ls "$M/priv" >/dev/null 2>&1 || fail "nobody listed a 0700 directory"
setfacl -m u:nobody:rwx "$M/priv"
as_nobody ls "$M/priv" | grep -qx inside || fail "nobody cannot list with user:nobody:rwx"
as_nobody touch "$M/priv/by_nobody"
assert_eq "$NOBODY" "$(stat -c %u "$M/priv/by_nobody")" "owner of a file nobody created"

# --- default ACLs ----------------------------------------------------------------------------------------
note "default ACL inheritance"
mkdir "$M/shared"
# A create in it first: its lack of a default ACL is remembered (fs_ns.c),
# and setfacl -d must be seen by the next create all the same.
touch "$M/shared/before"
setfacl -d -m u:nobody:rwx,g::rx,o::- "$M/shared"
(umask 077 && touch "$M/shared/file" && mkdir "$M/shared/sub")
acl=$(getfacl -cpE "$M/shared/file")
grep -qx "user:nobody:rwx" <<<"$acl" || fail "new file did not inherit user:nobody: $acl"
assert_eq "-rw-rw----" "$(stat -c %A "$M/shared/file")" "mode of a file created under a default ACL (umask 077 ignored)"
acl=$(getfacl -cpE "$M/shared/sub")
grep -qx "default:user:nobody:rwx" <<<"$acl" || fail "new dir did not inherit the default ACL: $acl"
grep -qx "user:nobody:rwx" <<<"$acl" || fail "new dir did not get the access ACL: $acl"
assert_eq "drwxrwx---" "$(stat -c %A "$M/shared/sub")" "mode of a dir created under a default ACL"
as_nobody sh -c "echo hi >'$M/shared/sub/n'"
mkdir "$M/shared2"
setfacl -d -m u:nobody:rwx "$M/shared2"
touch "$M/shared2/with"
setfacl -k "$M/shared2"
(umask 077 && touch "$M/shared2/after_k")
acl=$(getfacl -cpE "$M/shared2/after_k")
! grep -q nobody <<<"$acl" || fail "a create after setfacl -k still inherited: $acl"
assert_eq "-rw-------" "$(stat -c %A "$M/shared2/after_k")" "a create after setfacl -k (default ACL removed)"
(umask 077 && touch "$M/nodefault")
assert_eq "-rw-------" "$(stat -c %A "$M/nodefault")" "umask 077 without a default ACL"
expect_errno "" setfacl -d -m u:nobody:r "$M/f"

# --- other system.* names -----------------------------------------------------------------------------
"$PY" - "$M/f" <<'EOF'
import errno, os, sys
try:
    os.setxattr(sys.argv[1], "system.foo", b"1")
    raise SystemExit("system.foo was accepted")
except OSError as e:
    assert e.errno == errno.EOPNOTSUPP, e
EOF

# --- copies ---------------------------------------------------------------------------------------------
note "rsync -aAX and tar --acls, out and back"
run_quiet()
{
	local err rc=0
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 0 ] && [ -z "$err" ] || fail "exit $rc: $*: $err"
}
run_quiet rsync -aAX "$M/shared/" "$H/rs/"
run_quiet rsync -aAX "$H/rs/" "$M/back/"
assert_eq "$(getfacl -cpE "$M/shared/sub")" "$(getfacl -cpE "$M/back/sub")" "ACL of sub after rsync -aAX out and back"
assert_eq "$(getfacl -cpE "$M/shared/file")" "$(getfacl -cpE "$H/rs/file")" "ACL on the host copy"
out=$(rsync -n -aAX --itemize-changes "$M/shared/" "$M/back/" 2>&1)
[ -z "$out" ] || fail "rsync -n -aAX finds differences after a round trip: $out"
mkdir "$M/untar"
(cd "$M/shared" && tar --acls -cf - .) >"$TFS_TMP/a.tar" 2>"$TFS_TMP/tar.err"
(cd "$M/untar" && tar --acls -xf "$TFS_TMP/a.tar") 2>>"$TFS_TMP/tar.err"
[ ! -s "$TFS_TMP/tar.err" ] || fail "tar --acls warned: $(cat "$TFS_TMP/tar.err")"
assert_eq "$(getfacl -cpE "$M/shared/sub")" "$(getfacl -cpE "$M/untar/sub")" "ACL after tar --acls"

# --- remount --------------------------------------------------------------------------------------------
tfs_umount
tfs_remount
note "after a remount"
assert_eq "$(cat "$TFS_TMP/f.acl")" "$(getfacl -cpE "$M/f")" "ACL of f after a remount"
assert_eq data "$(head -n1 "$M/e")"
! as_nobody cat "$M/e" >/dev/null 2>&1 || fail "nobody reads through an empty mask after a remount"
as_nobody ls "$M/priv" | grep -qx inside || fail "nobody cannot list priv after a remount"
grep -qx "default:user:nobody:rwx" <<<"$(getfacl -cpE "$M/shared")" || fail "default ACL lost in a remount"
tfs_umount
