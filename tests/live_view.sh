#!/bin/sh
# The live view (issue 17): a program run with `wheap run --live` publishes
# its page; `wheap top -n 1` and `wheap map` show what it allocated; both
# refuse processes they cannot show with one line and exit status 1; the
# page goes at exit, a killed process's page is swept, and a forked child
# leaves its parent's page alone.
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_is_wheap || pc_skip "$pc_lib is not wheap: no live page"

w="$top_srcdir/wheap"
WHEAP_VIEW=$top_builddir/tools/wheap-view
WHEAP_LIB=$pc_lib
export WHEAP_VIEW WHEAP_LIB
prog=$top_builddir/tests/live_prog
uid=$(id -u)
dir=/dev/shm/wheap-$uid
[ -d /dev/shm ] || pc_skip "no /dev/shm"
mib=48
pids=""
cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$pc_tmp"; }
trap cleanup EXIT

# start TAG MODE: runs live_prog under the launcher; $started gets its pid.
start() {
    "$w" run --live -- "$prog" "$2" "$mib" >"$pc_tmp/$1.out" 2>"$pc_tmp/$1.err" </dev/null &
    started=$!
    pids="$pids $started"
    i=0
    until grep -q "^ready" "$pc_tmp/$1.out" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 200 ] || pc_hard_error "live_prog $2 never got ready"
        sleep 0.05
    done
}

# field TEXT KEY: the number after "KEY: " in TEXT (K suffix dropped).
field() { printf '%s\n' "$1" | sed -n "s/.*$2: \([0-9][0-9]*\)K*.*/\1/p" | head -1; }

# top_when_allocated PID: `wheap top -n 1 PID` once a snapshot shows the
# program's blocks (the first publish may predate them).
top_when_allocated() {
    i=0
    while :; do
        out=$("$w" top -n 1 "$1" 2>&1) || { echo "$out"; return 1; }
        a=$(field "$out" Allocated)
        [ -n "$a" ] && [ "$a" -ge $((mib * 1024)) ] && { echo "$out"; return 0; }
        i=$((i + 1)); [ $i -lt 100 ] || { echo "$out"; return 0; }
        sleep 0.1
    done
}

expect_refusal() {   # NAME EXPECTED-LINE CMD...
    r_name=$1 r_line=$2; shift 2
    r_err=$("$@" 2>&1 >/dev/null); r_rc=$?
    [ "$r_rc" = 1 ] || pc_fail "$r_name: exit $r_rc, expected 1"
    [ "$r_err" = "$r_line" ] || pc_fail "$r_name: said '$r_err', expected '$r_line'"
    echo "refused ($r_name): $r_err"
}

# ---- top and map of a program holding 48 MiB -------------------------------
start hold hold
pid=$started
[ -f "$dir/live.$pid" ] || pc_fail "no page $dir/live.$pid"
perm=$(stat -c %a "$dir/live.$pid" 2>/dev/null)
[ "$perm" = 600 ] || pc_fail "page mode $perm, expected 600"
top=$(top_when_allocated "$pid") || pc_fail "wheap top -n 1 failed: $top"
echo "$top"
alloc=$(field "$top" Allocated) committed=$(field "$top" Committed)
want=$((mib * 1024))
# 4 KiB blocks are a size class of their own: the blocks plus the
# program's few others (the pointer array: 96 KiB, stdio) within 1 MiB.
[ "${alloc:-0}" -ge "$want" ] && [ "${alloc:-0}" -le $((want + 1024)) ] ||
    pc_fail "top: Allocated ${alloc}K, expected $want..$((want + 1024))K"
# Committed: the blocks, metadata and free slices, at most 1/8 more.
[ "${committed:-0}" -ge "$alloc" ] && [ "${committed:-0}" -le $((want + want / 8)) ] ||
    pc_fail "top: Committed ${committed}K, expected ${alloc}..$((want + want / 8))K"
printf '%s\n' "$top" | grep -q "^arena 0 .* active " || pc_fail "top: no active arena row"
case "$top" in *"wheap top - pid $pid: "*live_prog*) ;; *) pc_fail "top: header names no pid/command" ;; esac

map=$("$w" map "$pid" 2>&1) || pc_fail "wheap map failed: $map"
echo "$map"
printf '%s\n' "$map" | grep -q "heap segment  arena 0" || pc_fail "map: no segment of arena 0"
# The committed column adds up to the total line, and to the process's
# committed bytes (layer 1's count, same snapshot; the program is idle).
sum=$(printf '%s\n' "$map" | awk '/^0x/ { s += $3 } END { print s + 0 }')
total=$(printf '%s\n' "$map" | awk '$1 == "total" { print $4 }')
mcommitted=$(field "$map" Committed)
[ "$sum" = "$total" ] || pc_fail "map: rows sum to ${sum}K committed, total line says ${total}K"
[ "$sum" -le $((mcommitted + 64)) ] && [ "$sum" -ge $((mcommitted - 64)) ] ||
    pc_fail "map: regions hold ${sum}K committed, the process ${mcommitted}K"

