#!/bin/sh
# An installed wheap works for a program built the way users build one:
# `make install DESTDIR=...` of this build, then `cc ... $(pkg-config
# --cflags --libs wheap)` against the installed files only.  The program
# runs on the installed libwheap.so (and, with `pkg-config --static`, on
# libwheap.a): a private heap works and the process heap recognises a
# malloc block.  Also: wheap.pc's version, Libs and Requires, the installed
# man pages and launcher.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
LC_ALL=C
export LC_ALL
fail=0
failed() { echo "FAILED: $*"; fail=1; }
skip() { echo "SKIP: $*"; exit 77; }
hard_error() { echo "ERROR: $*"; exit 99; }

command -v pkg-config >/dev/null 2>&1 || skip "pkg-config missing"
cc=$(sed -n 's/^CC = //p' "$top_builddir/Makefile")
[ -n "$cc" ] || hard_error "no CC in $top_builddir/Makefile"
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$top_builddir/config.h")
override=$(grep -c '^#define WHEAP_MALLOC_OVERRIDE 1' "$top_builddir/config.h")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wheap-pkgconfig.XXXXXX") || hard_error "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

# Install this build (not a new one: the tree's own configure choices), into
# a staging root.  The inner make must not join make check's jobserver.
if ! (unset MAKEFLAGS MFLAGS MAKELEVEL; make -C "$top_builddir" install DESTDIR="$dest") \
        >"$tmp/install.log" 2>&1; then
    tail -20 "$tmp/install.log"
    hard_error "make install DESTDIR=$dest failed"
fi
pc=$(find "$dest" -name wheap.pc)
so=$(find "$dest" -name libwheap.so)
a=$(find "$dest" -name libwheap.a)
[ -n "$pc" ] || hard_error "make install put no wheap.pc under $dest"
[ -n "$so" ] && [ -n "$a" ] || hard_error "make install put no libwheap.so and libwheap.a under $dest"
libdir=$(dirname "$so")

# pkg-config sees only the staged wheap.pc and maps its paths into $dest.
PKG_CONFIG_LIBDIR=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$dest
PKG_CONFIG_PATH=
export PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH

got=$(pkg-config --modversion wheap) || hard_error "pkg-config cannot read $pc"
[ "$got" = "$version" ] || failed "wheap.pc says version '$got', configure '$version'"
got=$(echo $(pkg-config --libs wheap))   # words, without pkg-config's trailing blank
[ "$got" = "-L$libdir -lwheap" ] \
    || failed "pkg-config --libs wheap gives '$got', expected '-L$libdir -lwheap' (private libraries leak into dynamic links?)"
got=$(pkg-config --print-requires wheap; pkg-config --print-requires-private wheap)
[ -z "$got" ] || failed "wheap.pc requires '$got': libwheap depends on no pkg-config package"
cflags=$(pkg-config --cflags wheap)
case " $cflags " in
    *" -I$dest"*) ;;
    *) failed "pkg-config --cflags wheap gives '$cflags': not the staged include directory" ;;
esac

cat >"$tmp/t.c" <<'PROG'
#include <wheap.h>
#include <wheap/win32.h>     /* the installed headers are self-contained */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    wheap_heap *h = wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 0);
    if (!h) { printf("heap_create: %s\n", wheap_error_string(wheap_get_last_error())); return 1; }
    char *b = wheap_heap_alloc(h, WHEAP_HEAP_ZERO_MEMORY, 100);
    if (!b || b[99] != 0 || wheap_heap_size(h, 0, b) != 100) { puts("heap_alloc"); return 1; }
    if (!wheap_heap_validate(h, 0, NULL) || !wheap_heap_destroy(h)) { puts("heap_destroy"); return 1; }
#ifdef WANT_MALLOC
    /* malloc is wheap's: the process heap knows the block, sizes it as
     * malloc_usable_size does, and rejects a pointer malloc never gave. */
    char *p = malloc(1000);
    char local[64];
    wheap_heap *ph = wheap_get_process_heap();
    memset(p, 1, 1000);
    size_t n = wheap_heap_size(ph, 0, p);
    if (n == (size_t)-1 || n < 1000 || n != malloc_usable_size(p)) { puts("malloc block unknown"); return 1; }
    if (!wheap_heap_validate(ph, 0, p) || wheap_heap_validate(ph, 0, local)) { puts("validate"); return 1; }
    free(p);
