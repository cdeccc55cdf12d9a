#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job, as root on Debian 12 from a fresh clone: installs, builds,
# brings up the test bed (4 hosts x 2 VMs and a proxy host, a 100 Mbit/s
# commodity network, a reservable network of real veth paths with the
# paper's delays scaled to a few seconds), starts every service and runs
# the paper's two experiments, first on the commodity overlay and then
# while VRESERVE notices, reserves and moves the traffic:
#   1. iperf3 between two VMs on two hosts;
#   2. the BSP workload (all-to-all by default) on every VM.
# It prints what happens as it happens, then a before/after table with the
# time each step took, and writes a PNG of throughput over time (gnuplot)
# and the inferred topology as SVG (Graphviz).  Everything it made is
# removed at the end, also on ^C.
#
# Usage: deploy/demo.sh [--hosts N] [--vms M] [--pattern P] [--scale S]
#                       [--out DIR] [--quick] [--vm-kind netns|qemu]
#                       [--backend netns|nsi]
#   --hosts N     hosts with VMs (4); one more host is the star's proxy
#   --vms M       VMs per host (2)
#   --pattern P   BSP pattern: all-to-all (default), ring, mesh, tree, ...
#   --scale S     multiplies the paper's path delays, 17.5 s to set up a
#                 path and 12 s to tear it down (0.2: 3.5 s and 2.4 s)
#   --backend B   netns (default): the paths are veth pairs with the
#                 paper's delays; nsi: each path is an NSI CS 2.0
#                 connection at a real provider, OpenNSA, started from
#                 ../shared/peers/opennsa beside the project (stopped at
#                 the end), with one port per host (the STPs it prints go
#                 into the adapter's nsi.hosts); the bed gets a VLAN switch
#                 and each host a circuit NIC, and the agents put each
#                 path's VLAN on it (macvlan where the kernel lacks 802.1Q)
#   --out DIR     where the table, plot and SVG go (./demo-out)
#   --quick       shorter runs (the integration test uses it)
#   --vm-kind K   netns (default): the VMs are namespaces; qemu: QEMU
#                 guests (2 hosts x 2 VMs unless --hosts/--vms say
#                 otherwise), booted once the agents run, the workloads
#                 run inside them through `vrbed exec`
#   --bin DIR     use the binaries in DIR; install and build nothing
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD

HOSTS="" VMS="" PATTERN=all-to-all SCALE=0.2 OUT=$SRC/demo-out QUICK=0 BIN=
KIND=netns BACKEND=netns
while [ $# -gt 0 ]; do
    case $1 in
    --hosts) HOSTS=$2; shift 2 ;;
    --vms) VMS=$2; shift 2 ;;
    --pattern) PATTERN=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --vm-kind) KIND=$2; shift 2 ;;
    --bin) BIN=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d'; exit 0 ;;
    *) echo "demo: unknown option '$1' (--help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "demo: run as root (network namespaces)" >&2; exit 2; }
case $KIND in
netns) HOSTS=${HOSTS:-4} VMS=${VMS:-2} ;;
qemu) HOSTS=${HOSTS:-2} VMS=${VMS:-2} ;;
*) echo "demo: bad --vm-kind '$KIND': want netns or qemu" >&2; exit 2 ;;
esac
[[ $HOSTS =~ ^[0-9]{1,3}$ && $VMS =~ ^[0-9]{1,3}$ ]] \
    || { echo "demo: --hosts and --vms want small integers" >&2; exit 2; }
[ "$HOSTS" -ge 2 ] && [ "$VMS" -ge 1 ] && [ $((HOSTS * VMS)) -le 64 ] \
    || { echo "demo: want 2+ hosts, 1+ VMs, at most 64 VMs" >&2; exit 2; }
case $BACKEND in netns | nsi) ;; *)
    echo "demo: unknown backend '$BACKEND': netns or nsi" >&2; exit 2 ;;
esac
LOOP_NSI_PEER=$(cd "$SRC/.." && pwd)/shared/peers/opennsa
if [ "$BACKEND" = nsi ] && [ ! -x "$LOOP_NSI_PEER/start.sh" ]; then
    echo "demo: --backend nsi needs OpenNSA's test peer at $LOOP_NSI_PEER" >&2
    exit 2
fi

