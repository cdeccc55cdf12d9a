#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# VM ports that come and go (issue 17 item 2).  Bad `ports:` patterns are
# refused (--check too).  A bed of 2 hosts x 2 VMs:
# h1 the proxy with its ports named, h2 a member with `ports: ["vm*"]`
# and ports_max 3.  On h2, after its agent started:
#   - a tap (vnet_hdr) named vm8 is captured as a tap with its vnet
#     header, then a new VM (its veth vm9) is refused for room (counted,
#     logged) and captured once the tap is deleted and released;
#   - a new VM's port is captured (aim 100 ms, bound 250 ms: median of
#     10; the times printed) and the VM pings h1v1 over the overlay within
#     2 s of its port appearing;
#   - deleted, the port is released: counted, its rule and learned MAC
#     gone, the fast path's filters back to what they were, no fd left;
#   - ping -i 0.01 between h2v2 and h1v2 loses nothing while VM ports
#     come and go;
#   - 50 add/remove cycles leave the agent's memory, descriptors and
#     tables bounded;
#   - through a tap with a vnet header (tests/tools/vr-tapvm.py standing
#     in for the guest) a UDP GSO super-frame goes out and one comes in,
#     both arriving whole: segmented by the kernel, checksums right.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

source "$(dirname "$0")/agent_bed.sh"
# The VMs made here are named as the bed's (h2v9), so 'down' takes them
# too if the test stops half-way.
agent_bed_up "vp$$" --hosts 2 --vms 2 --rate off
ms() { date +%s%3N; }
mac9="02:00:00:00:02:09"

echo "== bad patterns are refused, by --check too"
many=$(printf '"vm%d",' $(seq 33))
for bad in '"*"' '"v*"' '"vm 1"' '"vnet[0-9"' '"vm/1"' '"a-name-too-long-0"' "${many%,}"; do
    printf 'ports: [%s]\noverlay: {insecure: true}\n' "$bad" >"$T/bad.yaml"
    rc=0
    "$BIN/vnet-agent" -c "$T/bad.yaml" --check 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] && grep -q "ports: " "$T/err" \
        || fail "ports: [$bad] not refused (rc $rc): $(cat "$T/err")"
done
echo "7 bad pattern lists refused"

vr_overlay_keys h1 h2
AGENT_PORTS="[vm1, vm2]" start_agent h1
AGENT_PORTS='["vm*"]' start_agent h2 "ports_max: 3"
PID2=$(cat "$T/h2.pid")
counter_is h2 ports 2 || fail "h2 did not capture vm1 and vm2 by its glob"
vr_until 10 ip netns exec "$P-h2v1" ping -c 1 -W 0.3 -q 10.201.1.1 \
    || fail "h2v1 -> h1v1 over the star"
ip netns exec "$P-h2v2" ping -c 3 -i 0.1 -q 10.201.1.2 >/dev/null \
    || fail "h2v2 -> h1v2 over the star"

