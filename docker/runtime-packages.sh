#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the Debian packages that hold the shared libraries the given
# binaries load (ldd), one per line: what a runtime image must install.
# Fails if a library belongs to no package, so nothing is missed silently.
set -eu
pkgs=$(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
    while read -r lib; do
        # merged /usr: dpkg may know the file under /lib, /usr/lib or its
        # resolved name.
        for f in "$lib" "/usr$lib" "$(readlink -f "$lib")"; do
            if pkg=$(dpkg -S "$f" 2>/dev/null); then
                echo "${pkg%%:*}"
                continue 2
            fi
        done
        echo "runtime-packages: no package holds $lib" >&2
        exit 1
    done)
printf '%s\n' "$pkgs" | sort -u
