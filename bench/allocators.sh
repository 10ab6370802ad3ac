# shellcheck shell=bash
# Where each allocator of the suite lives.  Sourced (bash) by
# scripts/bench.sh and bench/callgrind.sh; defines functions only.
#
#   bench_allocator_lib ENTRY ROOT  prints the library to LD_PRELOAD for ENTRY
#                                   (empty for glibc) or, failing, prints why
#                                   on stderr and returns 1
#   bench_allocator_name ENTRY      the name to show for ENTRY
#   bench_known_allocators          the names, glibc first
#
# ENTRY is a known name, or NAME=PATH for any other malloc replacement (a
# development build of a peer, say): PATH is preloaded under NAME.

bench_known_allocators() {
    echo "glibc wheap jemalloc mimalloc tcmalloc"
}

# Debian multiarch triplet: x86_64-linux-gnu, aarch64-linux-gnu, ...
bench_multiarch() {
    dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
        gcc -print-multiarch 2>/dev/null | grep . ||
        gcc -dumpmachine 2>/dev/null | sed 's/-pc-linux/-linux/; s/-unknown-linux/-linux/'
}

# Path of a shared library by soname: ldconfig's cache first (the entry in
# this architecture's directory when there are several), then the usual
# Debian directories.
bench_find_soname() {
    local so=$1 ma p d
    ma=$(bench_multiarch)
    p=$(/sbin/ldconfig -p 2>/dev/null | awk -v so="$so" -v ma="$ma" '
        $1 == so { path = $NF; if (first == "") first = path; if (ma != "" && index(path, "/" ma "/")) best = path }
        END { print (best != "" ? best : first) }')
    if [ -n "$p" ] && [ -e "$p" ]; then
        echo "$p"
        return 0
    fi
    for d in "/usr/lib/$ma" "/lib/$ma" /usr/lib64 /usr/lib /usr/local/lib; do
        if [ -e "$d/$so" ]; then
            echo "$d/$so"
            return 0
        fi
    done
    return 1
}

# True when the library defines malloc itself (wheap's malloc layer landed).
bench_exports_malloc() {
    nm -D --defined-only "$1" 2>/dev/null | awk '{ sub(/@.*/, "", $3) } $3 == "malloc" { found = 1 } END { exit !found }'
}

bench_allocator_name() {
    echo "${1%%=*}"
}

bench_allocator_lib() {
    local name=$1 root=${2:-.} so
    case $name in
    *=*)
        so=${name#*=}
        name=${name%%=*}
        if ! [[ $name =~ ^[A-Za-z0-9_.+-]+$ ]]; then
            echo "bad allocator name '$name'" >&2
            return 1
        fi
        if [ ! -e "$so" ]; then
            echo "$name left out: $so does not exist" >&2
            return 1
        fi
        readlink -f "$so"
        return 0 ;;
    glibc)
        echo ""
        return 0 ;;
    wheap)
        so=$root/src/.libs/libwheap.so
        if [ ! -e "$so" ]; then
            echo "wheap left out: $so is not built" >&2
            return 1
        fi
        if ! bench_exports_malloc "$so"; then
            echo "wheap left out: $so does not export malloc yet (the malloc layer has not landed)" >&2
            return 1
        fi
        readlink -f "$so"
        return 0 ;;
    jemalloc) so=libjemalloc.so.2 ;;
    mimalloc) so=libmimalloc.so.2 ;;
    tcmalloc) so=libtcmalloc_minimal.so.4 ;;
    *)
        echo "unknown allocator '$name' (known: $(bench_known_allocators))" >&2
        return 1 ;;
    esac
    if ! bench_find_soname "$so"; then
        echo "$name left out: $so not found (install its Debian package)" >&2
        return 1
    fi
}
