#!/bin/bash
# SPDX-License-Identifier: MIT
# vnet-agent on the test bed: 3 hosts (h1 the proxy) x 2 VMs.  Every VM
# pings every other over the star; ARP and broadcasts cross it; iperf3 TCP
# runs between VMs on two non-proxy hosts; a rule moved from the star to a
# direct link under `ping -i 0.01` loses nothing; a killed agent, member
# or proxy, is back in the star within 2 s; garbage on the overlay port is
# counted and survived; every agent exits 0 on SIGTERM.  No control
# service runs: the data plane needs none.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
P="vs$$"
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

# Every agent has its own key; each admits the others by theirs.
vr_overlay_keys h1 h2 h3

# start_agent I [BED] [CAPTURE]: the agent of host I of a bed.
start_agent() {
    local i=$1 bed=${2:-$P} capture=${3:-afpacket}
    vr_bed_agent_yaml "$T/$bed-h$i.yaml" "$i" "ipc://$T/$bed-agent-h$i" \
        'ports: [vm1, vm2]' "capture: $capture" 'period_ms: 100' \
        'hello_ms: 300'
    vr_start "agent-h$i" ip netns exec "$bed-h$i" "$BIN/vnet-agent" \
        -c "$T/$bed-h$i.yaml"
}

for i in 1 2 3; do
    start_agent "$i"
done
for i in 1 2 3; do
    vr_until 10 "$CTL" -e agent="$(agent_ep "$i")" status agent \
        || fail "agent h$i did not come up"
    for j in 1 2; do
        in_vm "$i" "$j" sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0
    done
done

# What the agents publish, heard where the aggregator would be.
"$BIN/vr-sub" bind "ipc://$T/ingest" 4 >"$T/published.json" &
SUB_PID=$!
VR_PIDS+=("$SUB_PID")

echo "== every VM pings every other"
for a in 1 2 3; do for b in 1 2; do
    for c in 1 2 3; do for d in 1 2; do
        [ "$a$b" = "$c$d" ] && continue
        ok=0
        for _ in 1 2 3; do
            if in_vm "$a" "$b" ping -c 1 -W 1 -q "10.201.$c.$d" >/dev/null; then
                ok=1
                break
            fi
        done
        [ "$ok" = 1 ] || fail "h${a}v$b cannot ping h${c}v$d"
    done; done
done; done
echo "30 of 30 pairs answer"

echo "== local matrices, VM locations and announcements are published"
wait "$SUB_PID" || fail "vr-sub failed"
json_get "$T/published.json" 'j["counts"]'
[ "$(json_get "$T/published.json" 'j["counts"].get("LOCAL_MATRIX", 0) >= 10')" = True ] \
    || fail "too few local matrices"
[ "$(json_get "$T/published.json" 'sorted(j["agents"])')" = "['h1', 'h2', 'h3']" ] \
    || fail "announcements missing"
for a in 1 2 3; do for b in 1 2; do
    [ "$(json_get "$T/published.json" "j['vms'].get('$(mac $a $b)')")" = "h$a" ] \
        || fail "VM $(mac $a $b) not located on h$a"
    [ "$(json_get "$T/published.json" "j['matrix'].get('$(mac $a $b)>$(mac 3 1)', 0) > 0 or '$a$b' == '31'")" = True ] \
        || fail "no traffic counted from $(mac $a $b) to $(mac 3 1)"
done; done

echo "== ARP and broadcast"
in_vm 2 1 ip neigh show 10.201.3.1 | grep -q "$(mac 3 1)" \
    || fail "h2v1 has no ARP entry for h3v1"
in_vm 2 1 ping -b -c 3 -i 0.3 10.201.255.255 >"$T/bcast.txt" 2>&1 || true
n=$(grep -o 'from 10\.201\.[0-9]*\.[0-9]*' "$T/bcast.txt" | sort -u | wc -l)
echo "broadcast ping answered by $n VMs"
[ "$n" -ge 5 ] || fail "broadcast reached $n of 5 VMs"