if [ -z "$BIN" ]; then
    echo "== installing what the demo needs and building"
    ./deploy/install-deps.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" -- --no-print-directory >/dev/null
    BIN=$SRC/build/bin
fi

if [ "$QUICK" = 1 ]; then
    BASE_S=3 IPERF_S=12 BSP_ADAPT_S=10 BSP_S=4
else
    BASE_S=5 IPERF_S=20 BSP_ADAPT_S=15 BSP_S=6
fi
# Guests under TCG on a loaded machine start commands slowly and infer
# later: the runs get room for the path to come up within them.
[ "$KIND" = netns ] || IPERF_S=$((IPERF_S + 15)) BSP_ADAPT_S=$((BSP_ADAPT_S + 10))
LOOP_BIN=$BIN
LOOP_DIR=$(mktemp -d /tmp/vr-demo.XXXXXX)
LOOP_HOSTS=$HOSTS LOOP_VMS=$VMS LOOP_SCALE=$SCALE
LOOP_K=$((HOSTS * (HOSTS - 1) / 2))
LOOP_T_UP_MS=1000 LOOP_T_DOWN_MS=$(( (BSP_ADAPT_S + 20) * 1000 ))
# The "after" runs are to find the paths the adapting runs got.  A QEMU
# guest under TCG takes 5-10 s to start the next run, longer than the
# cost rule holds an idle path by default ((set-up + teardown) / 1): in
# the demo holding is cheap, so an idle path is kept 10 times as long.
LOOP_HOLD_COST=0.1
LOOP_PREFIX=vd$$ LOOP_VM_KIND=$KIND LOOP_BACKEND=$BACKEND
# shellcheck source=deploy/testbed/vrloop.sh
source "$SRC/deploy/testbed/vrloop.sh"
mkdir -p "$OUT"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    echo "== cleaning up (test bed $LOOP_PREFIX, services, workloads)"
    loop_down
    mkdir -p "$OUT/logs"
    cp "$LOOP_DIR"/*.log "$LOOP_DIR"/*.yaml "$OUT/logs/" 2>/dev/null || true
    rm -rf "$LOOP_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

T0=$(date +%s%6N)
say() { printf '[%6.1f s] %s\n' "$(echo "($(date +%s%6N) - $T0) / 1000000" | bc -l)" "$*"; }
now_us() { date +%s%6N; }

if [ "$BACKEND" = nsi ]; then
    say "test bed: $HOSTS hosts x $VMS VMs ($KIND), host $LOOP_PROXY the star's proxy, commodity $LOOP_RATE; paths: NSI connections at OpenNSA (starting it), VLANs $LOOP_VLANS on the hosts' circuit NICs"
else
    say "test bed: $HOSTS hosts x $VMS VMs ($KIND), host $LOOP_PROXY the star's proxy, commodity $LOOP_RATE; paths: veth pairs shaped to $LOOP_BW Mbit/s, set up in $(echo "17.5 * $SCALE" | bc -l | sed 's/0*$//;s/\.$//') s"
fi
loop_up || { echo "demo: the bed or a service did not come up; logs in $LOOP_DIR" >&2; exit 1; }
[ "$BACKEND" != nsi ] || say "OpenNSA at $(jq -r .url "$LOOP_DIR/peer.json"), ports $(jq -r '.ports | keys | join(" ")' "$LOOP_DIR/peer.json"); circuits: $LOOP_CIRCUIT_KIND sub-interfaces of ckt0"
if [ "$KIND" = qemu ]; then
    say "QEMU guests ($(jq -r .accel "/run/vrbed/$LOOP_PREFIX/bed.json" 2>/dev/null || echo ?)) booted in $(printf '%.1f' "$LOOP_BOOT_S") s once the agents ran; first ping $(loop_vm_name 0) -> $(loop_vm_name "$VMS") through the overlay $(printf '%.2f' "$LOOP_PING_S") s later"
fi
say "agents, aggregator, broker and adapter up; every VM reaches every other over the star"

N=$((HOSTS * VMS))
RANKS=$(seq -s ' ' 0 $((N - 1)))
DST=$VMS    # the first VM of host 2
echo
echo "== before: the commodity overlay (the planner is not running yet)"
loop_iperf base "$BASE_S" 0 "$DST"
wait "$(cat "$LOOP_DIR/iperf-base.pid")" || true
IPERF_BEFORE=$(loop_iperf_mean base 0.5)
say "iperf3 $(loop_vm_name 0) -> $(loop_vm_name "$DST"): $(printf '%.3f' "$IPERF_BEFORE") Gbit/s"
# shellcheck disable=SC2086
loop_bsp base "$PATTERN" "$BASE_S" $RANKS
loop_bsp_wait base
BSP_BEFORE=$LOOP_ITS
say "BSP $PATTERN on $N VMs: $(printf '%.1f' "$BSP_BEFORE") iterations/s"

# quiet: waits until the aggregator has forgotten the last workload (its
# topology empty, and 6 s more: it holds the union of patterns that change
# back and forth within 6 s), so that each experiment starts from nothing.
quiet() {
    for _ in $(seq 300); do
        [ "$(loop_ctl --json topology 2>/dev/null | jq '(.edges // []) | length')" = 0 ] && break
        sleep 0.1
    done
    sleep 6
    say "the aggregator's topology is empty again"
}
quiet

echo
echo "== VRESERVE on: the planner starts; what happens, as it happens"
loop_watch decisions
loop_watch topology
loop_watch reservations
# Live lines: topology events, reservations, and the planner's decisions
# (reserve, link, switch, release, failures), times from the demo's start.
tail -q -F -n +1 "$LOOP_DIR/watch-topology.json" "$LOOP_DIR/watch-reservations.json" \
    "$LOOP_DIR/watch-decisions.json" 2>/dev/null > >(jq --unbuffered -r --argjson t0 "$T0" '
      def t: ((.time_us - $t0) / 1e5 | floor / 10 | tostring) as $s
             | "[" + (" " * ([6 - ($s | length), 0] | max)) + $s + " s]";
      if .event == "topology" then
        "\(t) inferred: topology v\(.body.topology.version // 0) \(.body.change // "?"), \(.body.topology.edges // [] | length) VM pairs"
      elif .event == "reservations" then
        "\(t) reservation \(.body.resv.resv_id) \(.body.resv.host_a)-\(.body.resv.host_b): \(.body.resv.state)"
      elif (.body.decision.kind // "" | IN("reserve", "switch", "release", "fail", "link_create")) then
        "\(t) planner \(.body.decision.kind): \(.body.decision.reason[0:150])"
      else empty end' 2>/dev/null) &
LOOP_PIDS+=("$!")
sleep 0.3
loop_start_planner || { echo "demo: the planner did not come up" >&2; exit 1; }

echo
echo "== experiment 1: iperf3 for $IPERF_S s; VRESERVE moves it onto a path"
loop_iperf adapt "$IPERF_S" 0 "$DST"
T_IPERF=$(cat "$LOOP_DIR/iperf-adapt.t0")
wait "$(cat "$LOOP_DIR/iperf-adapt.pid")" || true

quiet
echo
echo "== experiment 2: BSP $PATTERN for $BSP_ADAPT_S s; VRESERVE moves its links"
T_BSP=$(now_us)
# shellcheck disable=SC2086
loop_bsp adapt "$PATTERN" "$BSP_ADAPT_S" $RANKS
sleep $((BSP_ADAPT_S / 2))
loop_ctl topology --dot >"$OUT/topology.dot" 2>/dev/null || true
dot -Tsvg "$OUT/topology.dot" -o "$OUT/topology.svg" 2>/dev/null || true
loop_bsp_wait adapt
say "BSP again for $BSP_S s, on the paths it has now"
# shellcheck disable=SC2086
loop_bsp after "$PATTERN" "$BSP_S" $RANKS
loop_bsp_wait after
BSP_AFTER=$LOOP_ITS
sleep 0.5

# The steps of one experiment, from the watch logs: the first topology
# event after T (inference), the planner's first RESERVE (planning, T_up
# included), the link over the path (reservation: the path's set-up and
# the broker's and adapter's share), the last SWITCH (rules moved).
steps() { "$SRC/deploy/testbed/loop-steps.py" "$LOOP_DIR" "$1" "$2" last; }
END=$(now_us)
read -r I_INF I_PLAN I_RES I_SW I_TOT I_SWAT <<<"$(steps "$T_IPERF" "$T_BSP")"
read -r B_INF B_PLAN B_RES B_SW B_TOT _ <<<"$(steps "$T_BSP" "$END")"
# iperf3 after the switch: the intervals from 1 s after it.
if [ "$I_SWAT" != - ]; then
    IPERF_AFTER=$(loop_iperf_mean adapt "$(echo "$I_SWAT + 1" | bc -l)")
else
    IPERF_AFTER=$(loop_iperf_mean adapt "$((IPERF_S - 3))")
fi
gain() { echo "$1 $2" | awk '{ if ($1 > 0) printf "%.1fx", $2 / $1; else print "-" }'; }

{
    echo
    if [ "$BACKEND" = nsi ]; then
        echo "== before and after (paths: NSI connections at OpenNSA; T_up 1 s)"
    else
        echo "== before and after (path set-up: 17.5 s x $SCALE; T_up 1 s)"
    fi
    printf '%-26s %10s %10s %7s   %9s %9s %11s %7s %8s\n' experiment before after gain \
        inference planning reservation switch total
    printf '%-26s %10.3f %10.3f %7s   %8ss %8ss %10ss %6ss %7ss\n' "iperf3 (Gbit/s)" \
        "$IPERF_BEFORE" "$IPERF_AFTER" "$(gain "$IPERF_BEFORE" "$IPERF_AFTER")" \
        "$I_INF" "$I_PLAN" "$I_RES" "$I_SW" "$I_TOT"
    printf '%-26s %10.1f %10.1f %7s   %8ss %8ss %10ss %6ss %7ss\n' "BSP $PATTERN (iter/s)" \
        "$BSP_BEFORE" "$BSP_AFTER" "$(gain "$BSP_BEFORE" "$BSP_AFTER")" \
        "$B_INF" "$B_PLAN" "$B_RES" "$B_SW" "$B_TOT"
    echo "inference: workload start to the first topology event; planning: to the"
    echo "planner's first reservation (T_up included); reservation: to the last link"
    echo "made over a path; switch: to the last rules moved; total: workload start"
    echo "to the last switch."
} | tee "$OUT/table.txt"

# Throughput over time, with the moments marked.
jq -r '.intervals[].sum | "\(.end) \(.bits_per_second / 1e6)"' \
    "$LOOP_DIR/iperf-adapt.json" >"$OUT/iperf.dat"
python3 - "$LOOP_DIR" "$T_IPERF" "$T_BSP" >"$OUT/marks.gp" <<'PY'
import json, sys
d, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(kind):
    out = []
    for line in open(f"{d}/watch-{kind}.json"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if t0 <= e["time_us"] < t1:
            out.append(e)
    return out
marks = []
topo = [e["time_us"] for e in load("topology") if e["body"]["topology"].get("edges")]
if topo:
    marks.append((min(topo), "inferred"))
for kind, label in (("reserve", "reserve"), ("link_create", "path up"),
                    ("link-create", "path up"), ("switch", "switch")):
    ts = [e["time_us"] for e in load("decisions")
          if e["body"]["decision"]["kind"] == kind]
    if ts:
        marks.append((min(ts), label))
for i, (t, label) in enumerate(sorted(marks)):
    x = (t - t0) / 1e6 - 0.3   # iperf3's clock starts ~0.3 s after ours
    print(f'set arrow from {x:.2f}, graph 0 to {x:.2f}, graph 1 nohead dt 2 lc rgb "gray40"')
    print(f'set label "{label}" at {x:.2f}, graph {0.95 - 0.07 * i:.2f} offset 0.5,0 font ",9"')
PY
gnuplot <<GP 2>/dev/null || echo "demo: gnuplot failed; data in $OUT/iperf.dat"
set terminal pngcairo size 900,450 font ",10"
set output "$OUT/throughput.png"
set title "iperf3 between two VMs: commodity overlay, then a reserved path"
set xlabel "seconds since iperf3 started"
set ylabel "Mbit/s"
set grid
set yrange [0:*]
load "$OUT/marks.gp"
plot "$OUT/iperf.dat" using 1:2 with linespoints pt 7 ps 0.5 lw 2 title "iperf3"
GP
echo
echo "written: $OUT/table.txt, $OUT/throughput.png, $OUT/topology.svg (logs: $OUT/logs/)"
say "done"
