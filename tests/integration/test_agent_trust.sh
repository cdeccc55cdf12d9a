#!/bin/bash
# SPDX-License-Identifier: MIT
# The overlay admits only its own (#13), tried as an attacker would on a
# bed of 4 hosts x 1 VM: h1 the proxy, h2 and h3 admitted members, h4 an
# outsider on the same network.
#   - an agent with a key nobody admitted, claiming h2's id, gets no link
#     and moves nothing; a plain (unsealed) hello makes no link;
#   - captured datagrams replayed, bit-flipped or truncated from a spoofed
#     source are dropped and counted, and no frame reaches a VM;
#   - keys rotated every MiB under iperf3 lose nothing beyond the normal,
#     and the links show what protects them;
#   - an admitted agent that only authenticates (overlay.encrypt: false)
#     is refused by a proxy that wants encryption: no downgrade.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
P="vt$$"
CTL="$BIN/vnetctl"
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'
"$BED" up --prefix "$P" --hosts 4 --vms 1 --rate off >/dev/null

agent_ep() { echo "ipc://$T/agent-$1"; }
ctl() { local h=$1; shift; "$CTL" -e agent="$(agent_ep "$h")" "$@"; }
counter() { ctl "$1" --json status agent | jq -r ".services[0].counters.$2"; }
# counter_ge H NAME N: counter NAME of agent H is N or more (for vr_until).
counter_ge() { [ "$(counter "$1" "$2")" -ge "$3" ]; }
in_vm() { local h=$1; shift; ip netns exec "$P-${h}v1" "$@"; }

vr_overlay_keys h1 h2 h3 h4
"$CTL" keygen "$T/rogue" agent-h2 >/dev/null     # a key nobody admitted

# start_agent NAME HOST ID KEY [ENCRYPT]: agent NAME on host HOST as ID
# with KEY.
start_agent() {
    local name=$1 host=$2 id=$3 key=$4 encrypt=${5:-true} role="# the proxy"
    [ "$host" = h1 ] || role="proxy_addr: 10.200.0.1:7000"
    cat >"$T/$name.yaml" <<YAML
id: $id
$role
bus: {control: '$(agent_ep "$name")', aggregator: 'ipc://$T/ingest'}
overlay:
  listen: 10.200.0.${host#h}:7000
  key: $key
  peers_dir: $T/overlay-keys
  rekey_mb: 1
  encrypt: $encrypt
ports: [vm1]
period_ms: 100
YAML
    vr_start "$name" ip netns exec "$P-$host" "$BIN/vnet-agent" \
        -c "$T/$name.yaml"
    vr_until 10 ctl "$name" status agent || fail "agent $name did not come up"
}
for h in h1 h2 h3; do
    start_agent "$h" "$h" "$h" "$T/overlay-keys/agent-$h.key"
done
vr_until 10 in_vm h2 ping -c 1 -W 0.3 -q 10.201.1.1 || fail "h2 -> h1 over the star"
vr_until 10 in_vm h3 ping -c 1 -W 0.3 -q 10.201.2.1 || fail "h3 -> h2 over the star"
links() { ctl h1 --json link list | jq -r '[.[] | "\(.name)@\(.peer)"] | sort | join(" ")'; }
LINKS=$(links)
echo "proxy's links: $LINKS"
[ "$LINKS" = "agent:h2@10.200.0.2:7000 agent:h3@10.200.0.3:7000" ] \
    || fail "unexpected links"
ctl h1 --json link list | jq -e 'all(.[]; .security == "encrypted")' >/dev/null \
    || fail "links not shown encrypted: $(ctl h1 --json link list)"

echo "== a key nobody admitted, claiming h2's id, gets nothing"
start_agent rogue h4 h2 "$T/rogue/agent-h2.key"
vr_until 10 counter_ge h1 unknown_keys 1 \
    || fail "the proxy did not refuse the rogue key"
sleep 1.5
[ "$(links)" = "$LINKS" ] || fail "the rogue changed the proxy's links: $(links)"
in_vm h4 ping -c 2 -W 0.5 -q 10.201.1.1 >/dev/null 2>&1 \
    && fail "the rogue's VM reached h1v1"
in_vm h2 ping -c 3 -i 0.2 -W 1 -q 10.201.1.1 >/dev/null || fail "h2 lost its place"
echo "refused keys at the proxy: $(counter h1 unknown_keys)"
vr_stop rogue

echo "== a plain hello (no keys) makes no link"
before=$(counter h1 unauthenticated)
ip netns exec "$P-h4" python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hello = bytes([1, 4, 0, 24]) + bytes(20) + b"h2\0" + bytes.fromhex("020000000401")
for _ in range(50):
    s.sendto(hello, ("10.200.0.1", 7000))
PY
vr_until 5 counter_ge h1 unauthenticated $((before + 50)) \
    || fail "plain hellos not counted as unauthenticated"
[ "$(links)" = "$LINKS" ] || fail "a plain hello made a link"

echo "== captured datagrams replayed, flipped, truncated: dropped, counted"
# Sniff what h2 seals to the proxy while h2v1 pings h1v1, then send it
# again from the outsider h4 with h2's address forged as the source.
ip netns exec "$P-h1" "$VR_SRC_DIR/tests/tools/vr-sniff-overlay.py" "$T/captured" c0 \
    10.200.0.2 &
SNIFF=$!
sleep 0.3
in_vm h2 ping -c 15 -i 0.1 -q 10.201.1.1 >/dev/null || fail "h2 -> h1 ping"
wait "$SNIFF" || fail "sniffing failed"
sleep 0.5
injected=$(counter h1 injected)
replayed=$(counter h1 replayed)
forged=$(counter h1 forged)
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
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def send(payload):
    udp = struct.pack("!HHHH", 7000, 7000, 8 + len(payload), 0) + payload
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000,
                      64, 17, 0, bytes([10, 200, 0, 2]), bytes([10, 200, 0, 1]))
    raw.sendto(iph + udp, ("10.200.0.1", 0))