echo "== iperf3 TCP h2v1 -> h3v1 over the star (relayed by the proxy)"
vr_start iperf ip netns exec "$(vm 3 1)" iperf3 -s -1 -p 5201
sleep 0.3
in_vm 2 1 iperf3 -c 10.201.3.1 -p 5201 -t 3 -J >"$T/iperf.json" \
    || fail "iperf3 failed"
mbps=$(json_get "$T/iperf.json" 'round(j["end"]["sum_received"]["bits_per_second"]/1e6)')
echo "iperf3: $mbps Mbit/s (commodity network: 100 Mbit/s)"
[ "$mbps" -ge 50 ] || fail "only $mbps Mbit/s through the star"

echo "== a rule moved to a direct link under ping -i 0.01 loses nothing"
in_vm 2 1 ping -i 0.01 -c 400 -q 10.201.3.1 >"$T/ping.txt" 2>&1 &
PING_PID=$!
VR_PIDS+=("$PING_PID")
sleep 1
"$CTL" link add h3 10.200.0.3:7000 --agent "$(agent_ep 2)" >/dev/null
"$CTL" link add h2 10.200.0.2:7000 --agent "$(agent_ep 3)" >/dev/null
"$CTL" link probe h3 --agent "$(agent_ep 2)" || fail "probe h2->h3"
"$CTL" rule add "$(mac 3 1)" h3 --agent "$(agent_ep 2)" >/dev/null
"$CTL" rule add "$(mac 2 1)" h2 --agent "$(agent_ep 3)" >/dev/null
wait "$PING_PID" || true
cat "$T/ping.txt"
grep -q " 0% packet loss" "$T/ping.txt" || fail "frames lost in the switch"
"$CTL" --json link list --agent "$(agent_ep 2)" >"$T/links.json"
direct=$(json_get "$T/links.json" '[l["tx_frames"] for l in j if l["name"]=="h3"][0]')
echo "direct link h2->h3 carried $direct frames"
[ "$direct" -ge 100 ] || fail "the direct link carried $direct frames"

echo "== the same over TCP links (length-prefixed records)"
"$CTL" link add h3t 10.200.0.3:7000 --tcp --agent "$(agent_ep 2)" >/dev/null
"$CTL" link add h2t 10.200.0.2:7000 --tcp --agent "$(agent_ep 3)" >/dev/null
vr_until 5 "$CTL" link probe h3t --agent "$(agent_ep 2)" \
    || fail "TCP link h2->h3 does not echo"
in_vm 2 1 ping -i 0.01 -c 300 -q 10.201.3.1 >"$T/ping-tcp.txt" 2>&1 &
PING_PID=$!
VR_PIDS+=("$PING_PID")
sleep 0.5
"$CTL" rule add "$(mac 3 1)" h3t --agent "$(agent_ep 2)" >/dev/null
"$CTL" rule add "$(mac 2 1)" h2t --agent "$(agent_ep 3)" >/dev/null
wait "$PING_PID" || true
cat "$T/ping-tcp.txt"
grep -q " 0% packet loss" "$T/ping-tcp.txt" || fail "frames lost moving to TCP"
vr_start iperf-tcp ip netns exec "$(vm 3 1)" iperf3 -s -1 -p 5202
sleep 0.3
in_vm 2 1 iperf3 -c 10.201.3.1 -p 5202 -t 2 -J >"$T/iperf-tcp.json" \
    || fail "iperf3 over the TCP link failed"
mbps=$(json_get "$T/iperf-tcp.json" 'round(j["end"]["sum_received"]["bits_per_second"]/1e6)')
"$CTL" --json link list --agent "$(agent_ep 2)" >"$T/links.json"
tcp_mb=$(json_get "$T/links.json" '[l["tx_bytes"] for l in j if l["name"]=="h3t"][0] // 1000000')
echo "iperf3 over the TCP link: $mbps Mbit/s; the link sent $tcp_mb MB"
[ "$mbps" -ge 50 ] && [ "$tcp_mb" -ge 10 ] || fail "TCP link did not carry it"

