#!/bin/sh
# PITFALLS 14: exit ordering.  tests/pitfall_exit_main loads two C++ shared
# objects whose statics allocate (one dlclosed from an atexit handler, one
# kept until exit), has allocating statics and atexit handlers of its own and
# a thread that is still calling malloc while the process exits.  With the
# library preloaded it must exit 0 and print the same lines, in the same
# order, as without: every destructor and handler ran, found its memory
# intact and could still allocate.  Run twenty times (the exit race with the
# allocating thread differs from run to run).
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"

pc_require_lib
main=$top_builddir/tests/pitfall_exit_main
liba=$top_builddir/tests/.libs/libpitfall_exit_a.so
libb=$top_builddir/tests/.libs/libpitfall_exit_b.so
for f in "$main" "$liba" "$libb"; do [ -f "$f" ] || pc_hard_error "$f not built"; done
case "$liba" in /*) ;; *) liba=$(pwd)/$liba libb=$(pwd)/$libb ;; esac
pc_check_preload_active
pc_lib_exports malloc 2>/dev/null ||
    echo "note: $pc_lib exports no malloc yet: the run tests its presence only"

pc_compare exit 30 "$main" "$liba" "$libb"
[ "$pc_failures" -eq 0 ] || pc_done
sed 's/^/  /' "$pc_tmp/exit.lib.out"
i=1
while [ $i -le 20 ]; do
    pc_run "again$i" 30 "$pc_lib" "$main" "$liba" "$libb"
    rc=$(cat "$pc_tmp/again$i.rc")
    if [ "$rc" != 0 ]; then
        pc_fail "run $i under $pc_lib: exit $rc"
        head -5 "$pc_tmp/again$i.err" "$pc_tmp/again$i.out"
        break
    fi
    cmp -s "$pc_tmp/exit.plain.out" "$pc_tmp/again$i.out" || { pc_fail "run $i: different output"; break; }
    i=$((i + 1))
done
pc_done
