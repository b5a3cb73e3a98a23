#!/bin/bash
# Files move while open (issue 4 item 5): with hot_age=1s, warm_age=2s,
# interval=300ms, a python process holds one file open for ~20 s through two
# descriptors (fd1 read-write, fd2 read-only, reopened now and then so opens
# count towards promotion; half the time with O_DIRECT so reads reach the
# daemon, and fd1's page cache is dropped with fadvise). It writes random
# patches at random offsets through fd1 (now and then extending or
# truncating the file), pauses now and then for up to 3 s so the policy
# demotes the file (hot -> warm -> cold) and promotes it again, and after
# every step reads the whole file back through fd1 and fd2 and compares it
# with an in-memory model. Meanwhile a shell loop forces moves with
# setfattr user.tierfs.tier hot|warm|cold (a move that races a write may be
# refused with EAGAIN; any other error fails). The file must have been seen
# on every tier, and demoted by the policy ("idle" reason) at least once. After close the file equals
# the model, and again after a remount with the caches dropped. The log must
# hold no " error: " line.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
tfs_init
M=$TFS_MNT
R=$TFS_REF
F=$M/busy
DURATION=${TFS_OPENFILE_SECONDS:-20}

tfs_mount -o hot_age=1s,warm_age=2s,interval=300ms
head -c $((1 << 20)) /dev/urandom >"$R/busy"
cp "$R/busy" "$F"

# --- forced moves from the shell, in parallel --------------------------------
STOP=$TFS_TMP/stop
MOVES=$TFS_TMP/moves
mover()
{
	local tiers=(hot warm cold) n=0 t out
	set +eE
	trap - ERR
	while [ ! -e "$STOP" ]; do
		t=${tiers[RANDOM % 3]}
		if out=$(setfattr -n user.tierfs.tier -v "$t" "$F" 2>&1); then
			echo "ok $t" >>"$MOVES"
		else
			case $out in
			*"Resource temporarily unavailable"*) echo "eagain $t" >>"$MOVES" ;;
			*) echo "FAIL $t: $out" >>"$MOVES" ;;
			esac
		fi
		n=$((n + 1))
		# bursts of moves, and quiet spells for the policy's own
		if [ $((RANDOM % 2)) = 0 ]; then
			sleep "0.$((RANDOM % 8 + 2))"
		else
			sleep "$((RANDOM % 2 + 1)).$((RANDOM % 10))"
		fi
	done
}
: >"$MOVES"
mover &
TFS_EXTRA_PIDS+=($!)
MOVER=$!

# --- the reader/writer ---------------------------------------------------------
"$PY" - "$F" "$R/busy" "$DURATION" "$TFS_TMP/tiers.seen" <<'EOF'
import mmap, os, random, subprocess, sys, time
path, ref, duration, seen_path = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
model = bytearray(open(ref, "rb").read())
rnd = random.Random(os.getpid())
seen = []

def tier():
    try:
        return os.getxattr(path, "user.tierfs.tier").decode()
    except OSError as e:
        return "error %s" % e

def tier_reason():
    try:
        return "%s|%s" % (tier(),
                          os.getxattr(path, "user.tierfs.reason").decode())
    except OSError as e:
        return "error %s" % e

def read_all(fd, direct):
    size = os.fstat(fd).st_size
    if direct:
        # O_DIRECT wants aligned buffers and offsets: read through an
        # anonymous mmap (page aligned) in 1 MiB pieces
        buf = mmap.mmap(-1, 1 << 20)
        out = bytearray()
        off = 0
        while True:
            n = os.preadv(fd, [buf], off)
            if n <= 0:
                break
            out += buf[:n]
            off += n
        buf.close()
        return bytes(out), size
    out = bytearray()
    off = 0
    while True:
        b = os.pread(fd, 1 << 20, off)
        if not b:
            break
        out += b
        off += len(b)
    return bytes(out), size