# add_vm K: a new VM namespace with a veth whose host end vmK is in h2;
# prints the time (ms) its host end appeared.
add_vm() {
    local k=$1 ns="$P-h2v$1" t0
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
    t0=$(ms)
    ip link add eth0 netns "$ns" type veth peer name "vm$k" netns "$P-h2"
    printf '%s\n' "link set lo up" \
        "link set eth0 address $(printf '02:00:00:00:02:%02x' "$k") up" \
        "addr add 10.201.2.$k/16 dev eth0" | ip -n "$ns" -batch -
    ip -n "$P-h2" link set "vm$k" up
    echo "$t0"
}
del_vm() {
    ip -n "$P-h2" link del "vm$1"
    ip netns del "$P-h2v$1"
}
n_fds() { find "/proc/$PID2/fd" -mindepth 1 -maxdepth 1 | wc -l; }
fds_are() { [ "$(n_fds)" = "$1" ]; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID2/status"; }
# alive PID: running (a zombie is not: kill -0 would say it is).
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

fast0=$(counter h2 fast_filters)
fds0=$(n_fds)
learned0=$(counter h2 learned_macs)

echo "== a tap with a vnet header is captured as one, and released"
ip -n "$P-h2" tuntap add mode tap dev vm8 vnet_hdr
vr_until 2 counter_is h2 ports 3 || fail "tap vm8 not captured"
grep -q "port vm8: captured at .*tap, vnet header on" "$T/h2.log" \
    || fail "the tap's kind and vnet header are not seen: $(grep vm8 "$T/h2.log")"

echo "== past ports_max: refused, counted; captured once there is room"
add_vm 9 >/dev/null
vr_until 2 counter_ge h2 ports_refused 1 || fail "vm9 not refused past ports_max"
grep -q "port vm9: not captured: 3 ports are already (ports_max)" "$T/h2.log" \
    || fail "the refusal is not logged"
counter_is h2 ports 3 || fail "more ports than ports_max"
ip -n "$P-h2" link del vm8
vr_until 2 counter_is h2 ports_released 1 || fail "tap vm8 not released"
vr_until 2 counter_is h2 ports_captured 4 \
    || fail "vm9 not captured once the tap made room"
counter_is h2 ports 3 || fail "ports: $(counter h2 ports), not 3"
vr_until 2 ip netns exec "$P-h2v9" ping -c 1 -W 0.2 -q 10.201.1.1 \
    || fail "h2v9 -> h1v1 after its late capture"
del_vm 9
vr_until 2 counter_is h2 ports 2 || fail "vm9 not released"

echo "== a new VM: captured, pinging over the overlay within 2 s"
# The capture is seen from outside the agent: its socket, bound, makes
# the port promiscuous (one 'ip' run, a few ms, is in the time printed);
# then the agent's status says so.
promisc() { ip -n "$P-h2" -d link show vm9 2>/dev/null | grep -q "promiscuity [1-9]"; }
caps=()
released0=$(counter h2 ports_released)
for c in $(seq 10); do
    n=$(counter h2 ports_captured)
    t0=$(add_vm 9)
    until promisc; do
        [ $(($(ms) - t0)) -lt 2000 ] || fail "cycle $c: vm9 not captured in 2 s"
    done
    t_cap=$(($(ms) - t0))
    vr_until 2 counter_is h2 ports_captured $((n + 1)) \
        || fail "cycle $c: the capture is not counted"
    caps+=("$t_cap")
    ok=0
    while [ $(($(ms) - t0)) -lt 2000 ]; do
        if ip netns exec "$P-h2v9" ping -c 1 -W 0.1 -q 10.201.1.1 >/dev/null; then
            ok=1
            break
        fi
    done
    t_ping=$(($(ms) - t0))
    [ "$ok" = 1 ] || fail "cycle $c: h2v9 did not reach h1v1 within 2 s of its port"
    echo "cycle $c: captured ${t_cap} ms after its veth appeared; first ping over the overlay answered after ${t_ping} ms"
    if [ "$c" = 1 ]; then
        echo "== deleted: released, its MAC, rule and filters gone"
        ctl h2 rule add "$mac9" local:vm9 >/dev/null || fail "a rule to local:vm9"
        ctl h2 rule list | grep -q "$mac9" || fail "no rule to local:vm9"
        vr_until 5 counter_ge h2 learned_macs $((learned0 + 1)) \
            || fail "h2v9's MAC not learned"
        vr_until 12 counter_ge h2 fast_filters $((fast0 + 1)) \
            || fail "no fast path filter for vm9 (fast_filters $(counter h2 fast_filters))"
        learned=$(counter h2 learned_macs)
        del_vm 9
        vr_until 2 counter_is h2 ports_released $((released0 + 1)) \
            || fail "vm9's release not counted"
        counter_is h2 ports 2 || fail "ports after the release: $(counter h2 ports)"
        [ "$(counter h2 learned_macs)" -le $((learned - 1)) ] \
            || fail "h2v9's MAC still learned ($(counter h2 learned_macs) of $learned)"
        ! ctl h2 rule list | grep -q "$mac9" || fail "the rule to local:vm9 is left"
        vr_until 10 counter_is h2 fast_filters "$fast0" \
            || fail "fast path filters left: $(counter h2 fast_filters), were $fast0"
        vr_until 2 fds_are "$fds0" || fail "descriptors left: $(n_fds), were $fds0"
    else
        del_vm 9
    fi
    vr_until 2 counter_is h2 ports 2 || fail "cycle $c: vm9 not released"
done
median=$(printf '%s\n' "${caps[@]}" | sort -n | sed -n 5p)
max=$(printf '%s\n' "${caps[@]}" | sort -n | tail -n 1)
echo "capture times (ms): ${caps[*]}; median $median, max $max"
# The aim is 100 ms (25-60 ms median on this 2-core machine under a
# load of 10); the bound leaves room for a machine loaded far past its
# cores, where one run's median was 106 ms.
[ "$median" -le 250 ] || fail "median capture time $median ms > 250 ms"

echo "== ping -i 0.01 h2v2 -> h1v2 while VM ports come and go"
rss0=$(rss_kb)
vr_start ping ip netns exec "$P-h2v2" ping -i 0.01 -c 1000 -q 10.201.1.2
PING_PID=$(cat "$T/ping.pid")
cycles=0
while alive "$PING_PID"; do
    add_vm 9 >/dev/null
    vr_until 2 counter_is h2 ports 3 || fail "churn: vm9 not captured"
    del_vm 9
    vr_until 2 counter_is h2 ports 2 || fail "churn: vm9 not released"
    cycles=$((cycles + 1))
done
wait "$PING_PID" || true
grep -E "packets transmitted" "$T/ping.log"
# Every request answered.  A duplicate reply (seen once, in the ASan
# tree, cause not yet known) is not a loss: it is shown, not failed.
grep -qE " 1000 received,( \+[0-9]+ duplicates,)? 0% packet loss" "$T/ping.log" \
    || fail "frames lost while ports came and went: $(grep transmitted "$T/ping.log")"
[ "$cycles" -ge 5 ] || fail "only $cycles add/remove cycles under the ping"
echo "$cycles add/remove cycles under ping -i 0.01, nothing lost"

echo "== 50 cycles in all: memory, descriptors and tables bounded"
for c in $(seq $((cycles + 11)) 50); do
    add_vm 9 >/dev/null
    vr_until 2 counter_is h2 ports 3 || fail "cycle $c: vm9 not captured"
    del_vm 9
    vr_until 2 counter_is h2 ports 2 || fail "cycle $c: vm9 not released"
done
rss1=$(rss_kb)
total=$((10 + cycles > 50 ? 10 + cycles : 50))
echo "agent h2: RSS ${rss0} kB before the last $((total - 10)) cycles, ${rss1} kB after;" \
    "captured $(counter h2 ports_captured), released $(counter h2 ports_released)," \
    "learned_macs $(counter h2 learned_macs), fast_filters $(counter h2 fast_filters)," \
    "fds $(n_fds)"
# ASan keeps freed memory in quarantine, so RSS grows there whatever the
# agent does; its leak check at exit (vr_stop below) stands in.
if vr_sanitized; then
    echo "(sanitized build: RSS not bounded by ASan's quarantine; leaks checked at exit)"
else
    [ $((rss1 - rss0)) -le 4096 ] || fail "RSS grew by $((rss1 - rss0)) kB"
fi
vr_until 2 fds_are "$fds0" || fail "descriptors: $(n_fds), were $fds0"
vr_until 10 counter_is h2 fast_filters "$fast0" || fail "fast path filters left"
[ "$(counter h2 learned_macs)" -le $((learned0 + 1)) ] \
    || fail "learned MACs grew: $(counter h2 learned_macs), were $learned0"
counter_is h2 netlink_bad 0 || fail "malformed netlink messages counted"
ip netns exec "$P-h2v2" ping -c 3 -i 0.1 -q 10.201.1.2 >/dev/null \
    || fail "h2v2 -> h1v2 after the cycles"

echo "== frames whole through a tap with a vnet header, both ways"
# vr-tapvm stands in for a guest on tap vm8: one UDP GSO super-frame out
# (as a guest with TSO hands QEMU), and h1v1's UDP_SEGMENT burst in,
# which the kernel must segment and checksum for a tap that asked for no
# offloads.  h1v1 checks what arrives, in order and byte for byte.
cat >"$T/h1side.py" <<'PY'
import socket, struct, sys
n, seg = int(sys.argv[1]), int(sys.argv[2])
want = bytes((i * 7 + 3) % 251 for i in range(n))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.201.1.1", 9998))
s.settimeout(10)
print("listening", flush=True)
data, count = b"", 0
while len(data) < n:
    d = s.recv(70000)
    data += d
    count += 1
ok = data == want and count == -(-n // seg)
print("received %d datagrams, %d bytes, %s" % (count, len(data),
      "whole" if ok else "NOT whole"), flush=True)
body = seg - 4
buf = b"".join(struct.pack("!I", off) + want[off:off + body]
               for off in range(0, n, body))
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t.setsockopt(socket.SOL_UDP, 103, seg)          # UDP_SEGMENT
t.sendto(buf, ("10.201.2.8", 9999))
print("sent %d bytes in segments of %d" % (len(buf), seg), flush=True)
sys.exit(0 if ok else 1)
PY
ip -n "$P-h2" tuntap add mode tap dev vm8 vnet_hdr
ip -n "$P-h2" link set vm8 up
vr_until 2 counter_is h2 ports 3 || fail "tap vm8 not captured"
ip -n "$P-h1v1" neigh replace 10.201.2.8 lladdr 02:00:00:00:02:08 dev eth0
vr_stop_wait() { # vr_stop_wait NAME SECONDS: waits for NAME to exit; VR_RC
    local pid
    pid=$(cat "$T/$1.pid")
    vr_until "$2" eval '! alive '"$pid" || { VR_RC=124; return; }
    VR_RC=0
    wait "$pid" || VR_RC=$?
}
# tap_round N: the stand-in guest's super-frame to h1v1 and h1v1's back.
tap_round() {
    vr_start "h1side$1" ip netns exec "$P-h1v1" python3 "$T/h1side.py" 20000 1400
    vr_until 5 grep -q listening "$T/h1side$1.log" || fail "h1v1's receiver did not start"
    vr_start "tapvm$1" ip netns exec "$P-h2" python3 "$VR_SRC_DIR/tests/tools/vr-tapvm.py" \
        vm8 02:00:00:00:02:08 10.201.2.8 02:00:00:00:01:01 10.201.1.1 20000 1400 10
    vr_stop_wait "tapvm$1" 15
    cat "$T/tapvm$1.log"
    [ "$VR_RC" = 0 ] || fail "frames through tap vm8 were not whole: $(counters)"
    vr_stop_wait "h1side$1" 5
    cat "$T/h1side$1.log"
    [ "$VR_RC" = 0 ] || fail "the tap's super-frame did not reach h1v1 whole: $(counters)"
}
counters() {
    for h in h1 h2; do
        ctl "$h" --json status agent | jq -c "{$h: .services[0].counters | {injected, inject_errors, bad_offload, no_route}}"
    done
}
tap_round 1
echo "== into a veth with its offloads off: super-frames still whole"
# Past the qdisc such a veth drops them: the agent's first one fails,
# and the port goes through its qdisc from then on (logged).
ip netns exec "$P-h1" ethtool -K vm1 tso off gso off tx-udp-segmentation off
tap_round 2
grep -q "port vm1: drops super-frames sent past its qdisc" "$T/h1.log" \
    || fail "h1 did not say vm1 now goes through its qdisc"
ip -n "$P-h2" link del vm8
vr_until 2 counter_is h2 ports 2 || fail "tap vm8 not released"

for h in h1 h2; do
    vr_stop "$h"
    [ "$VR_RC" = 0 ] || fail "agent $h exited $VR_RC"
done
echo "PASS: VM ports captured and released as they came and went"
