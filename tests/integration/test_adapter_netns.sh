#!/bin/bash
# SPDX-License-Identifier: MIT
# The adapter's netns backend on the test bed (2 hosts), through the
# broker: a reserved path is a veth pair between the two host namespaces
# that carries a ping, shaped to the bandwidth asked; it survives the
# adapter's kill -9 (adopted); it is gone from both namespaces after
# release.  A pair deleted while the adapter was down is reported
# vanished (FAILED, and the broker agrees); a stray vrp device is swept;
# a path provisioning at a kill -9 fails on restart and leaves nothing.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
P="an$$"
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'
"$BED" up --prefix "$P" --hosts 2 --vms 1 >/dev/null

vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" 'backend: netns' \
    'sim: {time_scale: 0.1}' "netns:
  hosts:
    - {ip: 10.200.0.1, netns: $P-h1}
    - {ip: 10.200.0.2, netns: $P-h2}
  mtu: 9000"
vr_broker_yaml "$T/broker.db" 'reconcile_ms: 300' 'networks:
  - name: lab
    endpoints:
      - {host: h1, ip: 10.200.0.1}
      - {host: h2, ip: 10.200.0.2}'
vr_ctl_yaml
vr_start_resv "$T/adapter.yaml"

counter() { svc_counter adapter "$1"; }
dev_in() { ip -n "$P-h$1" link show "$2" >/dev/null 2>&1; }

echo "== reserve h1-h2 at 500 Mbit/s: a veth pair that carries a ping"
t0=$(date +%s.%N)
id=$("${CTL[@]}" --json reserve create h1 h2 --bw 500 | jq -r .id)
resv_wait "$id" active || fail "not active"
t1=$(date +%s.%N)
pid=$(resv_field "$id" path_id)
a=$(resv_field "$id" addr_a)
b=$(resv_field "$id" addr_b)
dev=vrp${pid#p-}
echo "$id: path $pid up in $(echo "$t1 - $t0" | bc) s (17.5 s x 0.1 configured); $a <-> $b on $dev"
dev_in 1 "$dev" && dev_in 2 "$dev" || fail "$dev missing"
ip netns exec "$P-h1" ping -c 3 -i 0.2 -W 1 -I "$dev" "$b" >"$T/ping.txt" \
    || { cat "$T/ping.txt"; fail "no ping over the path"; }
grep "packet loss" "$T/ping.txt"
ip -n "$P-h1" -d link show "$dev" | grep -q "mtu 9000" || fail "mtu not 9000"
tc -n "$P-h1" qdisc show dev "$dev" | grep -q "tbf.*rate 500Mbit" \
    || fail "not shaped to 500 Mbit/s: $(tc -n "$P-h1" qdisc show dev "$dev")"

echo "== kill -9 the adapter; restart: the path is adopted and still works"
vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
[ "$(counter paths_adopted)" = 1 ] || fail "path not adopted"
[ "$(counter paths_up)" = 1 ] || fail "adapter does not hold it up"
sleep 0.5
[ "$(resv_field "$id" state)" = active ] || fail "broker lost $id"
ip netns exec "$P-h1" ping -c 2 -i 0.2 -W 1 -I "$dev" "$b" >/dev/null \
    || fail "no ping after the restart"
grep -h "adopted" "$T/adapter.log" | tail -2

echo "== release: the pair is gone from both namespaces"
"${CTL[@]}" reserve release "$id" >/dev/null || fail "release"
# The reply says tearing down; the adapter deletes the pair on its loop.
vr_until 5 eval '! dev_in 1 "$dev" && ! dev_in 2 "$dev"' \
    || fail "$dev still there"
resv_wait "$id" released || fail "not released"

echo "== a pair deleted while the adapter is down: vanished, and a stray swept"
id2=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
resv_wait "$id2" active || fail "$id2 not active"
dev2=vrp$(resv_field "$id2" path_id | sed 's/^p-//')
kill -KILL "$(cat "$T/adapter.pid")"
ip -n "$P-h1" link del "$dev2"
ip link add vrp999 netns "$P-h1" type veth peer name vrp999 netns "$P-h2"
vr_start adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
vr_until 10 "${CTL[@]}" status adapter || fail "adapter did not restart"
[ "$(counter paths_lost_in_restart)" = 1 ] || fail "vanished path not seen"
[ "$(counter netns_swept)" = 1 ] || fail "stray not swept"
! dev_in 1 vrp999 || fail "vrp999 still in h1"
resv_wait "$id2" failed || fail "broker did not mark $id2 failed"
echo "$id2: $(resv_field "$id2" error)"

echo "== kill -9 while provisioning: failed on restart, nothing left"
id3=$("${CTL[@]}" --json reserve create h1 h2 | jq -r .id)
sleep 0.3
[ "$(resv_field "$id3" state)" = provisioning ] || fail "$id3 not provisioning"
dev3=vrp$(resv_field "$id3" path_id | sed 's/^p-//')
vr_restart_adapter "$BIN/odin-adapter" -c "$T/adapter.yaml"
resv_wait "$id3" failed || fail "$id3 not failed"
sleep 2   # longer than the set-up would have taken
! dev_in 1 "$dev3" && ! dev_in 2 "$dev3" || fail "$dev3 made after all"
held=$(adapter_held)
[ "$held" = 0 ] || fail "adapter holds $held paths"
[ -z "$(ip -n "$P-h1" -o link show | grep ': vrp')" ] || fail "devices left"
tail -n 4 "$T/adapter.log"

vr_stop_services broker adapter
echo "1 passed, 0 failed"
