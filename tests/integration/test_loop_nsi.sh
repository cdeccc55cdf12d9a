#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock opennsa
# The closed loop with backend nsi on the test bed: OpenNSA
# (../shared/peers/opennsa, started here with one port per host, h1..h4,
# stopped on any exit) is the reservation system, the bed's VLAN switch
# (vrbed --circuits, the same VLAN range) stands for its switch.  4 hosts
# x 2 VMs and a fifth host as the star's proxy (tests/integration/
# loop_bed.sh), every service running, the adapter's nsi.hosts built from
# the STPs start.sh printed.  The BSP ring makes the planner reserve 4
# paths; each is an NSI connection, live at the provider, whose VLAN and
# /30 the agents put on their circuit NICs; the traffic moves onto them
# (host 2's circuit NIC ckt0 carries it, the commodity NIC c0 does not).
# When the ring stops everything is released and the provider holds
# nothing live of ours.
#
# This kernel has no 802.1Q (CONFIG_VLAN_8021Q): there the agents use the
# untagged macvlan stand-in (overlay.circuit_kind: macvlan), as
# test_vlan_bed.sh does; the VLAN ids are still the provider's.
source "$(dirname "$0")/lib.sh"
# The normal tree only: wait-bound (OpenNSA's start, the bed, T_down);
# the sanitizers see the nsi backend in integration.adapter_nsi*.
if grep -q '^VR_SANITIZE:BOOL=ON' "$VR_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    echo "skip: run in the normal tree only"
    exit 77
fi
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }
source "$(dirname "$0")/nsi_lib.sh"
source "$(dirname "$0")/loop_bed.sh"

NSI_PORTS="h1 h2 h3 h4"
nsi_peer_start
NSI_HOSTS_YAML=$(for i in 1 2 3 4; do
    echo "    - {ip: 10.200.0.$i, stp: 'urn:ogf:network:$(json_get "$T/peer.json" "j['ports']['h$i']")', vlans: 1780-1789}"
done)
SCALE=1; T_UP=500; T_DOWN=2000
LOOP_BED_CIRCUITS=1780-1789
LOOP_BED_ADAPTER=('backend: nsi' "$(nsi_section "$URL/NSI/services/CS2" 120000 20000)")
nsi_section "$URL/NSI/services/CS2" >"$T/cli.yaml"
loop_bed_up "ln$$"
echo "bed up, circuits: $LOOP_BED_KIND sub-interfaces on ckt0"

echo "== BSP ring on 4 hosts: 4 NSI connections, the ring on their VLANs"
t0=$(date +%s.%N)
start_bsp ring 0 1 2 3 4 5 6 7
up=""
for _ in $(seq 300); do
    [ "$(pcount links_up_reserved)" = 4 ] && { up=$(date +%s.%N); break; }
    sleep 0.05
done
[ -n "$up" ] || fail "ring not on 4 reserved paths: $("${CTL[@]}" status planner adapter)"
printf 'ring on 4 NSI circuits %.2f s after the workload started\n' "$(echo "$up - $t0" | bc -l)"
"${CTL[@]}" --json reserve list >"$T/resv.json"
jq -r '.[] | select(.state == "active") | "\(.id) \(.host_a)-\(.host_b) vlan \(.vlan) \(.addr_a)/\(.link_prefix_len) \(.addr_b)"' "$T/resv.json"
[ "$(jq '[.[] | select(.state == "active")] | length' "$T/resv.json")" = 4 ] \
    || fail "not 4 active reservations"
# One VLAN of 1780-1789 per circuit, the same at both ends; a host's
# two circuits on two VLANs (a port holds each VLAN once).
jq -e '[.[] | select(.state == "active") | .vlan] | all(. >= 1780 and . <= 1789)' \
    "$T/resv.json" >/dev/null || fail "a circuit without a VLAN of 1780-1789"
for i in 1 2 3 4; do
    jq -e "[.[] | select(.state == \"active\" and (.host_a == \"h$i\" or .host_b == \"h$i\")) | .vlan] | length == 2 and (unique | length) == 2" \
        "$T/resv.json" >/dev/null || fail "h$i: its circuits do not have two VLANs"
done
# Each is a live connection at the provider, on the VLAN the path has.
nsi_live >"$T/live.txt"
cat "$T/live.txt"
[ "$(wc -l <"$T/live.txt")" = 4 ] || fail "the provider holds $(wc -l <"$T/live.txt") live connections, not 4"
for id in $(jq -r '.[] | select(.state == "active") | .id' "$T/resv.json"); do
    p=$(path_json "$id")
    conn=$(jq -r .connection_id <<<"$p")
    grep -q "^connection $conn .*ReserveStart/Provisioned/Created active=true" "$T/live.txt" \
        || fail "$id: connection '$conn' not live at the provider"
    grep "^connection $conn " "$T/live.txt" | grep -q "vlan=$(jq -r .vlan <<<"$p")" \
        || fail "$id: the provider has another VLAN than $(jq -r .vlan <<<"$p")"
