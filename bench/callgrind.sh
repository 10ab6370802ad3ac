#!/usr/bin/env bash
# Instructions per small malloc+free pair, for each allocator, counted with
# valgrind --tool=callgrind: the one figure that machine noise cannot move.
#
#   bench/callgrind.sh [--allocators glibc,wheap,...|NAME=lib.so] [--out DIR] [--n N] [--size BYTES]
#
# bench/cg_pairs runs N and 2N pairs, and the same loops without the
# allocator; per pair = ((Ir(2N) - Ir(N)) - (Ir0(2N) - Ir0(N))) / N, so
# start-up, exit, the loop itself and the thread handoff cancel out.  Modes:
#   pair   malloc then free at once, one thread (the fast path)
#   batch  256 mallocs then their 256 frees, one thread
#   cross  as batch, but another thread frees: remote frees
# Prints a markdown table and writes DIR/callgrind.md and DIR/callgrind.csv.
# Needs bench/cg_pairs (make bench-build) and valgrind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/allocators.sh
. "$here/allocators.sh"

allocators=$(bench_known_allocators | tr ' ' ',')
out=$root/bench/results
n=65536
size=32
while [ $# -gt 0 ]; do
    case $1 in
    --allocators) allocators=$2; shift 2 ;;
    --allocators=*) allocators=${1#*=}; shift ;;
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --n) n=$2; shift 2 ;;
    --n=*) n=${1#*=}; shift ;;
    --size) size=$2; shift 2 ;;
    --size=*) size=${1#*=}; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
n=$(( (n + 255) / 256 * 256 ))          # whole batches in every mode
prog=${CG_PAIRS:-$root/bench/cg_pairs}
[ -x "$prog" ] || { echo "callgrind.sh: $prog is not built (make bench-build)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
mkdir -p "$out/logs"

# Ir of one run: cg_pairs MODE COUNT under LD_PRELOAD=$1.
count_ir() {
    local lib=$1 mode=$2 count=$3 log
    log="$out/logs/callgrind.${4:-glibc}.$mode.$count.log"
    if ! env ${lib:+LD_PRELOAD="$lib"} valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$prog" "$mode" "$count" "$size" >"$log" 2>&1; then
        echo "callgrind.sh: $mode $count under ${4:-glibc} failed, see $log" >&2
        return 1
    fi
    awk '/Collected :/ { print $NF; found = 1 } END { exit !found }' "$log"
}

modes="pair batch cross"
failed=0
declare -A base
for m in $modes; do
    a=$(count_ir "" "${m}0" "$n" baseline)
    b=$(count_ir "" "${m}0" $((2 * n)) baseline)
    base[$m]=$((b - a))
done

csv=$out/callgrind.csv
echo "allocator,mode,size,n,ir_n,ir_2n,per_pair" >"$csv"
table="| allocator | pair (malloc+free) | batch of 256 | cross-thread free | remote-free extra |
|---|---:|---:|---:|---:|"
notes=""
IFS=, read -r -a names <<<"$allocators"
for entry in "${names[@]}"; do
    name=$(bench_allocator_name "$entry")
    if ! lib=$(bench_allocator_lib "$entry" "$root" 2>"$out/logs/callgrind.why"); then
        notes+="note: $(cat "$out/logs/callgrind.why")"$'\n'
        continue
    fi
    printf '\r\033[Kcallgrind: %s ...' "$name" >&2
    declare -A per=()
    for m in $modes; do
        # A mode the library cannot run (a measurement build, say) shows
        # as "-"; the other modes and allocators still count.
        if ! a=$(count_ir "$lib" "$m" "$n" "$name") ||
           ! b=$(count_ir "$lib" "$m" $((2 * n)) "$name"); then
            per[$m]=-
            failed=1
            notes+="note: $name could not run $m (see $out/logs/callgrind.$name.$m.*.log)"$'\n'
            continue
        fi
        per[$m]=$(awk -v a="$a" -v b="$b" -v z="${base[$m]}" -v n="$n" 'BEGIN { printf "%.1f", (b - a - z) / n }')
        echo "$name,$m,$size,$n,$a,$b,${per[$m]}" >>"$csv"
    done
    extra=-
    if [ "${per[cross]}" != - ] && [ "${per[batch]}" != - ]; then
        extra=$(awk -v c="${per[cross]}" -v b="${per[batch]}" 'BEGIN { printf "%+.1f", c - b }')
    fi
    table+=$'\n'"| $name | ${per[pair]} | ${per[batch]} | ${per[cross]} | $extra |"
done
printf '\r\033[K' >&2

{
    echo "Instructions per $size-byte malloc+free pair (valgrind --tool=callgrind, N=$n and 2N," \
         "start-up and loop cancelled; fewer is better):"
    echo
    echo "$table"
    if [ -n "$notes" ]; then
        echo
        printf '%s' "$notes"
    fi
} | tee "$out/callgrind.md"
exit "$failed"
