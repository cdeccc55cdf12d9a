#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# QEMU guests that come and go under the whole loop (issue 17).  A bed of
# 2 hosts x 2 QEMU guests plus a proxy host, made with every VM stopped;
# the agents (ports: ["vm*"]), aggregator, adapter (netns backend),
# broker and planner start first, then `vrbed vm-start` boots the four
# guests:
#   - each guest's tap is captured by its host's agent within 2 s of the
#     tap appearing (times printed), and once the guests are up every
#     guest pings every other over the star, h2v1 answering h1v1 within
#     2 s of its boot's end;
#   - a guest-to-guest iperf3 h1v1 -> h2v1 is moved onto a reserved path:
#     the path comes up (planner and adapter say so) and host 1's path
#     veth carries the traffic while its commodity link does not;
#   - `vrbed vm-stop h2v1`: its QEMU ends, its tap goes, the agent counts
#     the port released and holds one port; no PID file or socket left;
#     down leaves no QEMU, namespace or state.
# Needs root and qemu-system-x86_64 (exit 77 otherwise).  Boots are under
# TCG here: 4 guests at once take 15 to 40 s.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
vr_qemu_test
command -v jq >/dev/null || { echo "skip: needs jq"; exit 77; }
[ -x "$BIN/vr-bsp" ] || fail "no $BIN/vr-bsp (the guest image carries it)"
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/loop_bed.sh"
# shellcheck disable=SC2034 # read by loop_bed.sh
SCALE=0.05 T_UP=500 T_DOWN=3000
P="ql$$"
ms() { date +%s%3N; }
in_vm() { "$BED" exec --prefix "$P" "$@"; }
agent_counter() {
    "$BIN/vnetctl" -e agent="$(ep "agent-$1")" --json status agent \
        | jq -r ".services[0].counters.$2"
}
agent_is() { [ "$(agent_counter "$1" "$2")" = "$3" ]; }
bed_qemus() { vr_bed_qemus "$P"; }
t_start=$SECONDS

echo "== a bed of 3 hosts x 2 VM slots, every VM stopped; the loop's services"
vr_on_cleanup 'stop_bsp; "$BED" down --prefix "$P" >/dev/null 2>&1'
"$BED" up --prefix "$P" --hosts 3 --vms 2 --vm-kind qemu --stopped \
    >"$T/bed.json" 2>"$T/up.err" || { cat "$T/up.err" >&2; fail "up $P"; }
ip -n "$P-h1" link show vm1 >/dev/null 2>&1 && fail "--stopped left tap vm1 in h1"
LOOP_PORTS='["vm*"]' loop_bed_services 2
for h in h1 h2 h3; do
    vr_until 10 "$BIN/vnetctl" -e agent="$(ep "agent-$h")" status agent \
        || fail "agent $h did not come up"
    [ "$(agent_counter "$h" ports)" = 0 ] || fail "agent $h holds ports before any VM"
done
echo "bed and services up after $((SECONDS - t_start)) s"

