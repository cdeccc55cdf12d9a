#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# A NIC hot-plugged into a running QEMU guest while the agents run (issue
# 17: "a VM started after the agent is captured and reachable within
# 2 s").  A bed of 2 hosts x 2 VM slots, every VM stopped; agents with
# ports: ["vm*"] (h1 the proxy); then h1v1 and h2v2 boot with their NICs
# and h2v1 without one (vrbed vm-start --no-nic).  Then:
#   - vrbed nic-add h2v1 (a tap vm1 in h2, QMP netdev_add + device_add):
#     agent h2 captures the tap within 2 s of it appearing (100 ms is the
#     agent's own goal; times printed: the tap's RTM_NEWLINK from
#     `ip -ts monitor link`, the capture from the agent's log); h1v1,
#     pinging 10.201.2.1 every 0.1 s all along, gets its first answer
#     within 2 s of the NIC appearing (the tap made, just before QMP's
#     netdev_add and device_add), not counting the time the guest takes
#     to probe its new PCI device and bring eth0 up (until it says so on
#     its console): under TCG on 2 loaded cores that alone takes 0.3 to
#     5 s (load average 10 to 20), time a KVM guest does not spend.  So
#     the 2 s is asserted from eth0 up to the first answer, and from the
#     tap to the first answer only under KVM (or VR_HOTPLUG_STRICT=1);
#     every time is printed, and whether the strict 2 s was met.  The
#     first answer is timed on the host: the first echo reply handed to
#     h1v1's tap (first-frame.py --reply);
#   - vrbed nic-del h2v1 (device_del, netdev_del, the tap deleted): the
#     agent counts the port released, holds one port, forgets h2v1's MAC;
#     the guest runs on without the NIC; a ping h1v1 -> h2v2 running
#     across the unplug loses nothing (one at its SIGINT allowed); down
#     leaves no QEMU, namespace or state.
# And bad requests: nic-add on a guest that has its NIC, on a VM not in
# the bed, on a stopped VM; vm-start --no-nic naming a VM not started.
# Needs root and qemu-system-x86_64 (exit 77 otherwise).  Under TCG 3
# guests boot at once in 10 to 45 s; the test takes 1 min on a quiet
# machine, 2.5 min at a load average of 20.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
vr_qemu_test
command -v jq >/dev/null || { echo "skip: needs jq"; exit 77; }
[ -x "$BIN/vr-bsp" ] || fail "no $BIN/vr-bsp (the guest image carries it)"

VRBED="$VR_SRC_DIR/deploy/testbed/vrbed"
VNETCTL="$BIN/vnetctl"
REPLY="$VR_SRC_DIR/deploy/testbed/first-frame.py"
P="qh$$"
vr_on_cleanup '"$VRBED" down --prefix "$P" >/dev/null 2>&1'
ms() { date +%s%3N; }
in_vm() { "$VRBED" exec --prefix "$P" "$@"; }
counter() {
    "$VNETCTL" -e agent="ipc://$T/agent-$1" --json status agent \
        | jq -r ".services[0].counters.$2"
}
counter_is() { [ "$(counter "$1" "$2")" = "$3" ]; }
promisc() { ip -n "$P-h2" -d link show vm1 2>/dev/null | grep -q "promiscuity [1-9]"; }
t_start=$SECONDS

echo "== a bed of 2 hosts x 2 VM slots, every VM stopped; agents on vm*"
"$VRBED" up --prefix "$P" --hosts 2 --vms 2 --vm-kind qemu --stopped \
    >"$T/bed.json" 2>"$T/up.err" || { cat "$T/up.err" >&2; fail "up $P"; }
accel=$(jq -r .accel "$T/bed.json")
STRICT=${VR_HOTPLUG_STRICT:-$([ "$accel" = kvm ] && echo 1 || echo 0)}
vr_overlay_keys h1 h2
for i in 1 2; do
    vr_bed_agent_yaml "$T/agent-h$i.yaml" "$i" "ipc://$T/agent-h$i" \
        'ports: ["vm*"]' 'period_ms: 100' 'hello_ms: 300'
    vr_start "agent-h$i" ip netns exec "$P-h$i" "$BIN/vnet-agent" -c "$T/agent-h$i.yaml"
done
for i in 1 2; do
    vr_until 15 "$VNETCTL" -e agent="ipc://$T/agent-h$i" status agent \
        || fail "agent h$i did not come up"
done

echo "== h1v1 and h2v2 boot with their NICs, h2v1 without"
rc=0
"$VRBED" vm-start --prefix "$P" --no-nic h2v3 h2v1 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "not one of the VMs to start" "$T/err" \
    || fail "--no-nic naming a VM not started: $rc $(cat "$T/err")"
rc=0
"$VRBED" nic-add --prefix "$P" h2v1 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "is not running" "$T/err" || fail "nic-add on a stopped VM: $rc $(cat "$T/err")"
t0=$SECONDS
"$VRBED" vm-start --prefix "$P" --boot-timeout 150 --no-nic h2v1 h1v1 h2v1 h2v2 \
    2>"$T/start.err" || { cat "$T/start.err" >&2; fail "vm-start"; }
