#!/bin/bash
# SPDX-License-Identifier: MIT
# How long a reserved path takes, end to end through the broker and the
# adapter's sim backend (reserve create -> active, release -> released),
# with the paper's delays (1.25 s per switch, 2 switches, 15 s to settle:
# 17.5 s) and with time_scale 0.1 and 0.01, against what is configured.
#
# With --nsi: the nsi backend against a real provider, OpenNSA
# (../shared/peers/opennsa beside the project, started here and stopped on
# exit).  OpenNSA's log has whole seconds only, so the provider's own time
# is taken with the thinnest client there is, vr-nsi-cli (it blocks on
# each call and acts on the answer at once, polling querySummarySync every
# nsi.poll_ms as the adapter does): reserve -> data plane active and
# active -> Terminated, N cycles.  Then N paths through the broker and the
# adapter: provisioning -> up and tearing-down -> down as the adapter logs
# them, split into the time its calls were at the provider, the waits for
# a poll due (nsi.poll_ms: the provider's state had not moved yet), and
# ours (from an answer to the next call, beyond those); create -> active
# from vnetctl (50 ms polls: light on the CPU the provider shares).  A
# benchmark: it prints figures and asserts nothing.
# Usage: tests/bench/path-time.sh [build dir] [--nsi [N] [--tick-ms MS]]
set -euo pipefail
BUILD=$(dirname "$0")/../../build
NSI=0 N=20 TICK=10
while [ $# -gt 0 ]; do
    case $1 in
    --nsi) NSI=1; shift
        if [[ "${1:-}" =~ ^[0-9]+$ ]]; then N=$1; shift; fi ;;
    --tick-ms) TICK=$2; shift 2 ;;
    *) BUILD=$1; shift ;;
    esac
done
BIN=$(cd "$BUILD/bin" && pwd)
T=$(mktemp -d)
PIDS=()
PEER=$(cd "$(dirname "$0")/../.." && pwd)/../shared/peers/opennsa
W=
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$W" ]; then
        "$PEER/stop.sh" "$W" >/dev/null 2>&1 || true
        rm -rf "$W"
    fi
    rm -rf "$T"
}
trap cleanup EXIT
ep() { echo "ipc://$T/$1"; }

# median MIN MAX of the numbers on stdin.
stats() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
    printf "%d %d %d\n", v[int((NR + 1) / 2)], v[1], v[NR] }'; }

nsi_bench() {
    [ -x "$PEER/start.sh" ] || { echo "no OpenNSA test peer at $PEER" >&2; exit 2; }
    W=$(mktemp -d /tmp/vr-onsa.XXXXXX)
    "$PEER/start.sh" "$W" --ports "A B" --vlans 1780-1789 >"$T/peer.json" 2>"$T/peer.err" \
        || { cat "$T/peer.err" >&2; exit 1; }
    local url i id
    url=$(jq -r .url "$T/peer.json")
    cat >"$T/nsi.yaml" <<YAML
nsi:
  provider_url: $url/NSI/services/CS2
  provider_nsa: urn:ogf:network:example.net:2025:nsa
  requester_nsa: urn:ogf:network:vreserve.bench:2026:path-time
  network: $(jq -r .network "$T/peer.json")
  poll_ms: 10
  hosts:
    - {ip: 10.210.0.1, stp: A, vlans: 1780-1789}
    - {ip: 10.210.0.2, stp: B, vlans: 1780-1789}
YAML
    echo "OpenNSA at $url; $N cycles each; poll_ms 10, adapter tick_ms $TICK"
    for i in $(seq "$N"); do
        "$BIN/vr-nsi-cli" -c "$T/nsi.yaml" lifecycle 10.210.0.1 10.210.0.2 >"$T/cli-$i.out" \
            || { cat "$T/cli-$i.out" >&2; exit 1; }
    done
    cat >"$T/a.yaml" <<YAML
bus: {control: '$(ep a)', events: '$(ep ae)'}
state: $T/a-nsi.db
tick_ms: $TICK
backend: nsi
$(cat "$T/nsi.yaml")
YAML
    cat >"$T/b.yaml" <<YAML
bus: {control: '$(ep b)', events: '$(ep be)', adapter: '$(ep a)', adapter_events: '$(ep ae)'}
db: $T/b-nsi.db
networks:
  - name: nsi
    endpoints: [{host: h1, ip: 10.210.0.1}, {host: h2, ip: 10.210.0.2}]
YAML
    "$BIN/odin-adapter" -c "$T/a.yaml" >"$T/adapter.log" 2>&1 & PIDS+=($!)
    "$BIN/vreserve-broker" -q -c "$T/b.yaml" & PIDS+=($!)
    CTL=("$BIN/vnetctl" -e "broker=$(ep b)" -e "adapter=$(ep a)")
    for _ in $(seq 100); do "${CTL[@]}" status broker adapter >/dev/null 2>&1 && break; sleep 0.1; done
    : >"$T/e2e.txt"
    for i in $(seq "$N"); do
        t0=$(date +%s%N)
        id=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
        until [ "$("${CTL[@]}" --json reserve show "$id" | jq -r .state)" = active ]; do sleep 0.05; done
        t1=$(date +%s%N)
        "${CTL[@]}" reserve release "$id" >/dev/null
        until [ "$("${CTL[@]}" --json reserve show "$id" | jq -r .state)" = released ]; do sleep 0.05; done
        echo "$(( (t1 - t0) / 1000000 ))" >>"$T/e2e.txt"
    done
    # "path p-N: up in T ms: P ms at the provider (N calls), W ms waiting
    # for polls (nsi.poll_ms), O ms ours" (the same for down).
    sed -n 's/.*path p-[0-9]*: \(up\|down\) in \([0-9]*\) ms: \([0-9]*\) ms at the provider (\([0-9]*\) calls), \([0-9]*\) ms waiting for polls (nsi.poll_ms), \([0-9]*\) ms ours$/\1 \2 \3 \4 \5 \6/p' \
        "$T/adapter.log" >"$T/adapter-ms.txt"
    col() { awk -v w="$1" -v c="$2" '$1 == w { print $c }' "$T/adapter-ms.txt" | stats; }
    row() { printf '%-46s %8s %8s %8s\n' "$1" $2; }
    row "ms (N=$N)" "median min max"
    row "provider: reserve -> active (vr-nsi-cli)" "$(sed -n 's/^phase reserve-active \([0-9]*\) ms$/\1/p' "$T"/cli-*.out | stats)"
    row "adapter: provisioning -> up" "$(col up 2)"
    row "  calls in flight (the provider)" "$(col up 3)"
    row "  waiting for polls due (nsi.poll_ms)" "$(col up 5)"
    row "  ours: an answer to the next call, beyond" "$(col up 6)"
    row "  calls per set-up" "$(col up 4)"
    row "broker: create -> active (vnetctl, 50 ms polls)" "$(stats <"$T/e2e.txt")"
    row "provider: active -> Terminated (vr-nsi-cli)" "$(sed -n 's/^phase active-terminated \([0-9]*\) ms$/\1/p' "$T"/cli-*.out | stats)"
    row "adapter: tearing-down -> down" "$(col down 2)"
    row "  calls in flight (the provider)" "$(col down 3)"
    row "  waiting for polls due (nsi.poll_ms)" "$(col down 5)"
    row "  ours: an answer to the next call, beyond" "$(col down 6)"

}
if [ "$NSI" = 1 ]; then
    nsi_bench
    exit 0
fi

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
