#!/bin/bash
# SPDX-License-Identifier: MIT
# vnet-agent's control requests with hostile values (issue 14 item 3):
# every request type it takes (LinkCreate, LinkRemove, LinkProbe, RuleAdd,
# RuleRemove) with control characters, overlong, malformed and
# out-of-range values and oversized arrays in each field is answered
# ERR_BAD_REQUEST naming the field (tests/tools/vr-agent-hostile.c); the
# agent keeps running, its log holds no raw control character and its
# refusals are rate-limited; good requests still work.  Hellos whose
# agent ids hold newlines and escape sequences (issue 13 items 1, 3, 8):
# 200 plain (unsealed) ones are refused unread, counted unauthenticated,
# and make no link; an admitted peer (tests/tools/vr-overlay-peer.c) whose
# sealed hellos speak for such an id is refused (hello_refused: its id is
# its key's), joins only as its key's id, and nothing it sent reaches the
# log raw.  One agent (a proxy, with keys) on loopback, no VM ports.
source "$(dirname "$0")/lib.sh"

port=$((20000 + $$ % 20000))
# The agent's key, and x1's: an admitted peer that turns hostile.
vr_overlay_keys hostile-test x1
cat >"$T/agent.yaml" <<YAML
id: hostile-test
bus:
  control: ipc://$T/agent
  aggregator: ipc://$T/ingest
overlay: {listen: '127.0.0.1:$port', $(vr_overlay_yaml hostile-test)}
ports: []
YAML
vr_start agent "$BIN/vnet-agent" -c "$T/agent.yaml"
vr_until 10 "$BIN/vnetctl" -e agent="ipc://$T/agent" status agent \
    || fail "the agent did not come up"
counter() {
    "$BIN/vnetctl" -e agent="ipc://$T/agent" --json status agent \
        | jq -r ".services[0].counters.$1"
}
nlinks() { "$BIN/vnetctl" -e agent="ipc://$T/agent" --json link list | jq length; }

t0=$(date +%s%N)
"$BIN/vr-agent-hostile" "ipc://$T/agent" >"$T/hostile.txt" \
    || { cat "$T/hostile.txt"; fail "a hostile request was not refused"; }
ms=$((($(date +%s%N) - t0) / 1000000))
n=$(grep -c ": refused: " "$T/hostile.txt")
echo "$n hostile requests refused, each naming its field, in $ms ms"
grep -m 3 ": refused: " "$T/hostile.txt"
[ "$n" -ge 40 ] || fail "only $n hostile cases"

echo "== plain hellos with hostile ids: refused unread, no link"
# 200 sockets, each saying hello, unsealed, as a new agent whose id holds
# a newline, an escape sequence and a forged log line: with keys none is
# read, each is counted unauthenticated and none makes a link.
unauth0=$(counter unauthenticated)
python3 - "$port" <<'PY'
import socket, sys
port = int(sys.argv[1])
for i in range(200):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    ident = ("x%d\n2026-01-01T00:00:00Z vnet-agent[1] agent ERROR: forged"
             "\x1b[31m" % i).encode()[:60] + b"\0"
    hdr = (bytes([1, 4, 0, 24]) + bytes(4) + len(ident).to_bytes(4, "big")
           + bytes(12))
    s.sendto(hdr + ident, ("127.0.0.1", port))
    s.close()
PY
all_counted() { [ "$(counter unauthenticated)" -ge $((unauth0 + 200)) ]; }
vr_until 5 all_counted || true
n=$(($(counter unauthenticated) - unauth0))
echo "200 plain hellos: $n counted unauthenticated"
[ "$n" -ge 200 ] || fail "only $n of 200 plain hellos counted unauthenticated"
j=$(grep -c "joined from" "$T/agent.log" || true)
[ "$j" = 0 ] || fail "a plain hello made a link ($j 'joined' lines)"
[ "$(nlinks)" = 0 ] || fail "links after plain hellos: $(nlinks)"

echo "== an admitted peer's hellos with a hostile id: refused"
# x1 holds an admitted key, so its handshake makes it a link named for
# its key; its hellos speaking for another id (a newline, a forged log
# line, an escape sequence) are refused and counted, then its own id is
# taken.
refused0=$(counter hello_refused)
hellos0=$(counter hellos)
cat >"$T/peer.in" <<'CMDS'
repeat 50 hello x1\nZ\x20vnet-agent[1]\x20agent\x20ERROR:\x20forged\e[31m 02:00:00:00:77:01; sleep 2
hello x2 02:00:00:00:77:01; sleep 20
hello x1 02:00:00:00:77:01; sleep 300
CMDS
"$BIN/vr-overlay-peer" --peers "$T/overlay-keys" \
    "$T/overlay-keys/agent-x1.key" "127.0.0.1:$port" <"$T/peer.in" \
    >"$T/peer.txt" || { cat "$T/peer.txt"; fail "vr-overlay-peer failed"; }
cat "$T/peer.txt"
grep -q "session with 'hostile-test' up" "$T/peer.txt" \
    || fail "the admitted peer got no session"
refused=$(($(counter hello_refused) - refused0))
echo "51 hellos for other ids: $refused refused"
[ "$refused" -ge 51 ] \
    || fail "only $refused of 51 hellos for other ids refused"
vr_until 5 test "$(counter hellos)" -gt "$hellos0" \
    || fail "the peer's hello for its own id was not taken"
grep "joined from" "$T/agent.log"
[ "$(grep -c "joined from" "$T/agent.log")" = 1 ] \
    || fail "expected one 'joined' line, the admitted peer's"
grep -q "proxy: agent 'x1' joined from 127.0.0.1:" "$T/agent.log" \
    || fail "the admitted peer did not join under its key's id"
[ "$(nlinks)" = 1 ] || fail "links: $(nlinks), want agent:x1 only"
# If a hostile id is logged at all, it is escaped, on its own line.
grep "forged" "$T/agent.log" | grep -v 'x1\\x0aZ vnet-agent' \
    && fail "a hostile id reached the log unescaped"

"$BIN/vnetctl" -e agent="ipc://$T/agent" status agent >/dev/null \
    || fail "the agent died"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/agent.log"; then
    fail "a raw control character reached the log"
fi
lines=$(grep -c "refused " "$T/agent.log" || true)
echo "the agent logged $lines refusal lines for $n refusals"
[ "$lines" -le 10 ] || fail "refusals are not rate-limited ($lines lines)"
vr_stop agent
[ "$VR_RC" = 0 ] || fail "agent exit code $VR_RC"
echo "1 passed, 0 failed"
