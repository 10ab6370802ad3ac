#!/bin/sh
# Debian's python3 under LD_PRELOAD=libwheap.so, output compared with a plain
# run: a dict of 300,000 entries (lists, strings, floats, small dicts),
# sorting, json dumps/loads of the whole dict, hashlib, a word count over
# 200,000 random words, deleting half the dict.  Skips until libwheap
# exports malloc, and where python3 is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_require_program python3
pc_check_preload_active

cat >"$pc_tmp/work.py" <<'PY'
import hashlib, json, random
random.seed(12345)
d = {}
for i in range(300000):
    d["k%06d" % i] = [i, str(i * 7), i * 0.5, {"n": i % 97}]
items = sorted(d.items(), key=lambda kv: (kv[1][0] % 1000, kv[0]))
s = json.dumps(d, sort_keys=True)
assert json.loads(s) == d
words = ["w%d" % random.randrange(100000) for _ in range(200000)]
counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
big = "".join(str(i) for i in range(100000))
print(len(d), items[0][0], items[-1][0], len(s), hashlib.sha256(s.encode()).hexdigest())
print(top, hashlib.md5(big.encode()).hexdigest())
for k in list(d)[::2]:
    del d[k]
print(len(d), sum(v[0] for v in d.values()), len(set(words)))
PY
pc_compare python 120 python3 -I "$pc_tmp/work.py"
pc_done
