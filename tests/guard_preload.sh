#!/bin/sh
# Real programs under LD_PRELOAD=libwheap.so with WHEAP_OPTIONS=guard_mode=page
# (every malloc block guarded, until the mapping budget is spent) and with
# guard_mode=sample,guard_sample=10: output identical to a plain run.
#   python3  builds, sorts, serializes and parses a few hundred thousand
#            objects (dicts, lists, strings, regexes, json)
#   sort     50,000 shuffled numbers, numeric and text order
#   bash     a script with arrays and string work (some 100,000 blocks)
# Skips until libwheap exports malloc, and where a program is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_is_wheap || pc_skip "$pc_lib is not wheap: guard modes are wheap's"
for c in python3 sort seq shuf bash sha256sum; do pc_require_program "$c"; done
pc_check_preload_active

cat >"$pc_tmp/work.py" <<'PY'
import json, re, hashlib
rows = [{"id": i, "name": "item-%05d" % i, "tags": [str(j) for j in range(i % 7)],
         "score": (i * 7919) % 1000 / 7.0} for i in range(15000)]
rows.sort(key=lambda r: (r["score"], r["name"]))
text = json.dumps(rows)
back = json.loads(text)
assert back == rows
words = re.findall(r"item-(\d+)", text)
counts = {}
for w in words:
    counts[w[-2:]] = counts.get(w[-2:], 0) + 1
big = "".join(r["name"] for r in back[:5000]) * 3
print(len(text), len(words), sorted(counts.items())[:5])
print(hashlib.sha256(text.encode()).hexdigest(), len(big))
PY

cat >"$pc_tmp/work.sh" <<'SH'
set -e
seq 1 50000 >"$1/nums"
yes 'fixed random source' | head -c 2000000 >"$1/rnd"
shuf --random-source="$1/rnd" "$1/nums" >"$1/shuffled"
sort -n "$1/shuffled" | sha256sum
sort "$1/shuffled" | sha256sum
declare -a a
for i in $(seq 1 1000); do a+=("v$i-$((i * i % 97))"); done
s=""
for x in "${a[@]}"; do s="$s${x%-*}"; done
echo "${#a[@]} ${#s} $(echo "$s" | sha256sum)"
SH

for mode in guard_mode=page guard_mode=sample,guard_sample=10; do
    WHEAP_OPTIONS=$mode
    export WHEAP_OPTIONS
    mtag=$(echo "$mode" | tr -c "a-z0-9\n" "_")
    pc_compare "python3.$mtag" 300 python3 "$pc_tmp/work.py"
    pc_compare "shell.$mtag" 300 bash "$pc_tmp/work.sh" "$pc_tmp"
done
pc_done
