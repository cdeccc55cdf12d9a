#!/bin/bash
# SPDX-License-Identifier: MIT
# Who may send what, under CURVE with a key per role and per agent host
# (common/authz.h): every role sends every request it must not make to
# every service -> ERR_FORBIDDEN, logged, counted in bus_rx_forbidden, and
# nothing changed (the reservation, the path, the links stay); the allowed
# requests work (the planner's key makes and removes a link, the broker's
# sets a path up); the broker's owner is the caller's key, and a release by
# a non-owner is refused; an agent's key announcing another agent's id
# (AgentAnnounce, LocalMatrix, VmLocations) is dropped by the aggregator.  A certificate with no allowed list refuses
# to start; curve.allow_any starts with a warning.
source "$(dirname "$0")/lib.sh"

KEYS="$T/keys"
PUB="$T/public"
"$BIN/vnetctl" keygen "$KEYS" aggregator planner broker adapter vnetctl \
    agent-h1 agent-h2 >/dev/null
mkdir -p "$PUB"
cp "$KEYS"/*.key "$PUB/"

curve() { vr_curve_yaml "$KEYS/$1.key" "$PUB" "$PUB"; }
{ curve agent-h1; cat <<YAML; } >"$T/agent.yaml"
id: h1
bus:
  control: $(ep agent)
  aggregator: $(ep ingest)
overlay:
  listen: 127.0.0.1:0
  # One certificate is the host's identity on the bus and the overlay.
  key: $KEYS/agent-h1.key
  peers_dir: $PUB
YAML
vr_aggregator_yaml "$(curve aggregator)"
{ curve planner; cat <<YAML; } >"$T/planner.yaml"
bus:
  control: $(ep planner)
  events: $(ep planner-events)
  aggregator: $(ep aggregator)
  aggregator_events: $(ep agg-events)
  broker: $(ep broker)
  broker_events: $(ep broker-events)
YAML
vr_broker_yaml "$T/broker.db" "$(curve broker)" \
    'metrics: {listen: "127.0.0.1:0"}' "$(vr_network_yaml 4 8)"
vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" "$(curve adapter)" \
    'sim: {time_scale: 0.004, fail_rate: 0}'
# The operator; the agent's key is named in its endpoint (bus.h).
cat >"$T/ctl.yaml" <<YAML
agent: "agent-h1=$(ep agent)"
aggregator: $(ep aggregator)
planner: $(ep planner)
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 3000
curve: {cert: $KEYS/vnetctl.key, servers: $PUB}
YAML
CTL=("$BIN/vnetctl" -c "$T/ctl.yaml")

vr_start_services
vr_until 15 "${CTL[@]}" status || fail "services did not come up with CURVE"

# call KEY SERVER-KEY SERVICE TYPE [FIELD=VALUE...]: one request as KEY.
declare -A EPS=([agent]=$(ep agent) [aggregator]=$(ep aggregator)
    [planner]=$(ep planner) [broker]=$(ep broker) [adapter]=$(ep adapter))
call() {
    local key=$1 server=$2 svc=$3
    shift 3
    "$BIN/vr-call" --cert "$KEYS/$key.key" --servers "$PUB" \
        "${EPS[$svc]}" "$server" "$@"
}
forbidden_count() { svc_counter "$1" bus_rx_forbidden; }

echo "== allowed: the operator reserves, the broker makes the path"
R1=$("${CTL[@]}" --json reserve create h1 h2 --id op-1 | jq -r .id)
[ -n "$R1" ] && [ "$R1" != null ] || fail "operator could not reserve"
resv_wait "$R1" active || fail "$R1 not active: the broker's PathCreate refused?"
PATH1=$(resv_field "$R1" path_id)
call vnetctl broker broker RESV_SHOW_REQUEST resv_id="$R1" >"$T/show" \
    || fail "operator cannot show $R1: $(cat "$T/show")"
grep -q " resv.owner=vnetctl " "$T/show" || fail "owner is not the key: $(cat "$T/show")"
npaths() { call vnetctl adapter adapter PATH_LIST_REQUEST | grep -o 'paths#=[0-9]*'; }
nlinks() { call vnetctl agent-h1 agent LINK_LIST_REQUEST | grep -o 'links#=[0-9]*'; }
PATHS0=$(npaths)
LINKS0=$(nlinks)
[ "$PATHS0" = "paths#=1" ] || fail "adapter holds $PATHS0"

# First, while the aggregator's refusal log is not yet rate-limited.
echo "== the aggregator: an agent speaks only for itself"
has_agents() {
    call vnetctl aggregator aggregator AGENT_LIST_QUERY | grep -q "agents#=$1"
}
vr_until 10 has_agents 1 || fail "agent h1's own announcement not taken"
before=$(forbidden_count aggregator)
"$BIN/vr-call" --cert "$KEYS/agent-h2.key" --servers "$PUB" --pub \
    "$(ep ingest)" aggregator AGENT_ANNOUNCE agent_id=h1 \
    control_endpoint=tcp://10.6.6.6:7110 || fail "vr-call --pub"
"$BIN/vr-call" --cert "$KEYS/agent-h2.key" --servers "$PUB" --pub \
    "$(ep ingest)" aggregator LOCAL_MATRIX agent_id=h1 || fail "vr-call --pub"
"$BIN/vr-call" --cert "$KEYS/agent-h2.key" --servers "$PUB" --pub --times 3 \
    "$(ep ingest)" aggregator VM_LOCATIONS reporter=h1 || fail "vr-call --pub"
after=$(forbidden_count aggregator)
[ "$after" -gt "$before" ] || fail "forged announcements not refused ($before -> $after)"
grep -q "agent-h2 may send AGENT_ANNOUNCE only for itself: agent_id is 'h1', not 'h2'" \
    "$T/aggregator.log" || fail "aggregator did not log the forged id"
call vnetctl aggregator aggregator AGENT_LIST_QUERY >"$T/agents"
grep -q "agents#=1" "$T/agents" || fail "forged announcement changed the agents"
grep -q "10.6.6.6" "$T/agents" && fail "forged control endpoint stored"
grep -q " agents\[0\].agent_id=h1 " "$T/agents" || fail "h1 lost: $(cat "$T/agents")"
# Its own id is taken.
"$BIN/vr-call" --cert "$KEYS/agent-h2.key" --servers "$PUB" --pub \
    "$(ep ingest)" aggregator AGENT_ANNOUNCE agent_id=h2 \
    control_endpoint=tcp://127.0.0.1:1 || fail "vr-call --pub"
vr_until 5 has_agents 2 || fail "agent h2's own announcement not taken"

echo "== forbidden: every role, every request it must not make"
declare -A TYPES=(
    [adapter]="PATH_CREATE PATH_TEARDOWN PATH_LIST_REQUEST PATH_STATUS_REQUEST"
    [broker]="RESV_REQUEST RESV_RELEASE RESV_LIST_REQUEST RESV_SHOW_REQUEST RESERVABLE_QUERY"
    [agent]="LINK_CREATE LINK_REMOVE LINK_LIST_REQUEST LINK_PROBE RULE_ADD RULE_REMOVE RULE_LIST_REQUEST"
    [aggregator]="TOPOLOGY_QUERY MATRIX_QUERY VM_TOTALS_QUERY AGENT_LIST_QUERY"
    [planner]="PLAN_QUERY")
# Who may not, per service (the table in each service, by role).
declare -A DENIED=(
    [adapter]="agent-h1 aggregator planner adapter"
    [broker]="agent-h1 aggregator broker adapter"
    [agent]="agent-h1 agent-h2 aggregator broker adapter"
    [aggregator]="agent-h1 aggregator broker adapter"
    [planner]="agent-h1 aggregator planner broker adapter")
declare -A SERVER=([agent]=agent-h1 [aggregator]=aggregator
    [planner]=planner [broker]=broker [adapter]=adapter)
# Values that would change something if they were let through.
declare -A ARGS=(
    [PATH_CREATE]="request_id=evil src_ip=10.210.0.1 dst_ip=10.210.0.2"
    [PATH_TEARDOWN]="path_id=$PATH1"
    [RESV_REQUEST]="host_a=h3 host_b=h4 request_id=evil"
    [RESV_RELEASE]="resv_id=$R1"
    [LINK_CREATE]="link.name=evil link.peer=10.0.0.9:7000 link.circuit=true"
    [LINK_REMOVE]="name=evil"
    [RULE_REMOVE]="")
declare -A WANT
for svc in adapter broker agent aggregator planner; do
    WANT[$svc]=$(forbidden_count "$svc")
    for key in ${DENIED[$svc]}; do
        for type in ${TYPES[$svc]}; do
            rc=0
            # shellcheck disable=SC2086
            out=$(call "$key" "${SERVER[$svc]}" "$svc" "$type" \
                ${ARGS[$type]:-}) || rc=$?
            [ "$rc" = 1 ] && [[ "$out" == "ERROR 15 ERR_FORBIDDEN: "* ]] \
                || fail "$key -> $svc $type: rc $rc, '$out'"
            WANT[$svc]=$((WANT[$svc] + 1))
        done
    done
done
# A type the service does not take at all is forbidden too, not passed on.
out=$(call vnetctl broker broker PATH_CREATE) && fail "broker took PATH_CREATE"
[[ "$out" == "ERROR 15 ERR_FORBIDDEN: vnetctl may not send PATH_CREATE here: no client may"* ]] \
    || fail "unlisted type: '$out'"
WANT[broker]=$((WANT[broker] + 1))

echo "== refusals are counted and logged with the identity"
for svc in adapter broker agent aggregator planner; do
    got=$(forbidden_count "$svc")
    [ "$got" = "${WANT[$svc]}" ] || fail "$svc counted $got refusals, expected ${WANT[$svc]}"
    grep -q "forbidden: [A-Z_]* on [A-Z]* socket" "$T/$svc.log" \
        || fail "$svc did not log a refusal"
done
grep -q "agent-h1 (role 'agent') may not send PATH_CREATE here" "$T/adapter.log" \
    || fail "adapter log does not name the caller"
MADDR=$("${CTL[@]}" --json status broker | jq -r '.services[0].info.metrics')
curl -sf "http://$MADDR/metrics" \
    | grep -q "^vreserve_bus_rx_forbidden{.*} ${WANT[broker]}\$" \
    || fail "broker's /metrics does not show ${WANT[broker]} refusals"

echo "== nothing changed"
[ "$(resv_field "$R1" state)" = active ] || fail "$R1 is no longer active"
[ "$(npaths)" = "$PATHS0" ] || fail "paths changed: $(npaths), was $PATHS0"
[ "$(nlinks)" = "$LINKS0" ] || fail "links changed: $(nlinks), was $LINKS0"
"${CTL[@]}" --json reserve list | jq -e 'length == 1' >/dev/null \
    || fail "a forbidden ResvRequest made a reservation"

echo "== the owner is the key; only the owner or an operator releases"
out=$(call planner broker broker RESV_REQUEST host_a=h3 host_b=h4 \
    request_id=p-1 owner=vnetctl) || fail "planner cannot reserve: $out"
[[ "$out" == *" resv.owner=planner "* ]] || fail "owner not the planner's key: $out"
# ...which is the owner the planner itself takes to be its own.
grep -q "(owned by 'planner')" "$T/planner.log" \
    || fail "the planner does not take 'planner' for its owner"
R2=$(sed 's/.* resv.resv_id=\([^ ]*\) .*/\1/' <<<"$out")
before=$(forbidden_count broker)
out=$(call planner broker broker RESV_RELEASE resv_id="$R1") \
    && fail "planner released the operator's $R1"
