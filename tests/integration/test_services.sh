#!/bin/bash
# SPDX-License-Identifier: MIT
# Every service starts from a generated YAML, answers `vnetctl status`,
# takes every kind of garbage on every socket (logged, counted, survived),
# and exits 0 on SIGTERM.  Endpoints are ipc:// in a scratch directory so
# that the test can run beside a demo.
source "$(dirname "$0")/lib.sh"

vr_overlay_keys h1
cat >"$T/agent.yaml" <<YAML
id: h1
bus:
  control: $(ep agent)
  aggregator: $(ep ingest)
overlay:
  listen: 127.0.0.1:0
  key: $T/overlay-keys/agent-h1.key
  peers_dir: $T/overlay-keys
YAML
vr_aggregator_yaml
# The planner and broker also listen to a fake publisher, to be fed garbage.
cat >"$T/planner.yaml" <<YAML
bus:
  control: $(ep planner)
  events: $(ep planner-events)
  aggregator_events: $(ep agg-events),$(ep fake-agg)
  broker_events: $(ep broker-events)
YAML
cat >"$T/broker.yaml" <<YAML
bus:
  control: $(ep broker)
  events: $(ep broker-events)
  adapter: $(ep adapter)
  adapter_events: $(ep adapter-events),$(ep fake-adapter)
db: $T/broker.db
YAML
cat >"$T/adapter.yaml" <<YAML
bus:
  control: $(ep adapter)
  events: $(ep adapter-events)
state: $T/adapter.db
YAML
cat >"$T/vnetctl.yaml" <<YAML
agent: $(ep agent)
aggregator: $(ep aggregator)
planner: $(ep planner)
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 1000
YAML

vr_start_services

CTL=("$BIN/vnetctl" -c "$T/vnetctl.yaml")
vr_until 10 "${CTL[@]}" status || fail "services did not all come up"
"${CTL[@]}" status
"${CTL[@]}" --json status >"$T/status.json"
[ "$(json_get "$T/status.json" 'j["up"]')" = 5 ] || fail "not 5 up"
[ "$(json_get "$T/status.json" '[s["id"] for s in j["services"]]')" = \
  "['h1', 'aggregator', 'planner', 'broker', 'adapter']" ] || fail "ids"

# Garbage on every control socket, the ingest socket, and the two
# subscriptions.
for s in agent aggregator planner broker adapter; do
    "$BIN/vr-garbage" req "$(ep $s)" || fail "$s control did not answer garbage"
done
"$BIN/vr-garbage" pub "$(ep ingest)"
"$BIN/vr-garbage" bind-pub "$(ep fake-agg)"
"$BIN/vr-garbage" bind-pub "$(ep fake-adapter)" path

"${CTL[@]}" --json status >"$T/status.json" || fail "a service died"
for i in 0 1 2 3 4; do
    rej=$(json_get "$T/status.json" "j['services'][$i]['counters']['control_rejected']")
    # 9 cases, less the giant one that libzmq drops before we see it.
    [ "$rej" -ge 8 ] || fail "service $i counted $rej rejected requests"
done
bad() {
    json_get "$T/status.json" "sum(v for k, v in j['services'][$1]['counters'].items() if k.startswith('bus_rx_') and k != 'bus_rx')"
}
[ "$(bad 1)" -ge 16 ] || fail "aggregator ingest garbage not counted: $(bad 1)"
[ "$(bad 2)" -ge 16 ] || fail "planner subscription garbage not counted: $(bad 2)"
[ "$(bad 3)" -ge 16 ] || fail "broker subscription garbage not counted: $(bad 3)"
for s in agent aggregator planner broker adapter; do
    grep -q "rejected message" "$T/$s.log" || fail "$s did not log the garbage"
done

# A dead service: clear error within the timeout, exit code 3.
vr_stop_services adapter
rc=0
timeout 10 "${CTL[@]}" --timeout 300 status >"$T/down.txt" || rc=$?
cat "$T/down.txt"
[ "$rc" = 3 ] || fail "vnetctl status with a dead service exited $rc"
grep -q "adapter .*DOWN" "$T/down.txt" || fail "adapter not shown DOWN"

vr_stop_services agent aggregator planner broker
echo "1 passed, 0 failed"
