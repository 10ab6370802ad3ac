#!/bin/sh
# The wheap launcher: preloads the library, keeps an existing LD_PRELOAD,
# merges options, refuses setuid programs and bad usage with clear messages.
set -u
top_srcdir=${top_srcdir:-.}
w="$top_srcdir/wheap"
# The launcher looks for the library next to itself; in a VPATH build (make
# distcheck) that is the source tree, so name the built one.
top_builddir=${top_builddir:-.}
if [ -z "${WHEAP_LIB:-}" ] && [ -f "$top_builddir/src/.libs/libwheap.so" ]; then
    WHEAP_LIB=$top_builddir/src/.libs/libwheap.so
    export WHEAP_LIB
fi
fail=0
check() { if ! eval "$2"; then echo "FAILED: $1" >&2; fail=1; fi; }

out=$("$w" run -- sh -c 'echo "$LD_PRELOAD"')
check "library preloaded" 'case "$out" in *libwheap.so*) true ;; *) false ;; esac'
out=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 "$w" run -- sh -c 'echo "$LD_PRELOAD"')
check "existing LD_PRELOAD kept after wheap" \
    'case "$out" in *libwheap.so*:/lib/x86_64-linux-gnu/libc.so.6) true ;; *) false ;; esac'
out=$(WHEAP_OPTIONS=verbose=1 "$w" run --stats --options purge_delay_ms=5 -- sh -c 'echo "$WHEAP_OPTIONS"')
check "options merged" '[ "$out" = "verbose=1,purge_delay_ms=5,stats=1" ]'
out=$("$w" run -- sh -c 'exit 7'; echo "rc=$?")
check "exit status passed through" '[ "$out" = "rc=7" ]'

if [ -u /usr/bin/passwd ] || [ -u /bin/su ]; then
    p=/usr/bin/passwd; [ -u "$p" ] || p=/bin/su
    err=$("$w" run -- "$p" --help 2>&1 >/dev/null); rc=$?
    check "setuid refused (rc 126)" '[ "$rc" = 126 ]'
    check "setuid message" 'case "$err" in *setuid*) true ;; *) false ;; esac'
fi
err=$("$w" run --bogus -- true 2>&1); rc=$?
check "unknown option: exit 2" '[ "$rc" = 2 ] && case "$err" in *"unknown option"*) true ;; *) false ;; esac'
err=$("$w" run -- no-such-program-xyz 2>&1); rc=$?
check "missing program: exit 127" '[ "$rc" = 127 ]'
"$w" --help | grep -q "purge_delay_ms=10" || { echo "FAILED: help lists options" >&2; fail=1; }
exit $fail
