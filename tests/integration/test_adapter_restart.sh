#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# The adapter's restarts and its oclient backend, through the broker.
#  sim: kill -9 the adapter with paths up and paths provisioning; on
#       restart the up ones are adopted (the broker keeps them active), the
#       provisioning ones fail and release their lambdas (the broker marks
#       them failed, with the adapter's reason); adapter and broker agree;
#       release leaves nothing.
#  oclient (tests/tools/oclient, ODIN's stand-in): a path set up and torn
#       down by 'oclient -c'/'-t'; an ERROR, garbage output and a hang
#       (killed at create_timeout_ms) each fail with a clear reason and
#       the adapter goes on; an up path survives kill -9 and is torn down
#       by ODIN id after the restart.
source "$(dirname "$0")/lib.sh"

# broker_cfg NAME: the broker, its database named for the backend.
broker_cfg() {
    vr_broker_yaml "$T/broker-$1.db" 'reconcile_ms: 300' \
        'max_paths_per_host: 8' "$(vr_network_yaml 4 16)"
}
vr_ctl_yaml
counter() { svc_counter adapter "$1"; }

echo "== sim: kill -9 the adapter with 3 paths up and 3 provisioning"
# A path takes 5-7 s to come up: the three set-ups below are still
# provisioning when the adapter is killed, on a loaded machine too.
vr_adapter_yaml "$T/sim.yaml" "$T/sim.db" 'sim: {time_scale: 0.3}'
broker_cfg sim
vr_start_resv "$T/sim.yaml"
up=() prov=()
for pair in "h1 h2" "h3 h4" "h1 h3"; do
    up+=("$("${CTL[@]}" --json reserve create $pair | jq -r .id)")
done
for id in "${up[@]}"; do resv_wait "$id" active || fail "$id"; done
for pair in "h2 h4" "h1 h4" "h2 h3"; do
    prov+=("$("${CTL[@]}" --json reserve create $pair | jq -r .id)")
done
[ "$(resv_field "${prov[0]}" state)" = provisioning ] || fail "not provisioning"
vr_restart_adapter "$BIN/odin-adapter" -c "$T/sim.yaml"
for id in "${up[@]}"; do
    sleep 0.4
    [ "$(resv_field "$id" state)" = active ] || fail "$id lost by the restart"
done
for id in "${prov[@]}"; do resv_wait "$id" failed || fail "$id"; done
# With the adapter's reason, though its event went out before the broker
# heard the new adapter: not just "vanished".
for id in "${prov[@]}"; do
    resv_field "$id" error | grep -q "the adapter restarted during the set-up" \
        || fail "$id: failed with '$(resv_field "$id" error)'"
done
echo "adapter: adopted $(counter paths_adopted), lost $(counter paths_lost_in_restart), up $(counter paths_up)"
[ "$(counter paths_adopted)" = 3 ] && [ "$(counter paths_up)" = 3 ] \
    && [ "$(counter paths_lost_in_restart)" = 3 ] || fail "adapter disagrees"
n_active=$("${CTL[@]}" --json reserve list | jq '[.[] | select(.state == "active")] | length')
[ "$n_active" = 3 ] || fail "broker has $n_active active, adapter 3"
# The lambdas of the failed set-ups are free again: the same pairs work.
again=$("${CTL[@]}" --json reserve create h2 h4 | jq -r .id)
resv_wait "$again" active || fail "h2-h4 blocked after the restart"
for id in "${up[@]}" "$again"; do
    "${CTL[@]}" reserve release "$id" >/dev/null || fail "release $id"
