#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock opennsa
# The odin-adapter's nsi backend killed with -9 and restarted, against
# OpenNSA (../shared/peers/opennsa, started here, stopped on any exit),
# reservations through the broker:
#  - a path up: adopted (still live at the provider), released after the
#    restart → Terminated;
#  - a path held (ReserveHeld, its commit delayed by vr-adapter-faulty):
#    adopted and set up further (committed, provisioned) → active;
#  - committed (the commit acknowledged, the provision held back by
#    vr-adapter-faulty) and provisioning (the provision acknowledged, up
#    held back): the kill lands there (the adapter's log and the path's
#    states say so), adopted, set up on the same connection → active;
#  - a teardown in progress (the provider stopped with SIGSTOP while the
#    release is out): finished after the restart → released, Terminated;
#  - reserving (the provider stopped before the reserve's reply): the
#    path fails, and the connection the provider made meanwhile is found
#    by its global id and terminated;
#  - a live connection of ours that no path owns: terminated by the
#    sweep at start;
#  - the provider stopped and started again with a path up: the path is
#    kept, and released afterwards.
# At the end the provider holds nothing live of ours.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nsi_lib.sh"

nsi_peer_start
ONSA_PID=$(cat "$W/run/opennsa.pid")
vr_on_cleanup "kill -CONT $ONSA_PID 2>/dev/null || true"
nsi_setup
# The provider's hold is 120 s here; ours likewise, commits within 20 s;
# a call times out after 5 s (a kill lands first on a busy machine).
sed -i 's/hold_timeout_ms: 3000/hold_timeout_ms: 120000/; s/commit_deadline_ms: 2000/commit_deadline_ms: 20000/; s/request_timeout_ms: 2000/request_timeout_ms: 5000/' \
    "$T/adapter.yaml"
