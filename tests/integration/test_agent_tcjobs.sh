#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# The control thread never waits for tc (issue 13 item 6): an agent with
# a VM port whose tc hangs (a root-owned script that sleeps) answers
# link list and status at once while the run hangs, acks a rule change
# within its bound (saying the fast path follows), kills the hung run at
# tc_timeout_ms (3 s: the requests below take over 1.5 s on a loaded
# machine) by its PID and counts it, and, its port never set up,
# turns the fast path off and keeps running.  A tc others may write is
# refused at start.  One agent in a network namespace of its own.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }

NS="vrtc$$"
ip netns add "$NS"
vr_on_cleanup 'ip netns del "$NS" 2>/dev/null'
ip -n "$NS" link set lo up
ip -n "$NS" link add vp0 type veth peer name vp1
ip -n "$NS" link set vp0 up
ip -n "$NS" link set vp1 up

# A tc that hangs: it notes its PID and arguments, then sleeps.
cat >"$T/tc-hang" <<SH
#!/bin/sh
echo "\$\$ \$*" >>"$T/tc.calls"
exec sleep 60
SH
chmod 0755 "$T/tc-hang"

CTL=("$BIN/vnetctl" -e agent="ipc://$T/agent")
vr_overlay_keys tcjobs
agent_yaml() { # agent_yaml TC
    cat >"$T/agent.yaml" <<YAML
id: tcjobs
bus:
  control: ipc://$T/agent
  aggregator: ipc://$T/ingest
overlay: {listen: '127.0.0.1:7000', $(vr_overlay_yaml tcjobs)}
ports: [vp0]
tc: $1
tc_timeout_ms: 3000
YAML
}
counter() { "${CTL[@]}" --json status agent | jq -r ".services[0].counters.$1"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

echo "== a tc others may write is refused"
cp "$T/tc-hang" "$T/tc-open"
chmod 0757 "$T/tc-open"
agent_yaml "$T/tc-open"
rc=0
timeout 10 ip netns exec "$NS" "$BIN/vnet-agent" -c "$T/agent.yaml" \
    >"$T/refused.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "the agent ran with a tc others may write (rc $rc)"
grep -q "will not be run" "$T/refused.log" || fail "no reason given: $(cat "$T/refused.log")"

echo "== requests while tc hangs"
agent_yaml "$T/tc-hang"
t_start=$(date +%s%N)
vr_start agent ip netns exec "$NS" "$BIN/vnet-agent" -c "$T/agent.yaml"
vr_until 10 "${CTL[@]}" status agent || fail "the agent did not come up"
hung() { [ -s "$T/tc.calls" ]; }
vr_until 5 hung || fail "tc never ran"
pid=$(head -n 1 "$T/tc.calls" | cut -d' ' -f1)
kill -0 "$pid" || fail "the hung tc is not running"
[ "$(counter tc_queued)" -ge 1 ] || fail "no tc run queued"
t0=$(date +%s%N)
"${CTL[@]}" link list >/dev/null || fail "link list"
list_ms=$(ms_since "$t0")
t0=$(date +%s%N)
"${CTL[@]}" link add l1 127.0.0.1:7999 >/dev/null || fail "link add"
add_ms=$(ms_since "$t0")
t0=$(date +%s%N)
"${CTL[@]}" link probe l1 --timeout 300 >/dev/null 2>&1 || true
probe_ms=$(ms_since "$t0")
echo "while tc hangs: link list $list_ms ms, link add $add_ms ms," \
    "a probe (no echo, 300 ms timeout) $probe_ms ms"
[ "$list_ms" -lt 500 ] && [ "$add_ms" -lt 500 ] || fail "requests were slow while tc hung"
[ "$probe_ms" -lt 1300 ] || fail "the probe took $probe_ms ms"
kill -0 "$pid" || fail "tc did not hang through the requests"
t0=$(date +%s%N)
"${CTL[@]}" rule add 02:00:00:00:00:09 l1 >"$T/rule.txt" || fail "rule add"
ms=$(ms_since "$t0")
echo "rule add acked in $ms ms: $(cat "$T/rule.txt")"
[ "$ms" -lt 1500 ] || fail "rule add took $ms ms"

echo "== the hung run is killed and counted"
timed_out() { [ "$(counter tc_timeouts)" -ge 1 ]; }
vr_until 10 timed_out || fail "no tc timeout counted"
echo "first timeout after $(ms_since "$t_start") ms (tc_timeout_ms 3000)"
gone() { ! kill -0 "$pid" 2>/dev/null; }
vr_until 2 gone || fail "the hung tc ($pid) is still there"
grep -q "timed out" "$T/agent.log" || fail "the timeout is not logged"
off() {
    "${CTL[@]}" --json status agent | jq -r '.services[0].info.fastpath' \
        | grep -q "^off"
}
vr_until 30 off || fail "the fast path is still on without its port"
"${CTL[@]}" --json status agent \
    | jq -c '.services[0].counters | {tc_runs, tc_failed, tc_timeouts, tc_queued}'
t0=$(date +%s%N)
"${CTL[@]}" link list >/dev/null || fail "link list after the timeouts"
[ "$(ms_since "$t0")" -lt 1000 ] || fail "slow after the timeouts"
vr_stop agent
[ "$VR_RC" = 0 ] || fail "the agent exited $VR_RC"
echo "1 passed, 0 failed"
