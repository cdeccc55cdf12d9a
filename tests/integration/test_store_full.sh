#!/bin/bash
# SPDX-License-Identifier: MIT
# Stores that fail closed on a full disk.  The broker's and the adapter's
# SQLite stores each sit on a small tmpfs of their own (sim backend):
#  - the adapter's disk full: a new reservation is recorded by the broker
#    and refused by the adapter (its path not made) with a clear error,
#    so it ends FAILED naming the full store;
#  - both disks full: a new reservation is refused at once by the broker
#    with a clear error, and a release is refused without changing a
#    thing;
#  - all along, the paths the adapter holds are exactly the broker's
#    active reservations (nothing leaked, nothing forgotten);
#  - space back: reservations are made and released again.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "needs root (tmpfs mounts)"; exit 77; }
for d in bdisk adisk; do
    mkdir -p "$T/$d"
    mount -t tmpfs -o size=1m tmpfs "$T/$d" || { echo "no tmpfs"; exit 77; }
    # Lazy: the services still have their files open when hooks run.
    vr_on_cleanup "umount -l '$T/$d'"
done
vr_adapter_yaml "$T/adapter.yaml" "$T/adisk/adapter.db" \
    'sim: {time_scale: 0.004}'
vr_broker_yaml "$T/bdisk/broker.db" 'reconcile_ms: 300' \
    'max_paths_per_host: 8' "$(vr_network_yaml 4 16)"
vr_ctl_yaml
vr_start_resv "$T/adapter.yaml"

# fill DIR: writes until the file system has no byte left.
fill() {
    dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null || true
    dd if=/dev/zero of="$1/fill2" bs=512 2>/dev/null || true
    [ "$(df --output=avail "$1" | tail -1 | tr -d ' ')" = 0 ] \
        || fail "$1 not full"
}
create() { "${CTL[@]}" --json reserve create "$@" | jq -r .id; }

echo "== two reservations up, then the adapter's disk fills"
up1=$(create h1 h2)
up2=$(create h3 h4)
resv_wait "$up1" active && resv_wait "$up2" active || fail "not up"
fill "$T/adisk"
id=$(create h1 h3) || fail "the broker refused with room on its disk"
resv_wait "$id" failed || fail "$id: not failed with the adapter's disk full"
err=$(resv_field "$id" error)
echo "$id: $err"
grep -q "state store failed (database or disk is full" <<<"$err" \
    || fail "unclear error: $err"
[ "$(svc_counter adapter store_errors)" -ge 1 ] || fail "not counted"
resv_no_leak

echo "== both disks full: refused at once, release refused, nothing moves"
fill "$T/bdisk"
rc=0
"${CTL[@]}" reserve create h2 h4 >/dev/null 2>"$T/full.err" || rc=$?
cat "$T/full.err"
[ "$rc" != 0 ] || fail "a reservation was taken on a full disk"
grep -q "reservation store failed (database or disk is full.*nothing reserved" \
    "$T/full.err" || fail "unclear refusal"
rc=0
"${CTL[@]}" reserve release "$up1" >/dev/null 2>"$T/rel.err" || rc=$?
cat "$T/rel.err"
[ "$rc" != 0 ] && grep -q "not released" "$T/rel.err" \
    || fail "a release was taken on a full disk"
sleep 1    # three reconcile rounds on full disks
[ "$(resv_field "$up1" state)" = active ] || fail "$up1 moved"
[ "$(resv_field "$up2" state)" = active ] || fail "$up2 moved"
"${CTL[@]}" status broker adapter >/dev/null || fail "a service is gone"
resv_no_leak

echo "== space back: service resumes"
rm -f "$T/adisk/fill" "$T/adisk/fill2" "$T/bdisk/fill" "$T/bdisk/fill2"
id=$(create h2 h4) || fail "refused with room again"
resv_wait "$id" active || fail "$id not up"
for r in "$up1" "$up2" "$id"; do
    "${CTL[@]}" reserve release "$r" >/dev/null || fail "release $r"
done
for r in "$up1" "$up2" "$id"; do
    resv_wait "$r" released || fail "$r not released"
done
sleep 0.4
resv_no_leak
[ "$(adapter_held)" = 0 ] || fail "paths left"
vr_stop_services broker adapter
echo "1 passed, 0 failed"
