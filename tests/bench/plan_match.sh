#!/bin/bash
# SPDX-License-Identifier: MIT
# The port-limited policy's selection (issue 18, item 5; not a test: it
# prints figures): greedy against exact b-matching (plan_match.c), weight
# and CPU time on random graphs of growing size (vr-plan-match, from
# tests/bench/plan_match.c), one table per port setting.  The exact
# solver is the planner's when selection: exact and at most
# exact_max_links links are eligible.
#   tests/bench/plan_match.sh [build dir]
#   GRAPHS=10 SIZES="20 100 300 1000" PORTS="0 1 4" DENSITY=4 \
#       tests/bench/plan_match.sh
# DENSITY is links per host (4: each host on 8 links on average; more
# hosts where a full mesh would not hold them).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
GRAPHS=${GRAPHS:-5}
SIZES=${SIZES:-20 50 100 200 300 500 1000}
PORTS=${PORTS:-0 1 4}
DENSITY=${DENSITY:-4}
for p in $PORTS; do
    if [ "$p" = 0 ]; then
        echo "== ports 1 to 4 per host, $DENSITY links a host, $GRAPHS graphs a size"
    else
        echo "== $p port(s) per host, $DENSITY links a host, $GRAPHS graphs a size"
    fi
    # shellcheck disable=SC2086
    "$BUILD/bin/vr-plan-match" "$GRAPHS" "$p" "$DENSITY" $SIZES
done
