#!/usr/bin/env bash
# Sets up, builds and runs every wheap test: the whole `make check` suite,
# then the wheap_* API tests again in an AddressSanitizer + UBSan build.
# Ends with one line: "N passed, M failed" (SKIP and XFAIL beside it).
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc)

# Packages the tests use beyond the build tools.
test_packages=(valgrind python3 perl git sqlite3 bash coreutils groff-base clang libclang-rt-14-dev)
bash scripts/setup.sh "${test_packages[@]}" || { echo "0 passed, 1 failed"; exit 1; }

make -j"$jobs" check >check.out 2>&1
main_rc=$?
grep -E '^(PASS|FAIL|ERROR|XPASS|XFAIL|SKIP):' check.out

# Sanitizer build of the API tests (no malloc override: ASan owns malloc),
# in a copy of the sources so that it cannot disturb the main build.
asan_dir="$top/build-asan"
asan_rc=0
(
    set -e
    mkdir -p "$asan_dir"
    if git rev-parse --git-dir >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard \
            | grep -zv '^build-' | xargs -0 cp --parents -t "$asan_dir"
    else   # a release tarball: its file list, without this tree's build
        make distdir distdir="$asan_dir" >/dev/null
    fi
    cd "$asan_dir"
    san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    [ -x configure ] || autoreconf -fi >/dev/null 2>&1
    [ -f Makefile ] || ./configure --disable-malloc-override --disable-shared \
        CFLAGS="-O1 -g $san" CXXFLAGS="-O1 -g $san" LDFLAGS="$san" >/dev/null
    make -j"$jobs" >/dev/null
    ASAN_OPTIONS=handle_segv=0:allow_user_segv_handler=1:detect_leaks=0 \
        make -j"$jobs" check-api
) >asan.out 2>&1 || asan_rc=$?
sed -n 's/^\(PASS\|FAIL\|ERROR\|XPASS\|XFAIL\|SKIP\): /\1 (asan): /p' asan.out

# make distcheck: the tarball builds and passes make check in a VPATH build
# and installs cleanly; and it holds every file git tracks (but .gitignore
# files), so that nothing is missing from a release.  One PASS/FAIL line.
dist_rc=0
(
    set -e
    make -j"$jobs" distcheck
    version=$(sed -n 's/^PACKAGE_VERSION = //p' Makefile)
    tar tzf "wheap-$version.tar.gz" | sed "s|^wheap-$version/||" | sort >dist.files
    git rev-parse --git-dir >/dev/null 2>&1 || { rm -f dist.files; exit 0; }   # a tarball
    missing=$(git ls-files | grep -v '\(^\|/\)\.gitignore$\|/\.gitkeep$' | sort | comm -23 - dist.files)
    rm -f dist.files
    [ -z "$missing" ] || { echo "tracked but not in the tarball (EXTRA_DIST?):" $missing; exit 1; }
) >distcheck.out 2>&1 || dist_rc=$?
[ "$dist_rc" -eq 0 ] && echo "PASS: distcheck" >dist.result || echo "FAIL: distcheck" >dist.result
cat dist.result

count() {   # count KIND across the logs
    cat check.out asan.out dist.result 2>/dev/null | grep -c "^$1:" || true
}
pass=$(count PASS); fail=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) ))
skip=$(count SKIP); xfail=$(count XFAIL)
[ "$dist_rc" -eq 0 ] || tail -n 30 distcheck.out
if [ "$main_rc" -ne 0 ] || [ "$asan_rc" -ne 0 ]; then
    for log in $(grep -lE '^(FAIL|ERROR)' tests/*.log "$asan_dir"/tests/*.log 2>/dev/null); do
        echo "---- $log" && tail -20 "$log"
    done
    # A build failure counts as a failure even though no test reported it.
    [ "$fail" -eq 0 ] && fail=1 && tail -n 30 check.out asan.out
fi
echo "skipped: $skip, expected failures: $xfail"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
