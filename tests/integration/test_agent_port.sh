#!/bin/bash
# SPDX-License-Identifier: MIT
# An agent told to listen on port 0 takes a UDP port from the kernel and
# the same number for its TCP links; when another program holds that TCP
# port, it picks again instead of failing to start (CI once lost
# integration.services that way).  In a namespace of our own whose
# ephemeral range is 4 ports, 3 of them held over TCP, 4 agents in turn
# must come up, each on the free port.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

NS="vrport$$"
vr_on_cleanup 'ip netns del "$NS" 2>/dev/null'
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="40000 40003"
vr_start holder ip netns exec "$NS" python3 -c '
import socket, time
held = []
for port in (40000, 40001, 40002):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    held.append(s)
print("held", flush=True)
time.sleep(300)
'
vr_until 10 grep -q held "$T/holder.log" || fail "could not hold the ports"

vr_overlay_keys h1
for i in 1 2 3 4; do
    cat >"$T/agent$i.yaml" <<YAML
id: h1
bus:
  control: $(ep agent$i)
  aggregator: $(ep ingest)
overlay:
  listen: 127.0.0.1:0
  key: $T/overlay-keys/agent-h1.key
  peers_dir: $T/overlay-keys
YAML
    vr_start "agent$i" ip netns exec "$NS" "$BIN/vnet-agent" -c "$T/agent$i.yaml"
    vr_until 20 "$BIN/vnetctl" -e agent="$(ep agent$i)" status agent \
        || fail "agent $i did not come up: $(tail -n 3 "$T/agent$i.log")"
    ip netns exec "$NS" ss -Hltn 'sport = :40003' | grep -q LISTEN \
        || fail "agent $i does not listen on the one free TCP port"
    vr_stop "agent$i"
    [ "$VR_RC" = 0 ] || fail "agent $i exited $VR_RC"
done
echo "PASS: 4 agents on port 0 came up with 3 of 4 ephemeral TCP ports taken"
