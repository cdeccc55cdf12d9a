#!/bin/bash
# SPDX-License-Identifier: MIT
# The agent's fast path on the test bed: 3 hosts (h1 the proxy) x 2 VMs
# and a circuit (a veth pair with a /30, as the adapter's netns backend
# makes a reserved path) between h2 and h3.
#  - frames between the two VMs of a host go through the kernel: iperf3
#    between them is counted (fast_bytes, the published matrix) but not
#    forwarded by the agent (injected stays put);
#  - links marked --circuit get the device (FAST column); rules moved onto
#    them under ping -i 0.01 lose nothing; iperf3 across then runs on the
#    circuit's veth while the agent's link carries almost nothing, and the
#    published matrix still counts it; moving the rules back loses nothing;
#  - a circuit device that vanishes is noticed and its filters go;
#  - SIGTERM removes the filters; a restart after kill -9 starts clean;
#  - fastpath: false leaves the kernel alone.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
P="vf$$"
CTL="$BIN/vnetctl"
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'

"$BED" up --prefix "$P" --hosts 3 --vms 2 >/dev/null
vm() { echo "$P-h${1}v$2"; }
in_vm() {
    local ns
    ns=$(vm "$1" "$2")
    shift 2
    ip netns exec "$ns" "$@"
}
agent_ep() { echo "ipc://$T/$P-agent-h$1"; }
mac() { printf '02:00:00:00:%02x:%02x' "$1" "$2"; }
ctl() { local i=$1; shift; "$CTL" -e agent="$(agent_ep "$i")" "$@"; }
counter() { # counter HOST NAME
    ctl "$1" --json status agent | jq -r ".services[0].counters.$2"
}
filters() { # filters HOST DEV: the u32 filters on DEV's ingress
    tc -n "$P-h$1" filter show dev "$2" ingress 2>/dev/null | grep -c "^filter.*fh 8.*::" || true
}
filters_are() { [ "$(filters "$1" "$2")" = "$3" ]; }  # for vr_until

start_agent() { # start_agent I [FASTPATH]
    local i=$1 role
    if [ "$i" = 1 ]; then
        role="# no proxy_addr: the proxy"
    else
        role="proxy_addr: 10.200.0.1:7000"
    fi
    vr_overlay_keys h1 h2 h3
    cat >"$T/h$i.yaml" <<YAML
id: h$i
$role
bus:
  control: $(agent_ep "$i")
  aggregator: ipc://$T/ingest
overlay:
  listen: 0.0.0.0:7000
  host_ip: 10.200.0.$i
  key: $T/overlay-keys/agent-h$i.key
  peers_dir: $T/overlay-keys
ports: [vm1, vm2]
period_ms: 100
fastpath: ${2:-true}
YAML
    vr_start "agent-h$i" ip netns exec "$P-h$i" "$BIN/vnet-agent" -c "$T/h$i.yaml"
    vr_until 10 ctl "$i" status agent || fail "agent h$i did not come up"
}

for i in 1 2 3; do
    start_agent "$i"
done
for a in 2 3; do for b in 1 2; do
    vr_until 10 in_vm 2 1 ping -c 1 -W 0.3 -q "10.201.$a.$b" \
        || fail "h2v1 cannot reach h${a}v$b over the star"
done; done
in_vm 2 2 ping -c 2 -W 1 -q 10.201.2.1 >/dev/null || fail "h2v2 -> h2v1"

# Matrices, as the aggregator would hear them, for the rest of the test.
"$BIN/vr-sub" bind "ipc://$T/ingest" 40 >"$T/published.json" &
SUB_PID=$!
VR_PIDS+=("$SUB_PID")
sleep 0.5

echo "== two VMs of one host: the kernel carries, the agent counts"
[ "$(filters 2 vm1)" -ge 1 ] && [ "$(filters 2 vm2)" -ge 1 ] \
    || fail "no local filters on h2: $(filters 2 vm1) $(filters 2 vm2)"