cat "$T/start.err"
echo "3 guests booted in $((SECONDS - t0)) s ($accel)"
! ip -n "$P-h2" link show vm1 >/dev/null 2>&1 || fail "h2v1 booted without a NIC but vm1 is in h2"
[ "$(in_vm h2v1 ls /sys/class/net)" = lo ] || fail "h2v1 has NICs: $(in_vm h2v1 ls /sys/class/net)"
vr_until 5 counter_is h2 ports 1 || fail "agent h2 holds $(counter h2 ports) ports, not 1"
t0=$SECONDS
until in_vm --timeout 5 h1v1 ping -c 1 -W 1 10.201.2.2 >/dev/null; do
    [ $((SECONDS - t0)) -lt 30 ] || fail "h1v1 cannot ping h2v2 through the agents"
done
if in_vm h1v1 ping -c 1 -W 1 10.201.2.1 >/dev/null; then
    fail "h1v1 pings h2v1, which has no NIC"
fi
rc=0
"$VRBED" nic-add --prefix "$P" h1v1 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "has its NIC" "$T/err" || fail "nic-add on a guest with its NIC: $rc $(cat "$T/err")"
rc=0
"$VRBED" nic-add --prefix "$P" h2v9 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "no VM 'h2v9'" "$T/err" || fail "nic-add on no VM: $rc $(cat "$T/err")"
echo "h2v1 runs without a NIC, agent h2 holds 1 port; h1v1 reaches h2v2; bad requests refused"

echo "== nic-add h2v1: captured, and reachable from h1v1"
captured=$(counter h2 ports_captured)
vr_start reply ip netns exec "$P-h1" python3 "$REPLY" --reply vm1 10.201.2.1 60
vr_until 10 grep -q ready "$T/reply.log" || fail "first-frame.py --reply did not start"
# h1v1 pings h2v1 every 0.1 s from before the plug until it is killed.
vr_start ping "$VRBED" exec --prefix "$P" --timeout 60 h1v1 ping -i 0.1 -w 55 -q 10.201.2.1
# The tap's appearance on the kernel's clock: its RTM_NEWLINK.
vr_start linkmon ip -n "$P-h2" -ts monitor link
sleep 1
t_plug=$(ms)
vr_start nicadd "$VRBED" nic-add --prefix "$P" --timeout 60 h2v1
until ip -n "$P-h2" link show vm1 >/dev/null 2>&1; do
    [ $(($(ms) - t_plug)) -lt 20000 ] || fail "no tap vm1 in h2 20 s after nic-add: $(cat "$T/nicadd.log")"
    sleep 0.005
done
t_seen=$(ms)
until promisc; do
    [ $(($(ms) - t_seen)) -lt 2000 ] || fail "tap vm1 not captured within 2 s of appearing"
    sleep 0.005
done
t_cap=$(ms)
console=/run/vrbed/$P/vm/h2v1.console
until grep -q "^vrbed-guest: nic eth0 up" "$console"; do
    [ $(($(ms) - t_cap)) -lt 60000 ] || fail "h2v1 did not bring eth0 up in 60 s"
    sleep 0.01
done
t_up=$(ms)
rc=0
wait "$(cat "$T/nicadd.pid")" || rc=$?
cat "$T/nicadd.log"
[ "$rc" = 0 ] || fail "nic-add exited $rc"
t_added=$(ms)
rc=0
wait "$(cat "$T/reply.pid")" || rc=$?
[ "$rc" = 0 ] || fail "h1v1 got no answer from h2v1 in 60 s"
t_reply=$(grep -m1 -E '^[0-9]+$' "$T/reply.log") || fail "first-frame.py --reply: $(cat "$T/reply.log")"
t_reply=$((t_reply / 1000))
in_vm h1v1 killall ping || true
# When the tap appeared (ip monitor's local clock, to the us) and when
# the agent captured it (its log's UTC clock, to the ms).
tap_ts=$(grep -m1 -E '^\[[0-9T:.-]+\] [0-9]+: vm1: ' "$T/linkmon.log" | cut -c2-27) \
    || fail "ip monitor did not see vm1 appear: $(head -c 300 "$T/linkmon.log")"
t_mon=$(date -d "$tap_ts" +%s%3N)
log_ts=$(grep -m1 "port vm1: captured" "$T/agent-h2.log" | cut -d' ' -f1) \
    || fail "agent h2 did not log the capture"
