#!/usr/bin/env bash
# What wheap's default hardening costs per malloc+free pair, in instructions
# (valgrind --tool=callgrind, through bench/callgrind.sh).
#
#   bench/hardening.sh [--out DIR] [--n N]
#
# Builds two measurement variants of libwheap from the tracked sources in
# DIR/hardening-build (never installed, never tested):
#   no-encoding   free-list links stored in the clear, no bounds check on
#                 the pop (WH_BENCH_NO_ENCODING)
#   no-hardening  that, and no live bitmap on the inline paths either
#                 (WH_BENCH_NO_LIVE_BITS): double, interior and foreign frees
#                 go undetected and remote frees cannot work, so its
#                 cross-thread column shows "-"
# and counts them beside the real library (wheap, hardening on).  Prints a
# markdown table and writes DIR/hardening.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out=$root/bench/results
n=65536
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --n) n=$2; shift 2 ;;
    --n=*) n=${1#*=}; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hardening.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out/logs"
[ -f "$root/src/.libs/libwheap.so" ] || { echo "hardening.sh: build wheap first (make)" >&2; exit 1; }

# A copy of the tracked sources, so that the variants' configure runs in a
# clean tree whatever state the checkout's own build is in.
src=$out/hardening-build/src
rm -rf "$src"
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard 2>/dev/null |
     grep -zv '^build-' | xargs -0 cp --parents -t "$src") ||
    (cd "$root" && tar --exclude=./bench/results --exclude='./build-*' -cf - . | tar -C "$src" -xf -)
(cd "$src" && { [ -x configure ] || autoreconf -fi; }) >"$out/logs/hardening.autoreconf.log" 2>&1

variant() {   # NAME CPPFLAGS: builds DIR/hardening-build/NAME/src/.libs/libwheap.so
    local dir=$out/hardening-build/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '\r\033[Khardening.sh: building %s ...' "$1" >&2
    (cd "$dir" && "$src/configure" CPPFLAGS="$2" >/dev/null &&
         make -j"$(nproc)" src/libwheap.la >/dev/null) >"$out/logs/hardening.$1.log" 2>&1 || {
        echo "hardening.sh: building $1 failed, see $out/logs/hardening.$1.log" >&2
        exit 1
    }
}
variant no-encoding "-DWH_BENCH_NO_ENCODING=1"
variant no-hardening "-DWH_BENCH_NO_ENCODING=1 -DWH_BENCH_NO_LIVE_BITS=1"
printf '\r\033[K' >&2

b=$out/hardening-build
# The no-hardening variant cannot run the cross-thread mode: its "-" there
# is expected, so callgrind.sh's status is not ours.
bash "$here/callgrind.sh" --out "$out/hardening-build/cg" --n "$n" \
    --allocators "wheap,no-encoding=$b/no-encoding/src/.libs/libwheap.so,no-hardening=$b/no-hardening/src/.libs/libwheap.so" \
    >/dev/null 2>"$out/logs/hardening.callgrind.err" || true
md=$out/hardening-build/cg/callgrind.md
grep -q '^| wheap |' "$md" 2>/dev/null || {
    echo "hardening.sh: callgrind failed, see $out/logs/hardening.callgrind.err" >&2
    exit 1
}

pair() { awk -F'|' -v n="$1" '$2 == " " n " " { gsub(/ /, "", $3); print $3 }' "$md"; }
on=$(pair wheap) noenc=$(pair no-encoding) off=$(pair no-hardening)
{
    echo "Cost of wheap's default hardening, instructions per 32-byte malloc+free pair (callgrind):"
    echo
    grep '^|' "$md"
    echo
    awk -v on="$on" -v ne="$noenc" -v off="$off" 'BEGIN {
        printf "Hardening on: %.1f per pair; without it: %.1f (%.1f for the encoded links and the pop'"'"'s bounds check, %.1f for the live bitmap that catches double, interior and foreign frees).\n", on, off, on - ne, ne - off }'
} | tee "$out/hardening.md"
