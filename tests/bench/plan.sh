#!/bin/bash
# SPDX-License-Identifier: MIT
# Planning ahead (issue 18): a phased BSP job on the bed (4 hosts x 2 VMs,
# a proxy, 100 Mbit/s commodity network; ring, all-to-all and pairs in
# turn, PHASE_SEC each, CYCLES times) with path set-up at the paper's
# 17.5 s x SCALE, run under four planners, each on a fresh bed:
#   paper       the paper's rule: top-k, fixed T_up and T_down (the
#               defaults, 10 s and 30 s, x SCALE), the topology's rates,
#               any break of a link's demand restarting its wait
#   reactive    ours: live demand, the cost rule (rent or buy), T_up and
#               T_down as outer bounds only
#   predictive  reactive + predict: true (booking recurring phases ahead;
#               predict_repeats PREDICT_REPEATS, default 1: a succession
#               seen once is predicted)
#   oracle      reactive, and told the job's schedule (the planner's
#               schedule: key, plan_sched.h): each phase's paths booked to
#               be up at its start, its traffic moved onto them then
#   all-up      an upper bound (not run unless asked): every host link of
#               every phase reserved before the job starts, never
#               released, so no phase ever waits for a path
# Every planner may hold all 6 host links (k 6).
# For each: rank 0's iterations over the run, the reservations asked
# (reserve and booking decisions), and how many were asked for a link
# whose traffic had stopped (not in the phase running at the ask, nor in
# the 2 s before it, nor, for a booking, in the next phase).
# Bars: predictive >= 90% of the oracle's iterations and >= 1.3x reactive;
# 0 reservations for stopped traffic.  Figures, not assertions.
# Usage: [PHASE_SEC=20] [CYCLES=2] [SCALE=0.3] [MODES="paper reactive
#        predictive oracle"] tests/bench/plan.sh [build dir]
#        (MODES may add all-up; PLAN_KEEP=DIR keeps each mode's decision
#        log there as decisions-MODE.txt, its first line the job's start)
#        (as root; about (3 x PHASE_SEC x CYCLES + 40) s a mode)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
export VR_SRC_DIR=$SRC VR_BUILD_DIR=$BUILD
PHASE_SEC=${PHASE_SEC:-20} CYCLES=${CYCLES:-2} SCALE=${SCALE:-0.3}
MODES=${MODES:-paper reactive predictive oracle}
PHASES=ring,all-to-all,pairs

if [ -z "${PLAN_MODE:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "plan.sh: needs root (network namespaces)" >&2; exit 2; }
    out=$(mktemp /tmp/vr-planbench.XXXXXX)
    trap 'rm -f "$out"' EXIT
    echo "phases $PHASES, $PHASE_SEC s each, $CYCLES cycles; path set-up $(echo "17.5 * $SCALE" | bc -l | xargs printf '%.2f') s"
    for m in $MODES; do
        echo "== $m"
        PLAN_MODE=$m PHASE_SEC=$PHASE_SEC CYCLES=$CYCLES SCALE=$SCALE \
            "$0" "$BUILD" 2>&1 | tee -a "$out" | grep -E "^(RESULT|FAIL|  )" || true
    done
    python3 - "$out" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        _, mode, iters, resv, stale = line.split()
        rows[mode] = (int(iters), int(resv), int(stale))
print()
print("| planner | iterations | % of oracle | x reactive | reservations | for stopped traffic |")
print("|---|---|---|---|---|---|")
o = rows.get("oracle", (0,))[0]
r = rows.get("reactive", (0,))[0]
for m in ("paper", "reactive", "predictive", "oracle", "all-up"):
    if m not in rows:
        continue
    it, resv, stale = rows[m]
    po = f"{100 * it / o:.0f}%" if o else "-"
    xr = f"{it / r:.2f}" if r else "-"
    print(f"| {m} | {it} | {po} | {xr} | {resv} | {stale} |")
if "predictive" in rows and o and r:
    p = rows["predictive"][0]
    print(f"\nbars: predictive {100 * p / o:.0f}% of the oracle (>= 90%), "
          f"{p / r:.2f}x reactive (>= 1.3x); for stopped traffic: "
          f"{sum(v[2] for v in rows.values())} (0)")
PY
    exit 0
fi

# One mode, on a bed of its own (lib.sh cleans up on exit).
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/loop_bed.sh"
SETUP_MS=$(printf '%.0f' "$(echo "17500 * $SCALE" | bc -l)")
lines=()
case $PLAN_MODE in
paper)
    T_UP=$(printf '%.0f' "$(echo "10000 * $SCALE" | bc -l)")
    T_DOWN=$(printf '%.0f' "$(echo "30000 * $SCALE" | bc -l)")
    lines=('k: 6' 'learn_costs: false' 'live_max_age_ms: 0' 'select_grace_ms: 0') ;;
reactive|predictive)
    T_UP=30000; T_DOWN=60000
    lines=('k: 6' "path_setup_ms: $SETUP_MS" 'path_teardown_ms: 500')
    [ "$PLAN_MODE" = predictive ] && lines+=('predict: true' \
        "predict_repeats: ${PREDICT_REPEATS:-1}") ;;
