#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock opennsa
# The odin-adapter's nsi backend against a real NSI provider, OpenNSA
# (../shared/peers/opennsa, its 'dud' backend, started here with a 3 s
# hold timeout and stopped on any exit), reservations made through the
# broker with vnetctl:
#  - the whole lifecycle, three times: active with the provider's states
#    ReserveStart/Provisioned/Created, a connection id and the VLAN it
#    chose shown by `vnetctl reserve show`; released → the provider lists
#    the connection Terminated; reserve → up timed; `vnetctl watch
#    paths` shows the connection, states and VLAN;
#  - a reservation released at once, its reserve perhaps still out:
#    released, nothing live;
#  - a VLAN conflict (host .3's port allows VLAN 1785 only): the second
#    path fails with the provider's errorId 00704;
#  - an unknown STP (host .4 on port Z): fails with the provider's errorId;
#  - hosts with no VLAN in common (.5, .6): the provider picks one at
#    each end (it translates between them), the path is up with both,
#    the reservation gives each host its own, and it is released;
#  - a host the adapter has no port for: refused at once;
#  - a hold that times out at the provider (vr-adapter-faulty commits 6 s
#    after the hold): failed "hold timed out", nothing left live;
#  - a hold not committed by our nsi.commit_deadline_ms (the commit
#    delayed 2.5 s, the deadline 2 s): aborted, failed "hold timed out:
#    not committed within", nothing left live.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nsi_lib.sh"

nsi_peer_start --hold-timeout 3
nsi_setup
vr_start_resv "$T/adapter.yaml"
vr_start watch "${CTL[@]}" watch paths --timeout 60

# ---------------------------------------------------------- lifecycle
for i in 1 2 3; do
    t0=$(date +%s%N)
    id=$("${CTL[@]}" --json reserve create h1 h2 --bw 100 | jq -r .id)
    resv_wait "$id" active || fail "lifecycle $i: $id not active"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    p=$(path_json "$id")
    pid=$(jq -r .path_id <<<"$p")
    echo "lifecycle $i: $id active in $ms ms (vnetctl, 50 ms polls); adapter: provisioning -> up $(log_ms "$pid" provisioning up) ms: $p"
    [ "$(jq -r .reservation_state <<<"$p")/$(jq -r .provision_state <<<"$p")/$(jq -r .lifecycle_state <<<"$p")" \
        = ReserveStart/Provisioned/Created ] || fail "$id: provider states $p"
    conn=$(jq -r .connection_id <<<"$p")
    [[ "$conn" =~ ^[A-Za-z0-9-]+$ ]] || fail "$id: connection id '$conn'"
    [[ "$(jq -r .vlan <<<"$p")" =~ ^178[0-9]$ ]] || fail "$id: vlan in $p"
    # Each end's address for its VLAN sub-interface, a /30 of
    # nsi.link_pool (10.213.0.0/16 by default).
    [[ "$(resv_field "$id" addr_a)" =~ ^10\.213\.[0-9]+\.[0-9]+$ ]] \
        && [[ "$(resv_field "$id" addr_b)" =~ ^10\.213\.[0-9]+\.[0-9]+$ ]] \
        && [ "$(resv_field "$id" link_prefix_len)" = 30 ] \
        || fail "$id: link addresses $(resv_field "$id" addr_a) $(resv_field "$id" addr_b)/$(resv_field "$id" link_prefix_len)"
    # The path's and the reservation's vlan field: the same VLAN.
    [ "$(resv_field "$id" vlan)" = "$(jq -r .vlan <<<"$p")" ] \
        || fail "$id: the broker's vlan $(resv_field "$id" vlan), the path's $(jq -r .vlan <<<"$p")"
    "${CTL[@]}" reserve show "$id" | grep -Eq "^  path p-[0-9]+ up \(nsi\) conn $conn ReserveStart/Provisioned/Created vlan 178[0-9]$" \
        || { "${CTL[@]}" reserve show "$id"; fail "$id: reserve show lacks the NSI line"; }
    # The provider has it, live, with our global id and the path's id.
    nsi_live | grep -q "^connection $conn global=urn:uuid:[0-9a-f-]\{36\} .*ReserveStart/Provisioned/Created active=true" \
        || { nsi_live; fail "$conn not live at the provider"; }
    "${CTL[@]}" reserve release "$id" >/dev/null || fail "release $id"
    resv_wait "$id" released || fail "$id not released"
    [ "$(jq -r .state <<<"$(path_json "$id")")" = down ] || fail "$id: path not down"
    echo "lifecycle $i: adapter: tearing-down -> down $(log_ms "$pid" tearing-down down) ms"
    nsi_terminated "$conn" || fail "$conn not Terminated at the provider"
done
[ -z "$(nsi_live)" ] || fail "live at the provider after the lifecycles: $(nsi_live)"
# vnetctl watch paths showed them with their connection, states and VLAN.
grep -Eq "path p-[0-9]+ 10.210.0.1->10.210.0.2 provisioning -> up \(nsi\) conn $conn ReserveStart/Provisioned/Created vlan 178[0-9]$" \
    "$T/watch.log" || { cat "$T/watch.log"; fail "watch paths: no NSI line for $conn"; }
grep -Eq "tearing_down -> down \(nsi\) conn $conn ReserveStart/Released/Terminated vlan 178[0-9]$" \
    "$T/watch.log" || { cat "$T/watch.log"; fail "watch paths: no NSI down line for $conn"; }
echo "adapter status: $("${CTL[@]}" --json status adapter | jq -c '.services[0].counters | with_entries(select(.key | startswith("nsi_")))')"

