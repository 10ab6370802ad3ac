#!/usr/bin/env bash
# Real programs under each allocator: Debian's python3, perl, git, sqlite3,
# gcc, bash and coreutils doing real work, long-running and short-lived,
# with the allocator preloaded.  Allocators are interleaved in every round;
# the table gives the median wall time per case and its ratio to glibc, and
# the geometric mean of the ratios.  Every case's output must be the same
# under every allocator (its checksum is compared), or the run fails.
#
#   bench/programs.sh [--allocators glibc,wheap,...] [--rounds N] [--out DIR]
#                     [--cases a,b,...] [--list]
#
# Writes DIR/programs.md and DIR/programs.csv (every run).  Cases whose
# program is not installed are left out with a note.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/allocators.sh
. "$here/allocators.sh"

allocators=$(bench_known_allocators | tr ' ' ',')
rounds=3
out=$root/bench/results
only=""
list=0
while [ $# -gt 0 ]; do
    case $1 in
    --allocators) allocators=$2; shift 2 ;;
    --allocators=*) allocators=${1#*=}; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    --rounds=*) rounds=${1#*=}; shift ;;
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --cases) only=$2; shift 2 ;;
    --cases=*) only=${1#*=}; shift ;;
    --list) list=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "programs.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out/logs"
work=$out/programs-work
rm -rf "$work"
mkdir -p "$work"

# ---------------------------------------------------------------------------
# The cases: NAME, the program it needs, a description, and a command run by
# bash in $work (stdout is checksummed; stderr goes to the log).
# ---------------------------------------------------------------------------

case_names=()
declare -A case_prog case_doc case_cmd
add_case() { case_names+=("$1"); case_prog[$1]=$2; case_doc[$1]=$3; case_cmd[$1]=$4; }

add_case python python3 "python3: dicts, lists, strings and objects" \
    'python3 -c "
