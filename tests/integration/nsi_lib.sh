# SPDX-License-Identifier: MIT
# Shared by the tests of the odin-adapter's nsi backend (sourced after
# lib.sh): OpenNSA (../shared/peers/opennsa) started on loopback and
# stopped on any exit, the adapter's and the broker's configs, and a look
# at what the provider holds for us (tests/tools/vr-nsi-cli).

PEER="$VR_SRC_DIR/../shared/peers/opennsa"
REQ_NSA=urn:ogf:network:vreserve.test:2026:adapter-$$

# nsi_peer_start [START.SH OPTIONS...]: starts OpenNSA with ports
# $NSI_PORTS ("A B C" by default; VLANs 1780-1789) and the options; sets
# URL, NET, NSA ($T/peer.json: start.sh's line, with each port's STP).
# Exits 77 when the peer is not there.
nsi_peer_start() {
    if [ ! -d "$PEER" ]; then
        echo "SKIP: no OpenNSA test peer at $PEER"
        exit 77
    fi
    # Its work dir's parents must be searchable by postgres: not in $T.
    W=$(mktemp -d /tmp/vr-onsa.XXXXXX)
    vr_on_cleanup "'$PEER/stop.sh' '$W' >/dev/null 2>&1; rm -rf '$W'"
    local t0
    t0=$(date +%s%N)
    ONSA_START_TIMEOUT=60 "$PEER/start.sh" "$W" --ports "${NSI_PORTS:-A B C}" \
        --vlans 1780-1789 --capacity 1000 "$@" >"$T/peer.json" \
        2>"$T/peer-start.log" || fail "OpenNSA did not start: $(tail -5 "$T/peer-start.log")"
    echo "OpenNSA up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    URL=$(json_get "$T/peer.json" 'j["url"]')
    NET=$(json_get "$T/peer.json" 'j["network"]')
    NSA=$(curl -s --max-time 10 "$URL/NSI/discovery.xml" | python3 -c '
import sys, xml.etree.ElementTree as ET
print(ET.fromstring(sys.stdin.read()).get("id"))')
    [ -n "$NSA" ] || fail "no NSA id in discovery.xml"
}

# nsi_section URL [HOLD_MS DEADLINE_MS]: the adapter's nsi: section for
# provider URL: hosts 10.210.0.1 on A, .2 on B (VLANs 1780-1789), .3 on C
# with the single VLAN 1785, .4 on Z (a port the provider does not have),
# .5 on B with VLAN 1789 only, .6 on C with 1788 only (no VLAN in common);
# or, when NSI_HOSTS_YAML is set, its lines as the hosts.
nsi_section() {
    cat <<YAML
nsi:
  provider_url: $1
  provider_nsa: $NSA
  requester_nsa: $REQ_NSA
  network: $NET
  hold_timeout_ms: ${2:-3000}
  commit_deadline_ms: ${3:-2000}
  connect_timeout_ms: 1000
  request_timeout_ms: 2000
  poll_ms: 10
  hosts:
YAML
    if [ -n "${NSI_HOSTS_YAML:-}" ]; then
        echo "$NSI_HOSTS_YAML"
        return
    fi
    cat <<YAML
    - {ip: 10.210.0.1, stp: A, vlans: 1780-1789}
    - {ip: 10.210.0.2, stp: B, vlans: 1780-1789}
    - {ip: 10.210.0.3, stp: C, vlans: '1785'}
    - {ip: 10.210.0.4, stp: Z, vlans: 1780-1789}
    - {ip: 10.210.0.5, stp: B, vlans: '1789'}
    - {ip: 10.210.0.6, stp: C, vlans: '1788'}
YAML
}

# nsi_setup [URL]: the adapter's config $T/adapter.yaml (backend nsi, the
# provider at URL, default OpenNSA's), the broker's with hosts h1..h6 at
# 10.210.0.1..6, vnetctl's and vr-nsi-cli's ($T/cli.yaml: the same
# requester NSA).
nsi_setup() {
    local url=${1:-$URL/NSI/services/CS2}
    vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: nsi' \
        "$(nsi_section "$url")"
    vr_broker_yaml "$T/broker.db" 'reconcile_ms: 300' "$(vr_network_yaml 6 16)"
    vr_ctl_yaml
    echo "adapter_events: $(ep adapter-events)" >>"$T/ctl.yaml"
    nsi_section "$URL/NSI/services/CS2" >"$T/cli.yaml"
}

# nsi_terminated CONN: the provider lists connection CONN Terminated (a
# query that fails on a busy machine is tried again, 10 s at most).
nsi_terminated() {
    local deadline=$((SECONDS + 10))
    until "$BIN/vr-nsi-cli" -c "$T/cli.yaml" query "$1" >"$T/q.out" \
            && grep -q "^connection $1 .*/Terminated active=false" "$T/q.out"; do
        [ "$SECONDS" -lt "$deadline" ] || { cat "$T/q.out" >&2; return 1; }
        sleep 0.2
    done
}

# nsi_stuck: the connections the adapter terminated again because the
# provider left them Terminating (its logs say so), one id a line.
# OpenNSA does that when it is stopped between freeing a connection in its
# backend and recording it Terminated: the connection then holds nothing
# there but stays Terminating for good, whatever is asked.
nsi_stuck() {
    cat "$T"/adapter.log* 2>/dev/null \
        | sed -n 's/.* connection \([^ :]*\): Terminating for [0-9]* ms: terminate again$/\1/p' \
        | sort -u
}

# nsi_live: the connections of ours the provider holds that are not
# Terminated, one "connection ..." line each; not those left Terminating
# with their data plane down after the adapter terminated them again.
nsi_live() {
    local i stuck
    for i in 1 2 3; do
        "$BIN/vr-nsi-cli" -c "$T/cli.yaml" query >"$T/query.out" && break
        [ "$i" != 3 ] || { cat "$T/query.out" >&2; fail "vr-nsi-cli query"; }
        sleep 0.5
    done
    stuck=$(nsi_stuck | sed 's/.*/^connection & .*\/Terminating active=false$/')
    grep '^connection ' "$T/query.out" | grep -v 'Terminated active=false' \
        | { if [ -n "$stuck" ]; then grep -v -f <(echo "$stuck"); else cat; fi; } || true
}

# nsi_until_none_live SECONDS: until the provider holds nothing live of ours.
nsi_until_none_live() {
    local deadline=$((SECONDS + $1))
    while [ -n "$(nsi_live)" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { nsi_live >&2; return 1; }
        sleep 0.2
    done
}

# path_json RESV: the adapter's path of reservation RESV, as vnetctl
# reserve show puts it.
path_json() { "${CTL[@]}" --json reserve show "$1" | jq -c '.path // {}'; }

# log_ms PATH FROM TO: ms between PATH's transitions FROM -> ... and
# ... -> TO in the adapter's log (its own clock: reserve sent to up).
log_ms() {
    python3 - "$T/adapter.log" "$1" "$2" "$3" <<'PY'
import datetime, re, sys
log, path, a, b = sys.argv[1:]
t = {}
for line in open(log, errors="replace"):
    m = re.match(r"(\S+) .* path %s \(.*\): (\S+) -> (\S+)$" % re.escape(path), line)
    if m:
        ts = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        t.setdefault(("from", m.group(2)), ts)
        t.setdefault(("to", m.group(3)), ts)
print(int((t[("to", b)] - t[("to", a)]).total_seconds() * 1000))
PY
}
