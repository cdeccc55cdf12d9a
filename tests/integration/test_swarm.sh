#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: lock docker
# The Docker Swarm stack (deploy/swarm/stack.yaml) on a one-node swarm.
#
# The node is host h1 of a test bed of our own: a dockerd of this test's
# own runs in that host's network namespace (its own data root, exec root
# and socket), so the agent, a global service in "host" networking, sees
# h1's VM port vm1 exactly as on a real host, and the swarm advertises
# h1's address 10.200.0.1.  The machine's own dockerd is never touched
# (its swarm state neither): it only lends the images (docker save).
# Host h2's agent runs natively, beside the bed.  Checked: every service
# answers `vnetctl status` under CURVE, a client without a key gets
# nothing; the containers are read-only, drop every capability, the
# agent gets back NET_RAW and NET_ADMIN only; the containerised agent
# captures vm1 (found by the glob vm*) and is the overlay's proxy: h1v1
# and h2v1 ping each other through it; a killed broker container is
# replaced by swarm and the reservation made before is still there
# (its volume); a killed agent container is replaced and captures again.
# The closed loop under swarm: the agents (the stack's and h2's) bind
# tcp://*:7110 and announce the address they found at run time (no node's
# address in the stack's template); an iperf3 h1v1 -> h2v1 makes the
# stack's planner reserve a VLAN circuit (the adapter's netns backend, as
# on the bed outside swarm: tests/integration/test_vlan_bed.sh), both
# agents move the traffic onto it (the circuit device's and the fast
# path's counters, not the commodity NIC's), and when iperf3 stops the
# reservation is released and the sub-interfaces are gone.
# At the end (also on failure): stack rm, volumes, secrets and configs
# gone, `swarm leave --force`, our dockerd stopped, its data removed, the
# bed down.
#
# Root only (exit 77 otherwise).  Runs in the normal build tree only: the
# images do not depend on the build tree, so the ASan tree skips it.
if [ "$(id -u)" -ne 0 ]; then
    echo "skip: docker needs root"
    exit 77
fi
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
vr_normal_tree_only "the images are tested once"

T0=$SECONDS
say() { printf '[%3d s] %s %s\n' "$((SECONDS - T0))" "$(date +%T)" "$*"; }

BED="$VR_SRC_DIR/deploy/testbed/vrbed"
STACK="$VR_SRC_DIR/deploy/swarm/stack.yaml"
P="vsw$$"                       # the bed
S="vrs"                         # the stack (alone in our swarm)
RUNDIR=/run/vrswarm             # our dockerds' exec roots, by test PID
EXEC="$RUNDIR/$$"
SOCK="$EXEC/docker.sock"
DATA="$T/docker"
IMAGES=(agent aggregator planner broker adapter)

dk() { timeout 60 /usr/bin/docker "$@"; }             # the machine's
sx() { timeout 60 /usr/bin/docker -H "unix://$SOCK" "$@"; }   # ours

