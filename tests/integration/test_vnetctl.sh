#!/bin/bash
# SPDX-License-Identifier: MIT
# vnetctl against running services (aggregator fed by vr-fake-agents, an
# agent, the planner, the broker and the adapter on its sim backend, all on
# ipc:// endpoints in a scratch directory): every command's --help, watch
# of each kind (--json parsed back with jq, --count, --timeout, SIGINT and
# SIGTERM end it with 0), topology as a table, JSON and Graphviz that dot
# renders, matrix, links and rules as the aliases of link/rule list, and
# the exit codes: 0 ok, 1 an error reply, 2 usage, 3 no reply in time.
source "$(dirname "$0")/lib.sh"

vr_overlay_keys h1
cat >"$T/agent.yaml" <<YAML
id: h1
bus: {control: '$(ep agent)', aggregator: '$(ep ingest)'}
overlay: {listen: '127.0.0.1:0', $(vr_overlay_yaml h1)}
YAML
cat >"$T/aggregator.yaml" <<YAML
bus: {control: '$(ep aggregator)', events: '$(ep agg-events)', ingest: '$(ep ingest)'}
matrix_ms: 200
vttif: {quiet_new_s: 0.5, hold_add_s: 0.3, quiet_s: 0.5, min_interval_s: 0.5}
YAML
cat >"$T/planner.yaml" <<YAML
bus:
  control: $(ep planner)
  events: $(ep planner-events)
  aggregator_events: $(ep agg-events)
  broker_events: $(ep broker-events)
YAML
vr_broker_yaml "$T/broker.db" "$(vr_network_yaml 2)"
vr_adapter_yaml "$T/adapter.yaml" "$T/adapter.db" \
    'sim: {time_scale: 0.01, fail_rate: 0, seed: 3}'
cat >"$T/vnetctl.yaml" <<YAML
agent: $(ep agent)
aggregator: $(ep aggregator)
planner: $(ep planner)
broker: $(ep broker)
adapter: $(ep adapter)
aggregator_events: $(ep agg-events)
planner_events: $(ep planner-events)
broker_events: $(ep broker-events)
adapter_events: $(ep adapter-events)
timeout_ms: 2000
YAML
CTL=("$BIN/vnetctl" -c "$T/vnetctl.yaml")

# expect RC CMD...: runs CMD (output to $T/out, $T/err) and checks its
# exit code.
expect() {
    local want=$1 rc=0
    shift
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || {
        cat "$T/out" "$T/err" >&2
        fail "'$*' exited $rc, expected $want"
    }
}

echo "== the man page renders and names every command"
MAN="$VR_SRC_DIR/docs/vnetctl.1"
groff -man -Tutf8 -ww -z "$MAN" 2>"$T/groff.err"
[ ! -s "$T/groff.err" ] || fail "groff warns: $(cat "$T/groff.err")"
MANWIDTH=80 man -l "$MAN" >"$T/man.txt" 2>"$T/man.err" || fail "man -l failed"
[ ! -s "$T/man.err" ] || fail "man -l warns: $(cat "$T/man.err")"
for cmd in status topology matrix watch links rules link rule reserve keygen; do
    grep -q "^       $cmd" "$T/man.txt" || fail "man page lacks $cmd"
done
grep -q "^EXIT STATUS" "$T/man.txt" || fail "man page lacks EXIT STATUS"

echo "== help and usage errors (no service needed)"
expect 0 "${CTL[@]}" --help
grep -q "exit codes: 0 ok, 1 .*2 usage.*3 a service did not answer" \
    <(tr '\n' ' ' <"$T/out") || fail "--help does not list the exit codes"
for cmd in status link links rule rules reserve topology matrix watch keygen; do
    expect 0 "${CTL[@]}" "$cmd" --help
    grep -q "^usage: vnetctl.* $cmd" "$T/out" || fail "$cmd --help: $(cat "$T/out")"
done
expect 0 "${CTL[@]}" help watch
grep -q "reservations" "$T/out" || fail "help watch"
expect 2 "${CTL[@]}" frobnicate
expect 2 "${CTL[@]}" watch
expect 2 "${CTL[@]}" watch bogus
expect 2 "${CTL[@]}" watch topology --count x
expect 2 "${CTL[@]}" watch topology --timeout -1
expect 2 "${CTL[@]}" -j topology --dot
expect 2 "${CTL[@]}" matrix extra
expect 2 "${CTL[@]}" links extra
expect 2 "${CTL[@]}" -e nosuchrole=ipc://x status

