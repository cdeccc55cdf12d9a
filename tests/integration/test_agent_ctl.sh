#!/bin/bash
# SPDX-License-Identifier: MIT
# vnet-agent's control requests with hostile values (issue 14 item 3):
# every request type it takes (LinkCreate, LinkRemove, LinkProbe, RuleAdd,
# RuleRemove) with control characters, overlong, malformed and
# out-of-range values and oversized arrays in each field is answered
# ERR_BAD_REQUEST naming the field (tests/tools/vr-agent-hostile.c); the
# agent keeps running, its log holds no raw control character and its
# refusals are rate-limited; good requests still work.  Hellos whose
# agent ids hold newlines and escape sequences (issue 13 item 8) are
# logged escaped and rate-limited.  One agent (a proxy) on loopback, no
# VM ports.
source "$(dirname "$0")/lib.sh"

port=$((20000 + $$ % 20000))
cat >"$T/agent.yaml" <<YAML
id: hostile-test
bus:
  control: ipc://$T/agent
  aggregator: ipc://$T/ingest
overlay:
  listen: 127.0.0.1:$port
ports: []
YAML
vr_start agent "$BIN/vnet-agent" -c "$T/agent.yaml"
vr_until 10 "$BIN/vnetctl" -e agent="ipc://$T/agent" status agent \
    || fail "the agent did not come up"

t0=$(date +%s%N)
"$BIN/vr-agent-hostile" "ipc://$T/agent" >"$T/hostile.txt" \
    || { cat "$T/hostile.txt"; fail "a hostile request was not refused"; }
ms=$((($(date +%s%N) - t0) / 1000000))
n=$(grep -c ": refused: " "$T/hostile.txt")
echo "$n hostile requests refused, each naming its field, in $ms ms"
grep -m 3 ": refused: " "$T/hostile.txt"
[ "$n" -ge 40 ] || fail "only $n hostile cases"

echo "== hellos with hostile ids: escaped and rate-limited in the log"
# 200 sockets, each saying hello as a new agent whose id holds a newline,
# an escape sequence and a forged log line.
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
joined() { [ "$(grep -c "joined from" "$T/agent.log")" -ge 1 ]; }
vr_until 5 joined || fail "no hello was taken"
sleep 0.5
grep -m 1 "joined from" "$T/agent.log"
j=$(grep -c "joined from" "$T/agent.log")
echo "200 hellos from new agents gave $j 'joined' lines"
[ "$j" -le 10 ] || fail "hello log lines are not rate-limited ($j)"
grep -q "forged$" "$T/agent.log" && fail "a forged log line got through"

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