def check(fd, name, direct, step):
    got, size = read_all(fd, direct)
    if size != len(model):
        sys.exit("step %d: %s: fstat size %d, model %d (tier %s)"
                 % (step, name, size, len(model), tier()))
    if got != bytes(model):
        n = min(len(got), len(model))
        first = next((i for i in range(n) if got[i] != model[i]), n)
        sys.exit("step %d: %s (%s): content differs from the model at byte %d"
                 " (got %d bytes, model %d; tier %s)"
                 % (step, name, "O_DIRECT" if direct else "cached", first,
                    len(got), len(model), tier()))

def open2():
    direct = rnd.random() < 0.5
    return os.open(path, os.O_RDONLY | (os.O_DIRECT if direct else 0)), direct

fd1 = os.open(path, os.O_RDWR)
fd2, direct2 = open2()
end = time.time() + duration
step = 0
while time.time() < end:
    step += 1
    r = rnd.random()
    if r < 0.05:
        # truncate (shrink or extend)
        size = rnd.randrange(0, 2 << 20)
        os.ftruncate(fd1, size)
        if size < len(model):
            del model[size:]
        else:
            model.extend(bytes(size - len(model)))
    else:
        for _ in range(rnd.randrange(1, 6)):
            off = rnd.randrange(0, len(model) + 65536)
            n = rnd.randrange(1, 65536)
            data = os.urandom(n)
            assert os.pwrite(fd1, data, off) == n
            if off > len(model):
                model.extend(bytes(off - len(model)))
            model[off:off + n] = data
    if rnd.random() < 0.5:
        os.posix_fadvise(fd1, 0, 0, os.POSIX_FADV_DONTNEED)
    check(fd1, "fd1", False, step)
    check(fd2, "fd2", direct2, step)
    if rnd.random() < 0.3:
        # a new open of fd2: counts towards promotion
        os.close(fd2)
        fd2, direct2 = open2()
        check(fd2, "new fd2", direct2, step)
    seen.append(tier_reason())
    if rnd.random() < 0.2:
        # idle (no read or write reaches the daemon: that would count as an
        # access) long enough for the policy to demote it (hot_age=1s,
        # warm_age=2s), watching its tier, then check both descriptors
        pause_end = time.time() + rnd.uniform(1.2, 3.0)
        while time.time() < pause_end:
            time.sleep(0.25)
            seen.append(tier_reason())
        check(fd1, "fd1 (after idle)", False, step)
        check(fd2, "fd2 (after idle)", direct2, step)
os.close(fd2)
os.close(fd1)
final = open(path, "rb").read()
if final != bytes(model):
    sys.exit("after close: the file differs from the model")
with open(ref, "wb") as f:
    f.write(model)
with open(seen_path, "w") as f:
    f.write("\n".join(seen) + "\n")
print("# %d steps, %d bytes at the end" % (step, len(model)))
EOF
touch "$STOP"
wait "$MOVER" || true
note "forced moves: $(awk '/^ok/ { n++ } END { print n + 0 }' "$MOVES") done, $(awk '/^eagain/ { n++ } END { print n + 0 }' "$MOVES") refused with EAGAIN"
if grep -q '^FAIL' "$MOVES"; then
	fail "setfattr failed while the file was busy: $(grep -m3 '^FAIL' "$MOVES")"
fi
SEEN=$TFS_TMP/tiers.seen
note "tiers seen by the process: $(cut -d'|' -f1 "$SEEN" | sort | uniq -c | tr -s ' \n' ' ')"
note "reasons seen: $(cut -d'|' -f2 "$SEEN" | sed -E 's/[0-9]+/N/g' | sort | uniq -c | tr -s ' \n' ' ')"
if grep -qv -E '^(hot|warm|cold)[|]' "$SEEN"; then
	fail "getxattr of user.tierfs.tier/reason failed: $(grep -m1 -v -E '^(hot|warm|cold)[|]' "$SEEN")"
fi
for t in hot warm cold; do
	grep -q "^$t|" "$SEEN" || fail "the file was never seen $t while open"
done
grep -q '^\(warm\|cold\)|idle ' "$SEEN" ||
	fail "the policy never demoted the open file (no 'idle' reason seen)"
st=$(tfs_stat_field migration_errors)
note "migration_errors: $st"
drop_caches
check_same "$R/busy" "$F"
tfs_umount
tfs_remount
drop_caches
check_same "$R/busy" "$F"
tfs_umount
