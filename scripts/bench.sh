#!/usr/bin/env bash
# wheap's comparative benchmark suite: the README's main command.
#
#   bash scripts/bench.sh [options]
#
# On a fresh Debian 12 (as root, or with sudo) it installs what is missing,
# bootstraps, configures and builds wheap and the benchmark programs, then
# runs every workload under glibc, wheap (once it exports malloc), jemalloc,
# mimalloc and tcmalloc, interleaving the allocators within each round, and
# reports median wall time and peak RSS with ratios to glibc, the memory
# returned in the memory-return test, a Google Benchmark microbenchmark run
# and the instruction count of a small malloc+free pair.
#
# Options:
#   --rounds N          rounds of the workload suite (default 3; --quick: 1)
#   --workloads a,b     workloads to run (default: all; see --list)
#   --allocators a,b    allocators (default: glibc,wheap,jemalloc,mimalloc,tcmalloc);
#                       NAME=/path/lib.so adds any other malloc replacement
#   --threads N         threads per multi-threaded workload (default: CPUs, at least 2)
#   --scale X           work per workload (default 1; --quick: 0.25)
#   --quick             a short run: 1 round, scale 0.25, short microbenchmarks
#   --out DIR           where results go (default bench/results)
#   --callgrind         only count instructions per malloc+free pair
#   --no-micro          skip the Google Benchmark run
#   --no-programs       skip the real programs (bench/programs.sh: python3,
#                       perl, git, sqlite3, gcc, bash, coreutils preloaded;
#                       not in --quick)
#   --no-callgrind      skip the instruction counts (with and without the
#                       default hardening: bench/hardening.sh; not in --quick)
#   --no-build          use what is built (no packages, no configure, no make)
#   --report            only write the report again from what DIR holds
#   --list              list the workloads and exit
#
# Output: markdown tables on stdout and in DIR/results.md, raw data in
# DIR/runs.csv, charts DIR/time_ratio.png, DIR/rss_ratio.png and
# DIR/memret_rss.png, microbenchmarks in DIR/micro.md (and micro_*.csv),
# instruction counts in DIR/callgrind.md.  Exits non-zero when a workload
# fails or its checksum differs between allocators.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/allocators.sh
. "$ROOT/bench/allocators.sh"

ALL_WORKLOADS="larson xmalloc cache-scratch cache-thrash glibc-simple glibc-thread random-ws mstress realloc large memret"

declare -A DESCRIPTION=(
    [larson]="server simulation: short-lived threads inherit and free their predecessors' blocks (Larson)"
    [xmalloc]="producer/consumer: messages allocated on one thread, freed on another (xmalloc-test)"
    [cache-scratch]="passive false sharing: objects handed to threads, freed and reallocated (Hoard)"
    [cache-thrash]="active false sharing: each thread allocates, writes and frees tiny objects (Hoard)"
    [glibc-simple]="batches of 25..1600 blocks of 16 B..1 KiB, main thread then another (glibc benchtests)"
    [glibc-thread]="1024-block working set per thread, inverse-square sizes 4 B..32 KiB (glibc benchtests)"
    [random-ws]="24 MiB working set per thread, log-uniform sizes shifting through four phases"
    [mstress]="mixed sizes, thread rounds, objects migrating between threads (mstress/rptest)"
    [realloc]="string and vector growth by realloc up to 4 MiB, contents checked"
    [large]="64 KiB..32 MiB buffers, every page touched"
    [memret]="1 GiB on several threads, free 90 %, light use, free all, light use; RSS sampled"
)

rounds=""
workloads=""
allocators=$(bench_known_allocators | tr ' ' ',')
threads=""
scale=""
quick=0
out=""
do_build=1
do_micro=1
do_programs=1
do_callgrind=1
callgrind_only=0
report_only=0

die() { echo "bench.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

BENCH_CMDLINE="$*"
set_option() {
    case $1 in
    --rounds) rounds=$2 ;;
    --workloads) workloads=$2 ;;
    --allocators) allocators=$2 ;;
    --threads) threads=$2 ;;
    --scale) scale=$2 ;;
    --out) out=$2 ;;
    esac
}
while [ $# -gt 0 ]; do
    case $1 in
    --rounds|--workloads|--allocators|--threads|--scale|--out)
        [ $# -ge 2 ] || die "$1 needs a value"
        set_option "$1" "$2"
        shift 2 ;;
    --rounds=*|--workloads=*|--allocators=*|--threads=*|--scale=*|--out=*)
        set_option "${1%%=*}" "${1#*=}"
        shift ;;
    --quick) quick=1; shift ;;
    --callgrind) callgrind_only=1; shift ;;
    --no-micro) do_micro=0; shift ;;
    --no-programs) do_programs=0; shift ;;
    --no-callgrind) do_callgrind=0; shift ;;
    --no-build) do_build=0; shift ;;
    --report) report_only=1; do_build=0; shift ;;
    --list)
        for w in $ALL_WORKLOADS; do printf '%-14s %s\n' "$w" "${DESCRIPTION[$w]}"; done
        exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done

