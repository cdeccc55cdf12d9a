#!/bin/bash
# SPDX-License-Identifier: MIT
# The adapter's store failing (tests/tools/vr-adapter-faulty: while
# $VR_FAULT_FILE exists every SQLite call fails as an I/O error would):
#  sim:     a new path is refused, nothing made ("nothing was made"); a
#           path that comes up while the store fails is torn down again
#           ("a restart would forget it"), and a kill -9 and restart
#           afterwards finds nothing held; reservations work again after;
#  oclient: (stand-in, 1 s a command) a path ODIN made while the store
#           fails is torn down with 'oclient -t' and ODIN holds nothing.
# Throughout, the adapter's paths equal the broker's open reservations.
source "$(dirname "$0")/lib.sh"

ep() { echo "ipc://$T/$1"; }
export VR_FAULT_FILE=$T/fault
cat >"$T/sim.yaml" <<YAML
bus: {control: '$(ep adapter)', events: '$(ep adapter-events)'}
tick_ms: 5
state: $T/sim.db
sim: {time_scale: 0.1}
YAML
cat >"$T/oclient.yaml" <<YAML
bus: {control: '$(ep adapter)', events: '$(ep adapter-events)'}
backend: oclient
state: $T/oclient.db
tick_ms: 5
oclient:
  path: $VR_SRC_DIR/tests/tools/oclient
  create_timeout_ms: 10000
YAML
broker_cfg() {
    cat >"$T/broker.yaml" <<YAML
bus:
  control: $(ep broker)
  events: $(ep broker-events)
  adapter: $(ep adapter)
  adapter_events: $(ep adapter-events)
db: $T/broker-$1.db
reconcile_ms: 300
networks:
  - name: omninet
    endpoints:
      - {host: h1, ip: 10.210.0.1}
      - {host: h2, ip: 10.210.0.2}
      - {host: h3, ip: 10.210.0.3}
      - {host: h4, ip: 10.210.0.4}
YAML
}
cat >"$T/ctl.yaml" <<YAML
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 3000
YAML
CTL=("$BIN/vnetctl" -c "$T/ctl.yaml")
held() {
    echo $(( $(svc_counter adapter paths_provisioning) \
        + $(svc_counter adapter paths_up) \
        + $(svc_counter adapter paths_tearing_down) ))
}
n_open() { "${CTL[@]}" --json reserve list | jq length; }
no_leak() {
    local h o
    h=$(held)
    o=$(n_open)
    echo "adapter holds $h paths, the broker has $o open reservations"
    [ "$h" = "$o" ] || fail "adapter and broker disagree: $h != $o"
}
create() { "${CTL[@]}" --json reserve create "$@" | jq -r .id; }
error_has() {
    local e
    e=$(resv_field "$1" error)
    echo "$1: $e"
    grep -q "$2" <<<"$e" || fail "$1: unclear error"
}

broker_cfg sim
vr_start adapter "$BIN/vr-adapter-faulty" -c "$T/sim.yaml"
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker adapter || fail "services not up"

echo "== sim: store failing: a new path is refused"
touch "$VR_FAULT_FILE"
vr_until 5 grep -q "store errors on" "$T/adapter.log" || fail "no faults"
id=$(create h1 h2)
resv_wait "$id" failed || fail "$id not failed"
error_has "$id" "state store failed (injected I/O error); nothing was made"
[ "$(svc_counter adapter paths_created)" = 0 ] || fail "a path was made"
no_leak

echo "== sim: the store fails while a path comes up"
rm "$VR_FAULT_FILE"
vr_until 5 grep -q "store errors off" "$T/adapter.log" || fail "faults on"
id=$(create h3 h4)
[ "$(resv_field "$id" state)" = provisioning ] || fail "not provisioning"
touch "$VR_FAULT_FILE"
resv_wait "$id" failed || fail "$id not failed"
error_has "$id" "torn down, since a restart would forget it"
no_leak
rm "$VR_FAULT_FILE"
kill -KILL "$(cat "$T/adapter.pid")"
wait "$(cat "$T/adapter.pid")" 2>/dev/null || true
vr_start adapter "$BIN/vr-adapter-faulty" -c "$T/sim.yaml"
vr_until 10 "${CTL[@]}" status adapter || fail "adapter did not restart"
[ "$(held)" = 0 ] || fail "the restart found a path"
no_leak
echo "== sim: the store back, reservations work"
id=$(create h3 h4)
resv_wait "$id" active || fail "$id not up"
"${CTL[@]}" reserve release "$id" >/dev/null
resv_wait "$id" released || fail "$id not released"
vr_stop_services broker adapter

echo "== oclient: the store fails while 'oclient -c' runs"
export OCLIENT_STATE=$T/odin.state OCLIENT_MODE=slow OCLIENT_DELAY=1 \
    OCLIENT_LOG=$T/odin.log
broker_cfg oclient
vr_start adapter "$BIN/vr-adapter-faulty" -c "$T/oclient.yaml"
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker adapter || fail "services not up"
id=$(create h1 h2)
[ "$(resv_field "$id" state)" = provisioning ] || fail "not provisioning"
touch "$VR_FAULT_FILE"
resv_wait "$id" failed || fail "$id not failed"
error_has "$id" "torn down, since a restart would forget it"
vr_until 10 grep -q -- "-t odin-" "$OCLIENT_LOG" || fail "no 'oclient -t'"
for _ in $(seq 100); do [ "$(held)" = 0 ] && break; sleep 0.1; done
! grep -q "^path " "$OCLIENT_STATE" || fail "ODIN still holds a path"
no_leak
rm "$VR_FAULT_FILE"
vr_stop_services broker adapter
echo "1 passed, 0 failed"
