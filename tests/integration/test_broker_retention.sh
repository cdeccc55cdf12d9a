#!/bin/bash
# SPDX-License-Identifier: MIT
# Bounded broker state (sim backend): ResvList pages (list_page_max: 2)
# and 'vnetctl reserve list' follows the pages to the end; ended
# reservations are deleted with their history retention_s after they
# ended, open ones never; and the oclient backend (tests/tools/oclient,
# slow) runs at most oclient.max_running children, the rest queued, all
# of them up in the end.
source "$(dirname "$0")/lib.sh"

ep() { echo "ipc://$T/$1"; }
cat >"$T/adapter.yaml" <<YAML
bus: {control: '$(ep adapter)', events: '$(ep adapter-events)'}
tick_ms: 5
state: $T/adapter.db
sim: {time_scale: 0.004}
YAML
broker_cfg() {
    cat >"$T/broker.yaml" <<YAML
bus:
  control: $(ep broker)
  events: $(ep broker-events)
  adapter: $(ep adapter)
  adapter_events: $(ep adapter-events)
db: $T/broker-$1.db
reconcile_ms: 200
retention_s: $2
list_page_max: 2
max_paths_per_host: 8
networks:
  - name: omninet
    max_paths: 16
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
broker_cfg sim 3
vr_start adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker adapter || fail "services not up"

echo "== 5 reservations, 3 released; listed over pages of 2"
ids=()
for pair in "h1 h2" "h3 h4" "h1 h3" "h2 h4" "h1 h4"; do
    ids+=("$("${CTL[@]}" --json reserve create $pair | jq -r .id)")
done
for id in "${ids[@]}"; do resv_wait "$id" active || fail "$id"; done
for id in "${ids[@]:0:3}"; do
    "${CTL[@]}" reserve release "$id" >/dev/null || fail "release $id"
done
for id in "${ids[@]:0:3}"; do resv_wait "$id" released || fail "$id"; done
all=$("${CTL[@]}" --json reserve list --all | jq -r '[.[].id] | join(" ")')
echo "all: $all"
[ "$all" = "${ids[*]}" ] || fail "paged list is not all five in order"
open=$("${CTL[@]}" --json reserve list | jq -r '[.[].id] | join(" ")')
[ "$open" = "${ids[*]:3}" ] || fail "open list: $open"

echo "== retention_s 3: the ended ones go, with their history"
vr_until 15 sh -c "[ \"\$(${CTL[*]} --json reserve list --all | jq length)\" = 2 ]" \
    || fail "ended reservations not deleted"
rc=0
"${CTL[@]}" reserve show "${ids[0]}" >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "${ids[0]} still shown"
[ "$(svc_counter broker resv_purged)" = 3 ] || fail "purge not counted"
for id in "${ids[@]:3}"; do
    [ "$(resv_field "$id" state)" = active ] || fail "$id purged or moved"
    "${CTL[@]}" reserve release "$id" >/dev/null
done
for id in "${ids[@]:3}"; do resv_wait "$id" released || fail "$id"; done
vr_stop_services broker adapter

echo "== oclient: at most 2 children at once, the rest queued"
export OCLIENT_STATE=$T/odin.state OCLIENT_MODE=slow OCLIENT_DELAY=1 \
    OCLIENT_LOG=$T/odin.log
cat >"$T/oclient.yaml" <<YAML
bus: {control: '$(ep adapter)', events: '$(ep adapter-events)'}
backend: oclient
state: $T/oclient.db
tick_ms: 5
oclient:
  path: $VR_SRC_DIR/tests/tools/oclient
  max_running: 2
  create_timeout_ms: 10000
YAML
broker_cfg oclient 3600
vr_start adapter "$BIN/odin-adapter" -c "$T/oclient.yaml"
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker adapter || fail "services not up"
ids=()
for pair in "h1 h2" "h3 h4" "h1 h3" "h2 h4" "h1 h4"; do
    ids+=("$("${CTL[@]}" --json reserve create $pair | jq -r .id)")
done
peak=0 queued=0
for _ in $(seq 100); do
    r=$(svc_counter adapter oclient_running)
    q=$(svc_counter adapter oclient_queued)
    [ "$r" -gt "$peak" ] && peak=$r
    [ "$q" -gt "$queued" ] && queued=$q
    [ "$(svc_counter adapter paths_up)" = 5 ] && break
    sleep 0.1
done
echo "running at most $peak, queued at most $queued"
[ "$peak" = 2 ] || fail "running peaked at $peak, not 2"
[ "$queued" -ge 2 ] || fail "nothing was queued"
for id in "${ids[@]}"; do resv_wait "$id" active || fail "$id"; done
for id in "${ids[@]}"; do "${CTL[@]}" reserve release "$id" >/dev/null; done
for _ in $(seq 100); do
    [ "$(svc_counter adapter paths_up)" = 0 ] \
        && [ "$(svc_counter adapter paths_tearing_down)" = 0 ] && break
    sleep 0.1
done
for id in "${ids[@]}"; do resv_wait "$id" released || fail "$id"; done
! grep -q "^path " "$OCLIENT_STATE" || fail "ODIN still holds a path"
vr_stop_services broker adapter
echo "1 passed, 0 failed"
