#!/bin/bash
# SPDX-License-Identifier: MIT
# Bounded broker state (sim backend): ResvList pages (list_page_max: 2)
# and 'vnetctl reserve list' follows the pages to the end; ended
# reservations are deleted with their history retention_s after they
# ended, open ones never; and the oclient backend (tests/tools/oclient,
# slow) runs at most oclient.max_running children, the rest queued, all
# of them up in the end.
source "$(dirname "$0")/lib.sh"

vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'sim: {time_scale: 0.004}'
# broker_cfg NAME RETENTION_S: the broker, its database named for the
# backend, ended reservations kept RETENTION_S.
broker_cfg() {
    vr_broker_yaml "$T/broker-$1.db" 'reconcile_ms: 200' "retention_s: $2" \
        'list_page_max: 2' 'max_paths_per_host: 8' "$(vr_network_yaml 4 16)"
}
vr_ctl_yaml
broker_cfg sim 3
vr_start_resv "$T/adapter.yaml"

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
# Each create takes 2 s: the five requests (0.2-0.5 s each on a loaded
# machine) are all made while the first two still run.
export OCLIENT_STATE=$T/odin.state OCLIENT_MODE=slow OCLIENT_DELAY=2 \
    OCLIENT_LOG=$T/odin.log
vr_adapter_yaml "$T/oclient.yaml" "$T/oclient.db" 'backend: oclient' \
    "oclient:
  path: $VR_SRC_DIR/tests/tools/oclient
  max_running: 2
  create_timeout_ms: 10000"
broker_cfg oclient 3600
vr_start_resv "$T/oclient.yaml"
ids=()
for pair in "h1 h2" "h3 h4" "h1 h3" "h2 h4" "h1 h4"; do
    ids+=("$("${CTL[@]}" --json reserve create $pair | jq -r .id)")
done
for _ in $(seq 200); do
    [ "$(svc_counter adapter paths_up)" = 5 ] && break
    sleep 0.1
done
# The adapter's own peaks: a sampled count misses a short one.
peak=$(svc_counter adapter oclient_running_peak)
queued=$(svc_counter adapter oclient_queued_peak)
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
