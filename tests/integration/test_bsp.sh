#!/bin/bash
# SPDX-License-Identifier: MIT
# vr-bsp, the BSP workload (tests/workloads): on 127.0.0.1, every pattern
# runs to completion with the same iteration count on every rank, and
# each rank's bytes to and from each peer are exactly what --print-edges
# and the documented barrier imply; phases switch in lockstep; a late
# rank is waited for; a killed, stopped or misconfigured rank makes the
# others fail clearly within --connect-timeout; SIGTERM to one rank stops
# them all at the same iteration.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

BSP="$BIN/vr-bsp"
[ -x "$BSP" ] || fail "no $BSP"

ok() {
    echo "ok - $*"
}

# Ports come from a random range of our own below the ephemeral range
# (32768 and up), so that no outgoing connection can take one of them
# between the check and the rank's bind().
NEXT_PORT=$((20000 + RANDOM % 10000))

# alloc_peers N: sets PEERS to N "127.0.0.1:PORT" that are free now.
alloc_peers() {
    local out
    out=$(python3 - "$1" "$NEXT_PORT" <<'PY'
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
got = []
while len(got) < n:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        got.append(port)
    except OSError:
        pass
    finally:
        s.close()
    port += 1
print(port, ",".join("127.0.0.1:%d" % p for p in got))
PY
)
    NEXT_PORT=${out%% *}
    PEERS=${out#* }
}

# start_rank RUN I ARGS...: starts rank I of RUN on $PEERS; its JSON
# report goes to $T/RUN.I.json, its log to $T/RUN.I.log.
start_rank() {
    local run=$1 i=$2
    shift 2
    # shellcheck disable=SC2016 # expanded by the inner bash
    vr_start "$run.$i" bash -c 'out=$1; shift; exec "$@" >"$out"' _ \
        "$T/$run.$i.json" "$BSP" --rank "$i" --peers "$PEERS" --json "$@"
}

# start_run RUN N ARGS...: all N ranks of RUN on fresh ports.
start_run() {
    local run=$1 n=$2 i
    shift 2
    alloc_peers "$n"
    for ((i = 0; i < n; i++)); do
        start_rank "$run" "$i" "$@"
    done
}

# wait_rank NAME SECONDS: waits for NAME to exit by itself and sets
# VR_RC to its status (124 if it is still running after SECONDS).
wait_rank() {
    local pid deadline
    pid=$(cat "$T/$1.pid")
    deadline=$(($(date +%s%N) + $2 * 1000000000))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            VR_RC=124
            return
        fi
        sleep 0.05
    done
    VR_RC=0
    wait "$pid" || VR_RC=$?
}

# wait_run RUN N SECONDS: every rank of RUN must exit 0 within SECONDS.
wait_run() {
    local run=$1 n=$2 secs=$3 i
    for ((i = 0; i < n; i++)); do
        wait_rank "$run.$i" "$secs"
        [ "$VR_RC" = 0 ] || fail "$run: rank $i exited $VR_RC"
    done
}

# check_run RUN N MSG_SIZE PATTERN PHASES STATUS: the byte accounting of
# every rank of RUN against `vr-bsp --print-edges`, the barrier (a 12-byte
# frame each way between rank 0 and every rank, once per iteration and
# once at the start) and the hellos (40 bytes each way per connection).
check_run() {
    python3 - "$BSP" "$T" "$@" <<'PY'
import json, subprocess, sys
bsp, tdir, run, n, msg, pattern, phases, status = sys.argv[1:9]
n, msg = int(n), int(msg)

def bad(what):
    print(f"FAIL: {run}: {what}", file=sys.stderr)
    sys.exit(1)

cmd = [bsp, "--print-edges", "--json", "--pattern", pattern, "--n", str(n)]
if phases:
    cmd += ["--phases", phases]
pe = json.loads(subprocess.check_output(cmd))
if pattern == "phases":
    per = {p["pattern"]: {tuple(e) for e in p["edges"]} for p in pe["phases"]}
else:
    per = {pattern: {tuple(e) for e in pe["edges"]}}
union = {tuple(e) for e in pe["edges"]}
if union != set().union(*per.values()):
    bad("--print-edges: 'edges' is not the union of the phases' edges")
barrier = {tuple(e) for e in pe["barrier_edges"]}
hdr, hello = pe["header_bytes"], pe["hello_bytes"]

runs = [json.load(open(f"{tdir}/{run}.{i}.json")) for i in range(n)]
its = {r["iterations"] for r in runs}
if len(its) != 1:
    bad(f"iterations differ across ranks: {sorted(its)}")
it = its.pop()
if it <= 0:
    bad("no iterations")
for i, r in enumerate(runs):
    if (r["rank"], r["n"], r["status"], r["msg_size"]) != (i, n, status, msg):
        bad(f"rank {i}: rank/n/status/msg_size "
            f"{r['rank'], r['n'], r['status'], r['msg_size']}")

if pattern == "phases":
    sw = runs[0]["switches"]
    if any(r["switches"] != sw for r in runs):
        bad("ranks disagree on the phase switches")
    if len(sw) < 3:
        bad(f"fewer than 2 phase switches: {sw}")
    iters = runs[0]["phase_iterations"]
    if any(r["phase_iterations"] != iters for r in runs):
        bad("ranks disagree on the iterations per phase")
    counts = {}
    for k, s in enumerate(sw):
        end = sw[k + 1]["iteration"] if k + 1 < len(sw) else it
        p = s["pattern"]
        counts[p] = counts.get(p, 0) + end - s["iteration"]
    if {p: c for p, c in iters.items() if c} != counts:
        bad(f"phase_iterations {iters} do not match the switches {sw}")
else:
    iters = {pattern: it}

for r in runs:
    i = r["rank"]
    for j in range(n):
        if j == i:
            continue
        msgs_to = sum(iters.get(p, 0) for p, e in per.items() if (i, j) in e)
        msgs_from = sum(iters.get(p, 0) for p, e in per.items() if (j, i) in e)
        linked = (i, j) in union or (j, i) in union or (i, j) in barrier
        want = {
            "sent_to": msgs_to * msg,
            "received_from": msgs_from * msg,
            "overhead_sent_to": (hello if linked else 0) + hdr * msgs_to
            + (hdr * (it + 1) if (i, j) in barrier else 0),
            "overhead_received_from": (hello if linked else 0)
            + hdr * msgs_from + (hdr * (it + 1) if (j, i) in barrier else 0),
        }
        for key, value in want.items():
            if r[key][str(j)] != value:
                bad(f"rank {i}: {key}[{j}] = {r[key][str(j)]}, want {value}")
    if r["bytes_sent"] != sum(r["sent_to"].values()):
        bad(f"rank {i}: bytes_sent is not the sum of sent_to")
if runs[0]["aggregate"]["bytes"] != sum(r["bytes_sent"] for r in runs):
    bad("rank 0's aggregate bytes are not the sum of bytes_sent")
print(f"{n} ranks, {it} iterations")
PY
}

# --- The edge definitions, pinned independently of the program.
edges() {
    "$BSP" --print-edges "$@" | tr '\n' ' '
}
[ "$(edges --pattern ring --n 4)" = "0 1 1 2 2 3 3 0 " ] || fail "ring edges"
[ "$(edges --pattern neighbor --n 4)" = "0 1 1 0 1 2 2 1 2 3 3 2 " ] ||
    fail "neighbor edges"
[ "$(edges --pattern tree --n 4)" = "0 1 0 2 1 0 1 3 2 0 3 1 " ] ||
    fail "tree edges: $(edges --pattern tree --n 4)"
# 2 x 3 torus: the two column neighbours of a rank are the same rank.
[ "$(edges --pattern mesh --n 6)" = "0 1 0 2 0 3 1 0 1 2 1 4 2 0 2 1 2 5 \
3 0 3 4 3 5 4 1 4 3 4 5 5 2 5 3 5 4 " ] || fail "mesh edges (6)"
[ "$(edges --pattern mesh --n 4)" = "0 1 0 2 1 0 1 3 2 0 2 3 3 1 3 2 " ] ||
    fail "mesh edges (4)"
[ "$(edges --pattern pairs --n 4)" = "0 2 1 3 2 0 3 1 " ] || fail "pairs edges"
[ "$(edges --pattern pairs --n 5)" = "0 2 1 3 2 0 3 1 " ] ||
    fail "pairs edges (5): $(edges --pattern pairs --n 5)"
[ "$("$BSP" --print-edges --pattern all-to-all --n 8 | wc -l)" = 56 ] ||
    fail "all-to-all edges"
[ "$("$BSP" --print-edges --pattern mesh --n 64 | wc -l)" = 256 ] ||
    fail "8 x 8 mesh edges"
rc=0
"$BSP" --pattern star --rank 0 --peers 127.0.0.1:1,127.0.0.1:2 \
    2>"$T/usage.err" || rc=$?
if [ "$rc" != 2 ] || ! grep -q "unknown pattern 'star'" "$T/usage.err"; then
    fail "bad pattern: exit $rc, $(cat "$T/usage.err")"
fi
ok "edges of every pattern as documented; bad usage exits 2"

# --- Every pattern, all at once (they share the CPUs; only the counts
# matter).  Messages of odd sizes so that frames straddle reads.
RUNS=("all-to-all 4" "ring 4" "mesh 4" "tree 4" "neighbor 4" "pairs 4"
    "pairs 5" "all-to-all 8" "mesh 6")
for r in "${RUNS[@]}"; do
    read -r pattern n <<<"$r"
    start_run "$pattern-$n" "$n" --pattern "$pattern" --msg-size 3001 \
        --compute-us 200 --duration 1 --connect-timeout 10
done
start_run phases 4 --pattern phases --phases ring,all-to-all,tree \
    --phase-sec 0.5 --msg-size 1500 --compute-us 200 --duration 2.2 \
    --connect-timeout 10
for r in "${RUNS[@]}"; do
    read -r pattern n <<<"$r"
    wait_run "$pattern-$n" "$n" 15
    out=$(check_run "$pattern-$n" "$n" 3001 "$pattern" "" completed) ||
        exit 1
    ok "$pattern over $n ranks: $out, bytes per peer exact"
done
wait_run phases 4 15
out=$(check_run phases 4 1500 phases ring,all-to-all,tree completed) ||
    exit 1
switches=$(json_get "$T/phases.0.json" \
    '", ".join("%s@%d" % (s["pattern"], s["iteration"])
               for s in j["switches"])')
ok "phases (ring,all-to-all,tree every 0.5 s): $out, same switches" \
    "everywhere: $switches"

# --- A rank that starts late is waited for.
alloc_peers 4
for i in 0 1 2; do
    start_rank late "$i" --pattern ring --msg-size 1000 --compute-us 100 \
        --duration 1 --connect-timeout 10
done
sleep 1
start_rank late 3 --pattern ring --msg-size 1000 --compute-us 100 \
    --duration 1 --connect-timeout 10
wait_run late 4 15
out=$(check_run late 4 1000 ring "" completed) || exit 1
waited=$(sed -n 's/.*connected to .* in \([0-9.]*\) s/\1/p' \
    "$T/late.0.log")
python3 -c "import sys; sys.exit(not float('$waited') >= 0.5)" ||
    fail "rank 0 did not wait for rank 3 (set-up took $waited s)"
ok "rank 3 started 1 s late: rank 0 waited $waited s; $out"

# --- A killed rank: the others fail within the connect timeout.
start_run kill 4 --pattern all-to-all --msg-size 1000 --compute-us 100 \
    --duration 30 --connect-timeout 3
sleep 1
disown "$(cat "$T/kill.2.pid")"     # no "Killed" notice from bash
kill -KILL "$(cat "$T/kill.2.pid")"
start=$(date +%s%N)
for i in 0 1 3; do
    wait_rank "kill.$i" 5
    [ "$VR_RC" = 1 ] || fail "kill: rank $i exited $VR_RC, want 1"
    grep -q "error: lost rank" "$T/kill.$i.log" ||
        fail "kill: rank $i: $(cat "$T/kill.$i.log")"
    [ "$(json_get "$T/kill.$i.json" 'j["status"]')" = failed ] ||
        fail "kill: rank $i's report does not say failed"
done
ms=$((($(date +%s%N) - start) / 1000000))
ok "rank 2 killed: the others exited 1 in $ms ms;" \
    "$(sed -n 's/.*error: //p' "$T/kill.0.log")"

# --- A stopped (hung) rank: the others give up after --connect-timeout.
start_run hang 4 --pattern ring --msg-size 1000 --compute-us 100 \
    --duration 30 --connect-timeout 2
sleep 1
kill -STOP "$(cat "$T/hang.1.pid")"
start=$(date +%s%N)
for i in 0 2 3; do
    wait_rank "hang.$i" 6
    [ "$VR_RC" = 1 ] || fail "hang: rank $i exited $VR_RC, want 1"
done
ms=$((($(date +%s%N) - start) / 1000000))
disown "$(cat "$T/hang.1.pid")"
kill -KILL "$(cat "$T/hang.1.pid")"
kill -CONT "$(cat "$T/hang.1.pid")" 2>/dev/null || true
grep -h "error: no progress for 2.0 s" "$T"/hang.[023].log >/dev/null ||
    fail "hang: nobody reported the stall: $(cat "$T"/hang.[023].log)"
ok "rank 1 stopped: the others exited 1 in $ms ms;" \
    "$(grep -h -m1 -o "no progress.*" "$T"/hang.[023].log | head -1)"

# --- SIGTERM to one rank: everyone stops at the same iteration, exit 0.
start_run term 4 --pattern tree --msg-size 2000 --compute-us 100 \
    --duration 30 --connect-timeout 10
sleep 1
kill -TERM "$(cat "$T/term.3.pid")"
wait_run term 4 5
out=$(check_run term 4 2000 tree "" stopped) || exit 1
ok "SIGTERM to rank 3: all 4 stopped cleanly; $out, bytes per peer exact"

# --- Ranks that disagree, or one that never comes, fail clearly.
alloc_peers 2
start_rank mismatch 0 --pattern ring --msg-size 1000 --connect-timeout 5
start_rank mismatch 1 --pattern ring --msg-size 2000 --connect-timeout 5
for i in 0 1; do
    wait_rank "mismatch.$i" 4
    [ "$VR_RC" = 1 ] || fail "mismatch: rank $i exited $VR_RC, want 1"
    grep -q "error: rank .* runs n=2 msg-size=" "$T/mismatch.$i.log" ||
        fail "mismatch: rank $i: $(cat "$T/mismatch.$i.log")"
done
alloc_peers 3
start_rank absent 0 --pattern ring --connect-timeout 1
start_rank absent 1 --pattern ring --connect-timeout 1
for i in 0 1; do
    wait_rank "absent.$i" 4
    [ "$VR_RC" = 1 ] || fail "absent: rank $i exited $VR_RC, want 1"
    grep -q "error: gave up after 1 s .*waiting for rank 2" \
        "$T/absent.$i.log" || fail "absent: $(cat "$T/absent.$i.log")"
done
ok "mismatched and absent ranks: exit 1;" \
    "$(sed -n 's/.*error: //p' "$T/mismatch.1.log")"

echo "1 passed, 0 failed"