echo "== an agent killed and restarted is back in the star within 2 s"
kill -KILL "$(cat "$T/agent-h3.pid")"
sleep 0.2
start_agent 3
t0=$(date +%s%N)
back=0
for _ in $(seq 40); do
    if in_vm 1 1 ping -c 1 -W 0.2 -q 10.201.3.2 >/dev/null 2>&1; then
        back=1
        break
    fi
done
ms=$((($(date +%s%N) - t0) / 1000000))
echo "h1v1 reaches h3v2 again after $ms ms"
[ "$back" = 1 ] && [ "$ms" -le 2000 ] || fail "not back in the star in 2 s"

echo "== the proxy killed and restarted: its members are back within 2 s"
# It cannot know its members: they must notice its silence (3 hellos,
# 1 s at least; it was 5 s at least, and the star stayed down that long).
kill -KILL "$(cat "$T/agent-h1.pid")"
sleep 0.2
start_agent 1
t0=$(date +%s%N)
back=0
for _ in $(seq 40); do
    if in_vm 3 2 ping -c 1 -W 0.2 -q 10.201.2.1 >/dev/null 2>&1; then
        back=1
        break
    fi
done
ms=$((($(date +%s%N) - t0) / 1000000))
echo "h3v2 reaches h2v1 over the restarted proxy after $ms ms"
[ "$back" = 1 ] && [ "$ms" -le 2000 ] || fail "proxy: star not back in 2 s"

echo "== garbage on the overlay port is counted and survived"
# With keys, anything not sealed for a session is refused before it is
# parsed: counted as unauthenticated, or as a bad handshake when its first
# byte says handshake (a bad header without keys).
ip netns exec "$P-h1" python3 - <<'PY'
import os, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in [b"", b"\x01", os.urandom(9000 - 28), os.urandom(200),
          bytes([1, 1, 0, 24]) + bytes(4) + (70000).to_bytes(4, "big")
          + bytes(16), bytes([1, 9, 0, 24]) + bytes(40),
          bytes([2, 1, 0, 24]) + bytes(40)]:
    s.sendto(p, ("10.200.0.2", 7000))
PY
bad_count() {
    "$CTL" -e agent="$(agent_ep 2)" --json status agent >"$T/st.json"
    bad=$(json_get "$T/st.json" 'sum(j["services"][0]["counters"].get(k, 0) for k in ("bad_header", "unauthenticated", "handshakes_bad"))')
    [ "$bad" -ge 7 ]
}
# Waits for the count: on a loaded machine the agent may not have read
# them all yet.
vr_until 10 bad_count || fail "bad datagrams counted: $bad"
echo "h2 counted $bad bad datagrams"
in_vm 2 2 ping -c 2 -W 1 -q 10.201.1.1 >/dev/null || fail "h2 stopped forwarding"

vr_stop_services agent-h1 agent-h2 agent-h3
"$BED" down --prefix "$P" >/dev/null

echo "== the portable capture: libpcap, with the VMs' offloads off"
P2="vp$$"
vr_on_cleanup '"$BED" down --prefix "$P2" >/dev/null 2>&1'
"$BED" up --prefix "$P2" --hosts 2 --vms 2 --offloads off >/dev/null
start_agent 1 "$P2" pcap
start_agent 2 "$P2" pcap
vr_until 10 ip netns exec "$P2-h1v1" ping -c 1 -W 0.3 -q 10.201.2.2 \
    || fail "no ping over the pcap capture"
vr_start iperf-pcap ip netns exec "$P2-h2v1" iperf3 -s -1 -p 5203
sleep 0.3
ip netns exec "$P2-h1v2" iperf3 -c 10.201.2.1 -p 5203 -t 2 -J \
    >"$T/iperf-pcap.json" || fail "iperf3 over pcap failed"
mbps=$(json_get "$T/iperf-pcap.json" 'round(j["end"]["sum_received"]["bits_per_second"]/1e6)')
echo "iperf3 with pcap capture: $mbps Mbit/s"
[ "$mbps" -ge 50 ] || fail "only $mbps Mbit/s with pcap"
vr_stop_services agent-h1 agent-h2
echo "1 passed, 0 failed"
