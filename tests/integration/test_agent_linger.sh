#!/bin/bash
# SPDX-License-Identifier: MIT
# A removed link still takes what is in flight on it (the chaos_oclient
# failure of stop 22: a path released while traffic was queued on it lost
# a ping).  h2 and h3 have link l1, 80 ms apart, carrying h2v1 <-> h3v1
# under `ping -i 0.002`; the rules go back to the star and l1 is removed
# on both ends, as the planner does: the frames still on their way over
# l1 arrive and are delivered, nothing is lost.  The link is gone from
# the lists at once and freed after its linger (link_linger_ms); a link
# made again under the same name meanwhile is a new link.  A bed of 3
# hosts x 1 VM, h1 the proxy.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }

source "$(dirname "$0")/agent_bed.sh"
agent_bed_up "vl$$" --hosts 3 --vms 1 --rate off
listed() { ctl "$1" --json link list | jq -e ".[] | select(.name == \"$2\")" >/dev/null; }

# h3's underlay at 1 Mbit/s, with room for 2 s of queue: 120 x 1400 bytes
# take 1.3 s to leave, so l1 is removed while most of them still queue
# even when the four requests removing it are slow (the ASan tree under
# load took 0.45 s for them, the time 40 datagrams took to leave).
ip netns exec "$P-h3" tc qdisc replace dev c0 root tbf rate 1mbit burst 4k latency 2s \
    || fail "tbf on h3"
vr_overlay_keys h1 h2 h3
for h in h1 h2 h3; do start_agent "$h" 'link_linger_ms: 1500'; done
vr_until 10 in_vm h2 ping -c 1 -W 1 -q 10.201.3.1 || fail "h2 -> h3 over the star"

echo "== l1 carries h2v1 <-> h3v1"
link_both h2 h3 l1
ctl h2 rule add 02:00:00:00:03:01 l1 >/dev/null || fail "rule on h2"
ctl h3 rule add 02:00:00:00:02:01 l1 >/dev/null || fail "rule on h3"

echo "== a burst on its way over l1; the rules go back to the star, l1 is removed on both ends"
in_vm h2 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.201.2.1", 9999))
s.settimeout(6)
seen = set()
try:
    while len(seen) < 120:
        seen.add(s.recv(2048)[:4])
except socket.timeout:
    pass
print(len(seen))
' >"$T/burst.txt" 2>&1 &
RECV=$!
VR_PIDS+=("$RECV")
in_vm h2 ping -c 300 -i 0.01 -q 10.201.3.1 >"$T/ping.txt" 2>&1 &
PING=$!
VR_PIDS+=("$PING")
sleep 0.5
rx0=$(link_field h2 l1 rx_frames)
[ "$rx0" -gt 0 ] || fail "nothing arrived on h2's l1 before it went"
ip netns exec "$P-h3v1" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(120):
    s.sendto(b"%04d" % i + b"x" * 1396, ("10.201.2.1", 9999))
' || fail "the burst"
ctl h2 rule del 02:00:00:00:03:01 >/dev/null || fail "rule del on h2"
ctl h3 rule del 02:00:00:00:02:01 >/dev/null || fail "rule del on h3"
ctl h2 link del l1 >/dev/null || fail "removing l1 on h2"
ctl h3 link del l1 >/dev/null || fail "removing l1 on h3"
listed h2 l1 && fail "h2 still lists l1 after its removal"
counter_is h2 links_lingering 1 || fail "h2's l1 is not lingering: $(counter h2 links_lingering)"
wait "$RECV" || true
wait "$PING" || true
echo "burst: $(cat "$T/burst.txt") of 120 datagrams arrived"
[ "$(cat "$T/burst.txt")" = 120 ] || fail "datagrams in flight on l1 lost at its removal"
cat "$T/ping.txt"
grep -q " 0% packet loss" "$T/ping.txt" || fail "pings lost at l1's removal"
counter_ge h2 linger_rx_frames 1 || fail "h2 took nothing on l1 while it lingered"
echo "h2 took $(counter h2 linger_rx_frames) frames on l1 while it lingered"

echo "== freed after its linger; a link made again under its name is new"
vr_until 5 counter_is h2 links_lingering 0 || fail "h2's l1 not freed"
vr_until 5 counter_is h3 links_lingering 0 || fail "h3's l1 not freed"
mklink h2 l1 h3
mklink h3 l1 h2
ctl h3 link del l1 >/dev/null || fail "removing the new l1 on h3"
mklink h3 l1 h2     # made again while the old one lingers: replaces it
counter_is h3 links_lingering 0 || fail "h3's lingering l1 not replaced"
vr_until 5 probe_both h2 h3 l1 || fail "the new l1 does not echo"
ctl h2 rule add 02:00:00:00:03:01 l1 >/dev/null || fail "rule on h2"
ctl h3 rule add 02:00:00:00:02:01 l1 >/dev/null || fail "rule on h3"
in_vm h2 ping -c 100 -i 0.01 -q 10.201.3.1 >"$T/ping2.txt" 2>&1 || true
grep -q " 0% packet loss" "$T/ping2.txt" || fail "frames lost over the new l1"
vr_stop_services h1 h2 h3
echo "1 passed, 0 failed"
