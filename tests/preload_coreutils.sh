#!/bin/sh
# Debian's coreutils under LD_PRELOAD=libwheap.so (every command of the
# pipeline, and the shell, inherit it), output compared with a plain run:
# 500,000 numbers shuffled from a fixed random source, sort -n, sort, sort -r
# with several threads, uniq -c, tr, cut, paste, join, split, wc, tac,
# sha256sum, md5sum.  Skips until libwheap exports malloc, and where a
# command is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
for c in seq shuf sort uniq tr cut paste join split wc tac sha256sum md5sum head tail yes; do
    pc_require_program "$c"
done
pc_check_preload_active

cat >"$pc_tmp/work.sh" <<'SH'
set -e
d=$(mktemp -d "$1/cu.XXXXXX")
cd "$d"
seq 1 500000 >nums
yes 'a fixed random source for shuf' | head -c 8000000 >rnd
shuf --random-source=rnd nums >shuffled
sort -n --parallel=2 -S 20M shuffled | sha256sum
sort shuffled | head -n 3
sort -n -r shuffled | tail -n 2
cut -c1-2 shuffled | sort | uniq -c | sort -k1,1nr -k2 | head -n 5
tr '0-9' 'a-j' <shuffled | sort -u | wc -l
paste shuffled nums | sort -k2,2n | cut -f1 | sha256sum
sort shuffled >s1
sed -n '1~3p' nums | sort >s2
join s1 s2 | wc -l
split -l 100000 shuffled part.
cat part.* | md5sum
tac shuffled | head -n 2
wc -l -w -c shuffled
SH
pc_compare coreutils 120 sh "$pc_tmp/work.sh" "$pc_tmp"
pc_done
