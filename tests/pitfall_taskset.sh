#!/bin/sh
# PITFALLS 17: CPU count and affinity.  An allocator that indexes per-CPU
# arenas by the number of online CPUs, or by sched_getcpu() against the
# affinity mask, breaks when the process may run on one CPU only.  The
# multithreaded stress (tests/malloc_threads: six threads, cross-thread
# frees, content verification) must pass under `taskset -c <one cpu>`.
#
# malloc_threads links libwheap; with $WHEAP_TEST_PRELOAD set, that library
# is preloaded instead (to validate this test against another allocator).
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"

command -v taskset >/dev/null 2>&1 || pc_skip "taskset is not installed (util-linux)"
prog=$top_builddir/tests/malloc_threads
[ -x "$prog" ] || pc_hard_error "$prog not built"

# The first CPU this process may use (CPU 0 may be outside a cpuset).
cpu=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//; s/[,-].*//')
[ -n "$cpu" ] || pc_skip "cannot read this process's affinity"
n=$(taskset -c "$cpu" nproc 2>/dev/null)
[ "$n" = 1 ] || pc_skip "taskset -c $cpu does not restrict to one CPU here (nproc says '$n')"

preload=
[ -n "${WHEAP_TEST_PRELOAD:-}" ] && preload=$pc_lib
echo "malloc_threads on CPU $cpu only${preload:+, with $preload preloaded}"
t0=$(pc_now)
if [ -n "$preload" ]; then
    timeout -k 5 100 taskset -c "$cpu" env LD_PRELOAD="$preload" "$prog"
else
    timeout -k 5 100 taskset -c "$cpu" "$prog"
fi
rc=$?
echo "exit $rc after $(pc_elapsed "$t0" "$(pc_now)") s"
case "$rc" in
    0) ;;
    124|137) pc_fail "malloc_threads under taskset: no exit after 100 s" ;;
    *) pc_fail "malloc_threads under taskset: exit $rc" ;;
esac
pc_done
