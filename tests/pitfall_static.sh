#!/bin/sh
# PITFALLS 12: static linking.  `$CC -static t.c -lwheap -lpthread` must link
# without duplicate malloc definitions against libc.a, the linker must take
# malloc (and free, calloc, realloc) from libwheap.a, and the program (malloc,
# calloc, realloc, free on two threads, the wheap_* API) must run.
#
# Skips when libc.a or libwheap.a is missing.  Until libwheap exports malloc,
# the link and the run are still done (the wheap_* API in a static program),
# then the test reports SKIP.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"

cc=$(sed -n 's/^CC = //p' "$top_builddir/Makefile" 2>/dev/null)
cc=${cc:-${CC:-cc}}
libc_a=$($cc -print-file-name=libc.a 2>/dev/null)
case "$libc_a" in /*) [ -f "$libc_a" ] || libc_a= ;; *) libc_a= ;; esac
[ -n "$libc_a" ] || pc_skip "no libc.a for $cc (libc6-dev without static libraries?)"
wheap_a=$top_builddir/src/.libs/libwheap.a
[ -f "$wheap_a" ] || pc_skip "$wheap_a not built (--disable-static?)"

cat >"$pc_tmp/t.c" <<'EOF'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wheap.h>

static void *work(void *arg)
{
    for (int i = 0; i < 10000; i++) {
        char *p = malloc((size_t)(i % 5000) + 1);
        if (!p) return arg;
        memset(p, i, (size_t)(i % 5000) + 1);
        char *q = realloc(p, (size_t)(i % 7000) + 1);
        if (!q) return arg;
        free(q);
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    void *rc = NULL;
    if (pthread_create(&t, NULL, work, (void *)1)) return 2;
    if (work((void *)1)) return 3;
    pthread_join(t, &rc);
    if (rc) return 4;
    char *z = calloc(1000, 1000);
    if (!z) return 5;
    for (int i = 0; i < 1000000; i++)
        if (z[i]) return 6;
    free(z);
    char *big = malloc(64 << 20);
    if (!big) return 7;
    memset(big, 1, 64 << 20);
    free(big);
    void *v = wheap_virtual_alloc(NULL, 1 << 16, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READWRITE);
    if (!v || !wheap_virtual_free(v, 0, WHEAP_MEM_RELEASE)) return 8;
    printf("static ok: %s\n", wheap_version());
    return 0;
}
EOF

if ! $cc -std=gnu11 -Wall -static -o "$pc_tmp/t" "$pc_tmp/t.c" -I"$top_srcdir/include" \
    -L"$top_builddir/src/.libs" -lwheap -lpthread \
    -Wl,--trace-symbol=malloc,--trace-symbol=free,--trace-symbol=calloc,--trace-symbol=realloc \
    >"$pc_tmp/link.log" 2>&1; then
    pc_fail "static link failed:"
    grep -v -e ': reference to' -e ': definition of' "$pc_tmp/link.log" | head -20
    pc_done
fi
echo "linked: $cc -static t.c -lwheap -lpthread"

out=$(timeout -k 5 30 "$pc_tmp/t" 2>&1)
rc=$?
case "$rc" in
    0) echo "$out" ;;
    124|137) pc_fail "the static program hangs" ;;
    *) pc_fail "the static program exited $rc: $out" ;;
esac

if nm "$wheap_a" 2>/dev/null | grep -q ' [TW] malloc$'; then
    for f in malloc free calloc realloc; do
        def=$(grep ": definition of $f\$" "$pc_tmp/link.log")
        case "$def" in
            *libwheap.a*) echo "$f: $def" ;;
            "") pc_fail "$f: the linker reported no definition" ;;
            *) pc_fail "$f does not come from libwheap.a: $def" ;;
        esac
    done
    pc_done
fi
[ "$pc_failures" -eq 0 ] || pc_done
pc_skip "libwheap.a has no malloc yet: the static link and the wheap_* API worked, the override is untested"
