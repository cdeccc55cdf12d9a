#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock opennsa
# Advance reservations at the provider's calendar (odin-adapter's nsi
# backend against OpenNSA, booked through the broker with vnetctl):
#  - a booking 10 s ahead for 6 s is handed to the adapter at once: the
#    provider lists it ReserveStart/Provisioned/Created, data plane not
#    active, before the start (vnetctl shows "booked from"); active at the
#    start (within 3 s); released at its end, Terminated at the provider;
#  - a VLAN taken at the provider by a booking in the same time span
#    (host .3's port allows VLAN 1785 only) fails the second booking at
#    once with errorId 00704; the same VLAN in a disjoint span is booked;
#  - a booking cancelled before its start: its connection is Terminated;
#  - a booking 400 days ahead (past the adapter's horizon) stays
#    scheduled, to be asked for at its start;
#  - the adapter, then the broker, killed with -9 with a booking not
#    started and restarted: adopted and kept, active at its start,
#    released at its end;
#  - nothing live at the provider at the end.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nsi_lib.sh"

nsi_peer_start
nsi_setup
vr_start_resv "$T/adapter.yaml"
vr_start watch "${CTL[@]}" watch paths --timeout 90
now_us() { echo $(( $(date +%s%N) / 1000 )); }

# conn_of RESV: the connection id of RESV's path ("" while none).
conn_of() { jq -r '.connection_id // ""' <<<"$(path_json "$1")"; }
# provider_line CONN: the provider's line for CONN ("" if none).
provider_line() { nsi_live | grep "^connection $1 " || true; }
# until_provisioned RESV: until the provider shows RESV's connection
# committed and provisioned, data plane not active (10 s); echoes it.
until_provisioned() {
    local c="" deadline=$((SECONDS + 10))
    while :; do
        c=$(conn_of "$1")
        if [ -n "$c" ] && provider_line "$c" \
                | grep -q "ReserveStart/Provisioned/Created active=false"; then
            echo "$c"
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || { path_json "$1" >&2; return 1; }
        sleep 0.1
    done
}
# until_state RESV STATE SECONDS
until_state() {
    vr_until "$3" sh -c "[ \"\$(${CTL[*]} --json reserve show $1 | jq -r .state)\" = $2 ]"
}

echo "== booked 10 s ahead for 6 s: at the provider's calendar at once"
a=$("${CTL[@]}" --json reserve create h1 h2 --bw 100 --in 10 --for 6 | jq -r .id)
start=$(resv_field "$a" start_us)
end=$(resv_field "$a" end_us)
[ "$(resv_field "$a" state)" = scheduled ] || fail "$a not scheduled"
ca=$(until_provisioned "$a") || fail "$a: not provisioned at the provider before its start"
echo "$a: connection $ca, $(( (start - $(now_us)) / 1000 )) ms before its start: $(provider_line "$ca")"
provider_line "$ca" | grep -q "start=20" || fail "$ca: no startTime at the provider"
[ "$(jq -r .state <<<"$(path_json "$a")")" = provisioning ] || fail "$a: path $(path_json "$a")"
[ "$(resv_field "$a" state)" = scheduled ] || fail "$a: not scheduled after booking"
"${CTL[@]}" reserve show "$a" | grep -Eq "^  path p-[0-9]+ provisioning \(nsi\) conn $ca ReserveStart/Provisioned/Created vlan 178[0-9] booked from 20" \
    || { "${CTL[@]}" reserve show "$a"; fail "$a: reserve show lacks the booking"; }
"${CTL[@]}" --json reserve show "$a" | jq -r '.history[].reason' | grep -q "booked at the adapter's calendar" \
    || fail "$a: no booking in the history"
vr_until 5 grep -Eq "path p-[0-9]+ 10.210.0.1->10.210.0.2 provisioning -> provisioning \(nsi\) conn $ca ReserveStart/Provisioned/Created vlan 178[0-9] booked from 20" "$T/watch.log" \
    || { cat "$T/watch.log"; fail "watch paths: no booked line for $ca"; }

echo "== a VLAN conflict in the same span is refused at booking time"
c1=$("${CTL[@]}" --json reserve create h3 h2 --in 9 --for 7 | jq -r .id)
cc1=$(until_provisioned "$c1") || fail "$c1 not booked at the provider"
provider_line "$cc1" | grep -q "?vlan=1785 " || fail "$cc1: not on VLAN 1785: $(provider_line "$cc1")"
c2=$("${CTL[@]}" --json reserve create h3 h1 --in 12 --for 2 | jq -r .id)
until_state "$c2" failed 5 || fail "$c2: the conflicting booking not failed: $(resv_field "$c2" state)"
err=$(resv_field "$c2" error)
echo "$c2: $err"
[[ "$err" == *00704* ]] || fail "$c2: error without 00704: $err"
echo "== the same VLAN in a disjoint span is booked"
c3=$("${CTL[@]}" --json reserve create h3 h1 --in 20 --for 2 | jq -r .id)
cc3=$(until_provisioned "$c3") || fail "$c3 (disjoint) not booked: $(resv_field "$c3" state) $(resv_field "$c3" error)"
provider_line "$cc3" | grep -q "?vlan=1785 " || fail "$cc3: not on VLAN 1785"

