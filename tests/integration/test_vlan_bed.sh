#!/bin/bash
# SPDX-License-Identifier: MIT
# The host ends of VLAN circuits, the whole loop on the test bed: 2 hosts x
# 2 VMs built with --circuits (a VLAN switch P-sw, a circuit NIC ckt0 per
# host), every service running, the adapter's netns backend handing out
# VLAN circuits (netns.vlans) as a provider would.  Traffic between the
# hosts' VMs makes the planner reserve a path; the reservation carries a
# VLAN and a /30; both agents make the sub-interface ckt0.<X> with their
# address and bind the circuit link on it; the traffic moves onto the
# circuit (the fast path's counters, the circuit NIC's bytes, not the
# commodity NIC's) and a ping across loses nothing; when the traffic
# stops the reservation is released and both sub-interfaces are gone.
# An agent killed with -9 leaves its sub-interface; restarted, it sweeps
# it (its mark) and makes it again for the planner; one stopped with
# SIGTERM removes it first.  A VLAN link to an agent without
# overlay.circuit_nic is refused with a clear error.
#
# The kernel decides the kind: 802.1Q sub-interfaces where it has them,
# the untagged macvlan stand-in (overlay.circuit_kind: macvlan) where it
# has not (this machine's kernel has no CONFIG_VLAN_8021Q).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }
command -v iperf3 >/dev/null || { echo "needs iperf3"; exit 77; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
P="vl$$"
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'
"$BED" up --prefix "$P" --hosts 2 --vms 2 --rate 100mbit --circuits \
    --vlans 1780-1799 >"$T/bed.json" 2>"$T/bed.err" || fail "bed: $(cat "$T/bed.err")"
KIND=macvlan
if ip -n "$P-h1" link add link ckt0 name vrprobe type vlan id 4000 2>/dev/null; then
    ip -n "$P-h1" link del vrprobe
    KIND=vlan
fi
echo "sub-interfaces: $KIND; switch VLAN filtering: $(jq -r .circuits.vlan_filtering "$T/bed.json")"

SCALE=0.02; T_UP=500; T_DOWN=3000
vr_overlay_keys h1 h2 hx
agent_yaml() {  # agent_yaml ID PROXY_ADDR PORTS LISTEN CIRCUIT_NIC
    {
        echo "id: $1"
        [ -z "$2" ] || echo "proxy_addr: $2"
        echo "bus: {control: '$(ep "agent-$1")', aggregator: '$(ep ingest)'}"
        echo "overlay: {listen: '0.0.0.0:$4', host_ip: $(jq -r ".hosts[] | select(.name == \"${1/x/1}\") | .ip" "$T/bed.json"), $(vr_overlay_yaml "$1"), circuit_nic: '$5', circuit_kind: $KIND}"
        echo "ports: $3"
        echo "period_ms: 100"
    } >"$T/$1.yaml"
}
start_agent() {  # start_agent I
    vr_start "agent-h$1" ip netns exec "$P-h$1" "$BIN/vnet-agent" -c "$T/h$1.yaml"
}
agent_yaml h1 10.200.0.2:7000 "[vm1, vm2]" 7000 ckt0
agent_yaml h2 "" "[vm1, vm2]" 7000 ckt0
start_agent 1
start_agent 2
cat >"$T/aggregator.yaml" <<YAML
bus: {control: '$(ep agg)', events: '$(ep agg-events)', ingest: '$(ep ingest)'}
YAML
vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: netns' \
    "sim: {time_scale: $SCALE}" "netns:
  vlans: 1780-1799
  hosts:
$(for i in 1 2; do echo "    - {ip: 10.200.0.$i, netns: $P-h$i}"; done)"
vr_broker_yaml "$T/broker.db" 'reconcile_ms: 500' "networks:
  - name: lab
    endpoints:
$(for i in 1 2; do echo "      - {host: h$i, ip: 10.200.0.$i}"; done)"
vr_planner_yaml "$T/planner.yaml" 'k: 1' "t_up_ms: $T_UP" \
    "t_down_ms: $T_DOWN" 'bandwidth_mbps: 1000'
cat >"$T/ctl.yaml" <<YAML
aggregator: $(ep agg)
planner: $(ep planner)
broker: $(ep broker)
adapter: $(ep adapter)
agent: $(ep agent-h1)
timeout_ms: 3000
YAML
CTL=("$BIN/vnetctl" -c "$T/ctl.yaml")
vr_start aggregator "$BIN/vttif-aggregator" -c "$T/aggregator.yaml"
vr_start adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_start planner "$BIN/vadapt-planner" -v -c "$T/planner.yaml"
vr_until 10 "${CTL[@]}" status aggregator planner broker adapter \
    || fail "services not up"

