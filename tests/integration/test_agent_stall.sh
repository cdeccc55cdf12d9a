#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# vnet-agent's control thread and packet threads never wait for a peer
# (issue 13 item 6), on the test bed: 3 hosts (h1 the proxy) x 2 VMs.
# Every agent has its overlay key and admits the others' by key.
# - Inbound TCP overlay connections (raw ones: no key needed to open one)
#   are capped per peer address and the idle ones are closed; a TCP
#   link's own connection, kept alive, stays.
# - A frame with offload metadata the kernel could misread, sent sealed by
#   an admitted peer (tests/tools/vr-overlay-peer.c, key agent-h4), is
#   dropped and counted and never reaches the VM it was addressed to; the
#   same frame without the metadata does (item 7).
# - With h3's agent stopped (SIGSTOP) while h2 sends a VM's stream to it
#   over a TCP link, h2's other traffic (a ping -i 0.01 to h1) loses
#   nothing: writes to the stalled peer are queued, then dropped and
#   counted, never waited for.
# - While probes of a dead peer and of the stalled one wait, the agent
#   answers status within 200 ms and keeps sending its hellos.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
P="vt$$"
CTL="$BIN/vnetctl"
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'
# A stopped agent takes no SIGTERM: let it go on first.
vr_on_cleanup '[ -e "$T/agent-h3.pid" ] && kill -CONT "$(cat "$T/agent-h3.pid")" 2>/dev/null'

"$BED" up --prefix "$P" --hosts 3 --vms 2 >/dev/null
in_vm() {
    local ns="$P-h${1}v$2"
    shift 2
    ip netns exec "$ns" "$@"
}
ep() { echo "ipc://$T/$P-agent-h$1"; }
mac() { printf '02:00:00:00:%02x:%02x' "$1" "$2"; }
counter() {
    "$CTL" -e agent="$(ep "$1")" --json status agent \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["counters"].get(sys.argv[1], 0))' "$2"
}

vr_overlay_keys h1 h2 h3 h4
for i in 1 2 3; do
    if [ "$i" = 1 ]; then
        role="# no proxy_addr: the proxy"
    else
        role="proxy_addr: 10.200.0.1:7000"
    fi
    cat >"$T/h$i.yaml" <<YAML
id: h$i
$role
bus:
  control: $(ep "$i")
  aggregator: ipc://$T/ingest
overlay:
  listen: 10.200.0.$i:7000
  key: $T/overlay-keys/agent-h$i.key
  peers_dir: $T/overlay-keys
ports: [vm1, vm2]
hello_ms: 1000
peer_timeout_ms: 3000
YAML
    vr_start "agent-h$i" ip netns exec "$P-h$i" "$BIN/vnet-agent" \
        -c "$T/h$i.yaml"
done
for i in 1 2 3; do
    vr_until 10 "$CTL" -e agent="$(ep "$i")" status agent \
        || fail "agent h$i did not come up"
done
vr_until 10 in_vm 2 1 ping -c 1 -W 0.3 -q 10.201.1.1 \
    || fail "no ping h2v1 -> h1v1 over the star"
vr_until 10 in_vm 2 2 ping -c 1 -W 0.3 -q 10.201.3.1 \
    || fail "no ping h2v2 -> h3v1 over the star"

echo "== inbound TCP connections: 4 per peer at most, idle ones closed"
# h3 takes connections from h2's address once it has a TCP link to h2.
"$CTL" link add h2t 10.200.0.2:7000 --tcp --agent "$(ep 3)" >/dev/null
ip netns exec "$P-h2" timeout 20 python3 - <<'PY' || fail "idle connections"
import socket, time
conns = []
for _ in range(6):
    s = socket.create_connection(("10.200.0.3", 7000), timeout=2)
    conns.append(s)
    time.sleep(0.05)
# Idle for 3 s (h3's peer_timeout_ms): each must be closed within 8 s.
deadline = time.time() + 8
for s in conns:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        if s.recv(1) != b"":
            raise SystemExit("data on an idle connection")
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise SystemExit("an idle connection was kept")
print("all 6 idle connections were closed by h3")
PY
evicted=$(counter 3 tcp_evicted)
idle=$(counter 3 tcp_idle_closed)
echo "h3: $evicted evicted for newer ones, $idle closed idle"
[ "$evicted" -ge 2 ] && [ "$idle" -ge 1 ] || fail "caps not applied"

echo "== offload metadata from an admitted peer: checked before injection"
# h1v1 listens for frames from the peer's MAC (02:00:00:00:04:04); the
# peer (in h2's namespace, with h4's key) sends the proxy a unicast to
# h1v1 whose metadata puts the checksum past its end (NEEDS_CSUM,
# csum_start 100 of a 60-byte frame), then the same frame, marked, with
# none.
in_vm 1 1 timeout 20 python3 - "$T/sniff.txt" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind(("eth0", 0))
s.settimeout(0.2)
open(sys.argv[1] + ".ready", "w").close()
seen, end = [], time.time() + 15
while time.time() < end and b"GOOD" not in seen:
    try:
        f = s.recv(65535)
    except socket.timeout:
        continue
    if f[6:12] == bytes.fromhex("020000000404"):
        seen.append(f[14:18])
