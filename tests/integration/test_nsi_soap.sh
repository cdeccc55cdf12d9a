#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock opennsa
# The odin-adapter's NSI CS 2.0 SOAP requester (adapter_nsi_soap, driven
# by tests/tools/vr-nsi-cli) against a real provider, NORDUnet's OpenNSA
# with its 'dud' backend (../shared/peers/opennsa, started here on
# loopback with a 3 s hold timeout, stopped on any exit): the whole
# lifecycle reserve → commit → provision → release → terminate with the
# states checked at each step (five times, timed per operation), and once
# with a schedule (the data plane not active before startTime); a VLAN
# conflict and an unknown STP (SOAP faults with errorId and text); a hold
# that times out at the provider (commit delayed past it) and one that
# would (our commit deadline: aborted); nothing of ours left live at the
# end.  Then a stand-in server (tests/tools/nsi-standin.py) that answers
# malformed XML, HTTP 500, nothing, 4 MiB, a DTD with entities, not-SOAP,
# the wrong operation, an unknown state: each a clear failure within the
# request timeout.  Last, mutual TLS against the stand-in over HTTPS:
# accepted with our client certificate, refused without one, with the
# provider's certificate from another CA, with a client certificate from
# another CA.
. "$(dirname "$0")/lib.sh"

CLI="$BIN/vr-nsi-cli"

# deploy/config/nsi.yaml lists every nsi: key with its default.
tail -n +4 "$VR_SRC_DIR/deploy/config/nsi.yaml" | diff -u - <("$CLI" --help-config) \
    || fail "deploy/config/nsi.yaml is out of step with vr-nsi-cli --help-config"

PEER="$VR_SRC_DIR/../shared/peers/opennsa"
if [ ! -d "$PEER" ]; then
    echo "SKIP: no OpenNSA test peer at $PEER"
    exit 77
fi

# OpenNSA's work dir: its parents must be searchable by postgres, so
# not below $T (mode 700).
W=$(mktemp -d /tmp/vr-onsa.XXXXXX)
vr_on_cleanup "'$PEER/stop.sh' '$W' >/dev/null 2>&1; rm -rf '$W'"
t0=$(date +%s%N)
ONSA_START_TIMEOUT=120 "$PEER/start.sh" "$W" --ports "A B C" \
    --vlans 1780-1789 --capacity 1000 --hold-timeout 3 >"$T/peer.json" \
    2>"$T/peer-start.log" || fail "OpenNSA did not start"