pcount() { svc_counter planner "$1"; }
# acount I NAME: agent hI's status counter NAME.
acount() {
    "$BIN/vnetctl" -c "$T/ctl.yaml" --json status agent 2>/dev/null \
        | jq -r ".services[] | select(.id == \"h$1\") | .counters.$2" \
        | head -n 1
}
sed -i "s|^agent: .*|agent: $(ep agent-h1)\nagents: ['$(ep agent-h2)']|" "$T/ctl.yaml"
# links I: agent hI's links as JSON.
links() { "${CTL[@]}" --json link list --agent "$(ep "agent-h$1")"; }
open_resv() { "${CTL[@]}" --json reserve list | jq -r '[.[] | select(.state != "released" and .state != "failed")] | length'; }
dev_bytes() {  # dev_bytes I DEV tx|rx
    ip -n "$P-h$1" -j -s link show "$2" | jq ".[0].stats64.$3.bytes"
}

vr_until 10 ip netns exec "$P-h1v1" ping -c 1 -W 0.3 -q 10.201.2.1 \
    || fail "no star between the hosts' VMs"

echo "== a VLAN link to an agent without overlay.circuit_nic is refused"
agent_yaml hx 10.200.0.2:7000 "[]" 7002 ""
vr_start agent-hx ip netns exec "$P-h1" "$BIN/vnet-agent" -c "$T/hx.yaml"
vr_until 10 "$BIN/vr-call" "$(ep agent-hx)" agent LINK_LIST_REQUEST \
    || fail "agent hx not up"
rc=0
"$BIN/vr-call" "$(ep agent-hx)" agent LINK_CREATE link.name=vr-x \
    link.peer=10.212.9.2:7000 link.circuit=true link.vlan=1799 \
    link.local=10.212.9.1 link.prefix_len=30 >"$T/refused.txt" 2>&1 || rc=$?
cat "$T/refused.txt"
[ "$rc" = 1 ] && grep -q "BAD_REQUEST.*no overlay.circuit_nic" "$T/refused.txt" \
    || fail "VLAN link without circuit_nic: rc $rc"
rc=0
"$BIN/vr-call" "$(ep agent-h1)" agent LINK_CREATE link.name=vr-y \
    link.peer=10.212.9.2:7000 link.circuit=true link.vlan=4095 \
    link.local=10.212.9.1 link.prefix_len=30 >"$T/refused2.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "link.vlan: 4095 out of range" "$T/refused2.txt" \
    || fail "VLAN 4095 not refused: $(cat "$T/refused2.txt")"
vr_stop agent-hx
[ "$VR_RC" = 0 ] || fail "agent hx exited $VR_RC"

echo "== traffic between the hosts: a VLAN circuit is reserved and used"
ip netns exec "$P-h2v1" iperf3 -s -1 -p 5201 >"$T/iperf-s.txt" 2>&1 &
VR_PIDS+=("$!")
IPERF_S=$!
vr_until 5 ip netns exec "$P-h2v1" sh -c 'ss -ltn | grep -q :5201' || fail "no iperf3 server"
t0=$SECONDS
ip netns exec "$P-h1v1" iperf3 -c 10.201.2.1 -p 5201 -t 90 -b 20M \
    >"$T/iperf-c.txt" 2>&1 &
IPERF_C=$!
VR_PIDS+=("$IPERF_C")
for _ in $(seq 300); do
    [ "$(pcount links_up_reserved)" = 1 ] && break
    sleep 0.1