done
# Each host of the ring has its two sub-interfaces, with their /30s.
for i in 1 2 3 4; do
    n=$(ip -n "$P-h$i" -j link show | jq '[.[] | select(.ifname | test("^ckt0\\.178[0-9]$"))] | length')
    [ "$n" = 2 ] || fail "h$i has $n circuit sub-interfaces, not 2: $(ip -n "$P-h$i" -br link)"
done

dev_tx() { ip -n "$P-h2" -j -s link show "$1" | jq '.[0].stats64.tx.bytes'; }
# on_circuits WHAT: over 2 s, host 2's circuit NIC carries the ring, its
# commodity NIC (almost) nothing.
on_circuits() {
    local k0 c0 dk dc
    k0=$(dev_tx ckt0); c0=$(dev_tx c0)
    sleep 2
    dk=$(( $(dev_tx ckt0) - k0 )); dc=$(( $(dev_tx c0) - c0 ))
    echo "$1, host 2 in 2 s: circuit NIC ckt0 +$dk bytes, commodity c0 +$dc bytes"
    [ "$dk" -gt 1000000 ] || fail "$1: the circuits carry nothing"
    [ "$dc" -lt $((dk / 20)) ] || fail "$1: the commodity network still carries the ring"
}
on_circuits "one VLAN a circuit"

echo "== the ring stops: released, nothing live at the provider"
stop_bsp
t_stop=$(date +%s.%N)
for _ in $(seq 300); do
    [ "$(paths_held)" = 0 ] && [ "$(open_resv)" = 0 ] && break
    sleep 0.05
done
[ "$(paths_held)" = 0 ] && [ "$(open_resv)" = 0 ] || fail "not all released"
printf 'all released %.2f s after the ring stopped (T_down %.1f s)\n' \
    "$(echo "$(date +%s.%N) - $t_stop" | bc -l)" "$(echo "$T_DOWN / 1000" | bc -l)"
nsi_until_none_live 10 || fail "connections left live at the provider"
for i in 1 2 3 4; do
    vr_until 10 sh -c "! ip -n '$P-h$i' -br link | grep -q '^ckt0\.'" \
        || fail "h$i keeps a circuit sub-interface"
done

echo "== two VLANs a circuit: h1, h3 on 1780-1784, h2, h4 on 1785-1789"
# No VLAN in common at any ring pair: the provider (it swaps labels)
# chooses each end's on its own and translates between them; each agent
# makes its own end's sub-interface.  With the untagged macvlan stand-in
# the bed's switch carries them as they are; a tagged bed would need the
# provider's translation in its switch, which this bed's (a bridge)
# does not do.
if [ "$LOOP_BED_KIND" = macvlan ]; then
    NSI_HOSTS_YAML=$(for i in 1 2 3 4; do
        r=$([ $((i % 2)) = 1 ] && echo 1780-1784 || echo 1785-1789)
        echo "    - {ip: 10.200.0.$i, stp: 'urn:ogf:network:$(json_get "$T/peer.json" "j['ports']['h$i']")', vlans: $r}"
    done)
    vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: nsi' \
        "$(nsi_section "$URL/NSI/services/CS2" 120000 20000)"
    vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
    start_bsp ring 0 1 2 3 4 5 6 7
    ring_up() { [ "$(pcount links_up_reserved)" = 4 ]; }
    vr_until 30 ring_up \
        || fail "ring not on 4 two-VLAN paths: $("${CTL[@]}" status planner adapter)"
    "${CTL[@]}" --json reserve list >"$T/resv2.json"
    jq -r '.[] | select(.state == "active") | "\(.id) \(.host_a)-\(.host_b) vlan \(.vlan)/\(.vlan_b)"' "$T/resv2.json"
    # Each end on its host's range: h1, h3 on 1780-1784, h2, h4 on the rest.
    jq -e '[.[] | select(.state == "active")] | length == 4 and all(
        (if (.host_a | ltrimstr("h") | tonumber) % 2 == 1 then .vlan < 1785 else .vlan >= 1785 end)
        and (if (.host_b | ltrimstr("h") | tonumber) % 2 == 1 then .vlan_b < 1785 else .vlan_b >= 1785 end)
        and .vlan_b != 0)' "$T/resv2.json" >/dev/null \
        || fail "not 4 circuits with each end on its host's VLANs: $(cat "$T/resv2.json")"
    for i in 1 2 3 4; do
        want=$([ $((i % 2)) = 1 ] && echo '^ckt0\\.178[0-4]$' || echo '^ckt0\\.178[5-9]$')
        n=$(ip -n "$P-h$i" -j link show | jq "[.[] | select(.ifname | test(\"$want\"))] | length")
        [ "$n" = 2 ] || fail "h$i has $n sub-interfaces on its own VLANs, not 2: $(ip -n "$P-h$i" -br link)"
    done
    on_circuits "two VLANs a circuit"
    stop_bsp
    none_open() { [ "$(paths_held)" = 0 ] && [ "$(open_resv)" = 0 ]; }
    vr_until 30 none_open || fail "two-VLAN circuits not released"
    nsi_until_none_live 10 || fail "connections left live at the provider"
else
    echo "skip: 802.1Q sub-interfaces here, and the bed's switch does not translate VLANs"
fi
vr_stop_services planner broker adapter aggregator
echo "1 passed, 0 failed"