#endif
    /* Which libwheap the process runs on (none listed: static). */
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "libwheap")) { fputs(strchr(line, '/'), stdout); break; }
    printf("%s ok\n", wheap_version());
    return 0;
}
PROG
want=
[ "$override" -eq 1 ] && want=-DWANT_MALLOC

# Dynamic: the installed shared library, found through LD_LIBRARY_PATH.
if ! $cc -std=gnu11 -Wall -Werror $want -o "$tmp/t" "$tmp/t.c" $(pkg-config --cflags --libs wheap) \
        >"$tmp/cc.log" 2>&1; then
    cat "$tmp/cc.log"
    failed "cc \$(pkg-config --cflags --libs wheap) fails"
else
    out=$(LD_LIBRARY_PATH=$libdir "$tmp/t" 2>&1); rc=$?
    [ "$rc" -eq 0 ] || failed "the program built with pkg-config fails (rc $rc): $out"
    case "$out" in
        *"wheap $version ok"*) ;;
        *) failed "the program did not finish: $out" ;;
    esac
    case "$out" in
        "$libdir"/libwheap.so*) ;;
        *) failed "the program did not run on the installed $libdir/libwheap.so: $out" ;;
    esac
fi

# Static: libwheap.a and Libs.private, nothing else.
if ! $cc -std=gnu11 -Wall -Werror -static $want -o "$tmp/ts" "$tmp/t.c" \
        $(pkg-config --static --cflags --libs wheap) >"$tmp/cc.log" 2>&1; then
    if grep -q 'cannot find -lc\b' "$tmp/cc.log"; then
        echo "note: no static C library (libc6-dev's libc.a): static link not checked"
    else
        cat "$tmp/cc.log"
        failed "cc -static \$(pkg-config --static --cflags --libs wheap) fails (Libs.private incomplete?)"
    fi
else
    out=$("$tmp/ts" 2>&1); rc=$?
    [ "$rc" -eq 0 ] || failed "the static program fails (rc $rc): $out"
    [ "$out" = "wheap $version ok" ] || failed "the static program printed: $out"
fi

# The rest of the installation: man pages by section, the launcher.
for page in man1/wheap.1 man3/wheap.3 man7/wheap.7; do
    f=$(find "$dest" -path "*/man/$page")
    [ -n "$f" ] || { failed "make install did not install $page"; continue; }
    if command -v man >/dev/null 2>&1; then
        MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q '^NAME' || failed "man -l $f shows no NAME section"
    fi
done
launcher=$(find "$dest" -path '*/bin/wheap')
if [ -z "$launcher" ]; then
    failed "make install did not install the wheap launcher"
elif [ "$(dirname "$(dirname "$launcher")")/lib" = "$libdir" ]; then
    # Installed side by side, the launcher preloads the installed library.
    out=$(env -u WHEAP_LIB "$launcher" run -- sh -c 'echo "$LD_PRELOAD"' 2>&1)
    case "$out" in
        "$libdir"/libwheap.so*) ;;
        *) failed "the installed launcher preloads '$out', not $libdir/libwheap.so" ;;
    esac
fi

# The viewer behind `wheap top` / `wheap map`, where the build has one: the
# installed launcher finds the installed viewer (it answers for a pid that
# cannot exist: one line, status 1).
view=$(find "$dest" -path '*/libexec/wheap/wheap-view')
if [ -n "$view" ] && [ -n "$launcher" ] &&
   [ "$(dirname "$(dirname "$launcher")")/libexec/wheap/wheap-view" = "$view" ]; then
    err=$(env -u WHEAP_VIEW "$launcher" map 2147483647 2>&1); rc=$?
    case "$rc:$err" in
        "1:wheap: no process 2147483647"*) ;;
        *) failed "the installed launcher's 'wheap map' (viewer $view): rc $rc, '$err'" ;;
    esac
fi

[ "$fail" -eq 0 ] && echo "installed wheap $version works through pkg-config (shared and static)"
exit $fail
