#!/bin/bash
# SPDX-License-Identifier: MIT
# Two links between the same two agents' addresses (issue 15): the
# oclient backend's reserved paths run over the hosts' own addresses, and
# the planner makes a new link before it removes the old one.  h2 and h3
# have link l1 (LinkCreate as the planner sends it) carrying the rules
# for h2v1 <-> h3v1; l2 is made to the same addresses, probed, the rules
# move onto it and l1 goes, all under `ping -i 0.01`: nothing is lost,
# each link's frames arrive on that link at the far end (its namesake:
# the handshake's first message carries the link's tag), once l1 is gone
# on both ends no datagram is refused, and the star is untouched.  Before the fix the first link at
# an address answered every handshake, so l2's sessions were l1's at the
# far end: its frames arrived on l1, and removing l1 lost a third of the
# pings.  A bed of 3 hosts x 1 VM, h1 the proxy.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }

source "$(dirname "$0")/agent_bed.sh"
agent_bed_up "vw$$" --hosts 3 --vms 1 --rate off

vr_overlay_keys h1 h2 h3
for h in h1 h2 h3; do start_agent "$h"; done
vr_until 10 in_vm h2 ping -c 1 -W 0.3 -q 10.201.3.1 || fail "h2 -> h3 over the star"

echo "== l1 carries h2v1 <-> h3v1"
link_both h2 h3 l1
ctl h2 rule add 02:00:00:00:03:01 l1 >/dev/null || fail "rule on h2"
ctl h3 rule add 02:00:00:00:02:01 l1 >/dev/null || fail "rule on h3"
in_vm h2 ping -c 5 -i 0.1 -q 10.201.3.1 >/dev/null || fail "h2v1 -> h3v1 over l1"

echo "== l2 to the same addresses; the rules move; l1 goes"
in_vm h2 ping -c 500 -i 0.01 -q 10.201.3.1 >"$T/ping.txt" 2>&1 &
PING=$!
VR_PIDS+=("$PING")
sleep 0.3
link_both h2 h3 l2
ctl h2 rule add 02:00:00:00:03:01 l2 >/dev/null || fail "rule onto l2 on h2"
ctl h3 rule add 02:00:00:00:02:01 l2 >/dev/null || fail "rule onto l2 on h3"
sleep 0.5
rx2=$(link_field h3 l2 rx_frames)
ctl h2 link del l1 >/dev/null || fail "removing l1 on h2"
ctl h3 link del l1 >/dev/null || fail "removing l1 on h3"
wait "$PING" || true
cat "$T/ping.txt"
grep -q " 0% packet loss" "$T/ping.txt" || fail "frames lost while l2 replaced l1"

echo "== each link's frames arrived on its namesake"
for h in h2 h3; do
    tx=$(link_field "$h" l2 tx_frames)
    [ "$tx" -ge 100 ] || fail "$h sent only $tx frames on l2"
done
for pair in "h2 h3" "h3 h2"; do
    set -- $pair
    tx=$(link_field "$1" l2 tx_frames)
    rx=$(link_field "$2" l2 rx_frames)
    # Every frame $1 sent on l2 arrived on $2's l2 (the pings are all
    # answered), none on $2's l1.
    [ "$rx" -ge "$tx" ] || fail "$1 sent $tx frames on l2, $2's l2 took $rx"
done
[ "$rx2" -gt 0 ] || fail "before l1 went, h3's l2 had received nothing"
# Between the two removals the far l1 may still say hello to a link
# that is gone (refused, rightly); from now on nothing is refused.
unauth2=$(counter h2 unauthenticated)
unauth3=$(counter h3 unauthenticated)
in_vm h2 ping -c 100 -i 0.01 -q 10.201.3.1 >"$T/ping2.txt" 2>&1 || true
grep -q " 0% packet loss" "$T/ping2.txt" || fail "frames lost over l2 alone"
[ "$(counter h2 unauthenticated)" = "$unauth2" ] \
    || fail "h2 refused $(($(counter h2 unauthenticated) - unauth2)) datagrams"
[ "$(counter h3 unauthenticated)" = "$unauth3" ] \
    || fail "h3 refused $(($(counter h3 unauthenticated) - unauth3)) datagrams"
grep -q "link l2: session with 'h3' up" "$T/h2.log" || fail "h2's l2 has no session"
grep -q "link l2: session with 'h2' up" "$T/h3.log" || fail "h3's l2 has no session"

echo "== the star is untouched"
[ "$(link_field h2 proxy state)" = up ] || fail "h2's star link is down"
in_vm h2 ping -c 3 -i 0.1 -q 10.201.1.1 >/dev/null || fail "h2v1 -> h1v1 over the star"
vr_stop_services h1 h2 h3
echo "1 passed, 0 failed"