vr_start_services
vr_until 10 "${CTL[@]}" status || fail "services did not all come up"

echo "== watch while the aggregator learns a topology"
# Watchers first, so that they hear the first topology event.
vr_start w-topo "${CTL[@]}" -j watch topology --count 1 --timeout 20
vr_start w-human "${CTL[@]}" -v watch matrix
vr_start w-term "${CTL[@]}" watch topology
sleep 0.5
vr_start fake "$BIN/vr-fake-agents" "$(ep ingest)" --agents 2 --vms 4 \
    --period-ms 100 --seconds 60 --pattern ring --mbps 40

# wait_rc NAME: waits for a process vr_start started; its exit code in WRC
# (not in a subshell, which cannot wait for our children).
wait_rc() {
    WRC=0
    wait "$(cat "$T/$1.pid")" || WRC=$?
}
wait_rc w-topo; [ "$WRC" = 0 ] || fail "watch topology --count 1"
cat "$T/w-topo.log"
jq -e '.event == "topology" and .type == "TOPOLOGY_EVENT"
       and .sender == "aggregator" and .body.change == "new"
       and (.body.topology.edges | length) == 4
       and (.body.topology.edges[0].src_mac | test("^02:00:00:00:00:0[1-4]$"))' \
    "$T/w-topo.log" >/dev/null || fail "topology event JSON"
vr_start w-matrix "${CTL[@]}" -j watch matrix --count 2 --timeout 20
wait_rc w-matrix; [ "$WRC" = 0 ] || fail "watch matrix --count 2"
[ "$(jq -s 'length' "$T/w-matrix.log")" = 2 ] || fail "not 2 matrix lines"
jq -s -e 'all(.[]; .body.entries | length >= 4)' "$T/w-matrix.log" >/dev/null \
    || fail "matrix event JSON"

kill -INT "$(cat "$T/w-human.pid")"
wait_rc w-human; [ "$WRC" = 0 ] || fail "watch did not exit 0 on SIGINT"
grep -q "matrix: 4 pairs, largest" "$T/w-human.log" || fail "human matrix line"
grep -q "^    02:00:00:00:00:0.* -> 02:00:00:00:00:0.*Mbit/s" "$T/w-human.log" \
    || fail "-v matrix entries"
grep -q "topology v1 new: 4 edges (+4 -0)" "$T/w-term.log" \
    || fail "human topology line: $(cat "$T/w-term.log")"
kill -TERM "$(cat "$T/w-term.pid")"
wait_rc w-term; [ "$WRC" = 0 ] || fail "watch did not exit 0 on SIGTERM"

echo "== topology and matrix queries"
expect 0 "${CTL[@]}" topology
cat "$T/out"
grep -q "^topology v1 at .*: 4 edges, undirected" "$T/out" || fail "topology header"
[ "$(grep -c "^02:00:00:00:00:0. .*fake[01] .*Mbit/s" "$T/out")" = 4 ] \
    || fail "topology rows"
expect 0 "${CTL[@]}" -j topology
jq -e '(.edges | length) == 4 and .version == 1 and .directed == false
       and ([.vms[].agent_id] | unique) == ["fake0", "fake1"]' "$T/out" \
    >/dev/null || fail "topology JSON: $(cat "$T/out")"
expect 0 "${CTL[@]}" topology --dot
cp "$T/out" "$T/topo.dot"
dot -Tsvg "$T/topo.dot" >"$T/topo.svg" 2>"$T/dot.err" \
    || fail "dot rejects the topology: $(cat "$T/dot.err")"
grep -q "<svg" "$T/topo.svg" && grep -q "Mbit/s" "$T/topo.svg" \
    || fail "no rates in the SVG"
[ "$(grep -c -- " -- " "$T/topo.dot")" = 4 ] || fail "4 edges in DOT"
grep -q 'subgraph "cluster_fake0"' "$T/topo.dot" || fail "no host cluster"
expect 0 "${CTL[@]}" matrix
grep -q "^matrix at .*: 4 pairs over 2.0 s, largest" "$T/out" || fail "matrix header"
expect 0 "${CTL[@]}" -j matrix
jq -e '(.entries | length) == 4 and .max_rate_bps > 1e6
       and ([.entries[].norm] | max) == 1' "$T/out" >/dev/null \
    || fail "matrix JSON: $(cat "$T/out")"