[[ "$out" == "ERROR 15 ERR_FORBIDDEN: planner may not release $R1: it belongs to 'vnetctl'"* ]] \
    || fail "non-owner release: '$out'"
[ "$(forbidden_count broker)" = $((before + 1)) ] || fail "owner refusal not counted"
[ "$(resv_field "$R1" state)" = active ] || fail "$R1 changed after a refused release"
call planner broker broker RESV_RELEASE resv_id="$R2" >/dev/null \
    || fail "the planner cannot release its own $R2"
resv_wait "$R2" released || fail "$R2 not released by its owner"
"${CTL[@]}" reserve release "$R1" >/dev/null || fail "operator cannot release $R1"
resv_wait "$R1" released || fail "$R1 not released by the operator"

echo "== allowed: the planner and the broker reach who they must"
call planner agent-h1 agent LINK_LIST_REQUEST >/dev/null || fail "planner -> agent"
out=$(call planner agent-h1 agent LINK_CREATE link.name=by-planner \
    link.peer=127.0.0.1:9) || fail "planner cannot create a link: $out"
[ "$(nlinks)" = "links#=$((${LINKS0#links#=} + 1))" ] || fail "planner's link not made"
call planner agent-h1 agent LINK_REMOVE name=by-planner >/dev/null \
    || fail "planner cannot remove its link"