# stop_dockerd DIR: ends the dockerd whose exec root is DIR (its PID from
# DIR/dockerd.pid, checked to be a dockerd with that exec root): SIGTERM,
# SIGKILL after 20 s.
stop_dockerd() {
    local dir=$1 pid
    pid=$(cat "$dir/dockerd.pid" 2>/dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--exec-root $dir " || return 0
    kill -TERM "$pid"
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# What a SIGKILLed run left (its PID gone): its dockerd, exec root, bed.
for d in "$RUNDIR"/*; do
    [ -d "$d" ] || continue
    pid=${d##*/}
    [[ $pid =~ ^[0-9]+$ ]] || continue
    kill -0 "$pid" 2>/dev/null && continue
    echo "removing what killed run $pid left"
    stop_dockerd "$d"
    data=$(cat "$d/data-root" 2>/dev/null || true)
    # its scratch directory, with the data root in it
    [[ $data =~ ^/tmp/vr-test\.[A-Za-z0-9]+/docker$ ]] && rm -rf "${data%/docker}"
    rm -rf "$d"
    "$BED" down --prefix "vsw$pid" >/dev/null 2>&1 || true
done

# swarm_down: the stack, its volumes, the swarm, our dockerd and its data;
# each step bounded, each a no-op when already done.  Runs before the bed
# goes (vrbed down would end the processes in h1's namespace).
SWARM_DOWN=0
swarm_down() {
    [ "$SWARM_DOWN" = 0 ] || return 0
    SWARM_DOWN=1
    if sx info >/dev/null 2>&1; then
        sx service logs --raw "${S}_agent" >"$T/agent-container.log" 2>&1 || true
        sx stack rm "$S" >>"$T/stack-rm.log" 2>&1 || true
        for _ in $(seq 300); do
            [ -z "$(sx ps -aq)" ] &&
                [ -z "$(sx network ls -q --filter "label=com.docker.stack.namespace=$S")" ] &&
                break
            sleep 0.1
        done
        sx volume rm "${S}_broker-state" "${S}_adapter-state" >/dev/null 2>&1 || true
        sx swarm leave --force >/dev/null 2>&1 || true
    fi
    stop_dockerd "$EXEC"
    rm -rf "$EXEC" "$DATA"
}
vr_on_cleanup swarm_down
vr_on_cleanup '"$BED" down --prefix "$P" >/dev/null 2>&1'

# The images, in the machine's dockerd: a no-op from the build cache when
# they are current (tests/run-all.sh builds them before ctest).
timeout 420 "$VR_SRC_DIR/docker/build.sh" "${IMAGES[@]}" >"$T/images.log" 2>&1 \
    || { cat "$T/images.log" >&2; fail "docker/build.sh failed"; }
if [ "$(dk info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then
    say "the machine's dockerd is in a swarm: not ours, left alone"
fi
say "images ready"

"$BED" up --prefix "$P" --hosts 2 --vms 1 --rate 100mbit --circuits \
    --vlans 1780-1799 >/dev/null
# The circuits' sub-interfaces: 802.1Q where the kernel has it, else the
# untagged macvlan stand-in (as test_vlan_bed.sh decides).
KIND=macvlan
if ip -n "$P-h1" link add link ckt0 name vrprobe type vlan id 4000 2>/dev/null; then
    ip -n "$P-h1" link del vrprobe
    KIND=vlan
fi
say "bed $P up: h1 (the swarm node), h2 (a native agent), VLAN circuits ($KIND)"

# Our dockerd in h1's network namespace.  It gets a mount namespace of its
# own with h1's sysfs (as `ip netns exec` does) and the machine's cgroups,
# which `ip netns exec` would hide; --iptables=false: it never touches a
# firewall; no default bridge.
mkdir -p "$EXEC"
echo "$DATA" >"$EXEC/data-root"
# shellcheck disable=SC2016
IN_NS='set -e
mkdir -p "$1/cg"
mount --rbind /sys/fs/cgroup "$1/cg"
umount -l /sys
mount -t sysfs sysfs /sys
mount --rbind "$1/cg" /sys/fs/cgroup
umount -l "$1/cg"
shift
exec dockerd "$@"'
vr_start dockerd nsenter --net="/run/netns/$P-h1" \
    unshare --mount --propagation slave bash -c "$IN_NS" in-ns "$EXEC" \
    --data-root "$DATA" --exec-root "$EXEC" --pidfile "$EXEC/dockerd.pid" \
    -H "unix://$SOCK" --iptables=false --ip6tables=false --bridge=none
vr_until 30 sx info || fail "our dockerd did not come up"
say "our dockerd up in $P-h1"
[ "$(sx info --format '{{.Swarm.LocalNodeState}}')" = inactive ] \
    || { echo "skip: our dockerd is in a swarm already"; exit 77; }

refs=()
for i in "${IMAGES[@]}"; do refs+=("vreserve/$i:dev"); done
dk save "${refs[@]}" | timeout 120 /usr/bin/docker -H "unix://$SOCK" load -q \
    >"$T/load.log" 2>&1 || fail "image load: $(cat "$T/load.log")"
say "images loaded"

sx swarm init --advertise-addr 10.200.0.1 --listen-addr 10.200.0.1:2377 \
    --default-addr-pool 10.199.0.0/16 >"$T/init.log" 2>&1 \
    || fail "swarm init: $(cat "$T/init.log")"
NODE_ID=$(sx info --format '{{.Swarm.NodeID}}')
NODE=$(sx node inspect "$NODE_ID" --format '{{.Description.Hostname}}')
[[ $NODE =~ ^[A-Za-z0-9._-]{1,60}$ ]] \
    || { echo "skip: hostname '$NODE' cannot be an agent id"; exit 77; }
[ "$NODE" != h2 ] || { echo "skip: hostname h2 is the native agent's id"; exit 77; }
sx node update --label-add vreserve.control=true "$NODE_ID" >/dev/null
say "one-node swarm on 10.200.0.1 (node $NODE)"
# The control services reach agents on other hosts from the overlay
# through the node's docker_gwbridge.  Our dockerd runs with
# --iptables=false, so it does not masquerade that network as a normal
# one does: h2 gets a route back to it through h1 instead.  Before the
# deploy: a planner whose calls to h2's agent go unanswered holds its
# loop for call_timeout_ms each time, and misses `vnetctl status`.
gwnet() { GWNET=$(sx network inspect docker_gwbridge \
    -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null); }
vr_until 30 gwnet || fail "swarm init made no docker_gwbridge"
[[ $GWNET =~ ^[0-9.]+/[0-9]+$ ]] || fail "docker_gwbridge's subnet: '$GWNET'"
ip netns exec "$P-h1" sysctl -qw net.ipv4.ip_forward=1
ip -n "$P-h2" route add "$GWNET" via 10.200.0.1

# Keys: the roles, vnetctl, the node's agent (its id the hostname) and h2.
KEYS="$T/keys"
VNETCTL="$BIN/vnetctl" "$VR_SRC_DIR/deploy/keys.sh" "$KEYS" "$NODE" h2 >/dev/null
"$VR_SRC_DIR/deploy/swarm/stack-keys.sh" "$KEYS" >"$T/stack-keys.yaml"
mkdir -m 0700 "$T/agent-cert"
install -m 0644 "$KEYS/agent-$NODE.key" "$T/agent-cert/agent.key"
install -m 0600 "$KEYS/agent-$NODE.key_secret" "$T/agent-cert/agent.key_secret"

# The example configs, for the bed: the adapter hands out VLAN circuits
# of the bed's switch (the netns backend; the paper's delays x 0.01), the
# broker's endpoints are the two hosts by agent id, the planner reacts
# within a second, the agents report every 100 ms.
cp -r "$VR_SRC_DIR/deploy/config/examples/swarm" "$T/config"
sed -i 's/^backend: sim$/backend: netns/' "$T/config/adapter.yaml"
cat >>"$T/config/adapter.yaml" <<YAML
sim: {time_scale: 0.01}
netns:
  vlans: 1780-1799
  hosts:
    - {ip: 10.200.0.1, netns: $P-h1}
    - {ip: 10.200.0.2, netns: $P-h2}
YAML
sed -i -e "s/{ host: h1, ip: 10.210.0.1 }/{ host: $NODE, ip: 10.200.0.1 }/" \
    -e "s/{ host: h2, ip: 10.210.0.2 }/{ host: h2, ip: 10.200.0.2 }/" \
    "$T/config/broker.yaml"
grep -q "host: $NODE, ip: 10.200.0.1" "$T/config/broker.yaml" \
    || fail "the broker's example endpoints changed: $T/config/broker.yaml"
printf '%s\n' 'reconcile_ms: 500' >>"$T/config/broker.yaml"
printf '%s\n' 'policy: top-k' 'k: 1' 'min_demand_mbps: 1' 'release_mbps: 0.5' \
    'tick_ms: 50' 't_up_ms: 500' 't_down_ms: 3000' 'max_adds: 8' \
    'bandwidth_mbps: 1000' >>"$T/config/planner.yaml"
printf '%s\n' 'period_ms: 100' >>"$T/config/agent.yaml.tmpl"
for s in broker planner; do
    b=vreserve-broker
    [ "$s" = planner ] && b=vadapt-planner
    "$BIN/$b" -c "$T/config/$s.yaml" --check >/dev/null 2>&1 \
        || fail "$b rejects $T/config/$s.yaml"
done
"$BIN/odin-adapter" -c "$T/config/adapter.yaml" --check >/dev/null 2>&1 \
    || fail "the adapter rejects $T/config/adapter.yaml"
# The containers' resolver forwards names it does not know to the
# machine's DNS servers, which h1's namespace cannot reach: a stopped
# peer's name would take 20 s to fail (a ZeroMQ reconnect blocks on it,
# a service's exit too).  A server that refuses at once instead.
{
    echo 'version: "3.8"'
    echo "services:"
    for s in aggregator planner broker adapter; do
        echo "  $s: {dns: [127.0.0.1]}"
    done
} >"$T/dns.yaml"
t0=$SECONDS
VR_CONTROL_ADDR=10.200.0.1 VR_PROXY_NODE="$NODE" VR_AGENT_PORTS='vm*' \
    VR_AGENT_CERT="$T/agent-cert" VR_CIRCUIT_NIC=ckt0 VR_CIRCUIT_KIND="$KIND" \
    VR_CONFIG="$T/config" \
    sx stack deploy -c "$STACK" -c "$T/stack-keys.yaml" -c "$T/dns.yaml" "$S" \
    >"$T/deploy.log" 2>&1 || fail "stack deploy failed"

# h2's agent, native, a member of the star whose proxy is the swarm's;
# bound to a wildcard as the stack's is, so it announces the address its
# route to the aggregator leaves from.
cat >"$T/h2.yaml" <<YAML
id: h2
proxy_addr: "10.200.0.1:7000"
bus: {control: "tcp://*:7110", aggregator: "tcp://10.200.0.1:7122"}
overlay: {listen: "0.0.0.0:7000", key: "$KEYS/agent-h2.key", peers_dir: "$KEYS/public",
          circuit_nic: ckt0, circuit_kind: $KIND}
ports: [vm1]
period_ms: 100
curve: {cert: "$KEYS/agent-h2.key", allowed: "$KEYS/public", servers: "$KEYS/public"}
YAML
vr_start agent-h2 ip netns exec "$P-h2" "$BIN/vnet-agent" -c "$T/h2.yaml"

# The operator's vnetctl, from h2: every control port on the node's address.
cat >"$T/ctl.yaml" <<YAML
agent: "agent-$NODE=tcp://10.200.0.1:7110"
agents: ["agent-h2=tcp://10.200.0.2:7110"]
aggregator: "tcp://10.200.0.1:7120"
planner: "tcp://10.200.0.1:7130"
broker: "tcp://10.200.0.1:7140"
adapter: "tcp://10.200.0.1:7150"
timeout_ms: 2000
curve: {cert: "$KEYS/vnetctl.key", servers: "$KEYS/public"}
YAML
grep -v '^curve:' "$T/ctl.yaml" | sed 's/^timeout_ms: .*/timeout_ms: 800/' \
    >"$T/ctl-plain.yaml"
CTL=(ip netns exec "$P-h2" "$BIN/vnetctl" -c "$T/ctl.yaml")

all_up() {
    "${CTL[@]}" --json status >"$T/status.json" 2>/dev/null
    [ "$(json_get "$T/status.json" 'j["up"]')" = 6 ]
}
vr_until 90 all_up || {
    sx service ps --no-trunc "${S}_agent" "${S}_aggregator" "${S}_planner" \
        "${S}_broker" "${S}_adapter" >&2 || true
    "${CTL[@]}" status >&2 || true
    fail "not every service answered within 90 s of the deploy"
}
say "stack deployed, 6 of 6 up in $((SECONDS - t0)) s:"
"${CTL[@]}" status
vr_status_check "$T/status.json" "$NODE" h2 aggregator planner broker adapter
rc=0
ip netns exec "$P-h2" "$BIN/vnetctl" -c "$T/ctl-plain.yaml" --json status \
    >"$T/plain.json" 2>/dev/null || rc=$?
[ "$rc" = 3 ] && [ "$(json_get "$T/plain.json" 'j["up"]')" = 0 ] \
    || fail "a client without a key was answered (exit $rc)"
say "CURVE on everywhere; a client without a key gets nothing"

# What the containers are allowed.
cid() { sx ps -q --filter "label=com.docker.swarm.service.name=${S}_$1"; }
hc() { sx inspect -f "{{json .HostConfig.$2}}" "$(cid "$1")"; }
[ "$(hc agent NetworkMode)" = '"host"' ] || fail "agent not in host networking"
[ "$(hc agent CapDrop)" = '["ALL"]' ] || fail "agent CapDrop $(hc agent CapDrop)"
caps=$(hc agent CapAdd | tr -d '[]"' | tr ',' '\n' | sed 's/^CAP_//' | sort | xargs)
[ "$caps" = "NET_ADMIN NET_RAW" ] || fail "agent CapAdd: $caps"
for s in agent aggregator planner broker adapter; do
    [ "$(hc "$s" ReadonlyRootfs)" = true ] || fail "$s: root not read-only"
    [ "$(hc "$s" CapDrop)" = '["ALL"]' ] || fail "$s: CapDrop $(hc "$s" CapDrop)"
done
[ "$(hc broker CapAdd)" = null ] || fail "broker CapAdd $(hc broker CapAdd)"
[ "$(sx exec "$(cid broker)" id -un)" = vreserve ] || fail "broker not unprivileged"
say "read-only, every capability dropped; the agent NET_RAW and NET_ADMIN only"

# The containerised agent: the proxy, vm1 captured by the glob.
agent_json() { "${CTL[@]}" --json status agent | jq -c '.services[0]'; }
a=$(agent_json)
[ "$(jq -r .info.mode <<<"$a")" = proxy ] || fail "swarm agent not the proxy: $a"
[ "$(jq -r .counters.ports_captured <<<"$a")" -ge 1 ] || fail "vm1 not captured: $a"
sx service logs --raw "${S}_agent" >"$T/agent-container.log" 2>&1 || true
grep -q "port vm1: captured" "$T/agent-container.log" \
    || fail "the agent's log does not show vm1 captured"
in0=$(jq -r .counters.vm_frames_in <<<"$a")
vr_until 20 ip netns exec "$P-h1v1" ping -c 1 -W 1 10.201.2.1 \
    || fail "h1v1 cannot reach h2v1 through the agents"
ip netns exec "$P-h1v1" ping -c 3 -i 0.2 -W 2 10.201.2.1 >"$T/ping.log" \
    || fail "ping h1v1 -> h2v1: $(cat "$T/ping.log")"
ip netns exec "$P-h2v1" ping -c 3 -i 0.2 -W 2 10.201.1.1 >"$T/ping2.log" \
    || fail "ping h2v1 -> h1v1: $(cat "$T/ping2.log")"
a=$(agent_json)
in1=$(jq -r .counters.vm_frames_in <<<"$a")
inj=$(jq -r .counters.injected <<<"$a")
[ "$in1" -ge $((in0 + 6)) ] && [ "$inj" -ge 6 ] \
    || fail "the swarm agent did not carry the pings (in $in0 -> $in1, injected $inj)"
say "h1v1 <-> h2v1 ping through the containerised agent" \
    "($(tail -n 1 "$T/ping.log" | cut -d' ' -f2-4)); its frames in: $in1, injected: $inj"

# The closed loop.  Both agents are bound to tcp://*:7110 and announce
# where they are found: the stack's at the node's address (its route to
# VR_CONTROL_ADDR is local), h2's at its own.
ann() {
    "${CTL[@]}" --json status agent \
        | jq -r ".services[] | select(.id == \"$1\") | .info.announced"
}
[ "$(ann "$NODE")" = tcp://10.200.0.1:7110 ] || fail "$NODE announces '$(ann "$NODE")'"
[ "$(ann h2)" = tcp://10.200.0.2:7110 ] || fail "h2 announces '$(ann h2)'"
say "bound to tcp://*:7110, the agents announce tcp://10.200.0.1:7110 ($NODE," \
    "the stack's) and tcp://10.200.0.2:7110 (h2)"
open_resv() {
    "${CTL[@]}" --json reserve list \
        | jq -r '[.[] | select(.state != "released" and .state != "failed")] | length'
}
ip netns exec "$P-h2v1" iperf3 -s -1 -p 5201 >"$T/iperf-s.log" 2>&1 &
VR_PIDS+=("$!")
vr_until 10 ip netns exec "$P-h2v1" sh -c 'ss -ltn | grep -q :5201' \
    || fail "no iperf3 server in h2v1"
t0=$SECONDS
ip netns exec "$P-h1v1" iperf3 -c 10.201.2.1 -p 5201 -t 120 -b 20M \
    >"$T/iperf-c.log" 2>&1 &
IPERF_C=$!
VR_PIDS+=("$IPERF_C")
up_reserved() { [ "$(svc_counter planner links_up_reserved)" = 1 ]; }
vr_until 60 up_reserved || {
    "${CTL[@]}" status planner broker adapter >&2 || true
    sx service logs --raw "${S}_planner" 2>&1 | tail -n 30 >&2 || true
    fail "the planner did not move iperf3 onto a reserved path within 60 s"
}
"${CTL[@]}" --json reserve list >"$T/resv.json"
R=$(jq -c '[.[] | select(.state == "active")][0]' "$T/resv.json")
RID=$(jq -r .id <<<"$R")
VLAN=$(jq -r .vlan <<<"$R")
[[ $VLAN =~ ^[0-9]+$ ]] && [ "$VLAN" -ge 1780 ] && [ "$VLAN" -le 1799 ] \
    || fail "reservation $R: no VLAN of 1780-1799"
say "iperf3 h1v1 -> h2v1: reservation $RID ($(jq -r '"\(.host_a)-\(.host_b)"' <<<"$R")," \
    "VLAN $VLAN) up and linked $((SECONDS - t0)) s after it started"
DEV="ckt0.$VLAN"
for i in 1 2; do
    ip -n "$P-h$i" link show "$DEV" >/dev/null 2>&1 || fail "h$i: no $DEV"
done
"${CTL[@]}" --json link list >"$T/links.json"
FDEV=$(jq -r ".[] | select(.vlan == $VLAN and .vlan_dev == \"$DEV\" and .state == \"up\") | .fast_dev" "$T/links.json")
[ -n "$FDEV" ] || fail "the stack's agent: no circuit link up on $DEV: $(jq -c . "$T/links.json")"
acount() {
    "${CTL[@]}" --json status agent \
        | jq -r ".services[] | select(.id == \"$1\") | .counters.$2"
}
tx() { ip -n "$P-h1" -j -s link show "$1" | jq '.[0].stats64.tx.bytes'; }
f0=$(acount "$NODE" fast_bytes); v0=$(tx "$FDEV"); c0=$(tx c0)
sleep 2
df=$(( $(acount "$NODE" fast_bytes) - f0 )); dv=$(( $(tx "$FDEV") - v0 ))
dc=$(( $(tx c0) - c0 ))
[ "$df" -gt 1000000 ] || fail "the stack's agent's fast path carries nothing (+$df bytes)"
[ "$dv" -gt 1000000 ] || fail "$FDEV carries nothing (+$dv bytes)"
[ "$dc" -lt $((dv / 20)) ] || fail "the commodity network still carries iperf3 (c0 +$dc bytes)"
say "h1 in 2 s: the circuit $FDEV +$dv bytes (the agent's fast path +$df)," \
    "commodity c0 +$dc bytes"
kill -TERM "$IPERF_C" 2>/dev/null || true
wait "$IPERF_C" 2>/dev/null || true
t0=$SECONDS
released() {
    [ "$(open_resv)" = 0 ] && ! ip -n "$P-h1" link show "$DEV" >/dev/null 2>&1 &&
        ! ip -n "$P-h2" link show "$DEV" >/dev/null 2>&1
}
vr_until 60 released || fail "not released 60 s after iperf3 stopped: $(cat "$T/resv.json")"
[ "$(resv_field "$RID" state)" = released ] || fail "$RID: $(resv_field "$RID" state)"
say "iperf3 stopped: $RID released, $DEV gone on both hosts in $((SECONDS - t0)) s" \
    "(t_down 3 s)"

# A killed broker is replaced; its reservations were on the volume.
id=$("${CTL[@]}" --json reserve create "$NODE" h2 | jq -r .id)
[[ $id =~ ^r-[0-9]+$ ]] || fail "reserve create: '$id'"
vr_until 30 sh -c "[ \"\$(${CTL[*]} --json reserve show $id | jq -r .state)\" = active ]" \
    || fail "reservation $id not active"
path=$(resv_field "$id" path_id)
old=$(cid broker)
t0=$SECONDS
sx kill "$old" >/dev/null
replaced() { local c; c=$(cid broker); [ -n "$c" ] && [ "$c" != "$old" ]; }
vr_until 30 replaced || fail "the broker was not replaced within 30 s"
vr_until 30 "${CTL[@]}" status broker || fail "the new broker does not answer"
say "broker container killed: replaced, answering in $((SECONDS - t0)) s"
[ "$(resv_field "$id" state)" = active ] && [ "$(resv_field "$id" path_id)" = "$path" ] \
    || fail "reservation $id lost: $("${CTL[@]}" --json reserve show "$id")"
say "reservation $id ($path) still active after the replacement"

# A killed agent is replaced and captures vm1 again.
old=$(cid agent)
t0=$SECONDS
sx kill "$old" >/dev/null
replaced_agent() { local c; c=$(cid agent); [ -n "$c" ] && [ "$c" != "$old" ]; }
vr_until 30 replaced_agent || fail "the agent was not replaced within 30 s"
vr_until 30 ip netns exec "$P-h1v1" ping -c 1 -W 1 10.201.2.1 \
    || fail "no ping through the replaced agent"
say "agent container killed: replaced, ping through it again in $((SECONDS - t0)) s"

# Everything removed.
t0=$SECONDS
sx stack rm "$S" >"$T/stack-rm.log" 2>&1 || fail "stack rm failed"
gone() {
    [ -z "$(sx ps -aq)" ] && [ -z "$(sx secret ls -q)" ] &&
        [ -z "$(sx config ls -q)" ] &&
        [ -z "$(sx network ls -q --filter "label=com.docker.stack.namespace=$S")" ]
}
vr_until 60 gone || fail "containers, secrets, configs or network left after stack rm"
sx volume rm "${S}_broker-state" "${S}_adapter-state" >/dev/null \
    || fail "volume rm failed"
sx swarm leave --force >/dev/null || fail "swarm leave failed"
[ "$(sx info --format '{{.Swarm.LocalNodeState}}')" = inactive ] \
    || fail "still in the swarm"
say "stack, secrets, configs, network, volumes removed; swarm left" \
    "($((SECONDS - t0)) s)"
swarm_down
[ ! -e "$EXEC" ] && [ ! -e "$DATA" ] || fail "our dockerd's files left"
say "our dockerd stopped, its data removed"
echo "1 passed, 0 failed"
