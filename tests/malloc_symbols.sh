#!/bin/sh
# PITFALLS 4: an incomplete symbol set mixes allocators.  Every malloc-family
# function that the installed libc.so.6 exports (read from its dynamic symbol
# table, so a newer glibc's additions are demanded too) must be exported by
# libwheap.so, with free_sized, free_aligned_sized, __posix_memalign, every
# C++ operator new/delete (plain, array, nothrow, sized, aligned, aligned
# nothrow) and the wheap_* twins of API.md layer 3.  A library built with
# --disable-malloc-override (no `malloc` exported) must instead export the
# twins and leak none of the libc names or operators.
#
# The library is $WHEAP_TEST_PRELOAD when set (to validate this test against
# another allocator), else $top_builddir/src/.libs/libwheap.so.
set -u
LC_ALL=C        # sort and comm must agree on the order
export LC_ALL
top_builddir=${top_builddir:-.}
lib=${WHEAP_TEST_PRELOAD:-$top_builddir/src/.libs/libwheap.so}

command -v nm >/dev/null 2>&1 || { echo "SKIP: nm is not installed"; exit 77; }
[ -f "$lib" ] || { echo "SKIP: $lib not built (--disable-shared?)"; exit 77; }

libc=$(ldd /bin/sh 2>/dev/null | awk '$1 == "libc.so.6" { print $3 }')
[ -f "$libc" ] || libc=/lib/x86_64-linux-gnu/libc.so.6
[ -f "$libc" ] || { echo "hard error: libc.so.6 not found"; exit 99; }

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

# Defined functions (text, weak, indirect) without their version suffix.
functions() {
    nm -D --defined-only "$1" | awk '$2 ~ /^[TWi]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u
}

# The malloc family as libc names it; the obsolete hook variables are data
# (V/B/D), not functions, and drop out above.
family='^(__libc_)?(malloc|free|cfree|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|malloc_trim|mallopt|mallinfo|mallinfo2|malloc_stats|malloc_info|free_sized|free_aligned_sized)$'
functions "$libc" | grep -E "$family" >"$tmp/libc"
for must in malloc free calloc realloc __libc_malloc; do
    grep -qx "$must" "$tmp/libc" || { echo "hard error: $libc: no $must? pattern broken"; exit 99; }
done

# C++ operators: the fixed list, plus whatever the installed libstdc++ adds.
{
    for op in _Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t \
        _ZnwmSt11align_val_t _ZnamSt11align_val_t \
        _ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t \
        _ZdlPv _ZdaPv _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t _ZdlPvm _ZdaPvm \
        _ZdlPvSt11align_val_t _ZdaPvSt11align_val_t \
        _ZdlPvSt11align_val_tRKSt9nothrow_t _ZdaPvSt11align_val_tRKSt9nothrow_t \
        _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t; do
        echo "$op"
    done
    cxx=$(ldd "$lib" 2>/dev/null | awk '$1 ~ /^libstdc\+\+/ { print $3 }')
    [ -f "$cxx" ] && functions "$cxx" | grep -E '^_Z(nw|na|dl|da)[mPv]'
} | sort -u >"$tmp/cxx"

{ cat "$tmp/libc"; printf '%s\n' free_sized free_aligned_sized __posix_memalign; cat "$tmp/cxx"; } |
    sort -u >"$tmp/override"
printf '%s\n' wheap_malloc wheap_calloc wheap_realloc wheap_reallocarray wheap_free \
    wheap_free_sized wheap_free_aligned_sized wheap_aligned_alloc wheap_posix_memalign \
    wheap_memalign wheap_valloc wheap_pvalloc wheap_malloc_usable_size wheap_malloc_trim \
    wheap_mallinfo2 wheap_malloc_stats wheap_malloc_info | sort -u >"$tmp/twins"

functions "$lib" >"$tmp/lib"
has() { grep -qx "$1" "$tmp/lib"; }
missing() { comm -23 "$1" "$tmp/lib"; }   # names of $1 the library lacks
present() { comm -12 "$1" "$tmp/lib"; }   # names of $1 the library has

echo "library: $lib"
echo "libc:    $libc ($(wc -l <"$tmp/libc") malloc-family functions), $(wc -l <"$tmp/cxx") C++ operators"
fail=0
wheap=no; has wheap_version && wheap=yes

if has malloc || has free; then
    echo "mode: malloc override"
    m=$(missing "$tmp/override")
    if [ -n "$m" ]; then
        echo "FAILED: not exported (the process would mix allocators):"; echo "$m" | sed 's/^/  /'
        fail=1
    fi
    if [ "$wheap" = yes ]; then
        m=$(missing "$tmp/twins")
        [ -z "$m" ] || { echo "FAILED: wheap_* twins missing:"; echo "$m" | sed 's/^/  /'; fail=1; }
    else
        echo "note: not wheap (no wheap_version): twins not checked"
    fi
elif [ "$wheap" = yes ]; then
    leaked=$(present "$tmp/override")
    if [ -n "$leaked" ]; then
        echo "FAILED: no malloc, yet these libc names or operators are exported:"
        echo "$leaked" | sed 's/^/  /'
        fail=1
    fi
    if ! has wheap_malloc; then
        [ "$fail" = 0 ] || exit 1
        echo "SKIP: libwheap exports no malloc layer yet (neither malloc nor wheap_malloc)"
        exit 77
    fi
    echo "mode: --disable-malloc-override"
    m=$(missing "$tmp/twins")
    [ -z "$m" ] || { echo "FAILED: wheap_* twins missing:"; echo "$m" | sed 's/^/  /'; fail=1; }
else
    echo "hard error: $lib is neither an allocator nor wheap"
    exit 99
fi
if [ "$fail" = 0 ]; then
    if has malloc || has free; then
        echo "all $(wc -l <"$tmp/override") libc names and operators exported"
    else
        echo "none of the $(wc -l <"$tmp/override") libc names and operators exported"
    fi
    [ "$wheap" = yes ] && echo "all $(wc -l <"$tmp/twins") wheap_* twins exported"
fi
exit $fail
