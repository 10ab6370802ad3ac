#!/usr/bin/env bash
# Sets up a Debian 12 machine for wheap and builds it: installs the missing
# packages (the build tools, plus any package names given as arguments),
# bootstraps Autotools, configures and builds.  Safe to run twice.
#   scripts/setup.sh [extra-debian-package ...]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

want=(autoconf automake libtool pkg-config make gcc g++ "$@")
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure --enable-werror ${WHEAP_CONFIGURE_FLAGS:-} >/dev/null
make -j"$(nproc)" >/dev/null
echo "setup: built $(sed -n 's/^PACKAGE_STRING = //p' Makefile)" >&2
