#!/bin/sh
# PITFALLS 1: recursion or deadlock at start-up.  libwheap.so is preloaded
# together with a shim that wraps open/openat/fopen/mmap through
# dlsym(RTLD_NEXT), allocates in its wrappers and provokes a malloc inside
# dlsym/dlerror from its constructor (tests/pitfall_shim.c), in both orders.
# `ls`, `bash -c 'echo ok'` and a small program that calls the wrapped
# functions, starts threads and dlopens libm must each finish within 20 s,
# exit 0 and print what they print without the preloads.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"

pc_require_lib
shim=$top_builddir/tests/.libs/libpitfall_shim.so
prog=$top_builddir/tests/pitfall_startup_prog
[ -f "$shim" ] || pc_hard_error "$shim not built"
[ -x "$prog" ] || pc_hard_error "$prog not built"
case "$shim" in /*) ;; *) shim=$(pwd)/$shim ;; esac
pc_check_preload_active
pc_lib_exports malloc 2>/dev/null ||
    echo "note: $pc_lib exports no malloc yet: only its start-up with the shim is tested"

run_all() {   # run_all TAG PRELOAD
    pc_run "$1.ls" 20 "$2" ls -la /usr/include/linux
    pc_run "$1.bash" 20 "$2" bash -c 'echo ok; x=$(printf "%s" abc); echo "$x"'
    pc_run "$1.prog" 20 "$2" env PITFALL_SHIM_REPORT=1 "$prog"
}

run_all plain ""
for cmd in ls bash prog; do
    [ "$(cat "$pc_tmp/plain.$cmd.rc")" = 0 ] ||
        pc_hard_error "plain $cmd failed: $(head -5 "$pc_tmp/plain.$cmd.err")"
done

for order in shim "shim+lib" "lib+shim"; do
    case "$order" in
        shim) preload=$shim ;;
        "shim+lib") preload=$shim:$pc_lib ;;
        "lib+shim") preload=$pc_lib:$shim ;;
    esac
    run_all "$order" "$preload"
    for cmd in ls bash prog; do
        rc=$(cat "$pc_tmp/$order.$cmd.rc")
        t=$(cat "$pc_tmp/$order.$cmd.time")
        case "$rc" in
            0) ;;
            124|137) pc_fail "$cmd with $order preloaded: no exit after 20 s (deadlock at start-up?)"
                     continue ;;
            *) pc_fail "$cmd with $order preloaded: exit $rc"
               head -10 "$pc_tmp/$order.$cmd.err"
               continue ;;
        esac
        cmp -s "$pc_tmp/plain.$cmd.out" "$pc_tmp/$order.$cmd.out" ||
            pc_fail "$cmd with $order preloaded: different output"
        echo "$order: $cmd ok (${t} s)"
    done
    # The shim was in the path: the program's direct calls reached it.  (Its
    # mmap count is only reported: a library that interposes mmap itself,
    # as tcmalloc does, comes first in one of the orders.)
    report=$(grep '^pitfall_shim:' "$pc_tmp/$order.prog.err")
    case "$report" in
        *"open 0,"*|*"fopen 0,"*|"") pc_fail "$order: the shim saw no calls: '$report'" ;;
        *) echo "$order: $report" ;;
    esac
    if grep -v '^pitfall_shim:' "$pc_tmp/$order.prog.err" | grep -q .; then
        pc_fail "$order: unexpected stderr from the program:"
        head -5 "$pc_tmp/$order.prog.err"
    fi
done
pc_done
