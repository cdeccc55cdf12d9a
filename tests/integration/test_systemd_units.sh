#!/bin/bash
# SPDX-License-Identifier: MIT
# deploy/systemd: every unit, with its CURVE drop-in, passes
# `systemd-analyze verify` without a word, and its exposure score
# (`systemd-analyze security --offline`) stays at or below 3.0 ("OK").
# Skipped (77) where systemd-analyze is missing.  Starts nothing.
command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze"; exit 77; }
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

UNITS="$VR_SRC_DIR/deploy/systemd"
for f in "$UNITS"/vreserve-*.service; do
    u=$(basename "$f")
    # The binaries of this tree stand in for the installed ones.
    sed "s|/usr/local/bin/|$BIN/|" "$f" >"$T/$u"
    mkdir -p "$T/$u.d"
    # The agent's certificate is its host's, the others' their role's.
    if [ "$u" = vreserve-agent.service ]; then
        cp "$UNITS/curve-agent.conf" "$T/$u.d/curve.conf"
    else
        cp "$UNITS/curve.conf" "$T/$u.d/"
    fi
done
cd "$T"
n=0
for u in vreserve-*.service; do
    out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "./$u" 2>&1) \
        || fail "$u: verify failed: $out"
    [ -z "$out" ] || fail "$u: verify says: $out"
    systemd-analyze security --offline=yes --threshold=30 "./$u" >"$T/$u.log" 2>&1 \
        || fail "$u: exposure $(grep -o 'level for .*' "$T/$u.log")"
    n=$((n + 1))
done
[ "$n" = 5 ] || fail "expected 5 units, found $n"
echo "1 passed, 0 failed"