def fresh(d, k):
    # A counter never used yet, so that the seal itself is what fails
    # (a seen counter is refused as a replay before the seal is checked).
    b = bytearray(d)
    ctr = int.from_bytes(b[8:16], "big") + 1000000 + k
    b[8:16] = ctr.to_bytes(8, "big")
    return b
for d in sealed:
    send(d)                                   # replayed as it was
for k, d in enumerate(sealed):
    b = fresh(d, k)
    b[len(b) // 2] ^= 0x10                    # one bit flipped
    send(bytes(b))
for k, d in enumerate(sealed):
    send(bytes(fresh(d, len(sealed) + k)[:-1]))   # truncated
print(len(sealed))
PY
n=$(cat "$T/sent")
echo "sent $n captured datagrams three ways"
vr_until 5 counter_ge h1 replayed $((replayed + n)) \
    || fail "replays counted: $(($(counter h1 replayed) - replayed)) of $n"
vr_until 5 counter_ge h1 forged $((forged + 2 * n)) \
    || fail "forgeries counted: $(($(counter h1 forged) - forged)) of $((2 * n))"
[ "$(counter h1 injected)" = "$injected" ] \
    || fail "a replayed or forged frame reached a VM"
echo "replayed $(($(counter h1 replayed) - replayed)), forged $(($(counter h1 forged) - forged)), none injected"

echo "== keys rotated every MiB under iperf3"
ctl h2 link add h3 10.200.0.3:7000 >/dev/null
ctl h3 link add h2 10.200.0.2:7000 >/dev/null
vr_until 5 ctl h2 link probe h3 || fail "direct link h2 -> h3 does not echo"
ctl h2 rule add 02:00:00:00:03:01 h3 >/dev/null
ctl h3 rule add 02:00:00:00:02:01 h2 >/dev/null
rekeys=$(($(counter h2 rekeys) + $(counter h3 rekeys)))
nokey=$(ctl h2 --json link list | jq '[.[] | select(.name == "h3")][0].tx_nokey')
# What a rekey could lose shows here: a datagram under a session the
# receiver does not have (unauthenticated) or no longer takes.
refused() {
    local n=0 h c
    for h in h2 h3; do
        for c in unauthenticated forged replayed; do
            n=$((n + $(counter "$h" "$c")))
        done
    done
    echo "$n"
}
refused0=$(refused)
vr_start iperf ip netns exec "$P-h3v1" iperf3 -s -1 -p 5201
listening() { ip netns exec "$P-h3v1" ss -ltn | grep -q ':5201 '; }
vr_until 5 listening || fail "iperf3 server did not start"
# A rate two busy cores carry without loss: what is lost is the rekeys'.
in_vm h2 iperf3 -c 10.201.3.1 -p 5201 -u -b 50M -l 1300 -t 4 -J \
    >"$T/iperf.json" || fail "iperf3 failed"
lost=$(json_get "$T/iperf.json" 'j["end"]["sum"]["lost_percent"]')
mb=$(json_get "$T/iperf.json" 'round(j["end"]["sum"]["bytes"] / 1e6)')
n=$(($(counter h2 rekeys) + $(counter h3 rekeys) - rekeys))
echo "iperf3 UDP 50 Mbit/s for 4 s: $mb MB, $lost% lost, $n new sessions"
[ "$n" -ge 3 ] || fail "only $n rekeys under $mb MB"
[ "$(refused)" = "$refused0" ] \
    || fail "$(($(refused) - refused0)) datagrams refused across rekeys"
# Beyond that, loss is the machine's: on two busy cores (2.6% seen at
# load average 14, none of it refused above), and more under ASan, a
# 50 Mbit/s UDP stream loses some with or without rekeys.
max_lost=5
case "$VR_BUILD_DIR" in *asan*) max_lost=15 ;; esac
python3 -c "import sys; sys.exit(0 if $lost < $max_lost else 1)" \
    || fail "$lost% lost across rekeys (limit $max_lost%)"
ctl h2 --json link list \
    | jq -e "[.[] | select(.name == \"h3\")][0].tx_nokey == $nokey" \
    >/dev/null || fail "frames went unsent for want of a key"

echo "== authenticated only, where encryption is wanted: refused"
start_agent h4 h4 h4 "$T/overlay-keys/agent-h4.key" false
vr_until 10 counter_ge h1 downgraded 1 \
    || fail "the proxy took authenticate-only datagrams"
in_vm h4 ping -c 2 -W 0.5 -q 10.201.1.1 >/dev/null 2>&1 \
    && fail "h4's VM crossed without encryption"
echo "downgraded datagrams refused at the proxy: $(counter h1 downgraded)"

vr_stop_services h1 h2 h3 h4
echo "1 passed, 0 failed"
