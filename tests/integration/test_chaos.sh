#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# Chaos, short mode (issue 15 item 3): the whole loop on the bed (4 hosts
# x 2 VMs, BSP phases, the adapter's netns backend), 30 kill -9s of random
# services restarted after 0-3 s, and the invariants of chaos_bed.sh
# checked during and after.  CHAOS_SEED=n replays a run;
# tests/bench/chaos.sh is the long mode.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }
CHAOS_BACKEND=netns
source "$(dirname "$0")/chaos_bed.sh"
CHAOS_REPLAY="CHAOS_SEED=$CHAOS_SEED ctest --test-dir $VR_BUILD_DIR -R 'integration.chaos\$' --output-on-failure"

chaos_up
chaos_run
chaos_report
vr_stop_services planner broker adapter aggregator agent-h1 agent-h2 \
    agent-h3 agent-h4 agent-h5
echo "1 passed, 0 failed"