echo "== links and rules are link list and rule list"
for alias in links rules; do
    long=${alias%s}
    expect 0 "${CTL[@]}" "$alias"
    cp "$T/out" "$T/alias.txt"
    expect 0 "${CTL[@]}" "$long" list
    diff -u "$T/out" "$T/alias.txt" || fail "$alias differs from $long list"
    expect 0 "${CTL[@]}" -j "$alias" --agent "$(ep agent)"
    jq -e 'type == "array"' "$T/out" >/dev/null || fail "$alias JSON"
done
expect 0 "${CTL[@]}" link add l1 127.0.0.1:9
expect 0 "${CTL[@]}" -j links
jq -e '.[0].name == "l1" and .[0].peer == "127.0.0.1:9"' "$T/out" \
    >/dev/null || fail "links after add: $(cat "$T/out")"
expect 0 "${CTL[@]}" rule add 02:00:00:00:00:09 l1
expect 0 "${CTL[@]}" -j rules
jq -e '.[0].dst == "02:00:00:00:00:09" and .[0].link == "l1"' "$T/out" \
    >/dev/null || fail "rules after add: $(cat "$T/out")"

echo "== reservations and paths as they happen"
vr_start w-resv "${CTL[@]}" -j watch reservations --count 3 --timeout 20
vr_start w-path "${CTL[@]}" -j watch paths --count 2 --timeout 20
vr_start w-resv-h "${CTL[@]}" watch reservations --count 3 --timeout 20
sleep 0.5
expect 0 "${CTL[@]}" -j reserve create h1 h2 --id vnetctl-test
id=$(jq -r .id "$T/out")
wait_rc w-resv; [ "$WRC" = 0 ] || fail "watch reservations"
cat "$T/w-resv-h.log"
jq -s -e --arg id "$id" \
    'all(.[]; .event == "reservations" and .body.resv.resv_id == $id)' \
    "$T/w-resv.log" >/dev/null || fail "resv events: $(cat "$T/w-resv.log")"
[ "$(jq -r -s '[.[].body.resv.state] | join(",")' "$T/w-resv.log")" \
  = "requested,provisioning,active" ] || fail "resv states: $(cat "$T/w-resv.log")"
wait_rc w-path; [ "$WRC" = 0 ] || fail "watch paths"
[ "$(jq -r -s '[.[].body.path.state] | join(",")' "$T/w-path.log")" \
  = "provisioning,up" ] || fail "path states: $(cat "$T/w-path.log")"
wait_rc w-resv-h; [ "$WRC" = 0 ] || fail "human watch reservations"
grep -q "resv $id h1<->h2 provisioning -> active" "$T/w-resv-h.log" \
    || fail "human resv line"

echo "== exit codes: an error reply is 1"
expect 1 "${CTL[@]}" reserve show r-999
grep -q "broker $(ep broker): " "$T/err" || fail "error names the broker"
expect 1 "${CTL[@]}" reserve create h1 h9
expect 1 "${CTL[@]}" link del nosuchlink

echo "== the planner publishes no decision yet: --timeout ends the watch"
expect 0 "${CTL[@]}" watch decisions --timeout 0.5
expect 3 "${CTL[@]}" watch decisions --count 1 --timeout 0.5
grep -q "0 of 1 event from planner" "$T/err" || fail "$(cat "$T/err")"

echo "== a dead service: a clear error within the timeout, exit 3"
vr_stop aggregator
[ "$VR_RC" = 0 ] || fail "aggregator exited $VR_RC"
for cmd in topology matrix "status aggregator"; do
    start=$SECONDS
    # shellcheck disable=SC2086
    expect 3 timeout 10 "${CTL[@]}" --timeout 500 $cmd
    [ $((SECONDS - start)) -le 3 ] || fail "$cmd took $((SECONDS - start)) s"
done
expect 3 timeout 10 "${CTL[@]}" --timeout 500 topology
grep -q "aggregator $(ep aggregator): no reply .* (is it running?" "$T/err" \
    || fail "unclear error: $(cat "$T/err")"
expect 3 timeout 10 "${CTL[@]}" --timeout 300 watch topology --count 1 --timeout 1
grep -q "warning: aggregator .*no reply" "$T/err" || fail "watch warning: $(cat "$T/err")"
grep -q "0 of 1 event from aggregator" "$T/err" || fail "watch: $(cat "$T/err")"
expect 3 timeout 10 "${CTL[@]}" -e broker=ipc://$T/nothing --timeout 300 \
    reserve list

vr_stop fake
"${CTL[@]}" reserve release "$id" >/dev/null
vr_stop_services agent planner broker adapter
echo "1 passed, 0 failed"
