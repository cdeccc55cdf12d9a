#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# Known phases (issue 18): the planner is given a schedule, one phase of
# the h1-h2 link 8 s ahead for 8 s, on the whole loop (path set-up 1.75 s,
# the paper's 17.5 s x 0.1).  Its path is booked at the broker as an
# advance reservation, is up by the phase's start and is taken then,
# before any traffic: the job then runs on it without a reservation of
# its own, and the VMs an earlier topology named on h1 and h2 have their
# rules on it from the take, before the phase's demand is seen.  Once the
# phase's traffic has stopped, the cost rule releases the path and the
# broker holds nothing.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
command -v jq >/dev/null || { echo "needs jq"; exit 77; }
source "$(dirname "$0")/loop_bed.sh"
vr_normal_tree_only "the sanitizers see the schedule in unit.plan_sched; this is about timing"

SCALE=0.1; T_UP=500; T_DOWN=3000
loop_bed_up "ps$$" 'path_setup_ms: 1750' 'path_teardown_ms: 500' \
    'predict_lead_ms: 1500'

# The planner again, with the phase in its schedule.  Between the two, a
# little h1v1 <-> h2v1 traffic names those VMs in the aggregator's
# topology (no planner runs to reserve for it, and the new one starts
# once its current rate has fallen: no live demand is left).
vr_stop planner
start_bsp ring 0 2
named() { "${CTL[@]}" --json topology 2>/dev/null \
    | jq -e '(.vms // []) | length >= 2' >/dev/null; }
vr_until 15 named || fail "the aggregator named no VMs: $("${CTL[@]}" topology 2>&1 | head -5)"
stop_bsp
quiet() { "${CTL[@]}" --json matrix 2>/dev/null \
    | jq -e '(.entries // []) | length > 0 and all(.[]; .current_bps < 1e6)' >/dev/null; }
vr_until 15 quiet || fail "the traffic's current rate did not fall: $("${CTL[@]}" matrix 2>&1 | head -5)"
mac_of() { ip -n "$P-$1" -j link show | jq -r '[.[] | select(.ifname != "lo")][0].address'; }
mac_h1v1=$(mac_of h1v1) mac_h2v1=$(mac_of h2v1)
start_ms=$(( $(date +%s%3N) + 8000 ))
echo "schedule: [{start_unix_ms: $start_ms, duration_ms: 8000, links: ['h2 h1']}]" \
    >>"$T/planner.yaml"
"$BIN/vadapt-planner" -c "$T/planner.yaml" --check >/dev/null \
    || fail "the schedule is refused"
vr_start planner "$BIN/vadapt-planner" -v -c "$T/planner.yaml"
vr_until 10 "${CTL[@]}" status planner || fail "planner not up again"
"${CTL[@]}" watch decisions --timeout 60 >"$T/decisions.txt" 2>&1 &
VR_PIDS+=("$!")

echo "== booked ahead as an advance reservation"
booked() { [ "$(pcount bookings)" -ge 1 ]; }
vr_until 10 booked || fail "nothing booked: $(cat "$T/decisions.txt")"
[ "$(pcount scheduled_booked)" = 1 ] || fail "scheduled_booked $(pcount scheduled_booked)"
"${CTL[@]}" --json reserve list >"$T/list.json"
id=$(jq -r '.[0].id' "$T/list.json")
jq -e --argjson s "$start_ms" 'length == 1 and (.[0].start_us / 1000) > ($s - 5000)
    and (.[0].start_us / 1000) < $s' "$T/list.json" >/dev/null \
    || fail "not one reservation set up ahead of $start_ms: $(cat "$T/list.json")"
echo "reservation $id, set up from $(( $(jq -r '.[0].start_us' "$T/list.json") / 1000 - start_ms )) ms of the phase's start"

echo "== up by the start, and taken then, before any traffic"
taken() { [ "$(pcount bookings_taken)" = 1 ]; }
vr_until 20 taken || fail "not taken: $(grep predict "$T/decisions.txt")"
took_ms=$(( $(date +%s%3N) - start_ms ))
echo "taken $took_ms ms after the phase's start"
[ "$took_ms" -ge -200 ] || fail "taken before the phase's start"
vr_until 5 grep -q "booked path $id taken for the scheduled phase (it is active)" \
    "$T/decisions.txt" || fail "the path was not up at the start: $(grep predict "$T/decisions.txt")"

echo "== the VMs named before are on it from the take, before any demand"
vr_until 10 grep -q "link vr-r-[0-9]* on both agents" "$T/decisions.txt" \
    || fail "no link made on the path: $(grep " decision " "$T/decisions.txt" | tail -5)"
link=$(grep -o "link vr-r-[0-9]* on both agents" "$T/decisions.txt" | head -1 | cut -d' ' -f2)
has_rule() {
    "${CTL[@]}" -e "agent=$(ep "agent-$1")" --json rules \
        | jq -e --arg d "$2" --arg l "$3" \
            'any(.[]; .dst == $d and .link == $l)' >/dev/null
}
vr_until 5 has_rule h1 "$mac_h2v1" "$link" || fail "h1: no rule to h2v1 ($mac_h2v1) on '$link'"
vr_until 5 has_rule h2 "$mac_h1v1" "$link" || fail "h2: no rule to h1v1 ($mac_h1v1) on '$link'"
echo "h1 -> h2v1 and h2 -> h1v1 over $link before the job started"

echo "== the phase's job runs on it"
start_bsp ring 0 1 2 3
up_reserved() { [ "$(pcount links_up_reserved)" = 1 ]; }
vr_until 20 up_reserved || fail "no reserved link up"
sleep 3
stop_bsp
ask=$(grep -c " reserve h1<->h2 .*asked" "$T/decisions.txt" || true)
[ "$ask" = 0 ] || fail "the planner asked for h1-h2 itself ($ask times)"
[ "$(resv_field "$id" state)" = active ] || fail "$id $(resv_field "$id" state)"
for f in "$T"/bsp-ring-*.json; do
    [ "$(jq -r '.iterations // 0' "$f")" -gt 0 ] || fail "no iterations in $f"
done

echo "== released once the traffic has gone"
released() { [ "$(resv_field "$id" state)" = released ]; }
vr_until 30 released || fail "$id not released: $(resv_field "$id" state)"
[ "$(open_resv)" = 0 ] || fail "the broker holds $(open_resv) reservations"
grep " decision #[0-9]* predict " "$T/decisions.txt" | cut -c1-200
vr_stop_services planner broker adapter aggregator agent-h1 agent-h2 \
    agent-h3 agent-h4 agent-h5
echo "1 passed, 0 failed"