# ---------------------------------------------------------- released at once
# Torn down while its reserve may still be out: ended all the same.
q=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
"${CTL[@]}" reserve release "$q" >/dev/null || fail "release $q"
resv_wait "$q" released || fail "$q (released at once) not released"
echo "released at once: $(path_json "$q")"
nsi_until_none_live 10 || fail "live at the provider after $q"

# ---------------------------------------------------------- VLAN conflict
a=$("${CTL[@]}" --json reserve create h3 h1 | jq -r .id)
resv_wait "$a" active || fail "h3-h1 not active"
jq -r .vlan <<<"$(path_json "$a")" | grep -Eq '^1785(/178[0-9])?$' \
    || fail "h3-h1: vlan $(path_json "$a")"
b=$("${CTL[@]}" --json reserve create h3 h2 | jq -r .id)
resv_wait "$b" failed || fail "h3-h2 (VLAN 1785 taken) not failed"
pb=$(path_json "$b")
echo "VLAN conflict: $(resv_field "$b" error) | $pb"
[ "$(jq -r .error_id <<<"$pb")" = 00704 ] || fail "conflict: errorId in $pb"
resv_field "$b" error | grep -q "provider error 00704" || fail "conflict: broker's error"
"${CTL[@]}" reserve release "$a" >/dev/null
resv_wait "$a" released || fail "$a not released"

# ---------------------------------------------------------- unknown STP
z=$("${CTL[@]}" --json reserve create h4 h1 | jq -r .id)
resv_wait "$z" failed || fail "h4 (port Z) not failed"
pz=$(path_json "$z")
echo "unknown STP: $(resv_field "$z" error) | $pz"
[[ "$(jq -r .error_id <<<"$pz")" =~ ^[0-9]{5}$ ]] || fail "unknown STP: errorId in $pz"

# ------------------------------------------------------------- two VLANs
# Hosts .5 (port B, VLAN 1789 only) and .6 (port C, 1788 only) have no
# VLAN in common: the provider (it swaps labels) puts the ends on two and
# translates between them.  The path is up with both; the reservation
# gives host_a its own (vlan) and host_b its own (vlan_b).
d=$("${CTL[@]}" --json reserve create h5 h6 | jq -r .id)
resv_wait "$d" active || fail "h5-h6 (two VLANs) not active: $(path_json "$d")"
pd=$(path_json "$d")
echo "two VLANs: $pd"
[ "$(jq -r .vlan <<<"$pd")" = 1789/1788 ] || fail "two VLANs: the path's vlan in $pd"
[ "$(resv_field "$d" vlan)" = 1789 ] && [ "$(resv_field "$d" vlan_b)" = 1788 ] \
    || fail "two VLANs: the broker's vlan $(resv_field "$d" vlan) vlan_b $(resv_field "$d" vlan_b)"
grep -q "the provider chose VLAN 1789 at 10.210.0.5 and 1788 at 10.210.0.6 .*each host takes its own" \
    "$T/adapter.log" || fail "two VLANs: not logged"
"${CTL[@]}" reserve release "$d" >/dev/null
resv_wait "$d" released || fail "$d not released"

# ---------------------------------------------------------- unknown host
out=$("$BIN/vr-call" "$(ep adapter)" adapter PATH_CREATE src_ip=10.210.0.1 \
    dst_ip=10.210.0.99 request_id=nohost 2>&1) && fail "unknown host accepted: $out"
echo "unknown host: $out"
grep -q "host 10.210.0.99 has no port in nsi.hosts" <<<"$out" || fail "unknown host: '$out'"

nsi_until_none_live 10 || fail "live at the provider after the failures"
"${CTL[@]}" status adapter >/dev/null || fail "adapter gone"
vr_stop_services broker adapter

# ---------------------------------------------------------- hold timeout
# The provider's hold lasts 3 s; this adapter commits 6 s after the hold
# (and believes in a hold of 3 s, so that the refusal reads as its end).
export VR_NSI_COMMIT_DELAY_MS=6000
vr_start_resv "$T/adapter.yaml" vr-adapter-faulty
unset VR_NSI_COMMIT_DELAY_MS
grep -q "test: every reserveCommit waits 6000 ms" "$T/adapter.log" \
    || fail "the test switch is not logged"
h=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
for _ in $(seq 200); do
    [ "$(resv_field "$h" state)" = failed ] && break
    sleep 0.1
done
[ "$(resv_field "$h" state)" = failed ] || fail "hold: $h $(resv_field "$h" state)"
echo "hold timeout: $(resv_field "$h" error)"
resv_field "$h" error | grep -q "hold timed out at the provider" || fail "hold: error"
nsi_until_none_live 15 || fail "live at the provider after the hold timeout"
vr_stop_services broker adapter

# ---------------------------------------------------------- commit deadline
# This adapter would commit 2.5 s after the hold, but its deadline is 2 s
# after the reserve: it aborts the hold first.
export VR_NSI_COMMIT_DELAY_MS=2500 VR_NSI_COMMIT_DEADLINE=keep
vr_start_resv "$T/adapter.yaml" vr-adapter-faulty
unset VR_NSI_COMMIT_DELAY_MS VR_NSI_COMMIT_DEADLINE
d=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
for _ in $(seq 100); do
    [ "$(resv_field "$d" state)" = failed ] && break
    sleep 0.1
done
[ "$(resv_field "$d" state)" = failed ] || fail "deadline: $d $(resv_field "$d" state)"
echo "commit deadline: $(resv_field "$d" error)"
resv_field "$d" error | grep -q "hold timed out: not committed within nsi.commit_deadline_ms (2000 ms" \
    || fail "deadline: error"
nsi_until_none_live 10 || fail "live at the provider after the deadline"
echo "PASS"