echo "== cancelled before the start: terminated at the provider"
for r in "$c1:$cc1" "$c3:$cc3"; do
    "${CTL[@]}" reserve release "${r%%:*}" >/dev/null || fail "release ${r%%:*}"
    [ "$(resv_field "${r%%:*}" state)" = released ] || fail "${r%%:*} not released"
    nsi_terminated "${r##*:}" || fail "${r##*:} (cancelled) not Terminated"
done

echo "== beyond the adapter's 366-day horizon: kept, asked at its start"
far=$("${CTL[@]}" --json reserve create h1 h2 --in 34560000 --for 60 | jq -r .id)
[ "$(resv_field "$far" state)" = scheduled ] && [ -z "$(resv_field "$far" path_id)" ] \
    || fail "$far: $(resv_field "$far" state) path '$(resv_field "$far" path_id)'"
"${CTL[@]}" reserve release "$far" >/dev/null || fail "release $far"

echo "== $a: not active before its start, active at it"
# What was seen counts only if the look ended before the start (a
# loaded machine makes each look slow).
while :; do
    st=$(resv_field "$a" state)
    pl=$(provider_line "$ca")
    [ "$(now_us)" -lt $((start - 300000)) ] || break
    grep -q "active=false" <<<"$pl" || fail "$ca active before its start: $pl"
    [ "$st" = scheduled ] || fail "$a $st before its start"
    sleep 0.2
done
until_state "$a" active 8 || fail "$a not active after its start"
up=$(now_us)
echo "$a active $(( (up - start) / 1000 )) ms after its start"
# Seen by vnetctl polls (slow on a loaded machine): a generous bound.
[ "$up" -ge "$start" ] && [ $((up - start)) -lt 8000000 ] \
    || fail "$a active $(( (up - start) / 1000 )) ms from its start"
provider_line "$ca" | grep -q "ReserveStart/Provisioned/Created active=true" \
    || fail "$ca: data plane not active at the provider: $(provider_line "$ca")"
# The adapter's own figure: from the start to the provider's data
# plane active as its poll saw it.
line=$(grep -h "path $(jq -r .path_id <<<"$(path_json "$a")"): booked start came" "$T/adapter.log") \
    || fail "no start line in the adapter log"
echo "adapter: ${line#*: path }"
late=$(sed -n 's/.*data plane active \([-+][0-9]*\) ms from it.*/\1/p' <<<"$line")
[ -n "$late" ] && [ "$late" -ge 0 ] && [ "$late" -lt 5000 ] || fail "adapter: active $late ms from the start"
until_state "$a" released 10 || fail "$a not released after its end"
echo "$a released $(( ($(now_us) - end) / 1000 )) ms after its end"
nsi_terminated "$ca" || fail "$ca not Terminated after its end"

echo "== the adapter killed with -9 with a booking not started"
b=$("${CTL[@]}" --json reserve create h1 h2 --in 8 --for 3 | jq -r .id)
bstart=$(resv_field "$b" start_us)
cb=$(until_provisioned "$b") || fail "$b not booked"
vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
pb=$(jq -r .path_id <<<"$(path_json "$b")")
grep -q "path $pb (.*): adopted (connection $cb, still being set up)" "$T/adapter.log" \
    || fail "$pb not adopted as being set up"
[ "$(jq -r .state <<<"$(path_json "$b")")" = provisioning ] || fail "$b: path after the restart: $(path_json "$b")"
echo "== the broker killed with -9 too: the booking keeps its path"
kill -KILL "$(cat "$T/broker.pid")"
wait "$(cat "$T/broker.pid")" 2>/dev/null || true
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker || fail "broker did not restart"
vr_until 10 sh -c "[ \$(${CTL[*]} --json status broker | jq -r .services[0].counters.reconciles) -ge 2 ]" \
    || fail "the broker did not reconcile"
[ "$(resv_field "$b" state)" = scheduled ] && [ "$(resv_field "$b" path_id)" = "$pb" ] \
    || fail "$b after the broker restart: $(resv_field "$b" state) path $(resv_field "$b" path_id)"
[ "$(jq -r .state <<<"$(path_json "$b")")" = provisioning ] || fail "$b: path torn down by the reconcile"
until_state "$b" active 12 || fail "$b not active after the restart and its start"
echo "$b active $(( ($(now_us) - bstart) / 1000 )) ms after its start (adapter restarted)"
until_state "$b" released 10 || fail "$b not released at its end"
nsi_terminated "$cb" || fail "$cb not Terminated"

nsi_until_none_live 10 || fail "live at the provider at the end"
resv_no_leak
echo "PASS"
