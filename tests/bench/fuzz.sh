#!/bin/bash
# SPDX-License-Identifier: MIT
# The long fuzz run: builds the clang fuzz tree (build-fuzz/, libFuzzer,
# ASan, UBSan) and runs every harness for RUNS executions (default 10^7),
# one after the other, printing per harness its executions, libFuzzer's
# coverage figure (cov:), the seconds it took and whether it crashed
# (tests/fuzz/run.sh; a crashing input is kept in
# build-fuzz/fuzz-artifacts/ and becomes a file in tests/data/<name>/).
#
#   tests/bench/fuzz.sh [--runs N] [--each SECONDS] [--corpus DIR]
#                       [--jobs J] [NAME...]
#
# --each caps each harness's time.  --corpus DIR keeps each harness's
# corpus in DIR/<name> and a ledger DIR/<name>.ledger beside it, so that
# a long run can be stopped and continued (days apart): the table shows
# this run's executions and, separately, the ledger's total of all runs
# so far.  --jobs J (or 'auto': one per core) runs J libFuzzer processes
# per harness on its corpus, the RUNS shared among them.  Example, 10^7
# per harness over several sittings, on every core:
#
#   tests/bench/fuzz.sh --corpus /var/tmp/vr-fuzz --jobs auto --each 3600
#
# As root on Debian 12; installs clang if it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${VR_FUZZ_RUNS:-10000000}
each=
corpus=
jobs=1
while [ $# -gt 0 ]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --each) each=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '3,23p' "$0"; exit 0 ;;
    *) break ;;
    esac
done
[ "$jobs" != auto ] || jobs=$(nproc)
./deploy/install-deps.sh
CC=clang cmake -S . -B build-fuzz -DVR_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVR_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz -- \
    --no-print-directory >/dev/null
exec ./tests/fuzz/run.sh build-fuzz --runs "$runs" ${each:+--each "$each"} \
    ${corpus:+--corpus "$corpus"} --jobs "$jobs" "$@"