oracle)
    T_UP=30000; T_DOWN=60000
    lines=('k: 6' "path_setup_ms: $SETUP_MS" 'path_teardown_ms: 500') ;;
all-up)
    T_UP=500; T_DOWN=3600000
    lines=('k: 6' 'learn_costs: false') ;;
*) echo "unknown mode $PLAN_MODE" >&2; exit 2 ;;
esac
loop_bed_up "pb$$" "${lines[@]}"

edges() {
    "$BIN/vr-bsp" --print-edges --n 8 --pattern "$1" \
        | awk '{a = int($1 / 2) + 1; b = int($2 / 2) + 1;
                if (a != b) print "h" (a < b ? a : b) "-h" (a < b ? b : a)}' \
        | sort -u | paste -sd,
}
DUR=$((3 * PHASE_SEC * CYCLES))
t_job=0
if [ "$PLAN_MODE" = oracle ]; then
    # The planner again, told when each phase comes and which links it
    # needs; the job starts at that time.
    vr_stop planner
    t_job=$(( $(date +%s%3N) + SETUP_MS + 5000 ))
    {
        echo "schedule:"
        k=0
        for c in $(seq "$CYCLES"); do
            for p in ${PHASES//,/ }; do
                echo "  - start_unix_ms: $((t_job + k * PHASE_SEC * 1000))"
                echo "    duration_ms: $((PHASE_SEC * 1000))"
                echo "    links: [$(edges "$p" | sed "s/-/ /g; s/\([^,]*\)/'\1'/g; s/,/, /g")]"
                k=$((k + 1))
            done
        done
    } >>"$T/planner.yaml"
    vr_start planner "$BIN/vadapt-planner" -v -c "$T/planner.yaml"
    vr_until 10 "${CTL[@]}" status planner || fail "planner not up again"
fi
if [ "$PLAN_MODE" = all-up ]; then
    # Every host link on a path before the job: all-to-all touches all 6.
    start_bsp all-to-all 0 1 2 3 4 5 6 7
    six_up() { [ "$(pcount links_up_reserved)" = 6 ]; }
    vr_until 120 six_up || fail "oracle: not all 6 links reserved"
    stop_bsp
fi

TZ=UTC "${CTL[@]}" watch decisions --timeout $((DUR + 30)) >"$T/decisions.txt" 2>&1 &
VR_PIDS+=("$!")
sleep 0.5
if [ "$t_job" -gt 0 ]; then
    # To the millisecond the schedule says.
    sleep "$(echo "($t_job - $(date +%s%3N)) / 1000" | bc -l | sed 's/^-.*/0/')"
fi
t0=$(date +%s.%N)
start_bsp phases 0 1 2 3 4 5 6 7 -- --phases "$PHASES" \
    --phase-sec "$PHASE_SEC" --duration "$DUR"
for p in "${BSP_PIDS[@]}"; do wait "$p" || true; done
BSP_PIDS=()
iters=$(jq -r '.iterations // 0' "$T/bsp-phases-0.json" 2>/dev/null || echo 0)
if [ -n "${PLAN_KEEP:-}" ]; then
    mkdir -p "$PLAN_KEEP"
    { echo "job started $(TZ=UTC date -d "@$t0" +%FT%T.%3N)"
      cat "$T/decisions.txt"; } >"$PLAN_KEEP/decisions-$PLAN_MODE.txt"
fi
python3 - "$T/decisions.txt" "$t0" "$PHASE_SEC" "$iters" "$PLAN_MODE" \
    $(for p in ${PHASES//,/ }; do edges "$p"; done) <<'PY'
import datetime, re, sys
path, t0, sec, iters, mode = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
phases = [set(s.split(",")) for s in sys.argv[6:9]]
def phase_at(t):
    k = int((t - t0) // sec)
    return None if k < 0 else phases[k % 3]
resv = stale = 0
pat = re.compile(r"^(\S+) decision #\d+ (reserve|predict) (h\d+)<->(h\d+) .*?(: |resv \S+: )(.*)$")
for line in open(path):
    m = pat.match(line)
    if not m:
        continue
    when, kind, a, b, _, reason = m.groups()
    if kind == "predict" and not reason.startswith("booked ahead"):
        continue
    if kind == "reserve" and "asked" not in reason:
        continue
    t = datetime.datetime.fromisoformat(when).replace(tzinfo=datetime.timezone.utc).timestamp()
    link = f"{min(a, b)}-{max(a, b)}"
    resv += 1
    live = any(p is not None and link in p for p in (phase_at(t), phase_at(t - 2)))
    if kind == "predict":
        live = live or (phase_at(t + sec) is not None and link in phase_at(t + sec))
    if not live:
        stale += 1
        print(f"  stale: {kind} {link} at {t - t0:.1f} s: {reason[:100]}")
print(f"  {mode}: {iters} iterations, {resv} reservations, {stale} for stopped traffic")
print(f"RESULT {mode} {iters} {resv} {stale}")
PY
