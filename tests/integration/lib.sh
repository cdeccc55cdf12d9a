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
