#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job, as root on Debian 12: installs, builds, and runs the demo.
# For now the system has its bus and nothing behind it: this starts every
# service on this machine with its built-in defaults, shows
# `vnetctl status`, and stops them.  It grows into the full demo (test bed,
# inference, reservation, traffic moved) as the services land.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" -- --no-print-directory >/dev/null
BIN=build/bin

PIDS=()
LOGS=$(mktemp -d /tmp/vr-demo.XXXXXX)
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for svc in vnet-agent vttif-aggregator vadapt-planner vreserve-broker \
           odin-adapter; do
    "$BIN/$svc" 2>"$LOGS/$svc.log" &
    PIDS+=("$!")
done

# Services bind in a few milliseconds; give them up to 5 s.
for _ in $(seq 50); do
    "$BIN/vnetctl" --timeout 200 status >/dev/null 2>&1 && break
    sleep 0.1
done
echo "== vnetctl status"
rc=0
"$BIN/vnetctl" status || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "demo: not every service came up; their logs:" >&2
    tail -n 5 "$LOGS"/*.log >&2
    exit 1
fi
echo "== stopping"
