#!/bin/sh
# The fuzz target (tests/fuzz_ops.c) for about 30 s: the plain driver on
# random inputs (FUZZ_CHECK_DRIVER_SECONDS, default 12), then the libFuzzer
# build (FUZZ_CHECK_LIBFUZZER_SECONDS, default 15) where clang could link one;
# its corpus stays in tests/fuzz-check-corpus, so repeated runs go deeper.
# A failing input is kept in tests/fuzz-check-crashes (replay it with
# tests/fuzz_driver FILE).  The long run is `make fuzz-long`.
set -u
top_builddir=${top_builddir:-.}
drv=$top_builddir/tests/fuzz_driver
lf=$top_builddir/tests/fuzz_ops_libfuzzer
crashes=$top_builddir/tests/fuzz-check-crashes
corpus=$top_builddir/tests/fuzz-check-corpus
[ -x "$drv" ] || { echo "ERROR: $drv not built"; exit 99; }
mkdir -p "$crashes" "$corpus"
failures=0

seed=${FUZZ_SEED:-$(date +%s)}
"$drv" -t "${FUZZ_CHECK_DRIVER_SECONDS:-12}" -s "$seed" -o "$crashes" \
    || { echo "FAILED: the plain driver (seed $seed)"; failures=$((failures + 1)); }

ASAN_OPTIONS=handle_segv=0:allow_user_segv_handler=1 "$lf" \
    -max_total_time="${FUZZ_CHECK_LIBFUZZER_SECONDS:-15}" -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$corpus" >"$top_builddir/tests/hard_fuzz.libfuzzer.out" 2>&1
rc=$?
case $rc in
    0) grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)' \
           "$top_builddir/tests/hard_fuzz.libfuzzer.out" ;;
    77) cat "$top_builddir/tests/hard_fuzz.libfuzzer.out"; echo "note: libFuzzer part skipped" ;;
    *) tail -n 40 "$top_builddir/tests/hard_fuzz.libfuzzer.out"
       echo "FAILED: libFuzzer exit $rc (input in $crashes)"; failures=$((failures + 1)) ;;
esac
[ "$failures" -eq 0 ] || exit 1
exit 0
