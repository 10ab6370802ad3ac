#!/bin/sh
# PITFALLS 16: valgrind and a preloaded wheap.  Memcheck replaces the malloc
# of a preloaded allocator only when told its soname:
#
#   LD_PRELOAD=/path/to/libwheap.so \
#       valgrind --soname-synonyms=somalloc=*wheap* --error-exitcode=42 PROGRAM
#
# Checked here:
#   - real programs (ls, sort, a small perl script) preloaded with wheap run
#     under memcheck with zero errors;
#   - memcheck really took malloc over: tests/hard_vg_prog's one-byte
#     overflow past a malloc block is reported, and so is its lost block
#     (--leak-check=full), while the same program used correctly is clean and
#     proves libwheap was loaded;
#   - three wheap_* API tests (heap flags, heap walk, reservations), run as
#     they are (no preload, no synonyms: they use wheap's own heaps and
#     layer 1), are clean: wheap never reads undefined or freed memory there.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"

command -v valgrind >/dev/null 2>&1 || pc_skip "valgrind is not installed"
pc_require_lib
prog=$top_builddir/tests/hard_vg_prog
[ -x "$prog" ] || pc_hard_error "$prog not built"
vg="valgrind -q --soname-synonyms=somalloc=*wheap* --error-exitcode=42"
log=$pc_tmp/vg.log

# run NAME EXPECT CMD...: EXPECT is "clean" or a memcheck line to find.
run() {
    name=$1 expect=$2
    shift 2
    t0=$(pc_now)
    LD_PRELOAD=$pc_lib $vg --log-file="$log" "$@" >"$pc_tmp/out" 2>&1
    rc=$?
    echo "$name: exit $rc, $(grep -c '^==[0-9]*== [A-Z0-9]' "$log") memcheck lines, $(pc_elapsed "$t0" "$(pc_now)") s"
    if [ "$expect" = clean ]; then
        if [ "$rc" -ne 0 ] || [ -s "$log" ]; then
            pc_fail "$name: expected no memcheck report, exit 0; got exit $rc"
            head -n 30 "$log" "$pc_tmp/out"
        fi
    elif [ "$rc" -ne 42 ] || ! grep -q "$expect" "$log"; then
        pc_fail "$name: memcheck did not report \"$expect\" (exit $rc): wheap's malloc was not replaced"
        head -n 30 "$log" "$pc_tmp/out"
    fi
}

run "hard_vg_prog clean" clean "$prog" clean
run "hard_vg_prog overflow" "Invalid write of size 1" "$prog" overflow
run "hard_vg_prog leak" "definitely lost" --leak-check=full --errors-for-leak-kinds=definite \
    "$prog" leak
run "ls -la /usr" clean ls -la /usr
printf 'pear\napple\nfig\n%s\n' "$(seq 1 2000)" >"$pc_tmp/in"
run "sort" clean sort "$pc_tmp/in"
if command -v perl >/dev/null 2>&1; then
    run "perl" clean perl -e 'my %h; $h{$_ % 97} .= "x" x ($_ % 13) for 1 .. 20000; print scalar(keys %h), "\n"'
fi

# The API tests: wheap's heaps and layer 1 under memcheck, nothing preloaded.
for t in heap_flags heap_walk vm_reserve; do
    bin=$top_builddir/tests/$t
    [ -x "$bin" ] || pc_hard_error "$bin not built"
    t0=$(pc_now)
    "$top_builddir/libtool" --mode=execute valgrind -q --error-exitcode=42 --log-file="$log" \
        "$bin" >"$pc_tmp/out" 2>&1
    rc=$?
    echo "$t under memcheck: exit $rc, $(pc_elapsed "$t0" "$(pc_now)") s"
    if [ "$rc" -ne 0 ] || [ -s "$log" ]; then
        pc_fail "$t under memcheck: exit $rc"
        head -n 30 "$log" "$pc_tmp/out"
    fi
done
pc_done
