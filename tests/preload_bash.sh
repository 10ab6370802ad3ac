#!/bin/sh
# Debian's bash under LD_PRELOAD=libwheap.so, output compared with a plain
# run: an indexed array of 100,000 items, an associative array of 100,000
# keys, pattern substitution over a long string, string building by +=,
# read -a splitting, mapfile, unset, command substitution.  Skips until
# libwheap exports malloc, and where bash is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_require_program bash
pc_check_preload_active

cat >"$pc_tmp/work.bash" <<'BASH'
set -eu
declare -a arr
declare -A assoc
for ((i = 0; i < 100000; i++)); do
    arr[i]="item$i"
    assoc["k$i"]=$((i * 3))
done
s="${arr[*]}"
echo "${#s}"
t=${s//item/x}
echo "${#t} ${t:0:40}"
sum=0
for k in "${!assoc[@]}"; do sum=$((sum + assoc[$k])); done
echo "$sum ${#assoc[@]}"
str=""
for ((i = 0; i < 30000; i++)); do str+="$i,"; done
echo "${#str}"
IFS=, read -ra parts <<<"$str"
echo "${#parts[@]} ${parts[29999]}"
mapfile -t lines < <(printf '%s\n' "${arr[@]:0:50000}")
echo "${#lines[@]} ${lines[49999]}"
for ((i = 0; i < 100000; i += 3)); do unset 'arr[i]'; done
echo "${#arr[@]}"
first=$(printf '%s\n' "${arr[@]:0:1000}" | sort | head -n 1)
echo "$first"
BASH
pc_compare bash 120 bash "$pc_tmp/work.bash"
pc_done