inj0=$(counter 2 injected)
fast0=$(counter 2 fast_bytes)
vr_start iperf-l ip netns exec "$(vm 2 2)" iperf3 -s -1 -p 5201
sleep 0.3
in_vm 2 1 iperf3 -c 10.201.2.2 -p 5201 -t 2 -J >"$T/iperf-l.json" \
    || fail "iperf3 h2v1 -> h2v2 failed"
mb=$(json_get "$T/iperf-l.json" 'round(j["end"]["sum_received"]["bytes"]/1e6)')
inj=$(( $(counter 2 injected) - inj0 ))
fast=$(( ($(counter 2 fast_bytes) - fast0) / 1000000 ))
echo "iperf3 moved $mb MB between h2's VMs; the agent counted $fast MB and injected $inj frames"
[ "$fast" -ge $((mb * 9 / 10)) ] || fail "only $fast of $mb MB counted"
[ "$inj" -le 200 ] || fail "the agent itself forwarded $inj frames"

echo "== a circuit between h2 and h3"
ip link add vrc netns "$P-h2" mtu 9000 type veth peer name vrc netns "$P-h3" mtu 9000
ip -n "$P-h2" addr add 10.212.0.1/30 dev vrc
ip -n "$P-h3" addr add 10.212.0.2/30 dev vrc
ip -n "$P-h2" link set vrc up
ip -n "$P-h3" link set vrc up
ctl 2 link add c3 10.212.0.2:7000 --circuit >/dev/null || fail "link c3"
ctl 3 link add c2 10.212.0.1:7000 --circuit >/dev/null || fail "link c2"
ctl 2 link add s3 10.200.0.3:7000 >/dev/null || fail "link s3"
ctl 2 links | tee "$T/links.txt"
grep -q "^c3 .* vrc " "$T/links.txt" || fail "c3 shows no fast device"
grep -q "^s3 .* - " "$T/links.txt" || fail "a plain link shows a fast device"
vr_until 5 ctl 2 link probe c3 || fail "no echo over the circuit"
[ "$(filters 3 vrc)" = 2 ] || fail "h3: $(filters 3 vrc) filters on vrc, not 2"

echo "== rules onto the circuit under ping -i 0.01"
in_vm 2 1 ping -i 0.01 -c 400 -q 10.201.3.1 >"$T/ping.txt" 2>&1 &
PING_PID=$!
VR_PIDS+=("$PING_PID")
sleep 1
for b in 1 2; do
    ctl 2 rule add "$(mac 3 $b)" c3 >/dev/null || fail "rule on h2"
    ctl 3 rule add "$(mac 2 $b)" c2 >/dev/null || fail "rule on h3"
done
wait "$PING_PID" || true
cat "$T/ping.txt"
grep -q " 0% packet loss" "$T/ping.txt" || fail "frames lost moving onto the circuit"
[ "$(filters 2 vm1)" -ge 3 ] || fail "h2 vm1: $(filters 2 vm1) filters"

echo "== iperf3 across the circuit"
read -r veth0 _ < <(ip -n "$P-h2" -s link show vrc | awk '/TX:/ { getline; print $1 }')
link0=$(ctl 2 --json links | jq '.[] | select(.name=="c3") | .tx_bytes')
vr_start iperf-c ip netns exec "$(vm 3 1)" iperf3 -s -1 -p 5202
sleep 0.3
in_vm 2 1 iperf3 -c 10.201.3.1 -p 5202 -t 2 -J >"$T/iperf-c.json" \
    || fail "iperf3 h2v1 -> h3v1 failed"
mb=$(json_get "$T/iperf-c.json" 'round(j["end"]["sum_received"]["bytes"]/1e6)')
mbps=$(json_get "$T/iperf-c.json" 'round(j["end"]["sum_received"]["bits_per_second"]/1e6)')
read -r veth1 _ < <(ip -n "$P-h2" -s link show vrc | awk '/TX:/ { getline; print $1 }')
link1=$(ctl 2 --json links | jq '.[] | select(.name=="c3") | .tx_bytes')
veth=$(( (veth1 - veth0) / 1000000 ))
link=$(( (link1 - link0) / 1000000 ))
echo "iperf3: $mbps Mbit/s, $mb MB; the circuit's veth sent $veth MB, the agent's link $link MB"
[ "$veth" -ge $((mb * 9 / 10)) ] || fail "the circuit carried $veth of $mb MB"
[ "$link" -le 1 ] || fail "the agent carried $link MB itself"
wait "$SUB_PID" 2>/dev/null || true

