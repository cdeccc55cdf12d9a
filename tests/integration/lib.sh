# SPDX-License-Identifier: MIT
# Shared helpers for the integration tests (sourced, bash).  Every process a
# test starts is recorded by PID and ended on exit, whatever the outcome;
# the scratch directory goes with it.

set -euo pipefail

: "${VR_BUILD_DIR:?set by ctest}"
: "${VR_SRC_DIR:?set by ctest}"
BIN="$VR_BUILD_DIR/bin"
VR_PIDS=()
VR_HOOKS=()
T=$(mktemp -d "/tmp/vr-test.XXXXXX")

# The tests' python3 is Debian's, which deploy/install-deps.sh installs:
# the python3 first on PATH may be a version manager's shim (pyenv's took
# 0.5 s a call here, against 0.05 s), and the suite calls it hundreds of
# times.  The tests use only its standard library.
if [ -x /usr/bin/python3 ]; then
    mkdir "$T/bin"
    ln -s /usr/bin/python3 "$T/bin/python3"
    PATH="$T/bin:$PATH"
fi

# vr_on_cleanup CMD: runs CMD (a string, eval'd) at exit, before the
# recorded processes are ended; e.g. to take a test bed down.
vr_on_cleanup() {
    VR_HOOKS+=("$1")
}

