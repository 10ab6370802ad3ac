#!/bin/sh
# The documentation keeps up with the code: every key of the options table
# in src/options.c appears, with the same default, in wheap(7)'s OPTIONS
# section, in README.md's option table and in `wheap --help`, and none of
# them lists a key the table lacks.  wheap(3) shows every function of
# include/wheap.h, names every macro and lists every error code with its
# value.  The man pages format without a single groff warning, and their
# headers carry the package version.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
LC_ALL=C
export LC_ALL
fail=0
failed() { echo "FAILED: $*"; fail=1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wheap-docs.XXXXXX") || { echo "ERROR: mktemp"; exit 99; }
trap 'rm -rf "$tmp"' EXIT

# ---- the source of truth: "key default" per OPT(...) entry ---------------
# OPT("key", OPT_TYPE, field, default, names-or-NULL, doc): an enum's
# default is the index into its names array, printed as the name.
awk '
    /static const char \*const [a-z_0-9]+\[\] *=/ {
        name = $0; sub(/.*const char \*const /, "", name); sub(/\[.*/, "", name)
        list = $0; sub(/.*\{/, "", list); sub(/\}.*/, "", list)
        n = split(list, v, ",")
        for (i = 1; i <= n; i++) { gsub(/[ "]/, "", v[i]); enum[name, i - 1] = v[i] }
        next
    }
    /^[ \t]*OPT\("/ {
        line = $0; sub(/^[ \t]*OPT\(/, "", line)
        n = split(line, f, ",")
        if (n < 5) { print "UNPARSED " $0; next }
        for (i = 1; i <= 5; i++) gsub(/[ \t"]/, "", f[i])
        def = f[4]
        if (f[2] == "OPT_ENUM") {
            if (!((f[5], def) in enum)) { print "UNPARSED " $0; next }
            def = enum[f[5], def]
        }
        print f[1], def
    }' "$top_srcdir/src/options.c" | sort >"$tmp/code"
if grep -q '^UNPARSED' "$tmp/code"; then
    echo "ERROR: cannot read these entries of src/options.c:"; grep '^UNPARSED' "$tmp/code"
    exit 99
fi
nkeys=$(wc -l <"$tmp/code")
[ "$nkeys" -ge 5 ] || { echo "ERROR: only $nkeys options read from src/options.c"; exit 99; }

# ---- what each document says ----------------------------------------------
# wheap(7): the ".TP" tags ".B key=default" inside the OPTIONS section.
awk '/^\.SH / { in_opts = ($2 == "OPTIONS") }
     in_opts && tag && /^\.B [a-z_0-9]+=/ { sub(/^\.B /, ""); sub(/=/, " "); print }
     { tag = /^\.TP/ }' \
    "$top_srcdir/man/wheap.7" | sort >"$tmp/man"
# README.md: the rows of the "| key | default | meaning |" table.
awk '/^\| key \| default \|/ { in_tab = 1; next }
     in_tab && !/^\|/ { in_tab = 0 }
     in_tab && /^\| [a-z_0-9]+ \|/ { split($0, c, "|"); gsub(/[ `]/, "", c[2]); gsub(/[ `]/, "", c[3]); print c[2], c[3] }' \
    "$top_srcdir/README.md" | sort >"$tmp/readme"
# wheap --help: "  key=default   meaning" lines.
if ! bash "$top_srcdir/wheap" --help >"$tmp/help.txt" 2>&1; then
    failed "wheap --help exits non-zero"
fi
sed -n 's/^ *\([a-z_0-9]*\)=\([^ ]*\) .*/\1 \2/p' "$tmp/help.txt" | sort >"$tmp/help"

compare() {   # compare DOC-NAME FILE
    if [ ! -s "$2" ]; then
        failed "$1 lists no options at all"
        return
    fi
    while read -r key def; do
        got=$(awk -v k="$key" '$1 == k { print $2 }' "$2")
        if [ -z "$got" ]; then
            failed "$1 does not document option $key (default $def in src/options.c)"
        elif [ "$got" != "$def" ]; then
            failed "$1 gives $key the default '$got'; src/options.c has '$def'"
        fi
    done <"$tmp/code"
    while read -r key def; do
        grep -q "^$key " "$tmp/code" || failed "$1 lists option $key, which src/options.c does not have"
    done <"$2"
    n=$(awk '{ print $1 }' "$2" | sort | uniq -d)
    [ -z "$n" ] || failed "$1 lists $(echo $n) more than once"
}
compare "wheap(7) OPTIONS" "$tmp/man"
compare "README.md's option table" "$tmp/readme"
compare "wheap --help" "$tmp/help"

# ---- wheap(3) against include/wheap.h -------------------------------------
# Every public function appears with its synopsis, every macro by name, and
# every error code in the table with its value.
hdr=$top_srcdir/include/wheap.h
for fn in $(sed -n 's/^WHEAP_API .*[ *]\(wheap_[a-z_0-9]*\)(.*/\1/p' "$hdr" | sort -u); do
    grep -q "^\.BI* .*$fn(" "$top_srcdir/man/wheap.3" \
        || failed "wheap(3) has no synopsis line for $fn (include/wheap.h)"
done
for m in $(sed -n 's/^#define \(WHEAP_[A-Z_0-9]*\).*/\1/p' "$hdr" | sort -u); do
    case "$m" in WHEAP_H|WHEAP_API|WHEAP_MALLOC_ATTR) continue ;; esac
    grep -q "$m\([^A-Z_0-9]\|$\)" "$top_srcdir/man/wheap.3" || failed "wheap(3) does not mention $m"
done
sed -n 's/^#define \(WHEAP_ERROR_[A-Z_0-9]*\) *\([0-9]*\)$/\1 \2/p' "$hdr" | while read -r name value; do
    grep -q "^$name;$value;" "$top_srcdir/man/wheap.3" \
        || { echo "FAILED: wheap(3)'s error table lacks '$name $value'"; exit 1; }
done || fail=1
nfn=$(grep -c '^WHEAP_API' "$hdr")
[ "$nfn" -ge 50 ] || failed "only $nfn WHEAP_API declarations read from include/wheap.h"

# ---- the man pages themselves --------------------------------------------
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$top_builddir/config.h" 2>/dev/null)
for page in wheap.1 wheap.3 wheap.7; do
    f=$top_srcdir/man/$page
    [ -f "$f" ] || { failed "man/$page missing"; continue; }
    sect=${page#wheap.}
    grep -q "^\.TH WHEAP $sect " "$f" || failed "man/$page: no .TH WHEAP $sect header"
    if [ -n "$version" ]; then
        grep -q "^\.TH WHEAP $sect [^ ]* \"wheap $version\"" "$f" \
            || failed "man/$page: .TH does not say \"wheap $version\""
    fi
    if command -v groff >/dev/null 2>&1; then
        # -t: tbl; -ww: every warning; -z: format, print nothing else.
        groff -t -man -ww -z "$f" >"$tmp/lint" 2>&1
        [ -s "$tmp/lint" ] && { failed "groff warns about man/$page:"; cat "$tmp/lint"; }
        # At the width of a terminal (lines that cannot be broken, tables).
        groff -t -man -Tutf8 -ww -rLL=78n "$f" 2>"$tmp/lint" >/dev/null
        [ -s "$tmp/lint" ] && { failed "groff warns about man/$page at 78 columns:"; cat "$tmp/lint"; }
    else
        echo "SKIP: groff missing (Debian package groff-base): man pages not linted"
        [ "$fail" -eq 0 ] && exit 77
    fi
    if command -v man >/dev/null 2>&1; then
        MANWIDTH=80 man --warnings -l "$f" 2>"$tmp/lint" >/dev/null \
            || failed "man -l man/$page fails"
        [ -s "$tmp/lint" ] && { failed "man --warnings -l man/$page:"; cat "$tmp/lint"; }
    fi
done

[ "$fail" -eq 0 ] && echo "docs agree with src/options.c on $nkeys options and with include/wheap.h on $nfn functions; man pages lint clean"
exit $fail
