#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock opennsa
# The odin-adapter's nsi backend against a provider that misbehaves
# (tests/tools/nsi-standin.py): malformed XML, HTTP 500 with an HTML page,
# no answer at all.  Each time the reservation (through the broker) fails
# with a clear reason within nsi.request_timeout_ms (2 s) and some slack,
# the adapter keeps answering status, also while a call hangs, and the
# next path is taken as usual.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nsi_lib.sh"

vr_start standin python3 "$VR_SRC_DIR/tests/tools/nsi-standin.py" "$T/standin.port"
vr_until 10 test -s "$T/standin.port" || fail "stand-in did not start"
SP=$(cat "$T/standin.port")
NSA=urn:ogf:network:standin.test:2026:nsa
NET=standin.test:2026:topology
URL=http://127.0.0.1:$SP

# standin MODE PATTERN: a path through the stand-in's MODE fails with an
# error matching PATTERN.
standin() {
    local mode=$1 pat=$2 id t0 ms err
    nsi_setup "$URL/NSI/$mode"
    if [ -e "$T/adapter.pid" ]; then
        vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
    else
        vr_start_resv "$T/adapter.yaml"
    fi
    t0=$(date +%s%N)
    id=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
    if [ "$mode" = hang ]; then
        # The loop is not held up by a call that hangs.
        sleep 0.5
        s0=$(date +%s%N)
        "${CTL[@]}" status adapter >/dev/null || fail "adapter silent while a call hangs"
        [ $(( ($(date +%s%N) - s0) / 1000000 )) -lt 900 ] || fail "status slow while a call hangs"
    fi
    resv_wait "$id" failed || fail "$mode: $id not failed"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    err=$(resv_field "$id" error)
    echo "$mode: failed in $ms ms: $err"
    grep -Eq "$pat" <<<"$err" || fail "$mode: error '$err'"
    [ "$ms" -lt 6000 ] || fail "$mode: took $ms ms"
    "${CTL[@]}" status adapter >/dev/null || fail "$mode: adapter gone"
    "${CTL[@]}" --json status adapter | jq -e '.services[0].counters.nsi_failures >= 1' >/dev/null \
        || fail "$mode: nsi_failures not counted"
}
standin malformed 'reserve: .*not well-formed XML'
standin http500 'reserve: .*HTTP 500 without a SOAP fault'
standin hang 'reserve: no answer within 2000 ms'
# A well-behaved answer after all that: the adapter still works (an
# acknowledgment is no reserveResponse: a clear failure, at once).
standin ack 'reserve: expected <reserveResponse>, got <acknowledgment>'

# release_through MODE: a path through the stand-in's MODE made, up and
# released (through the broker); sets id, cid (its connection) and ms
# (release to released).
released() { [ "$(resv_field "$id" state)" = released ]; }
release_through() {
    nsi_setup "$URL/NSI/$1"
    vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
    id=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
    resv_wait "$id" active || fail "$1: $id not active"
    cid=$(path_json "$id" | jq -r .connection_id)
    local t0
    t0=$(date +%s%N)
    "${CTL[@]}" reserve release "$id" >/dev/null || fail "$1: release $id"
    vr_until 20 released || fail "$1: $id not released: $(resv_field "$id" state)"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

# A provider that leaves a terminated connection Terminating (OpenNSA
# restarted while it passed the terminate on): the adapter terminates it
# again after a while, so the path ends and nothing stays live there.
release_through sticky
grep -q "standin: terminate $cid: 2" "$T/standin.log" \
    || fail "sticky: $cid not terminated again: $(grep terminate "$T/standin.log")"
[ "$(svc_counter adapter nsi_terminated_again)" -ge 1 ] \
    || fail "sticky: nsi_terminated_again not counted"
grep -q "connection $cid: Terminating for .*terminate again" "$T/adapter.log" \
    || fail "sticky: the adapter did not say why it terminated again"
echo "sticky: $cid left Terminating, terminated again; released in $ms ms"

# A provider that never ends a terminated connection (OpenNSA restarted
# after its backend had ended its part): the path is not held up by it.
# Its data plane is inactive, so the path is down at the first terminate
# sent again; the connection is terminated again in the background.
release_through stuck
grep -q "path .*: connection $cid left Terminating by the provider" "$T/adapter.log" \
    || fail "stuck: the adapter did not say why the path is down"
terminated_twice() { grep -q "standin: terminate $cid: 2" "$T/standin.log"; }
vr_until 20 terminated_twice \
    || fail "stuck: $cid not terminated again: $(grep terminate "$T/standin.log")"
echo "stuck: $cid left Terminating for good; released in $ms ms"

# A provider that leaves a released connection Releasing, its data plane
# active (OpenNSA killed while it passed the release on; chaos_nsi seed
# 13321): the adapter does not wait for good, it terminates the
# connection, which ends its data plane, and the path ends.
release_through releasing
grep -q "standin: terminate $cid: 1" "$T/standin.log" \
    || fail "releasing: $cid not terminated: $(grep terminate "$T/standin.log")"
grep -q "connection $cid: Releasing for .*terminated rather than waited for" "$T/adapter.log" \
    || fail "releasing: the adapter did not say why it terminated"
[ "$(svc_counter adapter nsi_terminated_in_transit)" -ge 1 ] \
    || fail "releasing: nsi_terminated_in_transit not counted"
echo "releasing: $cid left Releasing; terminated, released in $ms ms"
echo "PASS"
