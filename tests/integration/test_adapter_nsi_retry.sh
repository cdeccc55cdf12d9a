#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock opennsa
# The nsi backend while the provider is down (OpenNSA stopped and started
# again; nsi.retry.first_ms 200 doubling to 2000):
#  - a path requested with the provider stopped is retried (its detail
#    says "retrying reserve: provider unreachable"), and comes up once the
#    provider is started again within nsi.retry.give_up_ms (45 s);
#  - the adapter killed with -9 while a reserve is being retried: the
#    path fails cleanly at the restart (nothing was made at the provider);
#  - the provider left down (give_up_ms 3000): the path fails after about
#    3 s with "provider unreachable for", and the adapter's store holds
#    no live path.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nsi_lib.sh"

nsi_peer_start
nsi_setup
# adapter.yaml with the retry settings (the nsi: section is the last one).
retry_yaml() {
    vr_adapter_yaml "$1" "$T/adapter.db" 'backend: nsi' \
        "$(nsi_section "$URL/NSI/services/CS2")" \
        "  retry: {first_ms: 200, max_ms: 2000, give_up_ms: $2}"
}
retry_yaml "$T/adapter.yaml" 45000
retry_yaml "$T/adapter-short.yaml" 3000
live_in_store() {
    python3 - "$T/adapter.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM path WHERE state IN (1, 2, 3)").fetchone()[0])
PY
}
detail_of() { jq -r '.detail // ""' <<<"$(path_json "$1")"; }

echo "== provider stopped, a path requested: retried"
"$PEER/stop.sh" "$W" >/dev/null 2>&1 || fail "stop.sh"
vr_start_resv "$T/adapter.yaml"
a=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
vr_until 10 sh -c "${CTL[*]} --json reserve show $a | grep -q 'retrying reserve: provider unreachable'" \
    || fail "$a: no retry shown: $(path_json "$a")"
echo "$a: $(detail_of "$a")"
[ "$(resv_field "$a" state)" = provisioning ] || fail "$a: $(resv_field "$a" state)"
echo "== the provider started again: the path comes up"
t0=$SECONDS
ONSA_START_TIMEOUT=60 "$PEER/start.sh" "$W" >/dev/null 2>"$T/peer-restart.log" \
    || fail "OpenNSA did not start again: $(tail -5 "$T/peer-restart.log")"
echo "provider back in $((SECONDS - t0)) s"
vr_until 40 sh -c "[ \"\$(${CTL[*]} --json reserve show $a | jq -r .state)\" = active ]" \
    || fail "$a not active after the provider came back: $(resv_field "$a" state) $(resv_field "$a" error)"
conn=$(jq -r .connection_id <<<"$(path_json "$a")")
nsi_live | grep -q "^connection $conn .*active=true" || fail "$conn not live at the provider"
retries=$(svc_counter adapter nsi_retries)
echo "$a active on $conn after $retries retries"
[ "$retries" -ge 2 ] || fail "nsi_retries $retries"
"${CTL[@]}" reserve release "$a" >/dev/null || fail "release $a"
resv_wait "$a" released || fail "$a not released"
nsi_terminated "$conn" || fail "$conn not Terminated"

echo "== the adapter killed while retrying: the path fails cleanly"
"$PEER/stop.sh" "$W" >/dev/null 2>&1 || fail "stop.sh"
b=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
vr_until 10 sh -c "${CTL[*]} --json reserve show $b | grep -q 'retrying reserve'" \
    || fail "$b: no retry shown"
vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter-short.yaml"
vr_until 10 sh -c "[ \"\$(${CTL[*]} --json reserve show $b | jq -r .state)\" = failed ]" \
    || fail "$b not failed after the restart: $(resv_field "$b" state)"
echo "$b: $(resv_field "$b" error)"
resv_field "$b" error | grep -q "restarted before the reserve" || fail "$b: reason"

echo "== the provider left down: failed after nsi.retry.give_up_ms"
t0=$(date +%s%N)
c=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
vr_until 15 sh -c "[ \"\$(${CTL[*]} --json reserve show $c | jq -r .state)\" = failed ]" \
    || fail "$c not failed: $(resv_field "$c" state) $(path_json "$c")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
err=$(resv_field "$c" error)
echo "$c failed after $ms ms: $err"
[[ "$err" == *"provider unreachable for"* ]] || fail "$c: reason: $err"
[ "$ms" -ge 2900 ] && [ "$ms" -lt 12000 ] || fail "$c failed after $ms ms, want about 3000"
[ "$(adapter_held)" = 0 ] || fail "the adapter holds $(adapter_held) paths"
[ "$(live_in_store)" = 0 ] || fail "live paths in the adapter's store: $(live_in_store)"
echo "PASS"