t_log=$(date -d "$log_ts" +%s%3N)
# ip monitor stamps the news when it reads it: under load, after the
# agent (which read the same news) captured the tap.  The earlier of the
# two is the closest to the tap's appearance.
t_tap=$((t_mon < t_log ? t_mon : t_log))
vr_until 2 counter_is h2 ports 2 || fail "agent h2 holds $(counter h2 ports) ports, not 2"
[ "$(counter h2 ports_captured)" = $((captured + 1)) ] || fail "the capture is not counted"
in_vm h2v1 sh -c 'ip -o -4 addr show dev eth0' | grep -q "10.201.2.1/16" || fail "h2v1 eth0 has no address"
echo "nic-add's start -> tap vm1 made: $((t_tap - t_plug)) ms (vrbed's own start-up and lock)"
echo "tap made -> captured (agent log) $((t_log - t_tap)) ms (ip monitor's stamp $((t_mon - t_log)) ms" \
    "from the agent's), promiscuous seen $((t_cap - t_tap)) ms;" \
    "eth0 up in the guest $((t_up - t_tap)) ms; nic-add done $((t_added - t_tap)) ms;" \
    "first reply to h1v1 $((t_reply - t_tap)) ms ($((t_reply - t_up)) ms after eth0 up)" \
    "($accel, load $(cut -d' ' -f1 /proc/loadavg))"
if [ $((t_reply - t_tap)) -le 2000 ]; then
    echo "reachable within 2 s of the NIC appearing: yes"
else
    echo "reachable within 2 s of the NIC appearing: no ($((t_reply - t_tap)) ms)"
fi
[ $((t_log - t_tap)) -le 2000 ] || fail "the agent logged the capture $((t_log - t_tap)) ms after the tap appeared"
[ $((t_reply - t_up)) -le 2000 ] \
    || fail "h2v1 answered $((t_reply - t_up)) ms after its eth0 came up, over 2 s"
[ "$STRICT" != 1 ] || [ $((t_reply - t_tap)) -le 2000 ] \
    || fail "h2v1 answered $((t_reply - t_tap)) ms after its NIC appeared, over 2 s ($accel)"

echo "== nic-del h2v1: the port released; h2v2's traffic unaffected"
released=$(counter h2 ports_released)
macs=$(counter h2 learned_macs)
qpid=$(cat "/run/vrbed/$P/vm/h2v1.pid")
# A ping h1v1 -> h2v2 from before the unplug until after it (stopped
# with SIGINT, which may land between a request and its answer: one
# unanswered is allowed for that, no more).
vr_start bgping "$VRBED" exec --prefix "$P" --timeout 150 h1v1 ping -i 0.1 -w 120 -q 10.201.2.2
sleep 1
t0=$(ms)
"$VRBED" nic-del --prefix "$P" --timeout 60 h2v1 2>"$T/del.err" || { cat "$T/del.err" >&2; fail "nic-del"; }
t_del=$(($(ms) - t0))
cat "$T/del.err"
! ip -n "$P-h2" link show vm1 >/dev/null 2>&1 || fail "tap vm1 left in h2"
vr_until 2 counter_is h2 ports_released $((released + 1)) \
    || fail "the release is not counted ($(counter h2 ports_released))"
[ "$(counter h2 ports)" = 1 ] || fail "agent h2 holds $(counter h2 ports) ports"
vr_until 3 counter_is h2 learned_macs $((macs - 1)) \
    || fail "agent h2 still has $(counter h2 learned_macs) learned MACs, was $macs"
kill -0 "$qpid" 2>/dev/null || fail "h2v1's QEMU ended with its NIC"
[ "$(in_vm h2v1 ls /sys/class/net)" = lo ] || fail "h2v1 still has: $(in_vm h2v1 ls /sys/class/net)"
grep -q "^vrbed-guest: nic eth0 gone" "/run/vrbed/$P/vm/h2v1.console" \
    || fail "h2v1 did not see its NIC go"
rc=0
python3 "$VR_SRC_DIR/deploy/testbed/guest-qmp.py" "/run/vrbed/$P/vm/h2v1.qmp" has-nic || rc=$?
[ "$rc" = 3 ] || fail "QEMU still has h2v1's NIC ($rc)"
"$VRBED" nic-del --prefix "$P" h2v1 2>/dev/null || fail "a second nic-del failed"
sleep 1
in_vm h1v1 killall -INT ping || fail "could not stop h1v1's ping"
rc=0
wait "$(cat "$T/bgping.pid")" || rc=$?
stats=$(grep "packets transmitted" "$T/bgping.log") \
    || fail "h1v1 -> h2v2 across the unplug: $(cat "$T/bgping.log")"
echo "h1v1 -> h2v2 across the unplug: $stats"
read -r sent _ _ got _ <<<"$stats"
[ "$sent" -ge 10 ] && [ "$got" -ge $((sent - 1)) ] \
    || fail "h1v1 -> h2v2 lost frames across the unplug: $stats"
echo "nic-del took $t_del ms: agent h2 counted the release, holds 1 port and $((macs - 1)) MACs;" \
    "h2v1 runs on without a NIC; h1v1 -> h2v2: $got of $sent answered"

vr_stop_services agent-h1 agent-h2
"$VRBED" down --prefix "$P" || fail "down $P"
[ -z "$(vr_bed_qemus "$P")" ] || fail "QEMUs left: $(vr_bed_qemus "$P")"
left=$(ip netns list | awk '{print $1}' | grep -E "^$P-" || true)
[ -z "$left" ] && [ ! -e "/run/vrbed/$P" ] || fail "down left: $left"
echo "down leaves no QEMU, namespace or state; $((SECONDS - t_start)) s in all"
echo "1 passed, 0 failed"