if [ "$quick" = 1 ]; then
    rounds=${rounds:-1}
    scale=${scale:-0.25}
    micro_min_time=0.01
    callgrind_n=16384
else
    rounds=${rounds:-3}
    scale=${scale:-1}
    micro_min_time=0.05
    callgrind_n=65536
fi
cpus=$(nproc 2>/dev/null || echo 2)
threads=${threads:-$(( cpus < 2 ? 2 : cpus ))}
out=${out:-$ROOT/bench/results}
workloads=${workloads:-$(echo "$ALL_WORKLOADS" | tr ' ' ',')}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads wants a positive integer"
[[ $scale =~ ^[0-9]*\.?[0-9]+$ ]] || die "--scale wants a positive number"
IFS=, read -r -a WL <<<"$workloads"
for w in "${WL[@]}"; do
    [ -n "${DESCRIPTION[$w]:-}" ] || die "unknown workload '$w' (known: $ALL_WORKLOADS)"
done
IFS=, read -r -a REQUESTED <<<"$allocators"

progress_tty=0
[ -t 2 ] && progress_tty=1
progress() {    # one line on stderr that shows what runs
    if [ "$progress_tty" = 1 ]; then
        printf '\r\033[K%s' "$*" >&2
    else
        printf '%s\n' "$*" >&2
    fi
}
progress_done() { [ "$progress_tty" = 1 ] && printf '\r\033[K' >&2; return 0; }

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        return 1
    fi
}

install_packages() {
    command -v dpkg-query >/dev/null || {
        echo "bench.sh: not a Debian system: install autotools, g++, Google Benchmark," \
             "gnuplot, valgrind and the peer allocators yourself" >&2
        return 0
    }
    local required=(autoconf automake libtool pkg-config make gcc g++ binutils)
    local optional=(libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4)
    [ "$do_micro" = 1 ] && required+=(libbenchmark-dev)
    [ "$do_callgrind" = 1 ] && required+=(valgrind)
    command -v gnuplot >/dev/null || required+=(gnuplot-nox)
    [ "$do_programs" = 1 ] && optional+=(python3 perl git sqlite3 gcc bash coreutils)
    local missing=() p
    for p in "${required[@]}" "${optional[@]}"; do
        have_pkg "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "bench.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq || die "apt-get update failed (run as root?)"
    if ! as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        # One at a time, so a peer this architecture lacks costs only its column.
        for p in "${missing[@]}"; do
            as_root apt-get install -y -qq --no-install-recommends "$p" >/dev/null ||
                echo "bench.sh: could not install $p" >&2
        done
    fi
    for p in "${required[@]}"; do
        have_pkg "$p" || die "required package $p is missing"
    done
}

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

build() {
    local jobs=$cpus
    cd "$ROOT"
    if [ -f configure.ac ]; then
        if [ ! -x configure ]; then
            progress "bench.sh: autoreconf -fi"
            autoreconf -fi >"$ROOT/bench/autoreconf.log" 2>&1 ||
                { cat "$ROOT/bench/autoreconf.log" >&2; die "autoreconf failed"; }
            rm -f "$ROOT/bench/autoreconf.log"
        fi
        if [ ! -f Makefile ]; then
            progress "bench.sh: ./configure"
            ./configure -q
        fi
        progress "bench.sh: make -j$jobs"
        make -s -j"$jobs" >/dev/null
        if make -n bench-build >/dev/null 2>&1; then
            progress "bench.sh: make bench-build"
            make -s -j"$jobs" bench-build >/dev/null
            progress_done
            return 0
        fi
        echo "bench.sh: the top Makefile does not include bench/bench.am yet; building the" \
             "benchmark programs on their own" >&2
    fi
    make -s -j"$jobs" -f bench/bench.am srcdir=. top_srcdir=. bench-build >/dev/null
    progress_done
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# Did the workload's malloc come from the library we preloaded (glibc: libc)?
malloc_is_from() {
    local used=$1 lib=$2
    [ -n "$used" ] || return 1
    if [ -z "$lib" ]; then
        [ "$(basename "$used")" = libc.so.6 ]
    else
        [ "$(readlink -f "$used")" = "$(readlink -f "$lib")" ]
    fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$2" | head -1; }   # key=value from a file

machine_line() {
    local cpu mem kernel os glibc
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    [ -n "$cpu" ] || cpu=$(uname -m)
    mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
    kernel=$(uname -r)
    os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-Linux}")
    glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null || echo glibc)
    echo "$cpu, $cpus CPUs, $mem RAM; $os, kernel $kernel, $glibc; load average before the run $LOAD_BEFORE"
}

