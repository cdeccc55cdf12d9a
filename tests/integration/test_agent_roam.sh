#!/bin/bash
# SPDX-License-Identifier: MIT
# Roaming on planner-made links (issue 13 items 1, 3): h2 and h3 have a
# direct link each (LinkCreate, as the planner makes them) and rules
# onto it.  h3 then moves to a new address (its old one goes away): its
# first authenticated datagram from there moves h2's link (endpoint in
# link list, roamed counted) and h2v1 -> h3v1 goes on over the direct
# link.  Datagrams from an outsider's address (h4) do not move it:
# captured ones replayed, bit-flipped ones, and plain ones are dropped
# and counted, and the endpoint stays.  A bed of 4 hosts x 1 VM, h1 the
# proxy, h4 no agent.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

source "$(dirname "$0")/agent_bed.sh"
agent_bed_up "vr$$" --hosts 4 --vms 1 --rate off
endpoint_is() { [ "$(link_field h2 h3 endpoint)" = "$1" ]; }
vr_overlay_keys h1 h2 h3
AGENT_LISTEN=10.200.0.1:7000 start_agent h1
AGENT_LISTEN=10.200.0.2:7000 start_agent h2
# h3 sends from whatever address its route gives: it can move.
AGENT_LISTEN=0.0.0.0:7000 start_agent h3
vr_until 10 in_vm h2 ping -c 1 -W 0.3 -q 10.201.3.1 || fail "h2 -> h3 over the star"

echo "== a direct link, as the planner makes it"
ctl h2 link add h3 10.200.0.3:7000 >/dev/null || fail "link on h2"
ctl h3 link add h2 10.200.0.2:7000 >/dev/null || fail "link on h3"
vr_until 5 ctl h2 link probe h3 || fail "h2 -> h3 does not echo"
ctl h2 rule add 02:00:00:00:03:01 h3 >/dev/null || fail "rule on h2"
ctl h3 rule add 02:00:00:00:02:01 h2 >/dev/null || fail "rule on h3"
in_vm h2 ping -c 5 -i 0.1 -q 10.201.3.1 >/dev/null || fail "h2v1 -> h3v1 direct"
endpoint_is 10.200.0.3:7000 || fail "endpoint before: $(link_field h2 h3 endpoint)"

echo "== h3 moves to 10.200.0.33; its old address goes"
tx0=$(link_field h2 h3 tx_frames)
ip -n "$P-h3" addr add 10.200.0.33/32 dev c0
ip -n "$P-h3" addr del 10.200.0.3/24 dev c0
ip -n "$P-h3" route add 10.200.0.0/24 dev c0 src 10.200.0.33
vr_until 5 endpoint_is 10.200.0.33:7000 \
    || fail "h2's link did not follow h3: $(link_field h2 h3 endpoint)"
[ "$(link_field h2 h3 peer)" = 10.200.0.3:7000 ] || fail "the configured peer changed"
[ "$(link_field h2 h3 roamed)" -ge 1 ] || fail "the move is not counted"
ctl h2 link list | grep "^h3 " | grep -q "10.200.0.33:7000" \
    || fail "link list does not show the endpoint"
in_vm h2 ping -c 20 -i 0.05 -q 10.201.3.1 >"$T/ping.txt" || true
cat "$T/ping.txt"
grep -q " 0% packet loss" "$T/ping.txt" || fail "frames lost after the move"
[ "$(link_field h2 h3 tx_frames)" -ge $((tx0 + 20)) ] \
    || fail "the pings did not go over the direct link"
grep -q "link h3: peer '.*' now at 10.200.0.33:7000" "$T/h2.log" \
    || fail "the move is not logged"

echo "== datagrams from an outsider's address do not move it"
# Sniff what h3 seals to h2 while h2v1 pings h3v1, then send it from h4
# (10.200.0.4): replayed as it was, with a bit flipped under a fresh
# counter, and as plain datagrams.
ip netns exec "$P-h2" "$VR_SRC_DIR/tests/tools/vr-sniff-overlay.py" "$T/captured" c0 \
    10.200.0.33 10.200.0.2 &
SNIFF=$!
sleep 0.3
in_vm h2 ping -c 15 -i 0.1 -q 10.201.3.1 >/dev/null || fail "h2 -> h3 ping"
wait "$SNIFF" || fail "sniffing failed"
replayed=$(counter h2 replayed)
forged=$(counter h2 forged)
unauth=$(counter h2 unauthenticated)
roamed=$(link_field h2 h3 roamed)
ip netns exec "$P-h4" python3 - "$T/captured" >"$T/sent" <<'PY'
import socket, struct, sys
data = open(sys.argv[1], "rb").read()
dgs, i = [], 0
while i < len(data):
    (n,) = struct.unpack("!I", data[i:i + 4])
    dgs.append(data[i + 4:i + 4 + n])
    i += 4 + n
sealed = [d for d in dgs if d and d[0] in (0x84, 0x85)]
assert len(sealed) >= 10, "only %d sealed datagrams captured" % len(sealed)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.200.0.4", 7000))
to = ("10.200.0.2", 7000)
for d in sealed:
    s.sendto(d, to)                           # replayed as it was
for k, d in enumerate(sealed):
    b = bytearray(d)
    ctr = int.from_bytes(b[8:16], "big") + 1000000 + k
    b[8:16] = ctr.to_bytes(8, "big")          # never seen: the seal fails
    b[len(b) // 2] ^= 0x10
    s.sendto(bytes(b), to)
hello = bytes([1, 4, 0, 24]) + bytes(4) + (3).to_bytes(4, "big") + bytes(12)
for k in range(len(sealed)):
    s.sendto(hello + b"h3\0", to)             # plain, unsealed
print(len(sealed))
PY
n=$(cat "$T/sent")
echo "sent $n captured datagrams three ways from 10.200.0.4:7000"
vr_until 5 counter_ge h2 replayed $((replayed + n)) \
    || fail "replays counted: $(($(counter h2 replayed) - replayed)) of $n"
vr_until 5 counter_ge h2 forged $((forged + n)) \
    || fail "forgeries counted: $(($(counter h2 forged) - forged)) of $n"
vr_until 5 counter_ge h2 unauthenticated $((unauth + n)) \
    || fail "plain ones counted: $(($(counter h2 unauthenticated) - unauth)) of $n"
endpoint_is 10.200.0.33:7000 || fail "an unauthenticated datagram moved the link to $(link_field h2 h3 endpoint)"
[ "$(link_field h2 h3 roamed)" = "$roamed" ] || fail "a move was counted"
in_vm h2 ping -c 10 -i 0.05 -q 10.201.3.1 >"$T/ping2.txt" || true
grep -q " 0% packet loss" "$T/ping2.txt" || fail "frames lost after the outsider's datagrams"
echo "replayed, forged and plain datagrams dropped; the link stays at 10.200.0.33:7000"
vr_stop_services h1 h2 h3
echo "1 passed, 0 failed"