echo "OpenNSA up in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat "$T/peer.json")"
URL=$(json_get "$T/peer.json" 'j["url"]')
NET=$(json_get "$T/peer.json" 'j["network"]')
NSA=$(curl -s --max-time 10 "$URL/NSI/discovery.xml" | python3 -c '
import sys, xml.etree.ElementTree as ET
print(ET.fromstring(sys.stdin.read()).get("id"))')
[ -n "$NSA" ] || fail "no NSA id in discovery.xml"

# nsi_yaml FILE URL: a requester config for provider URL.
nsi_yaml() {
    cat >"$1" <<YAML
nsi:
  provider_url: $2
  provider_nsa: $NSA
  requester_nsa: urn:ogf:network:vreserve.test:2026:nsa
  network: $NET
  hold_timeout_ms: 3000
  commit_deadline_ms: 2000
  connect_timeout_ms: 1000
  request_timeout_ms: 2000
  poll_ms: 10
  hosts:
    - {ip: 10.210.0.1, stp: A, vlans: 1780-1789}
    - {ip: 10.210.0.2, stp: B, vlans: 1780-1789}
    - {ip: 10.210.0.3, stp: 'urn:ogf:network:$NET:C', vlans: '1785'}
YAML
}
nsi_yaml "$T/nsi.yaml" "$URL/NSI/services/CS2"
nsi() { "$CLI" -c "$T/nsi.yaml" "$@"; }
# expect FILE PATTERN...: every extended regex PATTERN matches a line.
expect() {
    local f=$1 p
    shift
    for p in "$@"; do
        grep -Eq -- "$p" "$f" || { cat "$f" >&2; fail "$f: no line matching '$p'"; }
    done
}

nsi check >"$T/check.out" || fail "config refused: $(cat "$T/check.out")"

# ---------------------------------------------------------- lifecycle
for i in 1 2 3 4 5; do
    out="$T/life$i.out"
    nsi lifecycle 10.210.0.1 10.210.0.2 >"$out" || { cat "$out" >&2; fail "lifecycle $i"; }
    expect "$out" '^call reserve ok .* conn=EX-' \
        '^state EX-[^ ]+ ReserveHeld/Released/Created active=false vlan=17(8[0-9])/17(8[0-9])' \
        '^call reserveCommit ok' \
        '^state EX-[^ ]+ ReserveStart/Released/Created active=false' \
        '^call provision ok' \
        '^state EX-[^ ]+ ReserveStart/Provisioned/Created active=true vlan=178[0-9]/178[0-9] ' \
        '^call release ok' \
        '^state EX-[^ ]+ ReserveStart/Released/Created active=false' \
        '^call terminate ok' \
        '^state EX-[^ ]+ ReserveStart/Released/Terminated active=false' \
        '^result ok conn=EX-[^ ]+ lifecycle terminated'
    # the order of the steps
    grep -E '^call (reserve|reserveCommit|provision|release|terminate) ' "$out" \
        | awk '{print $2}' | tr '\n' ' ' | grep -qx 'reserve reserveCommit provision release terminate ' \
        || fail "lifecycle $i: steps out of order"
done
echo "lifecycle: 5 of 5 reserve..Terminated"

# ---------------------------------------------------------- a schedule
# startTime 1.5 s ahead, endTime in an hour: Provisioned comes first, the
# data plane only at startTime.
nsi --start-in-ms 1500 --end-in-s 3600 lifecycle 10.210.0.1 10.210.0.2 \
    >"$T/sched.out" || { cat "$T/sched.out" >&2; fail "scheduled lifecycle"; }
expect "$T/sched.out" '^state EX-[^ ]+ ReserveStart/Provisioned/Created active=false' \
    '^reached up conn=EX-[^ ]+ .* start=20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z end=20[0-9]{2}-' \
    '^result ok conn=EX-[^ ]+ lifecycle terminated'
at=$(sed -n 's/^state .* active=true .* at \([0-9]*\) ms$/\1/p' "$T/sched.out" | head -1)
[ -n "$at" ] && [ "$at" -ge 1450 ] || fail "scheduled: data plane active at '$at' ms, before startTime (1500)"
echo "schedule: data plane active at $at ms (startTime at 1500 ms)"

# ---------------------------------------------------------- VLAN conflict
nsi up 10.210.0.3 10.210.0.2 >"$T/hold.out" || { cat "$T/hold.out" >&2; fail "up C?vlan=1785"; }
expect "$T/hold.out" '^result ok conn=EX-[^ ]+ up vlan=1785/178[0-9]'
HELD=$(sed -n 's/^result ok conn=\([^ ]*\) up.*/\1/p' "$T/hold.out")
rc=0
nsi up "urn:ogf:network:$NET:C?vlan=1785" 10.210.0.1 >"$T/conflict.out" || rc=$?
[ "$rc" = 1 ] || fail "VLAN conflict: exit $rc"
expect "$T/conflict.out" '^call reserve fault .* http=500 .*errorId=00704 ' \
    '^result fail kind=fault errorId=00704 reserve: STP <STP [^>]*:C\?vlan=1785> not available in specified time span'
echo "VLAN conflict: $(grep '^result' "$T/conflict.out")"
nsi end "$HELD" >"$T/end.out" || { cat "$T/end.out" >&2; fail "end $HELD"; }
expect "$T/end.out" '^call release ok' '^call terminate ok' "^result ok conn=$HELD terminated"

# ---------------------------------------------------------- unknown STP
rc=0
nsi up "urn:ogf:network:$NET:Z?vlan=1780" 10.210.0.2 >"$T/unknown.out" || rc=$?
[ "$rc" = 1 ] || fail "unknown STP: exit $rc"
expect "$T/unknown.out" '^result fail kind=fault errorId=[0-9]+ reserve: .*Z'
echo "unknown STP: $(grep '^result' "$T/unknown.out")"
rc=0
nsi up 10.210.0.99 10.210.0.2 >"$T/nohost.out" || rc=$?
[ "$rc" = 1 ] || fail "unknown host: exit $rc"
expect "$T/nohost.out" 'host 10.210.0.99 has no port in nsi.hosts'

# ---------------------------------------------------------- hold timeout
# At the provider: committed 6 s after the hold, well past its 3 s
# timeout (its timer may fire late on a busy machine).
rc=0
nsi --commit-delay-ms 6000 --ignore-deadline lifecycle 10.210.0.1 10.210.0.2 \
    >"$T/holdto.out" || rc=$?
[ "$rc" = 1 ] || { cat "$T/holdto.out" >&2; fail "hold timeout: exit $rc"; }
expect "$T/holdto.out" '^call reserveCommit fault ' \
    '^result fail kind=hold-timeout errorId=00500 conn=EX-[^ ]+ hold timed out at the provider' \
    '^cleanup EX-[^ ]+ terminated'
echo "hold timeout: $(grep '^result' "$T/holdto.out")"
# Ours: the commit deadline (2 s) passes first, the hold is aborted.
rc=0
nsi --commit-delay-ms 2500 lifecycle 10.210.0.1 10.210.0.2 >"$T/deadline.out" || rc=$?
[ "$rc" = 1 ] || { cat "$T/deadline.out" >&2; fail "commit deadline: exit $rc"; }
expect "$T/deadline.out" '^call reserveAbort ok' \
    '^result fail kind=hold-timeout conn=EX-[^ ]+ not committed within nsi.commit_deadline_ms' \
    '^cleanup EX-[^ ]+ terminated'
if grep -q '^call reserveCommit' "$T/deadline.out"; then fail "committed past the deadline"; fi

# ---------------------------------------------------------- nothing left live
nsi query >"$T/all.out" || { cat "$T/all.out" >&2; fail "query all"; }
n=$(grep -c '^connection ' "$T/all.out")
[ "$n" -ge 10 ] || fail "query all: $n connections, expected at least 10"
if grep '^connection ' "$T/all.out" | grep -v 'Terminated active=false'; then
    fail "connections still live at the provider"
fi
echo "provider: $n connections of ours, none live"

# ---------------------------------------------------------- per-operation time
echo "per-operation time against OpenNSA (ms; min median max, n):"
cat "$T"/life*.out "$T/conflict.out" "$T/end.out" | awk '
    $1 == "timing" { v[$2] = v[$2] " " $3 }
    $1 == "phase"  { v["phase:" $2] = v["phase:" $2] " " $3 }
    $1 == "queries" { v["querySummarySync(mean)"] = v["querySummarySync(mean)"] " " $4 }
    END { for (k in v) print k, v[k] }' | sort | while read -r k vals; do
    # shellcheck disable=SC2086
    printf '  %-28s %s\n' "$k" "$(printf '%s\n' $vals | sort -n | awk '
        { a[NR] = $1 } END { printf "%d %d %d  n=%d", a[1], a[int((NR + 1) / 2)], a[NR], NR }')"
done

# ---------------------------------------------------------- stand-in
vr_start standin python3 "$VR_SRC_DIR/tests/tools/nsi-standin.py" "$T/standin.port"
vr_until 10 test -s "$T/standin.port" || fail "stand-in did not start"
SP=$(cat "$T/standin.port")
standin() {  # standin MODE KIND PATTERN: one query, fails as KIND with PATTERN
    local mode=$1 kind=$2 pat=$3 t rc=0
    nsi_yaml "$T/s.yaml" "http://127.0.0.1:$SP/NSI/$mode"
    t=$(date +%s%N)
    "$CLI" -c "$T/s.yaml" call querySummarySync EX-1 >"$T/s-$mode.out" || rc=$?
    t=$(( ($(date +%s%N) - t) / 1000000 ))
    [ "$rc" = 1 ] || { cat "$T/s-$mode.out" >&2; fail "stand-in $mode: exit $rc"; }
    expect "$T/s-$mode.out" "^result fail kind=$kind .*$pat"
    # request_timeout_ms is 2000: the call ends within it (+ slack for
    # a busy machine), the whole program soon after
    local ms
    ms=$(sed -n 's/^call querySummarySync failed \([0-9]*\) ms .*/\1/p' "$T/s-$mode.out")
    [ -n "$ms" ] && [ "$ms" -le 2500 ] || fail "stand-in $mode: the call took '$ms' ms"
    [ "$t" -lt 10000 ] || fail "stand-in $mode: took $t ms"
    echo "stand-in $mode: call $ms ms, run $t ms: $(grep '^result' "$T/s-$mode.out")"
}
standin malformed failed 'not well-formed XML'
standin http500 failed 'http=500 HTTP 500 without a SOAP fault'
standin hang timeout 'no answer within 2000 ms'
standin big failed 'reply over nsi.max_reply_kb'
standin dtd failed 'DTD'
standin notsoap failed 'not a SOAP 1.1 envelope'
standin wrongop failed 'expected <querySummarySyncConfirmed>, got <reserveResponse>'
standin badstate failed "unknown reservationState 'ReserveExploded'"
standin nosuchmode failed 'HTTP 404'
# a closed port
nsi_yaml "$T/s.yaml" "http://127.0.0.1:9/NSI/services/CS2"
rc=0
"$CLI" -c "$T/s.yaml" call querySummarySync EX-1 >"$T/closed.out" || rc=$?
[ "$rc" = 1 ] || fail "closed port: exit $rc"
expect "$T/closed.out" '^result fail kind=failed .*http=0 '
# plain http to a host that is not loopback is refused
nsi_yaml "$T/s.yaml" "http://192.0.2.1/NSI/services/CS2"
rc=0
"$CLI" -c "$T/s.yaml" check >"$T/plain.out" || rc=$?
[ "$rc" = 1 ] || fail "plain http elsewhere: exit $rc"
expect "$T/plain.out" 'kind=config .*not loopback'
# ---------------------------------------------------------- mutual TLS
# A CA, the provider's certificate for 127.0.0.1, our client certificate,
# and a rogue CA with a client certificate of its own.
mkcert() {  # mkcert NAME CN CA EXT: NAME.key, NAME.pem signed by CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=$2" -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
    printf '%s\n' "$4" >"$T/$1.ext"
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" \
        -CAcreateserial -days 1 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null
}
for ca in ca rogue; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=test $ca" -days 1 -keyout "$T/$ca.key" -out "$T/$ca.pem" 2>/dev/null
done
mkcert server 127.0.0.1 ca "subjectAltName=IP:127.0.0.1"
mkcert client vreserve-requester ca "extendedKeyUsage=clientAuth"
mkcert rclient vreserve-requester rogue "extendedKeyUsage=clientAuth"
vr_start tls python3 "$VR_SRC_DIR/tests/tools/nsi-standin.py" "$T/tls.port" \
    --tls "$T/server.pem" "$T/server.key" "$T/ca.pem"
vr_until 10 test -s "$T/tls.port" || fail "TLS stand-in did not start"
TP=$(cat "$T/tls.port")
tls_call() {  # tls_call NAME CERT KEY CA: a provision call over mTLS
    nsi_yaml "$T/$1.yaml" "https://127.0.0.1:$TP/NSI/ack"
    {
        echo "  tls:"
        [ -z "$2" ] || echo "    cert: $2"
        [ -z "$3" ] || echo "    key: $3"
        echo "    ca: $4"
    } >>"$T/$1.yaml"
    "$CLI" -c "$T/$1.yaml" call provision EX-1 >"$T/$1.out"
}
tls_call mtls "$T/client.pem" "$T/client.key" "$T/ca.pem" \
    || { cat "$T/mtls.out" >&2; fail "mutual TLS refused"; }
expect "$T/mtls.out" '^call provision ok .* http=200' '^result ok provision'
! tls_call nocert "" "" "$T/ca.pem" || fail "no client certificate: accepted"
expect "$T/nocert.out" '^result fail kind=failed .*http=0 '
! tls_call rogueca "$T/client.pem" "$T/client.key" "$T/rogue.pem" \
    || fail "provider certificate from another CA: accepted"
expect "$T/rogueca.out" '^result fail kind=failed .*(certificate|SSL)'
! tls_call rogueclient "$T/rclient.pem" "$T/rclient.key" "$T/ca.pem" \
    || fail "client certificate from another CA: accepted"
expect "$T/rogueclient.out" '^result fail kind=failed .*http=0 '
for f in nocert rogueca rogueclient; do
    echo "mutual TLS, $f: $(grep '^result' "$T/$f.out")"
done
echo "PASS"