echo "== vm-start the 4 guests after the agents: each tap captured"
t_boot=$SECONDS
vr_start vmstart "$BED" vm-start --prefix "$P" --boot-timeout 150 h1v1 h1v2 h2v1 h2v2
VMSTART=$(cat "$T/vmstart.pid")
# The capture is seen from outside the agent: its socket, bound, makes
# the tap promiscuous.
promisc() { ip -n "$1" -d link show "$2" 2>/dev/null | grep -q "promiscuity [1-9]"; }
for hv in h1:vm1 h1:vm2 h2:vm1 h2:vm2; do
    h=${hv%%:*} tap=${hv#*:}
    until ip -n "$P-$h" link show "$tap" >/dev/null 2>&1; do
        kill -0 "$VMSTART" 2>/dev/null || fail "vm-start ended before $h's $tap: $(cat "$T/vmstart.log")"
        [ $((SECONDS - t_boot)) -lt 60 ] || fail "no tap $tap in $h"
        sleep 0.01
    done
    t0=$(ms)
    until promisc "$P-$h" "$tap"; do
        [ $(($(ms) - t0)) -lt 2000 ] || fail "$h's $tap not captured within 2 s of appearing"
        sleep 0.005
    done
    echo "$h $tap: captured $(($(ms) - t0)) ms after it was seen"
done
for h in h1 h2; do
    vr_until 2 agent_is "$h" ports 2 \
        || fail "agent $h holds $(agent_counter "$h" ports) ports, not 2"
done

rc=0
wait "$VMSTART" || rc=$?
cat "$T/vmstart.log"
[ "$rc" = 0 ] || fail "vm-start exited $rc"
t_ready=$(ms)
echo "4 guests booted in $((SECONDS - t_boot)) s ($(jq -r .accel "$T/bed.json"))"
# h2v1 reachable over the overlay from a guest on another host, within
# 2 s of its boot's end (its NIC up in the guest).
until in_vm --timeout 5 h1v1 ping -c 1 -W 1 10.201.2.1 >/dev/null; do
    [ $(($(ms) - t_ready)) -lt 2000 ] || fail "h1v1 cannot ping h2v1 within 2 s of its boot"
done
echo "h1v1 -> h2v1 answered $(($(ms) - t_ready)) ms after vm-start returned"
for v in 1.1 1.2 2.1 2.2; do
    others=$(for w in 1.1 1.2 2.1 2.2; do [ "$w" = "$v" ] || echo "10.201.$w"; done)
    # shellcheck disable=SC2086 # the addresses are words
    in_vm --timeout 20 "h${v%.*}v${v#*.}" sh -c 'for a; do ping -c 1 -W 3 "$a" >/dev/null \
        || { echo "no answer from $a"; exit 1; }; done' sh $others \
        || fail "h${v%.*}v${v#*.} does not reach every other guest"
done
echo "every guest pings every other over the star"

echo "== iperf3 h1v1 -> h2v1: the loop moves it onto a reserved path"
in_vm h2v1 iperf3 -s -D -1 -B 10.201.2.1 || fail "iperf3 -s in h2v1"
vr_until 10 in_vm h2v1 sh -c 'netstat -ltn | grep -q ":5201 "' || fail "iperf3 did not listen"
vr_start iperf "$BED" exec --prefix "$P" --timeout 40 h1v1 \
    iperf3 -c 10.201.2.1 -t 14 -i 1 -J
t_iperf=$(ms)
until [ "$(pcount links_up_reserved)" = 1 ]; do
    [ $(($(ms) - t_iperf)) -lt 12000 ] \
        || fail "no reserved path within 12 s: $("${CTL[@]}" status planner adapter)"
    sleep 0.1
done
t_moved=$(($(ms) - t_iperf))
[ "$(acount paths_up)" = 1 ] || fail "the adapter has $(acount paths_up) paths up, not 1"
echo "the iperf3 is on a reserved path ${t_moved} ms after it started"
veth_bytes() {  # tx bytes of the path veths (vrp*) of host 1
    ip -n "$P-h1" -j -s link show \
        | jq '[.[] | select(.ifname | startswith("vrp")) | .stats64.tx.bytes] | add // 0'
}
c0_bytes() { ip -n "$P-h1" -j -s link show c0 | jq '.[0].stats64.tx.bytes'; }
# The rules move a moment after the path is up.
sleep 1
v0=$(veth_bytes) c0=$(c0_bytes)
sleep 2
dv=$(($(veth_bytes) - v0)) dc=$(($(c0_bytes) - c0))
echo "host 1 in 2 s: path veths +$dv bytes, commodity c0 +$dc bytes"
[ "$dv" -gt 1000000 ] || fail "the path carries nothing"
[ "$dc" -lt $((dv / 4)) ] || fail "the commodity link still carries the iperf3"
rc=0
wait "$(cat "$T/iperf.pid")" || rc=$?
[ "$rc" = 0 ] || fail "iperf3 h1v1 -> h2v1 exited $rc: $(head -c 500 "$T/iperf.log")"
moved_s=$(((t_moved + 999) / 1000 + 1))
jq -r --argjson m "$moved_s" '.intervals | map(.sum) |
    "iperf3 (Mbit/s): before the path \([.[] | select(.end <= 2) | .bits_per_second]
        | if length > 0 then add / length / 1e6 | floor else "-" end)," +
    " on it \([.[] | select(.start >= $m) | .bits_per_second]
        | if length > 0 then add / length / 1e6 | floor else "-" end)"' "$T/iperf.log"

echo "== vm-stop h2v1: its port released, nothing left behind"
pid=$(cat "/run/vrbed/$P/vm/h2v1.pid")
released=$(agent_counter h2 ports_released)
t0=$(ms)
"$BED" vm-stop --prefix "$P" h2v1 || fail "vm-stop h2v1"
echo "vm-stop took $(($(ms) - t0)) ms"
! kill -0 "$pid" 2>/dev/null || fail "QEMU $pid of h2v1 survived vm-stop"
! ip -n "$P-h2" link show vm1 >/dev/null 2>&1 || fail "tap vm1 left in h2"
vr_until 2 agent_is h2 ports_released $((released + 1)) \
    || fail "the release is not counted ($(agent_counter h2 ports_released))"
[ "$(agent_counter h2 ports)" = 1 ] || fail "agent h2 holds $(agent_counter h2 ports) ports"
left=$(find "/run/vrbed/$P/vm" -name 'h2v1*' ! -name h2v1.console ! -name h2v1.qemu.log)
[ -z "$left" ] || fail "left behind: $left"
[ "$(bed_qemus | wc -l)" = 3 ] || fail "live QEMUs: $(bed_qemus | wc -l), want 3"
in_vm --timeout 10 h2v2 ping -c 1 -W 3 10.201.1.1 >/dev/null \
    || fail "h2v2 lost the overlay when h2v1 stopped"
echo "h2v1 stopped: agent h2 counted the release, holds 1 port; h2v2 still reaches h1v1"

vr_stop_services planner broker adapter aggregator agent-h1 agent-h2 agent-h3
"$BED" down --prefix "$P" || fail "down $P"
[ -z "$(bed_qemus)" ] || fail "QEMUs left: $(bed_qemus)"
left=$(ip netns list | awk '{print $1}' | grep -E "^$P-" || true)
[ -z "$left" ] && [ ! -e "/run/vrbed/$P" ] || fail "down left: $left"
echo "down leaves no QEMU, namespace or state; $((SECONDS - t_start)) s in all"
echo "1 passed, 0 failed"
