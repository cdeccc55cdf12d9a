# SPDX-License-Identifier: MIT
# The whole loop on the test bed, for the planner's tests (sourced after
# lib.sh, bash): 4 hosts x 2 VMs and a fifth host as the star's proxy on a
# 100 Mbit/s commodity network, every service running, the adapter's
# netns backend making real paths (the paper's 17.5 s scaled by $SCALE).
#   loop_bed_up PREFIX [PLANNER_YAML_LINE...]
# Needs SCALE, T_UP and T_DOWN set; sets P, CTL, and the helpers below.
# A PLANNER_YAML_LINE "key: value" replaces the default of that key.
# The bed goes down and the BSP ranks stop on exit, whatever happens.
#   loop_bed_services N [PLANNER_YAML_LINE...]
# only starts the services on bed P (already up, down on exit): agents on
# hosts 1 to N+1 (N+1 the proxy; their ports LOOP_PORTS, default
# [vm1, vm2]), the adapter's paths and the broker's endpoints between
# hosts 1 to N, and waits until they answer.
# Optional, set before loop_bed_up:
#   LOOP_BED_CIRCUITS=LO-HI  the bed with VLAN circuits (vrbed --circuits
#       --vlans LO-HI), each agent with overlay.circuit_nic ckt0 and the
#       kind this kernel has (LOOP_BED_KIND: vlan, or macvlan where it
#       lacks 802.1Q);
#   LOOP_BED_ADAPTER=(LINE...)  the adapter's backend and its settings
#       instead of the netns backend's (YAML lines, as vr_adapter_yaml).

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
BSP_PIDS=()
LOOP_BED_ADAPTER=()
LOOP_BED_KIND=

loop_bed_up() {
    P=$1
    shift
    vr_on_cleanup 'stop_bsp; "$BED" down --prefix "$P" >/dev/null 2>&1'
    local circuits=()
    [ -z "${LOOP_BED_CIRCUITS:-}" ] || circuits=(--circuits --vlans "$LOOP_BED_CIRCUITS")
    "$BED" up --prefix "$P" --hosts 5 --vms 2 --rate 100mbit "${circuits[@]}" >/dev/null
    if [ -n "${LOOP_BED_CIRCUITS:-}" ]; then
        LOOP_BED_KIND=macvlan
        if ip -n "$P-h1" link add link ckt0 name vrprobe type vlan id 4000 2>/dev/null; then
            ip -n "$P-h1" link del vrprobe
            LOOP_BED_KIND=vlan
        fi
    fi
    loop_bed_services 4 "$@"
    local r
    for r in 1 2 3 4 5 6 7; do
        vr_until 10 ip netns exec "$P-h1v1" ping -c 1 -W 0.3 -q \
            "10.201.$((r / 2 + 1)).$((r % 2 + 1))" >/dev/null \
            || fail "no star to rank $r"
    done
}

loop_bed_services() {
    local n=$1 i ckt=""
    local proxy=$((n + 1))
    shift
    [ -z "$LOOP_BED_KIND" ] || ckt=", circuit_nic: ckt0, circuit_kind: $LOOP_BED_KIND"
    for i in $(seq "$proxy"); do vr_overlay_keys "h$i"; done
    for i in $(seq "$proxy"); do
        {
            echo "id: h$i"
            [ "$i" != "$proxy" ] && echo "proxy_addr: 10.200.0.$proxy:7000"
            echo "bus: {control: '$(ep agent-h$i)', aggregator: '$(ep ingest)'}"
            echo "overlay: {listen: '0.0.0.0:7000', host_ip: 10.200.0.$i, $(vr_overlay_yaml h$i)$ckt}"
            echo "ports: ${LOOP_PORTS:-[vm1, vm2]}"
            echo "period_ms: 100"
        } >"$T/h$i.yaml"
        vr_start "agent-h$i" ip netns exec "$P-h$i" "$BIN/vnet-agent" -c "$T/h$i.yaml"
    done
    cat >"$T/aggregator.yaml" <<YAML
bus: {control: '$(ep agg)', events: '$(ep agg-events)', ingest: '$(ep ingest)'}
YAML
    if [ "${#LOOP_BED_ADAPTER[@]}" -gt 0 ]; then
        vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" "${LOOP_BED_ADAPTER[@]}"
    else
        vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: netns' \
            "sim: {time_scale: $SCALE}" "netns:
  hosts:
$(for i in $(seq "$n"); do echo "    - {ip: 10.200.0.$i, netns: $P-h$i}"; done)"
    fi
    vr_broker_yaml "$T/broker.db" 'reconcile_ms: 500' "networks:
  - name: lab
    endpoints:
$(for i in $(seq "$n"); do echo "      - {host: h$i, ip: 10.200.0.$i}"; done)"
    vr_planner_yaml "$T/planner.yaml" "t_up_ms: $T_UP" "t_down_ms: $T_DOWN" \
        'max_adds: 8' 'bandwidth_mbps: 1000' "$@"
    cat >"$T/ctl.yaml" <<YAML
aggregator: $(ep agg)
planner: $(ep planner)
planner_events: $(ep planner-events)
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 3000
YAML
    CTL=("$BIN/vnetctl" -c "$T/ctl.yaml")
    vr_start aggregator "$BIN/vttif-aggregator" -c "$T/aggregator.yaml"
    vr_start adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
    vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
    vr_start planner "$BIN/vadapt-planner" -v -c "$T/planner.yaml"
    vr_until 10 "${CTL[@]}" status aggregator planner broker adapter \
        || fail "services not up"
}

pcount() { svc_counter planner "$1"; }
acount() { svc_counter adapter "$1"; }
open_resv() { "${CTL[@]}" --json reserve list | jq -r '[.[] | select(.state != "released" and .state != "failed")] | length'; }
paths_held() { echo $(( $(acount paths_provisioning) + $(acount paths_up) + $(acount paths_tearing_down) )); }

# start_bsp PATTERN RANKS... [-- VR-BSP-ARGS...]: BSP ranks in the
# background until stop_bsp; rank r runs on host r/2+1, VM r%2+1.
start_bsp() {
    local pattern=$1 peers="" r ranks=() extra=()
    shift
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do ranks+=("$1"); shift; done
    [ $# -gt 0 ] && { shift; extra=("$@"); }
    for r in "${ranks[@]}"; do peers="$peers${peers:+,}10.201.$((r / 2 + 1)).$((r % 2 + 1)):5555"; done
    local i=0
    for r in "${ranks[@]}"; do
        ip netns exec "$P-h$((r / 2 + 1))v$((r % 2 + 1))" "$BIN/vr-bsp" \
            --rank "$i" --peers "$peers" --pattern "$pattern" \
            --duration 300 --msg-size 64K --compute-us 0 --json \
            "${extra[@]}" \
            >"$T/bsp-$pattern-$r.json" 2>"$T/bsp-$pattern-$r.err" &
        BSP_PIDS+=("$!")
        VR_PIDS+=("$!")
        i=$((i + 1))
    done
}
stop_bsp() {
    local p
    for p in "${BSP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${BSP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    BSP_PIDS=()
}
