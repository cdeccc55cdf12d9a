#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs the libFuzzer harnesses of a VR_FUZZ build tree, one after the
# other, each from a fresh corpus (the generated seeds and the fixtures
# in tests/data/<name>), and prints per harness its executions, libFuzzer's
# coverage figure (cov:) and whether it crashed.  Fails if any crashed;
# the crashing input is kept in BUILD/fuzz-artifacts/.
#
#   run.sh BUILD [--seconds TOTAL | --runs N [--each S]] [--corpus DIR]
#          [--jobs J] [NAME...]
#
# --seconds TOTAL (default 180): the time is shared equally by the
# harnesses; --runs N: each runs N inputs, with no time limit unless
# --each S gives each at most S seconds.  NAME: only these harnesses
# (e.g. bus cfg); default all.
#
# --corpus DIR keeps each harness's corpus in DIR/<name> instead of a
# fresh one: made from the seeds and fixtures the first time, then kept
# (new fixtures are added), so a later run continues where this one
# stopped.  A ledger DIR/<name>.ledger gets one line per run (date,
# executions, seconds, cov, result); the table then shows both this
# run's executions and the ledger's total over all runs so far.
#
# --jobs J runs J libFuzzer processes per harness at once on the same
# corpus (-jobs=J -workers=J; each its own log in the work directory),
# the N inputs of --runs shared among them; the executions shown are
# the sum of the processes', cov the highest any of them reached.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: run.sh BUILD [--seconds S|--runs N] [NAME...]" >&2; exit 2; }
build=$(cd "$1" && pwd)
shift
seconds=180
runs=
each=
keep=
jobs=1
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --each) each=$2; shift 2 ;;
    --corpus) keep=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) break ;;
    esac
done
case "$seconds${runs}${each}${jobs}" in
*[!0-9]*) echo "run.sh: --seconds, --runs, --each and --jobs take whole" \
    "numbers" >&2
    exit 2 ;;
esac
[ "$jobs" -ge 1 ] || { echo "run.sh: --jobs must be at least 1" >&2; exit 2; }
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    keep=$(cd "$keep" && pwd)
fi

bin=$build/tests/fuzz
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in "$bin"/fuzz_*; do
        [ -x "$f" ] && names+=("${f##*/fuzz_}")
    done
fi
[ ${#names[@]} -gt 0 ] || { echo "run.sh: no fuzz_* in $bin (VR_FUZZ=ON?)" >&2; exit 1; }

if [ -n "$runs" ]; then
    # Shared among the jobs, each running its part.
    limit=(-runs="$(((runs + jobs - 1) / jobs))")
    [ -z "$each" ] || limit+=(-max_total_time="$each")
else
    per=$((seconds / ${#names[@]}))
    [ "$per" -ge 1 ] || per=1
    limit=(-max_total_time="$per")
fi

work=$build/fuzz-work
artifacts=$build/fuzz-artifacts
mkdir -p "$work" "$artifacts"
# Leaks in the harnesses' long-lived state are not findings; the process
# exits only at the end of the run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# What a crashed libFuzzer process leaves in its log.
crash_re='ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)'
crash_re+='|fuzz check failed|runtime error'

failed=0
if [ -n "$keep" ]; then
    printf '%-20s %14s %16s %8s %8s %s\n' target execs-this-run \
        execs-total-ledger cov seconds result
else
    printf '%-20s %12s %8s %8s %s\n' target executions cov seconds result
fi
for n in "${names[@]}"; do
    exe=$bin/fuzz_$n
    [ -x "$exe" ] || { echo "run.sh: no $exe" >&2; exit 1; }
    if [ -n "$keep" ]; then
        corpus=$keep/$n
    else
        corpus=$work/$n
        rm -rf "$corpus"
    fi
    mkdir -p "$corpus"
    # Kept corpora get the fixtures added since (cp -n: files there stay).
    for d in "$build/fuzz-seeds/$n" "$src/tests/data/$n"; do
        [ -d "$d" ] && cp -n "$d"/* "$corpus"/ 2>/dev/null || true
    done
    logs=$work/$n.logs
    rm -rf "$logs"
    mkdir -p "$logs"
    rc=0
    start=$(date +%s)
    # -detect_leaks=0 as ASAN_OPTIONS says: else libFuzzer runs every
    # input that leaves memory allocated (all of a harness keeping its
    # service) a second time, for its first 1000 such inputs.
    opts=("${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536
          -detect_leaks=0 -print_final_stats=1
          -artifact_prefix="$artifacts/$n-")
    if [ "$jobs" -gt 1 ]; then
        # libFuzzer writes each job's log as fuzz-<i>.log in its cwd.
        (cd "$logs" && "$exe" "${opts[@]}" -jobs="$jobs" -workers="$jobs" \
            "$corpus" >"$logs/main.log" 2>&1) || rc=$?
    else
        "$exe" "${opts[@]}" "$corpus" >"$logs/fuzz-0.log" 2>&1 || rc=$?
    fi
    took=$(($(date +%s) - start))
    execs=0
    cov=
    for log in "$logs"/fuzz-*.log; do
        [ -f "$log" ] || continue
        e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        execs=$((execs + ${e:-0}))
        # None when it crashed while loading the corpus: no figure, and
        # not the end of this script (pipefail).
        c=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2) || c=
        if [ -n "$c" ] && { [ -z "$cov" ] || [ "$c" -gt "$cov" ]; }; then
            cov=$c
        fi
        # A job that crashed does not fail the -jobs parent.
        if [ "$rc" -eq 0 ] && grep -aqE "$crash_re" "$log"; then
            rc=1
        fi
    done
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        art=$(ls -t "$artifacts/$n-"* 2>/dev/null | head -1) || art=
        result="CRASH (exit $rc): ${art:-no input kept}"
        failed=1
    fi
    if [ -n "$keep" ]; then
        ledger=$keep/$n.ledger
        printf '%s execs=%s seconds=%s cov=%s jobs=%s result=%s\n' \
            "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$execs" "$took" "${cov:-?}" \
            "$jobs" "${result%%:*}" >>"$ledger"
        total=$(sed -n 's/.* execs=\([0-9]*\) .*/\1/p' "$ledger" \
                | awk '{ t += $1 } END { print t + 0 }')
        printf '%-20s %14s %16s %8s %8s %s\n' "$n" "$execs" "$total" \
            "${cov:-?}" "$took" "$result"
    else
        printf '%-20s %12s %8s %8s %s\n' "$n" "$execs" "${cov:-?}" "$took" \
            "$result"
    fi
    if [ "$rc" -ne 0 ]; then
        cat "$logs"/*.log | grep -aE \
            'ERROR|fuzz check failed|SUMMARY|runtime error|#[0-9]+ 0x' \
            | head -30 >&2 || true
    fi
done
exit $failed
