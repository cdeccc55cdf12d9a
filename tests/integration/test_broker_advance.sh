#!/bin/bash
# SPDX-License-Identifier: MIT
# Advance reservations (broker, sim backend): a reservation booked ahead
# is SCHEDULED, holds no path before its start, comes up at its start and
# goes at its end; the calendar refuses what would overlap a booking over
# a limit (max_paths_per_host 1) and takes what does not; a start in the
# past and an end before the start are refused; the booking survives the
# broker killed with -9 and restarted; cancelled before its start, it
# never asks for a path.
source "$(dirname "$0")/lib.sh"

vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'sim: {time_scale: 0.004}'
vr_broker_yaml "$T/broker.db" 'reconcile_ms: 200' 'max_paths_per_host: 1' \
    "$(vr_network_yaml 4 16)"
vr_ctl_yaml
vr_start_resv "$T/adapter.yaml"
now_us() { echo $(( $(date +%s%N) / 1000 )); }

echo "== booked 8 s ahead for 3 s: scheduled, no path"
a=$("${CTL[@]}" --json reserve create h1 h2 --in 8 --for 3 | jq -r .id)
[ "$(resv_field "$a" state)" = scheduled ] || fail "$a not scheduled"
start=$(resv_field "$a" start_us)
end=$(resv_field "$a" end_us)
[ $((end - start)) = 3000000 ] || fail "span $start..$end"

echo "== the calendar: an overlapping booking of h1 is refused, a later one taken"
out=$("${CTL[@]}" reserve create h1 h3 --in 9 --for 1 2>&1) && fail "overlap taken: $out"
echo "$out"
echo "$out" | grep -q "booked then" || fail "no calendar reason: $out"
out=$("${CTL[@]}" reserve create h1 h4 2>&1) && fail "open-ended overlap taken: $out"
c=$("${CTL[@]}" --json reserve create h1 h3 --in 13 --for 1 | jq -r .id)
[ "$(resv_field "$c" state)" = scheduled ] || fail "$c not scheduled"
d=$("${CTL[@]}" --json reserve create h3 h4 --in 6 --for 1 | jq -r .id)

echo "== refused: a start in the past, an end before the start"
past=$(( $(now_us) - 60000000 ))
out=$("$BIN/vr-call" "$(ep broker)" broker RESV_REQUEST host_a=h2 host_b=h4 \
    start_us=$past 2>&1) && fail "past start taken: $out"
echo "$out" | grep -q "in the past" || fail "past: $out"
s=$(( $(now_us) + 5000000 ))
out=$("$BIN/vr-call" "$(ep broker)" broker RESV_REQUEST host_a=h2 host_b=h4 \
    start_us=$s end_us=$((s - 1)) 2>&1) && fail "end before start: $out"
echo "$out" | grep -q "not after the start" || fail "end: $out"
out=$("$BIN/vr-call" "$(ep broker)" broker RESV_REQUEST host_a=h2 host_b=h4 \
    start_us=99999999999999999 2>&1) && fail "year 5000 taken: $out"

echo "== $d cancelled before its start: never asks for a path"
"${CTL[@]}" reserve release "$d" >/dev/null || fail "release $d"
[ "$(resv_field "$d" state)" = released ] || fail "$d not released"
[ "$(svc_counter adapter paths_created)" = 0 ] || fail "a path was asked"

echo "== the broker killed with -9 and restarted: the booking stays"
kill -KILL "$(cat "$T/broker.pid")"
wait "$(cat "$T/broker.pid")" 2>/dev/null || true
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker || fail "broker did not restart"
[ "$(resv_field "$a" state)" = scheduled ] || fail "$a lost its booking"

echo "== up at its start, not before; down at its end"
while [ "$(now_us)" -lt $((start - 300000)) ]; do
    [ "$(resv_field "$a" state)" = scheduled ] || fail "$a up before its start"
    sleep 0.1
done
vr_until 10 sh -c "[ \"\$(${CTL[*]} --json reserve show $a | jq -r .state)\" = active ]" \
    || fail "$a not active after its start"
up=$(now_us)
echo "active $(( (up - start) / 1000 )) ms after its start"
[ "$up" -ge "$start" ] || fail "active before its start"
vr_until 15 sh -c "[ \"\$(${CTL[*]} --json reserve show $a | jq -r .state)\" = released ]" \
    || fail "$a not released after its end"
down=$(now_us)
echo "released $(( (down - end) / 1000 )) ms after its end"
[ "$down" -ge "$end" ] || fail "released before its end"
"${CTL[@]}" --json reserve show "$a" | jq -r '.history[].reason' | grep -q "its end time came" \
    || fail "no end in the history"
vr_until 10 sh -c "[ \"\$(${CTL[*]} --json status adapter | jq -r .services[0].counters.paths_up)\" = 0 ]" \
    || fail "path of $a still up"

echo "== the later booking comes up too, and is released by hand"
vr_until 15 sh -c "[ \"\$(${CTL[*]} --json reserve show $c | jq -r .state)\" = active ]" \
    || fail "$c not active"
[ "$(svc_counter broker resv_started)" -ge 1 ] || fail "starts not counted"
vr_until 15 sh -c "[ \"\$(${CTL[*]} --json reserve show $c | jq -r .state)\" = released ]" \
    || fail "$c not released at its end"
vr_stop_services broker adapter
echo "PASS"
