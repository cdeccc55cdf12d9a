#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs the libFuzzer harnesses of a VR_FUZZ build tree, one after the
# other, each from a fresh corpus (the generated seeds and the fixtures
# in tests/data/<name>), and prints per harness its executions, libFuzzer's
# coverage figure (cov:) and whether it crashed.  Fails if any crashed;
# the crashing input is kept in BUILD/fuzz-artifacts/.
#
#   run.sh BUILD [--seconds TOTAL | --runs N [--each S]] [NAME...]
#
# --seconds TOTAL (default 180): the time is shared equally by the
# harnesses; --runs N: each runs N inputs, with no time limit unless
# --each S gives each at most S seconds.  NAME: only these harnesses
# (e.g. bus cfg); default all.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: run.sh BUILD [--seconds S|--runs N] [NAME...]" >&2; exit 2; }
build=$(cd "$1" && pwd)
shift
seconds=180
runs=
each=
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --each) each=$2; shift 2 ;;
    *) break ;;
    esac
done
case "$seconds${runs}${each}" in
*[!0-9]*) echo "run.sh: --seconds, --runs and --each take whole numbers" >&2
    exit 2 ;;
esac

bin=$build/tests/fuzz
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in "$bin"/fuzz_*; do
        [ -x "$f" ] && names+=("${f##*/fuzz_}")
    done
fi
[ ${#names[@]} -gt 0 ] || { echo "run.sh: no fuzz_* in $bin (VR_FUZZ=ON?)" >&2; exit 1; }

if [ -n "$runs" ]; then
    limit=(-runs="$runs")
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

failed=0
printf '%-20s %12s %8s %8s %s\n' target executions cov seconds result
for n in "${names[@]}"; do
    exe=$bin/fuzz_$n
    [ -x "$exe" ] || { echo "run.sh: no $exe" >&2; exit 1; }
    corpus=$work/$n
    rm -rf "$corpus"
    mkdir -p "$corpus"
    for d in "$build/fuzz-seeds/$n" "$src/tests/data/$n"; do
        [ -d "$d" ] && cp "$d"/* "$corpus"/ 2>/dev/null || true
    done
    log=$work/$n.log
    rc=0
    start=$(date +%s)
    "$exe" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$n-" \
        "$corpus" >"$log" 2>&1 || rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="CRASH (exit $rc): $(ls -t "$artifacts/$n-"* 2>/dev/null | head -1)"
        failed=1
    fi
    printf '%-20s %12s %8s %8s %s\n' "$n" "${execs:-?}" "${cov:-?}" "$took" \
        "$result"
    if [ "$rc" -ne 0 ]; then
        grep -E 'ERROR|fuzz check failed|SUMMARY|runtime error|#[0-9]+ 0x' \
            "$log" | head -30 >&2 || true
    fi
done
exit $failed