peer_versions() {
    local p v s=""
    for p in libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 libbenchmark1 valgrind; do
        v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) || continue
        [ -n "$v" ] && s+="${s:+, }$p $v"
    done
    echo "$s"
}

# ---------------------------------------------------------------------------
# Start
# ---------------------------------------------------------------------------

if [ "$do_build" = 1 ]; then
    install_packages
    build
fi
cd "$ROOT"
mkdir -p "$out/logs"
notes=()
failures=()
declare -A LIB
ALLOCS=()

if [ "$report_only" = 1 ]; then
    # Everything but the measurements comes back from the last run.
    if [ ! -s "$out/runs.csv" ] || [ ! -s "$out/run.info" ]; then die "no earlier run in $out"; fi
    # shellcheck source=/dev/null
    . "$out/run.info"
    mapfile -t ALLOCS < <(awk -F, 'NR > 1 && !seen[$3]++ { print $3 }' "$out/runs.csv")
    mapfile -t WL < <(awk -F, 'NR > 1 && !seen[$2]++ { print $2 }' "$out/runs.csv")
    if [ -s "$out/notes.txt" ]; then mapfile -t notes <"$out/notes.txt"; fi
else
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
    RUN_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
    for entry in "${REQUESTED[@]}"; do
        a=$(bench_allocator_name "$entry")
        if lib=$(bench_allocator_lib "$entry" "$ROOT" 2>"$out/logs/why"); then
            LIB[$a]=$lib
            ALLOCS+=("$a")
        else
            notes+=("$(cat "$out/logs/why")")
        fi
    done
    rm -f "$out/logs/why"
    for n in "${notes[@]}"; do echo "note: $n" >&2; done
