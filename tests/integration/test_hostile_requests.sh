#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile values in well-formed requests to the broker and the adapter
# (sim backend): NaN, infinities, negative and huge figures, control
# characters, 4 KB and malformed ids, addresses that are not addresses,
# one field at a time for every request type (tests/tools/vr-hostile).
# Each is ERR_BAD_REQUEST naming the field; both services keep running,
# nothing is reserved or made, the refusals are counted, the log lines
# carry no raw control characters, and a good reservation still works.
source "$(dirname "$0")/lib.sh"

vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'sim: {time_scale: 0.004}'
vr_broker_yaml "$T/broker.db" 'reconcile_ms: 300' "$(vr_network_yaml 2)"
vr_ctl_yaml
vr_start_resv "$T/adapter.yaml"

echo "== broker"
"$BIN/vr-hostile" broker "$(ep broker)" >"$T/hb.out" || {
    cat "$T/hb.out"; fail "the broker took a hostile value"; }
tail -n 4 "$T/hb.out"
echo "== adapter"
"$BIN/vr-hostile" adapter "$(ep adapter)" >"$T/ha.out" || {
    cat "$T/ha.out"; fail "the adapter took a hostile value"; }
tail -n 4 "$T/ha.out"

"${CTL[@]}" status broker adapter >/dev/null || fail "a service is gone"
nb=$(svc_counter broker bad_requests)
na=$(svc_counter adapter bad_requests)
echo "refused: broker $nb, adapter $na"
[ "$nb" -ge 40 ] && [ "$na" -ge 30 ] || fail "refusals not counted"
[ "$("${CTL[@]}" --json reserve list --all | jq length)" = 0 ] \
    || fail "a hostile request made a reservation"
[ "$(svc_counter adapter paths_created)" = 0 ] \
    || fail "a hostile request made a path"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/broker.log" "$T/adapter.log"; then
    fail "a raw control character reached a log"
fi

echo "== a good reservation still works"
id=$("${CTL[@]}" --json reserve create h1 h2 --lat 2 | jq -r .id)
resv_wait "$id" active || fail "$id"
"${CTL[@]}" reserve release "$id" >/dev/null
resv_wait "$id" released || fail "$id not released"
vr_stop_services broker adapter
echo "1 passed, 0 failed"
