#!/bin/sh
# Debian's git under LD_PRELOAD=libwheap.so (every git process of the script
# inherits it), output compared with a plain run: init a repository, commit
# 200 generated files, change, rename and delete files over two more
# commits, log with stats, diff, grep, gc (one pack thread, so the pack is
# the same every time), fsck, archive.  Author, committer and dates are
# fixed, so the hashes printed are the same in both runs.  Skips until
# libwheap exports malloc, and where git is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_require_program git
pc_check_preload_active

cat >"$pc_tmp/work.sh" <<'SH'
set -e
repo=$(mktemp -d "$1/repo.XXXXXX")
export HOME=$repo GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=wheap GIT_AUTHOR_EMAIL=wheap@example.com
export GIT_COMMITTER_NAME=wheap GIT_COMMITTER_EMAIL=wheap@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z
cd "$repo"
git init -q -b main .
i=0
while [ $i -lt 200 ]; do
    mkdir -p "dir$((i % 10))"
    seq $i $((i * 7 + 300)) | sed "s/^/file $i line /" >"dir$((i % 10))/f$i.txt"
    i=$((i + 1))
done
git add -A
git commit -q -m "200 files"
i=0
while [ $i -lt 200 ]; do
    [ $((i % 2)) = 0 ] && echo "changed $i" >>"dir$((i % 10))/f$i.txt"
    [ $((i % 20)) = 1 ] && git mv -k "dir$((i % 10))/f$i.txt" "dir$((i % 10))/moved$i.txt"
    [ $((i % 40)) = 3 ] && git rm -q "dir$((i % 10))/f$i.txt"
    i=$((i + 1))
done
git commit -q -a -m "change, move, delete"
seq 1 5000 >big.txt
git add big.txt
GIT_COMMITTER_DATE=2024-01-02T00:00:00Z git commit -q -m "big file"
git log --stat --format='%H %s' | tail -n 40
git rev-list --count HEAD
git diff --stat HEAD~2 HEAD | tail -n 3
git grep -c 'line 7' | wc -l
git -c pack.threads=1 gc -q
git count-objects -v | grep -E '^(count|in-pack|packs):'
git fsck --strict --no-progress
git archive --format=tar HEAD | sha256sum
git cat-file -p 'HEAD^{tree}'
SH
pc_compare git 120 sh "$pc_tmp/work.sh" "$pc_tmp"
pc_done