import random
r = random.Random(7)
d = {}
for i in range(400000):
    k = str(r.randrange(1 << 30))
    d[k] = [k * (i % 5), i, {\"a\": i}]
    if i % 3 == 0 and d: d.pop(next(iter(d)))
s = sorted(d)
print(len(d), len(\"\".join(s[:1000])), sum(len(v[0]) for v in d.values()))
"'
add_case python-start python3 "python3 -c pass, 20 times (short-lived)" \
    'for i in $(seq 20); do python3 -c pass; done; echo ok'
add_case perl perl "perl: hashes, regexes, string building" \
    'perl -e '"'"'my %h; my $s = "";
for my $i (1 .. 150000) { my $k = "k" . ($i * 7919 % 100003); $h{$k} .= "x" x ($i % 7);
  if ($i % 15000 == 0) { $s .= join(",", sort grep { /7/ } keys %h) } }
print scalar(keys %h), " ", length($s), "\n";'"'"
add_case git git "git: log -p and a full-tree grep of this repository, 5 times" \
    'for i in 1 2 3 4 5; do git -C "$ROOT" log -p -n 200 --no-color | wc -l; git -C "$ROOT" grep -c wh_ HEAD -- src | wc -l; done'
add_case sqlite sqlite3 "sqlite3: 200k inserts, an index, grouped queries" \
    'rm -f t.db; sqlite3 t.db "
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
CREATE TABLE t(a INTEGER, b TEXT, c REAL);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000)
INSERT INTO t SELECT x, hex(x * 2654435761 % 4294967291) || printf(\"%08d\", x), x * 0.5 FROM n;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(length(b)) FROM t WHERE b > \"8\";
SELECT a % 97 AS g, count(*), max(b) FROM t GROUP BY g ORDER BY g LIMIT 3;"'
add_case gcc gcc "gcc -O2 -c of wheap's largest source file" \
    'gcc -O2 -std=gnu11 -I"$ROOT" -I"$ROOT/include" -I"$ROOT/src" -DHAVE_CONFIG_H -c "$ROOT/src/heap_page.c" -o heap_page.o && echo ok'
add_case gcc-start gcc "gcc -c of a tiny file, 20 times (short-lived)" \
    'echo "int f(int x) { return x * 3; }" > tiny.c; for i in $(seq 20); do gcc -O2 -c tiny.c -o tiny.o; done; echo ok'
add_case bash bash "bash: a loop of string and array work" \
    'bash -c '"'"'a=(); s=""; for ((i = 0; i < 60000; i++)); do a+=("item$i"); s+="${i: -1}"; done; echo "${#a[@]} ${#s}"'"'"
add_case sort coreutils "sort of 1M random lines, then uniq -c" \
    'awk "BEGIN { srand(3); for (i = 0; i < 1000000; i++) print int(rand() * 50000) \" \" i % 17 }" > lines.txt; sort lines.txt | cut -d" " -f1 | uniq -c | sort -rn | head -3'
add_case coreutils-start coreutils "ls, cat, wc, cut, tr: 100 short-lived runs" \
    'for i in $(seq 20); do ls -l /usr/bin | wc -l; cat /etc/passwd | cut -d: -f1 | tr a-z A-Z | wc -c; done | sort | uniq -c'

if [ "$list" = 1 ]; then
    for c in "${case_names[@]}"; do printf '%-16s %s\n' "$c" "${case_doc[$c]}"; done
    exit 0
fi

cases=()
notes=()
for c in "${case_names[@]}"; do
    if [ -n "$only" ] && [[ ",$only," != *",$c,"* ]]; then continue; fi
    if ! command -v "${case_prog[$c]/coreutils/sort}" >/dev/null; then
        notes+=("$c left out: ${case_prog[$c]} is not installed")
        continue
    fi
    cases+=("$c")
done

names=() libs=()
IFS=, read -r -a entries <<<"$allocators"
for e in "${entries[@]}"; do
    if lib=$(bench_allocator_lib "$e" "$root" 2>"$work/why"); then
        names+=("$(bench_allocator_name "$e")")
        libs+=("$lib")
    else
        notes+=("$(cat "$work/why")")
    fi
done
# glibc is the reference: measured first in every round, whether asked or not.
if [ "${names[0]:-}" != glibc ]; then
    for i in "${!names[@]}"; do
        if [ "${names[$i]}" = glibc ]; then unset 'names[i]' 'libs[i]'; fi
    done
    names=(glibc "${names[@]}")
    libs=("" "${libs[@]}")
fi

# One run: prints "wall_ms checksum" or fails.
run_case() {   # CASE LIB LOG
    local start end sum
    start=$(date +%s%N)
    sum=$(cd "$work" && ROOT=$root env ${2:+LD_PRELOAD="$2"} bash -c "${case_cmd[$1]}" 2>>"$3" | md5sum) || return 1
    end=$(date +%s%N)
    echo "$(( (end - start) / 1000000 )) ${sum%% *}"
}

csv=$out/programs.csv
echo "round,case,allocator,wall_ms,checksum" >"$csv"
declare -A times sums
failures=()
for ((r = 1; r <= rounds; r++)); do
    for c in "${cases[@]}"; do
        for i in "${!names[@]}"; do
            n=${names[$i]}
            printf '\r\033[Kprograms: round %d/%d %s under %s ...' "$r" "$rounds" "$c" "$n" >&2
            log=$out/logs/programs.$c.$n.log
            if ! res=$(run_case "$c" "${libs[$i]}" "$log"); then
                failures+=("$c failed under $n (see $log)")
                continue
            fi
            set -- $res
            times[$c,$n]+="$1 "
            echo "$r,$c,$n,$1,$2" >>"$csv"
            if [ -z "${sums[$c]:-}" ]; then sums[$c]=$2
            elif [ "${sums[$c]}" != "$2" ]; then failures+=("$c: output under $n differs from glibc's"); fi
        done
    done
done
printf '\r\033[K' >&2

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

header="| case |"; rule="|---|"
for n in "${names[@]}"; do header+=" $n |"; rule+="---:|"; done
table=""
declare -A logsum count
for c in "${cases[@]}"; do
    g=$(echo "${times[$c,glibc]:-}" | median)
    row="| $c |"
    for n in "${names[@]}"; do
        m=$(echo "${times[$c,$n]:-}" | median)
        if [ -z "$m" ]; then row+=" failed |"; continue; fi
        if [ "$n" = glibc ] || [ -z "$g" ]; then row+=" $m ms |"; continue; fi
        ratio=$(awk -v m="$m" -v g="$g" 'BEGIN { printf "%.2f", m / g }')
        row+=" $m ms ($ratio) |"
        logsum[$n]=$(awk -v s="${logsum[$n]:-0}" -v r="$ratio" 'BEGIN { print s + log(r) }')
        count[$n]=$(( ${count[$n]:-0} + 1 ))
    done
    table+="$row"$'\n'
done
geo="| geometric mean of ratios |"
for n in "${names[@]}"; do
    if [ "$n" = glibc ]; then geo+=" 1.00 |"
    elif [ -n "${count[$n]:-}" ]; then geo+=" $(awk -v s="${logsum[$n]}" -v k="${count[$n]}" 'BEGIN { printf "%.2f", exp(s / k) }') |"
    else geo+=" - |"; fi
done

{
    echo "Real programs, median wall time of $rounds interleaved rounds (ratio to glibc; below 1 is faster):"
    echo
    echo "$header"
    echo "$rule"
    printf '%s' "$table"
    echo "$geo"
    echo
    for c in "${cases[@]}"; do echo "- $c: ${case_doc[$c]}"; done
    for n in "${notes[@]}"; do echo "- note: $n"; done
    for f in "${failures[@]}"; do echo "- FAILED: $f"; done
} | tee "$out/programs.md"
rm -rf "$work"
[ ${#failures[@]} -eq 0 ]