vr_cleanup() {
    local rc=$? hook
    set +e
    for hook in "${VR_HOOKS[@]}"; do
        eval "$hook"
    done
    for pid in "${VR_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${VR_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        echo "--- test failed (rc=$rc); logs:" >&2
        for f in "$T"/*.log; do
            [ -e "$f" ] || continue
            echo "--- $f" >&2
            tail -n 30 "$f" >&2
        done
    fi
    # VR_TEST_KEEP=DIR: a failed test's whole logs kept for reading;
    # with VR_TEST_KEEP_ALL=1 a passed one's too.
    if [ -n "${VR_TEST_KEEP:-}" ] && { [ "$rc" -ne 0 ] || [ -n "${VR_TEST_KEEP_ALL:-}" ]; }; then
        mkdir -p "$VR_TEST_KEEP" && cp -a "$T"/*.log "$VR_TEST_KEEP"/ 2>/dev/null
        echo "--- logs kept in $VR_TEST_KEEP" >&2
    fi
    rm -rf "$T"
    exit "$rc"
}
trap vr_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# vr_start NAME BINARY [ARGS...]: starts BINARY in the background, logging
# to $T/NAME.log, and records its PID in VR_PIDS and in $T/NAME.pid.
vr_start() {
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    local pid=$!
    VR_PIDS+=("$pid")
    echo "$pid" >"$T/$name.pid"
}

# vr_stop NAME: SIGTERM, then waits up to 10 s for the process; sets
# VR_RC to its exit code (124 if it did not exit in time).  Not to be
# called in a subshell, which cannot wait for our children.
vr_stop() {
    local pid
    pid=$(cat "$T/$1.pid")
    kill -TERM "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        VR_RC=124
        return
    fi
    VR_RC=0
    wait "$pid" || VR_RC=$?
}

# vr_sanitized: true when this build tree is the ASan+UBSan one.
vr_sanitized() {
    grep -q '^VR_SANITIZE:BOOL=ON' "$VR_BUILD_DIR/CMakeCache.txt" 2>/dev/null
}

# vr_normal_tree_only WHY: skips the test (77) in the sanitized tree,
# saying why it runs in the normal one only.
vr_normal_tree_only() {
    if vr_sanitized; then
        echo "skip: run in the normal tree only ($1)"
        exit 77
    fi
}

# vr_qemu_test: for a test of QEMU guests on the bed: skips it (77)
# without root, qemu-system-x86_64 or /dev/net/tun, and in the sanitized
# tree (it tests the bed and the guests, not one module's C, and TCG
# boots are slow).
vr_qemu_test() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skip: the test bed needs root"
        exit 77
    fi
    if ! command -v qemu-system-x86_64 >/dev/null || [ ! -c /dev/net/tun ]; then
        echo "skip: no qemu-system-x86_64 or /dev/net/tun (deploy/install-deps.sh)"
        exit 77
    fi
    vr_normal_tree_only "TCG boots are slow and CI's time is counted"
}

# vr_bed_qemus PREFIX: the PIDs of live QEMUs of bed PREFIX, found by
# their -name (whatever vrbed says).
vr_bed_qemus() {
    local d
    for d in /proc/[0-9]*; do
        tr "\0" "\n" 2>/dev/null <"$d/cmdline" | grep -qE "^$1-h[0-9]+v[0-9]+$" \
            && echo "${d#/proc/}"
    done
    return 0
}

# vr_until SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
vr_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# json_get FILE EXPR: evaluates a Python expression over the JSON in FILE
# (bound to 'j') and prints the result.
json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# vr_status_check FILE ID...: the `vnetctl --json status` answer in FILE
# lists exactly the services ID... (in any order), every one with CURVE
# on, and an aggregator that refused nothing (bus_rx_forbidden 0: each
# agent's own key spoke for it).  Fails the test otherwise.
vr_status_check() {
    local f=$1
    shift
    [ "$(json_get "$f" 'sorted(s["id"] for s in j["services"])')" \
      = "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$@")" ] \
        || fail "unexpected ids: $(cat "$f")"
    [ "$(json_get "$f" 'set(s["info"]["curve"] for s in j["services"])')" \
      = "{'on'}" ] || fail "a service does not report curve on"
    [ "$(json_get "$f" '[s["counters"]["bus_rx_forbidden"] for s in j["services"] if s["id"] == "aggregator"][0]')" = 0 ] \
        || fail "the aggregator refused something: $(cat "$f")"
}

# vr_overlay_keys ID...: an overlay key pair for each agent ID in
# $T/overlay-keys, named as on the bus (agent-ID.key); every agent given that
# directory admits all of them.
vr_overlay_keys() {
    local id
    for id in "$@"; do
        [ -e "$T/overlay-keys/agent-$id.key" ] ||
            "$BIN/vnetctl" keygen "$T/overlay-keys" "agent-$id" >/dev/null
    done
}
# vr_overlay_yaml ID: agent ID's overlay key settings, as YAML flow
# entries for its 'overlay:' map (after vr_overlay_keys ID).
vr_overlay_yaml() {
    echo "key: '$T/overlay-keys/agent-$1.key', peers_dir: '$T/overlay-keys'"
}

# vr_bed_agent_yaml FILE I CONTROL [LINE...]: the config of agent hI on a
# bed whose hosts are 10.200.0.I (h1 the proxy, the others its members),
# publishing to ipc://$T/ingest, with the keys of vr_overlay_keys; each
# LINE is appended (ports:, period_ms:, ...).
vr_bed_agent_yaml() {
    local file=$1 i=$2 control=$3 role="# no proxy_addr: the proxy"
    shift 3
    [ "$i" = 1 ] || role="proxy_addr: 10.200.0.1:7000"
    {
        cat <<YAML
id: h$i
$role
bus:
  control: $control
  aggregator: ipc://$T/ingest
overlay:
  listen: 10.200.0.$i:7000
  host_ip: 10.200.0.$i
  key: $T/overlay-keys/agent-h$i.key
  peers_dir: $T/overlay-keys
YAML
        local line
        for line in "$@"; do echo "$line"; done
    } >"$file"
}

# The five services by role, and their binaries.
VR_ROLES=(agent aggregator planner broker adapter)
declare -A VR_BINARY=([agent]=vnet-agent [aggregator]=vttif-aggregator
    [planner]=vadapt-planner [broker]=vreserve-broker [adapter]=odin-adapter)

# vr_start_services: starts every service with its config $T/<role>.yaml.
vr_start_services() {
    local role
    for role in "${VR_ROLES[@]}"; do
        vr_start "$role" "$BIN/${VR_BINARY[$role]}" -c "$T/$role.yaml"
    done
}

# vr_stop_services [NAME...]: SIGTERMs what vr_start started under those
# names (the five services by default) and fails unless each exits 0.
vr_stop_services() {
    local role
    for role in "${@:-${VR_ROLES[@]}}"; do
        vr_stop "$role"
        [ "$VR_RC" = 0 ] || fail "$role exited $VR_RC on SIGTERM"
    done
}

# Reservation helpers; they call "${CTL[@]}" (vnetctl with the test's
# config), which the test sets.
# resv_field ID FIELD: one field of reservation ID (vnetctl reserve show).
resv_field() { "${CTL[@]}" --json reserve show "$1" | jq -r ".$2"; }
# resv_wait ID STATE: until reservation ID is in STATE (10 s at most).
resv_wait() {
    local id=$1 want=$2 s
    for _ in $(seq 200); do
        s=$(resv_field "$id" state)
        [ "$s" = "$want" ] && return 0
        sleep 0.05
    done
    echo "$id: $s, not $want" >&2
    return 1
}
# svc_counter ROLE NAME: a counter of ROLE's status.
svc_counter() {
    "${CTL[@]}" --json status "$1" | jq -r ".services[0].counters.$2"
}

# vr_planner_yaml FILE [LINE...]: a planner config in FILE on the
# endpoints ep planner, planner-events, agg, agg-events, broker and
# broker-events, top-k 4, min demand 1 Mbit/s, tick 50 ms; each LINE
# ("key: value", top level) is added, replacing an earlier one of its key.
vr_planner_yaml() {
    local f=$1 i j dup
    shift
    local lines=("policy: top-k" "k: 4" "min_demand_mbps: 1"
        "release_mbps: 0.5" "tick_ms: 50" "$@")
    {
        cat <<YAML
bus:
  control: $(ep planner)
  events: $(ep planner-events)
  aggregator: $(ep agg)
  aggregator_events: $(ep agg-events)
  broker: $(ep broker)
  broker_events: $(ep broker-events)
YAML
        for ((i = 0; i < ${#lines[@]}; i++)); do
            dup=0
            for ((j = i + 1; j < ${#lines[@]}; j++)); do
                [ "${lines[j]%%:*}" = "${lines[i]%%:*}" ] && dup=1
            done
            [ "$dup" = 1 ] || echo "${lines[i]}"
        done
    } >"$f"
}

# The broker and the adapter on the sim test bed (hosts h1.. at
# 10.210.0.1..), as most tests of reservations run them.
# ep NAME: the ipc:// endpoint NAME in the scratch directory.
ep() { echo "ipc://$T/$1"; }
# vr_ctl_yaml: writes $T/ctl.yaml (vnetctl for the broker and the adapter
# at their ep endpoints) and sets CTL to vnetctl with it.
vr_ctl_yaml() {
    cat >"$T/ctl.yaml" <<YAML
broker: $(ep broker)
adapter: $(ep adapter)
timeout_ms: 3000
YAML
    CTL=("$BIN/vnetctl" -c "$T/ctl.yaml")
}
# vr_adapter_yaml FILE STATE [LINE...]: writes FILE, an adapter config: the
# bus at ep adapter and adapter-events, state STATE, tick_ms 5, then each
# LINE (the backend and its settings; YAML, may span lines).
vr_adapter_yaml() {
    local file=$1 state=$2
    shift 2
    {
        echo "bus: {control: '$(ep adapter)', events: '$(ep adapter-events)'}"
        echo "state: $state"
        echo "tick_ms: 5"
        printf '%s\n' "$@"
    } >"$file"
}
# vr_broker_yaml DB [LINE...]: writes $T/broker.yaml, a broker config: the
# bus at ep broker, broker-events, adapter and adapter-events, db DB, then
# each LINE (YAML, may span lines; one of them its networks).
vr_broker_yaml() {
    local db=$1
    shift
    {
        cat <<YAML
bus:
  control: $(ep broker)
  events: $(ep broker-events)
  adapter: $(ep adapter)
  adapter_events: $(ep adapter-events)
db: $db
YAML
        printf '%s\n' "$@"
    } >"$T/broker.yaml"
}
# vr_network_yaml N [MAX_PATHS]: the broker's 'networks:' with one network,
# omninet, of hosts h1..hN at 10.210.0.1..N, MAX_PATHS paths at most if
# given.
vr_network_yaml() {
    local i
    echo "networks:"
    echo "  - name: omninet"
    [ -z "${2:-}" ] || echo "    max_paths: $2"
    echo "    endpoints:"
    for i in $(seq "$1"); do
        echo "      - {host: h$i, ip: 10.210.0.$i}"
    done
}
# vr_start_resv ADAPTER_CFG [ADAPTER [BROKER]]: starts the adapter (binary
# ADAPTER, odin-adapter by default) with ADAPTER_CFG and the broker (binary
# BROKER, vreserve-broker by default) with $T/broker.yaml, then waits until
# both answer "${CTL[@]}" status (10 s).
vr_start_resv() {
    vr_start adapter "$BIN/${2:-odin-adapter}" -c "$1"
    vr_start broker "$BIN/${3:-vreserve-broker}" -c "$T/broker.yaml"
    vr_until 10 "${CTL[@]}" status broker adapter || fail "services not up"
}
# vr_restart_adapter CMD...: kill -9 the adapter, reap it, start CMD as the
# adapter and wait until it answers (10 s).
vr_restart_adapter() {
    kill -KILL "$(cat "$T/adapter.pid")"
    wait "$(cat "$T/adapter.pid")" 2>/dev/null || true
    vr_start adapter "$@"
    vr_until 10 "${CTL[@]}" status adapter || fail "adapter did not restart"
}
# adapter_held: how many paths the adapter holds (provisioning, up or
# tearing down).
adapter_held() {
    echo $(( $(svc_counter adapter paths_provisioning) \
        + $(svc_counter adapter paths_up) \
        + $(svc_counter adapter paths_tearing_down) ))
}
# resv_no_leak: fails unless the adapter holds as many paths as the broker
# has open reservations (nothing leaked, nothing forgotten).
resv_no_leak() {
    local h o
    h=$(adapter_held)
    o=$("${CTL[@]}" --json reserve list \
        | jq '[.[] | select(.state != "released" and .state != "failed")] | length')
    echo "adapter holds $h paths, the broker has $o open reservations"
    [ "$h" = "$o" ] || fail "adapter and broker disagree: $h != $o"
}

# vr_curve_yaml CERT ALLOWED SERVERS: a service's 'curve:' settings: its
# certificate CERT, the clients' keys in ALLOWED, the servers' in SERVERS.
vr_curve_yaml() {
    cat <<YAML
curve:
  cert: $1
  allowed: $2
  servers: $3
YAML
}
# vr_aggregator_yaml [LINE...]: writes $T/aggregator.yaml: the bus at ep
# aggregator, agg-events and ingest, then each LINE (YAML).
vr_aggregator_yaml() {
    {
        cat <<YAML
bus:
  control: $(ep aggregator)
  events: $(ep agg-events)
  ingest: $(ep ingest)
YAML
        printf '%s\n' "$@"
    } >"$T/aggregator.yaml"
}