[ "$(nlinks)" = "$LINKS0" ] || fail "planner's link not removed"
call planner aggregator aggregator AGENT_LIST_QUERY >/dev/null || fail "planner -> aggregator"
call broker adapter adapter PATH_LIST_REQUEST >/dev/null || fail "broker -> adapter"
call vnetctl planner planner PLAN_QUERY >/dev/null || fail "operator -> planner"
"${CTL[@]}" link list >/dev/null || fail "operator: vnetctl link list"

echo "== CURVE fails closed"
adapter2() {
    cat <<YAML
bus:
  control: $(ep adapter2)
  events: $(ep adapter2-events)
state: $T/adapter2.db
curve:
  cert: $KEYS/adapter.key
YAML
}
adapter2 >"$T/nolist.yaml"
rc=0
timeout 10 "$BIN/odin-adapter" -c "$T/nolist.yaml" 2>"$T/nolist.log" || rc=$?
[ "$rc" = 2 ] || fail "a cert with no allowed list: exit $rc"
grep -q "curve.cert is set but curve.allowed is not" "$T/nolist.log" \
    || fail "no clear error: $(cat "$T/nolist.log")"
{ adapter2; echo "  allowed: '*'"; } >"$T/star.yaml"
rc=0
timeout 10 "$BIN/odin-adapter" -c "$T/star.yaml" --check 2>"$T/star.log" || rc=$?
[ "$rc" = 2 ] && grep -q "does not admit any key" "$T/star.log" \
    || fail "allowed '*': exit $rc, $(cat "$T/star.log")"
{ adapter2; echo "  allow_any: true"; } >"$T/any.yaml"
vr_start any "$BIN/odin-adapter" -c "$T/any.yaml"
vr_until 10 grep -q "curve.allow_any is on: any CURVE key is admitted" "$T/any.log" \
    || fail "allow_any started without a warning"
vr_stop any
[ "$VR_RC" = 0 ] || fail "allow_any adapter exited $VR_RC"

vr_stop_services
echo "1 passed, 0 failed"