open(sys.argv[1], "w").write(" ".join(x.decode() for x in seen) + "\n")
PY
SNIFF=$!
VR_PIDS+=("$SNIFF")
vr_until 10 test -e "$T/sniff.txt.ready" || fail "the sniffer did not start"
bad0=$(counter 1 bad_offload)
# peer_frame MARK: a 60-byte frame to h1v1 from the peer's MAC, ethertype
# 0x88b5, its payload starting with the 4 characters MARK, as hex.
peer_frame() {
    printf '020000000101020000000404''88b5%s%084d' \
        "$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')" 0
}
printf '%s\n' "frame $(peer_frame BAD!) vnet 1 0 0 100 0; sleep 300" \
    "frame $(peer_frame GOOD); sleep 300" >"$T/peer.in"
ip netns exec "$P-h2" "$BIN/vr-overlay-peer" --peers "$T/overlay-keys" \
    "$T/overlay-keys/agent-h4.key" 10.200.0.1:7000 <"$T/peer.in" \
    >"$T/peer.txt" || { cat "$T/peer.txt"; fail "vr-overlay-peer failed"; }
cat "$T/peer.txt"
grep -q "session with 'h1' up" "$T/peer.txt" || fail "no session with h1"
wait "$SNIFF" || fail "the sniffer failed"
echo "h1v1 saw from the peer: $(cat "$T/sniff.txt")"
bad=$(($(counter 1 bad_offload) - bad0))
echo "h1 dropped $bad frame(s) with bad offload metadata"
[ "$bad" = 1 ] || fail "bad offload metadata counted $bad times, want 1"
[ "$(cat "$T/sniff.txt")" = "GOOD" ] \
    || fail "h1v1 saw '$(cat "$T/sniff.txt")' from the peer, want GOOD only"

# A TCP link h2 -> h3 keeps its connection: it says it is alive.
"$CTL" link add h3t 10.200.0.3:7000 --tcp --agent "$(ep 2)" >/dev/null
vr_until 5 "$CTL" link probe h3t --agent "$(ep 2)" \
    || fail "TCP link h2->h3 does not echo"
sleep 5
"$CTL" link probe h3t --agent "$(ep 2)" || fail "TCP link h2->h3 went idle"
[ "$(counter 3 tcp_idle_closed)" = "$idle" ] \
    || fail "h3 closed the live link's connection as idle"

echo "== h3 stopped: a stream to it over TCP does not stall h2's others"
"$CTL" rule add "$(mac 3 1)" h3t --agent "$(ep 2)" >/dev/null
kill -STOP "$(cat "$T/agent-h3.pid")"
# h2v2 sends ~5,000 datagrams/s of 1,400 bytes to h3v1 for 25 s at most.
in_vm 2 2 ip neigh replace 10.201.3.1 lladdr "$(mac 3 1)" dev eth0
vr_start flood ip netns exec "$P-h2v2" timeout 25 python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b = bytes(1400)
while True:
    for _ in range(50):
        s.sendto(b, ("10.201.3.1", 9))
    time.sleep(0.01)
'
queue_full() { [ "$(counter 2 tcp_queue_full)" -gt 0 ]; }
vr_until 20 queue_full || fail "h2's queue to the stopped h3 never filled"
echo "h2's queue to h3 is full ($(counter 2 tcp_queue_full) records dropped)"
in_vm 2 1 ping -i 0.01 -c 300 -q 10.201.1.1 >"$T/ping.txt" 2>&1 || true
cat "$T/ping.txt"
loss=$(grep -o '[0-9.]*% packet loss' "$T/ping.txt" | cut -d% -f1)
[ -n "$loss" ] && python3 -c "import sys; sys.exit(float('$loss') > 1)" \
    || fail "h2v1 -> h1v1 lost $loss% while h3 was stopped"

echo "== probes waiting for an echo do not hold up requests or hellos"
"$CTL" link add dead 10.200.0.99:7000 --agent "$(ep 2)" >/dev/null
hellos0=$(counter 1 hellos)
"$CTL" link probe dead --timeout 3000 --agent "$(ep 2)" >"$T/probe1.txt" &
PROBE1=$!
VR_PIDS+=("$PROBE1")
"$CTL" link probe h3t --timeout 3000 --agent "$(ep 2)" >"$T/probe2.txt" &
PROBE2=$!
VR_PIDS+=("$PROBE2")
sleep 0.3
worst=0
for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "$CTL" -e agent="$(ep 2)" status agent >/dev/null \
        || fail "h2 did not answer status while probes wait"
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.2
done
# A control thread held by a probe would answer after its 3 s timeout.
# 200 ms covers a vnetctl round trip on a loaded bed; in the ASan tree
# (Debug, both binaries instrumented, h2 busy with the stream) up to
# 584 ms was measured under load 4.8 on 2 cores: 1 s there.
bound=200
vr_sanitized && bound=1000
echo "status answered in $worst ms at worst while 2 probes waited (bound $bound)"
[ "$worst" -le "$bound" ] || fail "status took $worst ms"
[ "$(counter 2 probes_waiting)" -ge 1 ] || fail "the probes are not waiting"
wait "$PROBE1" && fail "a dead peer echoed"
wait "$PROBE2" && fail "a stopped peer echoed"
grep -q "no echo" "$T/probe1.txt" || fail "probe of dead: $(cat "$T/probe1.txt")"
hellos1=$(counter 1 hellos)
echo "the proxy heard $((hellos1 - hellos0)) hellos meanwhile"
[ $((hellos1 - hellos0)) -ge 2 ] || fail "hellos held up by probes"

kill -CONT "$(cat "$T/agent-h3.pid")"
vr_until 10 in_vm 2 1 ping -c 1 -W 0.3 -q 10.201.3.1 \
    || fail "h3 did not come back"
vr_stop_services agent-h1 agent-h2 agent-h3
echo "1 passed, 0 failed"