# ---- refusals ----------------------------------------------------------------
sleep 30 </dev/null >/dev/null 2>&1 &
plain=$!
pids="$pids $plain"
expect_refusal "top of a process without live=1" \
    "wheap: process $plain does not publish statistics (start it with WHEAP_OPTIONS=live=1 or wheap run --live)" \
    "$w" top -n 1 "$plain"
expect_refusal "map of a process without live=1" \
    "wheap: process $plain does not publish statistics (start it with WHEAP_OPTIONS=live=1 or wheap run --live)" \
    "$w" map "$plain"
sh -c 'exit 0' & gone=$!; wait $gone
expect_refusal "nonexistent process" "wheap: no process $gone" "$w" top -n 1 "$gone"
# A page that is not ours: wrong magic.
head -c 65536 /dev/zero >"$dir/live.$plain"
expect_refusal "bad magic" "wheap: $dir/live.$plain is not a wheap live page (bad magic)" \
    "$w" map "$plain"
rm -f "$dir/live.$plain"
# Another user's: a page owned by someone else (root can chown), and a
# process of another user.
if [ "$uid" = 0 ] && id nobody >/dev/null 2>&1; then
    chown nobody "$dir/live.$pid"
    expect_refusal "page of another user" "wheap: process $pid belongs to another user" \
        "$w" top -n 1 "$pid"
    chown 0 "$dir/live.$pid"
    if command -v setpriv >/dev/null 2>&1; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 30 </dev/null >/dev/null 2>&1 &
        other=$!
        pids="$pids $other"
        i=0
        while [ "$(stat -c %u "/proc/$other" 2>/dev/null)" != "$(id -u nobody)" ] && [ $i -lt 40 ]; do
            i=$((i + 1)); sleep 0.05
        done
        if [ "$(stat -c %u "/proc/$other" 2>/dev/null)" = "$(id -u nobody)" ]; then
            expect_refusal "process of another user" "wheap: process $other belongs to another user" \
                "$w" map "$other"
        else
            echo "note: setpriv could not run a process as nobody; that check is left out"
        fi
    fi
else
    expect_refusal "process of another user" "wheap: process 1 belongs to another user" \
        "$w" top -n 1 1
fi
"$w" top -n 1 2>/dev/null; [ $? = 2 ] || pc_fail "top without a pid: exit status not 2"

# ---- the page goes at exit -------------------------------------------------
kill -TERM "$pid"; wait "$pid"; rc=$?
[ "$rc" = 0 ] || pc_fail "live_prog exited $rc"
[ ! -e "$dir/live.$pid" ] || pc_fail "page of exited process $pid still there"

# ---- a killed process's page is swept by the next viewer ---------------------
start killed hold
killed=$started
kill -9 "$killed"; wait "$killed" 2>/dev/null
[ -e "$dir/live.$killed" ] || pc_fail "a killed process left no page (test assumption)"
"$w" top -n 1 "$killed" >/dev/null 2>&1
[ ! -e "$dir/live.$killed" ] || pc_fail "stale page of killed process $killed not removed"

# ---- fork: the child neither publishes nor touches the parent's page ---------
start fork fork
parent=$started
i=0
until grep -q "^child" "$pc_tmp/fork.out"; do
    i=$((i + 1)); [ $i -lt 200 ] || pc_hard_error "forked child never got ready"
    sleep 0.05
done
child=$(sed -n 's/^child //p' "$pc_tmp/fork.out")
sleep 0.6   # two publishing rounds
[ ! -e "$dir/live.$child" ] || pc_fail "forked child $child publishes"
expect_refusal "forked child" \
    "wheap: process $child does not publish statistics (start it with WHEAP_OPTIONS=live=1 or wheap run --live)" \
    "$w" top -n 1 "$child"
top=$(top_when_allocated "$parent") || pc_fail "top of the parent: $top"
alloc=$(field "$top" Allocated)
[ "${alloc:-0}" -ge "$want" ] && [ "${alloc:-0}" -le $((want + 1024)) ] ||
    pc_fail "parent's page shows ${alloc}K allocated, expected its own $want..$((want + 1024))K"
kill -TERM "$child"; sleep 0.3
[ -e "$dir/live.$parent" ] || pc_fail "the child's exit removed its parent's page"
kill -TERM "$parent"; wait "$parent"
[ ! -e "$dir/live.$parent" ] || pc_fail "page of the fork parent still there after its exit"

pc_done
