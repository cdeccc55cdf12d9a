# SPDX-License-Identifier: MIT
# Sourced by deploy/demo.sh and tests/bench/adapt.sh: the whole system on
# the test bed.  H hosts x V VMs plus one more host as the star's proxy,
# a commodity network at LOOP_RATE, the adapter's netns backend making
# real paths between the first H hosts, every service, and helpers to run
# the workloads and read what happened.  Callers set the LOOP_* knobs,
# call loop_up, and must call loop_down (trap) whatever happens.
#
# Knobs (defaults):
#   LOOP_BIN       build/bin directory (required)
#   LOOP_DIR       work directory for configs, logs, watch output (required)
#   LOOP_PREFIX    test-bed prefix (vl<pid>)
#   LOOP_HOSTS 4   LOOP_VMS 2   LOOP_RATE 100mbit
#   LOOP_SCALE     time_scale of the paper's delays (0.2: 17.5 s -> 3.5 s)
#   LOOP_K 6       LOOP_T_UP_MS 1000   LOOP_T_DOWN_MS 10000
#   LOOP_HOLD_COST 1  the planner's hold_cost (an idle path is kept for
#                  (set-up + teardown) / LOOP_HOLD_COST)
#   LOOP_BW 1000   Mbit/s asked per path (the veth pair is shaped to it)
#   LOOP_POLICY top-k   LOOP_MIN_MBPS 5
#   LOOP_MSG 64K, LOOP_COMPUTE_US 0: BSP message size, compute per iteration
#   LOOP_VM_KIND netns|qemu: with qemu the VMs are QEMU guests (vrbed
#                  --vm-kind qemu), started once the agents run (the
#                  proxy host's are never started); the workloads run in
#                  them through `vrbed exec`.  loop_up sets LOOP_BOOT_S
#                  (their boot) and LOOP_PING_S (from then to the first
#                  ping answered through the overlay, host 1 to host 2).
#   LOOP_BACKEND netns  or nsi: the paths are NSI connections at OpenNSA
#                  (LOOP_NSI_PEER, its test peer directory: started by
#                  loop_up on loopback with one port per host, h1..hH,
#                  VLANs LOOP_VLANS, stopped by loop_down), and the bed
#                  has VLAN circuits (vrbed --circuits, the same VLANs):
#                  the agents put each path on a sub-interface of ckt0
#   LOOP_VLANS 1780-1799

LOOP_PREFIX=${LOOP_PREFIX:-vl$$}
LOOP_HOSTS=${LOOP_HOSTS:-4}
LOOP_VMS=${LOOP_VMS:-2}
LOOP_RATE=${LOOP_RATE:-100mbit}
LOOP_SCALE=${LOOP_SCALE:-0.2}
LOOP_K=${LOOP_K:-6}
LOOP_T_UP_MS=${LOOP_T_UP_MS:-1000}
LOOP_T_DOWN_MS=${LOOP_T_DOWN_MS:-10000}
LOOP_HOLD_COST=${LOOP_HOLD_COST:-1}
LOOP_BW=${LOOP_BW:-1000}
LOOP_POLICY=${LOOP_POLICY:-top-k}
LOOP_MIN_MBPS=${LOOP_MIN_MBPS:-5}
LOOP_VM_KIND=${LOOP_VM_KIND:-netns}
LOOP_BACKEND=${LOOP_BACKEND:-netns}
LOOP_VLANS=${LOOP_VLANS:-1780-1799}
LOOP_NSI_W=
LOOP_CIRCUIT_KIND=
LOOP_PIDS=()
LOOP_BED="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/vrbed"
LOOP_PROXY=$((LOOP_HOSTS + 1))