done
for id in "${up[@]}" "$again"; do resv_wait "$id" released || fail "$id"; done
[ "$(adapter_held)" = 0 ] || fail "adapter still holds $(adapter_held) paths"
echo "== a hung adapter (SIGSTOP): the broker keeps answering, then catches up"
kill -STOP "$(cat "$T/adapter.pid")"
vr_on_cleanup 'kill -CONT "$(cat "$T/adapter.pid")" 2>/dev/null || true'
hung=()
for pair in "h1 h2" "h3 h4" "h1 h3"; do
    hung+=("$("${CTL[@]}" --json reserve create $pair | jq -r .id)") \
        || fail "reserve refused while the adapter hangs"
done
for _ in 1 2 3; do
    s0=$(date +%s%N)
    "${CTL[@]}" status broker >/dev/null || fail "broker silent while the adapter hangs"
    ms=$(( ($(date +%s%N) - s0) / 1000000 ))
    [ "$ms" -lt 900 ] || fail "broker status took $ms ms while the adapter hangs"
done
for id in "${hung[@]}"; do
    [ "$(resv_field "$id" state)" = requested ] || fail "$id not left requested"
done
kill -CONT "$(cat "$T/adapter.pid")"
for id in "${hung[@]}"; do resv_wait "$id" active || fail "$id after SIGCONT"; done
echo "3 reservations asked while the adapter hung: requested, then active once it woke"
for id in "${hung[@]}"; do "${CTL[@]}" reserve release "$id" >/dev/null; done
for id in "${hung[@]}"; do resv_wait "$id" released || fail "$id"; done
[ "$(adapter_held)" = 0 ] || fail "adapter still holds $(adapter_held) paths"

echo "== the restart, as the adapter logged it"
grep -h "adopted\|failed\|state " "$T/adapter.log" | tail -n 8 | cut -c1-200
vr_stop_services broker adapter

echo "== oclient: ODIN's client (stand-in) drives the paths"
export OCLIENT_STATE=$T/odin.state OCLIENT_CONTROL=$T/odin.modes \
    OCLIENT_LOG=$T/odin.log OCLIENT_DELAY=2
: >"$OCLIENT_CONTROL"
vr_adapter_yaml "$T/oclient.yaml" "$T/oclient.db" 'backend: oclient' \
    "oclient:
  path: $VR_SRC_DIR/tests/tools/oclient
  flags: [-b, \"1000\"]
  create_timeout_ms: 1500
  teardown_timeout_ms: 1500"
broker_cfg oclient
vr_start_resv "$T/oclient.yaml"

ok=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
resv_wait "$ok" active || fail "oclient path not up"
grep -q "odin-" "$OCLIENT_STATE" || fail "ODIN holds no path"
echo "$ok: up as $(grep -o 'path odin-[0-9]*' "$OCLIENT_STATE" | head -1)"
for mode in fail garbage hang partial; do
    echo "$mode" >"$OCLIENT_CONTROL"
    id=$("${CTL[@]}" --json reserve create h3 h4 | jq -r .id)
    resv_wait "$id" failed || fail "$mode: not failed"
    echo "$mode -> $id failed: $(resv_field "$id" error | cut -c1-120)"
done
"${CTL[@]}" status adapter >/dev/null || fail "adapter gone"

echo "== oclient: kill -9 with a path up: adopted, then torn down by ODIN id"
vr_restart_adapter env "$BIN/odin-adapter" -c "$T/oclient.yaml"
[ "$(counter paths_adopted)" = 1 ] || fail "not adopted"
sleep 0.4
[ "$(resv_field "$ok" state)" = active ] || fail "broker lost $ok"
"${CTL[@]}" reserve release "$ok" >/dev/null || fail "release"
resv_wait "$ok" released || fail "$ok not released"
grep -q -- "-t odin-" "$OCLIENT_LOG" || fail "no 'oclient -t' ran"
! grep -q "^path " "$OCLIENT_STATE" || fail "ODIN still holds a path"
[ "$(adapter_held)" = 0 ] || fail "adapter still holds $(adapter_held) paths"
tail -n 3 "$OCLIENT_LOG"
vr_stop_services broker adapter
echo "1 passed, 0 failed"
