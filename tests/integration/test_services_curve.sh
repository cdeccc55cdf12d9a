#!/bin/bash
# SPDX-License-Identifier: MIT
# The services with CURVE on, keys made by `vnetctl keygen`: a client whose
# key is allowed gets answers; a plain client and one with an unknown key
# get nothing, and the services log the denial.
source "$(dirname "$0")/lib.sh"

KEYS="$T/keys"
"$BIN/vnetctl" keygen "$KEYS" agent aggregator planner broker adapter \
    vnetctl >/dev/null
"$BIN/vnetctl" keygen "$T/rogue" vnetctl >/dev/null
# Servers trust the public halves of the known clients only.
mkdir -p "$T/allowed"
cp "$KEYS"/*.key "$T/allowed/"
"$BIN/vnetctl" keygen "$KEYS" vnetctl 2>/dev/null && fail "keygen overwrote a key"

curve() { vr_curve_yaml "$KEYS/$1.key" "$T/allowed" "$KEYS"; }
vr_overlay_keys agent
{ curve agent; cat <<YAML; } >"$T/agent.yaml"
bus:
  control: $(ep agent)
  aggregator: $(ep ingest)
overlay:
  listen: 127.0.0.1:0
  key: $T/overlay-keys/agent-agent.key
  peers_dir: $T/overlay-keys
YAML
vr_aggregator_yaml "$(curve aggregator)"
{ curve planner; cat <<YAML; } >"$T/planner.yaml"
bus:
  control: $(ep planner)
  events: $(ep planner-events)
  aggregator_events: $(ep agg-events)
  broker_events: $(ep broker-events)
YAML
vr_broker_yaml "$T/broker.db" "$(curve broker)"
{ curve adapter; cat <<YAML; } >"$T/adapter.yaml"
bus:
  control: $(ep adapter)
  events: $(ep adapter-events)
state: $T/adapter.db
YAML
endpoints() {
    cat <<YAML
agent: $(ep agent)
aggregator: $(ep aggregator)
planner: $(ep planner)
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 800
YAML
}
{ endpoints; echo "curve: {cert: $KEYS/vnetctl.key, servers: $KEYS}"; } \
    >"$T/ctl-good.yaml"
{ endpoints; echo "curve: {cert: $T/rogue/vnetctl.key, servers: $KEYS}"; } \
    >"$T/ctl-rogue.yaml"
endpoints >"$T/ctl-plain.yaml"

vr_start_services

GOOD=("$BIN/vnetctl" -c "$T/ctl-good.yaml")
vr_until 10 "${GOOD[@]}" status || fail "services did not come up with CURVE"
"${GOOD[@]}" --json status >"$T/good.json"
[ "$(json_get "$T/good.json" 'j["up"]')" = 5 ] || fail "allowed client not answered"
[ "$(json_get "$T/good.json" 'set(s["info"]["curve"] for s in j["services"])')" \
  = "{'on'}" ] || fail "a service does not report curve on"

for who in rogue plain; do
    rc=0
    "$BIN/vnetctl" -c "$T/ctl-$who.yaml" --json status >"$T/$who.json" || rc=$?
    [ "$rc" = 3 ] || fail "$who client: exit $rc, expected 3 (no reply)"
    [ "$(json_get "$T/$who.json" 'j["up"]')" = 0 ] || fail "$who client was answered"
done
for s in agent aggregator planner broker adapter; do
    grep -q "denied (CURVE)" "$T/$s.log" || fail "$s did not log the denied key"
done
ROGUE_KEY=$(awk -F'"' '/public-key/ {print $2}' "$T/rogue/vnetctl.key")
grep -qF "client_key=$ROGUE_KEY" "$T/broker.log" || fail "denial does not name the key"

# A service whose cert has no secret half refuses to start (exit 1).
cp "$KEYS/adapter.key" "$T/pub-only.key"
sed "s|$KEYS/adapter.key|$T/pub-only.key|" "$T/adapter.yaml" >"$T/bad.yaml"
sed -i "s|$(ep adapter)|$(ep adapter2)|; s|$(ep adapter-events)|$(ep adapter2-events)|" "$T/bad.yaml"
rc=0
timeout 10 "$BIN/odin-adapter" -c "$T/bad.yaml" 2>"$T/bad.log" || rc=$?
[ "$rc" = 1 ] || fail "adapter with a public-only cert exited $rc"
grep -q "no secret key" "$T/bad.log" || fail "no clear error for a missing secret"

vr_stop_services
echo "1 passed, 0 failed"