restart() { vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"; }
counter() { svc_counter adapter "$1"; }
conn_of() { jq -r .connection_id <<<"$(path_json "$1")"; }
# path_is RESV JQ: the adapter's path of RESV satisfies JQ.
path_is() { path_json "$1" | jq -e "$2" >/dev/null; }
vr_start_resv "$T/adapter.yaml"

echo "== up: kill -9, restart, adopted"
u=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
resv_wait "$u" active || fail "$u not active"
uc=$(conn_of "$u")
restart
[ "$(counter paths_adopted)" = 1 ] || fail "up path not adopted"
# Its states learnt again from the provider.
vr_until 10 path_is "$u" '.provision_state == "Provisioned"' \
    || fail "$u: states not learnt again: $(path_json "$u")"
[ "$(resv_field "$u" state)" = active ] || fail "$u lost in the restart"
grep -q "adopted (connection $uc" "$T/adapter.log" || fail "no adoption logged"
"${CTL[@]}" reserve release "$u" >/dev/null
resv_wait "$u" released || fail "$u not released after the restart"
nsi_terminated "$uc" || fail "$uc not Terminated"

echo "== held: kill -9 while ReserveHeld, restart: set up further"
vr_stop adapter
export VR_NSI_COMMIT_DELAY_MS=3000
vr_start adapter "$BIN/vr-adapter-faulty" -c "$T/adapter.yaml"
unset VR_NSI_COMMIT_DELAY_MS
vr_until 10 "${CTL[@]}" status adapter || fail "faulty adapter not up"
h=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
vr_until 10 path_is "$h" '.reservation_state == "ReserveHeld"' \
    || fail "$h never held: $(path_json "$h")"
hc=$(conn_of "$h")
restart
resv_wait "$h" active || fail "$h not set up after the restart: $(path_json "$h")"
[ "$(conn_of "$h")" = "$hc" ] || fail "$h: another connection"
echo "held, adopted and set up: $(path_json "$h")"

# phase_kill NAME ENV_VAR LOG_WORDS JQ: a path made by vr-adapter-faulty
# holding back its next step (ENV_VAR=4000 ms), the adapter killed with -9
# once its log says it is in that phase (LOG_WORDS) and its path shows JQ,
# then restarted: the path is adopted and set up on the same connection,
# then released → Terminated.
phase_kill() {
    local name=$1 var=$2 words=$3 want=$4 id pid conn
    vr_stop adapter
    export "$var"=4000
    vr_start adapter "$BIN/vr-adapter-faulty" -c "$T/adapter.yaml"
    unset "$var"
    vr_until 10 "${CTL[@]}" status adapter || fail "faulty adapter not up"
    id=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
    vr_until 10 path_is "$id" '.path_id != null' || fail "$id: no path"
    pid=$(path_json "$id" | jq -r .path_id)
    vr_until 10 grep -q "test: path $pid: $words" "$T/adapter.log" \
        || fail "$id: never $name: $(path_json "$id")"
    vr_until 5 path_is "$id" "$want" || fail "$id: not in the $name phase: $(path_json "$id")"
    conn=$(conn_of "$id")
    echo "$name: killed with $(path_json "$id" | jq -c '{state, reservation_state, provision_state, lifecycle_state}')"
    restart
    grep -q "path $pid .*adopted (connection $conn" "$T/adapter.log" \
        || fail "$id: not adopted after the restart"
    resv_wait "$id" active || fail "$id not set up after the restart: $(path_json "$id")"
    [ "$(conn_of "$id")" = "$conn" ] || fail "$id: another connection"
    "${CTL[@]}" reserve release "$id" >/dev/null
    resv_wait "$id" released || fail "$id not released"
    nsi_terminated "$conn" || fail "$conn not Terminated"
}

echo "== committed: kill -9 with the commit acknowledged, before the provision"
phase_kill committed VR_NSI_PROVISION_DELAY_MS "committed" \
    '.state == "provisioning" and .reservation_state == "ReserveStart" and .provision_state == "Released"'
echo "== provisioning: kill -9 with the provision acknowledged, before up"
phase_kill provisioning VR_NSI_UP_DELAY_MS "provision acknowledged" \
    '.state == "provisioning" and (.provision_state == "Provisioning" or .provision_state == "Provisioned")'

echo "== tearing down: kill -9 with the release out, restart: finished"
kill -STOP "$ONSA_PID"
"${CTL[@]}" reserve release "$h" >/dev/null
vr_until 10 path_is "$h" '.state == "tearing_down"' \
    || fail "$h not tearing down"
sleep 0.3   # the release is out, unanswered
kill -KILL "$(cat "$T/adapter.pid")"
wait "$(cat "$T/adapter.pid")" 2>/dev/null || true
kill -CONT "$ONSA_PID"
vr_start adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
vr_until 10 "${CTL[@]}" status adapter || fail "adapter did not restart"
resv_wait "$h" released || fail "$h: teardown not finished after the restart"
nsi_terminated "$hc" || fail "$hc not Terminated"

echo "== reserving: kill -9 before the reserve's reply, restart"
kill -STOP "$ONSA_PID"
r=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
vr_until 10 path_is "$r" '.state == "provisioning"' \
    || fail "$r not provisioning"
sleep 0.3   # the reserve is out, unanswered
kill -KILL "$(cat "$T/adapter.pid")"
wait "$(cat "$T/adapter.pid")" 2>/dev/null || true
kill -CONT "$ONSA_PID"
vr_start adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
vr_until 10 "${CTL[@]}" status adapter || fail "adapter did not restart"
resv_wait "$r" failed || fail "$r not failed after the restart"
echo "reserving: $(resv_field "$r" error)"
nsi_until_none_live 15 || fail "the connection made for $r stays live"
grep -Eq "global id urn:uuid:[0-9a-f-]+( is connection|: no connection)" "$T/adapter.log" \
    || fail "the global id was not looked for"

echo "== a stray connection of ours: swept at start"
"$BIN/vr-nsi-cli" -c "$T/cli.yaml" up 10.210.0.1 10.210.0.2 >"$T/stray.out" \
    || { cat "$T/stray.out"; fail "stray connection"; }
[ -n "$(nsi_live)" ] || fail "the stray connection is not live"
restart
nsi_until_none_live 15 || fail "the stray connection was not swept"
[ "$(counter nsi_swept)" = 1 ] || fail "nsi_swept $(counter nsi_swept)"
grep -q "sweep: connection .* is owned by no path" "$T/adapter.log" || fail "sweep not logged"

echo "== the provider restarted with a path up"
kill -0 "$ONSA_PID" 2>/dev/null || fail "OpenNSA gone"
p=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
resv_wait "$p" active || fail "$p not active"
pc=$(conn_of "$p")
"$PEER/stop.sh" "$W" >/dev/null 2>&1 || fail "OpenNSA did not stop"
# Longer than the 5 s between polls of a path up: at least one fails.
polls_failed() { [ "$(counter nsi_failures)" -ge 1 ]; }
vr_until 15 polls_failed || fail "no poll failed while the provider was away"
"${CTL[@]}" status adapter >/dev/null || fail "adapter silent while the provider is away"
[ "$(resv_field "$p" state)" = active ] || fail "$p not kept while the provider is away"
t0=$(date +%s%N)
"$PEER/start.sh" "$W" >/dev/null 2>"$T/peer-restart.log" \
    || fail "OpenNSA did not start again: $(tail -5 "$T/peer-restart.log")"
echo "OpenNSA started again in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$(resv_field "$p" state)" = active ] || fail "$p lost with the provider's restart"
"${CTL[@]}" reserve release "$p" >/dev/null
resv_wait "$p" released || fail "$p not released after the provider's restart"
nsi_terminated "$pc" || fail "$pc not Terminated"
nsi_until_none_live 10 || fail "live at the provider at the end"
"${CTL[@]}" status adapter >/dev/null || fail "adapter gone"
echo "adapter status: $("${CTL[@]}" --json status adapter | jq -c '.services[0].counters | with_entries(select(.key | startswith("nsi_") or startswith("paths_")))')"
echo "PASS"
