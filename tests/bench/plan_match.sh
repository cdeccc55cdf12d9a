#!/bin/bash
# SPDX-License-Identifier: MIT
# Exact against greedy b-matching in the planner (not a test: it prints
# figures).  Random graphs of hosts with 10 VMs each, random VM pairs at
# 1 to 1000 Mbit/s, 4 ports per host (8 in one case), no k cap; one
# decision is one plan_core_tick(), in CPU time (tests/bench/
# plan_match.c).  Prints, per graph, the time per decision and the total
# weight (Mbit/s) selected by each.
# First the sizes around the auto bound (PLAN_EXACT_MAX_LINKS), then the
# issue's two: 100 hosts / 4,000 pairs and 1,000 hosts / 40,000 pairs.
# Exact on the largest takes minutes (EXACT_TIMEOUT, 900 s by default; a
# run cut short is reported as such).
#   tests/bench/plan_match.sh           REPS=5 tests/bench/plan_match.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${VR_BIN:-$PWD/build/bin}
REPS=${REPS:-5}
EXACT_TIMEOUT=${EXACT_TIMEOUT:-900}
[ -x "$BIN/vr-plan-match" ] || { echo "build vr-plan-match first" >&2; exit 2; }

echo "== around the auto bound (500 links), $REPS decisions each"
for g in "100 300 4" "100 540 4" "100 540 8" "250 510 4" "300 820 4" \
         "100 1000 4"; do
    set -- $g
    "$BIN/vr-plan-match" "$1" "$2" "$3" "$REPS" greedy exact
done
echo "== the issue's sizes"
for size in "100 4000" "1000 40000"; do
    set -- $size
    "$BIN/vr-plan-match" "$1" "$2" 4 1 greedy auto
    rc=0
    timeout "$EXACT_TIMEOUT" "$BIN/vr-plan-match" "$1" "$2" 4 1 exact || rc=$?
    if [ "$rc" = 124 ]; then
        echo "hosts $1 pairs $2 ports 4 matching exact: not done in" \
             "$EXACT_TIMEOUT s"
    elif [ "$rc" != 0 ]; then
        echo "vr-plan-match failed: exit $rc" >&2
        exit 1
    fi
done