loop_ep() { echo "ipc://$LOOP_DIR/$1"; }
loop_ctl() { "$LOOP_BIN/vnetctl" -c "$LOOP_DIR/vnetctl.yaml" "$@"; }
# loop_vm_ns RANK: the namespace of the VM that runs rank RANK (ranks fill
# host 1's VMs first).
loop_vm_ns() { echo "$LOOP_PREFIX-h$(($1 / LOOP_VMS + 1))v$(($1 % LOOP_VMS + 1))"; }
loop_vm_ip() { echo "10.201.$(($1 / LOOP_VMS + 1)).$(($1 % LOOP_VMS + 1))"; }
loop_vm_name() { echo "h$(($1 / LOOP_VMS + 1))v$(($1 % LOOP_VMS + 1))"; }
# loop_vm_exec RANK TIMEOUT_S CMD...: CMD in the VM of rank RANK (its
# namespace, or its QEMU guest through vrbed exec, where the project's
# programs are on PATH: give their bare names).
loop_vm_exec() {
    local r=$1 t=$2
    shift 2
    if [ "$LOOP_VM_KIND" = qemu ]; then
        "$LOOP_BED" exec --prefix "$LOOP_PREFIX" --timeout "$t" "$(loop_vm_name "$r")" "$@"
    else
        local cmd=$1
        shift
        [ -x "$LOOP_BIN/$cmd" ] && cmd=$LOOP_BIN/$cmd
        ip netns exec "$(loop_vm_ns "$r")" timeout "$t" "$cmd" "$@"
    fi
}

# loop_start NAME CMD...: in the background, logging to LOOP_DIR/NAME.log.
loop_start() {
    local name=$1
    shift
    "$@" >"$LOOP_DIR/$name.log" 2>&1 &
    LOOP_PIDS+=("$!")
    echo "$!" >"$LOOP_DIR/$name.pid"
}

loop_write_configs() {
    local i
    # Each agent its own overlay key; every agent admits them all.
    for i in $(seq "$LOOP_PROXY"); do
        [ -e "$LOOP_DIR/overlay-keys/agent-h$i.key" ] ||
            "$LOOP_BIN/vnetctl" keygen "$LOOP_DIR/overlay-keys" "agent-h$i" \
                >/dev/null
    done
    for i in $(seq "$LOOP_PROXY"); do
        {
            echo "id: h$i"
            [ "$i" != "$LOOP_PROXY" ] && echo "proxy_addr: 10.200.0.$LOOP_PROXY:7000"
            echo "bus: {control: '$(loop_ep agent-h$i)', aggregator: '$(loop_ep ingest)'}"
            echo "overlay: {listen: '0.0.0.0:7000', host_ip: 10.200.0.$i," \
                "key: '$LOOP_DIR/overlay-keys/agent-h$i.key'," \
                "peers_dir: '$LOOP_DIR/overlay-keys'" \
                "${LOOP_CIRCUIT_KIND:+, circuit_nic: ckt0, circuit_kind: $LOOP_CIRCUIT_KIND}}"
            echo "ports: [$(seq -s, -f 'vm%g' "$LOOP_VMS" | sed 's/,/, /g')]"
            echo "period_ms: 100"
        } >"$LOOP_DIR/agent-h$i.yaml"
    done
    cat >"$LOOP_DIR/aggregator.yaml" <<YAML
bus: {control: '$(loop_ep agg)', events: '$(loop_ep agg-events)', ingest: '$(loop_ep ingest)'}
YAML
    {
        echo "bus: {control: '$(loop_ep adapter)', events: '$(loop_ep adapter-events)'}"
        echo "backend: $LOOP_BACKEND"
        echo "state: $LOOP_DIR/adapter.db"
        echo "tick_ms: 5"
        if [ "$LOOP_BACKEND" = nsi ]; then
            loop_nsi_yaml
        else
            echo "sim: {time_scale: $LOOP_SCALE}"
            echo "netns:"
            echo "  hosts:"
            for i in $(seq "$LOOP_HOSTS"); do
                echo "    - {ip: 10.200.0.$i, netns: $LOOP_PREFIX-h$i}"
            done
        fi
    } >"$LOOP_DIR/adapter.yaml"
    {
        echo "bus: {control: '$(loop_ep broker)', events: '$(loop_ep broker-events)',"
        echo "      adapter: '$(loop_ep adapter)', adapter_events: '$(loop_ep adapter-events)'}"
        echo "db: $LOOP_DIR/broker.db"
        echo "reconcile_ms: 1000"
        echo "max_paths_per_host: $LOOP_HOSTS"
        echo "networks:"
        echo "  - name: lab"
        echo "    max_paths: 64"
        echo "    endpoints:"
        for i in $(seq "$LOOP_HOSTS"); do
            echo "      - {host: h$i, ip: 10.200.0.$i}"
        done
    } >"$LOOP_DIR/broker.yaml"
    cat >"$LOOP_DIR/planner.yaml" <<YAML
bus:
  control: $(loop_ep planner)
  events: $(loop_ep planner-events)
  aggregator: $(loop_ep agg)
  aggregator_events: $(loop_ep agg-events)
  broker: $(loop_ep broker)
  broker_events: $(loop_ep broker-events)
policy: $LOOP_POLICY
k: $LOOP_K
ports: $LOOP_HOSTS
min_demand_mbps: $LOOP_MIN_MBPS
release_mbps: $(echo "$LOOP_MIN_MBPS / 2" | bc -l)
t_up_ms: $LOOP_T_UP_MS
t_down_ms: $LOOP_T_DOWN_MS
hold_cost: $LOOP_HOLD_COST
max_adds: 16
tick_ms: 50
bandwidth_mbps: $LOOP_BW
YAML
    cat >"$LOOP_DIR/vnetctl.yaml" <<YAML
agent: $(loop_ep agent-h1)
aggregator: $(loop_ep agg)
aggregator_events: $(loop_ep agg-events)
planner: $(loop_ep planner)
planner_events: $(loop_ep planner-events)
broker: $(loop_ep broker)
broker_events: $(loop_ep broker-events)
adapter: $(loop_ep adapter)
adapter_events: $(loop_ep adapter-events)
timeout_ms: 3000
YAML
}

