# Sourced by the shell tests that run programs with libwheap.so preloaded
# (tests/preload_*.sh, tests/pitfall_*.sh).  POSIX sh: make check runs the
# tests with $(SHELL).
#
# The library is $WHEAP_TEST_PRELOAD when set (an absolute path; the tests
# are validated that way against jemalloc and mimalloc), else
# $top_builddir/src/.libs/libwheap.so.  Programs come from /usr/bin first:
# these tests are about Debian's binaries, not whatever a user's PATH puts
# in front of them.

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
PATH=/usr/bin:/bin:$PATH
export PATH
LC_ALL=C
export LC_ALL

pc_name=$(basename "$0" .sh)
pc_lib=${WHEAP_TEST_PRELOAD:-$top_builddir/src/.libs/libwheap.so}
case "$pc_lib" in /*) ;; *) pc_lib=$(pwd)/$pc_lib ;; esac

pc_skip() { echo "SKIP: $*"; exit 77; }
pc_hard_error() { echo "ERROR: $*"; exit 99; }
pc_failures=0
pc_fail() { echo "FAILED: $*"; pc_failures=$((pc_failures + 1)); }
pc_done() {
    [ "$pc_failures" -eq 0 ] || { echo "$pc_failures check(s) failed"; exit 1; }
    exit 0
}

# A scratch directory, removed at exit.
pc_tmp=$(mktemp -d "${TMPDIR:-/tmp}/wheap-$pc_name.XXXXXX") || pc_hard_error "mktemp failed"
trap 'rm -rf "$pc_tmp"' EXIT
trap 'exit 1' INT TERM

pc_now() { date +%s.%N; }
pc_elapsed() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

# The library exists.
pc_require_lib() {
    [ -f "$pc_lib" ] || pc_skip "$pc_lib not built (--disable-shared?)"
}

# Does the library define function $1?
pc_lib_exports() {
    nm -D --defined-only "$pc_lib" 2>/dev/null |
        awk -v s="$1" '$2 ~ /^[TWi]$/ { sub(/@.*/, "", $3); if ($3 == s) f = 1 } END { exit !f }'
}

# The library replaces malloc; skip until it does (the malloc layer may land
# after these tests).
pc_require_malloc() {
    pc_require_lib
    command -v nm >/dev/null 2>&1 || pc_skip "nm is not installed"
    pc_lib_exports malloc || pc_skip "$pc_lib exports no malloc yet: nothing to preload"
}

pc_is_wheap() { pc_lib_exports wheap_version; }

# A program, or skip with a note.
pc_require_program() {
    command -v "$1" >/dev/null 2>&1 ||
        pc_skip "$1 is not installed (scripts/check.sh installs it)"
}

# The dynamic linker really loads the library into a child.
pc_check_preload_active() {
    maps=$(LD_PRELOAD=$pc_lib cat /proc/self/maps 2>&1)
    case "$maps" in
        *"$(basename "$pc_lib")"*) ;;
        *) pc_hard_error "LD_PRELOAD=$pc_lib did not load it: $(echo "$maps" | head -3)" ;;
    esac
}

# pc_run TAG SECONDS PRELOAD CMD...: runs CMD (with PRELOAD, "" for none)
# under a timeout; stdout, stderr, exit status and time go to $pc_tmp/TAG.*.
pc_run() {
    tag=$1 limit=$2 preload=$3
    shift 3
    t0=$(pc_now)
    if [ -n "$preload" ]; then
        timeout -k 5 "$limit" env LD_PRELOAD="$preload" "$@" \
            >"$pc_tmp/$tag.out" 2>"$pc_tmp/$tag.err" </dev/null
    else
        timeout -k 5 "$limit" "$@" >"$pc_tmp/$tag.out" 2>"$pc_tmp/$tag.err" </dev/null
    fi
    echo $? >"$pc_tmp/$tag.rc"
    pc_elapsed "$t0" "$(pc_now)" >"$pc_tmp/$tag.time"
}

# pc_compare NAME SECONDS CMD...: runs CMD plainly, then with the library
# preloaded; both must exit 0 within the limit with identical stdout and
# stderr.  A failing plain run is this test's own bug: hard error.
pc_compare() {
    name=$1 limit=$2
    shift 2
    pc_run "$name.plain" "$limit" "" "$@"
    rc=$(cat "$pc_tmp/$name.plain.rc")
    if [ "$rc" != 0 ]; then
        echo "plain run of $name: exit $rc"; tail -20 "$pc_tmp/$name.plain.err"
        pc_hard_error "$name fails without the library: the test is broken"
    fi
    pc_run "$name.lib" "$limit" "$pc_lib" "$@"
    rc=$(cat "$pc_tmp/$name.lib.rc")
    echo "$name: plain $(cat "$pc_tmp/$name.plain.time") s, preloaded $(cat "$pc_tmp/$name.lib.time") s," \
        "$(wc -c <"$pc_tmp/$name.plain.out") bytes of output"
    case "$rc" in
        0) ;;
        124|137) pc_fail "$name under $pc_lib: still running after $limit s (hang?)"; return ;;
        *) pc_fail "$name under $pc_lib: exit $rc"; tail -20 "$pc_tmp/$name.lib.err"; return ;;
    esac
    if ! cmp -s "$pc_tmp/$name.plain.out" "$pc_tmp/$name.lib.out"; then
        pc_fail "$name: stdout differs under $pc_lib"
        diff "$pc_tmp/$name.plain.out" "$pc_tmp/$name.lib.out" | head -20
    fi
    if ! cmp -s "$pc_tmp/$name.plain.err" "$pc_tmp/$name.lib.err"; then
        pc_fail "$name: stderr differs under $pc_lib"
        diff "$pc_tmp/$name.plain.err" "$pc_tmp/$name.lib.err" | head -20
    fi
}