fi
[ ${#ALLOCS[@]} -gt 0 ] || die "no allocator to measure"
BASE=${ALLOCS[0]}
for a in "${ALLOCS[@]}"; do [ "$a" = glibc ] && BASE=glibc; done

if [ "$callgrind_only" = 1 ]; then
    bash "$ROOT/bench/callgrind.sh" --allocators "$allocators" --out "$out" --n "$callgrind_n"
    exit 0
fi

if [ "$report_only" = 0 ]; then
    for bin in bench/runwl "${WL[@]/#/bench/wl_}"; do
        bin=${bin//-/_}
        [ -x "$bin" ] || die "$bin is not built (run without --no-build, or make bench-build)"
    done
fi

# ---------------------------------------------------------------------------
# Workloads: every round runs every workload under every allocator, the
# allocators' order rotating from round to round.
# ---------------------------------------------------------------------------

csv=$out/runs.csv
run_workloads() {
echo "round,workload,allocator,wall_s,maxrss_kib,user_s,sys_s,status,checksum,rss_free90_kib,rss_freeall_kib" >"$csv"
total=$(( rounds * ${#WL[@]} * ${#ALLOCS[@]} ))
done_runs=0
started=$(date +%s)
for (( r = 1; r <= rounds; r++ )); do
    for w in "${WL[@]}"; do
        bin=bench/wl_${w//-/_}
        for (( k = 0; k < ${#ALLOCS[@]}; k++ )); do
            a=${ALLOCS[$(( (k + r - 1) % ${#ALLOCS[@]} ))]}
            done_runs=$(( done_runs + 1 ))
            progress "[$done_runs/$total] round $r/$rounds: $w under $a"
            log=$out/logs/$w.$a.r$r
            extra=()
            [ "$w" = memret ] && extra=(-r "$out/memret_$a.r$r.csv")
            status=0
            bench/runwl -k 900 -p "${LIB[$a]}" -o "$log.time" -- \
                "$bin" -s "$scale" -t "$threads" "${extra[@]}" >"$log.out" 2>"$log.err" || status=$?
            checksum=$(awk '$1 == "checksum" { print $3 }' "$log.out")
            used=$(field allocator "$log.out")
            if [ "$status" = 3 ]; then
                failures+=("$w under $a found a block overwritten: memory corruption (see $log.err)")
            elif [ "$status" != 0 ]; then
                failures+=("$w under $a exited with status $status (see $log.err)")
            elif [ -z "$checksum" ]; then
                failures+=("$w under $a printed no checksum (see $log.out)")
            elif ! malloc_is_from "$used" "${LIB[$a]}"; then
                failures+=("$w under $a took malloc from ${used:-?}: LD_PRELOAD of ${LIB[$a]} did not take effect")
            fi
            printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$r" "$w" "$a" \
                "$(field wall_s "$log.time")" "$(field maxrss_kib "$log.time")" \
                "$(field user_s "$log.time")" "$(field sys_s "$log.time")" "$status" \
                "${checksum:-none}" "$(field rss_free90_kib "$log.out")" \
                "$(field rss_freeall_kib "$log.out")" >>"$csv"
        done
    done
done
progress_done
elapsed=$(( $(date +%s) - started ))
}

if [ "$report_only" = 0 ]; then
    run_workloads
    {
        printf 'rounds=%q\nscale=%q\nthreads=%q\nelapsed=%q\n' "$rounds" "$scale" "$threads" "$elapsed"
        printf 'LOAD_BEFORE=%q\nRUN_DATE=%q\nBENCH_CMDLINE=%q\n' "$LOAD_BEFORE" "$RUN_DATE" "$BENCH_CMDLINE"
    } >"$out/run.info"
fi

# Checksums: one value per workload, whatever the allocator and round.
for w in "${WL[@]}"; do
    sums=$(awk -F, -v w="$w" '$2 == w && $9 != "none" { print $9 }' "$csv" | sort -u)
    if [ "$(echo "$sums" | grep -c .)" -gt 1 ]; then
        detail=$(awk -F, -v w="$w" '$2 == w && $9 != "none" { printf "%s(r%s)=%s ", $3, $1, $9 }' "$csv")
        failures+=("CHECKSUM MISMATCH in $w: $detail")
    fi
done

# Medians per workload and allocator: T wall time, C CPU time (user + sys),
# M peak RSS; F90 and FALL the RSS memret reports after its two frees.
declare -A T C M F90 FALL NOISY
# (max - min) / median of a column over rounds, > 0.25: the machine was noisy.
spread_over() { sort -g | awk '{ v[NR] = $1 } END { if (NR < 3) exit; m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; if (m > 0 && (v[NR] - v[1]) / m > 0.25) print 1 }'; }
sel() {   # column $1 (0: user + sys) of the successful runs of $w under $a
    awk -F, -v w="$w" -v a="$a" -v c="$1" '$2 == w && $3 == a && $8 == 0 {
        v = c == 0 ? $6 + $7 : $c; if (v != "") print v }' "$csv"
}
for w in "${WL[@]}"; do
    for a in "${ALLOCS[@]}"; do
        T[$w,$a]=$(sel 4 | median)
        NOISY[$w,$a]=$(sel 4 | spread_over)
        C[$w,$a]=$(sel 0 | median)
        M[$w,$a]=$(sel 5 | median)
        F90[$w,$a]=$(sel 10 | median)
        FALL[$w,$a]=$(sel 11 | median)
    done
done

ratio() { awk -v x="$1" -v b="$2" 'BEGIN { if (x == "" || b == "" || b + 0 == 0) print ""; else printf "%.2f\n", x / b }'; }
geomean() { awk '$1 > 0 { s += log($1); n++ } END { if (n) printf "%.2f", exp(s / n) }'; }
metric() {   # kind workload allocator
    case $1 in
    T) echo "${T[$2,$3]}" ;;
    C) echo "${C[$2,$3]}" ;;
    M) echo "${M[$2,$3]}" ;;
    esac
}
# memret's time is mostly its fixed pauses: it counts for memory only.
counts_for() { [ "$1" = M ] || [ "$2" != memret ]; }

# Tables: rows are workloads, columns allocators; the baseline absolute, the
# others absolute and as a ratio.
workload_table() {   # $1 = T (wall time), C (CPU time) or M (peak RSS)
    local kind=$1 w a v b row head sep ratios cell noisy_cells=""
    head="| workload |"
    sep="|---|"
    for a in "${ALLOCS[@]}"; do head+=" $a |"; sep+="---:|"; done
    echo "$head"
    echo "$sep"
    for w in "${WL[@]}"; do
        counts_for "$kind" "$w" || continue
        row="| $w |"
        b=$(metric "$kind" "$w" "$BASE")
        for a in "${ALLOCS[@]}"; do
            v=$(metric "$kind" "$w" "$a")
            if [ -z "$v" ]; then row+=" failed |"; continue; fi
            if [ "$kind" = M ]; then
                cell=$(awk -v v="$v" 'BEGIN { printf "%.1f MiB", v / 1024 }')
            else
                cell=$(awk -v v="$v" 'BEGIN { printf "%.3f s", v }')
            fi
            if [ "$a" != "$BASE" ] && [ -n "$b" ]; then cell+=" ($(ratio "$v" "$b")x)"; fi
            if [ "$kind" = T ] && [ -n "${NOISY[$w,$a]}" ]; then cell+=" †"; noisy_cells=1; fi
            row+=" $cell |"
        done
        echo "$row"
    done
    row="| **geometric mean, ratio to $BASE** |"
    for a in "${ALLOCS[@]}"; do
        ratios=$(for w in "${WL[@]}"; do
            counts_for "$kind" "$w" || continue
            ratio "$(metric "$kind" "$w" "$a")" "$(metric "$kind" "$w" "$BASE")"
        done | geomean)
        row+=" **${ratios:-n/a}** |"
    done
    echo "$row"
    if [ "$kind" = M ]; then
        # Tiny workloads measure mostly an allocator's fixed start-up
        # footprint; this row weighs only those that hold real data.
        row="| geometric mean, workloads of 16 MiB and more |"
        for a in "${ALLOCS[@]}"; do
            ratios=$(for w in "${WL[@]}"; do
                b=$(metric M "$w" "$BASE")
                if [ -z "$b" ] || [ "${b%.*}" -lt 16384 ]; then continue; fi
                ratio "$(metric M "$w" "$a")" "$b"
            done | geomean)
            row+=" ${ratios:-n/a} |"
        done
        echo "$row"
    fi
    if [ "$kind" = T ] && [ -n "$noisy_cells" ]; then
        echo
        echo "† the rounds of this cell differ by more than 25 % of the median: the machine was" \
             "busy; more --rounds steady the median (runs.csv has every round)."
    fi
}

memret_table() {
    local a
    echo "| allocator | peak RSS | 1 s after freeing 90 % | 1 s after freeing all |"
    echo "|---|---:|---:|---:|"
    for a in "${ALLOCS[@]}"; do
        awk -v a="$a" -v p="${M[memret,$a]}" -v f="${F90[memret,$a]}" -v z="${FALL[memret,$a]}" '
            function mib(x) { return x == "" ? "n/a" : sprintf("%.0f MiB", x / 1024) }
            BEGIN { printf "| %s | %s | %s | %s |\n", a, mib(p), mib(f), mib(z) }'
    done
}

# ---------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------

charts=()
# One colour per allocator in every chart.
color_of() {
    case $1 in
    glibc) echo "#404040" ;; wheap) echo "#1f5fbf" ;; jemalloc) echo "#1b9e77" ;;
    mimalloc) echo "#d95f02" ;; tcmalloc) echo "#7570b3" ;; *) echo "#e7298a" ;;
    esac
}

make_ratio_chart() {   # kind T|M, output png, title, ylabel
    local kind=$1 png=$2 title=$3 ylabel=$4 dat=$out/${2%.png}.dat w a v lo=1 hi=1 others=() colors=""
    for a in "${ALLOCS[@]}"; do
        [ "$a" != "$BASE" ] && others+=("$a") && colors+="$(color_of "$a") "
    done
    [ ${#others[@]} -gt 0 ] || return 0
    {
        printf 'workload'; printf ' %s' "${others[@]}"; echo
        for w in "${WL[@]}"; do
            counts_for "$kind" "$w" || continue
            printf '%s' "$w"
            for a in "${others[@]}"; do
                v=$(ratio "$(metric "$kind" "$w" "$a")" "$(metric "$kind" "$w" "$BASE")")
                printf ' %s' "${v:-NaN}"
            done
            echo
        done
    } >"$dat"
    read -r lo hi < <(awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "NaN") { if (lo == "" || $i < lo) lo = $i; if (hi == "" || $i > hi) hi = $i } }
        END { if (lo == "") { print "none none"; exit } l = lo / 1.25; if (l > 0.5) l = 0.5; h = hi * 1.3; if (h < 2) h = 2; print l, h }' "$dat")
    [ "$lo" != none ] || return 0
    gnuplot -e "kind='ratio'; data='$dat'; out='$out/$png'; title='$title'; ylabel='$ylabel'; ncols=$(( ${#others[@]} + 1 )); ymin=$lo; ymax=$hi; baseline='$BASE'; colors='$colors'" \
        "$ROOT/bench/charts.gp" && charts+=("$png")
}

make_memret_chart() {
    local files="" names="" colors="" a f t1=0 t2=0
    for a in "${ALLOCS[@]}"; do
        f=$out/memret_$a.r1.csv
        [ -s "$f" ] || continue
        files+="$f "; names+="$a "; colors+="$(color_of "$a") "
    done
    [ -n "$files" ] || return 0
    # Phase marks from the baseline's run: the first sample of each phase.
    f=$out/memret_$BASE.r1.csv
    if [ -s "$f" ]; then
        read -r t1 t2 < <(awk -F, 'NR > 1 && $3 == 1 && !a { a = $1 } NR > 1 && $3 == 2 && !b { b = $1 }
                                   END { print a + 0, b + 0 }' "$f")
    fi
    gnuplot -e "kind='lines'; files='$files'; names='$names'; colors='$colors'; t1=$t1; t2=$t2; out='$out/memret_rss.png'; title='Memory return: RSS over time (allocate, free 90 %, light use, free all, light use)'; ylabel='RSS (MiB)'" \
        "$ROOT/bench/charts.gp" && charts+=(memret_rss.png)
}

if command -v gnuplot >/dev/null; then
    progress "bench.sh: charts"
    make_ratio_chart T time_ratio.png "Workloads: wall time relative to $BASE (lower is better)" "time / $BASE time" || true
    make_ratio_chart M rss_ratio.png "Workloads: peak RSS relative to $BASE (lower is better)" "peak RSS / $BASE peak RSS" || true
    [[ " ${WL[*]} " == *" memret "* ]] && { make_memret_chart || true; }
    progress_done
else
    notes+=("gnuplot is not installed: no charts")
fi

# ---------------------------------------------------------------------------
# Google Benchmark microbenchmarks: glibc, wheap and its private heaps in one
# process, then one process per peer under LD_PRELOAD.
# ---------------------------------------------------------------------------

micro_table=""
run_micro() {
    rm -f "$out"/micro_*.csv
    wheap_so=""
    [[ ",$allocators," == *",wheap,"* ]] && [ -e src/.libs/libwheap.so ] && wheap_so=$(readlink -f src/.libs/libwheap.so)
    progress "bench.sh: microbenchmarks (glibc${wheap_so:+ and wheap, if it is ready})"
    if ! bench/microbench --wheap="$wheap_so" --benchmark_min_time="$micro_min_time" \
            --benchmark_out="$out/micro_base.csv" --benchmark_out_format=csv \
            >"$out/logs/micro_base.txt" 2>&1; then
        failures+=("microbench failed (see $out/logs/micro_base.txt)")
    fi
    # An initial-exec TLS build of wheap may refuse dlopen (PITFALLS row 2):
    # then measure its APIs with the library preloaded instead.
    if [ -n "${LIB[wheap]:-}" ] && grep -q 'wheap: dlopen failed' "$out/logs/micro_base.txt"; then
        progress "bench.sh: microbenchmarks (glibc and wheap, wheap preloaded)"
        if ! env LD_PRELOAD="${LIB[wheap]}" bench/microbench --benchmark_min_time="$micro_min_time" \
                --benchmark_out="$out/micro_base.csv" --benchmark_out_format=csv \
                >"$out/logs/micro_base.txt" 2>&1; then
            failures+=("microbench with wheap preloaded failed (see $out/logs/micro_base.txt)")
        fi
    fi
    grep '^note:' "$out/logs/micro_base.txt" | sed 's/^note: /microbench: /' >"$out/logs/micro_notes" || true
    while IFS= read -r n; do notes+=("$n"); done <"$out/logs/micro_notes"
    for a in "${ALLOCS[@]}"; do
        case $a in glibc|wheap) continue ;; esac
        progress "bench.sh: microbenchmarks ($a)"
        if ! env LD_PRELOAD="${LIB[$a]}" BENCH_PRELOAD_NAME="$a" bench/microbench --only-preload \
                --benchmark_min_time="$micro_min_time" \
                --benchmark_out="$out/micro_$a.csv" --benchmark_out_format=csv \
                >"$out/logs/micro_$a.txt" 2>&1; then
            failures+=("microbench under $a failed (see $out/logs/micro_$a.txt)")
        fi
    done
    progress_done
}

if [ "$report_only" = 1 ]; then
    :
elif [ "$do_micro" = 1 ] && [ -x bench/microbench ]; then
    run_micro
elif [ "$do_micro" = 1 ]; then
    notes+=("bench/microbench is not built (libbenchmark-dev missing?): no microbenchmarks")
fi
if [ -s "$out/micro_base.csv" ]; then
    # One row per case, one column per allocator: ns per item (ratio to glibc).
    micro_table=$(cat "$out"/micro_base.csv "$out"/micro_*.csv 2>/dev/null | awk -F, '
        $1 == "name" { next }
        NF >= 7 && $1 ~ /^"/ {
            name = $1; gsub(/"/, "", name)
            n = split(name, part, "/")
            alloc = part[2]; key = part[1]; param = ""
            for (i = 3; i <= n; i++) {
                if (part[i] == "real_time") continue
                p = part[i]; sub(/^threads:/, "", p); if (p != part[i]) p = p " thr"
                param = param (param == "" ? "" : " ") p
            }
            if (param != "") key = key " " param
            if ($7 == "" || $7 + 0 <= 0) next
            if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }
            if (!(alloc in aseen)) { aseen[alloc] = 1; allocs[++na] = alloc }
            ns[key, alloc] = 1e9 / $7
        }
        END {
            if (nk == 0) exit
            printf "| case |"; for (j = 1; j <= na; j++) printf " %s |", allocs[j]; printf "\n"
            printf "|---|"; for (j = 1; j <= na; j++) printf "---:|"; printf "\n"
            for (i = 1; i <= nk; i++) {
                k = keys[i]; printf "| %s |", k
                for (j = 1; j <= na; j++) {
                    a = allocs[j]
                    if (!((k, a) in ns)) { printf " |"; continue }
                    v = ns[k, a]
                    cell = v < 10 ? sprintf("%.2f", v) : v < 1000 ? sprintf("%.1f", v) : sprintf("%.0f", v)
                    if (a != "glibc" && (k, "glibc") in ns) cell = cell sprintf(" (%.2fx)", v / ns[k, "glibc"])
                    printf " %s |", cell
                }
                printf "\n"
            }
        }')
    [ -n "$micro_table" ] && echo "$micro_table" >"$out/micro.md"
fi

# ---------------------------------------------------------------------------
# Real programs
# ---------------------------------------------------------------------------

programs_md=""
if [ "$report_only" = 1 ]; then
    [ -s "$out/programs.md" ] && programs_md=$(cat "$out/programs.md")
elif [ "$do_programs" = 1 ] && [ "$quick" = 1 ]; then
    notes+=("real programs (bench/programs.sh) are not part of --quick")
elif [ "$do_programs" = 1 ]; then
    progress "bench.sh: real programs"
    if ! bash "$ROOT/bench/programs.sh" --allocators "$allocators" --rounds "$rounds" \
            --out "$out" >/dev/null 2>"$out/logs/programs.err"; then
        failures+=("a real program failed or its output differed (see $out/programs.md)")
    fi
    [ -s "$out/programs.md" ] && programs_md=$(cat "$out/programs.md")
    progress_done
fi

# ---------------------------------------------------------------------------
# Instruction counts
# ---------------------------------------------------------------------------

callgrind_md=""
if [ "$report_only" = 1 ]; then
    [ -s "$out/callgrind.md" ] && callgrind_md=$(grep -v '^note:' "$out/callgrind.md")
elif [ "$do_callgrind" = 1 ]; then
    if command -v valgrind >/dev/null && [ -x bench/cg_pairs ]; then
        progress "bench.sh: callgrind"
        if bash "$ROOT/bench/callgrind.sh" --allocators "$allocators" \
                --out "$out" --n "$callgrind_n" >/dev/null 2>"$out/logs/callgrind.err"; then
            callgrind_md=$(grep -v '^note:' "$out/callgrind.md")
        else
            failures+=("callgrind run failed (see $out/logs/callgrind.err)")
        fi
        # What the default hardening costs: the same count for measurement
        # builds without it (bench/hardening.sh).
        if [ "$quick" = 0 ] && [ "${allocators#*wheap}" != "$allocators" ]; then
            progress "bench.sh: hardening cost"
            if bash "$ROOT/bench/hardening.sh" --out "$out" --n "$callgrind_n" \
                    >/dev/null 2>"$out/logs/hardening.err"; then
                callgrind_md+=$'\n\n'$(cat "$out/hardening.md")
            else
                notes+=("hardening cost not measured (see $out/logs/hardening.err)")
            fi
        fi
        progress_done
    else
        notes+=("valgrind or bench/cg_pairs missing: no instruction counts")
    fi
fi

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

if [ "$report_only" = 0 ]; then
    if [ ${#notes[@]} -gt 0 ]; then printf '%s\n' "${notes[@]}"; fi >"$out/notes.txt"
fi

{
    echo "# wheap benchmark results"
    echo
    echo "- Machine: $(machine_line)"
    echo "- Allocators: ${ALLOCS[*]} ($(peer_versions))"
    echo "- Run: $RUN_DATE, $rounds round(s), scale $scale, $threads threads," \
         "workloads took ${elapsed} s; medians over rounds, allocators interleaved in each round"
    echo "- Command: scripts/bench.sh${BENCH_CMDLINE:+ $BENCH_CMDLINE}"
    echo
    echo "## Workloads: wall time"
    echo
    echo "Median wall time; in brackets the ratio to $BASE (lower is better)."
    echo
    workload_table T
    echo
    echo "## Workloads: CPU time"
    echo
    echo "Median user + system CPU time; in brackets the ratio to $BASE (lower is better)." \
         "Steadier than wall time on a busy machine, blind to time spent waiting."
    echo
    workload_table C
    echo
    echo "## Workloads: peak RSS"
    echo
    echo "Median peak resident set (ru_maxrss); in brackets the ratio to $BASE (lower is better)."
    echo
    workload_table M
    if [[ " ${WL[*]} " == *" memret "* ]]; then
        echo
        echo "## Memory return (memret)"
        echo
        echo "RSS sampled every 50 ms while $(awk -v s="$scale" 'BEGIN { printf "%.0f MiB", 1024 * s }')" \
             "are allocated on $threads threads, 90 % freed, then the rest, each free followed by" \
             "1.5 s of light allocation (medians over rounds; lower is better)."
        echo
        memret_table
    fi
    if [ ${#charts[@]} -gt 0 ]; then
        echo
        echo "## Charts"
        echo
        for c in "${charts[@]}"; do echo "![${c%.png}]($c)"; done
    fi
    echo
    echo "## Workloads"
    echo
    for w in "${WL[@]}"; do echo "- **$w**: ${DESCRIPTION[$w]}"; done
    if [ -n "$micro_table" ]; then
        echo
        echo "## Microbenchmarks (Google Benchmark)"
        echo
        echo "Nanoseconds per allocation (with its free; per realloc for realloc cases);" \
             "in brackets the ratio to glibc. heap-noser / heap-ser: wheap_heap_alloc/free on a" \
             "private HEAP_NO_SERIALIZE / serialized heap. \"thr\" cases give aggregate throughput."
        echo
        echo "$micro_table"
    fi
    if [ -n "$programs_md" ]; then
        echo
        echo "## Real programs"
        echo
        echo "$programs_md"
    fi
    if [ -n "$callgrind_md" ]; then
        echo
        echo "## Instructions per malloc+free pair"
        echo
        echo "$callgrind_md"
    fi
    if [ ${#notes[@]} -gt 0 ]; then
        echo
        echo "## Notes"
        echo
        for n in "${notes[@]}"; do echo "- $n"; done
    fi
    if [ ${#failures[@]} -gt 0 ]; then
        echo
        echo "## FAILURES"
        echo
        for f in "${failures[@]}"; do echo "- **$f**"; done
    fi
} | tee "$out/results.md"

echo >&2
echo "bench.sh: results in $out (results.md, runs.csv, ${charts[*]:-no charts})" >&2
if [ ${#failures[@]} -gt 0 ]; then
    {
        echo "=================================================================="
        echo "bench.sh: FAILED"
        for f in "${failures[@]}"; do echo "  $f"; done
        echo "=================================================================="
    } >&2
    exit 1
fi
