#!/bin/bash
# SPDX-License-Identifier: MIT
# The broker's open reservations are capped (max_open), bookings ahead
# included: bookings that never overlap pass the per-host and per-network
# limits, so without the cap a caller could fill the store with them.
# With max_open 3, three bookings of h1-h2 far apart are taken, a fourth
# is refused with the reason and changes nothing, and once one is
# released the fourth is taken.
source "$(dirname "$0")/lib.sh"

vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'sim: {time_scale: 0.004}'
vr_broker_yaml "$T/broker.db" 'max_open: 3' 'max_paths_per_host: 1' \
    "$(vr_network_yaml 4 16)"
vr_ctl_yaml
vr_start_resv "$T/adapter.yaml"

open_count() {
    "${CTL[@]}" --json reserve list | jq '[.[]
        | select(.state != "released" and .state != "failed")] | length'
}

echo "== three bookings an hour apart: each passes the calendar"
ids=()
for h in 1 2 3; do
    ids+=("$("${CTL[@]}" --json reserve create h1 h2 --in $((h * 3600)) \
        --for 60 | jq -r .id)")
    [ "$(resv_field "${ids[-1]}" state)" = scheduled ] \
        || fail "${ids[-1]} not scheduled"
done

echo "== a fourth, four hours ahead: refused for max_open, nothing made"
out=$("${CTL[@]}" reserve create h1 h2 --in 14400 --for 60 2>&1) \
    && fail "a fourth taken: $out"
echo "$out"
echo "$out" | grep -q "3 reservations open or booked, the limit is max_open (3)" \
    || fail "no max_open reason: $out"
[ "$(open_count)" = 3 ] || fail "open reservations: $(open_count)"

echo "== one released: the fourth is taken"
"${CTL[@]}" reserve release "${ids[0]}" >/dev/null || fail "release"
d=$("${CTL[@]}" --json reserve create h1 h2 --in 14400 --for 60 | jq -r .id)
[ "$(resv_field "$d" state)" = scheduled ] || fail "$d not scheduled"
[ "$(open_count)" = 3 ] || fail "open reservations: $(open_count)"
echo "ok"
