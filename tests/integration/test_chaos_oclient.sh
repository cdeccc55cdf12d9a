#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# Chaos with the backend failing under the adapter (issue 15 item 4): the
# loop of test_chaos.sh with the adapter's oclient backend, whose
# stand-in (tests/tools/oclient) is told at random to hang (killed at
# create_timeout_ms), crash mid-call, fail or be slow, while services are
# killed -9 at random as there.  ODIN's paths must be exactly the
# adapter's up paths, but for those made while the adapter was killed
# mid 'oclient -c' (the documented limit: ODIN has no list command),
# which are counted.  CHAOS_SEED=n replays a run.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
# In CI, the normal tree only: integration.chaos already runs the same
# kills under the sanitizers, and CI's time is counted
# (tests/bench/chaos.sh runs this one long, in whichever tree it is given).
[ -n "${CHAOS_KILLS:-}" ] || vr_normal_tree_only "the short mode"
command -v jq >/dev/null || { echo "needs jq"; exit 77; }
CHAOS_BACKEND=oclient
source "$(dirname "$0")/chaos_bed.sh"
CHAOS_REPLAY="CHAOS_SEED=$CHAOS_SEED ctest --test-dir $VR_BUILD_DIR -R integration.chaos_oclient --output-on-failure"

chaos_up
chaos_run
chaos_report
vr_stop_services planner broker adapter aggregator agent-h1 agent-h2 \
    agent-h3 agent-h4 agent-h5
echo "1 passed, 0 failed"
