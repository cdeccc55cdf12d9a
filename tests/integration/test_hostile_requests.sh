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

ep() { echo "ipc://$T/$1"; }
cat >"$T/adapter.yaml" <<YAML
bus: {control: '$(ep adapter)', events: '$(ep adapter-events)'}
tick_ms: 5
state: $T/adapter.db
sim: {time_scale: 0.004}
YAML
cat >"$T/broker.yaml" <<YAML
bus:
  control: $(ep broker)
  events: $(ep broker-events)
  adapter: $(ep adapter)
  adapter_events: $(ep adapter-events)
db: $T/broker.db
reconcile_ms: 300
networks:
  - name: omninet
    endpoints:
      - {host: h1, ip: 10.210.0.1}
      - {host: h2, ip: 10.210.0.2}
YAML
cat >"$T/ctl.yaml" <<YAML
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 3000
YAML
CTL=("$BIN/vnetctl" -c "$T/ctl.yaml")
vr_start adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker adapter || fail "services not up"

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
