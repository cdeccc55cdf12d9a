#!/bin/bash
# SPDX-License-Identifier: MIT
# Inference on the test bed: 3 hosts x 2 VMs running the BSP workload, a
# fourth host as the star's proxy (as the paper's setup had it), the
# agents publishing every 100 ms, and the aggregator.  For each
# pattern the published topology must equal the pattern's edges (from
# vr-bsp --print-edges) within 2 s of the workload starting, and clear
# after it stops; a "phases" run must give one event per phase, no more.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
P="vt$$"
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'
"$BED" up --prefix "$P" --hosts 4 --vms 2 >/dev/null

N=6
rank_host() { echo $(($1 / 2 + 1)); }
rank_vm() { echo $(($1 % 2 + 1)); }
PEERS=""
for r in $(seq 0 $((N - 1))); do
    PEERS="$PEERS${PEERS:+,}10.201.$(rank_host "$r").$(rank_vm "$r"):5555"
done

vr_overlay_keys h1 h2 h3 h4
for i in 1 2 3 4; do
    {
        echo "id: h$i"
        [ "$i" != 4 ] && echo "proxy_addr: 10.200.0.4:7000"
        echo "bus: {control: 'ipc://$T/agent-h$i', aggregator: 'ipc://$T/ingest'}"
        echo "overlay: {listen: '10.200.0.$i:7000', $(vr_overlay_yaml h$i)}"
        echo "ports: [vm1, vm2]"
        echo "period_ms: 100"
    } >"$T/h$i.yaml"
    vr_start "agent-h$i" ip netns exec "$P-h$i" "$BIN/vnet-agent" \
        -c "$T/h$i.yaml"
done
cat >"$T/aggregator.yaml" <<YAML
bus:
  control: ipc://$T/agg
  events: ipc://$T/agg-events
  ingest: ipc://$T/ingest
YAML
# Each pattern gets a fresh aggregator, so that one pattern's union or
# its clearing never delays the next one's first event.
start_aggregator() {
    vr_start aggregator "$BIN/vttif-aggregator" -c "$T/aggregator.yaml"
    vr_until 10 "$BIN/vnetctl" -e aggregator="ipc://$T/agg" status \
        aggregator || fail "aggregator did not come up"
    sleep 0.3   # the agents' publishers reconnect
}
# The star must carry the workload before we time anything.
for r in 1 2 3 4 5; do
    vr_until 10 ip netns exec "$P-h1v1" ping -c 1 -W 0.3 -q \
        "10.201.$(rank_host "$r").$(rank_vm "$r")" || fail "no star to rank $r"
done

# run_bsp PATTERN SECONDS [extra vr-bsp options]: all ranks, waits.
run_bsp() {
    local pattern=$1 secs=$2 r pids=()
    shift 2
    for r in $(seq 0 $((N - 1))); do
        ip netns exec "$P-h$(rank_host "$r")v$(rank_vm "$r")" "$BIN/vr-bsp" \
            --rank "$r" --peers "$PEERS" --pattern "$pattern" \
            --duration "$secs" --msg-size 16K --compute-us 0 --json "$@" \
            >"$T/bsp-$pattern-$r.json" 2>"$T/bsp-$pattern-$r.err" &
        pids+=("$!")
        VR_PIDS+=("$!")
    done
    for r in "${pids[@]}"; do
        wait "$r" || fail "a $pattern rank failed: $(cat "$T"/bsp-"$pattern"-*.err)"
    done
}

# check_pattern PATTERN: the topology events heard while it ran.
check_pattern() {
    local pattern=$1
    "$BIN/vr-bsp" --print-edges --pattern "$pattern" --n "$N" --json \
        >"$T/edges-$pattern.json"
    python3 - "$T/edges-$pattern.json" "$T/sub-$pattern.json" \
        "$T/start-$pattern" "$pattern" <<'PY'
import json, sys
edges = json.load(open(sys.argv[1]))["edges"]
heard = json.load(open(sys.argv[2]))["topologies"]
start = int(open(sys.argv[3]).read())
pattern = sys.argv[4]
def mac(r):
    return "02:00:00:00:%02x:%02x" % (r // 2 + 1, r % 2 + 1)
want = {tuple(sorted((mac(a), mac(b)))) for a, b in edges}
first = None
for ev in heard:
    got = {tuple(e.split("-")) for e in ev["edges"]}
    got = {tuple(sorted(e)) for e in got}
    if got == want and first is None:
        first = (ev["t_us"] - start) / 1e6
cleared = bool(heard) and heard[-1]["change"] == 4 and not heard[-1]["edges"]
need_clear = pattern == "ring"      # the one run we wait long enough for
print("%-10s %2d VMs  edges expected %2d  events %d  first match after %s s%s"
      % (pattern, 6, len(want), len(heard),
         "%.2f" % first if first is not None else "never",
         ("  cleared %s" % cleared) if need_clear else ""))
sys.exit(0 if first is not None and first <= 2.0
         and (cleared or not need_clear) else 1)
PY
}

echo "== each pattern: topology within 2 s (ring: cleared after)"
for pattern in ring all-to-all mesh tree neighbor; do
    start_aggregator
    window=6
    [ "$pattern" = ring ] && window=11
    "$BIN/vr-sub" connect "ipc://$T/agg-events" "$window" \
        >"$T/sub-$pattern.json" &
    SUB=$!
    VR_PIDS+=("$SUB")
    sleep 0.3
    date +%s%6N >"$T/start-$pattern"
    run_bsp "$pattern" 4
    wait "$SUB" || fail "vr-sub failed"
    python3 -c "import json,sys; [print(e[\"change\"], len(e[\"edges\"]), e[\"reason\"][:150]) for e in json.load(open(sys.argv[1]))[\"topologies\"]]" "$T/sub-$pattern.json"
    check_pattern "$pattern" || fail "$pattern: topology not inferred in time"
    vr_stop_services aggregator
done

echo "== phases (ring, all-to-all every 10 s): one event per phase"
start_aggregator
"$BIN/vr-sub" connect "ipc://$T/agg-events" 36 >"$T/sub-phases.json" &
SUB=$!
VR_PIDS+=("$SUB")
sleep 0.3
run_bsp phases 30 --phases ring,all-to-all --phase-sec 10
wait "$SUB" || fail "vr-sub failed"
python3 - "$T/sub-phases.json" <<'PY'
import json, sys
heard = json.load(open(sys.argv[1]))["topologies"]
during = [e for e in heard if e["change"] != 4]
print("phases: %d events while running (%s), then %s"
      % (len(during), ", ".join("%d edges" % len(e["edges"]) for e in during),
         "cleared" if heard and heard[-1]["change"] == 4 else "not cleared"))
sys.exit(0 if len(during) == 3 else 1)
PY
[ $? = 0 ] || fail "phases: not one event per phase"

vr_stop_services aggregator agent-h1 agent-h2 agent-h3 agent-h4
echo "1 passed, 0 failed"
