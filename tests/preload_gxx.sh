#!/bin/sh
# Debian's g++ under LD_PRELOAD=libwheap.so, output compared with a plain
# run: a C++ file that instantiates std::map, std::unordered_map,
# std::vector, std::string and <algorithm> templates for many types is
# compiled at -O2, linked, and the program (200,000 strings in maps,
# sorting, string building) runs preloaded too.  The object file's checksum
# is part of the output.  Skips until libwheap exports malloc, and where g++
# is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_require_program g++
pc_check_preload_active

{
    cat <<'CXX'
#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>

template <int N> struct tag {
    int v;
    bool operator<(const tag &o) const { return v < o.v; }
};

template <int N> static unsigned long exercise(int n)
{
    std::map<tag<N>, std::string> m;
    std::vector<tag<N>> v;
    for (int i = 0; i < n; i++) {
        m[tag<N>{(i * 7919 + N) % 100003}] = std::to_string(i * N);
        v.push_back(tag<N>{i ^ N});
    }
    std::sort(v.begin(), v.end());
    unsigned long s = 0;
    for (auto &kv : m) s = s * 31 + kv.first.v + kv.second.size();
    return s + (unsigned long)v.front().v;
}
CXX
    i=0
    while [ $i -lt 16 ]; do
        echo "template unsigned long exercise<$i>(int);"
        i=$((i + 1))
    done
    cat <<'CXX'
int main()
{
    std::unordered_map<std::string, std::vector<int>> words;
    std::string text;
    for (int i = 0; i < 200000; i++) {
        std::string w = "w" + std::to_string((i * 2654435761u) % 50000);
        words[w].push_back(i);
        if (i % 10 == 0) text += w + " ";
    }
    std::vector<std::pair<size_t, std::string>> counts;
    for (auto &kv : words) counts.emplace_back(kv.second.size(), kv.first);
    std::sort(counts.begin(), counts.end(), [](auto &a, auto &b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    unsigned long s = 0;
CXX
    i=0
    while [ $i -lt 16 ]; do
        echo "    s += exercise<$i>(2000);"
        i=$((i + 1))
    done
    cat <<'CXX'
    std::printf("%zu %s %zu %zu %lu\n", words.size(), counts[0].second.c_str(), counts[0].first,
                text.size(), s);
    return 0;
}
CXX
} >"$pc_tmp/gen.cc"

cat >"$pc_tmp/work.sh" <<'SH'
set -e
d=$(mktemp -d "$1/cxx.XXXXXX")
cp "$1/gen.cc" "$d/gen.cc"
cd "$d"
g++ -std=gnu++17 -O2 -c gen.cc -o gen.o
g++ gen.o -o gen
./gen
sha256sum gen.o | cut -d' ' -f1
SH
pc_compare gxx 120 sh "$pc_tmp/work.sh" "$pc_tmp"
pc_done
