#!/bin/bash
# SPDX-License-Identifier: MIT
# The broker and the adapter (sim backend, the paper's delays scaled down,
# 20% of set-ups failing): 100 reservations made and released one after
# another all end RELEASED or FAILED with a legal history; limits refuse
# clearly; the broker killed with -9 with reservations open finds,
# on restart, every path (adopted) and leaks none; at the end the adapter
# holds no path.
source "$(dirname "$0")/lib.sh"

vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" \
    'sim: {time_scale: 0.004, fail_rate: 0.2, seed: 7}'
vr_broker_yaml "$T/broker.db" 'reconcile_ms: 300' 'max_paths_per_host: 3' \
    "$(vr_network_yaml 4 6)"
vr_ctl_yaml
vr_start_resv "$T/adapter.yaml"

# wait_state ID STATE...: until the reservation is in one of the states;
# prints it.
wait_state() {
    local id=$1 s
    shift
    for _ in $(seq 100); do
        s=$("${CTL[@]}" --json reserve show "$id" | python3 -c \
            'import json,sys; print(json.load(sys.stdin)["state"])')
        for want in "$@"; do
            [ "$s" = "$want" ] && { echo "$s"; return 0; }
        done
        sleep 0.05
    done
    echo "$s"
    return 1
}

echo "== 100 reservations, one after another, 20% of set-ups failing"
active=0
failed=0
for i in $(seq 100); do
    a=h$((i % 4 + 1))
    b=h$(((i + 1) % 4 + 1))
    id=$("${CTL[@]}" --json reserve create "$a" "$b" --id "req-$i" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') \
        || fail "reserve $i refused"
    s=$(wait_state "$id" active failed) || fail "$id stuck in $s"
    if [ "$s" = active ]; then
        active=$((active + 1))
        "${CTL[@]}" reserve release "$id" >/dev/null || fail "release $id"
        s=$(wait_state "$id" released) || fail "$id not released: $s"
    else
        failed=$((failed + 1))
    fi
done
echo "active then released: $active, failed: $failed"
[ "$failed" -ge 5 ] && [ "$failed" -le 40 ] || fail "failures not near 20%"

# The same request id again returns the same reservation.
again=$("${CTL[@]}" --json reserve create h2 h3 --id req-1 \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[ "$again" = r-1 ] || fail "request id req-1 gave $again, not r-1"
# The same request id for other hosts is no retry: refused, nothing made.
rc=0
"${CTL[@]}" reserve create h1 h4 --id req-1 2>"$T/other.err" >/dev/null || rc=$?
[ "$rc" = 1 ] && grep -q "request_id is reservation r-1, of other hosts" \
    "$T/other.err" || fail "req-1 for h1-h4 not refused: $(cat "$T/other.err")"

"${CTL[@]}" --json reserve list --all >"$T/all.json"
python3 - "$T/all.json" <<'PY' || fail "a reservation ended badly"
import json, sys
rs = json.load(open(sys.argv[1]))
states = {}
for r in rs:
    states[r["state"]] = states.get(r["state"], 0) + 1
print("final states:", states)
assert len(rs) == 100, len(rs)
assert set(states) <= {"released", "failed"}, states
assert all(r["error"] for r in rs if r["state"] == "failed")
PY
"${CTL[@]}" --json reserve show r-1 >"$T/hist.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("r-1:", " -> ".join(h["to"] for h in j["history"]))' "$T/hist.json"

echo "== limits: a fourth open reservation at one host is refused"
for b in h2 h3 h4; do
    "${CTL[@]}" reserve create h1 "$b" >/dev/null || fail "reserve h1-$b"
done
rc=0
"${CTL[@]}" reserve create h1 h2 2>"$T/limit.err" >/dev/null || rc=$?
cat "$T/limit.err"
[ "$rc" = 1 ] && grep -q "limit is 3" "$T/limit.err" || fail "limit not enforced"
rc=0
"${CTL[@]}" reserve create h1 h9 2>"$T/nr.err" >/dev/null || rc=$?
grep -q "no reservable network" "$T/nr.err" || fail "h9 should not be reservable"

echo "== kill -9 the broker with open reservations; restart; nothing leaks"
"${CTL[@]}" --json reserve list >"$T/open.json"
kill -KILL "$(cat "$T/broker.pid")"
vr_start broker "$BIN/vreserve-broker" -c "$T/broker.yaml"
vr_until 10 "${CTL[@]}" status broker || fail "broker did not restart"
for id in $(python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(open(sys.argv[1]))))' "$T/open.json"); do
    s=$(wait_state "$id" active failed) || fail "$id not adopted: $s"
    echo "$id: $s after the restart"
    if [ "$s" = active ]; then
        "${CTL[@]}" reserve release "$id" >/dev/null
        wait_state "$id" released >/dev/null || fail "$id not released"
    fi
done
sleep 0.5
"${CTL[@]}" --json status adapter >"$T/ad.json"
held=$(json_get "$T/ad.json" 'sum(j["services"][0]["counters"][k] for k in ("paths_provisioning", "paths_up", "paths_tearing_down"))')
echo "paths the adapter still holds: $held"
[ "$held" = 0 ] || fail "paths leaked"
grep -h "reconcile\|adopt\|orphan" "$T/broker.log" | tail -3 || true

vr_stop_services broker adapter
echo "1 passed, 0 failed"
