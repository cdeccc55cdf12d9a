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

export VR_FAULT_FILE=$T/fault
vr_adapter_yaml "$T/sim.yaml" "$T/sim.db" 'sim: {time_scale: 0.1}'
vr_adapter_yaml "$T/oclient.yaml" "$T/oclient.db" 'backend: oclient' \
    "oclient:
  path: $VR_SRC_DIR/tests/tools/oclient
  create_timeout_ms: 10000"
# broker_cfg NAME: the broker, its database named for the backend.
broker_cfg() {
    vr_broker_yaml "$T/broker-$1.db" 'reconcile_ms: 300' "$(vr_network_yaml 4)"
}
vr_ctl_yaml
create() { "${CTL[@]}" --json reserve create "$@" | jq -r .id; }
error_has() {
    local e
    e=$(resv_field "$1" error)
    echo "$1: $e"
    grep -q "$2" <<<"$e" || fail "$1: unclear error"
}

# torn_down ID: ID failed because its path could not be recorded.  The
# broker hears why from the adapter's event, or (its reconcile racing the
# event on a busy machine) finds the path gone first; either way the
# adapter says why it tore the path down.
torn_down() {
    error_has "$1" "torn down, since a restart would forget it\|vanished"
    grep -q "restart would forget" "$T/adapter.log" \
        || fail "the adapter did not say why it tore the path down"
}

broker_cfg sim
vr_start_resv "$T/sim.yaml" vr-adapter-faulty

echo "== sim: store failing: a new path is refused"
touch "$VR_FAULT_FILE"
vr_until 5 grep -q "store errors on" "$T/adapter.log" || fail "no faults"
id=$(create h1 h2)
resv_wait "$id" failed || fail "$id not failed"
error_has "$id" "state store failed (injected I/O error); nothing was made"
[ "$(svc_counter adapter paths_created)" = 0 ] || fail "a path was made"
resv_no_leak

echo "== sim: the store fails while a path comes up"
rm "$VR_FAULT_FILE"
vr_until 5 grep -q "store errors off" "$T/adapter.log" || fail "faults on"
id=$(create h3 h4)
[ "$(resv_field "$id" state)" = provisioning ] || fail "not provisioning"
touch "$VR_FAULT_FILE"
resv_wait "$id" failed || fail "$id not failed"
torn_down "$id"
resv_no_leak
rm "$VR_FAULT_FILE"
vr_restart_adapter "$BIN/vr-adapter-faulty" -c "$T/sim.yaml"
[ "$(adapter_held)" = 0 ] || fail "the restart found a path"
resv_no_leak
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
vr_start_resv "$T/oclient.yaml" vr-adapter-faulty
id=$(create h1 h2)
[ "$(resv_field "$id" state)" = provisioning ] || fail "not provisioning"
touch "$VR_FAULT_FILE"
resv_wait "$id" failed || fail "$id not failed"
torn_down "$id"
vr_until 10 grep -q -- "-t odin-" "$OCLIENT_LOG" || fail "no 'oclient -t'"
for _ in $(seq 100); do [ "$(adapter_held)" = 0 ] && break; sleep 0.1; done
! grep -q "^path " "$OCLIENT_STATE" || fail "ODIN still holds a path"
resv_no_leak
rm "$VR_FAULT_FILE"
vr_stop_services broker adapter
echo "1 passed, 0 failed"