done
[ "$(pcount links_up_reserved)" = 1 ] || fail "no reserved link up: $("${CTL[@]}" status planner)"
echo "reserved link up $((SECONDS - t0)) s after the traffic started"
"${CTL[@]}" --json reserve list >"$T/resv.json"
R=$(jq -r '[.[] | select(.state == "active")][0]' "$T/resv.json")
VLAN=$(jq -r .vlan <<<"$R")
PLEN=$(jq -r .link_prefix_len <<<"$R")
echo "reservation: $(jq -c '{id, host_a, host_b, vlan, link_prefix_len, addr_a, addr_b}' <<<"$R")"
[ "$VLAN" -ge 1780 ] && [ "$VLAN" -le 1799 ] || fail "vlan '$VLAN' not from 1780-1799"
[ "$PLEN" = 30 ] || fail "prefix length '$PLEN'"
DEV="ckt0.$VLAN"
for i in 1 2; do
    addr=$(jq -r "if .host_a == \"h$i\" then .addr_a else .addr_b end" <<<"$R")
    ip -n "$P-h$i" -j -d addr show "$DEV" >"$T/dev$i.json" || fail "h$i: no $DEV"
    jq -e ".[0].addr_info | any(.local == \"$addr\" and .prefixlen == 30)" \
        "$T/dev$i.json" >/dev/null || fail "h$i: $DEV lacks $addr/30"
    [ "$(jq -r '.[0].operstate' "$T/dev$i.json")" != DOWN ] || fail "h$i: $DEV down"
    [ "$(jq -r '.[0].linkinfo.info_kind' "$T/dev$i.json")" = "$KIND" ] \
        || fail "h$i: $DEV is no $KIND"
    if [ "$KIND" = vlan ]; then
        [ "$(jq -r '.[0].linkinfo.info_data.id' "$T/dev$i.json")" = "$VLAN" ] \
            || fail "h$i: $DEV has another VLAN id"
    fi
    [ "$(ip -n "$P-h$i" -j -d link show "$DEV" | jq -r '.[0].ifalias')" = "vreserve-agent h$i" ] \
        || fail "h$i: $DEV not marked"
    links "$i" >"$T/links$i.json"
    jq -e ".[] | select(.vlan == $VLAN) | select(.vlan_dev == \"$DEV\" and .vlan_state == \"up\" and .state == \"up\" and .fast_dev != \"\")" \
        "$T/links$i.json" >/dev/null || fail "h$i: circuit link not up on $DEV: $(jq -c . "$T/links$i.json")"
    echo "h$i: $DEV $addr/30 ($KIND), link $(jq -r ".[] | select(.vlan == $VLAN) | \"\(.name) \(.state) fast_dev \(.fast_dev)\"" "$T/links$i.json")"
    [ "$(acount "$i" vlan_made)" -ge 1 ] || fail "h$i: vlan_made not counted"
done

# The circuit carries the traffic, the commodity network does not: the
# fast path's counters, and the bytes of the device it sends on.
FDEV=$(jq -r ".[] | select(.vlan == $VLAN) | .fast_dev" "$T/links1.json")
f0=$(acount 1 fast_bytes); v0=$(dev_bytes 1 "$FDEV" tx); c0=$(dev_bytes 1 c0 tx)
sleep 2
df=$(( $(acount 1 fast_bytes) - f0 )); dv=$(( $(dev_bytes 1 "$FDEV" tx) - v0 ))
dc=$(( $(dev_bytes 1 c0 tx) - c0 ))
echo "h1 in 2 s: fast path +$df bytes, $FDEV +$dv bytes, commodity c0 +$dc bytes"
[ "$df" -gt 1000000 ] || fail "the fast path carries nothing over the circuit"
[ "$dv" -gt 1000000 ] || fail "$FDEV carries nothing"
[ "$dc" -lt $((dv / 20)) ] || fail "the commodity network still carries the traffic"
ip netns exec "$P-h1v2" ping -i 0.01 -c 300 -q 10.201.2.2 >"$T/ping.txt" 2>&1 \
    || true
grep -E "packet loss" "$T/ping.txt"
grep -q " 0% packet loss" "$T/ping.txt" || fail "ping across the circuit lost frames"

echo "== kill -9 agent h1: its sub-interface stays; restarted, it sweeps it"
kill -KILL "$(cat "$T/agent-h1.pid")"
wait "$(cat "$T/agent-h1.pid")" 2>/dev/null || true
ip -n "$P-h1" link show "$DEV" >/dev/null 2>&1 || fail "$DEV went with the agent"
# What a kill between the add and the mark leaves (down, no address,
# our name, on ckt0) goes too; an operator's device in use stays, and so
# does another agent's.
ip -n "$P-h1" link add link ckt0 name ckt0.1799 type "$KIND" $([ "$KIND" = vlan ] && echo id 1799 || echo mode bridge)
ip -n "$P-h1" link add link ckt0 name ckt0.1798 type "$KIND" $([ "$KIND" = vlan ] && echo id 1798 || echo mode bridge)
ip -n "$P-h1" addr add 192.0.2.1/24 dev ckt0.1798
ip -n "$P-h1" link set dev ckt0.1798 up
ip -n "$P-h1" link add link ckt0 name ckt0.1797 type "$KIND" $([ "$KIND" = vlan ] && echo id 1797 || echo mode bridge)
ip -n "$P-h1" link set dev ckt0.1797 alias "vreserve-agent h2"
start_agent 1
vr_until 10 grep -q "sweep: removing $DEV" "$T/agent-h1.log" \
    || fail "restarted agent did not sweep $DEV"
