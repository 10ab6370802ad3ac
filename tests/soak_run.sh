#!/bin/sh
# `make soak`: the stress tests over and over for SOAK_SECONDS (default 600),
# each run a fresh process with its own pass/fail:
#   malloc_threads      cross-thread frees through producer/consumer queues,
#                       every block's pattern (from its address and size)
#                       checked by the freeing thread (10x its usual work)
#   malloc_fork         a fork storm while other threads allocate; each child
#                       allocates, checks and exits
#   malloc_thread_exit  100k short-lived threads
#   heap_stress         shared and private heaps, cross-thread frees
#   vm_threads          layer 1 from many threads
#   fuzz_driver         the fuzz target on fresh random inputs (60 s a round)
# Stops at the first failure, with that test's output; prints what ran.
set -u
top_builddir=${top_builddir:-.}
seconds=${SOAK_SECONDS:-600}
t=$top_builddir/tests
end=$(( $(date +%s) + seconds ))
rounds=0
runs=0
out=$(mktemp "${TMPDIR:-/tmp}/wheap-soak.XXXXXX") || exit 99
trap 'rm -f "$out"' EXIT

step() {   # step NAME CMD...: one run, stop the soak when it fails
    name=$1
    shift
    [ "$(date +%s)" -lt "$end" ] || return 0
    if ! "$@" >"$out" 2>&1; then
        echo "soak: $name FAILED after $rounds round(s), $runs run(s):"
        tail -n 40 "$out"
        exit 1
    fi
    runs=$((runs + 1))
}

while [ "$(date +%s)" -lt "$end" ]; do
    step malloc_threads env MALLOC_THREADS_OPS=3000000 "$t/malloc_threads"
    step malloc_fork "$t/malloc_fork"
    step malloc_thread_exit "$t/malloc_thread_exit"
    step heap_stress "$t/heap_stress"
    step vm_threads "$t/vm_threads"
    step fuzz_driver "$t/fuzz_driver" -t 60 -o "$top_builddir/tests"
    rounds=$((rounds + 1))
done
echo "soak: $runs runs in $rounds round(s) over $seconds s, all clean"
