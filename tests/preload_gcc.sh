#!/bin/sh
# Debian's gcc under LD_PRELOAD=libwheap.so (the driver, cc1, as and ld all
# inherit it), output compared with a plain run: a generated C file of 1,500
# functions compiled at -O2, linked and run.  The object file's checksum is
# part of the output: the compiler must generate the same code whichever
# allocator it runs on.  Skips until libwheap exports malloc, and where gcc
# is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_require_program gcc
pc_check_preload_active

awk 'BEGIN {
    n = 1500
    print "#include <stdio.h>"
    for (i = 0; i < n; i++) {
        printf "unsigned f%d(unsigned x);\n", i
        printf "unsigned f%d(unsigned x)\n{\n    unsigned y = x * %du + %du;\n", i, 2 * i + 1, i
        printf "    for (unsigned k = 0; k < %du; k++) y = (y << 3) ^ (y >> 5) ^ k;\n", i % 7 + 1
        printf "    switch (y %% 4) {\n    case 0: return y + %du;\n    case 1: return y ^ %du;\n", i, i * 31
        printf "    case 2: return y * 3u;\n    default: return y - x;\n    }\n}\n"
    }
    print "int main(void)\n{\n    unsigned s = 1;"
    for (i = 0; i < n; i++) printf "    s = f%d(s);\n", i
    print "    printf(\"%u\\n\", s);\n    return 0;\n}"
}' >"$pc_tmp/gen.c"

cat >"$pc_tmp/work.sh" <<'SH'
set -e
d=$(mktemp -d "$1/cc.XXXXXX")
cp "$1/gen.c" "$d/gen.c"
cd "$d"
gcc -std=gnu11 -O2 -c gen.c -o gen.o
gcc gen.o -o gen
./gen
sha256sum gen.o | cut -d' ' -f1
SH
pc_compare gcc 120 sh "$pc_tmp/work.sh" "$pc_tmp"
pc_done
