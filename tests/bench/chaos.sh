#!/bin/bash
# SPDX-License-Identifier: MIT
# Chaos, long mode (issue 15 items 3-4): the loop of
# tests/integration/test_chaos.sh (netns paths) and test_chaos_oclient.sh
# (the oclient backend hanging, crashing, failing under the adapter) and
# test_chaos_nsi.sh (the real OpenNSA killed and restarted under the nsi
# backend) with CHAOS_KILLS kill -9s each (default 300), then their kills,
# invariant checks and findings.  A failure prints the seed and the command that
# replays it.
# Usage: [CHAOS_SEED=n] [CHAOS_KILLS=300] [BACKENDS="netns oclient nsi"]
#        tests/bench/chaos.sh [build dir]   (as root; ~20 min a backend)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
export VR_SRC_DIR=$SRC VR_BUILD_DIR=$BUILD
export CHAOS_KILLS=${CHAOS_KILLS:-300}
export CHAOS_SEED=${CHAOS_SEED:-$(( $(date +%s%N) % 1000000 ))}
[ "$CHAOS_KILLS" -ge 300 ] || echo "note: $CHAOS_KILLS kills, the long mode is 300 or more"
for b in ${BACKENDS:-netns oclient nsi}; do
    case $b in
    netns) t=test_chaos.sh ;;
    oclient) t=test_chaos_oclient.sh ;;
    nsi) t=test_chaos_nsi.sh ;;
    *) echo "unknown backend '$b' (netns, oclient, nsi)" >&2; exit 2 ;;
    esac
    echo "== $b: $CHAOS_KILLS kills, seed $CHAOS_SEED"
    s0=$SECONDS
    if ! "$SRC/tests/integration/$t" >"/tmp/chaos-$b.$$.log" 2>&1; then
        grep -v '^20[0-9][0-9]-' "/tmp/chaos-$b.$$.log" | tail -n 40
        echo "FAILED: $b; replay: CHAOS_SEED=$CHAOS_SEED CHAOS_KILLS=$CHAOS_KILLS" \
            "BACKENDS=$b $0 $BUILD (whole log: /tmp/chaos-$b.$$.log)"
        exit 1
    fi
    grep -E '^(kills|invariant|reservations|  failed x|oclient runs|end:|seed)' "/tmp/chaos-$b.$$.log"
    echo "$b: passed in $((SECONDS - s0)) s"
    rm -f "/tmp/chaos-$b.$$.log"
done