vr_until 10 test "$(acount 1 vlan_swept)" -ge 2 || fail "vlan_swept not counted"
grep -h "sweep: removing" "$T/agent-h1.log" | sed 's/^.*INFO: /swept: /'
grep -q "sweep: removing ckt0.1799" "$T/agent-h1.log" || fail "an unmarked half-made device was not swept"
ip -n "$P-h1" link show ckt0.1799 >/dev/null 2>&1 && fail "ckt0.1799 still there"
ip -n "$P-h1" link show ckt0.1798 >/dev/null 2>&1 || fail "the sweep removed a device in use"
ip -n "$P-h1" link show ckt0.1797 >/dev/null 2>&1 || fail "the sweep removed another agent's device"
ip -n "$P-h1" link del ckt0.1798
ip -n "$P-h1" link del ckt0.1797
# The planner makes the link again, and with it the sub-interface.
for _ in $(seq 200); do
    links 1 2>/dev/null | jq -e ".[] | select(.vlan == $VLAN and .vlan_state == \"up\" and .state == \"up\")" \
        >/dev/null 2>&1 && break
    sleep 0.1
done
links 1 | jq -e ".[] | select(.vlan == $VLAN and .vlan_state == \"up\")" >/dev/null \
    || fail "circuit link not made again after the restart"
ip -n "$P-h1" link show "$DEV" >/dev/null || fail "$DEV not made again"
echo "the planner made the link again: $DEV is back on h1"

echo "== SIGTERM to agent h2: it removes its sub-interface; restarted, made again"
vr_stop agent-h2
[ "$VR_RC" = 0 ] || fail "agent h2 exited $VR_RC on SIGTERM"
ip -n "$P-h2" link show "$DEV" >/dev/null 2>&1 && fail "$DEV left on h2 after SIGTERM"
grep -q "$DEV: removed at stop" "$T/agent-h2.log" || fail "no removal logged at stop"
start_agent 2
ok2=""
for _ in $(seq 200); do
    links 2 2>/dev/null | jq -e ".[] | select(.vlan == $VLAN and .vlan_state == \"up\" and .state == \"up\")" \
        >/dev/null 2>&1 && { ok2=1; break; }
    sleep 0.1
done
[ -n "$ok2" ] || fail "circuit link not made again on h2"
# The proxy's restart broke the star a while, so the planner may release
# the path (its demand fell) and reserve again: pings cross soon.
vr_until 15 ip netns exec "$P-h1v2" ping -c 1 -W 0.5 -q 10.201.2.2 \
    || fail "no ping across after h2's restart"
echo "h2 removed $DEV at stop; restarted, the link is back and pings cross"

echo "== the traffic stops: released, both sub-interfaces gone"
kill -TERM "$IPERF_C" "$IPERF_S" 2>/dev/null || true
wait "$IPERF_C" "$IPERF_S" 2>/dev/null || true
t_stop=$SECONDS
gone=""
for _ in $(seq 300); do
    if [ "$(open_resv)" = 0 ] && ! ip -n "$P-h1" link show "$DEV" >/dev/null 2>&1 \
        && ! ip -n "$P-h2" link show "$DEV" >/dev/null 2>&1; then
        gone=1; break
    fi
    sleep 0.1
done
[ -n "$gone" ] || fail "not released or not removed: $(open_resv) open; $(ip -n "$P-h1" -br link; ip -n "$P-h2" -br link)"
echo "released and removed $((SECONDS - t_stop)) s after the traffic stopped (T_down $((T_DOWN / 1000)) s)"
for i in 1 2; do
    [ "$(acount "$i" vlan_removed)" -ge 1 ] || fail "h$i: vlan_removed not counted"
    [ "$(acount "$i" vlan_devs)" = 0 ] || fail "h$i: still holds a sub-interface"
done
for i in 1 2; do vr_stop "agent-h$i"; [ "$VR_RC" = 0 ] || fail "agent h$i exited $VR_RC"; done
vr_stop_services planner broker adapter aggregator
echo "1 passed, 0 failed"
