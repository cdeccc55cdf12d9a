#!/bin/bash
# SPDX-License-Identifier: MIT
# How long a reserved path takes, end to end through the broker and the
# adapter's sim backend (reserve create -> active, release -> released),
# with the paper's delays (1.25 s per switch, 2 switches, 15 s to settle:
# 17.5 s) and with time_scale 0.1 and 0.01, against what is configured.
# Usage: tests/bench/path-time.sh [build dir]
set -euo pipefail
BUILD=${1:-$(dirname "$0")/../../build}
BIN=$(cd "$BUILD/bin" && pwd)
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
ep() { echo "ipc://$T/$1"; }

printf '%-10s %12s %14s %14s %12s\n' time_scale configured_s up_measured_s overhead_ms release_s
for scale in 1 0.1 0.01; do
    cat >"$T/a.yaml" <<YAML
bus: {control: '$(ep a)', events: '$(ep ae)'}
state: $T/a-$scale.db
tick_ms: 5
sim: {time_scale: $scale}
YAML
    cat >"$T/b.yaml" <<YAML
bus: {control: '$(ep b)', events: '$(ep be)', adapter: '$(ep a)', adapter_events: '$(ep ae)'}
db: $T/b-$scale.db
networks:
  - name: omninet
    endpoints: [{host: h1, ip: 10.210.0.1}, {host: h2, ip: 10.210.0.2}]
YAML
    "$BIN/odin-adapter" -q -c "$T/a.yaml" & PIDS+=($!)
    "$BIN/vreserve-broker" -q -c "$T/b.yaml" & PIDS+=($!)
    CTL=("$BIN/vnetctl" -e "broker=$(ep b)" -e "adapter=$(ep a)")
    for _ in $(seq 50); do "${CTL[@]}" status broker adapter >/dev/null 2>&1 && break; sleep 0.1; done
    t0=$(date +%s.%N)
    id=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
    until [ "$("${CTL[@]}" --json reserve show "$id" | jq -r .state)" = active ]; do sleep 0.01; done
    t1=$(date +%s.%N)
    "${CTL[@]}" reserve release "$id" >/dev/null
    until [ "$("${CTL[@]}" --json reserve show "$id" | jq -r .state)" = released ]; do sleep 0.01; done
    t2=$(date +%s.%N)
    conf=$(echo "17.5 * $scale" | bc -l)
    printf '%-10s %12.3f %14.3f %14.0f %12.3f\n' "$scale" "$conf" \
        "$(echo "$t1 - $t0" | bc -l)" "$(echo "($t1 - $t0 - $conf) * 1000" | bc -l)" \
        "$(echo "$t2 - $t1" | bc -l)"
    kill "${PIDS[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    PIDS=()
done
