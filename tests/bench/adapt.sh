#!/bin/bash
# SPDX-License-Identifier: MIT
# How fast and how well the loop adapts, on the test bed (4 hosts x 2 VMs,
# a proxy host, 100 Mbit/s commodity network; deploy/testbed/vrloop.sh):
#  - the time from the workload's first frame (iperf3 between two VMs on
#    two hosts; deploy/testbed/first-frame.py catches it on the VM's
#    host-side interface) to its first frame over a reserved path, split into
#    inference, planning (T_up = 0.5 s included), reservation (the path's
#    set-up, broker and adapter included) and switch, with path delays 0
#    and with the paper's (2.5 s + 15 s); our overhead is all but the
#    configured path delay;
#  - iperf3 Gbit/s and BSP all-to-all iterations/s before (commodity
#    overlay) and after adaptation, and on the same bed wired directly (each
#    pair of hosts joined by a link shaped like a path, routed, no overlay).
# Usage: [DUR=5] [REPS=3] tests/bench/adapt.sh [build dir]   (as root; ~4 min)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
LOOP_BIN=$BUILD/bin
LOOP_DIR=$(mktemp -d /tmp/vr-adapt.XXXXXX)
LOOP_T_UP_MS=500 LOOP_T_DOWN_MS=120000 LOOP_K=6
DUR=${DUR:-5}
REPS=${REPS:-3}     # BSP runs per figure (the machine is shared and noisy)
RESULTS=()
STARTUP=()
cleanup() {
    loop_down
    rm -rf "$LOOP_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=deploy/testbed/vrloop.sh
source "$SRC/deploy/testbed/vrloop.sh"
N=$((LOOP_HOSTS * LOOP_VMS))
RANKS=$(seq -s ' ' 0 $((N - 1)))
DST=$LOOP_VMS
now_us() { date +%s%6N; }
# bsp_mean NAME COMPUTE_US: REPS all-to-all runs of DUR s; sets BSP_MEAN
# (iterations/s) and BSP_SPREAD ("min-max").
bsp_mean() {
    local i its=()
    for i in $(seq "$REPS"); do
        # shellcheck disable=SC2086
        LOOP_COMPUTE_US=$2 loop_bsp "$1-$i" all-to-all "$DUR" $RANKS
        loop_bsp_wait "$1-$i"
        its+=("$LOOP_ITS")
    done
    BSP_MEAN=$(printf '%s\n' "${its[@]}" | awk '{ s += $1 } END { printf "%.1f", s / NR }')
    BSP_SPREAD=$(printf '%s\n' "${its[@]}" | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a, b }')
}
wait_empty() {
    for _ in $(seq 300); do
        [ "$(loop_ctl --json topology 2>/dev/null | jq '(.edges // []) | length')" = 0 ] && break
        sleep 0.1
    done
    sleep 6
}

# One run at path time scale $1: baselines, then the adaptation.
run() {
    local scale=$1 tag=$2
    LOOP_SCALE=$scale LOOP_PREFIX=ab$$$tag
    mkdir -p "$LOOP_DIR/$tag"
    local save=$LOOP_DIR
    LOOP_DIR=$save/$tag
    loop_up
    if [ "$tag" = 0 ]; then
        loop_iperf base "$DUR" 0 "$DST"
        wait "$(cat "$LOOP_DIR/iperf-base.pid")" || true
        IPERF_BASE=$(loop_iperf_mean base 0.5)
        # shellcheck disable=SC2086
        loop_bsp base all-to-all "$DUR" $RANKS
        loop_bsp_wait base
        BSP_BASE=$LOOP_ITS
        # shellcheck disable=SC2086
        LOOP_COMPUTE_US=1000 loop_bsp base1 all-to-all "$DUR" $RANKS
        loop_bsp_wait base1
        BSP1_BASE=$LOOP_ITS
        wait_empty
    fi
    loop_watch decisions
    loop_watch topology
    loop_start_planner
    sleep 0.5
    local t0 delay
    delay=$(echo "17.5 * $scale + 0.5" | bc -l)
    # The clock starts at the workload's first frame (iperf3's SYN as the
    # VM's host-side interface sees it), not at the command.
    ip netns exec "$LOOP_PREFIX-h1" "$SRC/deploy/testbed/first-frame.py" vm1 5201 30 \
        >"$LOOP_DIR/first" 2>"$LOOP_DIR/first.err" &
    local sniff=$!
    LOOP_PIDS+=("$sniff")
    for _ in $(seq 50); do grep -q ready "$LOOP_DIR/first.err" && break; sleep 0.05; done
    local t_cmd
    t_cmd=$(now_us)
    loop_iperf adapt "$(echo "$delay + 6" | bc -l | cut -d. -f1)" 0 "$DST"
    wait "$sniff" || true
    t0=$(cat "$LOOP_DIR/first")
    [ -n "$t0" ] || { echo "adapt: no first frame seen; timing from the command" >&2; t0=$t_cmd; }
    STARTUP+=("$(echo "($t0 - $t_cmd) / 1000" | bc)")
    wait "$(cat "$LOOP_DIR/iperf-adapt.pid")" || true
    "$SRC/deploy/testbed/loop-steps.py" "$LOOP_DIR" "$t0" "$(now_us)" first \
        >"$LOOP_DIR/steps"
    local inf plan resv swi total path over
    read -r inf plan resv swi total _ <"$LOOP_DIR/steps"
    path=$(echo "17.5 * $scale" | bc -l | xargs printf '%.2f')
    over=$(echo "$total - $path" | bc -l | xargs printf '%.2f')
    RESULTS+=("$(printf '%-22s %9s %9s %12s %8s %8s %10s %10s' "17.5 s x $scale" "$inf" "$plan" "$resv" "$swi" "$total" "$path" "$over")")
    if [ "$tag" = 0 ]; then
        # After: BSP long enough for the loop to move its links too, then
        # both workloads again on the paths (T_down is 120 s).
        wait_empty
        # shellcheck disable=SC2086
        loop_bsp adapt all-to-all "$((DUR + 4))" $RANKS
        loop_bsp_wait adapt
        bsp_mean after 0
        BSP_AFTER=$BSP_MEAN BSP_AFTER_R=$BSP_SPREAD
        bsp_mean after1 1000
        BSP1_AFTER=$BSP_MEAN BSP1_AFTER_R=$BSP_SPREAD
        loop_iperf after "$DUR" 0 "$DST"
        wait "$(cat "$LOOP_DIR/iperf-after.pid")" || true
        IPERF_AFTER=$(loop_iperf_mean after 0.5)
        RESERVED=$(loop_ctl --json status planner | jq -r '.services[0].counters.links_up_reserved')
    fi
    loop_down
    LOOP_DIR=$save
}

# The same bed wired directly: every pair of hosts joined by its own veth
# pair shaped like a reserved path (LOOP_BW), the hosts routing between
# the VMs (proxy ARP), no overlay and no proxy host.
direct() {
    LOOP_PREFIX=ad$$
    "$LOOP_BED" up --prefix "$LOOP_PREFIX" --hosts "$LOOP_HOSTS" --vms "$LOOP_VMS" \
        --rate off >/dev/null
    local i j k h
    for i in $(seq "$LOOP_HOSTS"); do
        h=$LOOP_PREFIX-h$i
        ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1 \
            net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        for k in $(seq "$LOOP_VMS"); do
            ip netns exec "$h" sysctl -qw "net.ipv4.conf.vm$k.proxy_arp=1"
            ip -n "$h" route add "10.201.$i.$k/32" dev "vm$k"
        done
    done
    for i in $(seq "$LOOP_HOSTS"); do
        for j in $(seq $((i + 1)) "$LOOP_HOSTS"); do
            ip link add "d$j" netns "$LOOP_PREFIX-h$i" type veth peer name "d$i" \
                netns "$LOOP_PREFIX-h$j"
            for end in "$i $j" "$j $i"; do
                set -- $end
                h=$LOOP_PREFIX-h$1
                ip netns exec "$h" sysctl -qw "net.ipv4.conf.d$2.proxy_arp=1" \
                    "net.ipv4.conf.d$2.rp_filter=0"
                ip -n "$h" link set "d$2" up
                ip -n "$h" route add "10.201.$2.0/24" dev "d$2"
                tc -n "$h" qdisc add dev "d$2" root tbf rate "${LOOP_BW}mbit" \
                    burst $((LOOP_BW * 1250)) latency 20ms
            done
        done
    done
    for _ in $(seq 50); do
        ip netns exec "$(loop_vm_ns 0)" ping -c 1 -W 0.3 -q "$(loop_vm_ip "$DST")" >/dev/null 2>&1 && break
    done
    mkdir -p "$LOOP_DIR/direct"
    local save=$LOOP_DIR
    LOOP_DIR=$save/direct
    loop_iperf direct "$DUR" 0 "$DST"
    wait "$(cat "$LOOP_DIR/iperf-direct.pid")" || true
    IPERF_DIRECT=$(loop_iperf_mean direct 0.5)
    bsp_mean direct 0
    BSP_DIRECT=$BSP_MEAN BSP_DIRECT_R=$BSP_SPREAD
    bsp_mean direct1 1000
    BSP1_DIRECT=$BSP_MEAN BSP1_DIRECT_R=$BSP_SPREAD
    LOOP_DIR=$save
    loop_down
}

echo "== paths with no delay, and baselines" >&2
run 0 0
echo "== paths with the paper's delays (17.5 s)" >&2
run 1 1
echo "== the bed wired directly" >&2
direct

echo
echo "From the workload's start to its first frame over a reserved path (s):"
printf '%-22s %9s %9s %12s %8s %8s %10s %10s\n' "path set-up" inference planning reservation switch total "path delay" "our share"
for r in "${RESULTS[@]}"; do echo "$r"; done
echo "(from iperf3's first frame, captured on the VM's host-side interface; iperf3 itself took ${STARTUP[*]} ms from"
echo " its command to that frame; planning includes T_up = 0.5 s; our share = total - the configured path delay; bar: <= 2 s)"
echo
echo "Before and after adaptation ($RESERVED reserved paths, 1 Gbit/s each), against the bed wired directly:"
printf '%-26s %10s %10s %10s %12s %12s\n' workload commodity adapted direct "adapted/comm" "adapted/direct"
awk -v a="$IPERF_BASE" -v b="$IPERF_AFTER" -v c="$IPERF_DIRECT" 'BEGIN {
    printf "%-26s %10.3f %10.3f %10.3f %11.1fx %11.0f%%\n", "iperf3 Gbit/s", a, b, c, b / a, 100 * b / c }'
awk -v a="$BSP_BASE" -v b="$BSP_AFTER" -v c="$BSP_DIRECT" 'BEGIN {
    printf "%-26s %10.1f %10.1f %10.1f %11.1fx %11.0f%%\n", "BSP a2a, no compute it/s", a, b, c, b / a, 100 * b / c }'
awk -v a="$BSP1_BASE" -v b="$BSP1_AFTER" -v c="$BSP1_DIRECT" 'BEGIN {
    printf "%-26s %10.1f %10.1f %10.1f %11.1fx %11.0f%%\n", "BSP a2a, 1 ms compute it/s", a, b, c, b / a, 100 * b / c }'
echo "(BSP: all-to-all on 8 VMs, ${LOOP_MSG:-64K} messages, mean of $REPS runs of $DUR s; spread adapted"
echo " $BSP_AFTER_R / $BSP1_AFTER_R, direct $BSP_DIRECT_R / $BSP1_DIRECT_R it/s; 1 ms of compute per iteration is vr-bsp's default)"
echo "(bar: BSP adapted >= 90% of direct)"
