#!/bin/bash
# SPDX-License-Identifier: MIT
# The broker's store failing for a while (tests/tools/vr-broker-faulty:
# while $VR_FAULT_FILE exists every SQLite call fails as an I/O error
# would), with one path up and one coming up (sim backend):
#  - each reconcile round is abandoned, none tears a path down;
#  - the "up" event of the path coming up cannot be matched to its
#    reservation and is left to the next reconcile, not torn down;
#  - once the lock goes, the reservation becomes active and nothing was
#    lost: the adapter's paths equal the broker's open reservations.
source "$(dirname "$0")/lib.sh"

vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'sim: {time_scale: 0.1}'
vr_broker_yaml "$T/broker.db" 'reconcile_ms: 300' "$(vr_network_yaml 4)"
vr_ctl_yaml
export VR_FAULT_FILE=$T/fault
vr_start_resv "$T/adapter.yaml" odin-adapter vr-broker-faulty

up=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
resv_wait "$up" active || fail "$up not up"
coming=$("${CTL[@]}" --json reserve create h3 h4 | jq -r .id)
[ "$(resv_field "$coming" state)" = provisioning ] || fail "not provisioning"

echo "== store errors on while $coming comes up"
touch "$VR_FAULT_FILE"
vr_until 10 grep -q "store lookup failed.*left to the next reconcile" \
    "$T/broker.log" || fail "the path event was not left to the reconcile"
vr_until 5 grep -q "round aborted, nothing torn down" "$T/broker.log" \
    || fail "no reconcile round was abandoned"
rc=0
"${CTL[@]}" reserve create h1 h3 >/dev/null 2>"$T/err.txt" || rc=$?
cat "$T/err.txt"
[ "$rc" != 0 ] && grep -q "reservation store failed (injected I/O error)" \
    "$T/err.txt" || fail "a reservation was taken with the store failing"
sleep 1     # more rounds with the store failing
rm "$VR_FAULT_FILE"
grep -h "round aborted\|left to the next" "$T/broker.log" | head -2

echo "== store errors off"
resv_wait "$coming" active || fail "$coming lost"
[ "$(resv_field "$up" state)" = active ] || fail "$up lost"
[ "$(svc_counter broker orphans_torn_down)" = 0 ] || fail "a path was torn down"
[ "$(svc_counter adapter paths_up)" = 2 ] || fail "the adapter lost a path"
echo "store errors: $(svc_counter broker store_errors)"
for id in "$up" "$coming"; do "${CTL[@]}" reserve release "$id" >/dev/null; done
for id in "$up" "$coming"; do resv_wait "$id" released || fail "$id"; done
vr_stop_services broker adapter
echo "1 passed, 0 failed"