echo "== rules back to the star under ping -i 0.01"
in_vm 2 1 ping -i 0.01 -c 300 -q 10.201.3.1 >"$T/ping2.txt" 2>&1 &
PING_PID=$!
VR_PIDS+=("$PING_PID")
sleep 0.7
for b in 1 2; do
    ctl 2 rule del "$(mac 3 $b)" >/dev/null || fail "rule del on h2"
    ctl 3 rule del "$(mac 2 $b)" >/dev/null || fail "rule del on h3"
done
wait "$PING_PID" || true
cat "$T/ping2.txt"
grep -q " 0% packet loss" "$T/ping2.txt" || fail "frames lost moving off the circuit"
[ "$(filters 2 vm1)" = 1 ] || fail "h2 vm1 keeps $(filters 2 vm1) filters"

echo "== the published matrix counted what the kernel carried"
"$BIN/vr-sub" bind "ipc://$T/ingest" 2 >"$T/published.json" &
SUB_PID=$!
VR_PIDS+=("$SUB_PID")
wait "$SUB_PID" || fail "vr-sub failed"
counted=$(json_get "$T/published.json" "j['matrix'].get('$(mac 2 1)>$(mac 3 1)', 0) // 1000000")
local_mb=$(json_get "$T/published.json" "j['matrix'].get('$(mac 2 1)>$(mac 2 2)', 0) // 1000000")
echo "matrix: h2v1>h3v1 $counted MB, h2v1>h2v2 $local_mb MB"
[ "$counted" -ge "$mb" ] || fail "h2v1>h3v1 counted $counted MB of at least $mb"
[ "$local_mb" -ge 100 ] || fail "h2v1>h2v2 counted $local_mb MB"

echo "== a circuit device that vanishes"
ctl 2 rule add "$(mac 3 1)" c3 >/dev/null
vr_until 3 filters_are 2 vm1 2 || fail "rule not on the circuit again"
ip -n "$P-h2" link del vrc
vr_until 3 filters_are 2 vm1 1 || fail "filters to the vanished device stay"
ctl 2 links | grep "^c3 " | grep -q "(none)" || fail "c3 still shows a device"
ctl 2 rule del "$(mac 3 1)" >/dev/null
in_vm 2 1 ping -c 2 -W 1 -q 10.201.3.1 >/dev/null || fail "no ping over the star"

echo "== SIGTERM removes the filters; kill -9 and a restart start clean"
vr_stop_services agent-h2
tc -n "$P-h2" qdisc show dev vm1 | grep -q clsact && fail "clsact left on vm1"
start_agent 2
in_vm 2 1 ping -c 2 -W 1 -q 10.201.2.2 >/dev/null || fail "h2v1 -> h2v2"
vr_until 5 filters_are 2 vm1 1 || fail "no local filter after a restart"
kill -KILL "$(cat "$T/agent-h2.pid")"
sleep 0.3
ip netns exec "$P-h2" tc filter add dev vm1 ingress prio 999 protocol all u32 \
    match u32 0 0 action mirred egress mirror dev vm2    # a stale one
start_agent 2
in_vm 2 1 ping -c 2 -W 1 -q 10.201.2.2 >/dev/null || fail "h2v1 -> h2v2 after restart"
tc -n "$P-h2" filter show dev vm1 ingress | grep -q "pref 999" \
    && fail "a previous run's filter survived the restart"

echo "== fastpath: false leaves the kernel alone"
vr_stop_services agent-h2
start_agent 2 false
in_vm 2 1 ping -c 2 -W 1 -q 10.201.2.2 >/dev/null || fail "no ping without the fast path"
[ "$(ctl 2 --json status agent | jq -r '.services[0].info.fastpath')" = off ] \
    || fail "status does not say fastpath off"
tc -n "$P-h2" qdisc show dev vm1 | grep -q clsact && fail "clsact with fastpath off"

vr_stop_services agent-h1 agent-h2 agent-h3
echo "1 passed, 0 failed"