# The adapter's nsi: section: OpenNSA as started by loop_nsi_start, each
# host's port the STP start.sh printed for it (LOOP_DIR/peer.json).
loop_nsi_yaml() {
    local url nsa i
    url=$(jq -r .url "$LOOP_DIR/peer.json")
    nsa=$(curl -s --max-time 10 "$url/NSI/discovery.xml" | python3 -c '
import sys, xml.etree.ElementTree as ET
print(ET.fromstring(sys.stdin.read()).get("id") or "")' 2>/dev/null || true)
    echo "nsi:"
    echo "  provider_url: $url/NSI/services/CS2"
    [ -z "$nsa" ] || echo "  provider_nsa: '$nsa'"
    echo "  requester_nsa: 'urn:ogf:network:vreserve.demo:2026:loop-$LOOP_PREFIX'"
    echo "  network: '$(jq -r .network "$LOOP_DIR/peer.json")'"
    echo "  poll_ms: 10"
    echo "  hosts:"
    for i in $(seq "$LOOP_HOSTS"); do
        echo "    - {ip: 10.200.0.$i, stp: 'urn:ogf:network:$(jq -r ".ports.h$i" "$LOOP_DIR/peer.json")', vlans: $LOOP_VLANS}"
    done
}

# Starts OpenNSA (LOOP_NSI_PEER) with a port h1..hH per host; its work
# directory is outside LOOP_DIR (PostgreSQL must reach it), removed by
# loop_down.
loop_nsi_start() {
    [ -x "$LOOP_NSI_PEER/start.sh" ] \
        || { echo "no OpenNSA test peer at $LOOP_NSI_PEER" >&2; return 1; }
    LOOP_NSI_W=$(mktemp -d /tmp/vr-onsa.XXXXXX)
    "$LOOP_NSI_PEER/start.sh" "$LOOP_NSI_W" \
        --ports "$(seq -s ' ' -f 'h%g' "$LOOP_HOSTS")" --vlans "$LOOP_VLANS" \
        >"$LOOP_DIR/peer.json" 2>"$LOOP_DIR/peer-start.log" \
        || { tail -n 5 "$LOOP_DIR/peer-start.log" >&2; return 1; }
}

# Brings up the bed, the agents and every control service but the
# planner (loop_start_planner): baselines can be measured first.
loop_up() {
    local kind=()
    [ "$LOOP_VM_KIND" = netns ] || kind=(--vm-kind qemu --stopped --bsp "$LOOP_BIN/vr-bsp")
    if [ "$LOOP_BACKEND" = nsi ]; then
        loop_nsi_start || return 1
        kind+=(--circuits --vlans "$LOOP_VLANS")
    fi
    "$LOOP_BED" up --prefix "$LOOP_PREFIX" --hosts "$LOOP_PROXY" \
        --vms "$LOOP_VMS" --rate "$LOOP_RATE" "${kind[@]}" >"$LOOP_DIR/bed.log" 2>&1 \
        || { cat "$LOOP_DIR/bed.log" >&2; return 1; }
    if [ "$LOOP_BACKEND" = nsi ]; then
        # 802.1Q sub-interfaces where the kernel has them, else the
        # untagged macvlan stand-in (vnet-agent's overlay.circuit_kind).
        LOOP_CIRCUIT_KIND=macvlan
        if ip -n "$LOOP_PREFIX-h1" link add link ckt0 name vrprobe type vlan id 4000 2>/dev/null; then
            ip -n "$LOOP_PREFIX-h1" link del vrprobe
            LOOP_CIRCUIT_KIND=vlan
        fi
    fi
    loop_write_configs
    local i
    for i in $(seq "$LOOP_PROXY"); do
        loop_start "agent-h$i" ip netns exec "$LOOP_PREFIX-h$i" \
            "$LOOP_BIN/vnet-agent" -c "$LOOP_DIR/agent-h$i.yaml"
    done
    loop_start aggregator "$LOOP_BIN/vttif-aggregator" -c "$LOOP_DIR/aggregator.yaml"
    loop_start adapter "$LOOP_BIN/odin-adapter" -c "$LOOP_DIR/adapter.yaml"
    loop_start broker "$LOOP_BIN/vreserve-broker" -c "$LOOP_DIR/broker.yaml"
    for _ in $(seq 100); do
        loop_ctl -t 300 status aggregator broker adapter >/dev/null 2>&1 && break
        sleep 0.1
    done
    loop_ctl -t 1000 status aggregator broker adapter >/dev/null || return 1
    local r n=$((LOOP_HOSTS * LOOP_VMS)) t0
    if [ "$LOOP_VM_KIND" = qemu ]; then
        # The guests boot once the agents run, as VMs start on real hosts.
        local vms=()
        for r in $(seq 0 $((n - 1))); do vms+=("$(loop_vm_name "$r")"); done
        t0=$(date +%s%N)
        "$LOOP_BED" vm-start --prefix "$LOOP_PREFIX" --boot-timeout 300 "${vms[@]}" \
            >>"$LOOP_DIR/bed.log" 2>&1 || { cat "$LOOP_DIR/bed.log" >&2; return 1; }
        LOOP_BOOT_S=$(echo "($(date +%s%N) - $t0) / 1000000000" | bc -l)
        t0=$(date +%s%N)
        for _ in $(seq 100); do
            loop_vm_exec 0 5 ping -c 1 -W 1 "$(loop_vm_ip "$LOOP_VMS")" >/dev/null 2>&1 && break
        done
        LOOP_PING_S=$(echo "($(date +%s%N) - $t0) / 1000000000" | bc -l)
    fi
    # The star carries every VM pair before anything is measured.
    for r in $(seq 1 $((n - 1))); do
        for _ in $(seq 50); do
            loop_vm_exec 0 5 ping -c 1 -W 1 -q "$(loop_vm_ip "$r")" \
                >/dev/null 2>&1 && break
        done
    done
}

loop_start_planner() {
    loop_start planner "$LOOP_BIN/vadapt-planner" -c "$LOOP_DIR/planner.yaml"
    for _ in $(seq 50); do
        loop_ctl -t 300 status planner >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# loop_watch KIND: vnetctl watch KIND --json into LOOP_DIR/watch-KIND.json.
loop_watch() {
    "$LOOP_BIN/vnetctl" -c "$LOOP_DIR/vnetctl.yaml" --json watch "$1" \
        >"$LOOP_DIR/watch-$1.json" 2>"$LOOP_DIR/watch-$1.log" &
    LOOP_PIDS+=("$!")
}

# loop_bsp NAME PATTERN SECONDS RANKS...: vr-bsp on those ranks in the
# background (loop_bsp_wait NAME waits for them).
loop_bsp() {
    local name=$1 pattern=$2 secs=$3 peers="" r i=0
    shift 3
    for r in "$@"; do peers="$peers${peers:+,}$(loop_vm_ip "$r"):5555"; done
    : >"$LOOP_DIR/bsp-$name.pids"
    for r in "$@"; do
        loop_vm_exec "$r" $((secs + 60)) vr-bsp --rank "$i" \
            --peers "$peers" --pattern "$pattern" --duration "$secs" \
            --msg-size "${LOOP_MSG:-64K}" --compute-us "${LOOP_COMPUTE_US:-0}" --json \
            >"$LOOP_DIR/bsp-$name-$i.json" 2>"$LOOP_DIR/bsp-$name-$i.err" &
        LOOP_PIDS+=("$!")
        echo "$!" >>"$LOOP_DIR/bsp-$name.pids"
        i=$((i + 1))
    done
}
# Waits for run NAME; sets LOOP_ITS to rank 0's iterations per second.
# (Not in a command substitution: the ranks are this shell's children.)
loop_bsp_wait() {
    local p rc=0
    for p in $(cat "$LOOP_DIR/bsp-$1.pids"); do wait "$p" || rc=1; done
    [ "$rc" = 0 ] || { cat "$LOOP_DIR"/bsp-"$1"-*.err >&2; return 1; }
    LOOP_ITS=$(jq -r '.iterations_per_sec' "$LOOP_DIR/bsp-$1-0.json")
}

# loop_iperf NAME SECONDS FROM_RANK TO_RANK: iperf3 with 0.5 s intervals,
# JSON into LOOP_DIR/iperf-NAME.json, in the background; the client's
# start (µs since the epoch) into LOOP_DIR/iperf-NAME.t0.
loop_iperf() {
    local name=$1 secs=$2 from=$3 to=$4
    loop_vm_exec "$to" $((secs + 60)) iperf3 -s -1 -p 5201 \
        >"$LOOP_DIR/iperf-$name-server.log" 2>&1 &
    LOOP_PIDS+=("$!")
    # Until the server listens (a guest's command takes a moment).
    for _ in $(seq 100); do
        grep -q "listening" "$LOOP_DIR/iperf-$name-server.log" 2>/dev/null && break
        [ "$LOOP_VM_KIND" = netns ] && { sleep 0.3; break; }
        loop_vm_exec "$to" 5 sh -c 'netstat -ltn | grep -q ":5201 "' && break
        sleep 0.1
    done
    # When the client starts: past a guest's server start-up.
    date +%s%6N >"$LOOP_DIR/iperf-$name.t0"
    loop_vm_exec "$from" $((secs + 30)) iperf3 -c "$(loop_vm_ip "$to")" \
        -p 5201 -t "$secs" -i 0.5 --json >"$LOOP_DIR/iperf-$name.json" 2>&1 &
    LOOP_PIDS+=("$!")
    echo "$!" >"$LOOP_DIR/iperf-$name.pid"
}
# Mean Gbit/s of the intervals that start at or after FROM seconds (and
# before TO) of iperf run NAME.
loop_iperf_mean() {
    jq -r --argjson f "${2:-0}" --argjson t "${3:-1e9}" \
        '[.intervals[].sum | select(.start >= $f and .start < $t) | .bits_per_second] | if length == 0 then 0 else (add / length / 1e9) end' \
        "$LOOP_DIR/iperf-$1.json"
}

loop_down() {
    local p
    for p in "${LOOP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${LOOP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    LOOP_PIDS=()
    "$LOOP_BED" down --prefix "$LOOP_PREFIX" >/dev/null 2>&1 || true
    if [ -n "$LOOP_NSI_W" ]; then
        "$LOOP_NSI_PEER/stop.sh" "$LOOP_NSI_W" >/dev/null 2>&1 || true
        rm -rf "$LOOP_NSI_W"
        LOOP_NSI_W=
    fi
}
